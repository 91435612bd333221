"""The run ledger: one SQLite row per generated record, with its state at every stage, for resume and tracing.

A record is known by its batch envelope `ref` (the generator's seeded UUID, the same on every run of the same
settings), so a resumed run recognises what it already did. Stages:

    generated -> written (batch file + line) -> sent (batch ref, or REST request in flight) -> done | failed

`done` carries the CDP ref (REST) or the batch ref; `failed` the HTTP status or the batch log code and message.
A record left in `sent` by a cancel or a crash is *uncertain*: the REST sender re-checks it (search before
create) and the batch sender asks CDP about its batch before uploading anything again.

One ledger file is one run. WAL with synchronous=NORMAL: commits are cheap and a crash loses at most the last
transactions, never the file's consistency.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import orjson

from cdp_poc_studio.domain.join_keys import guest_key, order_key


class RecordKind(StrEnum):
    GUEST = "guest"
    ORDER = "order"


class RecordState(StrEnum):
    GENERATED = "generated"
    WRITTEN = "written"
    SENT = "sent"
    DONE = "done"
    FAILED = "failed"


class BatchFileState(StrEnum):
    WRITTEN = "written"
    ALLOCATED = "allocated"
    UPLOADED = "uploaded"
    SUCCESS = "success"
    ERROR = "error"  # finished with failed records (the rest went in)
    CORRUPTED = "corrupted"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (BatchFileState.SUCCESS, BatchFileState.ERROR)


class OrderLike(Protocol):
    @property
    def record(self) -> dict[str, Any]: ...


class GuestLike(Protocol):
    """What the senders need of a generated guest (the generator's `GeneratedGuest` fits)."""

    @property
    def seq(self) -> int: ...

    @property
    def record(self) -> dict[str, Any]: ...

    @property
    def orders(self) -> Sequence[OrderLike]: ...


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    ref: str
    kind: RecordKind
    seq: int
    position: int
    key: str
    parent_ref: str | None
    state: RecordState
    file: str | None
    line: int | None
    batch_ref: str | None
    http_status: int | None
    error_code: str | None
    error_message: str | None
    cdp_ref: str | None
    attempts: int
    updated_at: float


@dataclass(frozen=True, slots=True)
class BatchFileRow:
    file: str
    file_index: int
    path: str
    records: int
    size: int
    md5: str
    state: BatchFileState
    batch_ref: str | None
    failed_records: int
    stats: dict[str, Any]
    updated_at: float


def ledger_rows(guest: GuestLike) -> Iterator[tuple[str, str, int, int, str, str | None]]:
    """(ref, kind, seq, position, key, parent_ref) for a guest and its orders."""
    g_ref = guest.record["ref"]
    yield g_ref, RecordKind.GUEST.value, guest.seq, 0, guest_key(guest.record["value"]), None
    for n, order in enumerate(guest.orders, start=1):
        yield order.record["ref"], RecordKind.ORDER.value, guest.seq, n, order_key(order.record["value"]), g_ref


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    ref TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    seq INTEGER NOT NULL,
    position INTEGER NOT NULL,
    key TEXT NOT NULL,
    parent_ref TEXT,
    state TEXT NOT NULL,
    file TEXT,
    line INTEGER,
    batch_ref TEXT,
    http_status INTEGER,
    error_code TEXT,
    error_message TEXT,
    cdp_ref TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_file ON records (file, line);
CREATE INDEX IF NOT EXISTS records_seq ON records (seq, position);
CREATE INDEX IF NOT EXISTS records_key ON records (key);
CREATE TABLE IF NOT EXISTS batch_files (
    file TEXT PRIMARY KEY,
    file_index INTEGER NOT NULL,
    path TEXT NOT NULL,
    records INTEGER NOT NULL,
    size INTEGER NOT NULL,
    md5 TEXT NOT NULL,
    state TEXT NOT NULL,
    batch_ref TEXT,
    failed_records INTEGER NOT NULL DEFAULT 0,
    stats TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_attempts (
    batch_ref TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    state TEXT NOT NULL,
    note TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
"""
_RECORD_COLUMNS = (
    "ref, kind, seq, position, key, parent_ref, state, file, line, batch_ref, http_status, error_code, "
    "error_message, cdp_ref, attempts, updated_at"
)
_CHUNK = 900  # below SQLite's default limit of bound variables


def _record(row: tuple[Any, ...]) -> LedgerRecord:
    return LedgerRecord(
        row[0],
        RecordKind(row[1]),
        row[2],
        row[3],
        row[4],
        row[5],
        RecordState(row[6]),
        *row[7:],
    )


# The page cache of a reader (the studio's view of a run in progress): a few megabytes, so that reading the ledger of
# a large run every second keeps the reading process's memory flat. The writer keeps its 64 MB cache for speed.
READER_CACHE_KIB = 2048


class RunLedger:
    """The ledger of one run in `path` (created if new, reopened to resume). Thread-safe.

    `read_only` opens an existing ledger to look at it, perhaps while its run writes it from another process: no
    schema is created, nothing can be written, and its page cache is small (`READER_CACHE_KIB`).
    """

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        if read_only:
            if not self.path.exists():
                raise FileNotFoundError(f"no run ledger at {self.path}")
            # Not SQLite's mode=ro: a read-only connection cannot remove the -wal and -shm files when it closes
            # last, and would leave them in a finished run's folder.
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA query_only=ON")
            self._conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
            return
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA cache_size=-65536")
        self._conn.executescript(_SCHEMA)

    # -- lifecycle --------------------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> RunLedger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _write(self, sql: str, params: Iterable[Any] = ()) -> None:
        with self._lock:
            self._conn.execute(sql, tuple(params))

    def _write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(sql, rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- run metadata -----------------------------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else default

    def set_meta(self, key: str, value: Any) -> None:
        self._write(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, orjson.dumps(value).decode()),
        )

    # -- registering and writing ------------------------------------------------------------------------------

    def register(self, guests: Iterable[GuestLike]) -> int:
        """Record guests and their orders as `generated` (records already known are left as they are)."""
        now = time.time()
        rows = [(*row, RecordState.GENERATED.value, now) for guest in guests for row in ledger_rows(guest)]
        self._write_many(
            "INSERT OR IGNORE INTO records (ref, kind, seq, position, key, parent_ref, state, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return len(rows)

    def record_written(self, rows: Iterable[tuple[str, str, int, int, str, str | None, str, int]]) -> None:
        """(ref, kind, seq, position, key, parent_ref, file, line) for records written to a batch file.

        A record written again (a resumed run rewrites its files) gets its new position.
        """
        now = time.time()
        self._write_many(
            "INSERT INTO records (ref, kind, seq, position, key, parent_ref, state, file, line, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 'written', ?, ?, ?) ON CONFLICT (ref) DO UPDATE SET "
            "file = excluded.file, line = excluded.line, updated_at = excluded.updated_at, "
            "state = CASE WHEN records.state IN ('generated', 'written') THEN 'written' ELSE records.state END",
            ((*row, now) for row in rows),
        )

    # -- batch files ------------------------------------------------------------------------------------------

    def add_batch_file(self, file: str, file_index: int, path: str, records: int, size: int, md5: str) -> None:
        """A finished batch file. Rewriting an identical file keeps its upload state; a changed one resets it."""
        now = time.time()
        with self._lock:
            row = self._conn.execute("SELECT md5 FROM batch_files WHERE file = ?", (file,)).fetchone()
            if row is not None and row[0] == md5:
                self._conn.execute("UPDATE batch_files SET path = ? WHERE file = ?", (path, file))
                return
            self._conn.execute(
                "INSERT INTO batch_files (file, file_index, path, records, size, md5, state, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'written', ?) ON CONFLICT (file) DO UPDATE SET "
                "file_index = excluded.file_index, path = excluded.path, records = excluded.records, "
                "size = excluded.size, md5 = excluded.md5, state = 'written', batch_ref = NULL, "
                "failed_records = 0, stats = '{}', updated_at = excluded.updated_at",
                (file, file_index, path, records, size, md5, now),
            )

    def batch_files(self) -> list[BatchFileRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT file, file_index, path, records, size, md5, state, batch_ref, failed_records, stats, "
                "updated_at FROM batch_files ORDER BY file_index"
            ).fetchall()
        return [
            BatchFileRow(
                r[0], r[1], r[2], r[3], r[4], r[5], BatchFileState(r[6]), r[7], r[8], orjson.loads(r[9]), r[10]
            )
            for r in rows
        ]

    def batch_file(self, file: str) -> BatchFileRow | None:
        return next((row for row in self.batch_files() if row.file == file), None)

    def batch_allocated(self, file: str, batch_ref: str, note: str = "") -> None:
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.execute(
                "UPDATE batch_files SET state = 'allocated', batch_ref = ?, updated_at = ? WHERE file = ?",
                (batch_ref, now, file),
            )
            self._conn.execute(
                "INSERT OR REPLACE INTO batch_attempts (batch_ref, file, state, note, created_at, updated_at) "
                "VALUES (?, ?, 'allocated', ?, ?, ?)",
                (batch_ref, file, note, now, now),
            )
            self._conn.execute(
                "UPDATE records SET state = 'sent', batch_ref = ?, updated_at = ? "
                "WHERE file = ? AND state IN ('written', 'sent')",
                (batch_ref, now, file),
            )
            self._conn.execute("COMMIT")

    def batch_state(self, file: str, batch_ref: str, state: BatchFileState, note: str = "") -> None:
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.execute(
                "UPDATE batch_files SET state = ?, updated_at = ? WHERE file = ? AND batch_ref = ?",
                (state.value, now, file, batch_ref),
            )
            self._conn.execute(
                "UPDATE batch_attempts SET state = ?, note = COALESCE(NULLIF(?, ''), note), updated_at = ? "
                "WHERE batch_ref = ?",
                (state.value, note, now, batch_ref),
            )
            self._conn.execute("COMMIT")

    def batch_finished(
        self,
        file: str,
        batch_ref: str,
        state: BatchFileState,
        failures: Iterable[tuple[str, str, str]],
        stats: dict[str, Any] | None = None,
    ) -> int:
        """Mark a file's records `done`, except `failures` (ref, code, message) which become `failed`.

        Returns how many failures matched a record of this file."""
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                cursor = self._conn.executemany(
                    "UPDATE records SET state = 'failed', error_code = ?, error_message = ?, batch_ref = ?, "
                    "updated_at = ? WHERE ref = ? AND file = ?",
                    ((code, message, batch_ref, now, ref, file) for ref, code, message in failures),
                )
                matched = cursor.rowcount
                self._conn.execute(
                    "UPDATE records SET state = 'done', batch_ref = ?, error_code = NULL, error_message = NULL, "
                    "updated_at = ? WHERE file = ? AND state IN ('written', 'sent')",
                    (batch_ref, now, file),
                )
                self._conn.execute(
                    "UPDATE batch_files SET state = ?, failed_records = ?, stats = ?, updated_at = ? WHERE file = ?",
                    (state.value, matched, orjson.dumps(stats or {}).decode(), now, file),
                )
                self._conn.execute(
                    "UPDATE batch_attempts SET state = ?, updated_at = ? WHERE batch_ref = ?",
                    (state.value, now, batch_ref),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return matched

    def batch_attempts(self, file: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT batch_ref, file, state, note, created_at, updated_at FROM batch_attempts"
        params: tuple[Any, ...] = ()
        if file is not None:
            sql += " WHERE file = ?"
            params = (file,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY created_at", params).fetchall()
        keys = ("batch_ref", "file", "state", "note", "created_at", "updated_at")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # -- REST -------------------------------------------------------------------------------------------------

    def states(self, refs: Iterable[str]) -> dict[str, LedgerRecord]:
        """The ledger rows of `refs` that exist."""
        refs = list(refs)
        found: dict[str, LedgerRecord] = {}
        with self._lock:
            for start in range(0, len(refs), _CHUNK):
                chunk = refs[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for row in self._conn.execute(f"SELECT {_RECORD_COLUMNS} FROM records WHERE ref IN ({marks})", chunk):
                    record = _record(row)
                    found[record.ref] = record
        return found

    def mark_sent(self, refs: Iterable[str]) -> None:
        now = time.time()
        self._write_many(
            "UPDATE records SET state = 'sent', attempts = attempts + 1, updated_at = ? "
            "WHERE ref = ? AND state != 'done'",
            ((now, ref) for ref in refs),
        )

    def mark_done(self, ref: str, *, cdp_ref: str | None, http_status: int | None = None) -> None:
        self._write(
            "UPDATE records SET state = 'done', cdp_ref = COALESCE(?, cdp_ref), http_status = ?, "
            "error_code = NULL, error_message = NULL, updated_at = ? WHERE ref = ?",
            (cdp_ref, http_status, time.time(), ref),
        )

    def set_cdp_ref(self, ref: str, cdp_ref: str) -> None:
        """A step finished (e.g. the guest exists) while the record is still being sent."""
        self._write("UPDATE records SET cdp_ref = ?, updated_at = ? WHERE ref = ?", (cdp_ref, time.time(), ref))

    def mark_failed(
        self,
        ref: str,
        *,
        http_status: int | None,
        code: str | None,
        message: str,
        cdp_ref: str | None = None,
    ) -> None:
        self._write(
            "UPDATE records SET state = 'failed', http_status = ?, error_code = ?, error_message = ?, "
            "cdp_ref = COALESCE(?, cdp_ref), updated_at = ? WHERE ref = ?",
            (http_status, code, message[:2000], cdp_ref, time.time(), ref),
        )

    # -- queries ----------------------------------------------------------------------------------------------

    def get(self, ref: str) -> LedgerRecord | None:
        return self.states([ref]).get(ref)

    def find(self, key: str) -> list[LedgerRecord]:
        """Records by identifier (`provider:id`) or order referenceId."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {_RECORD_COLUMNS} FROM records WHERE key = ?", (key,)).fetchall()
        return [_record(row) for row in rows]

    def at_line(self, file: str, line: int) -> LedgerRecord | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM records WHERE file = ? AND line = ?", (file, line)
            ).fetchone()
        return _record(row) if row else None

    def counts(self, kind: RecordKind | None = None) -> dict[RecordState, int]:
        sql = "SELECT state, COUNT(*) FROM records"
        params: tuple[Any, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            params = (kind.value,)
        with self._lock:
            rows = self._conn.execute(sql + " GROUP BY state", params).fetchall()
        counts = dict.fromkeys(RecordState, 0)
        counts.update({RecordState(state): n for state, n in rows})
        return counts

    def total(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM records").fetchone()
        return int(row[0])

    def iter_records(
        self,
        *,
        state: RecordState | None = None,
        kind: RecordKind | None = None,
        batch: int = 5000,
    ) -> Iterator[LedgerRecord]:
        """All records in generation order (guest, then its orders), optionally filtered; streamed."""
        where, params = [], []
        if state is not None:
            where.append("state = ?")
            params.append(state.value)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind.value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        last = (-1, -1)
        while True:
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT {_RECORD_COLUMNS} FROM records{clause}{' AND' if where else ' WHERE'} "
                    "(seq, position) > (?, ?) ORDER BY seq, position LIMIT ?",
                    (*params, *last, batch),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _record(row)
            last = (rows[-1][2], rows[-1][3])

    def failures(self) -> Iterator[LedgerRecord]:
        return self.iter_records(state=RecordState.FAILED)
