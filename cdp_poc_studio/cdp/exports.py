"""The Audience export REST API (v2, OAuth Bearer): listings, finished jobs, streamed downloads and parsing.

Paths (cdp-api-facts.md §7.2, third-party derived, three sources agree):
`GET /v2/audienceExports/definitions/{ref}/latestExport`, `.../definitions/{ref}/reports`,
`GET /v2/audienceExports/executions/{executionRef}/export`. Output files are gzipped JSON lines or CSV behind
pre-signed URLs that expire (`expireAt`); an expired one raises `PresignedUrlExpired`.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import orjson
from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from cdp_poc_studio.cdp.http import CdpHttp
from cdp_poc_studio.domain.progress import CancelToken, ProgressMeter, StageCallback

EXPORTS = "/v2/audienceExports"


class _Wire(BaseModel):
    # Unknown fields are kept: the export API is reconstructed from third-party code and may say more.
    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel), populate_by_name=True, extra="allow"
    )


class ExportFile(_Wire):
    url: str
    size_kb: int | None = Field(default=None, validation_alias="sizeKB")
    delta_action: Literal["add", "remove"] | None = None


class ExportListing(_Wire):
    """The output URLs of one finished job."""

    execution_ref: str | None = None
    definition_ref: str | None = None
    friendly_id: str | None = None
    client_key: str | None = None
    expire_at: str | None = None
    number_of_files: int | None = None
    total_size_kb: int | None = Field(default=None, validation_alias="totalSizeKB")
    exports: list[ExportFile] = Field(default_factory=list)

    @property
    def added(self) -> list[ExportFile]:
        """Delta exports: the files of guests added to the audience (a full export: every file)."""
        return [f for f in self.exports if f.delta_action in (None, "add")]

    @property
    def removed(self) -> list[ExportFile]:
        return [f for f in self.exports if f.delta_action == "remove"]

    @property
    def is_delta(self) -> bool:
        return any(f.delta_action is not None for f in self.exports)


class ErrorCount(_Wire):
    description: str | None = None
    count: int | None = None


class ExecutionReport(_Wire):
    """One finished export job."""

    client_key: str | None = None
    execution_ref: str
    definition_ref: str | None = None
    friendly_id: str | None = None
    execution_type: str | None = None
    status: str | None = None
    definition_type: str | None = None
    segment_execution_type: str | None = None
    total: int | None = None
    filter_matched_guests: int | None = None
    filter_not_matched_guests: int | None = None
    filter_failures: int | None = None
    successes: int | None = None
    failures: int | None = None
    success_add: int | None = None
    success_remove: int | None = None
    programmable_errors: list[ErrorCount] = Field(default_factory=list)
    filter_errors: list[ErrorCount] = Field(default_factory=list)
    error_logs: list[str] = Field(default_factory=list)
    dataset_date: str | None = None
    start_time: str | None = None
    end_time: str | None = None


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """How the output files are written: JSON lines, or CSV with the export's options (facts §7.1)."""

    kind: Literal["json", "csv"] = "json"
    delimiter: str = ","  # CDP offers comma or pipe
    header: bool = True
    quoting: bool = True  # values wrapped in double quotes
    # Column names when the CSV has no header row.
    fieldnames: tuple[str, ...] | None = None

    @classmethod
    def csv(
        cls,
        *,
        delimiter: str = ",",
        header: bool = True,
        quoting: bool = True,
        fieldnames: tuple[str, ...] | None = None,
    ) -> ExportFormat:
        return cls("csv", delimiter, header, quoting, fieldnames)


def parse_records(lines: Iterator[str], fmt: ExportFormat) -> Iterator[dict[str, Any]]:
    """Records of one decompressed output file."""
    if fmt.kind == "json":
        for line in lines:
            line = line.strip()
            if line:
                record = orjson.loads(line)
                if isinstance(record, dict):
                    yield record
        return
    # With quoting off CDP leaves plain values unwrapped; a value holding the separator, a double quote or a line
    # break must still be quoted (RFC 4180), or the file could not be read at all [inferred, facts §7.1 says
    # only "optional double-quote wrapping"]. So one reader reads both: quoted cells where they are quoted.
    reader = csv.reader(lines, delimiter=fmt.delimiter, quotechar='"', quoting=csv.QUOTE_MINIMAL, strict=True)
    names: list[str] | None = list(fmt.fieldnames) if fmt.fieldnames else None
    for row in reader:
        if not row:
            continue
        if names is None:
            if fmt.header:
                names = row
                continue
            names = [f"column{i + 1}" for i in range(len(row))]
        yield dict(zip(names, row, strict=False))


def iter_export_file(path: Path, fmt: ExportFormat) -> Iterator[dict[str, Any]]:
    """Stream the records of a downloaded `.gz` output file."""
    with gzip.open(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        yield from parse_records(iter(text), fmt)


class AudienceExportClient:
    def __init__(self, http: CdpHttp) -> None:
        self.http = http

    def latest_export(self, definition: str) -> ExportListing:
        """Output of the most recently finished job; `definition` is the friendlyId or the definition ref."""
        body = self.http.get_json(f"{EXPORTS}/definitions/{quote(definition, safe='')}/latestExport", auth="oauth")
        return ExportListing.model_validate(body)

    def reports(self, definition: str) -> list[ExecutionReport]:
        """Every finished job of an export (newest first as CDP lists them)."""
        body = self.http.get_json(f"{EXPORTS}/definitions/{quote(definition, safe='')}/reports", auth="oauth")
        items = body if isinstance(body, list) else (body.get("items") or [])
        return [ExecutionReport.model_validate(item) for item in items]

    def execution_export(self, execution_ref: str) -> ExportListing:
        body = self.http.get_json(f"{EXPORTS}/executions/{quote(execution_ref, safe='')}/export", auth="oauth")
        return ExportListing.model_validate(body)

    def download(
        self, file: ExportFile, folder: Path, *, name: str | None = None, cancel: CancelToken | None = None
    ) -> Path:
        """Stream one output file to `folder` (a partial file is removed on failure). Pre-signed: no auth."""
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / (name or Path(urlsplit(file.url).path).name or "export.gz")
        partial = target.with_name(target.name + ".part")
        try:
            with self.http.stream(file.url, auth="none") as response, partial.open("wb") as out:
                for chunk in response.iter_bytes(1024 * 1024):
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    out.write(chunk)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    def download_all(
        self,
        listing: ExportListing,
        folder: Path,
        *,
        cancel: CancelToken | None = None,
        progress: StageCallback | None = None,
    ) -> list[tuple[ExportFile, Path]]:
        """Every output file of `listing`, in order, counted as `export` stage events of files."""
        meter = ProgressMeter("export", len(listing.exports), progress, unit="files", interval=0)
        paths = []
        for index, file in enumerate(listing.exports):
            stem = Path(urlsplit(file.url).path).name or "export.gz"
            action = f"{file.delta_action}-" if file.delta_action else ""
            paths.append((file, self.download(file, folder, name=f"{index:03d}-{action}{stem}", cancel=cancel)))
            meter.advance(1, detail="downloading the export's files")
        return paths

    def iter_records(self, file: ExportFile, fmt: ExportFormat) -> Iterator[dict[str, Any]]:
        """Stream and parse one output file without saving it."""
        with self.http.stream(file.url, auth="none") as response:
            decompressed = _gunzip_lines(response.iter_bytes(1024 * 1024))
            yield from parse_records(decompressed, fmt)


def _gunzip_lines(chunks: Iterator[bytes]) -> Iterator[str]:
    import zlib

    decompressor = zlib.decompressobj(wbits=47)
    pending = b""
    for chunk in chunks:
        pending += decompressor.decompress(chunk)
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8") + "\n"
    pending += decompressor.flush()
    if pending:
        yield pending.decode("utf-8")
