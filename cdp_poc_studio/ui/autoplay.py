"""The autoplay demo: the whole loop in the window on its own, page by page, at a pace a room can follow.

A small state machine driven by Qt timers, never by sleeps on the UI thread: each step does one thing (show a page,
click a button), then a 100 ms timer polls until what it started is ready (a job's result shown), the page is
grabbed as a PNG when screenshots are wanted, and a single-shot timer waits `pace` seconds before the next step.
The exit code is `cdp-poc-studio run`'s: 0 passed or waiting for the snapshot, 1 failed, 2 bad usage or config.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.roundtrip.scenario import ScenarioError
from cdp_poc_studio.ui.main_window import MainWindow

log = logging.getLogger(__name__)
EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
POLL_MS = 100


@dataclass
class Step:
    name: str
    enter: Callable[[], None]
    ready: Callable[[], bool] = lambda: True
    screenshot: str | None = None
    timeout: float = 120.0
    # Seconds to stay on this step after it is ready; None: the autoplay's pace.
    pace: float | None = None


def resolve_scenario(name_or_path: str) -> Path | None:
    """A scenario file, or the name of a bundled one (`retail_loyalty`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = SCENARIOS / f"{name_or_path.removesuffix('.toml')}.toml"
    return bundled if bundled.is_file() else None


class Autoplay(QObject):
    """Plays the demo in `window`.

    Signals:
        step_started(str): a step began (its name), for a status line or a test.
        screenshot_saved(str): a PNG was written.
        finished(int): the demo ended with this exit code.
    """

    step_started = Signal(str)
    screenshot_saved = Signal(str)
    finished = Signal(int)

    def __init__(
        self,
        window: MainWindow,
        scenario: str,
        *,
        pace: float = 3.0,
        screenshots: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window = window
        self.scenario = scenario
        self.pace = max(0.0, pace)
        self.screenshots = screenshots
        self.exit_code: int | None = None
        self.message = ""
        self.saved: list[Path] = []
        self._steps = self._plan()
        self._index = -1
        self._deadline = 0.0
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._on_poll_timeout)
        self._next = QTimer(self)
        self._next.setSingleShot(True)
        self._next.timeout.connect(self._advance)

    # -- the plan -------------------------------------------------------------------------------------------------

    def _plan(self) -> list[Step]:
        w = self.window
        run = w.run
        sandbox = w.context.sandbox
        return [
            Step("open the scenario", self._open, pace=0.0),
            Step(
                "start the embedded sandbox",
                self._start_sandbox,
                lambda: sandbox.state in ("running", "failed"),
                timeout=90.0,
                pace=0.0,
            ),
            Step("test the connection", self._test_connection, lambda: w.connect_page.results is not None, "1-connect"),
            Step("choose the integration point", lambda: self._go(1), screenshot="2-integration"),
            # The preview is debounced, then made in a job: wait for it, so that the screenshot shows it filled.
            Step(
                "design the data",
                lambda: self._go(2),
                lambda: w.design_page.preview is not None and not w.design_page.is_busy(),
                "3-design",
            ),
            Step("map the fields", lambda: self._go(3), lambda: not w.mapping_page.is_busy(), "4-mapping"),
            Step(
                "dry run",
                self._dry_run,
                lambda: not w.send_page.is_busy() and w.send_page.dry is not None,
                "5a-send-dry-run",
            ),
            Step(
                "send",
                self._send,
                lambda: not run.running,
                "5-send",
                timeout=4 * 3600.0,
            ),
            Step("show the request console", self._console, screenshot="5b-request-console"),
            Step(
                "verify",
                self._verify,
                lambda: not run.running and not w.verify_page.is_busy(),
                pace=0.0,
                timeout=4 * 3600.0,
            ),
            Step("verify: a record", self._record, lambda: not w.verify_page.record_loading, "6-verify"),
            Step("verify: charts", self._charts, screenshot="6b-verify-charts"),
            Step("report", lambda: self._go(6), screenshot="7-report"),
        ]

    def _go(self, index: int) -> None:
        self.window.console_dock.hide()
        self.window.go_to(index)

    def _open(self) -> None:
        path = resolve_scenario(self.scenario)
        if path is None:
            self._finish(EXIT_USAGE, f"no scenario {self.scenario!r}: give a .toml file or a bundled scenario's name")
            return
        document = self.window.document
        try:
            if path.parent == SCENARIOS:
                document.open_template(path)
            else:
                document.open(path)
        except ScenarioError as exc:
            self._finish(EXIT_USAGE, str(exc))
            return
        self.window.go_to(0)

    def _start_sandbox(self) -> None:
        sandbox = self.window.context.sandbox
        page = self.window.connect_page
        if page.selected != "__sandbox__":
            page.profile_combo.setCurrentIndex(0)
        if sandbox.state in ("stopped", "failed"):
            sandbox.start(self.window.document.scenario.target.snapshot)

    def _test_connection(self) -> None:
        if self.window.context.sandbox.state != "running":
            self._finish(EXIT_FAILED, f"the embedded sandbox did not start: {self.window.context.sandbox.detail}")
            return
        self.window.connect_page.test_connection()

    def _dry_run(self) -> None:
        self._go(4)
        self.window.send_page.start_dry_run()

    def _send(self) -> None:
        page = self.window.send_page
        page.send()
        if not self.window.run.running and self.window.run.outcome != "finished":
            self._finish(EXIT_FAILED, page.status_label.text())

    def _console(self) -> None:
        window = self.window
        window.show_console()
        console = window.console
        rows = console.row_count()
        if rows:
            console.select_row(rows - 1)
            console.details.setCurrentIndex(1)

    def _verify(self) -> None:
        self._go(5)
        page = self.window.verify_page
        page.tabs.setCurrentIndex(0)

    def _record(self) -> None:
        """Show one record's trace and its value sent and rebuilt: the first failure, or the first row."""
        page = self.window.verify_page
        if page.proxy.rowCount():
            page.table.selectRow(0)

    def _charts(self) -> None:
        page = self.window.verify_page
        run = self.window.run
        if run.outcome == "failed":
            self._finish(EXIT_FAILED, f"the run stopped: {run.error}")
            return
        page.tabs.setCurrentIndex(page.charts_tab_index)

    # -- driving --------------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.screenshots is not None:
            self.screenshots.mkdir(parents=True, exist_ok=True)
        self._advance()

    def _advance(self) -> None:
        if self.exit_code is not None:
            return
        self._index += 1
        if self._index >= len(self._steps):
            self._finish(self._verdict_code(), "done")
            return
        step = self._steps[self._index]
        self.step_started.emit(step.name)
        self.window.statusBar().showMessage(f"Autoplay: {step.name}…")
        step.enter()
        if self.exit_code is not None:
            return
        self._deadline = time.monotonic() + step.timeout
        self._poll.start()
        self._on_poll_timeout()

    def _on_poll_timeout(self) -> None:
        if self.exit_code is not None or not 0 <= self._index < len(self._steps):
            self._poll.stop()
            return
        step = self._steps[self._index]
        if not step.ready():
            if time.monotonic() > self._deadline:
                self._finish(EXIT_FAILED, f"autoplay: {step.name} did not finish within {step.timeout:g} s")
            return
        self._poll.stop()
        if step.screenshot and self.screenshots is not None:
            self._grab(step.screenshot)
        pace = self.pace if step.pace is None else step.pace
        self._next.start(int(pace * 1000))

    def _grab(self, name: str) -> None:
        assert self.screenshots is not None
        path = self.screenshots / f"{name}.png"
        self.window.repaint()
        if self.window.grab().save(str(path)):
            self.saved.append(path)
            self.screenshot_saved.emit(str(path))
        else:
            log.warning("autoplay: could not write %s", path)

    def _verdict_code(self) -> int:
        report = self.window.run.report
        if report is None:
            return EXIT_FAILED
        return EXIT_PASSED if report.verdict in ("passed", "waiting") else EXIT_FAILED

    def _finish(self, code: int, message: str) -> None:
        if self.exit_code is not None:
            return
        self.exit_code, self.message = code, message
        self._poll.stop()
        self._next.stop()
        report = self.window.run.report
        verdict = f" (verdict: {report.verdict})" if report is not None else ""
        self.window.statusBar().showMessage(f"Autoplay finished: {message}{verdict}", 0)
        self.finished.emit(code)
