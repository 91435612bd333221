"""The bundled demo with 10,000 guests and their orders, through batch and audience export: time per stage."""

from pathlib import Path

from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.roundtrip.pipeline import Pipeline
from cdp_poc_studio.roundtrip.scenario import load_scenario
from cdp_poc_studio.targets.target import sandbox_target
from tests.helpers.figures import report

GUESTS = 10_000


def test_demo_of_ten_thousand_guests_through_batch_and_audience_export(tmp_path: Path) -> None:
    path = SCENARIOS / "retail_loyalty.toml"
    scenario = load_scenario(path)
    scenario = scenario.model_copy(update={
        "generator": scenario.generator.model_copy(update={"guests": GUESTS}),
        "integration": scenario.integration.model_copy(update={"load": "batch", "pull_back": ["export"]}),
    })  # fmt: skip
    # The sandbox runs in its own process, as in the studio and the CLI.
    with sandbox_target(str(tmp_path / "sandbox.db")) as target:
        pipeline = Pipeline.start(scenario, scenario.resolved_schema(path.parent), tmp_path / "runs", target)
        result = pipeline.run()
    assert result.verdict == "passed"
    rows = [(s.name, f"{s.seconds:7.2f} s  {s.records:>7,} records  {s.note}") for s in result.stages]
    rows.append(("total", f"{sum(s.seconds for s in result.stages):7.2f} s"))
    report(f"demo, {GUESTS:,} guests with orders, batch load, audience export pulled back", rows)
