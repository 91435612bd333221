"""The GUI composition root: settings, secret store, task runner, sandbox controller and the main window."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Qt is imported lazily, so that the command line can check for a display first
    from PySide6.QtCore import QUrl
    from PySide6.QtWidgets import QApplication

    from cdp_poc_studio.cdp.secrets import SecretStore
    from cdp_poc_studio.targets.sandbox_process import SandboxOptions
    from cdp_poc_studio.ui.context import StudioContext
    from cdp_poc_studio.ui.dialogs import Dialogs
    from cdp_poc_studio.ui.main_window import MainWindow
    from cdp_poc_studio.workers.tasks import TaskRunner

NO_DISPLAY_MESSAGE = (
    "cdp-poc-studio: no display is available for the studio window (DISPLAY and WAYLAND_DISPLAY are not set).\n"
    "Run `cdp-poc-studio demo` for the whole loop on the command line, or use the other commands "
    "(`cdp-poc-studio --help`). To open the window on a headless machine, use a virtual display: "
    "xvfb-run -a cdp-poc-studio"
)
HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")


def display_problem(environ: dict[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why the window cannot open here, or None. Only Linux and the BSDs need a display server."""
    env = os.environ if environ is None else environ
    platform = platform or sys.platform
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").split(":", 1)[0]
    if qpa in HEADLESS_PLATFORMS:
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return NO_DISPLAY_MESSAGE


def create_main_window(
    *,
    settings_path: Path | None = None,
    runner: TaskRunner | None = None,
    dialogs: Dialogs | None = None,
    keyring_store: SecretStore | None = None,
    sandbox_options: SandboxOptions | None = None,
    autostart_sandbox: bool = True,
    preview_delay_ms: int = 400,
    runs_root: Path | None = None,
    open_url: Callable[[QUrl], bool] | None = None,
    batch_poll_seconds: float | None = None,
    run_in_child_process: bool = True,
) -> MainWindow:
    """Build the window and everything it needs. Tests pass their own runner, dialogs, stores and runs folder."""
    from cdp_poc_studio.cdp.requestlog import RequestLog
    from cdp_poc_studio.targets.credentials import StudioSecrets
    from cdp_poc_studio.targets.settings import SettingsStore
    from cdp_poc_studio.ui.context import StudioContext, open_in_desktop
    from cdp_poc_studio.ui.dialogs import QtDialogs
    from cdp_poc_studio.ui.document import ScenarioDocument
    from cdp_poc_studio.ui.main_window import MainWindow
    from cdp_poc_studio.ui.sandbox_controller import SandboxController
    from cdp_poc_studio.workers.tasks import TaskRunner as Runner

    # Job bodies run on worker threads in this process: a shorter GIL switch interval (default 5 ms) hands the
    # UI thread the interpreter sooner while a job computes, which keeps the heartbeat even.
    sys.setswitchinterval(0.001)
    store = SettingsStore(settings_path) if settings_path else SettingsStore.default()
    settings = store.load()
    if runs_root is not None:
        settings = settings.model_copy(update={"runs_folder": str(runs_root)})
    runner = runner or Runner()
    context = StudioContext(
        document=ScenarioDocument(),
        runner=runner,
        dialogs=dialogs or QtDialogs(),
        secrets=StudioSecrets(keyring_store),
        settings_store=store,
        sandbox=SandboxController(runner, sandbox_options),
        settings=settings,
        preview_delay_ms=preview_delay_ms,
        autostart_sandbox=autostart_sandbox,
        # The console keeps its own capped list; the log itself only needs the latest few.
        request_log=RequestLog(maxlen=200),
        open_url=open_url or open_in_desktop,
        batch_poll_seconds=batch_poll_seconds,
        run_in_child_process=run_in_child_process,
    )
    _adopt_left_sandbox(context)
    return MainWindow(context)


def _adopt_left_sandbox(context: StudioContext) -> None:
    """A sandbox an earlier window left running for a run that went on is taken back, before anything could start a
    second one on the same database."""
    from cdp_poc_studio.roundtrip.live_run import live_runs

    for status in live_runs(context.runs_root):
        handover = status.live.claim_sandbox()
        if handover is not None:
            context.sandbox.adopt(handover)
            return


def _application(argv: list[str]) -> QApplication:
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv)
    app.setApplicationName("CDP PoC Studio")
    app.setOrganizationName("cdp-poc-studio")
    app.setApplicationDisplayName("CDP PoC Studio")
    # Fusion follows the system's light or dark colour scheme in Qt 6 and looks the same on every platform.
    app.setStyle("Fusion")
    return app


def run_gui(
    scenario: Path | None = None,
    argv: list[str] | None = None,
    *,
    autoplay: str | None = None,
    screenshots: Path | None = None,
    exit_when_done: bool = False,
    pace: float = 3.0,
) -> int:
    """Open the studio window (on `scenario` if given) and run until it closes; returns the exit status.

    With `autoplay`, the window plays the whole loop on its own on a fresh embedded sandbox; with
    `exit_when_done` it then quits with `cdp-poc-studio run`'s exit code.
    """
    app = _application(argv or sys.argv[:1])
    if autoplay is None:
        from PySide6.QtCore import QTimer

        window = create_main_window()
        if scenario is not None:
            window.open_scenario(scenario)
        window.show()
        # A run the studio was closed on (or that crashed) is offered for resuming once the window is up.
        QTimer.singleShot(0, window.offer_resume)
        status = int(app.exec())
        _tear_down(window)
        return status

    from cdp_poc_studio.targets.sandbox_process import SandboxOptions
    from cdp_poc_studio.ui.autoplay import Autoplay

    # A throwaway sandbox, as for `cdp-poc-studio demo`: the demo starts clean and leaves nothing behind.
    window = create_main_window(sandbox_options=SandboxOptions(db_path=":memory:"), autostart_sandbox=False)
    if screenshots is not None:
        window.resize(1400, 900)
    window.show()
    player = Autoplay(window, autoplay, pace=pace, screenshots=screenshots, parent=window)
    outcome: list[int] = []

    def finished(code: int) -> None:
        outcome.append(code)
        print(f"autoplay: {player.message} (exit code {code})", file=sys.stderr)
        if exit_when_done:
            window.document.set_modified(False)
            window.close()
            app.exit(code)

    player.finished.connect(finished)
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, player.start)
    status = int(app.exec())
    player.deleteLater()
    _tear_down(window)
    return outcome[0] if exit_when_done and outcome else status


def _tear_down(window: MainWindow) -> None:
    """Delete the window and collect its Python wrappers while Qt still runs, not in the interpreter's final
    garbage collection: left to that, PySide6 6.12 aborted now and then (a refcount error on exit) after long runs."""
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    window.shutdown()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    del window
    gc.collect()
