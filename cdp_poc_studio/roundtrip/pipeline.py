"""The pipeline: generate, send through the chosen integration point, read back, pull the export, verify, report.

Each stage records its status in the run folder, so a cancelled or crashed run resumes where it stopped (the
ledger makes sending idempotent), and a run whose export has to wait for CDP's nightly segment snapshot is
completed later by `resume`. Plain blocking code with `progress` and `cancel`: the CLI and the studio's task
runner call it alike. Progress is one stream of typed `StageEvent`s: each stage opens with a `running` event,
the clients count its work, and it closes with an event in its final state.
"""

from __future__ import annotations

import gzip
import platform
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson

from cdp_poc_studio import __version__
from cdp_poc_studio.cdp.batch import BatchSender, PollSettings, files_from_ledger, write_batch_files
from cdp_poc_studio.cdp.exports import AudienceExportClient, iter_export_file
from cdp_poc_studio.cdp.ledger import RecordState, RunLedger
from cdp_poc_studio.cdp.readback import ReadBack
from cdp_poc_studio.cdp.rest_sender import RestSender, RestSettings
from cdp_poc_studio.domain.progress import (
    Cancelled,
    CancelToken,
    ProgressMeter,
    Stage,
    StageCallback,
    StageEvent,
    StageState,
)
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.generator.records import GeneratedGuest, GeneratedOrder, Generator
from cdp_poc_studio.roundtrip.call_progress import CallProgress, ordered_results
from cdp_poc_studio.roundtrip.capacity import CapacityPlan
from cdp_poc_studio.roundtrip.export_reading import (
    EXPORT_ORDER_LIMIT,
    download_previous_runs,
    export_format,
    extension_columns,
    read_previous_audience,
    row_keys,
)
from cdp_poc_studio.roundtrip.generated import GeneratedWriter, expected_records
from cdp_poc_studio.roundtrip.mapping import apply_mapping
from cdp_poc_studio.roundtrip.report_model import (
    RunReport,
    SandboxWarnings,
    StageStatus,
    StageTiming,
    ThresholdCheck,
    Trace,
    difference_rows,
    summarise,
)
from cdp_poc_studio.roundtrip.reports import write_reports
from cdp_poc_studio.roundtrip.request_index import warned_calls
from cdp_poc_studio.roundtrip.returned_index import ReturnedIndex
from cdp_poc_studio.roundtrip.run_folder import (
    GeneratedLine,
    ReadbackGuest,
    ReadbackItem,
    ReadbackLine,
    ReadbackOrder,
    RunFolder,
    RunState,
    read_generated,
    read_readback,
)
from cdp_poc_studio.roundtrip.scenario import Scenario, dump_scenario
from cdp_poc_studio.roundtrip.verify import (
    Comparison,
    Returned,
    Source,
    SourceRules,
    compare,
    returned_from_export,
    returned_from_rest,
)
from cdp_poc_studio.targets.target import Target

# Order fields an audience export row carries (the sandbox's choice, documented in its README; a real
# tenant's export template decides its own).
EXPORT_ORDER_FIELDS = ("referenceId", "orderedAt", "price", "currencyCode", "status", "channel", "pointOfSale")
# Read-back runs at the sender's concurrency: both wait on CDP's latency, request by request.
READBACK_WORKERS = RestSettings().concurrency
# Guests read back ahead of the one written next (the file keeps the generated order, which verifying relies on):
# enough that a guest retrying for a minute does not idle the workers, few enough to bound the memory held.
READBACK_WINDOW = 64 * READBACK_WORKERS
TRACE_CAP = 200


class MappedGuest:
    """A generated guest as it is sent: mapping rules applied to its wire record; orders unchanged."""

    __slots__ = ("orders", "record", "seq")

    def __init__(self, guest: GeneratedGuest, scenario: Scenario) -> None:
        self.seq = guest.seq
        self.orders: list[GeneratedOrder] = guest.orders
        self.record = guest.record
        if scenario.mapping and scenario.source is None:
            self.record = {**guest.record, "value": apply_mapping(guest.record["value"], scenario.mapping)}


def mapped_guests(scenario: Scenario, schema: ExtensionSchema) -> Iterator[MappedGuest]:
    """Every guest of the scenario as it will be sent (the generator is seeded: the same guests every time;
    a sample maps to the same guests every time, and only its valid rows are sent)."""
    if scenario.source is not None:
        from cdp_poc_studio.roundtrip.source.rows import open_mapping, valid_guests

        guests: Iterator[GeneratedGuest] = valid_guests(scenario, open_mapping(scenario, schema))
    else:
        guests = Generator(scenario.generator, schema).guests()
    for guest in guests:
        yield MappedGuest(guest, scenario)


def _total(scenario: Scenario) -> int | None:
    """How many guests a run sends, when known before reading them (a sample's count is not)."""
    return scenario.generator.guests if scenario.source is None else None


@dataclass
class Pipeline:
    scenario: Scenario
    schema: ExtensionSchema
    folder: RunFolder
    target: Target
    progress: StageCallback | None = None
    cancel: CancelToken = field(default_factory=CancelToken)
    # Overrides the target's pace of batch status requests (tests poll the in-thread sandbox faster).
    batch_poll_seconds: float | None = None
    # Flushes this run's requests.ndjson while the run writes it (the report reads it for the sandbox's warnings).
    _flush_requests: Callable[[], None] = field(default=lambda: None, init=False, repr=False)

    # ------------------------------------------------------------------------------------------------ driving

    @classmethod
    def start(
        cls, scenario: Scenario, schema: ExtensionSchema, runs_root: Path, target: Target, **kwargs: Any
    ) -> Pipeline:
        """A new run folder holding the scenario as run (its schema inlined, so the folder stands alone).

        A scenario with a [source] needs its file's path absolute (`source.rows.resolve_source`); its schema
        gains the extension fields the mapping targets, so that verification rebuilds them.
        """
        if scenario.source is not None:
            from cdp_poc_studio.roundtrip.source.rows import open_mapping

            schema = open_mapping(scenario, schema).schema
        folder = RunFolder.create(runs_root, scenario.name)
        try:
            return cls._begin(folder, scenario, schema, target, **kwargs)
        except BaseException:
            # A run folder is whole or absent: one that failed before its first stage is removed.
            shutil.rmtree(folder.path, ignore_errors=True)
            raise

    @classmethod
    def _begin(
        cls, folder: RunFolder, scenario: Scenario, schema: ExtensionSchema, target: Target, **kwargs: Any
    ) -> Pipeline:
        as_run = scenario.model_copy(update={"schema_file": None, "extensions": schema})
        if as_run.generator.anchor_date is None:
            # Dates are drawn relative to the run's clock (the sandbox's when it is the target), fixed in the
            # scenario as run so that a resumed run regenerates the same records.
            generator = as_run.generator.model_copy(update={"anchor_date": target.now().date()})
            as_run = as_run.model_copy(update={"generator": generator})
        folder.scenario.write_text(dump_scenario(as_run), encoding="utf-8")
        state = RunState(
            run_id=folder.path.name,
            scenario_name=scenario.name,
            started_at=datetime.now(UTC),
            target=target.description,
            target_kind=target.kind,
            profile=target.profile,
            sandbox_db=target.sandbox_db,
            sandbox_snapshot=target.sandbox_snapshot,
        )
        folder.save_state(state)
        return cls(as_run, schema, folder, target, **kwargs)

    def run(self) -> RunReport:
        """Every stage not yet done; returns the report (also written to the run folder)."""
        state = self.folder.load_state()
        with RunLedger(self.folder.ledger) as ledger, self._request_log():
            steps: list[tuple[Stage, Callable[[RunState, RunLedger], tuple[StageStatus, int, str]]]] = [
                ("generate", self._generate),
                ("send", self._send),
                ("readback", self._readback),
                ("export", self._export),
            ]
            for name, step in steps:
                if state.done(name):
                    continue
                self.cancel.raise_if_cancelled()
                self._emit(StageEvent(stage=name, detail="starting"))
                started = time.perf_counter()
                try:
                    status, records, note = step(state, ledger)
                except BaseException as exc:
                    state.stages[name] = StageTiming(name=name, status="failed", seconds=time.perf_counter() - started)
                    self.folder.save_state(state)
                    ended: StageState = "cancelled" if isinstance(exc, Cancelled) else "failed"
                    self._emit(StageEvent(stage=name, state=ended, detail=str(exc)))
                    raise
                state.stages[name] = StageTiming(
                    name=name, status=status, seconds=time.perf_counter() - started, records=records, note=note
                )
                self.folder.save_state(state)
                unit = "files" if name == "export" else "records"
                self._emit(StageEvent(stage=name, state=status, done=records, total=records or None, unit=unit,
                                      detail=note))  # fmt: skip
            report = self._verify_and_report(state, ledger)
        return report

    @contextmanager
    def _request_log(self) -> Iterator[None]:
        """Every request of this run, secrets masked, appended to the run folder's requests.ndjson."""
        log = self.target.connection.request_log
        with self.folder.requests.open("ab") as out:

            def write(entry: Any) -> None:
                out.write(orjson.dumps(entry.to_json()) + b"\n")

            log.add_listener(write)
            self._flush_requests = out.flush
            try:
                yield
            finally:
                log.remove_listener(write)
                self._flush_requests = lambda: None

    def _emit(self, event: StageEvent) -> None:
        if self.progress is not None:
            self.progress(event)

    def _guests(self) -> Iterator[GeneratedGuest]:
        if self.scenario.source is not None:
            return self._source_guests()
        return Generator(self.scenario.generator, self.schema).guests()

    def _source_guests(self) -> Iterator[GeneratedGuest]:
        """The sample's valid rows; every row to the mapped-rows log; with findings and "stop", nothing sent."""
        from cdp_poc_studio.roundtrip.source.rows import (
            MAPPED_ROWS,
            RowCounts,
            RowFindingsError,
            logged_guests,
            open_mapping,
        )

        assert self.scenario.source is not None
        counts = self._row_counts = RowCounts()
        log = self.folder.path / MAPPED_ROWS
        yield from logged_guests(self.scenario, open_mapping(self.scenario, self.schema), log, counts)
        if not counts.clean and self.scenario.source.invalid_rows == "stop":
            raise RowFindingsError(counts.problem(log))

    # ------------------------------------------------------------------------------------------------ stages

    def _generate(self, state: RunState, ledger: RunLedger) -> tuple[StageStatus, int, str]:
        total = _total(self.scenario)
        count = 0
        with GeneratedWriter(self.folder.generated) as out:

            def tee() -> Iterator[MappedGuest]:
                nonlocal count
                for guest in self._guests():
                    out.write(guest)
                    count += 1
                    yield MappedGuest(guest, self.scenario)

            if self.scenario.integration.load == "batch":
                files = write_batch_files(
                    tee(), self.folder.batches, ledger, total=total, progress=self.progress, cancel=self.cancel
                )
                note = f"{len(files)} batch file(s), {sum(f.size for f in files):,} bytes"
            else:
                meter = ProgressMeter("generate", total, self.progress)
                batch: list[MappedGuest] = []
                for mapped in tee():
                    batch.append(mapped)
                    if len(batch) >= 5_000:
                        ledger.register(batch)
                        batch.clear()
                    meter.advance()
                    if count % 1_000 == 0:
                        self.cancel.raise_if_cancelled()
                ledger.register(batch)
                meter.finish()
                note = "records registered in the ledger"
        counts = getattr(self, "_row_counts", None)
        if counts is not None:
            note = f"{counts.read:,} source rows read, {counts.mapped:,} mapped; {note}"
        return "done", count, note

    def _send(self, state: RunState, ledger: RunLedger) -> tuple[StageStatus, int, str]:
        http = self.target.connection.http
        if self.scenario.integration.load == "batch":
            files = files_from_ledger(ledger)
            if files is None:
                # The batch files are gone or were never finished: write them again (they are reproducible).
                files = write_batch_files(
                    mapped_guests(self.scenario, self.schema), self.folder.batches, ledger,
                    total=_total(self.scenario), progress=self.progress, cancel=self.cancel, stage="send",
                )  # fmt: skip
            sender = BatchSender(http, ledger, progress=self.progress, cancel=self.cancel)
            poll = self.batch_poll_seconds if self.batch_poll_seconds is not None else self.target.batch_poll_seconds
            if poll is not None:
                sender.poll = PollSettings(initial=poll, maximum=poll)
            results = sender.send_all(files)
            failed = sum(r.failed_count for r in results)
            note = ", ".join(f"{r.status}" for r in results) + (f"; {failed} record(s) rejected" if failed else "")
        else:
            rest = RestSender(http, ledger, RestSettings(), progress=self.progress, cancel=self.cancel)
            result = rest.send(mapped_guests(self.scenario, self.schema), total=_total(self.scenario))
            if result.cancelled:
                self.cancel.raise_if_cancelled()
            failed = result.guests_failed + result.orders_failed
            note = f"{result.guests_done} guests and {result.orders_done} orders sent" + (
                f"; {failed} failed" if failed else ""
            )
        state.sent_at = self.target.now()
        counts = ledger.counts()
        return "done", counts.get(RecordState.DONE, 0) + counts.get(RecordState.FAILED, 0), note

    def _readback(self, state: RunState, ledger: RunLedger) -> tuple[StageStatus, int, str]:
        if "rest" not in self.scenario.integration.pull_back:
            return "skipped", 0, "not chosen in the scenario"
        calls = CallProgress(ProgressMeter("readback", _total(self.scenario), self.progress), "guest")
        reader = ReadBack(self.target.connection.http.bound(cancel=self.cancel, stats=calls.stats))
        with_orders = self.scenario.verify.orders

        def fetch(line: GeneratedLine) -> ReadbackLine:
            identifier = line.guest["identifiers"][0]
            found = reader.guest_by_identifier(identifier["provider"], identifier["id"])
            result = ReadbackLine(key=line.key, matches=len(found), duplicates=[g.ref for g in found[1:]])
            if found:
                result.guest = ReadbackGuest(ref=found[0].ref, data=found[0].data, extensions=found[0].extensions)
            if with_orders and found:
                # Every order CDP links to the guest (so an added or re-linked order shows), then where each
                # sent order that is not among them went.
                held = set()
                for ref in reader.orders.list_for_guest(found[0].ref):
                    snapshot = reader.order(ref, guests=False)
                    held.add(snapshot.data.get("referenceId"))
                    items = [ReadbackItem(data=i.data, extension=i.extension) for i in snapshot.items]
                    result.orders.append(ReadbackOrder(
                        data=snapshot.data, extension=snapshot.extension, items=items, consumers=snapshot.consumers,
                        contacts=snapshot.contacts,
                    ))  # fmt: skip
                for order in line.orders:
                    reference = order.value["referenceId"]
                    if reference not in held:
                        owners = [g for o in reader.orders_by_reference_id(reference) for g in o.guest_refs]
                        if owners:
                            result.moved_orders[reference] = owners
            return result

        done = duplicates = 0
        with (
            gzip.open(self.folder.readback, "wb", compresslevel=1) as out,
            ThreadPoolExecutor(READBACK_WORKERS) as pool,
        ):
            # At once: under faults the first guest may take long.
            calls.report(f"asking CDP for each guest, {READBACK_WORKERS} at a time")
            generated = read_generated(self.folder.generated)
            results = ordered_results(pool, calls.counted(fetch), generated, window=READBACK_WINDOW,
                                      cancel=self.cancel, waiting=calls.report)  # fmt: skip
            for result in results:
                out.write(result.model_dump_json().encode() + b"\n")
                done += 1
                duplicates += result.matches > 1
                if done % 100 == 0:
                    self.cancel.raise_if_cancelled()
        calls.meter.finish(calls.describe())
        note = f"{duplicates} guest(s) found more than once: duplicates in CDP" if duplicates else ""
        return "done", done, note

    def _export(self, state: RunState, ledger: RunLedger) -> tuple[StageStatus, int, str]:
        if "export" not in self.scenario.integration.pull_back:
            return "skipped", 0, "not chosen in the scenario"
        spec = self.scenario.export
        admin = self.target.admin
        now = self.target.now()
        if self.target.nightly_snapshot and state.sent_at is not None:
            visible = _next_midnight(state.sent_at)
            if now < visible:
                state.waiting_until = visible
                return (
                    "waiting",
                    0,
                    (
                        f"the segment snapshot of {visible:%Y-%m-%d} 00:00 UTC includes this run's data; "
                        f"run `cdp-poc-studio resume {self.folder.path}` after that"
                    ),
                )
        if admin is not None:
            self._emit(StageEvent(stage="export", unit="files", detail="the sandbox runs the audience export"))
            admin.put_export(_sandbox_definition(self.scenario, self.schema))
            report = admin.run_export(spec.friendly_id)
            state.export_execution_ref = report.get("executionRef")
        self._emit(StageEvent(stage="export", unit="files", detail="reading the export's listing"))
        client = AudienceExportClient(self.target.connection.http.bound(cancel=self.cancel))
        listing = client.latest_export(spec.friendly_id)
        state.export_execution_ref = listing.execution_ref
        files = client.download_all(listing, self.folder.export, cancel=self.cancel, progress=self.progress)
        if spec.definition_type == "DELTA":
            # A delta holds what changed since the previous run: verifying it needs the previous audience.
            download_previous_runs(
                client, spec.friendly_id, listing.execution_ref, self.folder.export / "previous", self.cancel
            )
        state.waiting_until = None
        (self.folder.export / "listing.json").write_bytes(
            orjson.dumps(listing.model_dump(mode="json"), option=orjson.OPT_INDENT_2)
        )
        return "done", len(files), f"{len(files)} file(s) of execution {listing.execution_ref}"

    # ------------------------------------------------------------------------------------------------ verify

    def _verify_and_report(self, state: RunState, ledger: RunLedger) -> RunReport:
        self._emit(StageEvent(stage="verify", detail="comparing what was sent with what came back"))
        started = time.perf_counter()
        rejected = {r.ref: (r.error_code or r.http_status or "", r.error_message or "") for r in ledger.failures()}
        comparisons: list[Comparison] = []
        if state.done("readback") and state.stages["readback"].status == "done":
            comparisons.append(self._compare_rest(rejected, state))
            comparisons.extend(self._extra_sources(rejected, state))
        export_stage = state.stages.get("export")
        if export_stage is not None and export_stage.status == "done":
            comparisons.append(self._compare_export(rejected, state))
        state.stages["verify"] = StageTiming(
            name="verify", status="done", seconds=time.perf_counter() - started,
            records=sum(c.records_expected for c in comparisons),
        )  # fmt: skip
        checked = state.stages["verify"].records
        self._emit(StageEvent(stage="verify", state="done", done=checked, total=checked or None))
        self._emit(StageEvent(stage="report", detail="writing the reports"))
        started = time.perf_counter()
        report = self._build_report(state, ledger, comparisons)
        if self.scenario.source is not None:
            self._account_for_rows(report, ledger, comparisons)
        report.capacity = self._capacity_plan()
        report.sandbox_warnings = self._sandbox_warnings()
        write_reports(report, self.folder.report)
        state.stages["report"] = StageTiming(name="report", status="done", seconds=time.perf_counter() - started)
        report.stages = list(state.stages.values())
        write_reports(report, self.folder.report)
        state.verdict = report.verdict
        state.finished_at = report.finished_at
        self.folder.save_state(state)
        self._emit(StageEvent(stage="report", state="done", detail=f"verdict: {report.verdict}"))
        return report

    def _sandbox_warnings(self) -> SandboxWarnings | None:
        self._flush_requests()
        calls, examples = warned_calls(self.folder.requests)
        return SandboxWarnings(calls=calls, examples=examples) if calls else None

    def _account_for_rows(self, report: RunReport, ledger: RunLedger, comparisons: list[Comparison]) -> None:
        """The per-row log of a sample (rows.ndjson.gz), its summary in the report, and each difference's origin."""
        from cdp_poc_studio.roundtrip.source.rows import open_mapping, write_row_results

        assert self.scenario.source is not None
        mapping = open_mapping(self.scenario, self.schema)
        differences = (d for c in comparisons for d in c.differences)
        report.rows, rows_of = write_row_results(
            self.folder.path, self.scenario.source.file, ledger, differences, mapping.origin, compared=bool(comparisons)
        )
        for row in report.differences:
            column = mapping.origin(row.path)
            number = rows_of.get(row.record)
            place = [f"row {number}"] if number is not None else []
            place += [f"column {column!r}"] if column else []
            row.origin = ", ".join(place)

    def _expected(self, rejected: dict[str, tuple[Any, str]], state: RunState) -> Iterator[Any]:
        return expected_records(
            read_generated(self.folder.generated),
            with_orders=self.scenario.verify.orders,
            rejected=rejected,
            sent_at=state.sent_at,
        )

    def _rules(self, source: Source, **kwargs: Any) -> SourceRules:
        verify = self.scenario.verify
        return SourceRules(source, include=tuple(verify.fields), ignore=tuple(verify.ignore), **kwargs)

    def _compare_rest(self, rejected: dict[str, tuple[Any, str]], state: RunState) -> Comparison:
        def build(raw: dict[str, Any]) -> Returned:
            line = ReadbackLine.model_validate(raw)
            assert line.guest is not None  # only found guests are indexed
            orders = []
            for o in line.orders:
                items: list[tuple[Mapping[str, Any], Mapping[str, Any] | None]] = [
                    (i.data, i.extension) for i in o.items
                ]
                # The order's contact, read back beside it (one per order; none is a missing contact).
                contact = {"contact": o.contacts[0]} if o.contacts else {}
                orders.append(({**o.data, "consumers": o.consumers, **contact}, o.extension, items))
            return returned_from_rest(
                self.schema, line.guest.data, line.guest.extensions, orders,
                duplicates=line.duplicates, moved_orders=line.moved_orders,
            )  # fmt: skip

        with ReturnedIndex(self.folder.path / ".readback-index.sqlite", build) as index:
            for line in read_readback(self.folder.readback):
                if line.guest is not None:
                    index.add(line.model_dump(), [line.key])
            return compare(self._expected(rejected, state), index, self._rules("rest"))

    def _compare_export(self, rejected: dict[str, tuple[Any, str]], state: RunState) -> Comparison:
        spec = self.scenario.export
        fmt = export_format(spec, self.schema)
        carries = (*spec.attributes, *self.schema.guest, *(f"orders.*.{k}" for k in EXPORT_ORDER_FIELDS))
        if not spec.include_extensions:
            carries = tuple(c for c in carries if c not in self.schema.guest)
        if not spec.include_orders:
            carries = tuple(c for c in carries if not c.startswith("orders."))
        previous = (
            read_previous_audience(self.folder.export / "previous", fmt) if spec.definition_type == "DELTA" else None
        )
        rules = self._rules(
            "export",
            from_text=spec.format == "csv",
            carries=carries,
            order_limit=EXPORT_ORDER_LIMIT,
            previous_audience=previous,
            snapshot_cutoff=_next_midnight(state.sent_at) if self.target.nightly_snapshot and state.sent_at else None,
        )
        with ReturnedIndex(self.folder.path / ".export-index.sqlite", self._from_export) as index:
            for path in sorted(self.folder.export.glob("*.gz")):
                if "-remove-" in path.name:
                    continue  # a delta's removed guests left the audience: nothing to compare
                for row in iter_export_file(path, fmt):
                    index.add(row, row_keys(row))
            run_prefix = f"{self.scenario.generator.identifier_provider}:{self.scenario.generator.effective_run_tag}-"
            extra = index.keys_starting_with(run_prefix)
            return compare(self._expected(rejected, state), index, rules, extra_keys=extra)

    def _capacity_plan(self) -> CapacityPlan:
        """How long a full load of the advisor's volume (or this run's guests) takes, from this run's figures."""
        from cdp_poc_studio.roundtrip.capacity import measure_run, plan

        advisor = self.scenario.integration.advisor
        guests = max(advisor.volume if advisor is not None else 0, self.scenario.generator.guests)
        return plan(guests, measure_run(self.folder.path))

    def _extra_sources(self, rejected: dict[str, tuple[Any, str]], state: RunState) -> list[Comparison]:
        """Sources computed from what the REST read-back returned: the decisions snippets (roundtrip.decisions)."""
        from cdp_poc_studio.roundtrip.decisions import compare_decisions, has_nested_fields
        from cdp_poc_studio.roundtrip.snippets import write_snippets

        if not has_nested_fields(self.schema):
            return []
        write_snippets(self.schema, self.folder.path / "snippets")
        return [
            compare_decisions(
                self.schema, self.folder.generated, self.folder.readback, self._rules("decisions"),
                rejected=rejected, sent_at=state.sent_at, with_orders=self.scenario.verify.orders,
            )
        ]  # fmt: skip

    def _from_export(self, row: dict[str, Any]) -> Returned:
        return returned_from_export(self.schema, row)

    def _build_report(self, state: RunState, ledger: RunLedger, comparisons: list[Comparison]) -> RunReport:
        rows, total, examples = difference_rows(comparisons)
        thresholds = self._thresholds(comparisons)
        waiting = any(s.status == "waiting" for s in state.stages.values())
        if not all(t.passed for t in thresholds):
            verdict: Literal["passed", "failed", "waiting", "incomplete"] = "failed"
        elif waiting:
            verdict = "waiting"
        elif comparisons:
            verdict = "passed"
        else:
            verdict = "incomplete"
        traced: dict[str, set[str]] = {}
        for row in rows:
            if len(traced) >= TRACE_CAP and row.record not in traced:
                continue
            orders = traced.setdefault(row.record, set())
            if row.path.startswith("orders."):
                orders.add(row.path.split(".")[1])
        import faker
        import httpx
        import pydantic

        return RunReport(
            run_id=state.run_id,
            scenario_name=state.scenario_name,
            started_at=state.started_at,
            finished_at=datetime.now(UTC),
            versions={
                "cdp-poc-studio": __version__,
                "python": platform.python_version(),
                "faker": faker.VERSION,
                "httpx": httpx.__version__,
                "pydantic": pydantic.VERSION,
            },
            seed=self.scenario.generator.seed,
            run_tag=self.scenario.generator.effective_run_tag,
            target=state.target,
            load=self.scenario.integration.load,
            pull_back=list(self.scenario.integration.pull_back),
            settings=self.scenario.model_dump(mode="json", exclude_defaults=True),
            stages=list(state.stages.values()),
            sources=[summarise(c) for c in comparisons],
            differences=rows,
            differences_total=total,
            normalised_examples=examples,
            thresholds=thresholds,
            verdict=verdict,
            waiting_until=state.waiting_until,
            traces=[Trace(record=key, stages=_trace(ledger, key, sorted(orders))) for key, orders in traced.items()],
        )

    def _thresholds(self, comparisons: list[Comparison]) -> list[ThresholdCheck]:
        limits = self.scenario.verify.thresholds
        checks = []
        for comparison in comparisons:
            rate = round(comparison.field_pass_rate, 6)
            checks.append(ThresholdCheck(
                name=f"{comparison.source}: field pass rate", limit=limits.min_field_pass_rate, actual=rate,
                passed=rate >= limits.min_field_pass_rate,
            ))  # fmt: skip
            missing = comparison.records_missing
            checks.append(ThresholdCheck(
                name=f"{comparison.source}: missing records", limit=limits.max_missing_records, actual=missing,
                passed=missing <= limits.max_missing_records,
            ))  # fmt: skip
        if comparisons:
            rejected = max(c.records_rejected for c in comparisons)
            checks.append(ThresholdCheck(
                name="records rejected at upload", limit=limits.max_rejected_records, actual=rejected,
                passed=rejected <= limits.max_rejected_records,
            ))  # fmt: skip
        return checks


def _next_midnight(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _sandbox_definition(scenario: Scenario, schema: ExtensionSchema) -> dict[str, Any]:
    spec = scenario.export
    extra: dict[str, Any] = {}
    if spec.format == "csv" and not spec.csv.header and spec.include_extensions:
        # Without a header row the columns are the definition's: name every extension column.
        extra["extensionAttributes"] = extension_columns(spec, schema)
    return {
        **extra,
        "friendlyId": spec.friendly_id,
        "name": spec.name,
        "segment": spec.segment or {},
        "definitionType": spec.definition_type,
        "format": spec.format.upper(),
        "csv": {
            "separator": "pipe" if spec.csv.separator == "|" else "comma",
            "header": spec.csv.header,
            "quote": spec.csv.quote,
        },
        "attributes": list(spec.attributes),
        "includeExtensions": spec.include_extensions,
        "includeOrders": spec.include_orders,
    }


def _trace(ledger: RunLedger, key: str, order_references: list[str]) -> dict[str, Any]:
    """A guest (and the orders named in its differences) through every stage, from the ledger."""
    stages: dict[str, Any] = {}
    for lookup in (key, *order_references):
        for record in ledger.find(lookup):
            stages[f"{record.kind} {record.key}"] = {
                "record ref": record.ref,
                "state": record.state.value,
                "batch file": record.file,
                "line": record.line,
                "batch ref": record.batch_ref,
                "HTTP status": record.http_status,
                "batch log code": record.error_code,
                "message": record.error_message,
                "CDP ref": record.cdp_ref,
            }
    return stages
