"""The REST sender against MockTransport: request shapes, fatal errors and ledger consistency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.ledger import RecordState, RunLedger
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.rest import items_of, ref_of
from cdp_poc_studio.cdp.rest_sender import RestSender, RestSettings
from cdp_poc_studio.cdp.retry import RetrySettings
from cdp_poc_studio.cdp.secrets import Credentials
from cdp_poc_studio.domain.errors import CdpAuthError, CdpTransportError
from cdp_poc_studio.domain.schema import ExtensionSchema
from tests.helpers.data import make_generator

CREDS = Credentials.of("client-key-123", "api-token-secret-456")
QUICK = RetrySettings(attempts=3, initial=0.001, maximum=0.01, jitter=0.001)


def connection(handler: Any) -> CdpConnection:
    return CdpConnection(ConnectionProfile.tenant("EU"), CREDS, transport=httpx.MockTransport(handler), retry=QUICK)


def test_ref_of_and_items_of_follow_the_collection_conventions() -> None:
    assert ref_of({"href": "https://x/v2.1/guests/abc-123"}) == "abc-123"
    assert ref_of({"ref": "r", "href": "https://x/v2.1/guests/other"}) == "r"
    assert items_of({"href": "h", "offset": 0, "limit": 10, "items": [{"href": "a"}]}) == [{"href": "a"}]
    assert items_of([{"ref": "b"}, "junk"]) == [{"ref": "b"}]
    assert items_of(None) == []


def test_first_run_requests_in_order(schema: ExtensionSchema) -> None:
    [guest] = list(make_generator(1, schema, orders_per_guest="fixed:1", items_per_order="fixed:1").guests())
    seen: list[tuple[str, str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content) if request.content else None
        seen.append((request.method, request.url.path, body))
        if request.method == "GET":
            return httpx.Response(200, json={"items": []})
        return httpx.Response(201, json={"ref": f"ref-{len(seen)}"})

    result = RestSender(connection(handler).http).send([guest])
    assert (result.guests_done, result.orders_done) == (1, 1)
    paths = [(m, p) for m, p, _ in seen]
    order = guest.orders[0].record["value"]
    expected_start = [("GET", "/v2.1/guests"), ("POST", "/v2.1/guests")]
    assert paths[:2] == expected_start
    guest_post = seen[1][2]
    assert "extensions" not in guest_post
    assert guest_post["identifiers"] == [guest.identifier]
    ext_posts = [(p, b) for m, p, b in seen if p == "/v2.1/guests/ref-2/extensions"]
    assert [b["name"] for _p, b in ext_posts] == [g["name"] for g in guest.guest["extensions"]]
    assert all("key" not in b for _p, b in ext_posts)
    order_post = next(b for m, p, b in seen if (m, p) == ("POST", "/v2.1/orders"))
    assert order_post["referenceId"] == order["referenceId"]
    assert not {"contact", "orderItems", "extensions"} & set(order_post)
    assert any(p.endswith("/contacts") and b == order["contact"] for _m, p, b in seen)
    assert any(
        p.endswith("/orderItems") and b["referenceId"] == order["orderItems"][0]["referenceId"] for _m, p, b in seen
    )


def test_unreachable_cdp_stops_the_run_and_leaves_records_sent(schema: ExtensionSchema, tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    ledger = RunLedger(tmp_path / "ledger.sqlite")
    guests = list(make_generator(20, schema).guests())
    with pytest.raises(CdpTransportError):
        RestSender(connection(refuse).http, ledger, RestSettings(concurrency=4)).send(guests)
    counts = ledger.counts()
    assert counts[RecordState.DONE] == counts[RecordState.FAILED] == 0
    assert counts[RecordState.SENT] + counts[RecordState.GENERATED] == ledger.total()


def test_wrong_credentials_stop_the_run_with_an_auth_error(schema: ExtensionSchema) -> None:
    def unauthorized(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"status": "UNAUTHORIZED", "code": 401, "message": "Authentication required"})

    with pytest.raises(CdpAuthError):
        RestSender(connection(unauthorized).http).send(list(make_generator(10, schema).guests()))


def test_rate_limit_caps_the_request_rate(schema: ExtensionSchema) -> None:
    import time

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"items": []})
        return httpx.Response(201, json={"ref": "r"})

    guests = list(make_generator(6, schema, orders_per_guest="fixed:0").guests())
    conn = connection(handler)
    started = time.monotonic()
    RestSender(conn.http, settings=RestSettings(concurrency=4, rate_limit=50)).send(guests)
    elapsed = time.monotonic() - started
    requests = conn.request_log.count
    # Burst of `concurrency` allowed, then 50 a second.
    assert elapsed >= (requests - 4) / 50 * 0.9
