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
"""


class ReturnedIndex(Mapping[str, Returned]):
    """Raw returned records (export rows, read-back lines) in a scratch SQLite file, built into `Returned` on lookup.

    The first record added under a key wins, as with a dictionary's setdefault. Use as a context manager: the
    file is removed on exit.
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
        self._db.execute("BEGIN")
        for data, keys in self._pending:
            row = self._db.execute("INSERT INTO rows (data) VALUES (?)", (data,)).lastrowid
            self._db.executemany("INSERT OR IGNORE INTO keys (key, row) VALUES (?, ?)", ((k, row) for k in keys))
        self._db.execute("COMMIT")
        self._count += len(self._pending)
        self._pending.clear()

    def __getitem__(self, key: str) -> Returned:
        self.flush()
        found = self._db.execute(
            "SELECT rows.data FROM keys JOIN rows ON rows.id = keys.row WHERE keys.key = ?", (key,)
        ).fetchone()
        if found is None:
            raise KeyError(key)
        return self._build(orjson.loads(found[0]))

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
