"""Issue 11: a run whose calls drew sandbox warnings says so in its report (count and examples); one without, not."""

from __future__ import annotations

from pathlib import Path

from cdp_poc_studio.domain.progress import StageEvent
from cdp_poc_studio.roundtrip.pipeline import Pipeline
from cdp_poc_studio.roundtrip.report_model import RunReport
from cdp_poc_studio.targets.target import Target
from tests.helpers.data import bundled


def test_the_report_counts_the_calls_the_sandbox_warned_about(target: Target, tmp_path: Path) -> None:
    scenario, schema = bundled("retail_loyalty", guests=5)

    def on_event(event: StageEvent) -> None:
        # While the run writes its report, one more call of the run that the sandbox accepts on an inferred rule
        # (a date-time without a zone, as .NET writes one).
        if event.stage == "report" and event.state == "running":
            guest = {"guestType": "customer", "email": "late@example.com", "dateOfBirth": "1986-05-25T00:00:00"}
            target.connection.http.send_json("POST", "/v2.1/guests", guest)

    pipeline = Pipeline.start(scenario, schema, tmp_path, target, progress=on_event, batch_poll_seconds=0.05)
    report = pipeline.run()
    assert report.sandbox_warnings is not None
    assert report.sandbox_warnings.calls == 1
    (example,) = report.sandbox_warnings.examples
    assert example.startswith("POST /v2.1/guests: the date-time '1986-05-25T00:00:00' has no time zone")
    written = RunReport.model_validate_json((pipeline.folder.report / "report.json").read_bytes())
    assert written.sandbox_warnings == report.sandbox_warnings
    assert "Sandbox warnings" in (pipeline.folder.report / "report.html").read_text(encoding="utf-8")


def test_a_run_without_warnings_has_no_warnings_section(target: Target, tmp_path: Path) -> None:
    scenario, schema = bundled("retail_loyalty", guests=5)
    pipeline = Pipeline.start(scenario, schema, tmp_path, target, batch_poll_seconds=0.05)
    report = pipeline.run()
    assert report.verdict == "passed"
    assert report.sandbox_warnings is None
    assert "Sandbox warnings" not in (pipeline.folder.report / "report.html").read_text(encoding="utf-8")
