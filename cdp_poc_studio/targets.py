"""Opening a run's target for the command line: the embedded sandbox as a child process, or a saved tenant profile.

Qt-free. Tenant profiles are the studio's (names, regions and client keys in its settings file); their secrets
come from the OS keyring or the environment, never from a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import platformdirs

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.secrets import SANDBOX_CREDENTIALS, Credentials
from cdp_poc_studio.roundtrip.pipeline import Target
from cdp_poc_studio.sandbox_admin import SandboxAdmin
from cdp_poc_studio.sandbox_process import SandboxOptions, SandboxProcess


class TargetError(ValueError):
    """The target cannot be opened; the message says what to do."""


def default_sandbox_db() -> Path:
    return Path(platformdirs.user_data_dir("cdp-poc-studio")) / "sandbox.db"


@contextmanager
def sandbox_target(db: str, snapshot: Literal["immediate", "nightly"] = "immediate") -> Iterator[Target]:
    """The embedded sandbox in a child process for as long as the block runs."""
    if db != ":memory:":
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    process = SandboxProcess(SandboxOptions(db_path=db, snapshot=snapshot))
    url = process.start()
    try:
        with CdpConnection(ConnectionProfile.sandbox(url), SANDBOX_CREDENTIALS) as connection:
            yield Target(
                connection,
                f"embedded sandbox at {url} ({snapshot} snapshot)",
                "sandbox",
                admin=SandboxAdmin(url),
                nightly_snapshot=snapshot == "nightly",
            )
    finally:
        process.stop()


@contextmanager
def profile_target(name: str) -> Iterator[Target]:
    """A real tenant from the studio's saved profiles, with its secrets from the keyring or environment."""
    from cdp_poc_studio.ui.secrets import EnvSecretStore, StudioSecrets
    from cdp_poc_studio.ui.settings import SettingsStore

    saved = SettingsStore.default().load().profile(name)
    if saved is None:
        raise TargetError(
            f"no connection profile named {name!r}: create it on the studio's Connect page, or use --target sandbox"
        )
    secrets = StudioSecrets()
    api_token, _ = secrets.get(name, "api_token")
    oauth_secret, _ = secrets.get(name, "oauth_client_secret")
    if api_token is None:
        raise TargetError(
            f"no API token for profile {name!r}: store it on the studio's Connect page (OS keyring) or set "
            f"{EnvSecretStore.variable(name, 'api_token')}"
        )
    credentials = Credentials.of(
        saved.client_key or None,
        api_token.get_secret_value(),
        saved.oauth_client_id or None,
        oauth_secret.get_secret_value() if oauth_secret else None,
    )
    if saved.region == "custom":
        profile = ConnectionProfile.custom(saved.base_url, name=name, token_url=saved.token_url)
    else:
        profile = ConnectionProfile.tenant(saved.region, name=name)
    with CdpConnection(profile, credentials) as connection:
        yield Target(connection, f"CDP tenant {name!r} at {profile.api_base_url}", "profile", profile=name)
