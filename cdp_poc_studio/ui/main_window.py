"""The main window: the steps of the PoC as a guided sequence, the scenario as the document, menus and shortcuts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from PySide6.QtCharts import QChartView
from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QPushButton,
    QStackedWidget,
    QStyle,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import Shiboken

from cdp_poc_studio import __version__
from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.requestlog import LoggedRequest
from cdp_poc_studio.domain.errors import CdpApiError
from cdp_poc_studio.domain.progress import CancelToken
from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.roundtrip.live_run import live_runs
from cdp_poc_studio.roundtrip.run_jobs import list_runs
from cdp_poc_studio.roundtrip.scenario import ScenarioError
from cdp_poc_studio.ui.context import StudioContext
from cdp_poc_studio.ui.dialogs import SCENARIO_FILTER
from cdp_poc_studio.ui.help import step_help
from cdp_poc_studio.ui.pages.base import Page
from cdp_poc_studio.ui.pages.connect import ConnectPage
from cdp_poc_studio.ui.pages.design import DesignPage
from cdp_poc_studio.ui.pages.integration import IntegrationPage
from cdp_poc_studio.ui.pages.mapping import MappingPage
from cdp_poc_studio.ui.pages.report import ReportPage
from cdp_poc_studio.ui.pages.send import SendPage
from cdp_poc_studio.ui.pages.verify import VerifyPage
from cdp_poc_studio.ui.run_controller import RunController
from cdp_poc_studio.ui.widgets.banner import Banner
from cdp_poc_studio.ui.widgets.request_console import RequestConsole
from cdp_poc_studio.workers.request_feed import RequestFeed
from cdp_poc_studio.workers.tasks import Report

log = logging.getLogger(__name__)
APP_NAME = "CDP PoC Studio"
HELP_TEXT = """<h3>CDP PoC Studio</h3>
<p>The steps on the left are the PoC, in order. Move through them freely; each shows a check mark when complete,
or what is missing.</p>
<ol>
<li><b>Connect</b>: the embedded sandbox (default, offline) or a real tenant.</li>
<li><b>Choose the integration point</b>: Batch or REST to load, REST and/or Audience Export to pull back.</li>
<li><b>Design data</b>: generator settings and the extension schema, with a live preview and CDP's rules.</li>
<li><b>Map fields</b>: which field goes where in CDP, with the exact payload; or import the customer's own sample.</li>
<li><b>Send</b>: a dry run first, then send with progress per stage, a live chart, cancel and resume.</li>
<li><b>Verify</b>: what came back, field by field, grouped by cause, with each record's trace.</li>
<li><b>Report</b>: the HTML report, the evidence bundle, a summary for an email, and clean-up.</li>
</ol>
<p>The request console (F12) shows every call with its request and response, secrets masked, and copies any of
them as curl.</p>
<p>Keys: Ctrl+N new, Ctrl+O open, Ctrl+S save, Ctrl+Shift+S save as, Alt+Left/Alt+Right (or Ctrl+PgUp/PgDown)
previous/next step, Ctrl+1..7 a step, F12 the request console, F1 the help of the current step, Ctrl+Z and
Ctrl+Shift+Z undo and redo in the schema editor, Delete removes the selected field, Ctrl+Q quit.</p>
<p>Everything the studio needs is in the scenario file (TOML), except secrets, which stay in the OS keyring.</p>"""


class MainWindow(QMainWindow):
    """The studio's window. Built by `app.create_main_window` with everything it needs in `context`.

    Signals:
        replayed(str): a call replayed from the request console was answered (its status) or failed (why).
    """

    replayed = Signal(str)

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.document = context.document
        self.setObjectName("mainWindow")
        self.setMinimumSize(QSize(1000, 680))

        self.request_feed = RequestFeed(parent=self)
        self.request_feed.attach(context.request_log)
        self.run = RunController(context, self.request_feed, self)
        self.connect_page = ConnectPage(context)
        self.integration_page = IntegrationPage(context)
        self.design_page = DesignPage(context)
        self.mapping_page = MappingPage(context)
        self.send_page = SendPage(context, self.run)
        self.verify_page = VerifyPage(context, self.run)
        self.report_page = ReportPage(context, self.run)
        self.pages: list[Page] = [
            self.connect_page,
            self.integration_page,
            self.design_page,
            self.mapping_page,
            self.send_page,
            self.verify_page,
            self.report_page,
        ]
        self.console = RequestConsole(self.request_feed, runner=context.runner)
        self.console.replay_requested.connect(self.replay)
        self.run.folder_opened.connect(lambda folder: self.console.show_run_log(Path(folder), live=True))
        self.run.busy_changed.connect(self._on_run_busy_changed)
        self.console_dock = QDockWidget("Request console", self)
        self.console_dock.setObjectName("requestConsoleDock")
        self.console_dock.setWidget(self.console)
        self.console_dock.setAllowedAreas(
            Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.console_dock)
        self.console_dock.hide()
        self.help_view = QTextBrowser()
        self.help_view.setObjectName("stepHelp")
        self.help_view.setOpenLinks(False)
        self.help_view.anchorClicked.connect(self._on_help_link_clicked)
        self.help_dock = QDockWidget("Help", self)
        self.help_dock.setObjectName("helpDock")
        self.help_dock.setWidget(self.help_view)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.help_dock)
        self.help_dock.hide()
        self.send_page.console_button.clicked.connect(self.show_console)
        self.send_page.blocker = self.send_blocker

        self.banner = Banner()
        self.steps = QListWidget()
        self.steps.setObjectName("steps")
        self.steps.setFixedWidth(230)
        self.steps.setIconSize(QSize(18, 18))
        self.steps.setSpacing(2)
        for number, page in enumerate(self.pages, start=1):
            item = QListWidgetItem(f"{number}. {page.title}")
            self.steps.addItem(item)
        self.stack = QStackedWidget()
        for page in self.pages:
            self.stack.addWidget(page)

        self.page_title = QLabel()
        self.page_title.setObjectName("pageTitle")
        font = self.page_title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.page_title.setFont(font)
        self.page_subtitle = QLabel()
        self.page_subtitle.setWordWrap(True)
        self.page_status = QLabel()
        self.page_status.setObjectName("pageStatus")
        self.page_status.setWordWrap(True)
        self.back_button = QPushButton("← Back")
        self.next_button = QPushButton("Next →")
        self.back_button.clicked.connect(self.previous_step)
        self.next_button.clicked.connect(self.next_step)

        header = QVBoxLayout()
        header.addWidget(self.page_title)
        header.addWidget(self.page_subtitle)
        header.addWidget(self.page_status)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)
        right = QVBoxLayout()
        right.addLayout(header)
        right.addWidget(self.stack, 1)
        right.addLayout(buttons)
        body = QHBoxLayout()
        body.addWidget(self.steps)
        body.addLayout(right, 1)
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.addWidget(self.banner)
        outer.addLayout(body, 1)
        self.setCentralWidget(central)

        self._build_menus()
        self._current = -1
        self._shut_down = False
        self._blocked_message: str | None = None
        self.steps.currentRowChanged.connect(self._on_steps_row_changed)
        for page in self.pages:
            page.edited.connect(self._on_page_edited)
            page.status_changed.connect(self._refresh_steps)
        self.connect_page.target_changed.connect(self._refresh_banner)
        self.document.modified_changed.connect(self.setWindowModified)
        self.document.path_changed.connect(self._refresh_title)
        self.document.loaded.connect(self._on_document_loaded)
        context.runner.busy_changed.connect(self._refresh_steps)
        # A background job that failed with no page to explain it still tells the user (issue 12).
        context.runner.unhandled_failure.connect(self._on_runner_unhandled_failure)
        self.run.stages_changed.connect(self._refresh_steps)
        self.run.run_finished.connect(self._refresh_steps)

        self._restore_geometry()
        self._on_document_loaded()
        self.go_to(0)
        if context.settings_store.problem:
            self.statusBar().showMessage(context.settings_store.problem, 15_000)

    # -- menus ------------------------------------------------------------------------------------------------

    def _action(self, text: str, slot, shortcuts: list[QKeySequence] | None = None, name: str = "") -> QAction:  # type: ignore[no-untyped-def]
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts(shortcuts)
        action.triggered.connect(slot)
        if name:
            action.setObjectName(name)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.new_action = self._action("&New", self.new_scenario, [QKeySequence(QKeySequence.StandardKey.New)], "new")
        self.open_action = self._action(
            "&Open…", self.open_scenario_dialog, [QKeySequence(QKeySequence.StandardKey.Open)], "open"
        )
        self.save_action = self._action("&Save", self.save, [QKeySequence(QKeySequence.StandardKey.Save)], "save")
        self.save_as_action = self._action("Save &As…", self.save_as, [QKeySequence("Ctrl+Shift+S")], "saveAs")
        self.quit_action = self._action("&Quit", self.close, [QKeySequence("Ctrl+Q")], "quit")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        file_menu.addAction(self.new_action)
        templates = file_menu.addMenu("New from &Example")
        for path in sorted(SCENARIOS.glob("*.toml")):
            action = templates.addAction(path.stem.replace("_", " ").capitalize())
            action.triggered.connect(lambda _=False, p=path: self.open_template(p))
        file_menu.addAction(self.open_action)
        self.recent_menu = QMenu("Open &Recent", self)
        file_menu.addMenu(self.recent_menu)
        self._refresh_recent()
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        go_menu = menu.addMenu("&Go")
        self.previous_action = self._action(
            "&Previous Step",
            self.previous_step,
            [QKeySequence("Alt+Left"), QKeySequence("Ctrl+PgUp")],
            "previousStep",
        )
        self.next_action = self._action(
            "&Next Step", self.next_step, [QKeySequence("Alt+Right"), QKeySequence("Ctrl+PgDown")], "nextStep"
        )
        go_menu.addAction(self.previous_action)
        go_menu.addAction(self.next_action)
        go_menu.addSeparator()
        for number, page in enumerate(self.pages, start=1):
            action = self._action(
                f"{number}. {page.title}", lambda _=False, i=number - 1: self.go_to(i), [QKeySequence(f"Ctrl+{number}")]
            )
            go_menu.addAction(action)

        view_menu = menu.addMenu("&View")
        self.console_action = self.console_dock.toggleViewAction()
        self.console_action.setText("Request &Console")
        self.console_action.setShortcuts([QKeySequence("F12"), QKeySequence("Ctrl+Shift+C")])
        self.console_action.setObjectName("requestConsole")
        self.addAction(self.console_action)
        view_menu.addAction(self.console_action)

        edit_menu = menu.addMenu("&Edit")
        stack = self.design_page.schema_editor.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Undo)])
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Redo)])
        for action in (self.undo_action, self.redo_action):
            self.addAction(action)
            edit_menu.addAction(action)

        help_menu = menu.addMenu("&Help")
        # F1 once: the standard HelpContents key is F1 too, and two shortcuts on the same key are ambiguous.
        self.help_action = self._action("&Help for This Step", self.show_step_help, [QKeySequence("F1")], "stepHelp")
        help_menu.addAction(self.help_action)
        help_menu.addAction(self._action("&Overview", self.show_help))
        about = self._action("&About CDP PoC Studio", self.show_about)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(about)

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.context.settings.recent_files
        for entry in recent:
            action = self.recent_menu.addAction(entry)
            action.triggered.connect(lambda _=False, p=entry: self.open_scenario(Path(p)))
        self.recent_menu.setEnabled(bool(recent))

    # -- navigation -------------------------------------------------------------------------------------------

    @property
    def current_page(self) -> Page:
        return self.pages[self._current]

    @property
    def current_index(self) -> int:
        return self._current

    def go_to(self, index: int) -> bool:
        if not 0 <= index < len(self.pages) or index == self._current:
            return index == self._current
        if self._current >= 0 and not self.commit_current():
            self._select_step(self._current)
            # A click in the list selects the row after this slot returns: put the selection back then too.
            QTimer.singleShot(0, lambda: self._select_step(self._current))
            return False
        self._current = index
        page = self.pages[index]
        page.load(self.document.scenario)
        self.stack.setCurrentWidget(page)
        self.steps.blockSignals(True)
        self.steps.setCurrentRow(index)
        self.steps.blockSignals(False)
        page.shown()
        self._refresh_steps()
        return True

    def commit_current(self) -> bool:
        """Write the current page into the scenario; False (and a message) when its values are unusable."""
        if self._current < 0:
            return True
        page = self.current_page
        page.left()
        try:
            self.document.replace(page.store(self.document.scenario))
        except ValueError as exc:  # pydantic's ValidationError included
            message = f"Cannot leave {page.title} yet: {exc}"
            self.statusBar().showMessage(message, 15_000)
            # Said on the page, where the user looks, not only in the status bar.
            self._blocked_message = message
            self._refresh_steps()
            return False
        self._blocked_message = None
        return True

    def _select_step(self, index: int) -> None:
        if self._shut_down or not Shiboken.isValid(self.steps):
            return
        self.steps.blockSignals(True)
        self.steps.setCurrentRow(index)
        self.steps.blockSignals(False)

    def send_blocker(self) -> str | None:
        """The first step before Send that its own validator says is incomplete, as "N. Title: problem"."""
        send_index = self.pages.index(self.send_page)
        for number, page in enumerate(self.pages[:send_index], start=1):
            problem = page.validation_error()
            if problem is not None:
                return f"{number}. {page.title}: {problem}"
        return None

    def next_step(self) -> None:
        self.go_to(min(self._current + 1, len(self.pages) - 1))

    def previous_step(self) -> None:
        self.go_to(max(self._current - 1, 0))

    def _on_steps_row_changed(self, row: int) -> None:
        self.go_to(row)

    def _on_page_edited(self) -> None:
        self._blocked_message = None
        self.document.set_modified(True)

    def _on_runner_unhandled_failure(self, message: str) -> None:
        self.statusBar().showMessage(message, 15_000)

    def _refresh_steps(self, *_args: object) -> None:
        style = self.style()
        for index, page in enumerate(self.pages):
            item = self.steps.item(index)
            problem = page.validation_error()
            if problem is None:
                icon = style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
                tip = "Complete"
            else:
                icon = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
                tip = f"Missing: {problem}"
            item.setIcon(icon)
            item.setToolTip(tip)
        if self._current >= 0:
            page = self.current_page
            self.page_title.setText(page.title)
            self.page_subtitle.setText(page.subtitle)
            problem = page.validation_error()
            if self._blocked_message:
                self.page_status.setText(self._blocked_message)
                self.page_status.setStyleSheet("color: #c0392b; font-weight: bold;")
            elif page.is_busy():
                self.page_status.setText("Working…")
                self.page_status.setStyleSheet("color: palette(text);")
            elif problem is None:
                self.page_status.setText("✔ This step is complete.")
                self.page_status.setStyleSheet("color: palette(text);")
            else:
                self.page_status.setText(f"Missing: {problem}")
                self.page_status.setStyleSheet("color: #c0392b; font-weight: bold;")
            self.back_button.setEnabled(self._current > 0)
            # The same validator as the step list: Next goes on only from a complete step.
            last = self._current == len(self.pages) - 1
            self.next_button.setEnabled(not last and page.isComplete())
            self.next_button.setToolTip("" if page.isComplete() else f"First: {problem or 'wait for the work'}")
        self.send_page.refresh_gating()

    def show_console(self) -> None:
        """Show the request console dock (from the View menu, F12, or the Send page), up to date."""
        self.request_feed.flush()
        self.console_dock.show()
        self.console_dock.raise_()

    def _on_run_busy_changed(self, busy: bool) -> None:
        if not busy:
            self.console.follow_run(False)  # the run ended: index its last calls, stop tailing

    def replay(self, entry: LoggedRequest) -> str | None:
        """Send a logged call again to the same target (the run's, else the document's), in a job; returns why not.

        The answer lands in this session's calls in the console, selected."""
        scenario = self.run.scenario or self.document.scenario
        plan = self.run.target_plan(scenario)
        problem = plan if isinstance(plan, str) else replay_problem(entry, plan.profile.api_base_url)
        if problem is not None:
            message = f"Cannot replay this call: {problem}."
            self.console.count_label.setText(message)
            self.statusBar().showMessage(message, 15_000)
            return problem
        assert not isinstance(plan, str)
        request_log = self.context.request_log
        path = _path_and_query(entry.url)
        auth = _auth_kind(entry)
        headers = {name: value for name, value in entry.request_headers if name.lower() == "content-type"}
        body = entry.request_body.encode() if entry.request_body else None

        def job(_report: Report, cancel: CancelToken) -> str:
            with CdpConnection(plan.profile, plan.credentials, request_log=request_log) as connection:
                http = connection.http.bound(cancel=cancel)
                try:
                    response = http.request(entry.method, path, auth=auth, content=body, headers=headers, retry=False)
                except CdpApiError as exc:
                    return f"HTTP {exc.status}"
                return f"HTTP {response.status_code}"

        def done(answer: str) -> None:
            self.request_feed.flush()
            self.console.source_combo.setCurrentIndex(0)
            self.console.select_row(self.console.row_count() - 1)
            self.statusBar().showMessage(f"Replayed {entry.method} {path}: {answer}", 15_000)
            self.replayed.emit(answer)

        def failed(exc: BaseException) -> None:
            self.statusBar().showMessage(f"The replay of {entry.method} {path} failed: {exc}", 15_000)
            self.replayed.emit(str(exc))

        self.context.runner.submit(job, name="replay", on_success=done, on_failure=failed)
        return None

    def step_status(self, index: int) -> str | None:
        """What the step list says about a step: None when complete, else what is missing."""
        return self.pages[index].validation_error()

    # -- the document -----------------------------------------------------------------------------------------

    def _on_document_loaded(self) -> None:
        scenario = self.document.scenario
        for page in self.pages:
            page.load(scenario)
        if self._current >= 0:
            self.current_page.shown()
        self._refresh_title()
        self._refresh_banner()
        self._refresh_steps()

    def _refresh_title(self) -> None:
        self.setWindowTitle(f"{self.document.display_name}[*] — {APP_NAME}")
        self.setWindowModified(self.document.modified)

    def _refresh_banner(self, *_args: object) -> None:
        tenant = self.connect_page.real_tenant()
        if tenant is None:
            self.banner.hide()
        else:
            name, url = tenant
            self.banner.show_message(
                f"REAL TENANT: {name} ({url}). Everything this PoC sends goes to this customer tenant."
            )

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; True when it is fine to go on (saved, discarded, or nothing to save)."""
        if not self.commit_current():
            return False
        if not self.document.modified:
            return True
        answer = self.context.dialogs.ask_save_changes(self, self.document.display_name)
        if answer == "save":
            return self.save()
        return answer == "discard"

    def new_scenario(self) -> None:
        if self.maybe_save():
            self.document.new()
            self.go_to(0)

    def open_template(self, path: Path) -> None:
        if not self.maybe_save():
            return
        try:
            self.document.open_template(path)
        except ScenarioError as exc:
            self.context.dialogs.error(self, "Cannot open the example", str(exc))

    def open_scenario_dialog(self) -> None:
        if not self.maybe_save():
            return
        path = self.context.dialogs.open_file(
            self, "Open scenario", self.context.settings.last_folder or str(Path.home()), SCENARIO_FILTER
        )
        if path is not None:
            self._open(path)

    def open_scenario(self, path: Path) -> bool:
        if not self.maybe_save():
            return False
        return self._open(path)

    def _open(self, path: Path) -> bool:
        try:
            self.document.open(path)
        except ScenarioError as exc:
            self.context.dialogs.error(self, "Cannot open the scenario", str(exc))
            return False
        self._remember(self.document.path or path)
        self.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save(None)

    def save_as(self) -> bool:
        folder = self.context.settings.last_folder or str(Path.home())
        suggested = str(Path(folder) / f"{_slug(self.document.scenario.name)}.toml")
        path = self.context.dialogs.save_file(self, "Save scenario as", suggested, SCENARIO_FILTER)
        if path is None:
            return False
        return self._save(path)

    def _save(self, path: Path | None) -> bool:
        if not self.commit_current():
            return False
        try:
            saved = self.document.save(path)
        except OSError as exc:
            self.context.dialogs.error(self, "Cannot save the scenario", f"{exc}. Choose another folder with Save As.")
            return False
        self._remember(saved)
        self.statusBar().showMessage(f"Saved {saved}", 5000)
        return True

    def _remember(self, path: Path) -> None:
        self.context.settings = self.context.settings.with_recent(path)
        self._refresh_recent()

    # -- help -------------------------------------------------------------------------------------------------

    def show_help(self) -> None:
        self.context.dialogs.info(self, "Help", HELP_TEXT)

    def show_step_help(self) -> None:
        """F1: the current step's help in the help panel (what it does, CDP's rules it checks, the reference)."""
        number = self._current + 1
        self.help_view.setHtml(step_help(number, self.current_page.title))
        self.help_dock.setWindowTitle(f"Help: {number}. {self.current_page.title}")
        self.help_dock.show()
        self.help_dock.raise_()

    def _on_help_link_clicked(self, url: QUrl) -> None:
        self.context.open_url(url)

    def show_about(self) -> None:
        from PySide6 import __version__ as pyside_version

        scheme = QApplication.styleHints().colorScheme().name
        self.context.dialogs.info(
            self,
            "About CDP PoC Studio",
            f"<h3>CDP PoC Studio {__version__}</h3><p>Prove on a laptop that a customer's data goes into Sitecore "
            f"CDP and comes back out as expected.</p><p>Qt for Python {pyside_version}; colour scheme: {scheme}.</p>",
        )

    # -- window state -----------------------------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        settings = self.context.settings
        if settings.geometry:
            self.restoreGeometry(QByteArray.fromBase64(settings.geometry.encode("ascii")))
        else:
            self.resize(1280, 820)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._shut_down:
            event.accept()
            return
        try:
            go_on = self._settle_running_run() and self.maybe_save()
        except Exception:
            # An exception must never escape a Qt event handler; closing stays possible.
            log.exception("while asking to save before closing")
            go_on = True
        if not go_on:
            event.ignore()
            return
        self.context.update_settings(
            geometry=bytes(self.saveGeometry().toBase64().data()).decode("ascii"),
            last_profile=self.connect_page.current_profile_name(),
        )
        problem = self.context.save_settings()
        if problem:
            log.warning("%s", problem)
        self.shutdown()
        event.accept()

    def _settle_running_run(self) -> bool:
        """Closing mid-run: ask whether to stop the run or keep the window; True when closing may go on."""
        if not self.run.running:
            return True
        name = self.run.folder.name if self.run.folder else "The run"
        scenario = self.run.scenario.name if self.run.scenario else ""
        answer = self.context.dialogs.ask_close_running(self, f"{name} ({scenario})", self.run.can_leave)
        if answer == "cancel":
            return False
        if answer == "stop":
            self.run.stop()
        else:
            self.run.detach()
        return True

    def offer_resume(self) -> bool:
        """At start: offer to re-attach to a run left going when the studio closed, or else to complete the newest
        interrupted run (cancelled, or the studio closed on it)."""
        if self.run.running:
            return False
        if self.offer_reattach():
            return True
        recent = list_runs(self.context.runs_root, limit=20)
        runs = [r for r in recent if not r.complete and r.state.verdict != "waiting" and not r.live]
        if not runs:
            return False
        latest = runs[0]
        question = (f"The run {latest.path.name} of “{latest.state.scenario_name}” did not finish "
                    f"({latest.stage_text}). Resume it now? Nothing already sent is sent again.")  # fmt: skip
        if not self.context.dialogs.confirm(self, "Resume the interrupted run?", question):
            return False
        self.go_to(self.pages.index(self.send_page))
        sandbox = self.context.sandbox
        if latest.state.target_kind == "sandbox" and sandbox.state != "running":

            def when_running(state: str) -> None:
                if state in ("running", "failed", "stopped"):
                    sandbox.state_changed.disconnect(when_running)
                    self.send_page.resume(latest.path)

            sandbox.state_changed.connect(when_running)
            if sandbox.state == "stopped":
                sandbox.start(self.document.scenario.target.snapshot)
            return True
        self.send_page.resume(latest.path)
        return True

    def offer_reattach(self) -> bool:
        """A run left going when a window closed: follow it again here (still running, or ended meanwhile)."""
        statuses = live_runs(self.context.runs_root)
        for status in statuses:
            if status.liveness == "lost":  # its process died without a word: the run folder is offered for resuming
                status.live.remove()
        running = [s for s in statuses if s.liveness == "running"]
        ended = [s for s in statuses if s.liveness == "ended"]
        if not running and not ended:
            return False
        status = (running or ended)[0]
        name = status.folder.name if status.folder else "A run"
        if status.liveness == "running":
            title = "Re-attach to the running run?"
            question = (f"{name} is still running: it went on when the studio was closed. Follow it here? If not, "
                        "it goes on, and the studio offers this again next time.")  # fmt: skip
        else:
            title = "A run ended while the studio was closed"
            question = f"{name} went on when the studio was closed, and has ended ({status.outcome}). Show it?"
        if not self.context.dialogs.confirm(self, title, question):
            if status.liveness == "ended":
                status.live.remove()  # its run folder has all of it, in the Runs list
            return False
        self.go_to(self.pages.index(self.send_page))
        problem = self.run.attach(status)
        if problem:
            self.statusBar().showMessage(problem, 10_000)
            return False
        return True

    def shutdown(self) -> None:
        """Stop the jobs and the sandbox; idempotent (close, and tests' teardown)."""
        if self._shut_down:
            return
        self._shut_down = True
        for page in self.pages:
            page.left()
        self.context.runner.shutdown(wait=True)
        self.context.sandbox.stop_now()
        # Chart views go first, explicitly: left to the window's own destruction, a chart view that has been shown
        # crashed Qt (PySide6 6.12, "shared QObject was deleted directly") once another window had been built.
        for view in self.findChildren(QChartView):
            Shiboken.delete(view)


def _slug(name: str) -> str:
    slug = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")
    return slug or "scenario"


def replay_problem(entry: LoggedRequest, api_base_url: str) -> str | None:
    """Why a logged call cannot be sent again to this target, or None."""
    called, target = urlsplit(entry.url), urlsplit(api_base_url)
    if (called.scheme, called.netloc) != (target.scheme, target.netloc):
        return (f"it went to {called.scheme}://{called.netloc}, not to the target's API at {api_base_url} (token "
                "requests and file uploads to storage are not replayed)")  # fmt: skip
    if entry.request_bytes and not entry.request_body:
        return "its body was not kept in the log (binary, or larger than the log keeps)"
    if entry.request_body and "$CDP_" in entry.request_body:
        return "its body held secrets, which the log masked"
    return None


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _auth_kind(entry: LoggedRequest) -> Literal["basic", "oauth", "none"]:
    for name, value in entry.request_headers:
        if name.lower() == "authorization":
            return "oauth" if value.lower().startswith("bearer") else "basic"
    return "none"
