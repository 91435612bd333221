"""Where secrets live: the OS keyring, the environment, or this session's memory; held as `SecretStr`.

The keyring store raises `SecretStoreUnavailable` with a message the page can show when the machine has no
keyring (headless Linux); it never falls back silently to a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol

import keyring
import keyring.errors
from pydantic import BaseModel, ConfigDict, SecretStr

from cdp_poc_studio.domain.errors import MissingSecret, SecretStoreUnavailable

KEYRING_SERVICE = "cdp-poc-studio"


class SecretName(StrEnum):
    CLIENT_KEY = "client_key"
    API_TOKEN = "api_token"
    OAUTH_CLIENT_ID = "oauth_client_id"
    OAUTH_CLIENT_SECRET = "oauth_client_secret"


ENV_VARS: dict[SecretName, str] = {
    SecretName.CLIENT_KEY: "CDP_CLIENT_KEY",
    SecretName.API_TOKEN: "CDP_API_TOKEN",
    SecretName.OAUTH_CLIENT_ID: "CDP_OAUTH_CLIENT_ID",
    SecretName.OAUTH_CLIENT_SECRET: "CDP_OAUTH_CLIENT_SECRET",
}
LABELS: dict[SecretName, str] = {
    SecretName.CLIENT_KEY: "client key",
    SecretName.API_TOKEN: "API token",
    SecretName.OAUTH_CLIENT_ID: "OAuth client id (API key)",
    SecretName.OAUTH_CLIENT_SECRET: "OAuth client secret",
}

NO_KEYRING_MESSAGE = (
    "no OS keyring on this machine: set CDP_CLIENT_KEY and CDP_API_TOKEN (and CDP_OAUTH_CLIENT_ID, "
    "CDP_OAUTH_CLIENT_SECRET for audience exports) in the environment, or keep the secrets for this session only"
)


class Credentials(BaseModel):
    """The four secrets of a profile; any may be missing (e.g. no OAuth key when exports are not used)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_key: SecretStr | None = None
    api_token: SecretStr | None = None
    oauth_client_id: SecretStr | None = None
    oauth_client_secret: SecretStr | None = None

    def get(self, name: SecretName) -> SecretStr | None:
        value: SecretStr | None = getattr(self, name.value)
        return value

    def require(self, name: SecretName) -> SecretStr:
        value = self.get(name)
        if value is None or not value.get_secret_value():
            raise MissingSecret(LABELS[name], ENV_VARS[name])
        return value

    @property
    def has_basic(self) -> bool:
        return bool(self.client_key and self.api_token)

    @property
    def has_oauth(self) -> bool:
        return bool(self.oauth_client_id and self.oauth_client_secret)

    @classmethod
    def of(
        cls,
        client_key: str | None = None,
        api_token: str | None = None,
        oauth_client_id: str | None = None,
        oauth_client_secret: str | None = None,
    ) -> Credentials:
        def wrap(value: str | None) -> SecretStr | None:
            return SecretStr(value) if value else None

        return cls(
            client_key=wrap(client_key),
            api_token=wrap(api_token),
            oauth_client_id=wrap(oauth_client_id),
            oauth_client_secret=wrap(oauth_client_secret),
        )


# The embedded sandbox's default credentials (its README); not secrets, it only listens on loopback.
SANDBOX_CREDENTIALS = Credentials.of(
    "sandbox-client-key", "sandbox-api-token", "sandbox-oauth-client", "sandbox-oauth-secret"
)


class SecretStore(Protocol):
    """Secrets per profile name. `get` returns None when the secret is not stored."""

    def get(self, profile: str, name: SecretName) -> SecretStr | None: ...

    def set(self, profile: str, name: SecretName, value: SecretStr) -> None: ...

    def delete(self, profile: str, name: SecretName) -> None: ...


class KeyringSecretStore:
    """The OS keyring (macOS Keychain, Windows Credential Locker, Secret Service)."""

    def __init__(self, service: str = KEYRING_SERVICE) -> None:
        self.service = service

    def _username(self, profile: str, name: SecretName) -> str:
        return f"{profile}:{name.value}"

    def get(self, profile: str, name: SecretName) -> SecretStr | None:
        try:
            value = keyring.get_password(self.service, self._username(profile, name))
        except keyring.errors.NoKeyringError:
            raise SecretStoreUnavailable(NO_KEYRING_MESSAGE) from None
        except keyring.errors.KeyringError as exc:
            raise SecretStoreUnavailable(f"the OS keyring refused the request ({type(exc).__name__})") from None
        return SecretStr(value) if value else None

    def set(self, profile: str, name: SecretName, value: SecretStr) -> None:
        try:
            keyring.set_password(self.service, self._username(profile, name), value.get_secret_value())
        except keyring.errors.NoKeyringError:
            raise SecretStoreUnavailable(NO_KEYRING_MESSAGE) from None
        except keyring.errors.KeyringError as exc:
            raise SecretStoreUnavailable(f"the OS keyring refused the request ({type(exc).__name__})") from None

    def delete(self, profile: str, name: SecretName) -> None:
        try:
            keyring.delete_password(self.service, self._username(profile, name))
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.NoKeyringError:
            raise SecretStoreUnavailable(NO_KEYRING_MESSAGE) from None
        except keyring.errors.KeyringError as exc:
            raise SecretStoreUnavailable(f"the OS keyring refused the request ({type(exc).__name__})") from None


class EnvSecretStore:
    """Read-only: `CDP_CLIENT_KEY`, `CDP_API_TOKEN`, `CDP_OAUTH_CLIENT_ID`, `CDP_OAUTH_CLIENT_SECRET`.

    The same variables serve every profile, as in CI.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self, profile: str, name: SecretName) -> SecretStr | None:
        value = self._environ.get(ENV_VARS[name])
        return SecretStr(value) if value else None

    def set(self, profile: str, name: SecretName, value: SecretStr) -> None:
        raise SecretStoreUnavailable(f"environment secrets are read-only: set {ENV_VARS[name]} before starting")

    def delete(self, profile: str, name: SecretName) -> None:
        raise SecretStoreUnavailable(f"environment secrets are read-only: unset {ENV_VARS[name]}")


class SessionSecretStore:
    """Kept in memory for this session only, forgotten on exit."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, SecretName], SecretStr] = {}

    def get(self, profile: str, name: SecretName) -> SecretStr | None:
        return self._values.get((profile, name))

    def set(self, profile: str, name: SecretName, value: SecretStr) -> None:
        self._values[(profile, name)] = value

    def delete(self, profile: str, name: SecretName) -> None:
        self._values.pop((profile, name), None)


class ChainSecretStore:
    """Reads from the first store that has the secret (e.g. environment, then session, then keyring).

    A store that is unavailable is skipped on reads if a later store answers; writes go to the first writable
    store given as `writer`.
    """

    def __init__(self, *stores: SecretStore, writer: SecretStore | None = None) -> None:
        self.stores = stores
        self.writer = writer

    def get(self, profile: str, name: SecretName) -> SecretStr | None:
        unavailable: SecretStoreUnavailable | None = None
        for store in self.stores:
            try:
                value = store.get(profile, name)
            except SecretStoreUnavailable as exc:
                unavailable = exc
                continue
            if value is not None:
                return value
        if unavailable is not None:
            raise unavailable
        return None

    def set(self, profile: str, name: SecretName, value: SecretStr) -> None:
        if self.writer is None:
            raise SecretStoreUnavailable("no writable secret store")
        self.writer.set(profile, name, value)

    def delete(self, profile: str, name: SecretName) -> None:
        if self.writer is not None:
            self.writer.delete(profile, name)


def load_credentials(store: SecretStore, profile: str) -> Credentials:
    """All four secrets of `profile` from `store` (missing ones are None)."""
    values = {name.value: store.get(profile, name) for name in SecretName}
    return Credentials(**values)
