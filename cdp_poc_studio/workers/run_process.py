"""A round trip in its own process (`workers.run_child`), observed from the UI thread through a QProcess.

The child's JSON lines arrive on the UI thread's event loop as `readyReadStandardOutput`; each is parsed into a
signal. Nothing here waits on the child, so the window never stalls on the run, however large.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from cdp_poc_studio.domain.progress import StageEvent
from cdp_poc_studio.roundtrip.scenario import Scenario, dump_scenario
from cdp_poc_studio.targets.target import TargetPlan
from cdp_poc_studio.workers.run_child import plan_environment

STDERR_KEPT = 4000


class RunProcess(QObject):
    """One child run: a new one (`start_new`) or a resumed run folder (`start_resume`).

    Signals:
        folder_known(str): the run folder the child writes.
        progressed(object): a StageEvent.
        http_error(str): a call failed with this status ("no answer" when there was none).
        ended(str, str): "finished", "failed" or "cancelled", and the error for a failure; always last.
    """

    folder_known = Signal(str)
    progressed = Signal(object)
    http_error = Signal(str)
    ended = Signal(str, str)

    def __init__(self, plan: TargetPlan, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._plan = plan
        self._buffer = b""
        self._stderr = b""
        self._outcome: tuple[str, str] | None = None
        self._cancelled = False
        self._ended = False
        self.process = QProcess(self)
        self.process.readyReadStandardOutput.connect(self._on_stdout)
        self.process.readyReadStandardError.connect(self._on_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)

    @property
    def pid(self) -> int:
        return int(self.process.processId())

    @property
    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def start_new(self, scenario: Scenario, runs_root: Path) -> None:
        self._start({"new": {"scenario": dump_scenario(scenario), "runs_root": str(runs_root)}})

    def start_resume(self, folder: Path) -> None:
        self._start({"resume": str(folder)})

    def _start(self, job: dict[str, object]) -> None:
        env = QProcessEnvironment.systemEnvironment()
        for name, value in plan_environment(self._plan).items():
            env.insert(name, value)  # secrets travel in the environment only, never as arguments
        self.process.setProcessEnvironment(env)
        self.process.start(sys.executable, ["-m", "cdp_poc_studio.workers.run_child"])
        self.process.write(orjson.dumps(job) + b"\n")

    def cancel(self) -> None:
        """Ask the child to stop; it ends the current step and leaves the run folder resumable."""
        if self.running and not self._cancelled:
            self._cancelled = True
            self.process.write(b'"cancel"\n')

    def wait(self, msecs: int) -> bool:
        """Block until the child has exited (closing the window, tests); True when it has."""
        if not self.running:
            return True
        done = self.process.waitForFinished(msecs)
        self._on_stdout()
        return done

    def _on_stdout(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self._handle(orjson.loads(line))

    def _handle(self, message: dict[str, object]) -> None:
        if "event" in message:
            self.progressed.emit(StageEvent.model_validate(message["event"]))
        elif "http_error" in message:
            self.http_error.emit(str(message["http_error"]))
        elif "folder" in message:
            self.folder_known.emit(str(message["folder"]))
        elif "outcome" in message:
            self._outcome = (str(message["outcome"]), str(message.get("error") or ""))

    def _on_stderr(self) -> None:
        self._stderr = (self._stderr + bytes(self.process.readAllStandardError().data()))[-STDERR_KEPT:]

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._end("failed", f"the run could not start a process for itself: {self.process.errorString()}")

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._on_stdout()
        if self._outcome is not None:
            self._end(*self._outcome)
            return
        if self._cancelled:
            self._end("cancelled", "")
            return
        last = self._stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        self._end("failed", f"the run's process ended unexpectedly (exit code {code}): {last[0]}")

    def _end(self, outcome: str, error: str) -> None:
        if self._ended:
            return
        self._ended = True
        self.ended.emit(outcome, error)
