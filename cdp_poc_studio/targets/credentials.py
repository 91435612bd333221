"""The studio's secret policy on top of `cdp.secrets`: the session first, then the OS keyring, then the environment.

The stores are the client layer's (`KeyringSecretStore`, `SessionSecretStore`, `EnvSecretStore`); what the studio
adds is the answer to "where did this secret come from" for the Connect page, and the user's choice of keeping
secrets for this session only when no keyring exists. The store raises, the page explains. Qt-free.
"""

from __future__ import annotations

import contextlib

from pydantic import SecretStr

from cdp_poc_studio.cdp.secrets import (
    Credentials,
    EnvSecretStore,
    KeyringSecretStore,
    SecretName,
    SecretStore,
    SessionSecretStore,
)
from cdp_poc_studio.domain.errors import SecretStoreUnavailable
from cdp_poc_studio.targets.settings import SavedProfile

# The two secrets of a profile; the client key and the OAuth client id are identifiers kept in the settings.
SECRETS = (SecretName.API_TOKEN, SecretName.OAUTH_CLIENT_SECRET)
WHERE = {"keyring": "OS keyring", "session": "session memory", "environment": "environment"}


class StudioSecrets:
    """What the Connect page and the runs use. `keyring` is injectable (tests pass an in-memory store)."""

    def __init__(self, keyring_store: SecretStore | None = None) -> None:
        self.keyring: SecretStore = keyring_store if keyring_store is not None else KeyringSecretStore()
        self.session = SessionSecretStore()
        self.env = EnvSecretStore()

    def get(self, profile: str, name: SecretName) -> tuple[SecretStr | None, str]:
        """The secret and where it came from ("session", "keyring", "environment", or "" when none)."""
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
            self.keyring.get("__probe__", SecretName.API_TOKEN)
        except SecretStoreUnavailable as exc:
            return str(exc)
        return None

    def store(self, profile: str, name: SecretName, value: SecretStr, *, session_only: bool) -> str:
        """Keep a secret; raises SecretStoreUnavailable when the keyring is wanted but missing."""
        if session_only:
            self.session.set(profile, name, value)
            return "session"
        self.keyring.set(profile, name, value)
        self.session.delete(profile, name)
        return "keyring"

    def forget(self, profile: str) -> None:
        for name in SECRETS:
            self.forget_one(profile, name)

    def forget_one(self, profile: str, name: SecretName) -> None:
        """The user cleared this secret: gone from the session and the keyring (the environment is not ours)."""
        self.session.delete(profile, name)
        with contextlib.suppress(SecretStoreUnavailable):
            self.keyring.delete(profile, name)

    def credentials(self, profile: SavedProfile) -> Credentials:
        """The profile's four credentials: identifiers from the settings (or the environment), secrets stored."""
        token, _ = self.get(profile.name, SecretName.API_TOKEN)
        secret, _ = self.get(profile.name, SecretName.OAUTH_CLIENT_SECRET)
        client_key = profile.client_key or _plain(self.env.get(profile.name, SecretName.CLIENT_KEY))
        oauth_id = profile.oauth_client_id or _plain(self.env.get(profile.name, SecretName.OAUTH_CLIENT_ID))
        return Credentials.of(client_key or None, _plain(token), oauth_id or None, _plain(secret))


def _plain(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
