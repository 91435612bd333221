"""The decisions source against the export source, on one run folder of 100,000 guests with their orders.

The run folder is written as a sandbox run leaves it (generated data, the REST read-back, a JSON audience export
encoded by the sandbox's own encoder), without the hours of HTTP a real 100,000-guest read-back takes on this
machine; then the pipeline's export comparison and the decisions source (every JavaScript snippet in V8 on every
guest) each verify it. Target: the decisions source at least 0.2x as fast as the export source.
"""

import gzip
import os
import time
from datetime import UTC, datetime

import orjson

from cdp_poc_studio.generator.records import Generator
from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.roundtrip.decisions import compare_decisions
from cdp_poc_studio.roundtrip.generated import GeneratedWriter
from cdp_poc_studio.roundtrip.pipeline import EXPORT_ORDER_FIELDS, Pipeline, _sandbox_definition
from cdp_poc_studio.roundtrip.run_folder import RunFolder, RunState
from cdp_poc_studio.roundtrip.scenario import load_scenario
from cdp_poc_studio.roundtrip.snippets import snippets_for
from cdp_poc_studio.sandbox.exports import RecordEncoder, check_definition
from cdp_poc_studio.targets.target import Target
from tests.helpers.figures import report

GUESTS = 100_000


def test_decisions_source_against_export_source_on_100k_guests(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = SCENARIOS / "retail_loyalty.toml"
    scenario = load_scenario(path)
    scenario = scenario.model_copy(update={"generator": scenario.generator.model_copy(update={"guests": GUESTS})})
    schema = scenario.resolved_schema(path.parent)
    folder = RunFolder.create(tmp_path, scenario.name)
    folder.export.mkdir()
    definition = check_definition(_sandbox_definition(scenario, schema))
    encoder = RecordEncoder(definition, [])
    started = time.perf_counter()
    with (
        GeneratedWriter(folder.generated) as generated,
        gzip.open(folder.readback, "wb", compresslevel=1) as readback,
        gzip.open(folder.export / "part-00000.json.gz", "wb", compresslevel=1) as export,
    ):
        for n, guest in enumerate(Generator(scenario.generator, schema).guests()):
            generated.write(guest)
            value = guest.guest
            ref = f"00000000-0000-4000-8000-{n:012d}"
            data = {k: v for k, v in value.items() if k != "extensions"}
            groups = {e["name"]: e for e in value.get("extensions", [])}
            orders = []
            for order in guest.orders:
                o = order.record["value"]
                orders.append({
                    "data": {k: v for k, v in o.items() if k not in ("contact", "orderItems", "extensions")},
                    "extension": (o.get("extensions") or [None])[0],
                    "items": [{"data": {k: v for k, v in i.items() if k != "extensions"},
                               "extension": (i.get("extensions") or [None])[0]} for i in o["orderItems"]],
                })  # fmt: skip
            line = {"key": f"{value['identifiers'][0]['provider']}:{value['identifiers'][0]['id']}", "matches": 1,
                    "guest": {"ref": ref, "data": data, "extensions": groups}, "orders": orders}  # fmt: skip
            readback.write(orjson.dumps(line) + b"\n")
            exts = {
                name: {"values": {k: v for k, v in g.items() if k not in ("name", "key")}} for name, g in groups.items()
            }
            export_orders = [{k: o["data"][k] for k in EXPORT_ORDER_FIELDS if k in o["data"]} for o in orders]
            export.write(encoder.encode(ref, data, exts, export_orders))
    written = time.perf_counter() - started
    state = RunState(run_id=folder.path.name, scenario_name=scenario.name, started_at=datetime.now(UTC),
                     target="benchmark", target_kind="sandbox", sent_at=datetime.now(UTC))  # fmt: skip
    target = Target(connection=None, description="benchmark", kind="sandbox", nightly_snapshot=False)  # type: ignore[arg-type]
    pipeline = Pipeline(scenario, schema, folder, target)
    load_before = os.getloadavg()[0]

    started = time.perf_counter()
    exported = pipeline._compare_export({}, state)
    export_seconds = time.perf_counter() - started

    started = time.perf_counter()
    decided = compare_decisions(
        schema, folder.generated, folder.readback, pipeline._rules("decisions"), rejected={}, sent_at=state.sent_at
    )
    decisions_seconds = time.perf_counter() - started
    load_after = os.getloadavg()[0]

    assert exported.records_found == decided.records_found == GUESTS
    assert decided.field_pass_rate == 1.0, decided.differences[:3]
    snippets = sum(1 for s in snippets_for(schema) if s.language == "javascript")
    ratio = export_seconds / decisions_seconds
    report(
        f"decisions source against export source, {GUESTS:,} guests of {scenario.name} ({snippets} JS snippets each)",
        [
            ("run folder written", f"{written:.1f} s"),
            ("export source", f"{GUESTS / export_seconds:,.0f} guests/s ({export_seconds:.1f} s)"),
            ("decisions source", f"{GUESTS / decisions_seconds:,.0f} guests/s ({decisions_seconds:.1f} s)"),
            ("decisions / export speed", f"{ratio:.2f}x (target >= 0.2x)"),
            ("fields compared by decisions", f"{sum(decided.outcome_totals.values()):,}"),
            ("load average (1 min)", f"{load_before:.2f} before, {load_after:.2f} after"),
        ],
    )
    assert ratio >= 0.2
