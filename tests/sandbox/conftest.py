"""The sandbox over real loopback HTTP: the session's one server (`tests.helpers.fixtures`), data reset before
every test, driven with plain httpx (these tests check the HTTP API itself, not a client of it)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from cdp_poc_studio.sandbox.server import SandboxServer

CLIENT_KEY = "sandbox-client-key"
API_TOKEN = "sandbox-api-token"


class SandboxApi:
    """Clients for the running sandbox plus the few steps most tests repeat (batch upload, export run)."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.rest = httpx.Client(base_url=server.base_url, auth=(CLIENT_KEY, API_TOKEN), timeout=60)
        self.anon = httpx.Client(base_url=server.base_url, timeout=60)

    def close(self) -> None:
        self.rest.close()
        self.anon.close()

    # admin
    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.anon.request(method, "/_sandbox" + path, **kwargs)

    def set_clock(self, now: str, frozen: bool = True) -> None:
        self.admin("POST", "/clock", json={"now": now, "frozen": frozen}).raise_for_status()

    def advance(self, seconds: float) -> None:
        self.admin("POST", "/clock", json={"advanceSeconds": seconds}).raise_for_status()

    def drain(self) -> None:
        assert self.admin("POST", "/batches/drain").json() == {"idle": True}

    # batch
    @staticmethod
    def gz(records: list[Any]) -> bytes:
        return gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in records))

    def allocate(self, data: bytes, ref: str | None = None) -> dict[str, Any]:
        ref = ref or str(uuid.uuid4())
        resp = self.rest.put(f"/v2/batches/{ref}", json={"checksum": hashlib.md5(data).hexdigest(), "size": len(data)})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def upload(self, url: str, data: bytes, md5: bytes | None = None) -> httpx.Response:
        digest = md5 if md5 is not None else hashlib.md5(data).digest()
        headers = {
            "x-amz-server-side-encryption": "AES256",
            "Content-Md5": base64.b64encode(digest).decode(),
            "Content-Type": "application/gzip",
        }
        return httpx.put(url, content=data, headers=headers, timeout=60)

    def run_batch(self, records: list[Any] | bytes) -> dict[str, Any]:
        data = records if isinstance(records, bytes) else self.gz(records)
        batch = self.allocate(data)
        resp = self.upload(batch["location"]["href"], data)
        assert resp.status_code == 200, resp.text
        self.drain()
        status = self.rest.get(f"/v2/batches/{batch['ref']}")
        assert status.status_code == 200
        result: dict[str, Any] = status.json()
        return result

    def error_log(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        resp = httpx.get(batch["status"]["log"])
        assert resp.status_code == 200
        return [orjson.loads(line) for line in gzip.decompress(resp.content).splitlines()]

    # oauth
    def token(self) -> str:
        resp = self.anon.post(
            "/oauth/token",
            data={
                "client_id": "sandbox-oauth-client",
                "client_secret": "sandbox-oauth-secret",
                "grant_type": "client_credentials",
                "audience": "https://api.sitecorecloud.io",
            },
        )
        assert resp.status_code == 200, resp.text
        token: str = resp.json()["access_token"]
        return token

    def bearer(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.token()}"}, timeout=60)

    # guests
    def create_guest(self, **fields: Any) -> dict[str, Any]:
        resp = self.rest.post("/v2.1/guests", json={"guestType": "customer", **fields})
        assert resp.status_code == 201, resp.text
        guest: dict[str, Any] = resp.json()
        return guest


@pytest.fixture
def api(sandbox_server: SandboxServer) -> Iterator[SandboxApi]:
    api = SandboxApi(sandbox_server)
    reset = api.admin("POST", "/reset")
    assert reset.status_code == 200
    yield api
    api.close()
