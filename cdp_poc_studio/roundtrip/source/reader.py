"""Reading a sample file of the customer's records, streamed: CSV (delimiter and encoding detected or given), a JSON
array, or NDJSON (one JSON object per line).

Records come out one at a time with their number (1 is the first record; a CSV header is not a record) and the
line where they start, so that every finding can name the place to fix. Nested JSON objects are flattened to
dotted paths (`address.city`), the way mapping rules name them. Memory stays flat whatever the file's size.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

SourceFormat = Literal["csv", "json", "ndjson"]
SNIFF_BYTES = 64 * 1024
CHUNK_CHARS = 1 << 20
DELIMITERS = ",;|\t"
# csv refuses fields over 128 KiB by default; customer exports with long notes exist, a 16 MiB cell does not.
csv.field_size_limit(16 * 1024 * 1024)


class SourceError(ValueError):
    """A sample file that cannot be read: the file, the row and line where known, the column, the cause and the fix."""

    def __init__(
        self, file: Path, problem: str, *, row: int | None = None, line: int | None = None, column: str | None = None
    ) -> None:
        self.file, self.problem, self.row, self.line, self.column = file, problem, row, line, column
        place = str(file)
        if row is not None:
            place += f", row {row}"
        if line is not None:
            place += f" (line {line})"
        if column is not None:
            place += f", column {column!r}"
        super().__init__(f"{place}: {problem}")


@dataclass(slots=True)
class SourceRow:
    """One record of the file: its number, the line it starts on (None for a JSON array), and its cells.

    `cells` is the list of a CSV row (in header order) or the flattened dict of a JSON object.
    """

    number: int
    line: int | None
    cells: list[str] | dict[str, Any]


@dataclass
class SourceFile:
    """An opened sample: its format, encoding, delimiter and columns (a CSV header, or JSON paths seen early)."""

    path: Path
    format: SourceFormat
    encoding: str
    delimiter: str | None = None
    columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # JSON paths seen holding lists (a list target needs no split for them).
    list_columns: set[str] = field(default_factory=set)

    def rows(self) -> Iterator[SourceRow]:
        """Every record, streamed; a file that goes bad half-way raises SourceError naming the line."""
        if self.format == "csv":
            return self._csv_rows()
        if self.format == "ndjson":
            return self._ndjson_rows()
        return self._json_rows()

    def _open(self) -> IO[str]:
        return self.path.open(encoding=self.encoding, newline="" if self.format == "csv" else None)

    def _decode_error(self, exc: UnicodeDecodeError) -> SourceError:
        # Text is decoded a chunk ahead of the rows, so the error's place is found again line by line.
        line, byte = _first_undecodable_line(self.path, self.encoding)
        shown = f"byte 0x{byte:02x}" if byte is not None else exc.reason
        return SourceError(
            self.path,
            f"is not valid {self.encoding} text here ({shown}); save the file as UTF-8, or name its encoding in "
            '[source], for example encoding = "cp1252"',
            line=line,
        )

    def _csv_rows(self) -> Iterator[SourceRow]:
        with self._open() as stream:
            reader = csv.reader(stream, delimiter=self.delimiter or ",")
            number = 0
            try:
                next(reader, None)  # the header, read by open_source
                line = reader.line_num + 1
                for cells in reader:
                    if cells:  # csv yields [] for a blank line
                        number += 1
                        yield SourceRow(number, line, cells)
                    line = reader.line_num + 1
            except UnicodeDecodeError as exc:
                raise self._decode_error(exc) from None
            except csv.Error as exc:
                raise SourceError(
                    self.path, f"is not well-formed CSV here ({exc}); check the quoting", row=number + 1,
                    line=reader.line_num,
                ) from None  # fmt: skip

    def _ndjson_rows(self) -> Iterator[SourceRow]:
        with self._open() as stream:
            number = line = 0
            try:
                for line, text in enumerate(stream, start=1):
                    if not text.strip():
                        continue
                    number += 1
                    yield SourceRow(number, line, _object(self.path, text, number, line))
            except UnicodeDecodeError as exc:
                raise self._decode_error(exc) from None

    def _json_rows(self) -> Iterator[SourceRow]:
        with self._open() as stream:
            number = 0
            try:
                for item in _array_items(stream, self.path):
                    number += 1
                    if not isinstance(item, dict):
                        raise SourceError(
                            self.path, f"holds {type(item).__name__} where a JSON object (one customer) belongs",
                            row=number,
                        )  # fmt: skip
                    yield SourceRow(number, None, flatten_object(item))
            except UnicodeDecodeError as exc:
                raise self._decode_error(exc) from None


def _first_undecodable_line(path: Path, encoding: str) -> tuple[int | None, int | None]:
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as raw:
        for number, line in enumerate(raw, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                return number, line[exc.start] if exc.start < len(line) else None
    return None, None


def _object(path: Path, text: str, number: int, line: int) -> dict[str, Any]:
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            path, f"is not a JSON object ({exc.msg} at column {exc.colno})", row=number, line=line
        ) from None
    if not isinstance(item, dict):
        raise SourceError(path, "holds a JSON value that is not an object; write one customer object per line",
                          row=number, line=line)  # fmt: skip
    return flatten_object(item)


def _array_items(stream: IO[str], path: Path) -> Iterator[Any]:
    """The items of a top-level JSON array, decoded one at a time from a sliding buffer."""
    decoder = json.JSONDecoder()
    buffer, pos, eof = stream.read(CHUNK_CHARS), 0, False

    def skip(chars: str) -> None:
        nonlocal pos
        while pos < len(buffer) and buffer[pos] in chars:
            pos += 1

    skip(" \t\r\n\ufeff")
    if pos >= len(buffer) or buffer[pos] != "[":
        raise SourceError(path, "is not a JSON array of customer objects (it should start with '[')")
    pos += 1
    while True:
        skip(" \t\r\n,")
        if pos >= len(buffer) - 1 and not eof:
            more = stream.read(CHUNK_CHARS)
            eof = not more
            buffer, pos = buffer[pos:] + more, 0
            continue
        if pos < len(buffer) and buffer[pos] == "]":
            return
        try:
            item, end = decoder.raw_decode(buffer, pos)
        except json.JSONDecodeError as exc:
            if eof:
                raise SourceError(path, f"is not valid JSON ({exc.msg}); the array may be cut short") from None
            more = stream.read(CHUNK_CHARS)
            eof = not more
            buffer, pos = buffer[pos:] + more, 0
            continue
        pos = end
        yield item


def flatten_object(item: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted paths (`address.city`); lists stay values, for a split-free list target."""
    flat: dict[str, Any] = {}
    for key, value in item.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_object(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def detect_format(path: Path, head: str) -> SourceFormat:
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    if suffix == ".json":
        return "json" if head.lstrip("\ufeff \t\r\n").startswith("[") else "ndjson"
    stripped = head.lstrip("\ufeff \t\r\n")
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return "ndjson"
    return "csv"


def detect_encoding(path: Path, head: bytes) -> tuple[str, str | None]:
    """UTF-8 (with or without a BOM), UTF-16 by its BOM, else Windows-1252; and a note when it is a guess."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", None
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", None
    try:
        # A multi-byte character may be cut at the end of the head: decode incrementally, without the final flush.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8", None
    except UnicodeDecodeError:
        return "cp1252", (
            f"{path.name} is not UTF-8; read as Windows-1252 (cp1252). If accents look wrong, set encoding in [source]"
        )


def open_source(
    path: Path,
    *,
    format: SourceFormat | Literal["auto"] = "auto",
    encoding: str | None = None,
    delimiter: str | None = None,
) -> SourceFile:
    """Open a sample, detecting what is not given; raises SourceError with the fix when it cannot be read."""
    try:
        with path.open("rb") as raw:
            head_bytes = raw.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise SourceError(path, "no such file; [source] file is relative to the scenario file") from None
    except OSError as exc:
        raise SourceError(path, f"cannot be read ({exc.strerror or exc})") from None
    notes: list[str] = []
    if encoding is None:
        encoding, note = detect_encoding(path, head_bytes)
        if note:
            notes.append(note)
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise SourceError(
                path, f"encoding {encoding!r} is unknown; use a Python codec name like utf-8 or cp1252"
            ) from None
    head = head_bytes.decode(encoding, errors="replace")
    if not head.strip():
        raise SourceError(path, "is empty; export at least a header and one record")
    chosen: SourceFormat = detect_format(path, head) if format == "auto" else format
    source = SourceFile(path, chosen, encoding, notes=notes)
    if chosen == "csv":
        source.delimiter = delimiter or _sniff_delimiter(head)
        source.columns = _csv_header(source)
    else:
        source.columns = _json_columns(source)
    return source


def _sniff_delimiter(head: str) -> str:
    lines = head.splitlines()
    sample = "\n".join(lines[:50] if len(lines) > 1 else lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        # The sniffer gives up on files with one column or few rows: the header's most frequent candidate wins.
        first = lines[0] if lines else ""
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _csv_header(source: SourceFile) -> list[str]:
    try:
        with source._open() as stream:
            header = next(csv.reader(stream, delimiter=source.delimiter or ","), None)
    except UnicodeDecodeError as exc:
        raise source._decode_error(exc) from None
    if not header or not any(cell.strip() for cell in header):
        raise SourceError(source.path, "has no header line naming the columns; add one as the first line", line=1)
    columns = [cell.strip().lstrip("\ufeff") for cell in header]
    seen: dict[str, int] = {}
    for index, name in enumerate(columns, start=1):
        if not name:
            raise SourceError(source.path, f"header cell {index} is empty; name every column", line=1)
        if name in seen:
            raise SourceError(
                source.path, f"two columns are called {name!r} (cells {seen[name]} and {index}); rename one",
                line=1, column=name,
            )  # fmt: skip
        seen[name] = index
    if len(columns) == 1 and source.delimiter == "," and any(d in columns[0] for d in ";|\t"):
        source.notes.append("one column only; if the file uses another delimiter, set delimiter in [source]")
    return columns


def _json_columns(source: SourceFile, records: int = 1000) -> list[str]:
    """The paths seen in the first records (JSON objects may leave keys out, so this is a view, not a rule)."""
    columns: dict[str, None] = {}
    for row in source.rows():
        assert isinstance(row.cells, dict)
        columns.update(dict.fromkeys(row.cells))
        source.list_columns.update(k for k, v in row.cells.items() if isinstance(v, list))
        if row.number >= records:
            break
    if not columns:
        raise SourceError(source.path, "holds no records")
    return list(columns)


def read_head(source: SourceFile, limit: int) -> list[SourceRow]:
    """The first `limit` records, for previews."""
    rows = []
    for row in source.rows():
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows


def as_dict(source: SourceFile, row: SourceRow) -> dict[str, Any]:
    """A row's cells by column (for display; the mapper reads cells by index)."""
    if isinstance(row.cells, dict):
        return row.cells
    return dict(zip(source.columns, row.cells, strict=False))
