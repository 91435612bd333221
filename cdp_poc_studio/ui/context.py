"""What every page needs, built once by the composition root (`app.py`) and passed down; no globals."""

from __future__ import annotations

from dataclasses import dataclass, field

from cdp_poc_studio.ui.dialogs import Dialogs
from cdp_poc_studio.ui.document import ScenarioDocument
from cdp_poc_studio.ui.sandbox_controller import SandboxController
from cdp_poc_studio.ui.secrets import StudioSecrets
from cdp_poc_studio.ui.settings import SettingsStore, StudioSettings
from cdp_poc_studio.workers.tasks import TaskRunner


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

    def update_settings(self, **changes: object) -> None:
        self.settings = self.settings.model_copy(update=changes)

    def save_settings(self) -> str | None:
        """Write the settings; returns why not, when they could not be written."""
        try:
            self.settings_store.save(self.settings)
        except OSError as exc:
            return f"settings not saved: {exc}"
        return None
