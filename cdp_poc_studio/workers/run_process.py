"""A round trip in its own process (`workers.run_child`), followed from the UI thread through its channel file.

The child is started detached from the window (`QProcess.startDetached`: its own session, no pipes, not the
window's child), so that closing the window can leave it going. It writes its messages to
`<runs root>/.live/<id>.ndjson` (`roundtrip.live_run`), which a timer on the UI thread reads a chunk at a time and
turns into signals. A window opened later follows the same run by attaching to its channel. Nothing here waits on
the child, so the window never stalls on the run, however large.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from cdp_poc_studio.domain.progress import StageEvent
from cdp_poc_studio.roundtrip.live_run import (
    ChannelReader,
    LiveRun,
    LiveStatus,
    ProcessId,
    SandboxHandover,
    starting,
)
from cdp_poc_studio.roundtrip.scenario import Scenario, dump_scenario
from cdp_poc_studio.targets.target import TargetPlan
from cdp_poc_studio.workers.run_child import plan_environment

POLL_MSECS = 100


class RunProcess(QObject):
    """One run in its own process: started here (`start_new`, `start_resume`) or already going (`attach`).

    Signals:
        folder_known(str): the run folder the child writes.
        progressed(object): a StageEvent.
        http_errors(list): calls that failed since the last signal, by status ("no answer" when there was none).
        ended(str, str): "finished", "failed" or "cancelled", and the error for a failure; always last.

    What a poll reads is passed on coalesced, in order: a stage's consecutive events as the latest of them, and
    consecutive failed calls as one list. A window re-attaching to a long run catches up in a few signals, not in
    thousands of repaints.
    """

    folder_known = Signal(str)
    progressed = Signal(object)
    http_errors = Signal(list)
    ended = Signal(str, str)

    def __init__(self, runs_root: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._root = runs_root
        self.live: LiveRun | None = None
        self._process: ProcessId | None = None
        self._reader: ChannelReader | None = None
        self._outcome: tuple[str, str] | None = None
        self._cancelled = False
        self._ended = False
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MSECS)
        self._timer.timeout.connect(self.poll)

    @classmethod
    def attach(cls, status: LiveStatus, parent: QObject | None = None) -> RunProcess:
        """Follow a run another window started (and left going), from the start of its channel."""
        child = cls(status.live.root, parent)
        child.live, child._process = status.live, status.process
        child._reader = ChannelReader(status.live.channel)
        child._timer.start()
        return child

    @property
    def pid(self) -> int | None:
        """The run's process id, once its process has written it (a moment after starting)."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        if self._process is not None:
            return self._process.alive()
        return self.live is not None and starting(self.live)

    def start_new(self, plan: TargetPlan, scenario: Scenario) -> None:
        self._start(plan, {"new": {"scenario": dump_scenario(scenario), "runs_root": str(self._root)}})

    def start_resume(self, plan: TargetPlan, folder: Path) -> None:
        self._start(plan, {"resume": str(folder)})

    def _start(self, plan: TargetPlan, job: dict[str, object]) -> None:
        try:
            live = self.live = LiveRun.new(self._root)
            live.write_job(job)
        except OSError as exc:  # a full disk, or a runs folder that cannot be written
            self._end("failed", f"the run could not be started: {exc}. Free some space, or make the runs folder "
                                f"{self._root} writable")  # fmt: skip
            return
        process = QProcess()
        environment = QProcessEnvironment.systemEnvironment()
        for name, value in plan_environment(plan).items():
            environment.insert(name, value)  # secrets travel in the environment only, never as arguments or files
        process.setProcessEnvironment(environment)
        process.setProgram(sys.executable)
        process.setArguments(["-m", "cdp_poc_studio.workers.run_child", str(self._root), live.id])
        process.setStandardErrorFile(str(live.stderr_file))
        # Its process id comes as the first line of its channel (this binding of startDetached does not return it).
        if not process.startDetached():
            live.remove()
            self._end("failed", f"the run could not start a process for itself: {process.errorString()}")
            return
        self._reader = ChannelReader(live.channel)
        self._timer.start()

    def cancel(self) -> None:
        """Ask the child to stop; it ends the current step and leaves the run folder resumable."""
        if self.live is not None and not self._cancelled and not self._ended:
            self._cancelled = True
            self.live.request_cancel()

    def wait(self, msecs: int) -> bool:
        """Block until the child has exited and its outcome is passed on (closing the window); True when it has.

        It reads the channel meanwhile: the child's process id may still be in it, unread.
        """
        deadline = time.monotonic() + msecs / 1000
        while not self._ended and time.monotonic() < deadline:
            self.poll()
            if not self._ended:
                time.sleep(0.05)
        return self._ended or not self.running

    def kill(self) -> None:
        if self._process is not None:
            self._process.stop(grace=0.0)

    def detach(self, sandbox: SandboxHandover | None) -> bool:
        """Stop following the run and leave it going; with `sandbox`, the run stops that sandbox when it ends.

        Returns whether the sandbox was handed over: not when the run has already ended (its process would never
        see it), in which case the window stops its sandbox itself.
        """
        self._timer.stop()
        self._ended = True
        live = self.live
        if live is None or sandbox is None:
            return False
        live.record_sandbox(sandbox)
        # The child writes its outcome before it looks for a handed-over sandbox: no outcome yet means it will.
        if self._outcome is None and not any("outcome" in m for m in self._drain()) and self.running:
            return True
        return live.claim_sandbox() is None  # the child took it first: it stops it

    def _drain(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        if self._reader is not None:
            while batch := self._reader.read():
                messages += batch
        return messages

    def poll(self) -> None:
        """Take what the child wrote since the last poll; end once it has exited and everything is read."""
        if self._reader is None or self._ended:
            return
        self._pass_on(self._reader.read())
        if self._ended or self.running:
            return
        self._pass_on(self._drain())  # the last lines, written just before it exited
        self._finish()

    def _pass_on(self, messages: list[dict[str, Any]]) -> None:
        event: StageEvent | None = None  # the latest of consecutive events of one stage, not yet passed on
        errors: list[str] = []  # consecutive failed calls, not yet passed on
        for message in messages:
            if "event" in message:
                if errors:
                    self.http_errors.emit(errors)
                    errors = []
                latest = StageEvent.model_validate(message["event"])
                if event is not None and event.stage != latest.stage:
                    self.progressed.emit(event)
                event = latest
                continue
            if event is not None:
                self.progressed.emit(event)
                event = None
            if "http_error" in message:
                errors.append(str(message["http_error"]))
                continue
            if errors:
                self.http_errors.emit(errors)
                errors = []
            if "folder" in message:
                self.folder_known.emit(str(message["folder"]))
            elif "process" in message and self._process is None:
                self._process = ProcessId.from_json(message["process"])
            elif "outcome" in message:
                self._outcome = (str(message["outcome"]), str(message.get("error") or ""))
        if event is not None:
            self.progressed.emit(event)
        if errors:
            self.http_errors.emit(errors)

    def _finish(self) -> None:
        if self._outcome is not None:
            self._end(*self._outcome)
        elif self._cancelled:
            self._end("cancelled", "")
        else:
            self._end("failed", f"the run's process ended unexpectedly: {self._last_error_line()}")
        if self.live is not None:
            self.live.remove()

    def _last_error_line(self) -> str:
        try:
            text = self.live.stderr_file.read_bytes()[-4000:].decode(errors="replace") if self.live else ""
        except OSError:
            text = ""
        lines = [line for line in text.strip().splitlines() if line.strip()]
        return lines[-1] if lines else "no message"

    def _end(self, outcome: str, error: str) -> None:
        if self._ended:
            return
        self._ended = True
        self._timer.stop()
        self.ended.emit(outcome, error)
