"""Fault injection (each kind), the request journal and the admin API."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import httpx
import pytest

from cdp_poc_studio.sandbox.faults import FaultRule

if TYPE_CHECKING:
    from conftest import SandboxApi


@pytest.mark.parametrize("status", [429, 500, 503])
def test_status_faults(api: SandboxApi, status: int) -> None:
    assert api.admin("POST", "/faults", json={"spec": f"status={status},path=/v2.1/guests*,count=1"}).status_code == 201
    faulted = api.rest.get("/v2.1/guests")
    assert faulted.status_code == status
    assert faulted.json()["code"] == status
    if status in (429, 503):
        assert faulted.headers["retry-after"] == "1"
    assert api.rest.get("/v2.1/guests").status_code == 200  # count=1: the next call goes through
    assert api.admin("GET", "/health").status_code == 200  # the admin API is never faulted


def test_retry_after_and_method_filter(api: SandboxApi) -> None:
    api.admin(
        "PUT", "/faults", json={"faults": [{"status": 429, "retry_after": 7, "method": "POST", "path": "/v2.1/*"}]}
    )
    assert api.rest.get("/v2.1/guests").status_code == 200
    limited = api.rest.post("/v2.1/guests", json={"guestType": "visitor"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"


def test_latency_fault_is_announced(api: SandboxApi) -> None:
    api.admin("POST", "/faults", json={"spec": "latency=30ms,path=/v2.1/*"})
    resp = api.rest.get("/v2.1/guests")
    assert resp.status_code == 200
    assert resp.headers["x-sandbox-fault"] == "latency=30ms"


@pytest.mark.parametrize("phase", ["before", "after", "refuse"])
def test_dropped_connection(api: SandboxApi, phase: str) -> None:
    api.admin("POST", "/faults", json={"spec": f"drop,count=1,phase={phase},method=POST,path=/v2.1/guests"})
    with pytest.raises(httpx.RemoteProtocolError) as raised:
        api.rest.post("/v2.1/guests", json={"guestType": "visitor"})
    if phase == "refuse":  # closed before any byte of a response
        assert "without sending a response" in str(raised.value)
    else:  # the response started, then the connection was cut
        assert "incomplete" in str(raised.value) or "complete message body" in str(raised.value)
    created = api.rest.get("/v2.1/guests").json()["items"]
    assert len(created) == (1 if phase == "after" else 0)  # "after": processed, then the answer was lost
    journal = api.admin("GET", "/journal", params={"prefix": "/v2.1/guests"}).json()
    dropped = next(e for e in (journal if isinstance(journal, list) else journal["entries"]) if e["method"] == "POST")
    assert dropped["fault"] == "drop"


def test_refused_connection_with_a_raw_socket(api: SandboxApi) -> None:
    """Not one byte: the client reads end-of-stream right after sending its request."""
    api.admin("POST", "/faults", json={"spec": "drop,phase=refuse,count=1,path=/v2.1/guests"})
    host, port = api.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /v2.1/guests HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1024) == b""
    assert api.rest.get("/v2.1/guests").status_code == 200  # count=1: the next request is served


def test_expired_upload_fault(api: SandboxApi) -> None:
    api.admin("POST", "/faults", json={"spec": "expire_upload,count=1"})
    data = api.gz([{"ref": "r", "schema": "guest", "mode": "upsert", "value": {"email": "x@example.com"}}])
    batch = api.allocate(data)
    expired = api.upload(batch["location"]["href"], data)
    assert expired.status_code == 403
    assert b"Request has expired" in expired.content
    assert api.upload(batch["location"]["href"], data).status_code == 200
    api.drain()


def test_corrupted_upload_fault(api: SandboxApi) -> None:
    api.admin("POST", "/faults", json={"spec": "corrupt_upload"})
    data = api.gz([{"ref": "r", "schema": "guest", "mode": "upsert", "value": {"email": "x@example.com"}}])
    batch = api.allocate(data)
    assert api.upload(batch["location"]["href"], data).status_code == 200
    api.drain()
    assert api.rest.get(f"/v2/batches/{batch['ref']}").json()["status"] == {"code": "corrupted"}


def test_seeded_rate_is_reproducible(api: SandboxApi) -> None:
    def pattern() -> list[int]:
        api.admin("PUT", "/faults", json={"faults": ["status=503,rate=0.5,path=/v2.1/*"], "seed": 42})
        return [api.rest.get("/v2.1/guests").status_code for _ in range(20)]

    first, second = pattern(), pattern()
    assert first == second
    assert set(first) == {200, 503}


@pytest.mark.parametrize(
    "spec",
    ["status=503,rate=0.1,path=/v2.1/*", "latency=50ms", "drop,rate=0.02", "expire_upload", "status=429,retry_after=2"],
)
def test_cli_fault_specs_parse(spec: str) -> None:
    rule = FaultRule.parse(spec)
    assert rule.action in (None, "status", "drop", "expire_upload") or rule.latency_ms == 50


@pytest.mark.parametrize("spec", ["status=200", "rate=2,drop", "bogus", "latency=0", "status=503,colour=red"])
def test_bad_fault_specs_are_refused(api: SandboxApi, spec: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        FaultRule.parse(spec)
    assert api.admin("POST", "/faults", json={"spec": spec}).status_code == 400


def test_journal_records_requests_with_secrets_masked(api: SandboxApi) -> None:
    api.admin("DELETE", "/journal")
    api.rest.post("/v2.1/guests", json={"guestType": "visitor"})
    api.anon.get("/v2.1/guests")
    entries = api.admin("GET", "/journal", params={"prefix": "/v2.1"}).json()["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/v2.1/guests", 201),
        ("GET", "/v2.1/guests", 401),
    ]
    assert entries[0]["request_headers"]["authorization"] == "Basic ***"
    assert entries[0]["request_headers"]["content-type"] == "application/json"
    assert entries[0]["duration_ms"] >= 0
    assert entries[0]["request_bytes"] > 0
    assert api.admin("DELETE", "/journal").status_code == 200
    assert api.admin("GET", "/journal").json()["entries"] == []


def test_journal_masks_presigned_signatures_and_records_faults(api: SandboxApi) -> None:
    api.admin("POST", "/faults", json={"spec": "status=500,count=1,path=/v2/batches/*"})
    api.rest.get("/v2/batches/inspect")
    data = api.gz([{"ref": "r", "schema": "guest", "mode": "upsert", "value": {"email": "j@example.com"}}])
    batch = api.allocate(data)
    api.upload(batch["location"]["href"], data)
    api.drain()
    entries = api.admin("GET", "/journal").json()["entries"]
    faulted = next(e for e in entries if e["path"] == "/v2/batches/inspect")
    assert faulted["status"] == 500
    assert faulted["fault"] == "status"
    upload = next(e for e in entries if e["path"].startswith("/_s3/"))
    assert "Signature=***" in upload["query"]
    assert upload["status"] == 200


def test_reset_and_clock_admin(api: SandboxApi) -> None:
    api.create_guest()
    api.set_clock("2030-01-01T00:00:00.000Z")
    assert api.admin("GET", "/clock").json() == {"now": "2030-01-01T00:00:00.000Z", "frozen": True}
    api.advance(90)
    assert api.admin("GET", "/clock").json()["now"] == "2030-01-01T00:01:30.000Z"
    assert api.create_guest()["createdAt"] == "2030-01-01T00:01:30.000Z"
    assert api.admin("POST", "/clock", json={"now": "not a date"}).status_code == 400
    api.admin("POST", "/reset")
    assert api.rest.get("/v2.1/guests").json()["items"] == []
    assert api.admin("GET", "/clock").json()["frozen"] is False


def test_in_process_clock_object(api: SandboxApi) -> None:
    from datetime import UTC, datetime

    api.server.clock.set(datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC), frozen=True)
    assert api.create_guest()["createdAt"] == "2031-02-03T04:05:06.000Z"


def test_openapi_describes_the_cdp_surface(api: SandboxApi) -> None:
    spec = api.anon.get("/_sandbox/openapi.json").json()
    paths = spec["paths"]
    assert "/v2.1/guests" in paths
    assert "/v2/batches/{batchRef}" in paths
    assert "/oauth/token" in paths
    assert "/v2/audienceExports/definitions/{audienceExportRef}/latestExport" in paths
    assert not any(p.startswith(("/_sandbox", "/_s3")) for p in paths)
    create = paths["/v2.1/guests"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create["required"] == ["guestType"]
    assert create["properties"]["guestType"]["enum"] == ["visitor", "customer", "traveller"]
    assert set(spec["components"]["securitySchemes"]) == {"BasicAuth", "BearerToken"}
