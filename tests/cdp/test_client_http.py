"""The HTTP layer with MockTransport: typed errors, OAuth caching and refresh, retries, request log masking."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import httpx
import orjson
import pytest
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, wait_fixed

from cdp_poc_studio.cdp.auth import OAuthClientCredentials
from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.http import CdpHttp, build_httpx_client, parse_retry_after
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.requestlog import RequestLog, SecretMasker
from cdp_poc_studio.cdp.retry import RateLimiter, RetrySettings, wait_retry_after
from cdp_poc_studio.cdp.secrets import Credentials
from cdp_poc_studio.domain.errors import (
    CdpApiError,
    CdpAuthError,
    CdpConflict,
    CdpError,
    CdpNotFound,
    CdpRateLimited,
    CdpServerError,
    CdpTransportError,
    CdpValidationError,
    PresignedUrlExpired,
)
from cdp_poc_studio.domain.progress import Cancelled, CancelToken

BASE = "https://api-engage-eu.sitecorecloud.io"
TOKEN_URL = "https://auth.sitecorecloud.io/oauth/token"
CREDS = Credentials.of("client-key-123", "api-token-secret-456", "oauth-id-789", "oauth-secret-abc")
QUICK = RetrySettings(attempts=5, initial=0.001, maximum=0.01, jitter=0.001)

Handler = Callable[[httpx.Request], httpx.Response]


def connection(handler: Handler, retry: RetrySettings = QUICK) -> CdpConnection:
    return CdpConnection(ConnectionProfile.tenant("EU"), CREDS, transport=httpx.MockTransport(handler), retry=retry)


def cdp_error(status: int, message: str, developer: str = "", status_field: object = None) -> httpx.Response:
    body = {
        "status": status if status_field is None else status_field,
        "code": status,
        "message": message,
        "developerMessage": developer,
        "moreInfoUrl": "https://support.sitecore.com",
    }
    return httpx.Response(status, json=body)


# -- errors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, CdpValidationError),
        (401, CdpAuthError),
        (403, CdpAuthError),
        (404, CdpNotFound),
        (409, CdpConflict),
        (415, CdpValidationError),
        (429, CdpRateLimited),
        (500, CdpServerError),
        (503, CdpServerError),
    ],
)
def test_error_statuses_map_to_families(status: int, expected: type[CdpApiError]) -> None:
    conn = connection(lambda request: cdp_error(status, "it went wrong", "details here"), NO_RETRY_SETTINGS)
    with pytest.raises(expected) as info:
        conn.http.request("GET", "/v2.1/guests/abc")
    error = info.value
    assert isinstance(error, CdpApiError)
    assert (error.status, error.code, error.message, error.developer_message) == (
        status,
        status,
        "it went wrong",
        "details here",
    )
    assert "GET https://api-engage-eu.sitecorecloud.io/v2.1/guests/abc" in str(error)


NO_RETRY_SETTINGS = RetrySettings(attempts=1)


def test_unauthorized_body_with_string_status_is_parsed() -> None:
    # facts §1.1: the 401 body has "status": "UNAUTHORIZED" (a string), unlike 400/404 bodies.
    conn = connection(lambda r: cdp_error(401, "Authentication credentials are required", status_field="UNAUTHORIZED"))
    with pytest.raises(CdpAuthError) as info:
        conn.http.get_json("/v2.1/guests")
    assert info.value.body["status"] == "UNAUTHORIZED"
    assert "client key and API token" in str(info.value)


def test_retry_after_header_is_parsed() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    conn = connection(
        lambda r: httpx.Response(429, headers={"Retry-After": "7"}, json={"message": "slow"}), NO_RETRY_SETTINGS
    )
    with pytest.raises(CdpRateLimited) as info:
        conn.http.get_json("/v2.1/guests")
    assert info.value.retry_after == 7.0


def test_s3_403_on_presigned_url_is_url_expired_and_signature_masked() -> None:
    xml = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    conn = connection(lambda r: httpx.Response(403, text=xml, headers={"Content-Type": "application/xml"}))
    url = "https://s3.example.com/bucket/key/import.gz?AWSAccessKeyId=AKIA&Expires=1&Signature=s3cr3tsig"
    with pytest.raises(PresignedUrlExpired) as info:
        conn.http.request("PUT", url, auth="none", content=b"x")
    assert info.value.message == "Request has expired"
    assert "s3cr3tsig" not in str(info.value)
    assert "Signature=***" in str(info.value)


def test_transport_errors_say_whether_the_request_may_have_been_sent() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    with pytest.raises(CdpTransportError) as refused:
        connection(refuse, NO_RETRY_SETTINGS).http.request("POST", "/v2.1/guests", json={})
    assert refused.value.maybe_sent is False
    with pytest.raises(CdpTransportError) as dropped:
        connection(drop, NO_RETRY_SETTINGS).http.request("POST", "/v2.1/guests", json={})
    assert dropped.value.maybe_sent is True


# -- retries --------------------------------------------------------------------------------------------------


def test_idempotent_calls_are_retried_on_5xx_429_and_dropped_connections() -> None:
    answers = iter(["500", "429", "drop", "ok"])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if answer == "drop":
            raise httpx.ReadError("reset", request=request)
        if answer == "ok":
            return httpx.Response(200, json={"items": []})
        return cdp_error(int(answer), "busy")

    assert connection(handler).http.get_json("/v2.1/guests") == {"items": []}


def test_post_is_not_blindly_retried_after_an_ambiguous_failure() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return cdp_error(502, "bad gateway")

    with pytest.raises(CdpServerError):
        connection(handler).http.request("POST", "/v2.1/guests", json={"guestType": "customer"})
    assert calls == ["POST"]


def test_post_is_retried_after_429_which_did_nothing() -> None:
    answers = iter([429, 429, 201])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status == 429:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"message": "slow down"})
        return httpx.Response(201, json={"ref": "r1"})

    assert connection(handler).http.send_json("POST", "/v2.1/guests", {}) == {"ref": "r1"}


def test_create_once_searches_before_retrying_a_lost_create() -> None:
    created: list[str] = []
    lost = {"first": True}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            created.append("guest")
            if lost["first"]:
                lost["first"] = False
                # The guest was created, then the connection dropped before the response arrived.
                raise httpx.RemoteProtocolError("server disconnected", request=request)
            return httpx.Response(201, json={"ref": f"g{len(created)}"})
        if request.method == "GET":
            return httpx.Response(200, json={"items": [{"href": f"{BASE}/v2.1/guests/g1"}] if created else []})
        raise AssertionError(request)

    http = connection(handler).http

    def find() -> dict[str, str] | None:
        body = http.get_json("/v2.1/guests", params={"identifiers.provider": "P", "identifiers.id": "1"})
        return {"ref": body["items"][0]["href"].rsplit("/", 1)[1]} if body["items"] else None

    result, found = http.policy.create_once(
        lambda: http.send_json("POST", "/v2.1/guests", {"guestType": "customer"}), find
    )
    assert (result, found) == ({"ref": "g1"}, True)
    assert created == ["guest"]


def test_retry_after_is_honoured_with_jitter_but_capped() -> None:
    wait = wait_retry_after(wait_fixed(0.01), cap=5.0)

    def state(exc: BaseException) -> RetryCallState:
        retry_state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
        retry_state.set_exception((type(exc), exc, None))
        return retry_state

    told = CdpRateLimited(429, retry_after=2.0)
    waits = [wait(state(told)) for _ in range(50)]
    assert all(2.0 <= w <= 2.0 + 0.1 + 0.2 for w in waits)
    assert len(set(waits)) > 1  # jittered
    assert 5.0 <= wait(state(CdpRateLimited(429, retry_after=600))) <= 5.7
    assert wait(state(CdpServerError(500))) == pytest.approx(0.01)


def test_real_retry_after_wait_is_observed() -> None:
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(time.monotonic())
        if len(times) == 1:
            return httpx.Response(429, headers={"Retry-After": "1"}, json={"message": "slow"})
        return httpx.Response(200, json={})

    connection(handler).http.get_json("/v2.1/guests")
    assert times[1] - times[0] >= 1.0


def test_cancel_interrupts_a_retry_wait_within_a_second() -> None:
    cancel = CancelToken()

    def handler(request: httpx.Request) -> httpx.Response:
        cancel_later()
        return httpx.Response(429, headers={"Retry-After": "30"}, json={"message": "slow"})

    def cancel_later() -> None:
        import threading

        threading.Timer(0.2, cancel.cancel).start()

    http = connection(handler, RetrySettings(max_retry_after=60)).http.bound(cancel=cancel)
    started = time.monotonic()
    with pytest.raises(Cancelled):
        http.get_json("/v2.1/guests")
    # Interrupted, not waited out: the Retry-After was 30 s (a generous margin, so a loaded machine cannot fail it).
    assert time.monotonic() - started < 15


def test_rate_limiter_spaces_requests() -> None:
    limiter = RateLimiter(rate=50, burst=1)
    started = time.monotonic()
    for _ in range(11):
        limiter.acquire()
    assert time.monotonic() - started >= 0.19


# -- auth -----------------------------------------------------------------------------------------------------


def test_basic_auth_header_is_client_key_and_api_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": []})

    connection(handler).http.get_json("/v2.1/guests", params={"email": "a@example.com"})
    request = seen[0]
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(b"client-key-123:api-token-secret-456").decode()
    )
    assert request.url == httpx.URL(f"{BASE}/v2.1/guests?email=a%40example.com")
    assert request.headers["Accept"] == "application/json"


class TokenServer:
    """A token endpoint plus an export endpoint that accepts only the current token."""

    def __init__(self, lifetime: int = 86_400) -> None:
        self.issued: list[str] = []
        self.forms: list[dict[str, str]] = []
        self.lifetime = lifetime
        self.revoked: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            form = dict(httpx.QueryParams(request.content.decode()))
            self.forms.append(form)
            if form.get("client_secret") != "oauth-secret-abc":
                return httpx.Response(401, json={"error": "access_denied", "error_description": "Unauthorized"})
            token = f"token-{len(self.issued) + 1}-xyzxyz"
            self.issued.append(token)
            return httpx.Response(
                200,
                json={
                    "access_token": token,
                    "scope": "cdp.audience_exports:r",
                    "expires_in": self.lifetime,
                    "token_type": "Bearer",
                },
            )
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or token in self.revoked or token not in self.issued:
            return httpx.Response(401, json={"status": "UNAUTHORIZED", "code": 401, "message": "bad token"})
        return httpx.Response(200, json=[])


def test_oauth_token_is_requested_once_and_cached() -> None:
    server = TokenServer()
    http = connection(server).http
    for _ in range(3):
        http.get_json("/v2/audienceExports/definitions/x/reports", auth="oauth")
    assert server.issued == ["token-1-xyzxyz"]
    assert server.forms[0] == {
        "client_id": "oauth-id-789",
        "client_secret": "oauth-secret-abc",
        "grant_type": "client_credentials",
        "audience": "https://api.sitecorecloud.io",
    }


def test_oauth_token_refreshed_once_on_401() -> None:
    server = TokenServer()
    http = connection(server).http
    http.get_json("/v2/audienceExports/definitions/x/reports", auth="oauth")
    server.revoked.add("token-1-xyzxyz")
    http.get_json("/v2/audienceExports/definitions/x/reports", auth="oauth")
    assert server.issued == ["token-1-xyzxyz", "token-2-xyzxyz"]


def test_oauth_token_refreshed_shortly_before_expiry() -> None:
    now = [1000.0]
    server = TokenServer(lifetime=3600)
    auth = OAuthClientCredentials(
        TOKEN_URL,
        SecretStr("oauth-id-789"),
        SecretStr("oauth-secret-abc"),
        "https://api.sitecorecloud.io",
        clock=lambda: now[0],
    )
    client = httpx.Client(base_url=BASE, transport=httpx.MockTransport(server))
    http = CdpHttp(client, oauth=auth)
    http.get_json("/v2/audienceExports/definitions/x/reports", auth="oauth")
    now[0] += 3600 - 400  # still more than the early-refresh margin (6 min for a 1 h token) left
    http.get_json("/v2/audienceExports/definitions/x/reports", auth="oauth")
    assert len(server.issued) == 1
    now[0] += 300  # now within it
    http.get_json("/v2/audienceExports/definitions/x/reports", auth="oauth")
    assert len(server.issued) == 2


def test_wrong_oauth_secret_is_an_auth_error_naming_the_variables() -> None:
    bad = Credentials.of("client-key-123", "api-token-secret-456", "oauth-id-789", "wrong-secret-000")
    conn = CdpConnection(ConnectionProfile.tenant("EU"), bad, transport=httpx.MockTransport(TokenServer()))
    with pytest.raises(CdpAuthError) as info:
        conn.http.get_json("/v2/audienceExports/definitions/x/reports", auth="oauth")
    assert "CDP_OAUTH_CLIENT_SECRET" in str(info.value)
    assert "wrong-secret-000" not in str(info.value)


def test_missing_credentials_are_reported_not_sent() -> None:
    conn = CdpConnection(ConnectionProfile.tenant("US"), Credentials(), transport=httpx.MockTransport(TokenServer()))
    checks = {c.name: c for c in conn.test_connection()}
    assert not any(c.ok for c in checks.values())
    assert "CDP_API_TOKEN" in checks["rest"].message
    assert "CDP_OAUTH_CLIENT_SECRET" in checks["oauth"].message
    with pytest.raises(CdpError):
        conn.http.get_json("/v2.1/guests")


def test_test_connection_says_which_credential_is_wrong() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v2.1/"):
            return httpx.Response(200, json={"items": []})
        if request.url.path.startswith("/v2/batches"):
            return cdp_error(403, "Forbidden")
        return TokenServer()(request)

    bad_oauth = Credentials.of("client-key-123", "api-token-secret-456", "oauth-id-789", "nope-nope-nope")
    conn = CdpConnection(ConnectionProfile.tenant("AP"), bad_oauth, transport=httpx.MockTransport(handler))
    checks = {c.name: c for c in conn.test_connection()}
    assert checks["rest"].ok
    assert not checks["batch"].ok
    assert "Batch API" in checks["batch"].message
    assert not checks["oauth"].ok
    assert "OAuth client id or secret" in checks["oauth"].message


# -- request log ----------------------------------------------------------------------------------------------


def test_request_log_records_every_call_with_secrets_masked() -> None:
    server = TokenServer()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "s3.example.com":
            return httpx.Response(200)
        if request.url.path == "/v2.1/guests":
            return httpx.Response(201, json={"ref": "g1", "note": "api-token-secret-456 echoed"})
        return server(request)

    log = RequestLog()
    conn = CdpConnection(ConnectionProfile.tenant("EU"), CREDS, transport=httpx.MockTransport(handler), request_log=log)
    conn.http.send_json("POST", "/v2.1/guests", {"guestType": "customer"})
    conn.http.get_json("/v2/audienceExports/definitions/x/reports", auth="oauth")
    conn.http.request(
        "PUT",
        "https://s3.example.com/b/k/import.gz?AWSAccessKeyId=AKIAXX&Expires=9&Signature=abcdefsig",
        auth="none",
        content=b"\x1f\x8b...",
    )
    entries = log.entries()
    assert [(e.method, e.status) for e in entries] == [("POST", 201), ("POST", 200), ("GET", 200), ("PUT", 200)]
    dump = orjson.dumps([e.to_json() for e in entries]).decode()
    for secret in (
        "api-token-secret-456",
        "oauth-secret-abc",
        "token-1-xyzxyz",
        "abcdefsig",
        "AKIAXX",
        "client-key-123",
    ):
        assert secret not in dump, secret
    post, token, export, upload = entries
    assert dict(post.request_headers)["authorization"] == "Basic ***"
    assert post.request_body == '{"guestType":"customer"}'
    assert post.response_body is not None
    assert "$CDP_API_TOKEN echoed" in post.response_body
    assert token.request_body is not None
    assert "client_secret=$CDP_OAUTH_CLIENT_SECRET" in token.request_body
    assert token.response_body is not None
    assert '"access_token":"$CDP_ACCESS_TOKEN"' in token.response_body
    assert dict(export.request_headers)["authorization"] == "Bearer ***"
    assert "Signature=***" in upload.url
    assert upload.request_bytes == 5
    assert all(e.duration_ms >= 0 for e in entries)
    assert post.response_bytes > 0


def test_copy_as_curl_uses_environment_placeholders() -> None:
    log = RequestLog()
    conn = CdpConnection(
        ConnectionProfile.tenant("EU"), CREDS, transport=httpx.MockTransport(TokenServer()), request_log=log
    )
    conn.http.get_json("/v2/audienceExports/definitions/x/reports", auth="oauth")
    token_curl, export_curl = (e.as_curl() for e in log.entries())
    assert '--data-urlencode "client_id=$CDP_OAUTH_CLIENT_ID"' in token_curl
    assert '--data-urlencode "client_secret=$CDP_OAUTH_CLIENT_SECRET"' in token_curl
    assert '--data-urlencode "audience=https://api.sitecorecloud.io"' in token_curl
    assert '-H "Authorization: Bearer $CDP_ACCESS_TOKEN"' in export_curl
    assert export_curl.startswith("curl -X GET")
    assert export_curl.endswith('"https://api-engage-eu.sitecorecloud.io/v2/audienceExports/definitions/x/reports"')

    log2 = RequestLog()
    conn2 = CdpConnection(
        ConnectionProfile.tenant("EU"),
        CREDS,
        request_log=log2,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"items": []})),
    )
    conn2.http.send_json("PUT", "/v2/batches/b1", {"checksum": "ab", "size": 1})
    curl = log2.entries()[0].as_curl()
    assert '-u "$CDP_CLIENT_KEY:$CDP_API_TOKEN"' in curl
    assert '--data-raw \'{"checksum":"ab","size":1}\'' in curl
    assert "client-key-123" not in curl
    assert "api-token-secret-456" not in curl


def test_request_log_file_is_masked(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    path = tmp_path / "requests.ndjson"
    log = RequestLog(path=path)
    conn = CdpConnection(
        ConnectionProfile.tenant("EU"),
        CREDS,
        request_log=log,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"items": []})),
    )
    conn.http.get_json("/v2.1/guests")
    conn.close()
    text = path.read_text()
    assert '"/v2.1/guests' in text or "v2.1/guests" in text
    assert "api-token-secret-456" not in text


def test_masker_replaces_longest_secret_first_and_ignores_short_values() -> None:
    masker = SecretMasker({"abcdef": "$A", "abcdefghij": "$B", "x": "$X"})
    assert masker.text("abcdefghij abcdef x") == "$B $A x"


def test_build_client_sets_explicit_timeouts() -> None:
    client = build_httpx_client(BASE, timeout=httpx.Timeout(connect=1, read=2, write=3, pool=4))
    assert client.timeout == httpx.Timeout(connect=1, read=2, write=3, pool=4)
    assert str(client.base_url).rstrip("/") == BASE
    client.close()
