"""Authentication: HTTP Basic for REST and Batch, OAuth client credentials (Bearer) for Audience export."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator

import httpx
import orjson
from pydantic import SecretStr

from cdp_poc_studio.domain.errors import CdpAuthError, CdpServerError

# Refresh this long before the token's stated expiry (or a tenth of its life, if shorter).
_EARLY_REFRESH_SECONDS = 300.0


def basic_auth(client_key: SecretStr, api_token: SecretStr) -> httpx.BasicAuth:
    """`Authorization: Basic base64(client key:API token)`, as the Guest, Order and Batch APIs take it."""
    return httpx.BasicAuth(client_key.get_secret_value(), api_token.get_secret_value())


class OAuthClientCredentials(httpx.Auth):
    """Client-credentials flow: one token request, the token cached until shortly before it expires, and one
    refresh (a new token request and a single retry) when the API answers 401."""

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: SecretStr,
        client_secret: SecretStr,
        audience: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_token: Callable[[str], None] | None = None,
    ) -> None:
        self.token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self.audience = audience
        self._clock = clock
        self._on_token = on_token
        self._lock = threading.Lock()
        self._token: str | None = None
        self._valid_until = 0.0
        self.token_requests = 0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._cached()
        if token is None:
            token = self._accept((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            # The token may have been revoked or expired early: fetch a new one and try once more.
            self.invalidate(token)
            token = self._accept((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def invalidate(self, token: str | None = None) -> None:
        with self._lock:
            if token is None or token == self._token:
                self._token = None

    def _cached(self) -> str | None:
        with self._lock:
            if self._token is not None and self._clock() < self._valid_until:
                return self._token
            return None

    def _token_request(self) -> httpx.Request:
        self.token_requests += 1
        return httpx.Request(
            "POST",
            self.token_url,
            data={
                "client_id": self._client_id.get_secret_value(),
                "client_secret": self._client_secret.get_secret_value(),
                "grant_type": "client_credentials",
                "audience": self.audience,
            },
            headers={"Accept": "application/json"},
        )

    def _accept(self, response: httpx.Response) -> str:
        url = self.token_url
        if response.status_code >= 500:
            raise CdpServerError(
                response.status_code, message="the OAuth token endpoint failed", method="POST", url=url
            )
        if response.status_code != 200:
            raise CdpAuthError(
                response.status_code,
                message="the OAuth token request was refused",
                developer_message="check the OAuth client id and secret (CDP_OAUTH_CLIENT_ID, CDP_OAUTH_CLIENT_SECRET)",
                method="POST",
                url=url,
            )
        try:
            body = orjson.loads(response.content)
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 86_400))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise CdpAuthError(
                response.status_code, message="the OAuth token response has no access_token", method="POST", url=url
            ) from None
        if self._on_token is not None:
            self._on_token(token)
        with self._lock:
            self._token = token
            self._valid_until = self._clock() + lifetime - min(_EARLY_REFRESH_SECONDS, lifetime / 10)
        return token
