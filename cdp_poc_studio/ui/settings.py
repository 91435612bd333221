"""Studio settings between runs: window geometry, last folder, last profile, recent files, connection profiles.

Saved as JSON in the user config folder, holding only what differs from the defaults, and never a secret. A file
that cannot be read or parsed is set aside (renamed `*.corrupt`) and the defaults are used; a single bad value is
dropped and the rest kept.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

log = logging.getLogger(__name__)

Region = Literal["EU", "US", "AP", "JPE", "custom"]
REGION_URLS: dict[str, str] = {
    "EU": "https://api-engage-eu.sitecorecloud.io",
    "US": "https://api-engage-us.sitecorecloud.io",
    "AP": "https://api-engage-ap.sitecorecloud.io",
    "JPE": "https://api-engage-jpe.sitecorecloud.io",
}
OAUTH_TOKEN_URL = "https://auth.sitecorecloud.io/oauth/token"
MAX_RECENT = 8


class ConnectionProfile(BaseModel):
    """A real tenant. Identifiers only: the API token and the OAuth secret live in the SecretStore."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=64)
    region: Region = "EU"
    custom_url: str = ""
    client_key: str = ""
    oauth_client_id: str = ""

    @property
    def base_url(self) -> str:
        return self.custom_url.rstrip("/") if self.region == "custom" else REGION_URLS[self.region]

    @property
    def token_url(self) -> str:
        # A custom URL (a proxy, or the sandbox under another name) serves its own token endpoint.
        return f"{self.base_url}/oauth/token" if self.region == "custom" else OAUTH_TOKEN_URL

    @field_validator("custom_url")
    @classmethod
    def _http(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("the URL must start with https://")
        return value


class StudioSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    geometry: str = ""  # QByteArray of saveGeometry(), base64
    window_state: str = ""
    last_folder: str = ""
    last_profile: str = ""
    recent_files: list[str] = []
    profiles: list[ConnectionProfile] = []
    preview_size: int = Field(default=50, ge=20, le=100)

    def with_recent(self, path: Path) -> StudioSettings:
        entry = str(path)
        recent = [entry, *(p for p in self.recent_files if p != entry)][:MAX_RECENT]
        return self.model_copy(update={"recent_files": recent, "last_folder": str(path.parent)})

    def profile(self, name: str) -> ConnectionProfile | None:
        return next((p for p in self.profiles if p.name == name), None)


class SettingsStore:
    """Loads and saves `StudioSettings` at one path; `problem` says why the last load fell back to defaults."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: str | None = None

    @classmethod
    def default(cls) -> SettingsStore:
        from platformdirs import user_config_dir

        return cls(Path(user_config_dir("cdp-poc-studio")) / "settings.json")

    def load(self) -> StudioSettings:
        self.problem = None
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return StudioSettings()
        except (OSError, UnicodeDecodeError) as exc:
            return self._set_aside(f"cannot be read ({exc})")
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            return self._set_aside(f"is not valid JSON ({exc})")
        if not isinstance(data, dict):
            return self._set_aside("does not hold a JSON object")
        try:
            return StudioSettings.model_validate(data)
        except ValidationError as exc:
            # Keep every value that is fine; drop only the keys at fault.
            bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
            self.problem = f"{self.path}: ignored bad value(s) for {', '.join(sorted(bad))}"
            log.warning("%s", self.problem)
            kept = {k: v for k, v in data.items() if k not in bad}
            try:
                return StudioSettings.model_validate(kept)
            except ValidationError:
                return self._set_aside("holds values this version cannot read")

    def _set_aside(self, why: str) -> StudioSettings:
        aside = self.path.with_name(self.path.name + ".corrupt")
        try:
            self.path.replace(aside)
            self.problem = f"the settings file {self.path} {why}; it was set aside as {aside.name} and defaults used"
        except OSError:
            self.problem = f"the settings file {self.path} {why}; defaults used"
        log.warning("%s", self.problem)
        return StudioSettings()

    def save(self, settings: StudioSettings) -> None:
        """Write only what differs from the defaults, atomically."""
        data = settings.model_dump(mode="json", exclude_defaults=True)
        text = json.dumps(data, indent=2, sort_keys=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(text + "\n", encoding="utf-8")
        temporary.replace(self.path)
