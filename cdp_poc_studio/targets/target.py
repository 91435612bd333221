"""A run's target, opened the same way by the command line and the studio.

A `TargetPlan` is everything needed to open the target on any thread (where, with which credentials, how to
describe it, how often to poll a batch); `TargetPlan.open()` yields a `Target` for as long as the block runs.
The command line starts the embedded sandbox as a child process (`sandbox_target`) or opens a saved tenant
profile (`profile_target`); the studio plans against the sandbox its Connect page runs and against its own
secret store. Qt-free. Tenant profiles are the studio's (names, regions and client keys in its settings file);
their secrets come from the OS keyring or the environment, never from a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, ValidationError

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.http import tls_verify
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.requestlog import RequestLog
from cdp_poc_studio.cdp.secrets import ENV_VARS, LABELS, SANDBOX_CREDENTIALS, Credentials, SecretName
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from cdp_poc_studio.targets.sandbox_process import SandboxOptions, SandboxProcess, SnapshotMode, default_sandbox_db
from cdp_poc_studio.targets.settings import SavedProfile

__all__ = ["Target", "TargetError", "TargetPlan", "default_sandbox_db"]

TargetKind = Literal["sandbox", "profile"]
# The sandbox processes a batch file in milliseconds: ask for its status every half second, not at CDP's pace.
SANDBOX_BATCH_POLL_SECONDS = 0.5


class TargetError(ValueError):
    """The target cannot be opened; the message says what to do."""


@dataclass
class Target:
    """Where a run goes: a connection, how to describe it, and the sandbox's admin API when it is one."""

    connection: CdpConnection
    description: str
    kind: TargetKind
    profile: str | None = None
    admin: SandboxAdmin | None = None
    # Segments use the nightly snapshot: always on a real tenant, on the sandbox in nightly mode.
    nightly_snapshot: bool = True
    # The sandbox database and snapshot mode, recorded in the run folder so `resume` and `cleanup` reach them.
    sandbox_db: str | None = None
    sandbox_snapshot: SnapshotMode | None = None
    # Seconds between batch status requests; None keeps CDP's own backoff.
    batch_poll_seconds: float | None = None

    def now(self) -> datetime:
        return self.admin.now() if self.admin is not None else datetime.now(UTC)


@dataclass(frozen=True)
class TargetPlan:
    """Everything needed to open a run's target, built on one thread and opened on another."""

    profile: ConnectionProfile
    credentials: Credentials
    description: str
    kind: TargetKind
    profile_name: str | None = None
    admin_url: str | None = None
    nightly: bool = True
    sandbox_db: str | None = None
    sandbox_snapshot: SnapshotMode | None = None
    batch_poll_seconds: float | None = None

    @contextmanager
    def open(self, request_log: RequestLog | None = None) -> Iterator[Target]:
        with CdpConnection(self.profile, self.credentials, request_log=request_log) as connection:
            yield Target(
                connection,
                self.description,
                self.kind,
                profile=self.profile_name,
                admin=self._admin(),
                nightly_snapshot=self.nightly,
                sandbox_db=self.sandbox_db,
                sandbox_snapshot=self.sandbox_snapshot,
                batch_poll_seconds=self.batch_poll_seconds,
            )

    def _admin(self) -> SandboxAdmin | None:
        if not self.admin_url:
            return None
        return SandboxAdmin(self.admin_url, verify=tls_verify(self.profile.verify_tls, self.profile.ca_file))


def sandbox_plan(
    url: str,
    *,
    db: str,
    snapshot: SnapshotMode = "immediate",
    credentials: Credentials = SANDBOX_CREDENTIALS,
    certificate: str | None = None,
) -> TargetPlan:
    """A run against an embedded sandbox that is already running at `url`; an https one is trusted through its
    self-signed `certificate` (verification stays on)."""
    return TargetPlan(
        ConnectionProfile.sandbox(url, ca_file=certificate),
        credentials,
        f"embedded sandbox at {url} ({snapshot} snapshot)",
        "sandbox",
        admin_url=url,
        nightly=snapshot == "nightly",
        sandbox_db=db,
        sandbox_snapshot=snapshot,
        batch_poll_seconds=SANDBOX_BATCH_POLL_SECONDS,
    )


def profile_plan(saved: SavedProfile, credentials: Credentials) -> TargetPlan:
    """A run against a saved tenant profile; TargetError when its URL or API token is missing."""
    name = saved.name
    try:
        profile = saved.connection_profile()
    except (ValidationError, ValueError):
        raise TargetError(f"profile {name!r} has no URL yet: enter it on the studio's Connect page") from None
    return TargetPlan(profile, credentials, f"CDP tenant {name!r} at {profile.api_base_url}", "profile",
                      profile_name=name)  # fmt: skip


@contextmanager
def sandbox_target(db: str, snapshot: SnapshotMode = "immediate", *, tls: bool = False) -> Iterator[Target]:
    """The embedded sandbox in a child process for as long as the block runs; with `tls`, over HTTPS, its
    self-signed certificate trusted."""
    if db != ":memory:":
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    process = SandboxProcess(SandboxOptions(db_path=db, snapshot=snapshot, tls=tls))
    url = process.start()
    try:
        with sandbox_plan(url, db=db, snapshot=snapshot, certificate=process.certificate).open() as target:
            yield target
    finally:
        process.stop()


def saved_profile(name: str) -> SavedProfile:
    """A tenant profile from the studio's settings file; TargetError when there is none of that name."""
    from cdp_poc_studio.targets.settings import SettingsStore

    saved = SettingsStore.default().load().profile(name)
    if saved is None:
        raise TargetError(
            f"no connection profile named {name!r}: create it on the studio's Connect page, or use --target sandbox"
        )
    return saved


def stored_credentials(saved: SavedProfile) -> Credentials:
    """A profile's credentials for the command line: secrets from the environment or the OS keyring.

    The identifiers saved with the profile win over the environment's, which serve every profile. Secrets kept
    "for this session only" in the studio are not reachable here.
    """
    from cdp_poc_studio.cdp.secrets import ChainSecretStore, EnvSecretStore, KeyringSecretStore, load_credentials
    from cdp_poc_studio.domain.errors import SecretStoreUnavailable

    try:
        stored = load_credentials(ChainSecretStore(EnvSecretStore(), KeyringSecretStore()), saved.name)
    except SecretStoreUnavailable as exc:
        raise TargetError(f"profile {saved.name!r}: {exc}") from None
    return stored.model_copy(
        update={
            "client_key": SecretStr(saved.client_key) if saved.client_key else stored.client_key,
            "oauth_client_id": SecretStr(saved.oauth_client_id) if saved.oauth_client_id else stored.oauth_client_id,
        }
    )


BASIC = (SecretName.CLIENT_KEY, SecretName.API_TOKEN)
OAUTH = (SecretName.OAUTH_CLIENT_ID, SecretName.OAUTH_CLIENT_SECRET)


def needed_secrets(load: str, pull_back: Iterable[str]) -> tuple[SecretName, ...]:
    """The credentials a scenario's APIs use: Basic (client key, API token) to load by batch or REST and to read
    back through REST; OAuth (client id and secret) only to pull the audience export."""
    return BASIC + (OAUTH if "export" in pull_back else ())


def missing_secrets(credentials: Credentials, needed: Iterable[SecretName]) -> list[SecretName]:
    return [name for name in needed if not (value := credentials.get(name)) or not value.get_secret_value()]


@contextmanager
def profile_target(name: str, needed: Iterable[SecretName] = BASIC + OAUTH) -> Iterator[Target]:
    """A real tenant from the studio's saved profiles, with its secrets from the environment or the OS keyring.

    Only the `needed` credentials must be there (see `needed_secrets`); TargetError names exactly the missing ones.
    """
    saved = saved_profile(name)
    credentials = stored_credentials(saved)
    missing = missing_secrets(credentials, needed)
    if missing:
        names = ", ".join(f"{LABELS[m]} ({ENV_VARS[m]})" for m in missing)
        raise TargetError(
            f"profile {name!r} has no {names}: store it on the studio's Connect page (OS keyring) or set the "
            "environment variable"
        )
    with profile_plan(saved, credentials).open() as target:
        yield target


def reopen_target(
    kind: TargetKind,
    *,
    profile: str | None,
    sandbox_db: str | None,
    sandbox_snapshot: SnapshotMode | None,
    needed: Iterable[SecretName] = BASIC,
) -> AbstractContextManager[Target]:
    """The target a run went to (as its run folder records it), for `resume` and `cleanup`; TargetError when it
    cannot be reached."""
    if kind == "sandbox":
        if not sandbox_db or sandbox_db == ":memory:":
            raise TargetError("this run went to a throwaway sandbox (a demo): its data is gone")
        return sandbox_target(sandbox_db, sandbox_snapshot or "immediate")
    return profile_target(profile or "", needed)
