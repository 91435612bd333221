"""Probing the sandbox as an attacker would: the admin API's guards, secrets, bounded bodies and lines, numbers
out of range, 401 challenges, and HTTPS. Every refusal is a clear error body, never a 500."""

from __future__ import annotations

import gzip
import hashlib
import ssl
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from cdp_poc_studio.sandbox.batch_file import check_file, iter_lines
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import SandboxServer

if TYPE_CHECKING:
    from conftest import SandboxApi

AUTH = ("sandbox-client-key", "sandbox-api-token")
SECRETS = ("sandbox-client-key", "sandbox-api-token", "sandbox-oauth-client", "sandbox-oauth-secret")


@pytest.fixture(scope="module")
def small_server() -> Iterator[SandboxServer]:
    """A sandbox with small limits and an admin token, to probe the guards cheaply."""
    config = SandboxConfig(port=0, max_body_bytes=64 * 1024, batch_max_bytes=256 * 1024, admin_token="s3cret-admin")
    with SandboxServer(config) as server:
        yield server


def test_admin_api_refuses_cross_site_requests(api: SandboxApi) -> None:
    own_origin = api.base_url
    assert api.admin("POST", "/reset", headers={"Origin": own_origin}).status_code == 200
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Host": "evil.example"},  # a rebound DNS name pointing at 127.0.0.1
    ):
        resp = api.admin("POST", "/reset", headers=headers)
        assert resp.status_code == 403, headers
        assert "refused" in resp.json()["error"] or "loopback" in resp.json()["error"]
    # a browser's simple requests: a form post or a text/plain body
    form = api.admin("POST", "/faults", data={"spec": "status=500"})
    assert form.status_code == 403
    text = api.admin("PUT", "/faults", content=b'{"faults": ["status=500"]}', headers={"Content-Type": "text/plain"})
    assert text.status_code == 403
    assert api.admin("GET", "/faults").json() == {"faults": []}


def test_admin_token_is_required_when_set(small_server: SandboxServer) -> None:
    url = small_server.base_url + "/_sandbox/clock"
    refused = httpx.post(url, json={"advanceSeconds": 60})
    assert refused.status_code == 403
    assert "X-Sandbox-Admin-Token" in refused.json()["error"] or "x-sandbox-admin-token" in refused.json()["error"]
    assert httpx.get(url, headers={"X-Sandbox-Admin-Token": "wrong"}).status_code == 403
    assert httpx.get(url, headers={"X-Sandbox-Admin-Token": "s3cret-admin"}).status_code == 200


def test_config_and_health_hold_no_secrets(api: SandboxApi) -> None:
    for path in ("/config", "/health"):
        text = api.admin("GET", path).text
        assert all(secret not in text for secret in SECRETS), path


def test_request_bodies_are_bounded(small_server: SandboxServer) -> None:
    rest = httpx.Client(base_url=small_server.base_url, auth=AUTH)
    declared = rest.post("/v2.1/guests", content=b" " * (65 * 1024), headers={"Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["code"] == 413
    assert declared.json()["message"] == "Payload Too Large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for _ in range(200):
            yield b" " * 1024

    chunked = rest.post("/v2.1/guests", content=chunks(), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert chunked.json()["status"] == 413
    # the upload limit is the batch limit (plus headroom), not the REST one
    data = gzip.compress(b"{}\n" * 10)
    batch = rest.put(
        "/v2/batches/6f1c4b1e-0d1f-4c8e-9d35-7d2e8c1f0a11",
        json={"checksum": hashlib.md5(data).hexdigest(), "size": len(data)},
    ).json()
    big = httpx.put(batch["location"]["href"], content=b"\x1f\x8b" + b"\0" * (400 * 1024))
    assert big.status_code == 413
    assert httpx.put(batch["location"]["href"], content=data).status_code == 200
    rest.close()


def test_memory_stays_flat_for_a_chunked_body_over_the_limit(small_server: SandboxServer) -> None:
    """A 16 MiB body sent in chunks to a route limited to 64 KiB costs the server about the limit, not the body."""

    def chunks() -> Iterator[bytes]:
        block = b" " * (256 * 1024)
        for _ in range(64):
            yield block

    tracemalloc.start()
    try:
        with httpx.Client(base_url=small_server.base_url, auth=AUTH) as rest:
            resp = rest.post("/v2.1/guests", content=chunks(), headers={"Content-Type": "application/json"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert resp.status_code == 413
    assert peak < 8 * 1024 * 1024, peak


def test_memory_stays_flat_reading_a_long_line() -> None:
    """A 0.1 MiB upload holding one 64 MiB line: the worker's reader keeps the first bytes, not the line."""
    data = gzip.compress(b'{"ref":"r1","x":"' + b"y" * (64 * 1024 * 1024) + b'"}\n{"ref":"r2"}\n')
    assert len(data) < 200 * 1024
    tracemalloc.start()
    try:
        assert check_file(data) == 2
        lines = [line[:40] for line in iter_lines(data, 1024 * 1024)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lines[1] == b'{"ref":"r2"}'
    assert lines[0].startswith(b"\x00too-long\x00")
    assert peak < 24 * 1024 * 1024, peak


@pytest.mark.parametrize(
    "path",
    [
        "/v2.1/guests",
        "/v2/guests",
        "/v2.1/orders?guestRef=x",
        "/v2/orders?guestRef=x",
        "/v2/batches/inspect",
    ],
)
@pytest.mark.parametrize("param", ["offset", "limit"])
def test_out_of_range_integers_are_400(api: SandboxApi, path: str, param: str) -> None:
    sep = "&" if "?" in path else "?"
    for value in (2**63, 2**64 + 5, -(2**63) - 1):
        resp = api.rest.get(f"{path}{sep}{param}={value}")
        assert resp.status_code == 400, (path, param, value)
        assert resp.json()["message"].startswith(f"{param}:")


def test_admin_numbers_out_of_range_are_400(api: SandboxApi) -> None:
    assert api.admin("POST", "/clock", json={"advanceSeconds": 1e308}).status_code == 400
    assert api.admin("POST", "/batches/drain?timeout=1e309").status_code == 400


def test_every_401_carries_a_challenge(api: SandboxApi) -> None:
    for resp in (api.anon.get("/v2.1/guests"), api.anon.get("/v2/guests"), api.anon.get("/v2/batches/inspect")):
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"].startswith("Basic realm=")
    export = api.anon.get("/v2/audienceExports/definitions/x/latestExport")
    assert export.status_code == 401
    assert export.headers["WWW-Authenticate"].startswith("Bearer realm=")
    # a client that answers the challenge (httpx's DigestAuth falls back to nothing; Basic after the challenge)
    challenged = api.anon.get("/v2/guests", auth=httpx.BasicAuth(*AUTH))
    assert challenged.status_code == 200


def test_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    config = SandboxConfig(port=0, tls_dir=tmp_path)
    with SandboxServer(config) as server:
        assert server.base_url.startswith("https://127.0.0.1:")
        assert server.certificate == tmp_path / "sandbox-cert.pem"
        first = server.certificate.read_bytes()
        with httpx.Client(
            base_url=server.base_url, auth=AUTH, verify=ssl.create_default_context(cafile=server.certificate)
        ) as client:
            assert client.get("/v2/guests").status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.base_url + "/_sandbox/health")  # not trusted without the certificate
    assert (tmp_path / "sandbox-key.pem").stat().st_mode & 0o077 == 0
    with SandboxServer(SandboxConfig(port=0, tls_dir=tmp_path)) as again:  # made once, kept
        assert again.certificate is not None
        assert again.certificate.read_bytes() == first


def test_many_refusals_never_500(api: SandboxApi) -> None:
    probes = [
        ("POST", "/v2.1/guests", b"\xff\xfe", {"Content-Type": "application/json"}),
        ("POST", "/v2/guests", b"[" * 5000, {"Content-Type": "application/json"}),
        ("GET", "/v2.1/guests?sort=" + "a::ASC|" * 500, b"", {}),
        ("PUT", "/v2/batches/" + "x" * 5000, b"{}", {"Content-Type": "application/json"}),
        ("GET", "/v2/guests/%00/ext%00/x", b"", {}),
        ("POST", "/v2/guests/x/extext", b'{"key":"default","a":{"b":1}}', {"Content-Type": "application/json"}),
    ]
    results: list[int] = []

    def probe(method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
        results.append(api.rest.request(method, path, content=body, headers=headers).status_code)

    threads = [threading.Thread(target=probe, args=p) for p in probes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == len(probes)
    assert all(400 <= status < 500 for status in results), results


def _cli_config(db_path: Path, **options: Any) -> SandboxConfig:
    """The config `cdp-poc-studio sandbox` builds from its defaults, with `options` as given on the command line."""
    from cdp_poc_studio.sandbox.cli_support import build_config

    defaults: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "client_key": None,
        "api_token": None,
        "oauth_client_id": None,
        "oauth_client_secret": None,
        "snapshot": "immediate",
        "faults": (),
        "seed": None,
    }
    return build_config(db_path=str(db_path), **(defaults | options))


def test_cli_config_keeps_the_certificate_beside_the_database(tmp_path: Path) -> None:
    config = _cli_config(tmp_path / "data" / "sandbox.db", tls=True)
    assert config.tls_dir == tmp_path / "data"
    assert _cli_config(tmp_path / "x.db").tls_dir is None


def test_admin_token_made_for_a_sandbox_beyond_loopback_is_owner_only(tmp_path: Path) -> None:
    from cdp_poc_studio.sandbox.server import _admin_token_file

    config = SandboxConfig(host="0.0.0.0", db_path=str(tmp_path / "sandbox.db"))  # never bound in this test
    path = _admin_token_file(config)
    token = path.read_text()
    assert len(token) >= 24
    assert path.stat().st_mode & 0o077 == 0
    assert _admin_token_file(config).read_text() == token  # made once, kept
