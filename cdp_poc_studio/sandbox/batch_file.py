"""Reading an uploaded batch file: the checks that make it `corrupted` or `error`, then its lines, streamed.

Memory stays flat whatever the file expands to: both passes decompress in bounded pieces, and a line longer than
`max_line` is never held whole (its first bytes are kept to name the record's ref in the error log).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

PIECE = 4 << 20  # decompressed bytes per step
INPUT_STEP = 1 << 20
BOM = b"\xef\xbb\xbf"
# A line longer than the limit is replaced by this marker plus its first bytes; the record applier reports it.
TOO_LONG = b"\x00too-long\x00"
_HEAD = 512
_REF = re.compile(rb'"ref"\s*:\s*"([^"\\]{1,100})"')


class CorruptedFileError(Exception):
    pass


class UnsupportedCompressionError(Exception):
    pass


class _Stream:
    """Decompresses a gzip upload in pieces of at most PIECE bytes; afterwards tells how the stream ended."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.decompressor = zlib.decompressobj(wbits=31)
        self.extra_input = False  # bytes after the end of the first gzip member

    def __iter__(self) -> Iterator[bytes]:
        decompressor, data = self.decompressor, self.data
        view = memoryview(data)
        pos = 0
        while not decompressor.eof:
            if decompressor.unconsumed_tail:
                chunk: bytes | memoryview = decompressor.unconsumed_tail
            elif pos < len(data):
                chunk = view[pos : pos + INPUT_STEP]
                pos += INPUT_STEP
            else:
                break
            out = decompressor.decompress(chunk, PIECE)
            if out:
                yield out
        self.extra_input = bool(decompressor.unused_data) or pos < len(data)


def check_file(data: bytes) -> int:
    """Validate an upload without keeping its content: gzip, one member, not an archive. Returns its line count.

    Raises:
        CorruptedFileError: not gzip, damaged, truncated, several gzip members, a tar archive (facts §6.4, §6.6).
        UnsupportedCompressionError: a zip file ("error" without a log, as the docs describe it).
    """
    if data[:4] == b"PK\x03\x04":
        # The docs: "If the status is error but the response does not contain an error log URI, it might be that
        # the uploaded file uses an unsupported compression format" (zip).
        raise UnsupportedCompressionError("zip archives are not supported; gzip the file")
    if data[:2] != b"\x1f\x8b":
        raise CorruptedFileError("the file is not gzip-compressed")
    lines = 0
    head = b""
    last = b"\n"
    stream = _Stream(data)
    try:
        for out in stream:
            if len(head) < 262:
                head += out[: 262 - len(head)]
            lines += out.count(b"\n")
            last = out[-1:]
    except zlib.error as exc:
        raise CorruptedFileError(f"the gzip stream is damaged ({exc})") from None
    if not stream.decompressor.eof:
        raise CorruptedFileError("the gzip stream is truncated")
    if stream.extra_input:
        raise CorruptedFileError("the file holds more than one gzip member; it must contain exactly one JSON file")
    if head[257:262] == b"ustar":
        raise CorruptedFileError("the file is an archive of several files; it must contain exactly one JSON file")
    return lines + (0 if last == b"\n" else 1)


def iter_lines(data: bytes, max_line: int) -> Iterator[bytes]:
    """The lines of a checked upload (without their newline), streamed. A UTF-8 byte order mark before the first
    record is skipped; a line longer than `max_line` comes out as TOO_LONG + its first bytes."""
    pending = b""
    skipping: bytes | None = None  # the head of an over-long line while the rest of it is read past
    first = True
    for out in _Stream(data):
        if first:
            first = False
            if out.startswith(BOM):
                out = out[3:]
        start = 0
        if skipping is not None:
            end = out.find(b"\n")
            if end < 0:
                continue
            yield TOO_LONG + skipping
            skipping = None
            start = end + 1
        parts = out[start:].split(b"\n")
        parts[0] = pending + parts[0]
        pending = parts.pop()
        for line in parts:
            yield line if len(line) <= max_line else TOO_LONG + line[:_HEAD]
        if len(pending) > max_line:
            skipping, pending = pending[:_HEAD], b""
    if skipping is not None:
        yield TOO_LONG + skipping
    elif pending:
        yield pending if len(pending) <= max_line else TOO_LONG + pending[:_HEAD]


def too_long_ref(line: bytes) -> str | None:
    """The record's ref, if it appears in the kept first bytes of an over-long line."""
    found = _REF.search(line[len(TOO_LONG) :])
    return found.group(1).decode("utf-8", "replace") if found else None
