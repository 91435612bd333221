"""The run's progress is one typed stream: every stage opens and closes with a StageEvent, in order, and every
event survives a trip through JSON (the studio's run may live in another process)."""

import re
from pathlib import Path

import pytest

from cdp_poc_studio.cli.console import render
from cdp_poc_studio.domain.progress import STAGES, StageEvent
from cdp_poc_studio.roundtrip.pipeline import Pipeline
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from cdp_poc_studio.targets.target import Target
from tests.helpers.data import bundled


@pytest.mark.parametrize("load", ["batch", "rest"])
def test_every_stage_opens_and_closes_in_order(load: str, target: Target, tmp_path: Path) -> None:
    scenario, schema = bundled("retail_loyalty", guests=12)
    scenario = scenario.model_copy(update={"integration": scenario.integration.model_copy(update={"load": load})})
    events: list[StageEvent] = []
    pipeline = Pipeline.start(scenario, schema, tmp_path, target, progress=events.append, batch_poll_seconds=0.05)
    assert pipeline.run().verdict == "passed"

    assert [e.stage for e in events if e.finished] == list(STAGES)
    assert all(e.state == "done" for e in events if e.finished)
    # A stage's events sit between its opening and its closing: none arrives out of turn.
    order = [STAGES.index(e.stage) for e in events]
    assert order == sorted(order)
    closing = {e.stage: e for e in events if e.finished}
    assert closing["generate"].done == 12
    assert closing["readback"].done == 12
    assert closing["export"].unit == "files"
    assert closing["export"].done >= 1
    counted = [e for e in events if e.stage == "send" and not e.finished and e.done]
    assert counted, "the sender counts its work"
    assert {e.unit for e in counted} == ({"files"} if load == "batch" else {"records"})
    for event in events:
        assert StageEvent.model_validate_json(event.model_dump_json()) == event
        assert render(event).startswith(("Generate", "Send", "Read back", "Audience export", "Verify", "Report"))


def test_a_failing_stage_closes_as_failed(target: Target, tmp_path: Path) -> None:
    scenario, schema = bundled("retail_loyalty", guests=3)
    assert scenario.integration.load == "batch"
    events: list[StageEvent] = []
    pipeline = Pipeline.start(scenario, schema, tmp_path, target, progress=events.append)
    target.connection.close()  # the batch upload's first request fails: the client is closed
    with pytest.raises(RuntimeError):
        pipeline.run()
    closing = [e for e in events if e.finished]
    assert [(e.stage, e.state) for e in closing] == [("generate", "done"), ("send", "failed")]
    assert closing[-1].detail
    assert events[-1] == closing[-1], "nothing follows the failed stage"


def test_the_read_back_reports_its_retries_before_its_first_guest(
    target: Target, admin: SandboxAdmin, tmp_path: Path
) -> None:
    """Issue 13 item 11: under 429s the read-back says at once that it is working and retrying, not "starting"."""
    scenario, schema = bundled("retail_loyalty", guests=3)
    integration = scenario.integration.model_copy(update={"load": "batch", "pull_back": ["rest"]})
    scenario = scenario.model_copy(update={"integration": integration})
    events: list[StageEvent] = []

    def progress(event: StageEvent) -> None:
        if event.stage == "readback" and event.detail == "starting":
            # The first three guest calls of the read-back answer 429 (retry after a second): every guest's first
            # call is among them, so no guest can complete before a retry.
            admin.set_faults(["status=429,retry_after=1,count=3,path=/v2.1/guests*,method=GET"])
        events.append(event)

    pipeline = Pipeline.start(scenario, schema, tmp_path, target, progress=progress, batch_poll_seconds=0.05)
    assert pipeline.run().verdict == "passed"

    readback = [e for e in events if e.stage == "readback"]
    assert readback[0].detail == "starting"
    first_guest = next(i for i, e in enumerate(readback) if e.done)
    before = readback[1:first_guest]
    assert before, "the read-back reports before its first guest completes"
    assert before[0].detail.startswith("asking CDP for each guest")
    retrying = [e for e in before if e.retries]
    assert retrying, "a retry is reported as it is decided"
    assert re.match(r"\d guests? in flight · \d+ calls · 429: retrying in \d+\.\d s$", retrying[0].detail)
    assert "429: retrying in" in retrying[0].detail
    line = render(retrying[0])
    assert "in flight" in line
    assert "retried" in line
    assert StageEvent.model_validate_json(retrying[0].model_dump_json()) == retrying[0]
    assert readback[-1].done == 3
    assert max(e.retries for e in readback) == 3
