"""Report: save the HTML report and the evidence bundle, open the report in the browser, copy a summary for an
email, and clean up what the run created in the target after showing what will be deleted."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from cdp_poc_studio.domain.progress import CancelToken
from cdp_poc_studio.roundtrip.cleanup import CleanupPlan, execute_cleanup, plan_cleanup
from cdp_poc_studio.roundtrip.report_model import RunReport
from cdp_poc_studio.roundtrip.reports import bundle
from cdp_poc_studio.roundtrip.run_folder import RunFolder
from cdp_poc_studio.roundtrip.run_jobs import summary_paragraph
from cdp_poc_studio.roundtrip.scenario import Scenario
from cdp_poc_studio.targets.target import TargetPlan
from cdp_poc_studio.ui.context import StudioContext
from cdp_poc_studio.ui.dialogs import BUNDLE_FILTER, HTML_FILTER
from cdp_poc_studio.ui.pages.base import Page
from cdp_poc_studio.ui.run_controller import RunController
from cdp_poc_studio.ui.widgets.snippets_panel import SnippetsPanel
from cdp_poc_studio.workers.tasks import Report

LISTED_REFS = 10


class ReportPage(Page):
    """Signals:
    saved(str): the HTML report or the bundle was written to this path.
    cleanup_planned(object): what the run left in the target was found (CleanupPlan).
    cleaned(object): the clean-up finished: (guests deleted, orders deleted), or None when the user said no.
    """

    title = "Report"
    subtitle = "Evidence for the customer's architecture review, a summary for an email, and a clean target."
    saved = Signal(str)
    cleanup_planned = Signal(object)
    cleaned = Signal(object)

    def __init__(self, context: StudioContext, run: RunController, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.run = run
        self.report: RunReport | None = None
        self._busy = False

        self.verdict_label = QLabel("No report yet: send and verify first.")
        self.verdict_label.setObjectName("reportVerdict")
        font = self.verdict_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.verdict_label.setFont(font)
        self.summary_text = QPlainTextEdit()
        self.summary_text.setObjectName("summaryText")
        self.summary_text.setReadOnly(True)
        self.summary_text.setMaximumHeight(150)
        self.files_label = QLabel()
        self.files_label.setObjectName("reportFiles")
        self.files_label.setWordWrap(True)

        self.save_html_button = QPushButton("Save the HTML report…")
        self.save_html_button.setObjectName("saveHtml")
        self.save_bundle_button = QPushButton("Save the evidence bundle (zip)…")
        self.save_bundle_button.setObjectName("saveBundle")
        self.open_button = QPushButton("Open the report in the browser")
        self.open_button.setObjectName("openReport")
        self.copy_button = QPushButton("Copy a summary for an email")
        self.copy_button.setObjectName("copySummary")
        self.cleanup_button = QPushButton("Clean up the target…")
        self.cleanup_button.setObjectName("cleanup")
        self.save_html_button.clicked.connect(self.save_html)
        self.save_bundle_button.clicked.connect(self.save_bundle)
        self.open_button.clicked.connect(self.open_in_browser)
        self.copy_button.clicked.connect(self.copy_summary)
        self.cleanup_button.clicked.connect(self.clean_up)
        self.status_label = QLabel()
        self.status_label.setObjectName("reportStatus")
        self.status_label.setWordWrap(True)

        evidence = QGroupBox("Evidence")
        evidence_layout = QGridLayout(evidence)
        evidence_layout.addWidget(self.save_html_button, 0, 0)
        evidence_layout.addWidget(self.save_bundle_button, 0, 1)
        evidence_layout.addWidget(self.open_button, 1, 0)
        evidence_layout.addWidget(self.copy_button, 1, 1)
        cleanup = QGroupBox("Clean up")
        cleanup_layout = QVBoxLayout(cleanup)
        note = QLabel("Deletes the guests (with their orders) and orders this run created in the target, after "
                      "listing them. The run folder and its evidence stay.")  # fmt: skip
        note.setWordWrap(True)
        cleanup_layout.addWidget(note)
        cleanup_layout.addWidget(self.cleanup_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.verdict_label)
        layout.addWidget(QLabel("<b>Summary for an email</b>"))
        layout.addWidget(self.summary_text)
        layout.addWidget(self.files_label)
        layout.addWidget(evidence)
        layout.addWidget(cleanup)
        layout.addWidget(self.status_label)
        self.snippets = SnippetsPanel(context)
        layout.addWidget(self.snippets, 1)

        run.run_finished.connect(self.show_report)
        run.run_started.connect(self._on_run_started)
        self._refresh_buttons()

    # -- showing ------------------------------------------------------------------------------------------------

    def _on_run_started(self) -> None:
        self.report = None
        self.verdict_label.setText("A run is in progress.")
        self.summary_text.clear()
        self.files_label.clear()
        self.snippets.show_run(None)
        self._refresh_buttons()

    def show_report(self, report: RunReport) -> None:
        self.report = report
        self.verdict_label.setText(f"{report.verdict.upper()}: {report.scenario_name} (run {report.run_id})")
        self.summary_text.setPlainText(summary_paragraph(report))
        folder = self.run.folder
        if folder is not None:
            self.files_label.setText(
                f"In the run folder {folder}: report/report.html, report.json (machine-readable) and junit.xml (for "
                "CI), with the scenario as run, the ledger, the request log and the data sent and pulled back."
            )
        self.snippets.show_run(folder)
        self._refresh_buttons()
        self.status_changed.emit()

    def load(self, scenario: Scenario) -> None:
        if self.run.report is not None and self.report is not self.run.report:
            self.show_report(self.run.report)

    def _refresh_buttons(self) -> None:
        ready = self.report is not None and self.run.folder is not None and not self._busy
        for button in (self.save_html_button, self.save_bundle_button, self.open_button, self.copy_button,
                       self.cleanup_button):  # fmt: skip
            button.setEnabled(ready)

    def _report_html(self) -> Path | None:
        return self.run.folder / "report" / "report.html" if self.run.folder else None

    # -- evidence -------------------------------------------------------------------------------------------------

    def save_html(self) -> Path | None:
        source = self._report_html()
        if source is None or self.report is None:
            return None
        folder = self.context.settings.last_folder or str(Path.home())
        suggested = str(Path(folder) / f"cdp-poc-report-{self.report.run_id}.html")
        path = self.context.dialogs.save_file(self, "Save the HTML report", suggested, HTML_FILTER)
        if path is None:
            return None
        try:
            shutil.copyfile(source, path)
        except OSError as exc:
            self.context.dialogs.error(self, "Cannot save the report", f"{exc}. Choose another folder.")
            return None
        self.status_label.setText(f"Report saved: {path}")
        self.saved.emit(str(path))
        return path

    def save_bundle(self) -> None:
        folder = self.run.folder
        if folder is None or self.report is None:
            return
        last = self.context.settings.last_folder or str(Path.home())
        path = self.context.dialogs.save_file(
            self, "Save the evidence bundle", str(Path(last) / f"{folder.name}.zip"), BUNDLE_FILTER
        )
        if path is None:
            return
        self._set_busy(True, "Zipping the run folder…")

        def body(_report: Report, _cancel: CancelToken) -> Path:
            return bundle(folder, path)

        def done(written: Path) -> None:
            self.status_label.setText(f"Evidence bundle saved: {written} ({written.stat().st_size / 1e6:,.1f} MB)")
            self.saved.emit(str(written))

        def failed(exc: BaseException) -> None:
            self.status_label.setText("")
            self.context.dialogs.error(self, "Cannot save the bundle", f"{exc}. Choose another folder.")

        self.context.runner.submit(body, name="bundle", on_success=done, on_failure=failed,
                                   on_finished=lambda: self._set_busy(False))  # fmt: skip

    def open_in_browser(self) -> bool:
        source = self._report_html()
        if source is None:
            return False
        opened = self.context.open_url(QUrl.fromLocalFile(str(source)))
        self.status_label.setText("Opened in the browser." if opened else f"No browser could open {source}.")
        return opened

    def copy_summary(self) -> str:
        text = self.summary_text.toPlainText()
        QGuiApplication.clipboard().setText(text)
        self.status_label.setText("Summary copied: paste it into an email.")
        return text

    # -- clean-up ---------------------------------------------------------------------------------------------------

    def _cleanup_target(self) -> TargetPlan | str:
        folder = self.run.folder
        scenario = self.run.scenario
        if folder is None or scenario is None:
            return "no run"
        state = RunFolder(folder).load_state()
        gone = state.target_kind == "sandbox" and state.run_id not in self.context.sandbox.session_runs
        if gone and state.sandbox_db == ":memory:":
            return "this run went to a throwaway sandbox that has been stopped since: nothing is left to clean"
        return self.run.target_plan(scenario)

    def clean_up(self) -> None:
        """Find what the run left (a job), list it in a confirmation, then delete it (another job)."""
        plan = self._cleanup_target()
        folder = self.run.folder
        if isinstance(plan, str) or folder is None:
            self.status_label.setText(f"Cannot clean up: {plan}.")
            return
        log = self.context.request_log
        self._set_busy(True, "Looking for what the run left in the target…")

        def find(_report: Report, cancel: CancelToken) -> CleanupPlan:
            with plan.open(request_log=log) as target:
                return plan_cleanup(RunFolder(folder), target.connection.http, cancel)

        def found(cleanup: CleanupPlan) -> None:
            self.cleanup_planned.emit(cleanup)
            if cleanup.empty:
                self.status_label.setText(f"Nothing of this run is left in {plan.description}.")
                self.cleaned.emit((0, 0))
                return
            listed = [f"guest {ref}  {key}" for ref, key in cleanup.guests[:LISTED_REFS]]
            listed += [f"order {ref}  {reference}" for ref, reference in cleanup.orders[:LISTED_REFS]]
            more = len(cleanup.guests) + len(cleanup.orders) - len(listed)
            text = (
                f"Delete {len(cleanup.guests):,} guest(s) and {len(cleanup.orders):,} order(s) that this run "
                f"created in {plan.description}? Deleting a guest deletes its orders too. This cannot be undone."
            )
            details = "\n".join(listed) + (f"\n… and {more:,} more" if more > 0 else "")
            if not self.context.dialogs.confirm(
                self, "Clean up the target", f"{text}\n\nThe first:\n{details}", details
            ):
                self.status_label.setText("Nothing was deleted.")
                self.cleaned.emit(None)
                return
            self._delete(plan, cleanup)

        def failed(exc: BaseException) -> None:
            self.status_label.setText(f"The clean-up could not look in the target: {exc}")

        def finished() -> None:
            if self.status_label.text().startswith("Looking"):
                self.status_label.setText("")
            self._set_busy(self._busy and self.context.runner.running("cleanup-delete") != [])

        self.context.runner.submit(find, name="cleanup-plan", on_success=found, on_failure=failed,
                                   on_finished=finished)  # fmt: skip

    def _delete(self, plan: TargetPlan, cleanup: CleanupPlan) -> None:
        log = self.context.request_log
        self._set_busy(True, f"Deleting {len(cleanup.guests):,} guest(s) and {len(cleanup.orders):,} order(s)…")

        def body(_report: Report, cancel: CancelToken) -> tuple[int, int]:
            with plan.open(request_log=log) as target:
                return execute_cleanup(cleanup, target.connection.http, cancel)

        def done(counts: tuple[int, int]) -> None:
            guests, orders = counts
            self.status_label.setText(f"Deleted {guests:,} guest(s) and {orders:,} order(s) left on their own.")
            self.cleaned.emit(counts)

        def failed(exc: BaseException) -> None:
            self.status_label.setText(f"The clean-up stopped: {exc}. Run it again: what is gone is skipped.")

        self.context.runner.submit(body, name="cleanup-delete", on_success=done, on_failure=failed,
                                   on_finished=lambda: self._set_busy(False))  # fmt: skip

    def _set_busy(self, busy: bool, message: str = "") -> None:
        self._busy = busy
        if message:
            self.status_label.setText(message)
        self._refresh_buttons()
        self.status_changed.emit()

    # -- the step -----------------------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return self._busy

    def validation_error(self) -> str | None:
        if self.report is None:
            return "no report yet: send and verify first"
        return None
