"""The embedded sandbox as the studio sees it: a child process started and stopped through jobs, with a status.

The sandbox's own credentials are fixed and local (it only listens on loopback); they prefill the Connect page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import psutil
from PySide6.QtCore import QObject, Signal

from cdp_poc_studio.cdp.http import tls_verify
from cdp_poc_studio.domain.progress import CancelToken
from cdp_poc_studio.roundtrip.live_run import ProcessId, SandboxHandover
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from cdp_poc_studio.targets.sandbox_process import SandboxOptions, SandboxProcess, SnapshotMode, default_sandbox_db
from cdp_poc_studio.workers.tasks import Report, TaskRunner


class _AdoptedSandbox:
    """A sandbox process this window did not start (left running by an earlier one): stopped by its process id."""

    def __init__(self, handover: SandboxHandover) -> None:
        self.handover = handover
        self.certificate = handover.certificate

    @property
    def pid(self) -> int:
        return self.handover.process.pid

    def stop(self) -> None:
        self.handover.process.stop()


State = Literal["stopped", "starting", "running", "stopping", "failed"]


class SandboxController(QObject):
    """Starts and stops the sandbox child process without blocking the UI thread.

    Signals:
        state_changed(str): stopped, starting, running, stopping or failed; `detail` says more.
    """

    state_changed = Signal(str)

    def __init__(
        self,
        runner: TaskRunner,
        options: SandboxOptions | None = None,
        *,
        process_factory: Callable[[SandboxOptions], Any] = SandboxProcess,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.options = options or SandboxOptions(db_path=default_sandbox_db())
        self._factory = process_factory
        self._process: Any = None
        self.state: State = "stopped"
        self.detail = "not started"
        self.base_url: str | None = None
        # Faults to put back after a restart: the admin API keeps them only in the running process.
        self.fault_specs: list[str] = []
        # Runs sent to this sandbox process since it started: an in-memory sandbox forgets them when it stops.
        self.session_runs: set[str] = set()

    @property
    def running_snapshot(self) -> SnapshotMode | None:
        return self.options.snapshot if self.state == "running" else None

    @property
    def certificate(self) -> str | None:
        """The self-signed certificate of the running HTTPS sandbox (its clients trust it); None over HTTP."""
        if self.state != "running" or self._process is None:
            return None
        certificate: str | None = getattr(self._process, "certificate", None)
        return certificate

    def admin(self) -> SandboxAdmin | None:
        """The running sandbox's admin API, trusting its certificate over HTTPS; None when it is not running."""
        if not self.base_url:
            return None
        return SandboxAdmin(self.base_url, verify=tls_verify(True, self.certificate))

    def _set(self, state: State, detail: str) -> None:
        if state in ("stopped", "failed"):
            self.session_runs.clear()
        self.state, self.detail = state, detail
        self.state_changed.emit(state)

    def start(self, snapshot: SnapshotMode | None = None) -> None:
        if self.state in ("starting", "running", "stopping"):
            return
        if snapshot is not None:
            self.options.snapshot = snapshot
        self.options.faults = list(self.fault_specs)
        process = self._factory(self.options)
        self._process = process
        self._set("starting", "starting the sandbox…")

        def body(_report: Report, _cancel: CancelToken) -> str:
            url: str = process.start()
            return url

        def done(url: str) -> None:
            self.base_url = url
            self._set("running", f"running at {url} ({self.options.snapshot} snapshot)")

        def failed(exc: BaseException) -> None:
            self.base_url = None
            self._process = None
            self._set("failed", f"did not start: {exc}")

        self.runner.submit(body, name="sandbox-start", on_success=done, on_failure=failed)

    def stop(self, then: Callable[[], None] | None = None) -> None:
        process = self._process
        if process is None or self.state not in ("running", "failed"):
            if then is not None:
                then()
            return
        self._set("stopping", "stopping the sandbox…")

        def body(_report: Report, _cancel: CancelToken) -> Any:
            return process.stop()

        def done(_code: Any) -> None:
            self._process = None
            self.base_url = None
            self._set("stopped", "stopped")
            if then is not None:
                then()

        def failed(exc: BaseException) -> None:
            self._set("failed", f"did not stop cleanly: {exc}")

        self.runner.submit(body, name="sandbox-stop", on_success=done, on_failure=failed)

    def restart(self, snapshot: SnapshotMode | None = None) -> None:
        self.stop(then=lambda: self.start(snapshot))

    def handover(self, window: ProcessId | None = None) -> SandboxHandover | None:
        """The running sandbox as a run in its own process records it: owned by `window` (this studio's process)
        while it follows the run, by nobody once it has left the run going; None when the sandbox is not running."""
        process = self._process
        pid = getattr(process, "pid", None)
        if self.state != "running" or not self.base_url or not pid:
            return None
        try:
            identity = ProcessId.of(pid)
        except psutil.Error:
            return None
        return SandboxHandover(identity, self.base_url, self.options.db_path, self.options.snapshot, self.certificate,
                               window)  # fmt: skip

    def release(self) -> None:
        """Forget the sandbox process without stopping it: a run left going owns it now."""
        disown = getattr(self._process, "disown", None)
        if disown is not None:
            disown()
        self._process = None
        self.base_url = None
        self.state, self.detail = "stopped", "left running for a run that goes on without the studio"

    def adopt(self, handover: SandboxHandover) -> None:
        """Take over a sandbox left running for a run (`release` in an earlier window) instead of starting one."""
        self._process = _AdoptedSandbox(handover)
        self.base_url = handover.base_url
        self.options.db_path = handover.db_path
        self.options.snapshot = "nightly" if handover.snapshot == "nightly" else "immediate"
        self._set("running", f"running at {handover.base_url} (kept running for a run while the studio was closed)")

    def stop_now(self) -> None:
        """On quit: stop synchronously (SIGTERM, then kill), whatever the state."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        self.base_url = None
        if self.state != "stopped":
            self._set("stopped", "stopped")
