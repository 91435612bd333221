"""Reports contain what they claim: the HTML parsed, the JUnit validated against its schema, the JSON typed."""

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import orjson
import pytest
import xmlschema

from cdp_poc_studio.roundtrip.normalise import Outcome
from cdp_poc_studio.roundtrip.report_model import (
    RunReport,
    StageTiming,
    ThresholdCheck,
    Trace,
    difference_rows,
    summarise,
)
from cdp_poc_studio.roundtrip.reports import bundle, render_junit, write_reports
from cdp_poc_studio.roundtrip.verify import Expected, Returned, SourceRules, compare

JUNIT_XSD = Path(__file__).parents[1] / "data" / "junit.xsd"


@pytest.fixture
def report() -> RunReport:
    expected = [
        Expected("P:1", None, {"firstName": "Jane", "ext.tier": "gold", "dateOfBirth": "1985-12-24T00:00Z"}),
        Expected("P:2", None, {"firstName": "Ann", "ext.tier": "silver"}),
        Expected("P:3", None, {"firstName": "<script>x</script>"}, rejected=(400, "Validation error")),
    ]
    returned = {"P:1": Returned({"firstName": "Jane", "ext.tier": "bronze", "dateOfBirth": "1985-12-24T00:00:00.000Z"})}
    comparison = compare(expected, returned, SourceRules("rest"))
    rows, total, examples = difference_rows([comparison])
    return RunReport(
        run_id="run-1",
        scenario_name="Retail loyalty",
        started_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        versions={"cdp-poc-studio": "0.1.0"},
        seed=42,
        run_tag="poc42",
        target="embedded sandbox",
        load="batch",
        pull_back=["rest"],
        settings={"name": "Retail loyalty", "generator": {"seed": 42}},
        stages=[
            StageTiming(name="generate", status="done", seconds=1.5, records=3),
            StageTiming(name="send", status="done", seconds=2.0, records=3),
        ],
        sources=[summarise(comparison)],
        differences=rows,
        differences_total=total,
        normalised_examples=examples,
        thresholds=[ThresholdCheck(name="field pass rate", limit=1.0, actual=comparison.field_pass_rate, passed=False)],
        verdict="failed",
        traces=[Trace(record="P:2", stages={"generated": "line 2", "batch log": None})],
    )


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.rows: list[str] = []
        self.text: list[str] = []
        self.external: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "tr" and values.get("data-outcome"):
            self.rows.append(str(values["data-outcome"]))
        for name in ("src", "href"):
            if values.get(name):
                self.external.append(str(values[name]))
        self._in_script = tag == "script"

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def test_html_report_is_self_contained_and_lists_every_difference(report: RunReport, tmp_path: Path) -> None:
    paths = write_reports(report, tmp_path)
    parser = _Collector()
    parser.feed(paths["html"].read_text())
    assert [link for link in parser.external if not link.startswith("#")] == []  # no network needed to view it
    # Every rule an outcome names links to its entry in the report's rules table (docs/verification.md's text).
    anchors = [link[1:] for link in parser.external if link.startswith("#")]
    assert anchors
    assert set(anchors) <= parser.ids
    assert {"verdict", "sources", "thresholds", "stages", "differences", "settings", "search"} <= parser.ids
    assert sorted(parser.rows) == sorted(d.outcome for d in report.differences)
    text = " ".join(parser.text)
    for expected in (
        "FAILED",
        "Retail loyalty",
        "rejected at upload",
        "value changed",
        "record missing",
        "date-time format",
        "N-DATETIME",
        "cdp-api-facts.md §3.5",
        "poc42",
        "Pass and fail by field",
        "Differences by cause",
    ):
        assert expected in text
    # A value from the data never becomes markup.
    assert all("<script>x" not in script for script in parser.scripts)
    assert "<svg" in paths["html"].read_text()


def test_junit_is_valid_and_counts_failures_by_field(report: RunReport) -> None:
    xml = render_junit(report)
    xmlschema.XMLSchema(JUNIT_XSD).validate(xml.decode())
    root = ElementTree.fromstring(xml)
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert cases["dateOfBirth"].find("failure") is None
    assert "value changed: 1" in cases["ext.tier"].find("failure").get("message")  # type: ignore[union-attr]
    assert cases["field pass rate"].find("failure") is not None
    assert int(root.get("failures", "0")) == sum(1 for c in root.iter("testcase") if c.find("failure") is not None)


def test_json_report_round_trips_into_its_model(report: RunReport, tmp_path: Path) -> None:
    paths = write_reports(report, tmp_path)
    loaded = RunReport.model_validate(orjson.loads(paths["json"].read_bytes()))
    assert loaded == report
    assert loaded.sources[0].outcome_totals[Outcome.REJECTED] == 1


def test_waiting_fields_are_skipped_not_failed_in_junit(report: RunReport) -> None:
    expected = [Expected("P:1", None, {"email": "a@e.com"}, sent_at=datetime(2026, 1, 2, tzinfo=UTC))]
    comparison = compare(expected, {}, SourceRules("export", snapshot_cutoff=datetime(2026, 1, 1, tzinfo=UTC)))
    waiting = report.model_copy(update={"sources": [summarise(comparison)], "thresholds": []})
    root = ElementTree.fromstring(render_junit(waiting))
    (case,) = root.iter("testcase")
    assert case.find("skipped") is not None


def test_evidence_bundle_zips_the_run_folder(report: RunReport, tmp_path: Path) -> None:
    import zipfile

    run = tmp_path / "run-1"
    write_reports(report, run / "report")
    (run / "scenario.toml").write_text("scenario_version = 1\n")
    archive = bundle(run)
    names = zipfile.ZipFile(archive).namelist()
    assert "run-1/scenario.toml" in names
    assert "run-1/report/report.html" in names


def test_junit_carries_normalised_and_explained_outcomes_with_their_rule(report: RunReport) -> None:
    root = ElementTree.fromstring(render_junit(report))
    (case,) = [c for c in root.iter("testcase") if c.get("name") == "dateOfBirth"]
    out = case.findtext("system-out") or ""
    assert "equal after normalisation: 1" in out
    assert "N-DATETIME" in out
    assert "docs/verification.md#n-datetime" in out


def test_documented_json_schema_is_current() -> None:
    documented = orjson.loads((Path(__file__).parents[2] / "docs" / "report-schema.json").read_bytes())
    assert documented == RunReport.model_json_schema(), "regenerate docs/report-schema.json"


def test_junit_names_the_rule_of_explained_outcomes() -> None:
    from cdp_poc_studio.roundtrip.verify import Expected, Returned, SourceRules, compare

    dates = {f"R-{n}": datetime(2020, 1, 1 + n, tzinfo=UTC) for n in range(21)}
    fields = {f"orders.R-{n}.price": 1.0 for n in range(21)}
    kept = {f"orders.R-{n}.price": 1.0 for n in range(1, 21)}
    comparison = compare(
        [Expected("P:1", None, fields, order_dates=dates)],
        {"P:1": Returned(kept)},
        SourceRules("export", order_limit=20),
    )
    rows, total, examples = difference_rows([comparison])
    assert [(r.rule, r.outcome) for r in rows] == [("X-ORDERS-20", Outcome.BEYOND_RETENTION)]
    assert "cdp-api-facts.md §7.4" in rows[0].rule_source
    report = RunReport(
        run_id="r", scenario_name="s", started_at=datetime(2026, 1, 1, tzinfo=UTC), versions={}, seed=1,
        run_tag="t", target="sandbox", load="batch", pull_back=["export"], settings={},
        sources=[summarise(comparison)], differences=rows, differences_total=total, normalised_examples=examples,
    )  # fmt: skip
    root = ElementTree.fromstring(render_junit(report))
    (case,) = [c for c in root.iter("testcase") if c.get("name") == "orders.*.price"]
    assert "beyond export retention: 1 [X-ORDERS-20: docs/verification.md#x-orders-20" in (
        case.findtext("system-out") or ""
    )
