"""Writing CDP batch files: gzipped NDJSON, one minified record per line, split before 50 MB compressed.

Each file holds exactly one JSON file (`import.json`), as the Batch API requires, and is written with a fixed
gzip timestamp so that the same records give byte-identical files. Size, hex MD5 (for allocation) and base64
Content-MD5 (for the upload) are computed while writing, not by reading the file again.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from cdp_poc_studio.domain.limits import MAX_BATCH_FILE_BYTES

# zlib holds back compressed output until it has enough input; stop this far short of the limit so that what
# it still holds, plus the next line, cannot push the file past it.
_SAFETY_MARGIN = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BatchFile:
    path: Path
    records: int
    size: int
    md5_hex: str

    @property
    def content_md5(self) -> str:
        """The upload's Content-MD5 header: base64 of the raw 16-byte digest, as S3 (RFC 1864) expects."""
        return base64.b64encode(bytes.fromhex(self.md5_hex)).decode("ascii")


@dataclass(frozen=True, slots=True)
class LinePosition:
    file_index: int
    line: int


class _HashingSink:
    """A write-only file object that counts and hashes what gzip writes through it."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def write(self, data: bytes) -> int:
        self._target.write(data)
        self.md5.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self._target.flush()


class BatchFileWriter:
    """Streams records into `stem-001.json.gz`, `stem-002.json.gz`, ... in `folder`.

    Use as a context manager; `write()` returns where each record went, `files` lists what was written.
    """

    def __init__(
        self,
        folder: Path,
        stem: str = "batch",
        *,
        max_bytes: int = MAX_BATCH_FILE_BYTES,
        compresslevel: int = 6,
    ) -> None:
        if max_bytes < 2 * _SAFETY_MARGIN:
            raise ValueError(f"max file size must be at least {2 * _SAFETY_MARGIN // 1024 // 1024} MB")
        self.folder, self.stem = folder, stem
        self.max_bytes, self.compresslevel = max_bytes, compresslevel
        self.files: list[BatchFile] = []
        self._raw: BinaryIO | None = None
        self._sink: _HashingSink | None = None
        self._gzip: gzip.GzipFile | None = None
        self._lines = 0
        self._limit = max_bytes - _SAFETY_MARGIN

    def __enter__(self) -> BatchFileWriter:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        """Drop the file being written (after a failure or a cancel); finished files stay listed."""
        if self._raw is not None:
            self._raw.close()
            self.current_path.unlink(missing_ok=True)
        self._gzip = self._sink = self._raw = None

    @property
    def current_path(self) -> Path:
        return self.folder / f"{self.stem}-{len(self.files) + 1:03d}.json.gz"

    def write(self, record: dict[str, Any]) -> LinePosition:
        line = orjson.dumps(record) + b"\n"
        if self._gzip is None:
            self._open()
        elif self._sink is not None and self._sink.size + len(line) > self._limit:
            self._finish()
            self._open()
        assert self._gzip is not None
        self._gzip.write(line)
        self._lines += 1
        return LinePosition(len(self.files), self._lines)

    def write_all(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.write(record)

    def close(self) -> None:
        if self._gzip is not None:
            self._finish()

    def _open(self) -> None:
        self._raw = self.current_path.open("wb")
        self._sink = _HashingSink(self._raw)
        self._gzip = gzip.GzipFile(
            filename="import.json", mode="wb", fileobj=self._sink, compresslevel=self.compresslevel, mtime=0
        )
        self._lines = 0

    def _finish(self) -> None:
        assert self._gzip is not None
        assert self._sink is not None
        assert self._raw is not None
        path = self.current_path
        self._gzip.close()
        self._raw.close()
        self.files.append(BatchFile(path, self._lines, self._sink.size, self._sink.md5.hexdigest()))
        self._gzip = self._sink = self._raw = None
