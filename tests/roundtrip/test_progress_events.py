"""The run's progress is one typed stream: every stage opens and closes with a StageEvent, in order, and every
event survives a trip through JSON (the studio's run may live in another process)."""

from pathlib import Path

import pytest

from cdp_poc_studio.cli.console import render
from cdp_poc_studio.domain.progress import STAGES, StageEvent
from cdp_poc_studio.roundtrip.pipeline import Pipeline
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
