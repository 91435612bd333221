"""The batch worker: a background thread that validates uploaded files and processes their records.

Progress is committed with every chunk (records done, partial stats and the chunk's error-log lines in the same
transaction), so a batch interrupted by a stop or a crash resumes exactly where it was after a restart: never
stuck, never applied twice.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import queue
import threading
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cdp_poc_studio.sandbox.batch_records import ChunkApplier
from cdp_poc_studio.sandbox.clock import iso
from cdp_poc_studio.sandbox.s3 import BATCH_BUCKET, S3Error, object_path

if TYPE_CHECKING:
    from cdp_poc_studio.sandbox.context import Sandbox

log = logging.getLogger(__name__)

UPLOAD_NAME = "import.gz"
LOG_NAME = "error-log.json.gz"


class CorruptedFileError(Exception):
    pass


class UnsupportedCompressionError(Exception):
    pass


def read_batch_file(data: bytes) -> bytes:
    """The decompressed content of an upload, or CorruptedFileError / UnsupportedCompressionError (facts §6.4, §6.6)."""
    if data[:4] == b"PK\x03\x04":
        # The docs: "If the status is error but the response does not contain an error log URI, it might be that
        # the uploaded file uses an unsupported compression format" (zip).
        raise UnsupportedCompressionError("zip archives are not supported; gzip the file")
    if data[:2] != b"\x1f\x8b":
        raise CorruptedFileError("the file is not gzip-compressed")
    decompressor = zlib.decompressobj(wbits=31)
    try:
        raw = decompressor.decompress(data) + decompressor.flush()
    except zlib.error as exc:
        raise CorruptedFileError(f"the gzip stream is damaged ({exc})") from None
    if not decompressor.eof:
        raise CorruptedFileError("the gzip stream is truncated")
    if decompressor.unused_data:
        raise CorruptedFileError("the file holds more than one gzip member; it must contain exactly one JSON file")
    if raw[257:262] == b"ustar":
        raise CorruptedFileError("the file is an archive of several files; it must contain exactly one JSON file")
    first = next((line for line in raw.split(b"\n", 20)[:20] if line.strip()), None)
    if first is not None:
        try:
            orjson.loads(first)
        except orjson.JSONDecodeError:
            raise CorruptedFileError("the file is not a JSON file (one JSON record per line)") from None
    return raw


class BatchWorker:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._released = threading.Event()
        self._released.set()
        self._cond = threading.Condition()
        self._outstanding = 0

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._recover()
        self._thread = threading.Thread(target=self._run, name="cdp-sandbox-batch-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._released.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _recover(self) -> None:
        """Batches left file_uploaded or processing by a previous run are queued again (resumed, not redone)."""
        rows = self.sandbox.store.read().execute(
            "SELECT ref FROM batches WHERE status IN ('file_uploaded', 'processing') ORDER BY modified_at"
        )
        for (ref,) in rows.fetchall():
            self._enqueue(ref)

    def _enqueue(self, ref: str) -> None:
        with self._cond:
            self._outstanding += 1
        self._queue.put(ref)

    def hold(self, held: bool) -> None:
        """Keep uploaded batches in file_uploaded (for tests and demos of the intermediate statuses)."""
        if held:
            self._released.clear()
        else:
            self._released.set()

    @property
    def held(self) -> bool:
        return not self._released.is_set()

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until every queued batch is finished. True when idle."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._outstanding:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    # -- upload --------------------------------------------------------------------------------------------

    def receive_upload(self, key: str, body: bytes) -> None:
        """Called by the fake S3 PUT after the signature and Content-MD5 checks."""
        parts = key.split("/")
        store = self.sandbox.store
        ref = parts[-2] if len(parts) >= 3 and parts[-1] == UPLOAD_NAME else None
        row = None
        if ref is not None:
            row = store.read().execute("SELECT status, object_prefix FROM batches WHERE ref = ?", (ref,)).fetchone()
        if row is None or key != f"{row[1]}/{UPLOAD_NAME}":
            raise S3Error(403, "AccessDenied", "Access Denied")
        if row[0] != "uploading":
            # Decision: the batch service takes one file per batch ref; a second PUT is refused.
            raise S3Error(403, "AccessDenied", "A file was already uploaded for this batch")
        path = object_path(store.files_dir, BATCH_BUCKET, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(body)
        os.replace(tmp, path)
        with store.write() as conn:
            conn.execute(
                "UPDATE batches SET status = 'file_uploaded', modified_at = ? WHERE ref = ? AND status = 'uploading'",
                (iso(self.sandbox.clock.now()), ref),
            )
        assert ref is not None
        self._enqueue(ref)

    # -- processing ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            ref = self._queue.get()
            if ref is None or self._stopping.is_set():
                return
            self._released.wait()
            if self._stopping.is_set():
                return
            try:
                self._process(ref)
            except Exception:  # a bug must not kill the worker; the batch is marked error
                log.exception("batch %s failed", ref)
                self._set_status(ref, "error", detail="internal error while processing the batch")
            finally:
                with self._cond:
                    self._outstanding -= 1
                    self._cond.notify_all()

    def _set_status(self, ref: str, status: str, **fields: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.sandbox.store.write() as conn:
            conn.execute(
                f"UPDATE batches SET status = ?, modified_at = ?{', ' + sets if sets else ''} WHERE ref = ?",
                (status, iso(self.sandbox.clock.now()), *fields.values(), ref),
            )

    def _process(self, ref: str) -> None:
        store = self.sandbox.store
        row = (
            store.read()
            .execute(
                "SELECT status, size, checksum, object_prefix, records_done, stats, run_ms FROM batches WHERE ref = ?",
                (ref,),
            )
            .fetchone()
        )
        if row is None or row[0] not in ("file_uploaded", "processing"):
            return
        status, size, checksum, prefix, done, stats_json, run_ms = row
        started = time.perf_counter()
        if status == "file_uploaded":
            self._set_status(ref, "processing", started_at=iso(self.sandbox.clock.now()))
        path = object_path(store.files_dir, BATCH_BUCKET, f"{prefix}/{UPLOAD_NAME}")
        data = path.read_bytes() if path.is_file() else b""
        if len(data) != size or hashlib.md5(data).hexdigest() != checksum.lower():
            self._set_status(ref, "corrupted", detail="the size or MD5 checksum does not match the allocation")
            return
        try:
            raw = read_batch_file(data)
        except CorruptedFileError as exc:
            self._set_status(ref, "corrupted", detail=str(exc))
            return
        except UnsupportedCompressionError as exc:
            self._set_status(ref, "error", detail=str(exc))
            return
        del data
        lines = raw.split(b"\n")
        del raw
        stats = orjson.loads(stats_json) if stats_json else {"total": 0, "ok": 0, "failed": 0}
        chunk = self.sandbox.config.batch_chunk_records
        position = done
        while position < len(lines):
            if self._stopping.is_set():
                return  # progress so far is committed; the batch resumes after a restart
            block = lines[position : position + chunk]
            records = [line for line in block if line.strip()]
            now = iso(self.sandbox.clock.now())
            with store.write() as conn:
                applier = ChunkApplier(conn, now)
                applier.apply(records)
                seq_base = stats["failed"]
                conn.executemany(
                    "INSERT INTO batch_errors(batch_ref, seq, ref, code, message) VALUES (?, ?, ?, ?, ?)",
                    [(ref, seq_base + i, r, c, m) for i, (r, c, m) in enumerate(applier.failures)],
                )
                stats["total"] += len(records)
                stats["ok"] += applier.succeeded
                stats["failed"] += len(applier.failures)
                position += len(block)
                elapsed = run_ms + int((time.perf_counter() - started) * 1000)
                conn.execute(
                    "UPDATE batches SET records_done = ?, stats = ?, run_ms = ?, modified_at = ? WHERE ref = ?",
                    (position, orjson.dumps(stats), elapsed, now, ref),
                )
        elapsed = run_ms + int((time.perf_counter() - started) * 1000)
        if stats["failed"]:
            self._write_log(ref, prefix)
            self._set_status(ref, "error", has_log=1, run_ms=elapsed)
        else:
            self._set_status(ref, "success", run_ms=elapsed)

    def _write_log(self, ref: str, prefix: str) -> None:
        """Only the failed records, one JSON object per line, gzipped (facts §6.5)."""
        store = self.sandbox.store
        path = object_path(store.files_dir, BATCH_BUCKET, f"{prefix}/{LOG_NAME}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(str(path) + ".part")
        rows = store.read().execute(
            "SELECT ref, code, message FROM batch_errors WHERE batch_ref = ? ORDER BY seq", (ref,)
        )
        with gzip.open(tmp, "wb") as out:
            for record_ref, code, message in rows:
                out.write(orjson.dumps({"ref": record_ref, "code": code, "message": message}) + b"\n")
        os.replace(tmp, path)
