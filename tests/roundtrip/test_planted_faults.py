"""Known faults planted in a run are found and classified correctly, each with its explanation."""

from datetime import timedelta
from pathlib import Path

from cdp_poc_studio.cdp.rest import GuestClient
from cdp_poc_studio.roundtrip.normalise import Outcome
from cdp_poc_studio.roundtrip.pipeline import Pipeline
from cdp_poc_studio.roundtrip.scenario import MappingRule
from cdp_poc_studio.targets.target import Target
from tests.helpers.data import bundled
from tests.helpers.roundtrip import run


def test_a_mapping_to_the_wrong_key_is_found_as_a_mapping_error(target: Target, tmp_path: Path) -> None:
    scenario, schema = bundled("retail_loyalty", guests=20)
    scenario = scenario.model_copy(
        update={"mapping": [MappingRule(source="ext.loyaltyTier", target="ext.loyaltyTeir")]}
    )
    _, report = run(scenario, schema, target, tmp_path)
    assert report.verdict == "failed"
    wrong = [d for d in report.differences if d.path == "ext.loyaltyTier"]
    assert len(wrong) == 2 * 20  # every guest, in REST and in the export
    assert {d.outcome for d in wrong} == {Outcome.MAPPING_ERROR}
    assert {d.rule for d in wrong} == {"D-MAPPING-ERROR"}
    assert all("mapping error: the value arrived at ext.loyaltyTeir" in d.explanation for d in wrong)
    # Everything else still passes.
    assert {d.path for d in report.differences if d.outcome.fails} == {"ext.loyaltyTier"}


def test_a_value_cdp_rejects_is_classified_with_the_batch_log_code(target: Target, tmp_path: Path) -> None:
    scenario, schema = bundled("retail_loyalty", guests=20)
    # homeStore (a city name, present for about 80 % of guests) sent as the ISO country code: CDP rejects it.
    scenario = scenario.model_copy(update={"mapping": [MappingRule(source="ext.homeStore", target="country")]})
    _, report = run(scenario, schema, target, tmp_path)
    rejected = [d for d in report.differences if d.outcome is Outcome.REJECTED and d.path == "*"]
    rest = next(s for s in report.sources if s.source == "rest")
    assert rest.records_rejected == len({d.record for d in rejected if d.source == "rest"}) > 5
    assert rest.records_found + rest.records_rejected == 20
    assert all(d.explanation.startswith("rejected at upload: 400") for d in rejected)
    assert all("country" in d.explanation for d in rejected)
    # Their orders were accepted and their contacts made the guests anyway: still "rejected at upload" there
    # (X-REJECTED), never also an extra record.
    export = next(s for s in report.sources if s.source == "export")
    assert export.records_rejected == rest.records_rejected
    assert export.records_extra == 0
    assert not [d for d in report.differences if d.outcome is Outcome.EXTRA_RECORD]
    guests = GuestClient(target.connection.http)
    back = [key for key in {d.record for d in rejected} if guests.find_by_identifier(*key.split(":", 1))]
    assert back  # some did come back through their orders' contacts
    assert report.verdict == "failed"
    assert any(t.name == "records rejected at upload" and not t.passed for t in report.thresholds)
    trace = next(t for t in report.traces if t.record == rejected[0].record)
    (guest_stage,) = [v for k, v in trace.stages.items() if k.startswith("guest")]
    assert guest_stage["state"] == "failed"
    assert guest_stage["batch log code"] == "400"
    assert guest_stage["batch file"] == "batch-001.json.gz"


def test_a_guest_deleted_before_the_nightly_export_is_missing_there_only(target: Target, tmp_path: Path) -> None:
    scenario, schema = bundled("travel_bookings", guests=12)
    scenario = scenario.model_copy(update={"target": scenario.target.model_copy(update={"snapshot": "nightly"})})
    nightly = Target(target.connection, target.description, "sandbox", admin=target.admin, nightly_snapshot=True)
    pipeline, first = run(scenario, schema, nightly, tmp_path)
    assert first.verdict == "waiting"
    assert first.waiting_until is not None
    assert {s.name: s.status for s in first.stages}["export"] == "waiting"
    # Only what REST read back is verified yet: the guests and the decisions snippets run on them.
    assert [s.source for s in first.sources] == ["rest", "decisions"]

    victim = "travel7-0000003"
    guests = GuestClient(target.connection.http)
    (ref,) = guests.find_by_identifier("POC_STUDIO", victim)
    guests.delete(ref)
    assert target.admin is not None
    target.admin.set_clock(first.waiting_until + timedelta(minutes=5))

    resumed = Pipeline(pipeline.scenario, schema, pipeline.folder, nightly, batch_poll_seconds=0.05).run()
    export = next(s for s in resumed.sources if s.source == "export")
    assert export.records_missing == 1
    (missing,) = [d for d in resumed.differences if d.outcome is Outcome.RECORD_MISSING]
    assert (missing.source, missing.record) == ("export", f"POC_STUDIO:{victim}")
    assert {s.name: s.status for s in resumed.stages}["export"] == "done"
    assert resumed.verdict == "failed"
