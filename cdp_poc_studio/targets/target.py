"""Opening a run's target for the command line: the embedded sandbox as a child process, or a saved tenant profile.

Qt-free. Tenant profiles are the studio's (names, regions and client keys in its settings file); their secrets
come from the OS keyring or the environment, never from a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import SecretStr

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.secrets import SANDBOX_CREDENTIALS
from cdp_poc_studio.roundtrip.pipeline import Target
from cdp_poc_studio.roundtrip.run_folder import RunState
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from cdp_poc_studio.targets.sandbox_process import SandboxOptions, SandboxProcess


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
    """A real tenant from the studio's saved profiles, with its secrets from the environment or the OS keyring.

    The same store as the studio's Connect page: the profile (region or URL, client key, OAuth client id) from
    its settings file, the API token and OAuth client secret from `CDP_API_TOKEN` / `CDP_OAUTH_CLIENT_SECRET` or
    the keyring entries the page wrote. Secrets kept "for this session only" in the studio are not reachable here.
    """
    from pydantic import ValidationError

    from cdp_poc_studio.cdp.secrets import (
        ENV_VARS,
        ChainSecretStore,
        EnvSecretStore,
        KeyringSecretStore,
        SecretName,
        load_credentials,
    )
    from cdp_poc_studio.domain.errors import SecretStoreUnavailable
    from cdp_poc_studio.targets.settings import SettingsStore

    saved = SettingsStore.default().load().profile(name)
    if saved is None:
        raise TargetError(
            f"no connection profile named {name!r}: create it on the studio's Connect page, or use --target sandbox"
        )
    try:
        profile = saved.connection_profile()
    except ValidationError:
        raise TargetError(f"profile {name!r} has no URL yet: enter it on the studio's Connect page") from None
    try:
        stored = load_credentials(ChainSecretStore(EnvSecretStore(), KeyringSecretStore()), name)
    except SecretStoreUnavailable as exc:
        raise TargetError(f"profile {name!r}: {exc}") from None
    if stored.api_token is None:
        raise TargetError(
            f"no API token for profile {name!r}: store it on the studio's Connect page (OS keyring) or set "
            f"{ENV_VARS[SecretName.API_TOKEN]}"
        )
    credentials = stored.model_copy(
        update={
            # The identifiers saved with the profile win over the environment's, which serve every profile.
            "client_key": SecretStr(saved.client_key) if saved.client_key else stored.client_key,
            "oauth_client_id": SecretStr(saved.oauth_client_id) if saved.oauth_client_id else stored.oauth_client_id,
        }
    )
    with CdpConnection(profile, credentials) as connection:
        yield Target(connection, f"CDP tenant {name!r} at {profile.api_base_url}", "profile", profile=name)


def reopen_target(state: RunState) -> AbstractContextManager[Target]:
    """The target a run folder's run went to, for `resume` and `cleanup`; TargetError when it cannot be reached."""
    if state.target_kind == "sandbox":
        if not state.sandbox_db or state.sandbox_db == ":memory:":
            raise TargetError("this run went to a throwaway sandbox (a demo): its data is gone")
        return sandbox_target(state.sandbox_db, state.sandbox_snapshot or "immediate")
    return profile_target(state.profile or "")
