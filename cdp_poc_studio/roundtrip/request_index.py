"""A run's request log on disk (`requests.ndjson`), read by line: an index of line offsets, pages of entries, and a
scan for the lines that match a filter. The studio's request console pages it instead of keeping calls in memory,
so every call of a run can be found however long the run. Qt-free."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from cdp_poc_studio.cdp.requestlog import LoggedRequest
from cdp_poc_studio.domain.progress import CancelToken

_CHUNK = 1 << 20


def index_lines(path: Path, start: int = 0) -> tuple[list[int], int]:
    """The offsets of the complete lines from byte `start` on, and the offset after the last complete line.

    A line still being written (no newline yet) is left for the next call, which starts where this one ended.
    """
    offsets: list[int] = []
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return offsets, start
    with handle:
        handle.seek(start)
        position = line_start = start
        while chunk := handle.read(_CHUNK):
            found = chunk.find(b"\n")
            while found >= 0:
                offsets.append(line_start)
                line_start = position + found + 1
                found = chunk.find(b"\n", found + 1)
            position += len(chunk)
    return offsets, line_start


def entry_of(data: dict[str, Any]) -> LoggedRequest:
    data = dict(data)
    data["request_headers"] = tuple(tuple(pair) for pair in data.get("request_headers", ()))
    data["warnings"] = tuple(data.get("warnings", ()))  # absent in logs written before warnings were kept
    return LoggedRequest(**data)


def read_entries(path: Path, start: int, end: int) -> list[LoggedRequest]:
    """The entries whose lines lie between byte offsets `start` and `end` (a page of the index)."""
    with path.open("rb") as handle:
        handle.seek(start)
        block = handle.read(end - start)
    return [entry_of(orjson.loads(line)) for line in block.splitlines() if line.strip()]


def is_error(entry: LoggedRequest) -> bool:
    return entry.status is None or entry.status >= 400


def matching_lines(
    path: Path, accept: Callable[[LoggedRequest], bool], end: int, cancel: CancelToken | None = None
) -> list[int]:
    """The numbers of the lines (up to byte `end`) whose entry `accept`s, in file order."""
    found: list[int] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle):
            if handle.tell() > end and not line.endswith(b"\n"):
                break
            if number % 10_000 == 0 and cancel is not None:
                cancel.raise_if_cancelled()
            if accept(entry_of(orjson.loads(line))):
                found.append(number)
    return found


def warned_calls(path: Path, examples: int = 5) -> tuple[int, list[str]]:
    """How many calls of the log carry a sandbox warning, and the first `examples` of them ("METHOD path: warning")."""
    count, found = 0, list[str]()
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return 0, []
    with handle:
        for line in handle:
            if b'"warnings":["' not in line:  # most calls have none: skip them unparsed
                continue
            count += 1
            if len(found) < examples:
                entry = entry_of(orjson.loads(line))
                found.append(f"{entry.method} {urlsplit(entry.url).path}: {'; '.join(entry.warnings)}")
    return count, found
