"""Test a connection, one credential at a time: is the host there, do the client key and API token open REST and
Batch, do the OAuth id and secret get a token for Audience Export. Qt-free job bodies.

Written here because `cdp_poc_studio/cdp/` did not yet offer `test_connection()` when the Connect page was built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import SecretStr

from cdp_poc_studio.workers.cancel import CancelToken, Progress, Report

Outcome = Literal["ok", "failed", "skipped"]
AUDIENCE = "https://api.sitecorecloud.io"


@dataclass(frozen=True, slots=True)
class CredentialCheck:
    """The verdict on one credential: what was checked, the outcome and what to do about it."""

    credential: str
    outcome: Outcome
    detail: str


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    base_url: str
    token_url: str
    client_key: str
    api_token: SecretStr | None
    oauth_client_id: str
    oauth_client_secret: SecretStr | None


HOST = "Host"
BASIC = "Client key and API token (Guest and Order REST, Batch)"
OAUTH = "OAuth client id and secret (Audience Export)"


def check_connection(
    settings: ConnectionSettings,
    report: Report,
    cancel: CancelToken,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 10.0,
) -> list[CredentialCheck]:
    """Three checks, each reported on its own; a failing one does not hide the others."""
    results: list[CredentialCheck] = []
    with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as http:
        report(Progress(0, 3, "reaching the host"))
        try:
            # Any HTTP answer means the host is there; 401 is expected without credentials.
            http.get(f"{settings.base_url}/v2.1/guests", params={"limit": 10})
            results.append(CredentialCheck(HOST, "ok", f"{settings.base_url} answers"))
        except httpx.HTTPError as exc:
            results.append(
                CredentialCheck(HOST, "failed", f"cannot reach {settings.base_url}: {exc}. Check the region or URL.")
            )
            results.append(CredentialCheck(BASIC, "skipped", "not checked: the host cannot be reached"))
            results.append(CredentialCheck(OAUTH, "skipped", "not checked: the host cannot be reached"))
            return results
        cancel.raise_if_cancelled()
        report(Progress(1, 3, "checking the client key and API token"))
        results.append(_check_basic(http, settings))
        cancel.raise_if_cancelled()
        report(Progress(2, 3, "checking the OAuth client id and secret"))
        results.append(_check_oauth(http, settings))
        report(Progress(3, 3, "done"))
    return results


def _check_basic(http: httpx.Client, settings: ConnectionSettings) -> CredentialCheck:
    if not settings.client_key or settings.api_token is None:
        return CredentialCheck(BASIC, "skipped", "not checked: enter the client key and the API token")
    try:
        response = http.get(
            f"{settings.base_url}/v2.1/guests",
            params={"limit": 10},
            auth=(settings.client_key, settings.api_token.get_secret_value()),
            headers={"Accept": "application/json"},
        )
    except httpx.HTTPError as exc:
        return CredentialCheck(BASIC, "failed", f"no answer: {exc}")
    if response.status_code == 200:
        return CredentialCheck(BASIC, "ok", "accepted: REST and Batch requests will be authorised")
    if response.status_code in (401, 403):
        return CredentialCheck(
            BASIC,
            "failed",
            f"rejected ({response.status_code}): the client key or the API token is wrong. "
            "Copy both from CDP > Settings > API access.",
        )
    return CredentialCheck(BASIC, "failed", f"unexpected answer {response.status_code}: {response.text[:200]}")


def _check_oauth(http: httpx.Client, settings: ConnectionSettings) -> CredentialCheck:
    if not settings.oauth_client_id or settings.oauth_client_secret is None:
        return CredentialCheck(
            OAUTH, "skipped", "not checked: enter the OAuth client id and secret to pull back by audience export"
        )
    try:
        response = http.post(
            settings.token_url,
            data={
                "client_id": settings.oauth_client_id,
                "client_secret": settings.oauth_client_secret.get_secret_value(),
                "grant_type": "client_credentials",
                "audience": AUDIENCE,
            },
        )
    except httpx.HTTPError as exc:
        return CredentialCheck(OAUTH, "failed", f"the token endpoint {settings.token_url} did not answer: {exc}")
    if response.status_code == 200 and "access_token" in response.text:
        return CredentialCheck(OAUTH, "ok", "accepted: a token for audience exports was issued")
    if response.status_code in (400, 401, 403):
        return CredentialCheck(
            OAUTH,
            "failed",
            f"rejected ({response.status_code}): the OAuth client id or secret is wrong. "
            "Create an API key in CDP > Developer center > API keys.",
        )
    return CredentialCheck(OAUTH, "failed", f"unexpected answer {response.status_code}: {response.text[:200]}")
