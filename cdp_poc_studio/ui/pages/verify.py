"""Verify: read-back and export progress, the verdict, the differences grouped by classification with filters and
search, each record's trace and its nested value sent beside the value rebuilt, the nightly-snapshot wait with
"Resume now", and charts of pass and fail by field and of differences by cause."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QHorizontalBarSeries,
    QHorizontalStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QItemSelection, QMargins, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import Shiboken

from cdp_poc_studio.domain.progress import CancelToken
from cdp_poc_studio.roundtrip.normalise import Outcome
from cdp_poc_studio.roundtrip.report_model import DifferenceRow, RunReport
from cdp_poc_studio.roundtrip.reports import OUTCOME_LABELS
from cdp_poc_studio.roundtrip.run_jobs import RecordDetails, local_and_utc, record_details
from cdp_poc_studio.roundtrip.scenario import Scenario
from cdp_poc_studio.ui.context import StudioContext
from cdp_poc_studio.ui.pages.base import Page
from cdp_poc_studio.ui.qmodels.difference_table import OUTCOME_ORDER, DifferenceFilterProxy, DifferenceTableModel
from cdp_poc_studio.ui.run_controller import RunController
from cdp_poc_studio.ui.widgets.json_tree import JsonTree
from cdp_poc_studio.ui.widgets.source_rows import SourceRowsView
from cdp_poc_studio.ui.widgets.stage_progress import StageProgressPanel
from cdp_poc_studio.workers.tasks import Report

# Height of one field's bar in the field chart: every field gets one, and the chart scrolls.
FIELD_BAR_PIXELS = 22
SOURCE_NAMES = {"rest": "REST read-back", "export": "Audience export", "decisions": "Decisions (Personalize)"}
VERDICT_STYLE = {
    "passed": "color: #2e7d32;",
    "failed": "color: #c62828;",
    "waiting": "color: #b35c00;",
    "incomplete": "color: palette(text);",
}


class VerifyPage(Page):
    """Signals:
    results_shown(): the verdict, the difference table and the charts show the run's report.
    record_shown(object): a record's trace and side-by-side values are shown (RecordDetails).
    """

    title = "Verify"
    subtitle = "What came back from CDP, field by field, and why anything differs."
    results_shown = Signal()
    record_shown = Signal(object)

    def __init__(self, context: StudioContext, run: RunController, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.run = run
        self.report: RunReport | None = None
        self.rows: list[DifferenceRow] = []
        self.record_loading = False

        # -- the nightly snapshot --
        self.waiting_frame = QFrame()
        self.waiting_frame.setObjectName("waitingBanner")
        self.waiting_frame.setStyleSheet(
            "#waitingBanner { background: #fff4e0; border: 1px solid #e0a040; border-radius: 4px; }"
            "#waitingBanner QLabel { color: #5a3a00; }"
        )
        self.waiting_label = QLabel()
        self.waiting_label.setObjectName("waitingText")
        self.waiting_label.setWordWrap(True)
        self.resume_button = QPushButton("Resume now")
        self.resume_button.setObjectName("resumeNow")
        self.resume_button.clicked.connect(self.resume_now)
        waiting_layout = QHBoxLayout(self.waiting_frame)
        waiting_layout.addWidget(self.waiting_label, 1)
        waiting_layout.addWidget(self.resume_button)
        self.waiting_frame.hide()

        self.stages = StageProgressPanel(run, ["readback", "export", "verify"])
        self.verdict_label = QLabel("Nothing verified yet: send the data on the Send step.")
        self.verdict_label.setObjectName("verdict")
        font = self.verdict_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.verdict_label.setFont(font)
        self.verdict_label.setWordWrap(True)
        # What the headline means in numbers: the thresholds, and differences that are not failures.
        self.verdict_detail = QLabel()
        self.verdict_detail.setObjectName("verdictDetail")
        self.verdict_detail.setWordWrap(True)
        self.sources_label = QLabel()
        self.sources_label.setObjectName("sourceCounts")
        self.sources_label.setWordWrap(True)
        self.sources_label.setTextFormat(Qt.TextFormat.RichText)

        # -- differences --
        self.groups = QListWidget()
        self.groups.setObjectName("classifications")
        self.groups.setMaximumWidth(260)
        self.groups.currentRowChanged.connect(self._on_group_changed)
        self.source_combo = QComboBox()
        self.source_combo.setObjectName("sourceFilter")
        self.source_combo.addItem("Every source", None)
        self.source_combo.addItem("REST read-back", "rest")
        self.source_combo.addItem("Audience export", "export")
        self.source_combo.addItem("Decisions (Personalize)", "decisions")
        self.source_combo.currentIndexChanged.connect(self._on_filters_changed)
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("differenceSearch")
        self.search_edit.setPlaceholderText("Search records, fields and values…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._on_filters_changed)
        self.shown_label = QLabel()
        self.model = DifferenceTableModel(self)
        self.proxy = DifferenceFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("differenceTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        # Narrow enough at 1280 pixels for the Explanation column to start on screen; values have tooltips.
        metrics = self.table.fontMetrics()
        # The classification whole (it is what a row is about), the others narrow; values have tooltips.
        widths = (metrics.horizontalAdvance("equal after normalisation") + 34, 65, 120, 120, 80, 80)
        for column, width in enumerate(widths):
            header.resizeSection(column, width)
        self.table.selectionModel().selectionChanged.connect(self._on_row_selected)
        filters = QHBoxLayout()
        filters.addWidget(self.source_combo)
        filters.addWidget(self.search_edit, 1)
        filters.addWidget(self.shown_label)
        table_side = QWidget()
        table_layout = QVBoxLayout(table_side)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addLayout(filters)
        table_layout.addWidget(self.table, 1)
        top_split = QSplitter(Qt.Orientation.Horizontal)
        top_split.addWidget(self.groups)
        top_split.addWidget(table_side)
        top_split.setStretchFactor(1, 1)
        top_split.setSizes([200, 10_000])  # the table gets the room; the groups list can be widened

        self.trace_tree = QTreeWidget()
        self.trace_tree.setObjectName("recordTrace")
        self.trace_tree.setHeaderLabels(["Stage", "What happened"])
        self.trace_tree.setColumnWidth(0, 170)
        self.sent_tree = JsonTree()
        self.sent_tree.setObjectName("sentTree")
        self.rebuilt_tree = JsonTree()
        self.rebuilt_tree.setObjectName("rebuiltTree")
        self.record_note = QLabel("Select a difference to see its record's trace and its value sent and rebuilt.")
        self.record_note.setObjectName("recordNote")
        self.record_note.setWordWrap(True)
        details_split = QSplitter(Qt.Orientation.Horizontal)
        for title, widget in (("Trace through every stage", self.trace_tree), ("Sent (nested)", self.sent_tree),
                              ("Rebuilt from what CDP returned", self.rebuilt_tree)):  # fmt: skip
            box = QWidget()
            box_layout = QVBoxLayout(box)
            box_layout.setContentsMargins(0, 0, 0, 0)
            box_layout.addWidget(QLabel(f"<b>{title}</b>"))
            box_layout.addWidget(widget, 1)
            details_split.addWidget(box)
        details = QWidget()
        details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(0, 0, 0, 0)
        details_layout.addWidget(self.record_note)
        details_layout.addWidget(details_split, 1)
        differences_split = QSplitter(Qt.Orientation.Vertical)
        differences_split.addWidget(top_split)
        differences_split.addWidget(details)
        differences_split.setStretchFactor(0, 3)
        differences_split.setStretchFactor(1, 2)

        # -- charts --
        self.field_chart = QChartView()
        self.field_chart.setObjectName("fieldChart")
        self.cause_chart = QChartView()
        self.cause_chart.setObjectName("causeChart")
        for view in (self.field_chart, self.cause_chart):
            view.setRenderHint(QPainter.RenderHint.Antialiasing)
            view.setMinimumHeight(220)
        # Every field has its bar: the chart grows with the fields and scrolls.
        self.field_scroll = QScrollArea()
        self.field_scroll.setObjectName("fieldChartScroll")
        self.field_scroll.setWidgetResizable(True)
        self.field_scroll.setWidget(self.field_chart)
        self.chart_fields: list[str] = []
        charts = QWidget()
        charts_layout = QHBoxLayout(charts)
        charts_layout.addWidget(self.field_scroll, 3)
        charts_layout.addWidget(self.cause_chart, 2)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("verifyTabs")
        self.tabs.addTab(differences_split, "Differences")
        self.charts_tab_index = self.tabs.addTab(charts, "Charts")
        # A run of the customer's own sample: every source row, what CDP said of it, and what verification found.
        self.source_rows = SourceRowsView()
        self.source_rows_tab_index = -1

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.waiting_frame)
        layout.addWidget(self.stages)
        layout.addWidget(self.verdict_label)
        layout.addWidget(self.verdict_detail)
        layout.addWidget(self.sources_label)
        layout.addWidget(self.tabs, 1)

        run.run_finished.connect(self.show_report)
        run.run_started.connect(self._on_run_started)
        run.busy_changed.connect(self._on_run_busy_changed)
        run.run_failed.connect(lambda message: self.verdict_label.setText(f"The run stopped: {message}"))
        self._show_charts(None)

    # -- the report ---------------------------------------------------------------------------------------------

    def _on_run_started(self) -> None:
        self.report = None
        self.verdict_label.setText("Running… the results appear here when the round trip is complete.")
        self.verdict_label.setStyleSheet(VERDICT_STYLE["incomplete"])
        self.verdict_detail.clear()
        self.sources_label.clear()
        self.waiting_frame.hide()
        self.status_changed.emit()

    def _on_run_busy_changed(self, busy: bool) -> None:
        self.resume_button.setEnabled(not busy)
        self.status_changed.emit()

    def show_report(self, report: RunReport) -> None:
        self.report = report
        verdict = {"passed": "PASSED", "failed": "FAILED", "waiting": "WAITING FOR THE NIGHTLY SNAPSHOT",
                   "incomplete": "INCOMPLETE"}[report.verdict]  # fmt: skip
        self.verdict_label.setText(f"{verdict} — {report.scenario_name}, run {report.run_id}")
        self.verdict_label.setStyleSheet(VERDICT_STYLE[report.verdict])
        self.verdict_detail.setText(verdict_detail(report))
        lines = []
        for source in report.sources:
            name = SOURCE_NAMES.get(source.source, source.source)
            extra = [
                f"{n:,} {what}"
                for n, what in (
                    (source.records_missing, "missing"),
                    (source.records_rejected, "rejected at upload"),
                    (source.records_waiting, "waiting for the snapshot"),
                    (source.records_extra, "extra"),
                )
                if n
            ]
            lines.append(
                f"<b>{name}</b>: {source.records_found:,} of {source.records_expected:,} records found, "
                f"{100 * source.field_pass_rate:.2f} % of fields equal" + (f" ({', '.join(extra)})" if extra else "")
            )
        for check in report.thresholds:
            if not check.passed:
                lines.append(f"<span style='color:#c62828'>Threshold not met: {check.name}: {check.actual:g} "
                             f"against a limit of {check.limit:g}</span>")  # fmt: skip
        if report.differences_total > len(report.differences):
            lines.append(f"The table lists the first {len(report.differences):,} of {report.differences_total:,} "
                         "differences; report.json has the field counts of all.")  # fmt: skip
        self.sources_label.setText("<br>".join(lines))
        self._show_waiting(report)
        self.rows = [*report.differences, *report.normalised_examples]
        self.model.set_rows(self.rows)
        self._fill_groups()
        self._show_source_rows(report)
        self.status_changed.emit()
        # The charts are built on the next turn of the event loop: one long step would freeze the window.
        QTimer.singleShot(0, self._finish_showing)

    def _show_source_rows(self, report: RunReport) -> None:
        folder = self.run.folder
        if report.rows is None or folder is None:
            if self.source_rows_tab_index >= 0:
                self.tabs.removeTab(self.source_rows_tab_index)
                self.source_rows_tab_index = -1
            return
        if self.source_rows_tab_index < 0:
            self.source_rows_tab_index = self.tabs.addTab(self.source_rows, "Source rows")
        self.source_rows.show_folder(folder)

    def _finish_showing(self) -> None:
        if not Shiboken.isValid(self.field_chart):
            return  # the window shut down (and deleted its chart views) before this turn of the event loop came
        self._show_charts(self.report)
        self.results_shown.emit()

    def _show_waiting(self, report: RunReport) -> None:
        if report.verdict != "waiting" or report.waiting_until is None:
            self.waiting_frame.hide()
            return
        self.waiting_label.setText(
            "<b>The audience export has to wait for CDP's nightly segment snapshot.</b> Segments see data uploaded "
            "today from tomorrow's snapshot (midnight UTC), so the export cannot include this run's guests yet. "
            f"It can be completed after <b>{local_and_utc(report.waiting_until)}</b>. The REST read-back is already "
            "verified below; the run folder keeps everything, so resume it then (here, or with "
            "<code>cdp-poc-studio resume</code>)."
        )
        self.waiting_frame.show()

    def resume_now(self) -> str | None:
        """Run the same pipeline on the run folder: only the stages not done (the export, then verify)."""
        folder = self.run.folder
        if folder is None:
            return "no run to resume"
        problem = self.run.resume(folder)
        if problem:
            self.waiting_label.setText(f"Cannot resume yet: {problem}.")
        return problem

    def _fill_groups(self) -> None:
        counts = Counter(row.outcome for row in self.rows)
        self.groups.blockSignals(True)
        self.groups.clear()
        all_item = QListWidgetItem(f"All ({len(self.rows):,})")
        all_item.setData(Qt.ItemDataRole.UserRole, None)
        self.groups.addItem(all_item)
        for outcome in sorted(counts, key=lambda o: OUTCOME_ORDER[o]):
            item = QListWidgetItem(f"{OUTCOME_LABELS[outcome]} ({counts[outcome]:,})")
            item.setData(Qt.ItemDataRole.UserRole, outcome.value)
            colour = "#c62828" if outcome.fails else ("#b35c00" if outcome.explained else "#2e7d32")
            item.setForeground(QColor(colour))
            if outcome.explained:
                item.setToolTip("Explained by CDP's own rules (retention, snapshot, delta): not a failure.")
            elif outcome.passes:
                item.setToolTip("Equal once normalised the way CDP stores the value: a pass.")
            else:
                item.setToolTip("A failure: counts against the thresholds.")
            self.groups.addItem(item)
        self.groups.setCurrentRow(0)
        self.groups.blockSignals(False)
        self.proxy.set_filters(outcome=None)
        self._refresh_shown()

    def group_counts(self) -> dict[str, int]:
        """What the classification list shows: label -> count (for tests and the autoplay narration)."""
        counts: dict[str, int] = {}
        for row in range(1, self.groups.count()):
            text = self.groups.item(row).text()
            label, _, count = text.rpartition(" (")
            counts[label] = int(count.rstrip(")").replace(",", ""))
        return counts

    def select_group(self, outcome: Outcome | None) -> None:
        for row in range(self.groups.count()):
            value = self.groups.item(row).data(Qt.ItemDataRole.UserRole)
            if value == (outcome.value if outcome else None):
                self.groups.setCurrentRow(row)
                return

    def _on_group_changed(self, row: int) -> None:
        if row < 0:
            return
        self.proxy.set_filters(outcome=self.groups.item(row).data(Qt.ItemDataRole.UserRole))
        self._refresh_shown()

    def _on_filters_changed(self, *_args: object) -> None:
        self.proxy.set_filters(source=self.source_combo.currentData(), text=self.search_edit.text())
        self._refresh_shown()

    def _refresh_shown(self) -> None:
        self.shown_label.setText(f"{self.proxy.rowCount():,} of {self.model.rowCount():,} field differences shown")

    # -- a record -----------------------------------------------------------------------------------------------

    def _on_row_selected(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.show_record(self.proxy.row(rows[0].row()).record)

    def show_record(self, key: str) -> None:
        folder, schema = self.run.folder, self.run.schema
        if folder is None or schema is None:
            return
        self.record_note.setText(f"Loading {key}…")
        self.record_loading = True

        def body(_report: Report, cancel: CancelToken) -> RecordDetails:
            return record_details(folder, schema, key, cancel)

        def finished() -> None:
            self.record_loading = False

        self.context.runner.submit(body, name="record", on_success=self._show_details, on_finished=finished)

    def _show_details(self, details: RecordDetails) -> None:
        self.trace_tree.clear()
        parent: QTreeWidgetItem | None = None
        for name, value in details.trace:
            if name.startswith("  ") and parent is not None:
                QTreeWidgetItem(parent, [name.strip(), value])
            else:
                parent = QTreeWidgetItem(self.trace_tree, [name, value])
        self.trace_tree.expandAll()
        self.sent_tree.set_value(details.sent)
        self.rebuilt_tree.set_value(details.rebuilt)
        self.record_note.setText(f"<b>{details.key}</b>" + (f" — {details.note}" if details.note else ""))
        self.record_shown.emit(details)

    # -- charts ---------------------------------------------------------------------------------------------------

    def _show_charts(self, report: RunReport | None) -> None:
        field_chart = QChart()
        field_chart.setTitle("Field values by field: passed, explained, failed (one value per record)")
        field_chart.setMargins(QMargins(2, 2, 2, 2))
        cause_chart = QChart()
        cause_chart.setTitle("Differences by cause, in field values (one per record and field)")
        cause_chart.setMargins(QMargins(2, 2, 2, 2))
        self.chart_fields = []
        if report is not None and report.sources:
            totals: dict[str, list[int]] = {}
            for source in report.sources:
                for summary in source.fields:
                    counts = totals.setdefault(summary.path, [0, 0, 0])
                    counts[0] += summary.passed
                    counts[1] += summary.explained
                    counts[2] += summary.failed
            # Fields with failures first, then the guest's own fields before its orders': where it went wrong.
            fields = sorted(totals.items(), key=lambda kv: (-kv[1][2], kv[0].startswith("orders."), kv[0]))
            self.chart_fields = [path for path, _ in fields]
            fields.reverse()  # a horizontal bar chart draws its first category at the bottom
            sets = [QBarSet("passed"), QBarSet("explained by CDP's rules"), QBarSet("failed")]
            for bar_set, colour in zip(sets, ("#2e7d32", "#ef9a00", "#c62828"), strict=True):
                bar_set.setColor(QColor(colour))
            for _, counts in fields:
                for bar_set, count in zip(sets, counts, strict=True):
                    bar_set.append(count)
            series = QHorizontalStackedBarSeries()
            for bar_set in sets:
                series.append(bar_set)
            field_chart.addSeries(series)
            field_chart.setTitle(
                f"All {len(fields)} fields: values passed, explained or failed (one value per record; scroll for more)"
            )
            _axes(field_chart, series, [path for path, _ in fields], "field values (records)")
            causes: Counter[str] = Counter()
            for source in report.sources:
                for outcome, count in source.outcome_totals.items():
                    if not outcome.passes and count:
                        causes[OUTCOME_LABELS[outcome]] += count
            if causes:
                ordered = list(reversed(causes.most_common()))
                bar = QBarSet("differences")
                bar.setColor(QColor("#ef6c00"))
                for _, count in ordered:
                    bar.append(count)
                cause_series = QHorizontalBarSeries()
                cause_series.setBarWidth(0.6 if len(ordered) > 1 else 0.3)
                cause_series.append(bar)
                cause_chart.addSeries(cause_series)
                _axes(cause_chart, cause_series, [label for label, _ in ordered], "field values")
                cause_chart.legend().hide()
            else:
                cause_chart.setTitle("Differences by cause: none, every field value came back equal")
        self.field_chart.setMinimumHeight(max(220, 90 + FIELD_BAR_PIXELS * len(self.chart_fields)))
        for view, chart in ((self.field_chart, field_chart), (self.cause_chart, cause_chart)):
            previous = view.chart()
            view.setChart(chart)
            # setChart hands the previous chart back to its caller, to delete.
            previous.deleteLater()

    # -- the step -----------------------------------------------------------------------------------------------

    def load(self, scenario: Scenario) -> None:
        if self.run.report is not None and self.report is not self.run.report:
            self.show_report(self.run.report)

    def is_busy(self) -> bool:
        return self.run.running

    def validation_error(self) -> str | None:
        if self.run.running:
            return "the round trip is running"
        if self.report is None:
            return "send the data first (Send step)"
        if self.report.verdict == "waiting":
            return "the export waits for the nightly snapshot: resume the run after it"
        if self.report.verdict == "incomplete":
            return "nothing was pulled back to compare"
        return None


def verdict_detail(report: RunReport) -> str:
    """The headline in numbers: which thresholds decided it, and how many differences are not failures."""
    parts: list[str] = []
    met = [check for check in report.thresholds if check.passed]
    missed = [check for check in report.thresholds if not check.passed]
    if missed:
        parts.append("Threshold not met: " + "; ".join(f"{c.name} {c.actual:g} (limit {c.limit:g})" for c in missed))
    elif report.thresholds:
        parts.append(f"All {len(met)} thresholds met: " + "; ".join(f"{c.name} {c.actual:g} (limit {c.limit:g})"
                                                                      for c in met))  # fmt: skip
    totals: Counter[str] = Counter()
    for source in report.sources:
        for outcome, count in source.outcome_totals.items():
            if outcome.explained:
                totals["explained"] += count
            elif outcome.fails:
                totals["failed"] += count
    if totals["explained"]:
        parts.append(f"{totals['explained']:,} field values differ for reasons of CDP's own (retention, snapshot, "
                     "delta): explained, not failures")  # fmt: skip
    if totals["failed"] and report.verdict == "passed":
        parts.append(f"{totals['failed']:,} field values failed, within the thresholds")
    elif totals["failed"]:
        parts.append(f"{totals['failed']:,} field values failed")
    elif report.sources:
        parts.append("No field value failed")
    return ". ".join(parts) + "." if parts else ""


def _axes(
    chart: QChart, series: QHorizontalBarSeries | QHorizontalStackedBarSeries, labels: list[str], counted: str
) -> None:
    categories = QBarCategoryAxis()
    categories.append(labels)
    # Field paths are what the chart is about: whole, never "…" (the axis makes room for the longest).
    categories.setTruncateLabels(False)
    values = QValueAxis()
    values.setLabelFormat("%d")
    values.setTitleText(counted)
    chart.addAxis(categories, Qt.AlignmentFlag.AlignLeft)
    chart.addAxis(values, Qt.AlignmentFlag.AlignBottom)
    series.attachAxis(categories)
    series.attachAxis(values)
    values.applyNiceNumbers()
    chart.legend().setAlignment(Qt.AlignmentFlag.AlignTop)
