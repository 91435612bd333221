"""SQLite persistence: schema and migrations, one connection per thread, one writer at a time, nightly snapshot.

WAL with synchronous=NORMAL: a crash loses no committed transaction that reached the WAL and commits stay cheap
(environment.md measured about 27,000 commits/s against about 570/s with the default journal).
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

from cdp_poc_studio.sandbox.clock import Clock, iso, midnight_utc

# Each entry upgrades the schema by one version (PRAGMA user_version). Append, never edit a released one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE guests (
        ref TEXT PRIMARY KEY,
        email TEXT,
        created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        data TEXT NOT NULL,          -- JSON object of the guest attributes
        exts TEXT                    -- JSON {name: {ref, createdAt, modifiedAt, values}} or NULL
    );
    CREATE INDEX guests_email ON guests(email);
    CREATE INDEX guests_created ON guests(created_at);
    CREATE TABLE guest_identifiers (
        provider TEXT NOT NULL, id TEXT NOT NULL, guest_ref TEXT NOT NULL,
        PRIMARY KEY (provider, id, guest_ref)
    ) WITHOUT ROWID;
    CREATE INDEX guest_identifiers_guest ON guest_identifiers(guest_ref);
    CREATE TABLE orders (
        ref TEXT PRIMARY KEY,
        guest_ref TEXT,
        reference_id TEXT NOT NULL,
        ordered_at TEXT NOT NULL,
        price REAL,
        status TEXT,
        created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        data TEXT NOT NULL,
        ext TEXT
    );
    CREATE INDEX orders_guest ON orders(guest_ref);
    CREATE INDEX orders_reference ON orders(reference_id);
    CREATE TABLE order_items (
        ref TEXT PRIMARY KEY, order_ref TEXT NOT NULL, created_at TEXT NOT NULL, modified_at TEXT NOT NULL,
        data TEXT NOT NULL, ext TEXT
    );
    CREATE INDEX order_items_order ON order_items(order_ref);
    CREATE TABLE order_contacts (
        ref TEXT PRIMARY KEY, order_ref TEXT NOT NULL UNIQUE, guest_ref TEXT NOT NULL,
        created_at TEXT NOT NULL, modified_at TEXT NOT NULL, data TEXT NOT NULL
    );
    CREATE TABLE order_consumers (
        ref TEXT PRIMARY KEY, order_ref TEXT NOT NULL, guest_ref TEXT NOT NULL,
        created_at TEXT NOT NULL, modified_at TEXT NOT NULL, data TEXT NOT NULL, item_refs TEXT NOT NULL
    );
    CREATE INDEX order_consumers_order ON order_consumers(order_ref);
    CREATE TABLE batches (
        ref TEXT PRIMARY KEY,
        checksum TEXT NOT NULL,
        size INTEGER NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL,
        upload_expiry TEXT NOT NULL,
        records_done INTEGER NOT NULL DEFAULT 0,
        stats TEXT,
        started_at TEXT,
        has_log INTEGER NOT NULL DEFAULT 0,
        detail TEXT,
        object_prefix TEXT NOT NULL,   -- {clientKey}/{batchRef} in the fake S3 bucket
        run_ms INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX batches_created ON batches(created_at);
    CREATE TABLE batch_errors (
        batch_ref TEXT NOT NULL, seq INTEGER NOT NULL, ref TEXT, code INTEGER NOT NULL, message TEXT NOT NULL,
        PRIMARY KEY (batch_ref, seq)
    ) WITHOUT ROWID;
    CREATE TABLE export_definitions (
        ref TEXT PRIMARY KEY, friendly_id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
        modified_at TEXT NOT NULL, data TEXT NOT NULL
    );
    CREATE TABLE export_executions (
        ref TEXT PRIMARY KEY, definition_ref TEXT NOT NULL, created_at TEXT NOT NULL,
        report TEXT NOT NULL, files TEXT NOT NULL
    );
    CREATE INDEX export_executions_definition ON export_executions(definition_ref, created_at);
    CREATE TABLE export_members (
        definition_ref TEXT NOT NULL, guest_ref TEXT NOT NULL, PRIMARY KEY (definition_ref, guest_ref)
    ) WITHOUT ROWID;
    CREATE TABLE snap_guests AS SELECT * FROM guests WHERE 0;
    CREATE TABLE snap_orders AS SELECT * FROM orders WHERE 0;
    CREATE INDEX snap_orders_guest ON snap_orders(guest_ref);
    """,
]

# Every connection. WAL + synchronous=NORMAL: see the module docstring. cache_size -65536 = 64 MiB of page cache per
# connection, so that a batch chunk's index pages stay in memory. temp_store=MEMORY: sorts and temporary b-trees
# (ORDER BY, DISTINCT, the export diff) never touch disk. foreign_keys: the schema declares none.
CONNECTION_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",
)
# The batch worker's connection also turns automatic checkpoints off (Store.checkpoint_soon runs them).
BATCH_WRITER_PRAGMAS = ("PRAGMA wal_autocheckpoint=0",)

DATA_TABLES = (
    "guests",
    "guest_identifiers",
    "orders",
    "order_items",
    "order_contacts",
    "order_consumers",
    "batches",
    "batch_errors",
    "export_definitions",
    "export_executions",
    "export_members",
    "snap_guests",
    "snap_orders",
)


class Store:
    """The database. `read()` gives this thread's connection; `write()` a serialised transaction."""

    def __init__(self, db_path: str, clock: Clock, *, nightly: bool = False, files_dir: Path | None = None):
        self._tmpdir: str | None = None
        if db_path == ":memory:":
            # A throwaway file rather than SQLite's :memory:, so that every thread sees the same data through
            # its own connection and WAL behaves exactly as with a real file.
            self._tmpdir = tempfile.mkdtemp(prefix="cdp-sandbox-")
            self.path = Path(self._tmpdir) / "sandbox.db"
            default_files = Path(self._tmpdir) / "files"
        else:
            self.path = Path(db_path).expanduser()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            default_files = self.path.with_name(self.path.name + ".files")
        self.files_dir = files_dir or default_files
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.nightly = nightly
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._checkpoint_wanted = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._migrate()

    # -- connections -------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError("the store is closed")
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        for pragma in CONNECTION_PRAGMAS:
            conn.execute(pragma)
        with self._all_lock:
            self._all.append(conn)
        return conn

    def read(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction, one writer at a time across the process; commits on success, rolls back on error."""
        with self._write_lock:
            conn = self.read()
            if conn.in_transaction:  # nested use in the same thread joins the outer transaction
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self.nightly:
                    self._snapshot_if_due(conn)
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def checkpoint_soon(self) -> None:
        """Copy the WAL into the database in a background thread (PASSIVE: never blocks readers or writers).

        The batch worker turns automatic checkpoints off on its connection and calls this after each chunk, so
        that the copy and its fsyncs overlap the next chunk instead of delaying it (SQLite runs a checkpoint
        inside the COMMIT that crosses wal_autocheckpoint pages, 1,000 by default).
        """
        with self._all_lock:
            if self._closed:
                return
            if self._checkpointer is None:
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_loop, name="cdp-sandbox-checkpointer", daemon=True
                )
                self._checkpointer.start()
        self._checkpoint_wanted.set()

    def _checkpoint_loop(self) -> None:
        try:
            conn = self._connect()
        except (RuntimeError, sqlite3.Error):
            return
        while True:
            self._checkpoint_wanted.wait()
            self._checkpoint_wanted.clear()
            if self._closed:
                return
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:  # closed under us (stop), or busy: the next write tries again
                if self._closed:
                    return

    def close(self) -> None:
        self._closed = True
        self._checkpoint_wanted.set()
        if self._checkpointer is not None:
            self._checkpointer.join(5)
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    # -- schema ------------------------------------------------------------------------------------------

    def _migrate(self) -> None:
        conn = self.read()
        with self._write_lock:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                conn.executescript("BEGIN;" + script + f";PRAGMA user_version={number};COMMIT;")

    def reset(self) -> None:
        """Remove all data (credentials and the signing secret stay)."""
        with self.write() as conn:
            for table in DATA_TABLES:
                conn.execute(f"DELETE FROM {table}")
            conn.execute("DELETE FROM meta WHERE key = 'snapshot_at'")
        for child in self.files_dir.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)

    def meta(self, key: str) -> str | None:
        row = self.read().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- nightly snapshot --------------------------------------------------------------------------------

    def _snapshot_if_due(self, conn: sqlite3.Connection) -> None:
        """Copy-on-first-write after midnight: snap_* then hold the data as it was at the last midnight UTC.

        If no write happened since that midnight the live tables already equal the state at midnight, so copying
        them now (before this write) is exact.
        """
        cutoff = iso(midnight_utc(self.clock.now()))
        row = conn.execute("SELECT value FROM meta WHERE key = 'snapshot_at'").fetchone()
        # "!=" rather than "<": when a test or demo moves the clock back, the snapshot follows it (from the live
        # data, the best that can be done without history).
        if row is not None and row[0] == cutoff:
            return
        conn.execute("DELETE FROM snap_guests")
        conn.execute("INSERT INTO snap_guests SELECT * FROM guests")
        conn.execute("DELETE FROM snap_orders")
        conn.execute("INSERT INTO snap_orders SELECT * FROM orders")
        self.set_meta(conn, "snapshot_at", cutoff)

    def segment_tables(self) -> tuple[str, str, datetime]:
        """The (guests, orders) tables segments read, and the time their data is as of."""
        if not self.nightly:
            return "guests", "orders", self.clock.now()
        with self.write():
            pass  # takes the snapshot if the clock passed midnight since the last write
        return "snap_guests", "snap_orders", midnight_utc(self.clock.now())
