"""What came back, indexed on disk by every key it can be joined by, so that verification memory stays flat."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from cdp_poc_studio.roundtrip.verify import Returned

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dups (key TEXT NOT NULL, row INTEGER NOT NULL);
"""


class ReturnedIndex(Mapping[str, Returned]):
    """Raw returned records (export rows, read-back lines) in a scratch SQLite file, built into `Returned` on lookup.

    The first record added under a key wins, as with a dictionary's setdefault; further records under the same
    key are duplicates (two CDP guests for one identity), handed to the first as `Returned.duplicates` (their
    `guestRef`s). Use as a context manager: the file is removed on exit.
    """

    def __init__(self, path: Path, build: Callable[[dict[str, Any]], Returned]) -> None:
        self.path = path
        self._build = build
        path.unlink(missing_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.executescript(_SCHEMA)
        self._pending: list[tuple[bytes, list[str]]] = []
        self._count = 0

    def __enter__(self) -> ReturnedIndex:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._db.close()
        self.path.unlink(missing_ok=True)

    def add(self, raw: dict[str, Any], keys: Iterable[str]) -> None:
        self._pending.append((orjson.dumps(raw), list(keys)))
        if len(self._pending) >= 5_000:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        db = self._db
        db.execute("BEGIN")
        for data, keys in self._pending:
            row = db.execute("INSERT INTO rows (data) VALUES (?)", (data,)).lastrowid
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO keys (key, row) VALUES (?, ?)", ((k, row) for k in keys))
            if db.total_changes - before != len(keys):  # rare: a key already taken by another record
                for key in keys:
                    first = db.execute("SELECT row FROM keys WHERE key = ?", (key,)).fetchone()
                    if first is not None and first[0] != row:
                        db.execute("INSERT INTO dups (key, row) VALUES (?, ?)", (key, row))
        db.execute("COMMIT")
        self._count += len(self._pending)
        self._pending.clear()

    def __getitem__(self, key: str) -> Returned:
        self.flush()
        found = self._db.execute(
            "SELECT rows.data FROM keys JOIN rows ON rows.id = keys.row WHERE keys.key = ?", (key,)
        ).fetchone()
        if found is None:
            raise KeyError(key)
        returned = self._build(orjson.loads(found[0]))
        others = self._db.execute(
            "SELECT rows.data FROM dups JOIN rows ON rows.id = dups.row WHERE dups.key = ? ORDER BY dups.row", (key,)
        ).fetchall()
        if others:
            refs = (str(orjson.loads(data).get("guestRef") or "?") for (data,) in others)
            returned.duplicates = (*returned.duplicates, *refs)
        return returned

    def __iter__(self) -> Iterator[str]:
        self.flush()
        for (key,) in self._db.execute("SELECT key FROM keys ORDER BY key"):
            yield key

    def __len__(self) -> int:
        self.flush()
        return int(self._db.execute("SELECT COUNT(*) FROM keys").fetchone()[0])

    def keys_starting_with(self, prefix: str) -> list[str]:
        self.flush()
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else ""
        rows = self._db.execute("SELECT key FROM keys WHERE key >= ? AND key < ? ORDER BY key", (prefix, upper))
        return [key for (key,) in rows]
