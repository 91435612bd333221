"""The batch worker: a background thread that validates uploaded files and processes their records.

Progress is committed with every chunk (records done, partial stats and the chunk's error-log lines in the same
transaction), so a batch interrupted by a stop or a crash resumes exactly where it was after a restart: never
stuck, never applied twice.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cdp_poc_studio.sandbox.batch_file import CorruptedFileError, UnsupportedCompressionError, check_file, iter_lines
from cdp_poc_studio.sandbox.batch_helper import READY, read_frame, write_frame
from cdp_poc_studio.sandbox.batch_records import ChunkApplier, Prepared
from cdp_poc_studio.sandbox.clock import iso
from cdp_poc_studio.sandbox.gc_pause import paused_gc
from cdp_poc_studio.sandbox.s3 import BATCH_BUCKET, S3Error, object_path
from cdp_poc_studio.sandbox.store import BATCH_WRITER_PRAGMAS

if TYPE_CHECKING:
    from cdp_poc_studio.sandbox.context import Sandbox

log = logging.getLogger(__name__)

UPLOAD_NAME = "import.gz"
LOG_NAME = "error-log.json.gz"


class ChunkPreparer:
    """The batch helper process (batch_helper.py), which prepares the next chunk while the worker thread writes
    the current one, so that the two halves of the work use both cores. Started in the background when the
    worker starts; until it is ready, or if it ever fails, chunks are prepared in the worker thread, with the
    same result. Used by the worker thread only, one request at a time."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self._waiting = False

    def start(self) -> None:
        threading.Thread(target=self._spawn, name="cdp-sandbox-batch-helper", daemon=True).start()

    def _spawn(self) -> None:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cdp_poc_studio.sandbox.batch_helper"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        except OSError:
            log.warning("batch helper process unavailable; chunks are prepared in the worker thread", exc_info=True)
            return
        with self._lock:
            self._proc = proc
            if self._closed:
                self._discard()
                return
        assert proc.stdout is not None
        if proc.stdout.read(1) != READY:
            log.warning("batch helper process did not start; chunks are prepared in the worker thread")
            with self._lock:
                self._discard()
            return
        self._ready.set()

    def submit(self, lines: list[bytes], now: str) -> bool:
        """Send a chunk to the helper; False (prepare it here) when there is no usable helper."""
        if self._waiting:  # an answer left unread (a batch interrupted by an error): discard it
            self.result()
        if not self._ready.is_set():
            return False
        proc = self._proc
        if proc is None or proc.stdin is None:
            return False
        try:
            write_frame(proc.stdin, pickle.dumps((lines, now), protocol=pickle.HIGHEST_PROTOCOL))
        except (OSError, ValueError):
            self._fail()
            return False
        self._waiting = True
        return True

    def result(self) -> list[Prepared | None] | None:
        """The answer to the last submit, or None if the helper failed (the caller then prepares the chunk)."""
        proc = self._proc
        self._waiting = False
        if proc is None or proc.stdout is None:
            return None
        try:
            data = read_frame(proc.stdout)
            if data is None:
                raise EOFError("the batch helper process closed its output")
            prepared: list[Prepared | None] = pickle.loads(data)
        except Exception:
            self._fail()
            return None
        return prepared

    def _fail(self) -> None:
        log.warning("batch helper process failed; chunks are prepared in the worker thread", exc_info=True)
        with self._lock:
            self._discard()

    def _discard(self) -> None:
        self._ready.clear()
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._discard()


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
        self._preparer = ChunkPreparer() if sandbox.config.batch_prepare_process else None

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._preparer is not None:
            self._preparer.start()
        self._recover()
        self._thread = threading.Thread(target=self._run, name="cdp-sandbox-batch-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._released.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._preparer is not None:
            self._preparer.close()

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
        # Checkpoints of this connection's (large) chunk transactions run in the store's background thread.
        for pragma in BATCH_WRITER_PRAGMAS:
            self.sandbox.store.read().execute(pragma)
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
            total_lines = check_file(data)
        except CorruptedFileError as exc:
            self._set_status(ref, "corrupted", detail=str(exc))
            return
        except UnsupportedCompressionError as exc:
            self._set_status(ref, "error", detail=str(exc))
            return
        # Lines are streamed (memory flat whatever the file expands to); a resumed batch skips the lines it did.
        stream = iter_lines(data, self.sandbox.config.batch_max_line_bytes)
        for _ in itertools.islice(stream, done):
            pass
        stats = orjson.loads(stats_json) if stats_json else {"total": 0, "ok": 0, "failed": 0}
        chunk = self.sandbox.config.batch_chunk_records
        preparer = self._preparer if total_lines - done > chunk else None  # one chunk: nothing to overlap

        def submit(helper: bool = True) -> tuple[int, list[bytes], str, bool] | None:
            block = list(itertools.islice(stream, chunk))
            if not block:
                return None
            records = [line for line in block if line.strip()]
            # The chunk's time is taken when its preparation starts (prepared rows carry it).
            now = iso(self.sandbox.clock.now())
            return len(block), records, now, helper and preparer is not None and preparer.submit(records, now)

        position = done
        # The first chunk is prepared here while the helper prepares the second: both cores work from the start.
        job = submit(helper=False)
        while job is not None:
            if self._stopping.is_set():
                return  # progress so far is committed; the batch resumes after a restart
            size, records, now, sent = job
            prepared = preparer.result() if preparer is not None and sent else None
            # Hand the next chunk to the helper before writing this one, so that it is prepared meanwhile.
            job = submit()
            with paused_gc(), store.write() as conn:
                applier = ChunkApplier(conn, now)
                applier.apply(records, prepared)
                seq_base = stats["failed"]
                conn.executemany(
                    "INSERT INTO batch_errors(batch_ref, seq, ref, code, message) VALUES (?, ?, ?, ?, ?)",
                    [(ref, seq_base + i, r, c, m) for i, (r, c, m) in enumerate(applier.failures)],
                )
                stats["total"] += len(records)
                stats["ok"] += applier.succeeded
                stats["failed"] += len(applier.failures)
                position += size
                elapsed = run_ms + int((time.perf_counter() - started) * 1000)
                conn.execute(
                    "UPDATE batches SET records_done = ?, stats = ?, run_ms = ?, modified_at = ? WHERE ref = ?",
                    (position, orjson.dumps(stats), elapsed, now, ref),
                )
            store.checkpoint_soon()
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
