"""Verify in front of a customer: the headline agrees with the thresholds, a passed run with explained differences
does not alarm, the charts say what they count, and every field has its bar."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCharts import QBarCategoryAxis, QValueAxis

from cdp_poc_studio.roundtrip.normalise import Outcome
from cdp_poc_studio.roundtrip.report_model import (
    DifferenceRow,
    FieldSummary,
    RunReport,
    SourceSummary,
    ThresholdCheck,
)
from cdp_poc_studio.ui.main_window import MainWindow

FIELDS = [f"guest.ext.field{i:02d}" for i in range(78)]


def _report(verdict: str, failed: int, thresholds: list[ThresholdCheck]) -> RunReport:
    """A run of 1,000 guests whose export retention explains 1,436 field values, with `failed` real failures."""
    fields = []
    for index, path in enumerate(FIELDS):
        counts = {Outcome.EQUAL: 1000}
        if index == 0:
            counts = {Outcome.EQUAL: 1000 - 1436 // 2 - failed, Outcome.BEYOND_RETENTION: 1436 // 2}
            counts[Outcome.VALUE_CHANGED] = failed
        if index == 1:
            counts = {Outcome.EQUAL: 1000 - 1436 // 2, Outcome.BEYOND_RETENTION: 1436 // 2}
        fields.append(FieldSummary(path=path, counts=counts))
    totals = {Outcome.EQUAL: 78_000 - 1436 - failed, Outcome.BEYOND_RETENTION: 1436, Outcome.VALUE_CHANGED: failed}
    source = SourceSummary(
        source="export",
        records_expected=1000,
        records_found=1000,
        records_missing=0,
        records_rejected=0,
        records_waiting=0,
        records_extra=0,
        field_pass_rate=totals[Outcome.EQUAL] / 78_000,
        outcome_totals=totals,
        fields=fields,
    )
    rows = [
        DifferenceRow(source="export", record=f"g{i}", path=FIELDS[0], outcome=Outcome.BEYOND_RETENTION)
        for i in range(20)
    ]
    rows += [
        DifferenceRow(
            source="export", record=f"f{i}", path=FIELDS[0], outcome=Outcome.VALUE_CHANGED, expected="a", actual="b"
        )
        for i in range(failed)
    ]
    return RunReport(
        run_id="20261129-070000-abc",
        scenario_name="Retail loyalty",
        started_at=datetime.now(UTC),
        versions={},
        seed=1,
        run_tag="poc1",
        target="sandbox",
        load="batch",
        pull_back=["export"],
        settings={},
        sources=[source],
        differences=rows,
        differences_total=1436 + failed,
        thresholds=thresholds,
        verdict=verdict,
    )


def _show(qtbot, window: MainWindow, report: RunReport):  # type: ignore[no-untyped-def]
    page = window.verify_page
    window.go_to(5)
    with qtbot.waitSignal(page.results_shown):
        page.show_report(report)
    return page


def test_a_passed_run_with_explained_differences_says_they_are_not_failures(qtbot, window: MainWindow) -> None:
    thresholds = [ThresholdCheck(name="field pass rate", limit=0.99, actual=0.9814, passed=True),
                  ThresholdCheck(name="records missing", limit=0, actual=0, passed=True)]  # fmt: skip
    page = _show(qtbot, window, _report("passed", 15, thresholds))
    assert page.verdict_label.text().startswith("PASSED")
    detail = page.verdict_detail.text()
    assert detail.startswith("All 2 thresholds met: field pass rate 0.9814 (limit 0.99)")
    assert "1,436 field values differ for reasons of CDP's own" in detail
    assert "explained, not failures" in detail
    assert "15 field values failed, within the thresholds" in detail
    assert "Threshold not met" not in page.sources_label.text()
    # The table says what a row is: a field of a record.
    assert "field differences shown" in page.shown_label.text()

    # Charts that say what they count, and a bar for every one of the 78 fields (the chart scrolls).
    field_chart = page.field_chart.chart()
    assert "All 78 fields" in field_chart.title()
    categories = next(a for a in field_chart.axes() if isinstance(a, QBarCategoryAxis))
    assert categories.count() == 78
    assert set(categories.categories()) == set(FIELDS)
    assert not categories.truncateLabels()  # field paths whole, never "…"
    assert page.chart_fields[0] == FIELDS[0]  # the field with failures first
    values = next(a for a in field_chart.axes() if isinstance(a, QValueAxis))
    assert values.titleText() == "field values (records)"
    assert page.field_chart.minimumHeight() >= 78 * 22
    cause_chart = page.cause_chart.chart()
    assert "in field values" in cause_chart.title()
    cause_values = next(a for a in cause_chart.axes() if isinstance(a, QValueAxis))
    assert cause_values.titleText() == "field values"


def test_a_failed_run_names_the_threshold_it_missed(qtbot, window: MainWindow) -> None:
    thresholds = [ThresholdCheck(name="field pass rate", limit=0.99, actual=0.95, passed=False)]
    page = _show(qtbot, window, _report("failed", 2000, thresholds))
    assert page.verdict_label.text().startswith("FAILED")
    detail = page.verdict_detail.text()
    assert detail.startswith("Threshold not met: field pass rate 0.95 (limit 0.99)")
    assert "2,000 field values failed." in detail
    assert "within the thresholds" not in detail
