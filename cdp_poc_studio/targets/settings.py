"""Studio settings between runs: window geometry, last folder, last profile, recent files, connection profiles.

Saved as JSON in the user config folder, holding only what differs from the defaults, and never a secret. A file
that cannot be read or parsed is set aside (renamed `*.corrupt`) and the defaults are used; a single bad value is
dropped and the rest kept.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cdp_poc_studio.cdp.profiles import REGION_BASE_URLS, ConnectionProfile, Region

log = logging.getLogger(__name__)

REGION_URLS: dict[str, str] = {region.value: url for region, url in REGION_BASE_URLS.items()}
MAX_RECENT = 8
RegionChoice = Literal["EU", "US", "AP", "JPE", "custom"]


class SavedProfile(BaseModel):
    """A real tenant as saved in the settings: a `cdp.profiles.ConnectionProfile` plus two identifiers.

    The fields `name, kind, region, base_url, token_url` are the client layer's own (so the saved JSON is its
    data), with `client_key` and `oauth_client_id` kept beside them: identifiers, not secrets. The API token and
    the OAuth client secret live only in a SecretStore (OS keyring, environment or this session).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    kind: Literal["tenant", "custom"] = "tenant"
    region: Region | None = Region.EU
    base_url: str | None = None
    token_url: str | None = None
    client_key: str = ""
    oauth_client_id: str = ""

    @model_validator(mode="before")
    @classmethod
    def _from_part_one(cls, data: Any) -> Any:
        """Settings written before the client layer existed said `region = "custom"` and `custom_url`."""
        if isinstance(data, dict) and ("custom_url" in data or data.get("region") == "custom"):
            data = dict(data)
            url = data.pop("custom_url", "") or None
            if data.get("region") == "custom":
                data.update(kind="custom", region=None, base_url=url)
        return data

    @field_validator("base_url", "token_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        value = (value or "").strip().rstrip("/")
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("the URL must start with https://")
        return value or None

    @property
    def choice(self) -> RegionChoice:
        """What the Connect page's region box shows: a region, or custom."""
        if self.kind == "custom" or self.region is None:
            return "custom"
        return self.region.value

    @property
    def api_base_url(self) -> str | None:
        """The API host, or None while a custom profile has no URL yet."""
        if self.kind == "custom":
            return self.base_url
        return REGION_BASE_URLS[self.region or Region.EU]

    def connection_profile(self) -> ConnectionProfile:
        """The client layer's profile; raises ValueError (pydantic's ValidationError) when incomplete."""
        data = self.model_dump(include={"name", "kind", "region", "base_url", "token_url"}, exclude_none=True)
        if self.kind == "tenant":
            data.pop("base_url", None)
        return ConnectionProfile.model_validate(data)

    @classmethod
    def of_choice(cls, name: str, choice: str, url: str = "", **identifiers: str) -> SavedProfile:
        if choice == "custom":
            return cls(name=name, kind="custom", region=None, base_url=url or None, **identifiers)
        return cls(name=name, kind="tenant", region=Region(choice), **identifiers)


class StudioSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    geometry: str = ""  # QByteArray of saveGeometry(), base64
    window_state: str = ""
    last_folder: str = ""
    last_profile: str = ""
    recent_files: list[str] = []
    profiles: list[SavedProfile] = []
    # Where run folders are made; empty: the user data folder's `runs`.
    runs_folder: str = ""
    preview_size: int = Field(default=50, ge=20, le=100)

    def with_recent(self, path: Path) -> StudioSettings:
        entry = str(path)
        recent = [entry, *(p for p in self.recent_files if p != entry)][:MAX_RECENT]
        return self.model_copy(update={"recent_files": recent, "last_folder": str(path.parent)})

    def runs_root(self) -> Path:
        """Where run folders are made: the chosen folder, else `runs` in the user data folder."""
        if self.runs_folder:
            return Path(self.runs_folder)
        from platformdirs import user_data_dir

        return Path(user_data_dir("cdp-poc-studio")) / "runs"

    def profile(self, name: str) -> SavedProfile | None:
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
