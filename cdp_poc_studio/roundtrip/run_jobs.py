"""Job bodies and plain helpers behind Send, Verify and Report: Qt-free, so they run off the UI thread and are
unit-testable. They read the run folder (ledger, generated data, read-back) and never touch a widget."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from cdp_poc_studio.cdp.ledger import BatchFileRow, LedgerRecord, RunLedger
from cdp_poc_studio.cdp.rest_sender import PlannedRequest, plan_guest
from cdp_poc_studio.domain.progress import STAGES, CancelToken, ProgressCallback, ProgressReport
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.dryrun import dry_run_batch, dry_run_rest
from cdp_poc_studio.roundtrip.live_run import live_runs
from cdp_poc_studio.roundtrip.pipeline import MappedGuest, mapped_guests
from cdp_poc_studio.roundtrip.report_model import RunReport
from cdp_poc_studio.roundtrip.reports import OUTCOME_LABELS
from cdp_poc_studio.roundtrip.run_folder import RunFolder, RunState, read_generated, read_readback
from cdp_poc_studio.roundtrip.scenario import Scenario
from cdp_poc_studio.roundtrip.verify import rebuild_extensions

PREVIEW_GUESTS = 3
PREVIEW_LINES = 40
# Up to this many guests the dry run counts every record exactly; above, it counts a sample and scales.
EXACT_COUNT_LIMIT = 20_000
FAILURE_ROWS = 1_000


# -- the dry run ----------------------------------------------------------------------------------------------


@dataclass
class DryRun:
    load: str
    guests: int
    orders: int
    items: int
    batch_lines: int
    rest_requests: int
    uncompressed_bytes: int
    exact: bool
    preview: list[str]
    requests: list[PlannedRequest] = field(default_factory=list)

    def counts_text(self) -> str:
        about = "" if self.exact else "about "
        text = f"{self.guests:,} guests, {about}{self.orders:,} orders with {about}{self.items:,} items. "
        if self.load == "batch":
            megabytes = self.uncompressed_bytes / 1e6
            text += (
                f"Batch: {about}{self.batch_lines:,} lines ({about}{megabytes:,.1f} MB before gzip) in files of at "
                "most 50 MB compressed, one allocation, upload and status check each."
            )
        else:
            text += (
                f"REST: {about}{self.rest_requests:,} requests for records CDP does not have yet (a search, then a "
                "create, per guest and per order, plus extensions, contacts and items)."
            )
        return text


def dry_run(
    scenario: Scenario,
    schema: ExtensionSchema,
    base_url: str,
    report: ProgressCallback,
    cancel: CancelToken,
    *,
    exact_limit: int = EXACT_COUNT_LIMIT,
) -> DryRun:
    """What the send will do: the first batch lines or REST requests exactly as sent, and the counts."""
    # A [source] sample holds as many guests as it has valid rows (plus any look-alike ones): counted, not known.
    total = scenario.generator.guests if scenario.source is None else exact_limit + 1
    load = scenario.integration.load
    counted = min(total, exact_limit) if total > exact_limit else total
    preview_guests: list[MappedGuest] = []
    orders = items = lines = requests = size = 0
    n_seen = 0
    for n, guest in enumerate(islice(mapped_guests(scenario, schema), counted), start=1):
        n_seen = n
        if n <= PREVIEW_GUESTS:
            preview_guests.append(guest)
        orders += len(guest.orders)
        items += sum(len(o.record["value"].get("orderItems") or []) for o in guest.orders)
        if load == "batch":
            for line in dry_run_batch([guest]):
                lines += 1
                size += len(line) + 1
        else:
            requests += len(plan_guest(guest))
        if n % 500 == 0:
            cancel.raise_if_cancelled()
            report(ProgressReport("dry run", n, counted, message="counting records"))
    if scenario.source is not None and n_seen < counted:
        total = counted = n_seen
    scale = total / counted if counted else 1.0
    preview: list[str] = []
    planned: list[PlannedRequest] = []
    if load == "batch":
        preview = list(islice(dry_run_batch(preview_guests), PREVIEW_LINES))
    else:
        planned = list(islice(dry_run_rest(preview_guests), PREVIEW_LINES))
        for number, request in enumerate(planned, start=1):
            body = orjson.dumps(request.body, option=orjson.OPT_INDENT_2).decode() if request.body is not None else ""
            query = "?" + "&".join(f"{k}={v}" for k, v in request.params.items()) if request.params else ""
            preview.append(
                f"# {number}. {request.note}\n{request.method} {base_url}{request.path}{query}\n{body}".strip()
            )
    return DryRun(
        load=load,
        guests=total,
        orders=round(orders * scale),
        items=round(items * scale),
        batch_lines=round(lines * scale),
        rest_requests=round(requests * scale),
        uncompressed_bytes=round(size * scale),
        exact=counted == total,
        preview=preview,
        requests=planned,
    )


# -- run folders ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    path: Path
    state: RunState
    # A process of its own is running it right now (left going when the studio closed).
    live: bool = False

    @property
    def stage_text(self) -> str:
        parts = []
        for name in STAGES:
            timing = self.state.stages.get(name)
            if timing is not None:
                parts.append(f"{name} {timing.status}")
        return ", ".join(parts) or "nothing done yet"

    @property
    def complete(self) -> bool:
        return self.state.verdict in ("passed", "failed") and self.state.finished_at is not None

    @property
    def status(self) -> str:
        if self.state.verdict == "waiting":
            until = self.state.waiting_until
            return f"waiting for the nightly snapshot (after {until:%Y-%m-%d %H:%M} UTC)" if until else "waiting"
        if self.complete:
            return self.state.verdict
        if self.live:
            return "running in a process of its own: the studio re-attaches to it"
        return "interrupted: resume to complete"


def list_runs(root: Path, limit: int = 200) -> list[RunSummary]:
    """The run folders under `root`, newest first; folders that are not runs (or are damaged) are left out."""
    if not root.is_dir():
        return []
    live = {s.folder.name for s in live_runs(root) if s.liveness == "running" and s.folder is not None}
    runs = []
    for path in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True)[:limit]:
        folder = RunFolder(path)
        try:
            runs.append(RunSummary(path, folder.load_state(), live=path.name in live))
        except (FileNotFoundError, ValueError):
            continue
    return runs


def load_report(folder: Path) -> RunReport | None:
    try:
        return RunReport.model_validate_json(RunFolder(folder).report_json.read_bytes())
    except (FileNotFoundError, ValueError):
        return None


# -- batch files, failures and traces -------------------------------------------------------------------------


@dataclass
class LedgerView:
    files: list[BatchFileRow]
    attempts: dict[str, list[dict[str, Any]]]
    failures: list[LedgerRecord]
    failures_total: int
    counts: dict[str, int]


def read_ledger(folder: Path, failure_rows: int = FAILURE_ROWS) -> LedgerView | None:
    """Batch file states as CDP reported them, the attempts per file, and the failed records (first rows)."""
    path = RunFolder(folder).ledger
    if not path.exists():
        return None
    try:
        with RunLedger(path, read_only=True) as ledger:
            attempts: dict[str, list[dict[str, Any]]] = {}
            for attempt in ledger.batch_attempts():
                attempts.setdefault(str(attempt["file"]), []).append(attempt)
            counts = {state.value: n for state, n in ledger.counts().items()}
            return LedgerView(
                files=ledger.batch_files(),
                attempts=attempts,
                failures=list(islice(ledger.failures(), failure_rows)),
                failures_total=counts.get("failed", 0),
                counts=counts,
            )
    except sqlite3.Error:
        return None  # the pipeline holds a write lock for a moment: the next refresh reads it


def trace_rows(records: list[LedgerRecord]) -> list[tuple[str, str]]:
    rows = []
    for record in records:
        attempts = f", {record.attempts} attempt(s)" if record.attempts else ""
        rows.append((f"{record.kind.value} {record.key}", f"state {record.state.value}{attempts}"))
        if record.file:
            rows.append(
                (
                    "  batch file",
                    f"{record.file}, line {record.line}" + (f", batch {record.batch_ref}" if record.batch_ref else ""),
                )
            )
        if record.http_status is not None:
            rows.append(("  HTTP status", str(record.http_status)))
        if record.error_code or record.error_message:
            rows.append(("  CDP said", f"{record.error_code or ''} {record.error_message or ''}".strip()))
        if record.cdp_ref:
            rows.append(("  CDP ref", record.cdp_ref))
        rows.append(("  record ref", record.ref))
    return rows


@dataclass
class RecordDetails:
    key: str
    trace: list[tuple[str, str]]
    sent: dict[str, Any] | None
    rebuilt: dict[str, Any] | None
    unexpected: dict[str, Any]
    note: str = ""


def record_details(folder: Path, schema: ExtensionSchema, key: str, cancel: CancelToken | None = None) -> RecordDetails:
    """One guest through every stage (the ledger), and its nested value as sent beside the value rebuilt from
    what CDP returned through REST (flat extension keys unflattened by the schema)."""
    run = RunFolder(folder)
    records: list[LedgerRecord] = []
    sent: dict[str, Any] | None = None
    order_refs: list[str] = []
    if run.generated.exists():
        for n, line in enumerate(read_generated(run.generated)):
            if cancel is not None and n % 2000 == 0:
                cancel.raise_if_cancelled()
            if key in (line.key, line.ref):
                key = line.key
                sent = {"guest": _without_extensions(line.guest), "extensions": line.nested}
                if line.orders:
                    sent["orders"] = [
                        {"referenceId": o.value.get("referenceId"), "extension": o.nested, "items": o.items}
                        for o in line.orders
                    ]
                order_refs = [str(o.value.get("referenceId")) for o in line.orders]
                break
    if run.ledger.exists():
        try:
            with RunLedger(run.ledger, read_only=True) as ledger:
                for lookup in (key, *order_refs):
                    records += ledger.find(lookup)
        except sqlite3.Error:
            pass
    rebuilt: dict[str, Any] | None = None
    unexpected: dict[str, Any] = {}
    note = ""
    if run.readback.exists():
        for back in read_readback(run.readback):
            if back.key != key:
                continue
            guest = back.guest
            if guest is None:
                note = "CDP did not return this guest through REST."
                break
            nested, unexpected = rebuild_extensions(schema, "guest", guest.extensions)
            rebuilt = {"guest": _without_extensions(guest.data), "extensions": nested}
            if back.orders:
                rebuilt["orders"] = [
                    {
                        "referenceId": o.data.get("referenceId"),
                        "extension": rebuild_extensions(schema, "order", {"ext": o.extension})[0].get("ext")
                        if o.extension
                        else None,
                        "items": [
                            rebuild_extensions(schema, "order_item", {"ext": i.extension})[0].get("ext")
                            if i.extension
                            else None
                            for i in o.items
                        ],
                    }
                    for o in back.orders
                ]
            break
    else:
        note = "This run did not read guests back through REST: the export rows are compared field by field."
    if unexpected:
        note = (note + " " if note else "") + "Keys CDP holds that no schema field produces: " + ", ".join(unexpected)
    return RecordDetails(key, trace_rows(records), sent, rebuilt, unexpected, note)


def _without_extensions(guest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in guest.items() if k not in ("extensions", "ref", "href", "createdAt", "modifiedAt")}


# -- the report -----------------------------------------------------------------------------------------------


def summary_paragraph(report: RunReport) -> str:
    """One paragraph for an email to the customer: what ran, against what, and what came back."""
    when = report.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sources = []
    for source in report.sources:
        if source.source == "decisions":
            sources.append(
                f"the generated Personalize decisions unpacked the nested data of {source.records_found:,} of "
                f"{source.records_expected:,} guests, {100 * source.field_pass_rate:.2f} % of values equal"
            )
            continue
        name = "the REST read-back" if source.source == "rest" else "the audience export"
        sources.append(
            f"{name} found {source.records_found:,} of {source.records_expected:,} records, "
            f"{100 * source.field_pass_rate:.2f} % of fields equal"
        )
    failing = [d for d in report.differences if d.outcome.fails]
    verdict = {
        "passed": "passed",
        "failed": "failed",
        "waiting": "is waiting for CDP's nightly segment snapshot",
        "incomplete": "is incomplete",
    }[report.verdict]
    text = (
        f'The CDP proof of concept "{report.scenario_name}" (run {report.run_id}, {when}) {verdict}. '
        f"We loaded {report.settings.get('generator', {}).get('guests', 'the')} seeded test guests (seed "
        f"{report.seed}) through the {'Batch' if report.load == 'batch' else 'Guest and Order REST'} API into "
        f"the {report.target} and pulled them back by {' and '.join(report.pull_back)}"
    )
    text += (": " + "; ".join(sources) + ".") if sources else "."
    if failing:
        causes: dict[str, int] = {}
        for d in failing:
            label = OUTCOME_LABELS[d.outcome]
            causes[label] = causes.get(label, 0) + 1
        listed = ", ".join(f"{n:,} {label}" for label, n in sorted(causes.items(), key=lambda kv: -kv[1]))
        paths = sorted({d.path for d in failing})[:3]
        text += f" The differences that fail the run: {listed} (fields {', '.join(paths)})."
    if report.waiting_until is not None:
        text += (
            f" The export can be checked after {report.waiting_until:%Y-%m-%d %H:%M} UTC, when the nightly snapshot "
            "includes this run's data."
        )
    text += " The full report, with every record's trace and the settings used (never the secrets), is attached."
    return text


def local_and_utc(moment: datetime) -> str:
    local = moment.astimezone()
    return f"{local:%A %d %B %Y, %H:%M} local time ({moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"


def generated_count(folder: Path) -> int:
    """How many guests a run folder's generated data holds (for the cleanup confirmation)."""
    run = RunFolder(folder)
    return sum(1 for _ in read_generated(run.generated)) if run.generated.exists() else 0
