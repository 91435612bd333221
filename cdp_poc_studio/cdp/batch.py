"""The Batch API: write files, allocate, upload to the pre-signed URL, poll, read the error log, map failures.

Flow (cdp-api-facts.md §6): `PUT /v2/batches/{batchRef}` with `{checksum, size}` gives a pre-signed URL;
`PUT` the gzip there *without* Basic auth, with `x-amz-server-side-encryption: AES256`, `Content-Md5` (base64
of the raw digest) and `Content-Type: application/gzip`; poll `GET /v2/batches/{batchRef}` until `success`,
`error` or `corrupted`; on `error` read the gzipped NDJSON log at `status.log`, one `{ref, code, message}` per
failed record. Files go one at a time, as Sitecore advises.
"""

from __future__ import annotations

import gzip
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_exponential

from cdp_poc_studio.cdp.batchfile import BatchFile, BatchFileWriter
from cdp_poc_studio.cdp.http import CdpHttp
from cdp_poc_studio.cdp.ledger import (
    BatchFileState,
    GuestLike,
    RecordKind,
    RunLedger,
)
from cdp_poc_studio.domain.errors import (
    BatchCorrupted,
    BatchFailed,
    BatchTimeout,
    CdpNotFound,
    PresignedUrlExpired,
)
from cdp_poc_studio.domain.join_keys import guest_key, order_key
from cdp_poc_studio.domain.limits import MAX_BATCH_FILE_BYTES
from cdp_poc_studio.domain.progress import CancelToken, ProgressMeter, Stage, StageCallback, StageEvent

BATCHES = "/v2/batches"
FINAL_STATUSES = frozenset({"success", "error", "corrupted"})
_UPLOAD_CHUNK = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class BatchAllocation:
    batch_ref: str
    upload_url: str
    expiry: str | None
    status: str
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BatchStatus:
    batch_ref: str
    code: str
    log_url: str | None
    stats: dict[str, Any]
    raw: dict[str, Any]

    @property
    def final(self) -> bool:
        return self.code in FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class BatchLogEntry:
    ref: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class BatchFailure:
    """A record CDP rejected, traced back to where it came from (seq and position: the generator's guest
    number and 0 for the guest or n for its nth order)."""

    ref: str
    code: str
    message: str
    kind: RecordKind | None = None
    key: str | None = None
    seq: int | None = None
    position: int | None = None
    file: str | None = None
    line: int | None = None
    record: dict[str, Any] | None = None


@dataclass(slots=True)
class BatchResult:
    file: str
    batch_ref: str
    status: str
    records: int
    failed: list[BatchFailure] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    batch_refs: list[str] = field(default_factory=list)

    @property
    def failed_count(self) -> int:
        return len(self.failed)


@dataclass(frozen=True, slots=True)
class PollSettings:
    initial: float = 1.0
    maximum: float = 15.0
    multiplier: float = 1.5
    timeout: float = 4 * 3600.0


def parse_status(body: dict[str, Any]) -> BatchStatus:
    status = body.get("status")
    # The status is an object {code, log}; the inspect list writes a bare string (facts §6.4).
    if isinstance(status, dict):
        code, log = str(status.get("code", "")), status.get("log")
    else:
        code, log = str(status or ""), body.get("log")
    stats = body.get("stats")
    return BatchStatus(
        str(body.get("ref", "")),
        code.lower(),
        log if isinstance(log, str) and log else None,
        stats if isinstance(stats, dict) else {},
        body,
    )


def parse_error_log(chunks: Iterable[bytes]) -> Iterator[BatchLogEntry]:
    """Entries of an error log, gzipped or not (facts §6.5), from a stream of chunks."""
    decompressor: Any = None
    pending = b""
    first = True
    for chunk in chunks:
        if first:
            first = False
            if chunk[:2] == _GZIP_MAGIC:
                decompressor = zlib.decompressobj(wbits=47)
        data = decompressor.decompress(chunk) if decompressor is not None else chunk
        pending += data
        *lines, pending = pending.split(b"\n")
        yield from _log_entries(lines)
    if decompressor is not None:
        pending += decompressor.flush()
    yield from _log_entries(pending.split(b"\n"))


def _log_entries(lines: Iterable[bytes]) -> Iterator[BatchLogEntry]:
    for line in lines:
        line = line.strip()
        if not line:
            continue
        entry = orjson.loads(line)
        yield BatchLogEntry(str(entry.get("ref", "")), str(entry.get("code", "")), str(entry.get("message", "")))


def iter_file_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based line, record) of a batch file, streamed."""
    with gzip.open(path, "rb") as stream:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, orjson.loads(line)


class BatchClient:
    """One method per Batch API operation."""

    def __init__(self, http: CdpHttp) -> None:
        self.http = http

    def allocate(self, batch_ref: str, md5_hex: str, size: int) -> BatchAllocation:
        # A PUT to our own ref: repeating it after a lost response is safe, so it is retried like a GET.
        body = self.http.send_json("PUT", f"{BATCHES}/{batch_ref}", {"checksum": md5_hex, "size": size})
        location = body.get("location") or {}
        url = location.get("href") if isinstance(location, dict) else None
        if not url:
            raise BatchFailed(f"the allocation of batch {batch_ref} returned no upload location", batch_ref=batch_ref)
        status = parse_status(body)
        return BatchAllocation(str(body.get("ref") or batch_ref), url, location.get("expiry"), status.code, body)

    def upload(
        self,
        url: str,
        path: Path,
        content_md5: str,
        size: int,
        *,
        cancel: CancelToken | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """PUT the file to the pre-signed URL, streamed, without Basic auth, with the headers S3 requires."""

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as stream:
                while chunk := stream.read(_UPLOAD_CHUNK):
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    if on_bytes is not None:
                        on_bytes(len(chunk))
                    yield chunk

        self.http.request(
            "PUT",
            url,
            auth="none",
            content=chunks,
            headers={
                "x-amz-server-side-encryption": "AES256",
                "Content-Md5": content_md5,
                "Content-Type": "application/gzip",
                "Content-Length": str(size),
            },
        )

    def status(self, batch_ref: str, *, inspect: bool = False) -> BatchStatus:
        path = f"{BATCHES}/inspect/{batch_ref}" if inspect else f"{BATCHES}/{batch_ref}"
        status = parse_status(self.http.get_json(path))
        if not status.batch_ref:
            return BatchStatus(batch_ref, status.code, status.log_url, status.stats, status.raw)
        return status

    def inspect(self, *, statuses: Sequence[str] = (), limit: int = 100, offset: int = 0) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if statuses:
            params["status"] = ",".join(statuses)
        body: dict[str, Any] = self.http.get_json(f"{BATCHES}/inspect", params=params)
        return body

    def error_log(self, url: str) -> Iterator[BatchLogEntry]:
        with self.http.stream(url, auth="none") as response:
            yield from parse_error_log(response.iter_bytes())


def write_batch_files(
    guests: Iterable[GuestLike],
    folder: Path,
    ledger: RunLedger | None = None,
    *,
    stem: str = "batch",
    max_bytes: int = MAX_BATCH_FILE_BYTES,
    compresslevel: int = 6,
    total: int | None = None,
    progress: StageCallback | None = None,
    cancel: CancelToken | None = None,
    stage: Stage = "generate",
) -> list[BatchFile]:
    """Stream guests (each followed by its orders) into batch files, recording every line in the ledger.

    Memory stays flat: records are written as they come and ledger rows flushed every few thousand. A
    cancelled or failed write drops the unfinished file; rerunning writes the same files again (the generator
    is seeded and gzip's timestamp fixed), which the ledger recognises by MD5.
    """
    meter = ProgressMeter(stage, total, progress)
    rows: list[tuple[str, str, int, int, str, str | None, str, int]] = []
    if ledger is not None:
        ledger.set_meta("batch_files_complete", False)

    def flush() -> None:
        if ledger is not None and rows:
            ledger.record_written(rows)
        rows.clear()

    with BatchFileWriter(folder, stem, max_bytes=max_bytes, compresslevel=compresslevel) as writer:
        for guest in guests:
            if cancel is not None and guest.seq % 256 == 0:
                cancel.raise_if_cancelled()
            g_ref = guest.record["ref"]
            position = writer.write(guest.record)
            if ledger is not None:
                rows.append(
                    (
                        g_ref,
                        "guest",
                        guest.seq,
                        0,
                        guest_key(guest.record["value"]),
                        None,
                        writer.current_path.name,
                        position.line,
                    )
                )
            for n, order in enumerate(guest.orders, start=1):
                position = writer.write(order.record)
                if ledger is not None:
                    rows.append(
                        (
                            order.record["ref"],
                            "order",
                            guest.seq,
                            n,
                            order_key(order.record["value"]),
                            g_ref,
                            writer.current_path.name,
                            position.line,
                        )
                    )
            if len(rows) >= 20_000:
                flush()
            meter.advance()
        flush()
    if ledger is not None:
        for index, file in enumerate(writer.files):
            ledger.add_batch_file(file.path.name, index, str(file.path), file.records, file.size, file.md5_hex)
        ledger.set_meta("batch_files_complete", True)
    meter.finish(f"{len(writer.files)} file(s)")
    return list(writer.files)


def files_from_ledger(ledger: RunLedger) -> list[BatchFile] | None:
    """The batch files of a run whose writing finished (and whose files are still there), else None."""
    if not ledger.get_meta("batch_files_complete", False):
        return None
    files = [BatchFile(Path(row.path), row.records, row.size, row.md5) for row in ledger.batch_files()]
    if not files or not all(f.path.exists() and f.path.stat().st_size == f.size for f in files):
        return None
    return files


class BatchSender:
    """Sends batch files one at a time; with a ledger it skips finished files and resumes started ones."""

    def __init__(
        self,
        http: CdpHttp,
        ledger: RunLedger | None = None,
        *,
        poll: PollSettings = PollSettings(),
        progress: StageCallback | None = None,
        cancel: CancelToken | None = None,
        max_reallocations: int = 3,
        ref_factory: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.cancel = cancel or CancelToken()
        self.http = http.bound(cancel=self.cancel)
        self.client = BatchClient(self.http)
        self.ledger = ledger
        self.poll = poll
        self.progress = progress
        self.max_reallocations = max_reallocations
        self.new_ref = ref_factory
        self._files: ProgressMeter | None = None

    def send_all(self, files: Sequence[BatchFile]) -> list[BatchResult]:
        """Each file in turn, waiting for its final status before the next (Sitecore's advice)."""
        meter = self._files = ProgressMeter("send", len(files), self.progress, unit="files", interval=0)
        results = []
        try:
            for file in files:
                self.cancel.raise_if_cancelled()
                result = self.send(file)
                results.append(result)
                meter.advance(1, errors=result.failed_count, detail=f"{file.path.name}: {result.status}")
            meter.finish("batch files sent")
        finally:
            self._files = None
        return results

    def _tell(self, detail: str, part: StageEvent | None = None) -> None:
        """What the current file is doing, as a `send` event counting files (or the part's own, outside send_all)."""
        if self.progress is None:
            return
        if self._files is not None:
            self.progress(self._files.snapshot(detail))
        elif part is not None:
            self.progress(part.model_copy(update={"detail": detail}))

    def send(self, file: BatchFile) -> BatchResult:
        name = file.path.name
        row = self.ledger.batch_file(name) if self.ledger is not None else None
        if row is not None and row.state.finished and row.batch_ref:
            return self._result_from_ledger(file, row.batch_ref, row.state.value, row.stats)
        refs: list[str] = []
        status: BatchStatus | None = None
        if row is not None and row.batch_ref and row.state in (BatchFileState.ALLOCATED, BatchFileState.UPLOADED):
            # Resuming: ask CDP how far the previous attempt got before uploading anything again.
            status = self._known_status(row.batch_ref)
            if status is not None and status.code in ("uploading", ""):
                status = None
            elif status is not None:
                refs.append(row.batch_ref)
        batch_ref = self._allocate_and_upload(file, refs) if status is None else status.batch_ref or refs[-1]
        status = self._wait(batch_ref, name)
        return self._finish(file, batch_ref, status, refs)

    # -- steps --------------------------------------------------------------------------------------------

    def _known_status(self, batch_ref: str) -> BatchStatus | None:
        try:
            return self.client.status(batch_ref, inspect=True)
        except CdpNotFound:
            return None

    def _allocate_and_upload(self, file: BatchFile, refs: list[str]) -> str:
        name = file.path.name
        for attempt in range(self.max_reallocations + 1):
            size_meter = ProgressMeter(
                "send", file.size, lambda part: self._tell(f"uploading {name} {part.fraction or 0:.0%}", part),
                unit="bytes",
            )  # fmt: skip
            batch_ref = self.new_ref()
            refs.append(batch_ref)
            note = "" if attempt == 0 else "re-allocated after the upload URL expired"
            if self.ledger is not None:
                self.ledger.batch_allocated(name, batch_ref, note)
            allocation = self.client.allocate(batch_ref, file.md5_hex, file.size)
            try:
                self.client.upload(
                    allocation.upload_url,
                    file.path,
                    file.content_md5,
                    file.size,
                    cancel=self.cancel,
                    on_bytes=size_meter.advance,
                )
            except PresignedUrlExpired:
                if self.ledger is not None:
                    self.ledger.batch_state(name, batch_ref, BatchFileState.FAILED, "upload URL expired")
                continue
            if self.ledger is not None:
                self.ledger.batch_state(name, batch_ref, BatchFileState.UPLOADED)
            size_meter.finish()
            return batch_ref
        raise BatchFailed(
            f"{name}: the upload URL expired {self.max_reallocations + 1} times in a row; check the machine's "
            "clock and the connection speed (a 50 MB file must upload within the hour)",
            batch_ref=refs[-1],
            file_name=name,
        )

    def _wait(self, batch_ref: str, name: str) -> BatchStatus:
        poll = self.poll

        def check() -> BatchStatus:
            status = self.client.status(batch_ref)
            self._tell(f"CDP is processing {name}: {status.code or 'waiting'}")
            return status

        retrying = Retrying(
            retry=retry_if_result(lambda status: not status.final),
            wait=wait_exponential(
                multiplier=poll.initial, exp_base=poll.multiplier, min=poll.initial, max=poll.maximum
            ),
            stop=stop_after_delay(poll.timeout),
            sleep=self.cancel.sleep,
            retry_error_callback=lambda state: None,
        )
        status: BatchStatus | None = retrying(check)
        if status is None:
            raise BatchTimeout(
                f"{name}: batch {batch_ref} had no final status after {poll.timeout:.0f} s; it may still finish: "
                "resume the run later to pick up its result",
                batch_ref=batch_ref,
                file_name=name,
            )
        return status

    def _finish(self, file: BatchFile, batch_ref: str, status: BatchStatus, refs: list[str]) -> BatchResult:
        name = file.path.name
        if status.code == "corrupted":
            if self.ledger is not None:
                self.ledger.batch_state(name, batch_ref, BatchFileState.CORRUPTED)
            raise BatchCorrupted(batch_ref=batch_ref, file_name=name)
        entries: list[BatchLogEntry] = []
        if status.code == "error":
            if not status.log_url:
                if self.ledger is not None:
                    self.ledger.batch_state(name, batch_ref, BatchFileState.FAILED, "error without a log")
                raise BatchFailed(
                    f"{name}: batch {batch_ref} ended in error without an error log; CDP does this when the file is "
                    "not gzip (zip is not supported) or not one JSON record per line: check the file",
                    batch_ref=batch_ref,
                    file_name=name,
                )
            entries = list(self.client.error_log(status.log_url))
        state = BatchFileState.SUCCESS if status.code == "success" else BatchFileState.ERROR
        if self.ledger is not None:
            self.ledger.batch_finished(
                name, batch_ref, state, ((e.ref, e.code, e.message) for e in entries), status.stats
            )
        failures = self._map(file, entries)
        return BatchResult(name, batch_ref, status.code, file.records, failures, status.stats, refs)

    def _map(self, file: BatchFile, entries: list[BatchLogEntry]) -> list[BatchFailure]:
        """Trace each failed ref to its record: through the ledger, or by reading the file."""
        if not entries:
            return []
        if self.ledger is not None:
            known = self.ledger.states(e.ref for e in entries)
            failures = []
            for e in entries:
                row = known.get(e.ref)
                if row is None:
                    failures.append(BatchFailure(e.ref, e.code, e.message, file=file.path.name))
                else:
                    failures.append(
                        BatchFailure(
                            e.ref, e.code, e.message, row.kind, row.key, row.seq, row.position, row.file, row.line
                        )
                    )
            return failures
        wanted = {e.ref: e for e in entries}
        found: dict[str, BatchFailure] = {}
        for line, record in iter_file_records(file.path):
            entry = wanted.get(record.get("ref", ""))
            if entry is not None:
                kind = RecordKind(record["schema"]) if record.get("schema") in ("guest", "order") else None
                key = (
                    guest_key(record["value"])
                    if kind is RecordKind.GUEST
                    else order_key(record["value"])
                    if kind
                    else None
                )
                found[entry.ref] = BatchFailure(
                    entry.ref, entry.code, entry.message, kind, key, None, None, file.path.name, line, record
                )
        return [found.get(e.ref) or BatchFailure(e.ref, e.code, e.message, file=file.path.name) for e in entries]

    def _result_from_ledger(self, file: BatchFile, batch_ref: str, status: str, stats: dict[str, Any]) -> BatchResult:
        assert self.ledger is not None
        failures = [
            BatchFailure(
                r.ref, r.error_code or "", r.error_message or "", r.kind, r.key, r.seq, r.position, r.file, r.line
            )
            for r in self.ledger.failures()
            if r.file == file.path.name
        ]
        return BatchResult(file.path.name, batch_ref, status, file.records, failures, stats, [batch_ref])
