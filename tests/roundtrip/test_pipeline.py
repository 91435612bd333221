"""Every bundled scenario runs green on the sandbox through both loading paths, and leaves a complete run folder."""

import gzip
from pathlib import Path

import orjson
import pytest

from cdp_poc_studio.targets.target import Target
from tests.helpers.data import bundled
from tests.helpers.roundtrip import run
from tests.roundtrip.test_clean_runs import assert_justified

SCENARIOS = ["retail_loyalty", "travel_bookings", "hospitality_stays"]


@pytest.mark.parametrize("load", ["batch", "rest"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_bundled_scenario_is_green_on_the_sandbox(name: str, load: str, target: Target, tmp_path: Path) -> None:
    scenario, schema = bundled(name, guests=25)
    scenario = scenario.model_copy(update={"integration": scenario.integration.model_copy(update={"load": load})})
    pipeline, report = run(scenario, schema, target, tmp_path)
    assert report.verdict == "passed", [d for d in report.differences if d.outcome.fails][:5]
    assert {s.source for s in report.sources} == {"rest", "decisions", "export"}
    for source in report.sources:
        assert source.records_expected == source.records_found == 25
        assert source.field_pass_rate == 1.0
        assert sum(source.outcome_totals.values()) > 25 * 10  # fields were really compared
    folder = pipeline.folder
    for path in (
        folder.scenario,
        folder.state_file,
        folder.generated,
        folder.ledger,
        folder.readback,
        folder.requests,
        folder.report / "report.html",
        folder.report / "junit.xml",
    ):
        assert path.is_file(), path
    assert list(folder.export.glob("*.gz"))
    assert bool(list(folder.batches.glob("*.json.gz"))) == (load == "batch")
    stages = {s.name: s.status for s in report.stages}
    assert stages == {n: "done" for n in ("generate", "send", "readback", "export", "verify", "report")}


def test_request_log_masks_secrets(target: Target, tmp_path: Path) -> None:
    scenario, schema = bundled("travel_bookings", guests=3)
    pipeline, _ = run(scenario, schema, target, tmp_path)
    text = pipeline.folder.requests.read_text()
    entries = [orjson.loads(line) for line in text.splitlines()]
    assert len(entries) > 10
    for secret in ("sandbox-api-token", "sandbox-oauth-secret"):
        assert secret not in text
    for folder_file in pipeline.folder.path.rglob("*"):
        if folder_file.is_file() and folder_file.suffix in (".toml", ".json", ".ndjson", ".html", ".xml"):
            assert "sandbox-api-token" not in folder_file.read_text(errors="replace"), folder_file


def test_a_rerun_into_the_same_target_creates_no_duplicates(target: Target, tmp_path: Path) -> None:
    scenario, schema = bundled("travel_bookings", guests=10)
    run(scenario, schema, target, tmp_path / "first")
    _, report = run(scenario, schema, target, tmp_path / "second")
    assert report.verdict == "passed"
    readback = next((tmp_path / "second").glob("*/readback.ndjson.gz"))
    with gzip.open(readback) as lines:
        matches = [orjson.loads(line)["matches"] for line in lines]
    assert matches == [1] * 10


def test_frequent_buyers_show_the_export_order_cap_and_nothing_else(target: Target, tmp_path: Path) -> None:
    scenario, schema = bundled("frequent_buyers", guests=8)
    _, report = run(scenario, schema, target, tmp_path)
    assert report.verdict == "passed", [d for d in report.differences if d.outcome.fails][:5]
    assert_justified(report)
    rest, export = (next(s for s in report.sources if s.source == name) for name in ("rest", "export"))
    assert rest.outcome_totals.get("beyond_retention", 0) == 0  # REST reads every order
    capped = [d for d in report.differences if d.outcome == "beyond_retention"]
    assert capped
    assert {(d.source, d.rule) for d in capped} == {("export", "X-ORDERS-20")}
    # Exactly the orders past each guest's 20th by orderedAt: about (15..30 - 20) per guest.
    by_guest: dict[str, int] = {}
    for d in capped:
        by_guest[d.record] = by_guest.get(d.record, 0) + 1
    assert all(0 < n <= 10 for n in by_guest.values())
    assert export.field_pass_rate == 1.0
