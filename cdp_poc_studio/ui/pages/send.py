"""Send: a dry run first (the first batch lines or REST requests exactly as they go, and the counts), then the
run with a progress bar per stage, a live chart, cancel and resume; batch file states and the error log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cdp_poc_studio.cdp.ledger import LedgerRecord
from cdp_poc_studio.domain.progress import CancelToken, ProgressReport
from cdp_poc_studio.domain.schema_file import SchemaFileError
from cdp_poc_studio.roundtrip.preflight import run_problems
from cdp_poc_studio.roundtrip.run_jobs import (
    DryRun,
    LedgerView,
    RecordDetails,
    RunSummary,
    dry_run,
    list_runs,
    read_ledger,
)
from cdp_poc_studio.roundtrip.run_jobs import record_details as load_record_details
from cdp_poc_studio.roundtrip.scenario import Scenario
from cdp_poc_studio.roundtrip.source.rows import resolve_source
from cdp_poc_studio.ui.context import StudioContext
from cdp_poc_studio.ui.pages.base import Page
from cdp_poc_studio.ui.run_controller import RunController
from cdp_poc_studio.ui.widgets.stage_progress import StageProgressPanel
from cdp_poc_studio.ui.widgets.throughput_chart import ThroughputChart
from cdp_poc_studio.workers.tasks import Report

LEDGER_REFRESH_MS = 1000
FILE_COLUMNS = ("File", "Records", "Size", "State (as CDP reports it)", "Batch ref", "Rejected", "Attempts")
ERROR_COLUMNS = ("Record", "Kind", "Where", "Code", "Message")
RUN_COLUMNS = ("Run", "Scenario", "Started (UTC)", "Target", "Status")


class SendPage(Page):
    """Signals:
    dry_run_ready(object): the dry run finished (a DryRun).
    runs_listed(): the list of run folders was refreshed.
    ledger_refreshed(): the batch files and error log tables were refreshed from the ledger.
    record_shown(object): a failed record's trace is shown (RecordDetails).
    """

    title = "Send"
    subtitle = "A dry run shows exactly what will go; then send, watch each stage, cancel or resume at any time."
    dry_run_ready = Signal(object)
    runs_listed = Signal()
    ledger_refreshed = Signal()
    record_shown = Signal(object)

    def __init__(self, context: StudioContext, run: RunController, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.run = run
        # What an earlier step still misses ("3. Design data: ..."), or None: set by the window, which knows
        # every step's validator. Send is refused while it says something.
        self.blocker: Callable[[], str | None] = lambda: None
        self.dry: DryRun | None = None
        self._dry_running = False
        self._ledger_pending = False
        self._runs: list[RunSummary] = []
        self._failures: list[LedgerRecord] = []
        self._failures_total = 0
        self._rejected_text = "Records CDP rejected, with the batch log's code or the HTTP status."

        self.plan_label = QLabel()
        self.plan_label.setObjectName("sendPlan")
        self.plan_label.setWordWrap(True)
        self.dry_button = QPushButton("Dry run")
        self.dry_button.setObjectName("dryRun")
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("send")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelRun")
        self.console_button = QPushButton("Request console")
        self.dry_button.clicked.connect(self.start_dry_run)
        self.send_button.clicked.connect(self.send)
        self.cancel_button.clicked.connect(self.run.cancel)
        self.status_label = QLabel()
        self.status_label.setObjectName("sendStatus")
        self.status_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.dry_button, self.send_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.console_button)

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        # -- progress --
        self.stages = StageProgressPanel(run, ["generate", "send", "readback", "export", "verify"])
        self.chart = ThroughputChart(run)
        progress_tab = QWidget()
        progress_layout = QVBoxLayout(progress_tab)
        progress_layout.addWidget(self.stages)
        progress_layout.addWidget(self.chart, 1)
        # -- dry run --
        self.counts_label = QLabel("Run the dry run to see the first records exactly as they will be sent.")
        self.counts_label.setObjectName("dryRunCounts")
        self.counts_label.setWordWrap(True)
        self.dry_text = QPlainTextEdit()
        self.dry_text.setObjectName("dryRunText")
        self.dry_text.setReadOnly(True)
        self.dry_text.setFont(mono)
        self.dry_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        dry_tab = QWidget()
        dry_layout = QVBoxLayout(dry_tab)
        dry_layout.addWidget(self.counts_label)
        dry_layout.addWidget(self.dry_text, 1)
        # -- batch files --
        self.files_table = _table(FILE_COLUMNS, "batchFiles")
        self.files_note = QLabel("Batch loads list each file here with its status as CDP reports it.")
        self.files_note.setWordWrap(True)
        files_tab = QWidget()
        files_layout = QVBoxLayout(files_tab)
        files_layout.addWidget(self.files_note)
        files_layout.addWidget(self.files_table, 1)
        # -- errors --
        self.errors_table = _table(ERROR_COLUMNS, "errorLog")
        self.errors_table.itemSelectionChanged.connect(self._on_error_selected)
        self.errors_note = QLabel("Records CDP rejected, with the batch log's code or the HTTP status.")
        self.errors_note.setWordWrap(True)
        self.trace_text = QPlainTextEdit()
        self.trace_text.setObjectName("errorTrace")
        self.trace_text.setReadOnly(True)
        self.trace_text.setFont(mono)
        errors_split = QSplitter(Qt.Orientation.Horizontal)
        errors_split.addWidget(self.errors_table)
        errors_split.addWidget(self.trace_text)
        errors_split.setStretchFactor(0, 3)
        errors_split.setStretchFactor(1, 2)
        errors_tab = QWidget()
        errors_layout = QVBoxLayout(errors_tab)
        errors_layout.addWidget(self.errors_note)
        errors_layout.addWidget(errors_split, 1)
        # -- runs --
        self.runs_table = _table(RUN_COLUMNS, "runsTable")
        self.runs_table.itemSelectionChanged.connect(self._refresh_buttons)
        self.refresh_runs_button = QPushButton("Refresh")
        self.resume_button = QPushButton("Resume the selected run")
        self.resume_button.setObjectName("resumeRun")
        self.refresh_runs_button.clicked.connect(self.refresh_runs)
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.runs_folder_label = QLabel()
        self.runs_folder_label.setWordWrap(True)
        runs_buttons = QHBoxLayout()
        runs_buttons.addWidget(self.runs_folder_label, 1)
        runs_buttons.addWidget(self.refresh_runs_button)
        runs_buttons.addWidget(self.resume_button)
        runs_tab = QWidget()
        runs_layout = QVBoxLayout(runs_tab)
        runs_layout.addLayout(runs_buttons)
        runs_layout.addWidget(self.runs_table, 1)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("sendTabs")
        self.progress_tab_index = self.tabs.addTab(progress_tab, "Progress")
        self.dry_tab_index = self.tabs.addTab(dry_tab, "Dry run")
        self.files_tab_index = self.tabs.addTab(files_tab, "Batch files")
        self.errors_tab_index = self.tabs.addTab(errors_tab, "Errors")
        self.runs_tab_index = self.tabs.addTab(runs_tab, "Runs (resume)")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plan_label)
        layout.addLayout(buttons)
        layout.addWidget(self.status_label)
        layout.addWidget(self.tabs, 1)

        self._ledger_timer = QTimer(self)
        self._ledger_timer.setInterval(LEDGER_REFRESH_MS)
        self._ledger_timer.timeout.connect(self.refresh_ledger)
        run.busy_changed.connect(self._on_run_busy_changed)
        # Whatever starts a run (Send, Resume, re-attaching to one left going), the page describes that run.
        run.run_started.connect(self._describe_the_run)
        run.folder_opened.connect(self._describe_the_run)
        run.run_finished.connect(self._on_run_finished)
        run.run_failed.connect(self._on_run_failed)
        run.run_cancelled.connect(self._on_run_cancelled)
        run.stages_changed.connect(self._refresh_error_counts)
        context.sandbox.state_changed.connect(self._refresh_buttons)
        self._refresh_buttons()

    # -- the plan -----------------------------------------------------------------------------------------------

    def load(self, scenario: Scenario) -> None:
        if self.run.running and self.run.scenario is not None:
            scenario = self.run.scenario  # a run in progress (perhaps resumed) is described, not the document
        self._describe(scenario)

    def _describe_the_run(self) -> None:
        if self.run.running and self.run.scenario is not None:
            self._describe(self.run.scenario)

    def _describe(self, scenario: Scenario) -> None:
        integration = scenario.integration
        api = "the Batch API (gzipped files of one JSON record per line)" if integration.load == "batch" else (
            "the Guest and Order REST API (several requests per guest)")  # fmt: skip
        plan = self.run.target_plan(scenario)
        where = plan if isinstance(plan, str) else plan.description
        self.plan_label.setText(
            f"<b>{scenario.generator.guests:,} guests</b> of “{scenario.name}” through {api}, pulled back by "
            f"{' and '.join(integration.pull_back)}. Target: {where}."
        )
        self.runs_folder_label.setText(f"Run folders in {self.context.runs_root}")
        self._refresh_buttons()

    def shown(self) -> None:
        self.refresh_runs()

    # -- dry run ------------------------------------------------------------------------------------------------

    def start_dry_run(self) -> None:
        # A [source] sample is named relative to the scenario file.
        scenario = resolve_source(self.context.document.scenario, self.context.document.base_dir)
        try:
            schema = self.context.document.schema()
        except SchemaFileError as exc:
            self.status_label.setText(f"The schema file cannot be read: {exc}")
            return
        plan = self.run.target_plan(scenario)
        base_url = "{CDP base URL}" if isinstance(plan, str) else plan.profile.api_base_url
        self._dry_running = True
        self.tabs.setCurrentIndex(self.dry_tab_index)
        self.counts_label.setText("Generating the first records and counting…")
        self._refresh_buttons()

        def body(report: Report, cancel: CancelToken) -> DryRun:
            return dry_run(scenario, schema, base_url, report, cancel)

        def progressed(report: ProgressReport) -> None:
            self.counts_label.setText(f"Counting records: {report.done:,} of {report.total or 0:,}…")

        def done(result: DryRun) -> None:
            self.dry = result
            self.counts_label.setText(result.counts_text() + " The first records, exactly as they will be sent:")
            separator = "\n" if result.load == "batch" else "\n\n"
            self.dry_text.setPlainText(separator.join(result.preview))
            self.dry_run_ready.emit(result)

        def failed(exc: BaseException) -> None:
            self.counts_label.setText(f"The dry run failed: {exc}")

        def finished() -> None:
            self._dry_running = False
            self._refresh_buttons()
            self.status_changed.emit()

        self.context.runner.submit(body, name="dry-run", on_progress=progressed, on_success=done, on_failure=failed,
                                   on_finished=finished)  # fmt: skip

    # -- sending ------------------------------------------------------------------------------------------------

    def send(self) -> None:
        blocked = self.blocker()
        if blocked:
            self.status_label.setText(f"Cannot send yet: {blocked}.")
            self._refresh_buttons()
            return
        scenario = self.context.document.scenario
        try:
            schema = self.context.document.schema()
        except SchemaFileError as exc:
            self.status_label.setText(f"The schema file cannot be read: {exc}")
            return
        # The checks of `cdp-poc-studio run`: the studio never sends what the command line would refuse.
        # A run in its own process builds the value makers there (the click never waits for them).
        problems = run_problems(scenario, schema, build_values=not self.context.run_in_child_process)
        if problems:
            self.status_label.setText("Cannot send: " + "; ".join(problems) + ".")
            return
        self.tabs.setCurrentIndex(self.progress_tab_index)
        problem = self.run.start(scenario, schema)
        if problem:
            self.status_label.setText(f"Cannot send: {problem}.")
        self._refresh_buttons()

    def resume(self, folder: Path) -> str | None:
        self.tabs.setCurrentIndex(self.progress_tab_index)
        problem = self.run.resume(folder)
        if problem:
            self.status_label.setText(f"Cannot resume: {problem}.")
        self._refresh_buttons()
        return problem

    def _on_resume_clicked(self) -> None:
        rows = self.runs_table.selectionModel().selectedRows()
        if rows:
            self.resume(self._runs[rows[0].row()].path)

    def _on_run_busy_changed(self, busy: bool) -> None:
        if busy:
            self.status_label.setText("Sending… Cancel stops within a second; the run can be resumed later.")
            self.files_table.setRowCount(0)
            self.errors_table.setRowCount(0)
            self._failures_total = 0
            self._rejected_text = "No record was rejected so far."
            self.trace_text.clear()
            self._ledger_timer.start()
        else:
            self._ledger_timer.stop()
            self.refresh_ledger()
            self.refresh_runs()
        self._refresh_buttons()
        self.status_changed.emit()

    def _on_run_finished(self, report: object) -> None:
        from cdp_poc_studio.roundtrip.report_model import RunReport

        assert isinstance(report, RunReport)
        verdict = {"passed": "passed", "failed": "FAILED", "waiting": "is waiting for the nightly snapshot",
                   "incomplete": "is incomplete"}[report.verdict]  # fmt: skip
        self.status_label.setText(f"Run {report.run_id} {verdict}: see the Verify step for what came back.")

    def _on_run_failed(self, message: str) -> None:
        self.status_label.setText(f"The run stopped: {message}")

    def _on_run_cancelled(self) -> None:
        name = self.run.folder.name if self.run.folder else "the run"
        self.status_label.setText(f"Cancelled. {name} can be resumed from the Runs tab: nothing is sent twice.")

    def refresh_gating(self) -> None:
        """An earlier step may have become complete or incomplete."""
        self._refresh_buttons()

    def _refresh_buttons(self, *_args: object) -> None:
        running = self.run.running
        blocked = self.blocker()
        self.dry_button.setEnabled(not running and not self._dry_running)
        self.send_button.setEnabled(not running and not self._dry_running and blocked is None)
        self.send_button.setToolTip(f"Cannot send yet: {blocked}" if blocked else "Send the data to the target.")
        self.cancel_button.setEnabled(running)
        selected = bool(self.runs_table.selectionModel().selectedRows())
        self.resume_button.setEnabled(selected and not running)

    # -- the ledger: batch files and errors ---------------------------------------------------------------------

    def refresh_ledger(self) -> None:
        folder = self.run.folder
        if folder is None or self._ledger_pending or self.context.runner.closed:
            return
        self._ledger_pending = True

        def body(_report: Report, _cancel: CancelToken) -> LedgerView | None:
            return read_ledger(folder)

        def finished() -> None:
            self._ledger_pending = False

        self.context.runner.submit(body, name="ledger", on_success=self._show_ledger, on_finished=finished)

    def _show_ledger(self, view: LedgerView | None) -> None:
        if view is None:
            return
        self.files_table.setRowCount(len(view.files))
        for row, file in enumerate(view.files):
            attempts = view.attempts.get(file.file, [])
            history = " → ".join(f"{a['state']}" for a in attempts) or "not sent yet"
            values = (file.file, f"{file.records:,}", f"{file.size / 1e6:,.2f} MB", file.state.value,
                      file.batch_ref or "", f"{file.failed_records:,}", f"{len(attempts)} ({history})")  # fmt: skip
            for column, value in enumerate(values):
                self.files_table.setItem(row, column, QTableWidgetItem(value))
        fit_columns(self.files_table)
        if not view.files:
            self.files_note.setText("No batch files in this run (REST loads send requests, not files).")
        else:
            done = sum(1 for f in view.files if f.state.finished)
            self.files_note.setText(f"{done} of {len(view.files)} file(s) finished, as CDP reports them.")
        self._failures = view.failures
        self._failures_total = view.failures_total
        self.errors_table.setRowCount(len(view.failures))
        for row, record in enumerate(view.failures):
            where = f"{record.file}:{record.line}" if record.file else "REST"
            code = record.error_code or (str(record.http_status) if record.http_status is not None else "")
            cells = (record.key, record.kind.value, where, code, record.error_message or "")
            for column, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.errors_table.setItem(row, column, item)
        fit_columns(self.errors_table)
        shown = len(view.failures)
        self._rejected_text = (
            f"{view.failures_total:,} record(s) rejected"
            + (f" (the first {shown:,} listed)" if shown < view.failures_total else "")
            + ". Select one for its trace."
            if view.failures_total
            else "No record was rejected."
        )
        self._refresh_error_counts()
        self.ledger_refreshed.emit()

    def _refresh_error_counts(self, *_args: object) -> None:
        """The Errors tab counts rejected records and, apart, the HTTP errors the client retried."""
        http = sum(self.run.http_errors.values())
        title = f"Errors ({self._failures_total:,})"
        note = self._rejected_text
        if http:
            kinds = ", ".join(f"{status} ×{count:,}" for status, count in self.run.http_errors.most_common(4))
            title = f"Errors ({self._failures_total:,} records · {http:,} HTTP)"
            note += (f" {http:,} HTTP error(s) were answered and retried ({kinds}): they are not rejected records; "
                     "the request console lists each call.")  # fmt: skip
        self.tabs.setTabText(self.errors_tab_index, title)
        self.errors_note.setText(note)

    def _on_error_selected(self) -> None:
        rows = self.errors_table.selectionModel().selectedRows()
        folder, schema = self.run.folder, self.run.schema
        if not rows or folder is None or schema is None:
            return
        record = self._failures[rows[0].row()]
        key = record.parent_ref or record.key  # an order's trace is its guest's

        def body(_report: Report, cancel: CancelToken) -> RecordDetails:
            return load_record_details(folder, schema, key, cancel)

        self.context.runner.submit(body, name="trace", on_success=self._show_trace)

    def _show_trace(self, details: RecordDetails) -> None:
        width = max((len(name) for name, _ in details.trace), default=10)
        lines = [f"Trace of {details.key}", ""] + [f"{name:<{width}}  {value}" for name, value in details.trace]
        if details.note:
            lines += ["", details.note]
        self.trace_text.setPlainText("\n".join(lines))
        self.record_shown.emit(details)

    # -- run folders ------------------------------------------------------------------------------------------

    def refresh_runs(self) -> None:
        root = self.context.runs_root
        if self.context.runner.closed:
            return

        def body(_report: Report, _cancel: CancelToken) -> list[RunSummary]:
            return list_runs(root)

        self.context.runner.submit(body, name="list-runs", on_success=self._show_runs)

    def _show_runs(self, runs: list[RunSummary]) -> None:
        self._runs = runs
        self.runs_table.setRowCount(len(runs))
        for row, summary in enumerate(runs):
            state = summary.state
            values = (summary.path.name, state.scenario_name, f"{state.started_at:%Y-%m-%d %H:%M}", state.target,
                      summary.status)  # fmt: skip
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(f"{summary.stage_text}\n{summary.path}")
                self.runs_table.setItem(row, column, item)
        fit_columns(self.runs_table)
        self._refresh_buttons()
        self.runs_listed.emit()

    def select_run(self, folder: Path) -> bool:
        for row, summary in enumerate(self._runs):
            if summary.path == folder:
                self.runs_table.selectRow(row)
                return True
        return False

    # -- the step -----------------------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return self.run.running or self._dry_running

    def validation_error(self) -> str | None:
        if self.run.running:
            return "sending…"
        send = self.run.stage("send")
        if send.status == "done" or self.run.report is not None:
            return None
        blocked = self.blocker()
        if blocked:
            return f"first complete {blocked}"
        if self.run.outcome == "cancelled":
            return "the run was cancelled: resume it, or send again"
        if self.run.outcome == "failed":
            return f"the run stopped: {self.run.error}"
        return "send the data (the dry run shows first what will go)"


def _table(columns: tuple[str, ...], name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setWordWrap(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.verticalHeader().setDefaultSectionSize(22)
    fit_columns(table)
    return table


def fit_columns(table: QTableWidget) -> None:
    """Each column as wide as its header and its widest value (run names, file names are never cut)."""
    table.resizeColumnsToContents()
    header = table.horizontalHeader()
    metrics = header.fontMetrics()
    for column in range(table.columnCount() - 1):
        label = table.horizontalHeaderItem(column)
        needed = metrics.horizontalAdvance(label.text() if label else "") + 24
        header.resizeSection(column, max(header.sectionSize(column) + 8, needed))
