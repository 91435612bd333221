"""Running the round-trip pipeline in tests."""

from __future__ import annotations

from pathlib import Path

from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.pipeline import Pipeline
from cdp_poc_studio.roundtrip.report_model import RunReport
from cdp_poc_studio.roundtrip.scenario import Scenario
from cdp_poc_studio.targets.target import Target


def run(scenario: Scenario, schema: ExtensionSchema, target: Target, runs: Path) -> tuple[Pipeline, RunReport]:
    # Batch status is polled quickly here: the sandbox processes a small file in milliseconds.
    pipeline = Pipeline.start(scenario, schema, runs, target, batch_poll_seconds=0.05)
    return pipeline, pipeline.run()
