"""A connection to one CDP target: the profile's shared httpx client, its auth schemes and its request log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from cdp_poc_studio.cdp.auth import OAuthClientCredentials, basic_auth
from cdp_poc_studio.cdp.http import CdpHttp, build_httpx_client, tls_verify
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.requestlog import RequestLog, SecretMasker, install_log_masking
from cdp_poc_studio.cdp.retry import DEFAULT_RETRY, RetrySettings
from cdp_poc_studio.cdp.secrets import ENV_VARS, LABELS, Credentials, SecretName
from cdp_poc_studio.domain.errors import CdpApiError, CdpAuthError, CdpError, CdpNotFound, CdpTransportError
from cdp_poc_studio.domain.progress import CancelToken

# A definition that cannot exist: the export API answers 404 (token accepted) or 401 (token refused).
_PROBE_EXPORT = "cdp_poc_studio_connection_test"


@dataclass(frozen=True, slots=True)
class CredentialCheck:
    """One credential's verdict from `test_connection`."""

    name: str  # "rest", "batch" or "oauth"
    ok: bool
    message: str


def masker_for(credentials: Credentials) -> SecretMasker:
    masker = SecretMasker()
    for name in SecretName:
        value = credentials.get(name)
        if value is not None:
            masker.add(value.get_secret_value(), f"${ENV_VARS[name]}")
    return masker


class CdpConnection:
    """One profile's shared client. Build the API clients on `http` (or `http.bound(...)` for a job).

    >>> conn = CdpConnection(ConnectionProfile.sandbox(url), SANDBOX_CREDENTIALS)
    >>> conn.test_connection()
    """

    def __init__(
        self,
        profile: ConnectionProfile,
        credentials: Credentials,
        *,
        transport: httpx.BaseTransport | None = None,
        request_log: RequestLog | None = None,
        retry: RetrySettings = DEFAULT_RETRY,
    ) -> None:
        self.profile = profile
        self.request_log = request_log if request_log is not None else RequestLog()
        self.masker = masker_for(credentials)
        install_log_masking(self.masker)
        t = profile.timeouts
        self.client = build_httpx_client(
            profile.api_base_url,
            timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool),
            max_connections=profile.max_connections,
            verify=tls_verify(profile.verify_tls, profile.ca_file),
            transport=transport,
            request_log=self.request_log,
            masker=self.masker,
        )
        basic = None
        if credentials.client_key is not None and credentials.api_token is not None:
            basic = basic_auth(credentials.client_key, credentials.api_token)
        self.oauth: OAuthClientCredentials | None = None
        if credentials.oauth_client_id is not None and credentials.oauth_client_secret is not None:
            self.oauth = OAuthClientCredentials(
                profile.oauth_token_url,
                credentials.oauth_client_id,
                credentials.oauth_client_secret,
                profile.audience,
                on_token=lambda token: self.masker.add(token, "$CDP_ACCESS_TOKEN"),
            )
        self.credentials_present = {
            "rest": basic is not None,
            "batch": basic is not None,
            "oauth": self.oauth is not None,
        }
        self.http = CdpHttp(self.client, basic=basic, oauth=self.oauth, masker=self.masker, retry=retry)

    def close(self) -> None:
        self.http.close()
        self.request_log.close()

    def __enter__(self) -> CdpConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def test_connection(self, cancel: CancelToken | None = None) -> list[CredentialCheck]:
        """Check each credential on its own API and say which one is wrong; never raises for a bad one.

        Each message names the host contacted, the credential at fault and what to do. `cancel` stops between
        (and before the retries of) the checks.
        """
        http = self.http.bound(retry=RetrySettings(attempts=2, initial=0.2, maximum=1.0), cancel=cancel)
        checks = [
            self._check("rest", lambda: http.get_json("/v2.1/guests", params={"limit": 10})),
            self._check("batch", lambda: http.get_json("/v2/batches/inspect", params={"limit": 10})),
            self._check(
                "oauth",
                lambda: http.get_json(f"/v2/audienceExports/definitions/{_PROBE_EXPORT}/reports", auth="oauth"),
            ),
        ]
        return checks

    def _check(self, name: str, probe: Callable[[], object]) -> CredentialCheck:
        what = _WHAT[name]
        if name == "oauth":
            pair = (SecretName.OAUTH_CLIENT_ID, SecretName.OAUTH_CLIENT_SECRET)
        else:
            pair = (SecretName.CLIENT_KEY, SecretName.API_TOKEN)
        names = " and ".join(f"{LABELS[n]} ({ENV_VARS[n]})" for n in pair)
        api_host = _host(self.profile.api_base_url)
        if not self.credentials_present[name]:
            return CredentialCheck(name, False, f"{what}: not set - give the {names}")
        try:
            probe()
        except CdpNotFound:
            # Reaching a 404 means the credential was accepted.
            return CredentialCheck(name, True, f"{what}: accepted by {api_host}")
        except CdpAuthError as exc:
            host = _host(exc.url) if exc.url else api_host
            if name == "oauth" and "token" in exc.message:
                return CredentialCheck(
                    name,
                    False,
                    f"{what}: the token request to {host} was refused (HTTP {exc.status}) - wrong OAuth client id or "
                    f"secret: check the {names}, and that {host} is this tenant's auth host",
                )
            return CredentialCheck(
                name,
                False,
                f"{what}: refused (HTTP {exc.status}) by {host} - wrong credential or no permission for this API: "
                f"check the {names}",
            )
        except CdpApiError as exc:
            host = _host(exc.url) if exc.url else api_host
            return CredentialCheck(name, False, f"{what}: unexpected answer from {host}: {exc}")
        except CdpTransportError as exc:
            return CredentialCheck(name, False, f"{what}: {_unreachable(exc, api_host, self.profile)}")
        except CdpError as exc:
            return CredentialCheck(name, False, f"{what}: cannot reach {api_host}: {exc}")
        return CredentialCheck(name, True, f"{what}: accepted by {api_host}")


_WHAT = {
    "rest": "Guest and Order REST API (client key and API token)",
    "batch": "Batch API (client key and API token)",
    "oauth": "Audience export API (OAuth client id and secret)",
}


def _host(url: str) -> str:
    """scheme://host[:port] of a URL, which is what a user can check and change."""
    parsed = httpx.URL(url)
    if not parsed.host:
        return url
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _unreachable(exc: CdpTransportError, api_host: str, profile: ConnectionProfile) -> str:
    host = _host(exc.url) if exc.url else api_host
    is_auth_host = host != api_host and host == _host(profile.oauth_token_url)
    problem = f"no answer from {host} in time" if exc.timed_out else f"cannot reach {host}"
    kind = str(exc).rsplit(": ", 1)[-1]
    if is_auth_host:
        fix = "the OAuth token request goes to this auth host: check the profile's auth host (OAuth token URL)"
    elif exc.timed_out:
        fix = "the host accepted the connection but did not answer: check the URL, a proxy or a firewall"
    else:
        fix = "check the region or URL, and the network"
    return f"{problem} ({kind}) - {fix}"
