"""A sample through a run: its guests for the pipeline, and the per-row log that accounts for every row.

`mapped-rows.ndjson.gz` is written while the rows are mapped (row, line, key, the payload or the findings);
`rows.ndjson.gz` is written with the report: each row again, with CDP's answer (accepted, or rejected with the
batch log's code or the REST error) and the verification's outcome, every difference named by its source column.
"""

from __future__ import annotations

import gzip
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from cdp_poc_studio.cdp.ledger import RecordKind, RecordState, RunLedger
from cdp_poc_studio.domain.lint import Api
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.generator.records import GeneratedGuest
from cdp_poc_studio.roundtrip.report_model import RowsSummary
from cdp_poc_studio.roundtrip.scenario import Scenario
from cdp_poc_studio.roundtrip.source.mapper import Finding, MappedRow, SourceMapping
from cdp_poc_studio.roundtrip.source.orders import SourceOrders
from cdp_poc_studio.roundtrip.source.reader import open_source

MAPPED_ROWS = "mapped-rows.ndjson.gz"
ROWS = "rows.ndjson.gz"
FINDINGS_SHOWN = 10
_CDP_STATE = {RecordState.DONE: "accepted", RecordState.FAILED: "rejected"}

RowStatus = Literal[
    "verified", "differs", "not verified", "rejected by CDP", "not sent", "invalid", "rejected by linter"
]


def resolve_source(scenario: Scenario, base: Path | None) -> Scenario:
    """The scenario with its sample's path made absolute (for running; saved scenarios keep it relative)."""
    if scenario.source is None or base is None:
        return scenario

    def absolute(file: str) -> str:
        return file if Path(file).is_absolute() else str((base / file).resolve())

    return scenario.model_copy(update={"source": scenario.source.with_paths(absolute)})


def open_mapping(scenario: Scenario, schema: ExtensionSchema, *, api: Api | None = None) -> SourceMapping:
    """The scenario's rules compiled for its sample; SourceError or MappingError say what to fix."""
    spec = scenario.source
    assert spec is not None, "open_mapping needs a scenario with a [source]"
    source = open_source(Path(spec.file), format=spec.format, encoding=spec.encoding, delimiter=spec.delimiter)
    return SourceMapping(
        scenario.mapping,
        source,
        schema,
        provider=scenario.generator.identifier_provider,
        api=api or scenario.integration.load,
    )


def open_orders(scenario: Scenario, *, api: Api | None = None) -> SourceOrders | None:
    """The scenario's orders file mapped (None when it has none); SourceError says what to fix."""
    spec = scenario.source.orders if scenario.source is not None else None
    return SourceOrders(spec, api=api or scenario.integration.load) if spec is not None else None


class RowFindingsError(ValueError):
    """Rows with findings in a run whose [source] says invalid_rows = "stop": nothing was sent."""


@dataclass
class RowCounts:
    read: int = 0
    mapped: int = 0
    invalid: int = 0  # a transform failed, the row's width or key is wrong
    rejected_by_linter: int = 0  # mapped, but breaks a CDP rule
    order_rows: int = 0  # rows of the orders file
    order_rows_invalid: int = 0  # order rows not sent: a finding of their own or of their order
    first: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Every row of the guests' and the orders' files maps and passes CDP's rules."""
        return self.read == self.mapped and not self.order_rows_invalid

    def add_orders(self, orders: SourceOrders) -> None:
        self.order_rows = orders.row_count
        self.order_rows_invalid = orders.bad_rows
        for finding in orders.findings():
            if len(self.first) >= FINDINGS_SHOWN:
                break
            self.first.append(finding)

    def add(self, row: MappedRow) -> None:
        self.read += 1
        if row.ok:
            self.mapped += 1
        elif any(f.kind == "lint" for f in row.findings):
            self.rejected_by_linter += 1
        else:
            self.invalid += 1
        if row.findings and len(self.first) < FINDINGS_SHOWN:
            self.first.extend(row.findings[: FINDINGS_SHOWN - len(self.first)])

    def problem(self, log: Path) -> str:
        bad = self.invalid + self.rejected_by_linter
        listed = "\n".join(f"  {finding}" for finding in self.first)
        what = f"{bad:,} of {self.read:,} source row(s)"
        detail = f" ({self.invalid:,} invalid, {self.rejected_by_linter:,} breaking CDP's rules)"
        if self.order_rows_invalid:
            orders = f"{self.order_rows_invalid:,} of {self.order_rows:,} order row(s)"
            what, detail = (f"{what} and {orders}", "") if bad else (orders, "")
        return (
            f"{what} cannot be sent as mapped{detail}; nothing was sent. The first findings:\n{listed}\n"
            f"Every row is in {log}. Fix the file or the mapping, or send only the valid rows "
            '(invalid_rows = "skip" in [source], or --valid-rows-only).'
        )


def logged_guests(scenario: Scenario, mapping: SourceMapping, log: Path, counts: RowCounts) -> Iterator[GeneratedGuest]:
    """The valid rows' guests (with their orders), while every row goes to the mapped-rows log (the orders file's
    rows after the guests'); then any look-alike guests."""
    orders = open_orders(scenario, api=mapping.api)
    with gzip.open(log, "wb", compresslevel=1) as out:
        for row in mapping.rows():
            if orders is not None:
                orders.attach(row)
            counts.add(row)
            line: dict[str, Any] = {"row": row.number, "line": row.line, "key": row.key}
            if row.guest is not None:
                line["ref"] = row.guest.record["ref"]
                line["payload"] = row.guest.record
            else:
                line["findings"] = [f.to_json() for f in row.findings]
            out.write(orjson.dumps(line) + b"\n")
            if row.guest is not None:
                yield row.guest
        if orders is not None:
            orders.unjoined()
            counts.add_orders(orders)
            for order_line in orders.log_lines():
                out.write(orjson.dumps(order_line) + b"\n")
    yield from _synthetic(scenario, mapping, counts.read + 1)


def valid_guests(scenario: Scenario, mapping: SourceMapping) -> Iterator[GeneratedGuest]:
    last = 0
    orders = open_orders(scenario, api=mapping.api)
    for row in mapping.rows():
        last = row.number
        if orders is not None:
            orders.attach(row)
        if row.guest is not None:
            yield row.guest
    yield from _synthetic(scenario, mapping, last + 1)


def _synthetic(scenario: Scenario, mapping: SourceMapping, first_seq: int) -> Iterator[GeneratedGuest]:
    from cdp_poc_studio.roundtrip.source.lookalike import synthetic_guests

    return synthetic_guests(scenario, mapping.schema, first_seq)


# ------------------------------------------------------------------------------------------------ the results


def write_row_results(
    folder: Path,
    file: str,
    ledger: RunLedger,
    differences: Iterable[Any],
    origin: Any,
    *,
    compared: bool,
) -> tuple[RowsSummary, dict[str, int]]:
    """Join the mapped rows with the ledger (CDP's answer) and the differences (the verification) into rows.ndjson.gz.

    `differences` are verification differences (record key, source, path, outcome, expected, actual); `origin`
    names a field path's source column. `compared` is False when nothing came back to compare with yet.
    Returns the summary and the row number of each record with differences.
    """
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)  # by referenceId (orders.<ref>.<field>)
    for difference in differences:
        if difference.outcome.fails:
            found = {
                "source": difference.source, "path": difference.path, "column": origin(difference.path),
                "outcome": str(difference.outcome.value), "expected": difference.expected,
                "actual": difference.actual, "explanation": difference.explanation,
            }  # fmt: skip
            by_key[difference.record].append(found)
            if difference.path.startswith("orders."):
                by_order[difference.path.split(".", 2)[1]].append(found)
    orders: dict[str, tuple[RowStatus, dict[str, Any]]] = {}  # each order's outcome, from its first row
    summary = RowsSummary(file=file, log=ROWS)
    rows_of: dict[str, int] = {}
    guests = ledger.iter_records(kind=RecordKind.GUEST)
    pending = next(guests, None)
    with gzip.open(folder / MAPPED_ROWS, "rb") as source, gzip.open(folder / ROWS, "wb", compresslevel=1) as out:
        for raw in source:
            line = orjson.loads(raw)
            if "file" in line:  # a row of the orders file
                result = _order_row(line, ledger, by_order, orders, summary, compared)
                out.write(orjson.dumps(result, default=str) + b"\n")
                continue
            summary.read += 1
            status: RowStatus
            if "findings" in line:
                lint = any(f["kind"] == "lint" for f in line["findings"])
                status = "rejected by linter" if lint else "invalid"
                if lint:
                    summary.rejected_by_linter += 1
                else:
                    summary.invalid += 1
                out.write(orjson.dumps({**line, "status": status}) + b"\n")
                continue
            summary.mapped += 1
            while pending is not None and pending.seq < line["row"]:
                pending = next(guests, None)
            record = pending if pending is not None and pending.seq == line["row"] else None
            cdp: dict[str, Any] = {"state": _CDP_STATE.get(record.state, record.state.value) if record else "not sent"}
            if record is not None and record.state == RecordState.FAILED:
                cdp |= {"code": record.error_code or record.http_status, "message": record.error_message}
                status = "rejected by CDP"
                summary.rejected_by_cdp += 1
            elif record is None or record.state != RecordState.DONE:
                status = "not sent"
            elif not compared:
                status = "not verified"
            elif line["key"] in by_key:
                status = "differs"
                summary.differs += 1
            else:
                status = "verified"
                summary.verified += 1
            if record is not None and record.batch_ref:
                cdp |= {"batch": record.batch_ref, "file": record.file, "file_line": record.line}
            result = {**line, "status": status, "cdp": cdp}
            if line["key"] in by_key:
                result["differences"] = by_key[line["key"]]
                rows_of[line["key"]] = line["row"]
            out.write(orjson.dumps(result, default=str) + b"\n")
    return summary, rows_of


def _order_row(
    line: dict[str, Any],
    ledger: RunLedger,
    by_order: dict[str, list[dict[str, Any]]],
    orders: dict[str, tuple[RowStatus, dict[str, Any]]],
    summary: RowsSummary,
    compared: bool,
) -> dict[str, Any]:
    """A row of the orders file with its order's CDP answer and verification outcome (the order's rows share them)."""
    summary.order_rows += 1
    summary.order_file = line["file"]
    if "findings" in line:
        summary.order_rows_invalid += 1
        lint = any(f["kind"] == "lint" for f in line["findings"])
        return {**line, "status": "rejected by linter" if lint else "invalid"}
    reference = line["order"]
    if reference not in orders:
        record = ledger.get(line["ref"]) if "ref" in line else None
        cdp: dict[str, Any] = {"state": _CDP_STATE.get(record.state, record.state.value) if record else "not sent"}
        status: RowStatus
        if record is not None and record.state == RecordState.FAILED:
            cdp |= {"code": record.error_code or record.http_status, "message": record.error_message}
            status = "rejected by CDP"
        elif record is None or record.state != RecordState.DONE:
            status = "not sent"
        elif not compared:
            status = "not verified"
        else:
            status = "differs" if reference in by_order else "verified"
        orders[reference] = (status, cdp)
    status, cdp = orders[reference]
    if status == "verified":
        summary.order_rows_verified += 1
    result = {**line, "status": status, "cdp": cdp}
    if reference in by_order:
        result["differences"] = by_order[reference]
    return result


def read_rows(folder: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The per-row log of a run (the final one when the report is written, else the mapping's), for display."""
    path = folder / ROWS if (folder / ROWS).exists() else folder / MAPPED_ROWS
    rows: list[dict[str, Any]] = []
    if not path.exists():
        return rows
    with gzip.open(path, "rb") as stream:
        for raw in stream:
            rows.append(orjson.loads(raw))
            if limit is not None and len(rows) >= limit:
                break
    return rows
