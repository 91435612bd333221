"""What every page needs, built once by the composition root (`app.py`) and passed down; no globals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from cdp_poc_studio.cdp.requestlog import RequestLog
from cdp_poc_studio.targets.credentials import StudioSecrets
from cdp_poc_studio.targets.settings import SettingsStore, StudioSettings
from cdp_poc_studio.ui.dialogs import Dialogs
from cdp_poc_studio.ui.document import ScenarioDocument
from cdp_poc_studio.ui.sandbox_controller import SandboxController
from cdp_poc_studio.workers.tasks import TaskRunner


def open_in_desktop(url: QUrl) -> bool:
    return bool(QDesktopServices.openUrl(url))


@dataclass
class StudioContext:
    document: ScenarioDocument
    runner: TaskRunner
    dialogs: Dialogs
    secrets: StudioSecrets
    settings_store: SettingsStore
    sandbox: SandboxController
    settings: StudioSettings = field(default_factory=StudioSettings)
    # Debounce of the live preview, in milliseconds; tests set 0.
    preview_delay_ms: int = 400
    # Start the embedded sandbox when the Connect page shows it (the app does; most tests do not).
    autostart_sandbox: bool = False
    # Every HTTP call the studio makes (connection tests and runs), secrets masked: the request console's source.
    request_log: RequestLog = field(default_factory=lambda: RequestLog(maxlen=2000))
    # Opens a URL in the browser; tests inject a recorder, so that no browser opens.
    open_url: Callable[[QUrl], bool] = open_in_desktop
    # Batch status polling, in seconds (None: the client's own back-off); tests poll fast.
    batch_poll_seconds: float | None = None
    # Run the round trip in a process of its own, so that it never shares the window's interpreter lock (the app
    # does; most tests run it as a job on their serial runner, to have its outcome when the click returns).
    run_in_child_process: bool = False
    # How long a connection test waits for the target before it gives up (each request, and the page's timer).
    check_timeout_seconds: float = 20.0

    def update_settings(self, **changes: object) -> None:
        self.settings = self.settings.model_copy(update=changes)

    def save_settings(self) -> str | None:
        """Write the settings; returns why not, when they could not be written."""
        try:
            self.settings_store.save(self.settings)
        except OSError as exc:
            return f"settings not saved: {exc}"
        return None

    @property
    def runs_root(self) -> Path:
        return self.settings.runs_root()
