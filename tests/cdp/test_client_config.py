"""Profiles, secret stores (keyring, environment, session) and progress reporting."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyring.backends.fail import Keyring as FailKeyring
from pydantic import SecretStr, ValidationError

from cdp_poc_studio.cdp.profiles import DEFAULT_AUDIENCE, DEFAULT_TOKEN_URL, ConnectionProfile, Region
from cdp_poc_studio.cdp.secrets import (
    ChainSecretStore,
    Credentials,
    EnvSecretStore,
    KeyringSecretStore,
    SecretName,
    SessionSecretStore,
    load_credentials,
)
from cdp_poc_studio.domain.errors import MissingSecret, SecretStoreUnavailable
from cdp_poc_studio.domain.progress import Cancelled, CancelToken, ProgressMeter, StageEvent


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("EU", "https://api-engage-eu.sitecorecloud.io"),
        ("US", "https://api-engage-us.sitecorecloud.io"),
        ("AP", "https://api-engage-ap.sitecorecloud.io"),
        ("JPE", "https://api-engage-jpe.sitecorecloud.io"),
    ],
)
def test_tenant_profiles_use_the_documented_hosts(region: str, url: str) -> None:
    profile = ConnectionProfile.tenant(region)
    assert profile.api_base_url == url
    assert profile.oauth_token_url == DEFAULT_TOKEN_URL
    assert profile.audience == DEFAULT_AUDIENCE == "https://api.sitecorecloud.io"


def test_sandbox_profile_uses_its_own_token_endpoint() -> None:
    profile = ConnectionProfile.sandbox("http://127.0.0.1:8765/")
    assert profile.api_base_url == "http://127.0.0.1:8765"
    assert profile.oauth_token_url == "http://127.0.0.1:8765/oauth/token"


def test_custom_profile_and_validation() -> None:
    custom = ConnectionProfile.custom("https://api.boxever.com", token_url="https://auth.example/token")
    assert (custom.api_base_url, custom.oauth_token_url) == ("https://api.boxever.com", "https://auth.example/token")
    with pytest.raises(ValidationError):
        ConnectionProfile(name="t", kind="tenant")
    with pytest.raises(ValidationError):
        ConnectionProfile(name="c", kind="custom", base_url="ftp://x")
    assert Region("JPE") is Region.JPE


def test_profiles_hold_no_secret_fields() -> None:
    fields = set(ConnectionProfile.model_fields)
    assert not fields & {"client_key", "api_token", "oauth_client_secret", "password", "secret"}


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.values:
            raise keyring.errors.PasswordDeleteError("no such password")
        del self.values[(service, username)]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    yield
    keyring.set_keyring(previous)


def test_keyring_store_round_trip(memory_keyring: MemoryKeyring) -> None:
    store = KeyringSecretStore()
    store.set("eu-tenant", SecretName.API_TOKEN, SecretStr("tok-123456"))
    assert memory_keyring.values == {("cdp-poc-studio", "eu-tenant:api_token"): "tok-123456"}
    value = store.get("eu-tenant", SecretName.API_TOKEN)
    assert value is not None
    assert value.get_secret_value() == "tok-123456"
    assert store.get("eu-tenant", SecretName.CLIENT_KEY) is None
    store.delete("eu-tenant", SecretName.API_TOKEN)
    store.delete("eu-tenant", SecretName.API_TOKEN)  # deleting twice is fine
    assert store.get("eu-tenant", SecretName.API_TOKEN) is None


def test_headless_linux_without_keyring_gives_a_clear_message(no_keyring: None) -> None:
    store = KeyringSecretStore()
    with pytest.raises(SecretStoreUnavailable) as read:
        store.get("eu", SecretName.API_TOKEN)
    assert "no OS keyring on this machine" in str(read.value)
    assert "CDP_API_TOKEN" in str(read.value)
    assert "for this session" in str(read.value)
    with pytest.raises(SecretStoreUnavailable):
        store.set("eu", SecretName.API_TOKEN, SecretStr("x"))


def test_environment_store_reads_the_documented_variables() -> None:
    env = {
        "CDP_CLIENT_KEY": "ck",
        "CDP_API_TOKEN": "tok",
        "CDP_OAUTH_CLIENT_ID": "cid",
        "CDP_OAUTH_CLIENT_SECRET": "csec",
    }
    creds = load_credentials(EnvSecretStore(env), "any")
    assert creds.has_basic
    assert creds.has_oauth
    assert creds.require(SecretName.OAUTH_CLIENT_SECRET).get_secret_value() == "csec"
    with pytest.raises(SecretStoreUnavailable):
        EnvSecretStore(env).set("any", SecretName.API_TOKEN, SecretStr("x"))


def test_chain_falls_back_from_missing_keyring_to_session(no_keyring: None) -> None:
    session = SessionSecretStore()
    session.set("eu", SecretName.API_TOKEN, SecretStr("from-session"))
    chain = ChainSecretStore(EnvSecretStore({}), KeyringSecretStore(), session, writer=session)
    value = chain.get("eu", SecretName.API_TOKEN)
    assert value is not None
    assert value.get_secret_value() == "from-session"
    # Nothing anywhere, and the keyring is missing: say so rather than "not set".
    with pytest.raises(SecretStoreUnavailable):
        chain.get("eu", SecretName.CLIENT_KEY)


def test_missing_secret_names_its_variable_and_secrets_never_print() -> None:
    creds = Credentials.of(client_key="ck-visible", api_token="very-secret-token")
    with pytest.raises(MissingSecret) as info:
        creds.require(SecretName.OAUTH_CLIENT_ID)
    assert "CDP_OAUTH_CLIENT_ID" in str(info.value)
    assert "very-secret-token" not in repr(creds)
    assert "very-secret-token" not in str(creds.model_dump())


def test_progress_meter_reports_rate_and_eta() -> None:
    now = [0.0]
    reports: list[StageEvent] = []
    meter = ProgressMeter("send", 100, reports.append, interval=0, clock=lambda: now[0])
    now[0] = 2.0
    meter.advance(20, errors=1)
    report = reports[-1]
    assert (report.stage, report.state, report.done, report.total, report.errors) == ("send", "running", 20, 100, 1)
    assert report.rate == pytest.approx(10.0)
    assert report.eta_seconds == pytest.approx(8.0)
    assert report.fraction == pytest.approx(0.2)


def test_progress_meter_throttles_callbacks() -> None:
    reports: list[StageEvent] = []
    meter = ProgressMeter("generate", None, reports.append, interval=60)
    for _ in range(1000):
        meter.advance()
    assert len(reports) == 1
    assert meter.finish().done == 1000


def test_cancel_token_wakes_sleepers() -> None:
    token = CancelToken()
    threading.Timer(0.1, token.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        token.sleep(60)
    # Woken, not slept out (a generous margin against the 60 s, so a loaded machine cannot fail it).
    assert time.monotonic() - started < 30
    assert token.cancelled
    with pytest.raises(Cancelled):
        token.raise_if_cancelled()
