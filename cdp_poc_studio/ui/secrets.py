"""Secrets (API tokens, OAuth secrets) behind a small SecretStore protocol: the OS keyring, or this session only.

The store never decides for the user: when no keyring exists it raises `SecretStoreUnavailable`, and the Connect
page says so and offers to keep the secret for this session only. Nothing is ever written to a plaintext file.
Secrets travel as `pydantic.SecretStr`, so that they do not show up in reprs and logs.

Written against this protocol because `cdp_poc_studio/cdp/` did not yet offer one when this page was built.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any, Protocol

from pydantic import SecretStr

SERVICE = "cdp-poc-studio"
SECRET_NAMES = ("api_token", "oauth_client_secret")


class SecretStoreUnavailable(RuntimeError):  # noqa: N818 - reads better at the call site
    """The store cannot be used on this machine (for the keyring: no backend, or it is locked)."""


class SecretStore(Protocol):
    def get(self, profile: str, name: str) -> SecretStr | None: ...

    def set(self, profile: str, name: str, value: SecretStr) -> None: ...

    def delete(self, profile: str, name: str) -> None: ...


def _account(profile: str, name: str) -> str:
    return f"{profile}/{name}"


class KeyringSecretStore:
    """The OS keyring (Keychain, Windows Credential Locker, Secret Service)."""

    def _keyring(self) -> Any:
        import keyring

        return keyring

    def _call(self, action: str, *args: str) -> str | None:
        import keyring.errors

        try:
            result: str | None = getattr(self._keyring(), action)(SERVICE, *args)
            return result
        except keyring.errors.NoKeyringError as exc:
            raise SecretStoreUnavailable(
                "no OS keyring is available on this computer (on Linux: no Secret Service such as GNOME Keyring)"
            ) from exc
        except keyring.errors.PasswordDeleteError:
            return None
        except keyring.errors.KeyringError as exc:
            raise SecretStoreUnavailable(f"the OS keyring refused: {exc}") from exc

    def get(self, profile: str, name: str) -> SecretStr | None:
        value = self._call("get_password", _account(profile, name))
        return SecretStr(value) if value else None

    def set(self, profile: str, name: str, value: SecretStr) -> None:
        self._call("set_password", _account(profile, name), value.get_secret_value())

    def delete(self, profile: str, name: str) -> None:
        self._call("delete_password", _account(profile, name))


class SessionSecretStore:
    """Held in memory until the studio closes: the user's choice when there is no keyring."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], SecretStr] = {}

    def get(self, profile: str, name: str) -> SecretStr | None:
        return self._values.get((profile, name))

    def set(self, profile: str, name: str, value: SecretStr) -> None:
        self._values[(profile, name)] = value

    def delete(self, profile: str, name: str) -> None:
        self._values.pop((profile, name), None)


class EnvSecretStore:
    """Read-only: `CDP_POC_STUDIO_<PROFILE>_<NAME>` environment variables, for CI and headless machines."""

    def get(self, profile: str, name: str) -> SecretStr | None:
        value = os.environ.get(self.variable(profile, name))
        return SecretStr(value) if value else None

    @staticmethod
    def variable(profile: str, name: str) -> str:
        return f"CDP_POC_STUDIO_{re.sub(r'[^A-Za-z0-9]', '_', profile).upper()}_{name.upper()}"

    def set(self, profile: str, name: str, value: SecretStr) -> None:
        raise SecretStoreUnavailable("environment variables are read-only")

    def delete(self, profile: str, name: str) -> None:
        pass


class StudioSecrets:
    """What the Connect page uses: the keyring first, the session store when the user chose it, then env vars."""

    def __init__(self, keyring_store: SecretStore | None = None) -> None:
        self.keyring: SecretStore = keyring_store if keyring_store is not None else KeyringSecretStore()
        self.session = SessionSecretStore()
        self.env = EnvSecretStore()

    def get(self, profile: str, name: str) -> tuple[SecretStr | None, str]:
        """The secret and where it came from ("keyring", "session", "environment" or "" when none)."""
        value = self.session.get(profile, name)
        if value is not None:
            return value, "session"
        try:
            value = self.keyring.get(profile, name)
        except SecretStoreUnavailable:
            value = None
        if value is not None:
            return value, "keyring"
        value = self.env.get(profile, name)
        return (value, "environment") if value is not None else (None, "")

    def keyring_available(self) -> str | None:
        """None when the keyring works, else why not (probed with a read)."""
        try:
            self.keyring.get("__probe__", "probe")
        except SecretStoreUnavailable as exc:
            return str(exc)
        return None

    def store(self, profile: str, name: str, value: SecretStr, *, session_only: bool) -> str:
        """Keep a secret; raises SecretStoreUnavailable when the keyring is wanted but missing."""
        if session_only:
            self.session.set(profile, name, value)
            return "session"
        self.keyring.set(profile, name, value)
        self.session.delete(profile, name)
        return "keyring"

    def forget(self, profile: str) -> None:
        for name in SECRET_NAMES:
            self.session.delete(profile, name)
            with contextlib.suppress(SecretStoreUnavailable):
                self.keyring.delete(profile, name)
