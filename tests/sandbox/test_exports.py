"""Audience exports: OAuth, definitions through the admin API, full and delta runs in JSON and CSV, nightly
snapshot with the movable clock, expiring output URLs."""

from __future__ import annotations

import csv
import gzip
import io
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import SandboxServer

if TYPE_CHECKING:
    from conftest import SandboxApi

TOKEN_FORM = {
    "client_id": "sandbox-oauth-client",
    "client_secret": "sandbox-oauth-secret",
    "grant_type": "client_credentials",
    "audience": "https://api.sitecorecloud.io",
}


def upsert(ident: str, **value: Any) -> dict[str, Any]:
    return {
        "ref": str(uuid.uuid4()),
        "schema": "guest",
        "mode": "upsert",
        "value": {"guestType": "customer", "identifiers": [{"provider": "CRM", "id": ident}], **value},
    }


def define(api: SandboxApi, **definition: Any) -> dict[str, Any]:
    resp = api.admin("POST", "/exports", json={"friendlyId": "loyal", "name": "Loyal guests", **definition})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def run(api: SandboxApi, key: str = "loyal") -> dict[str, Any]:
    resp = api.admin("POST", f"/exports/{key}/run")
    assert resp.status_code == 200, resp.text
    report: dict[str, Any] = resp.json()
    return report


def download(url: str) -> bytes:
    resp = httpx.get(url)
    assert resp.status_code == 200, resp.text
    return gzip.decompress(resp.content)


def test_token_endpoint(api: SandboxApi) -> None:
    resp = api.anon.post("/oauth/token", data=TOKEN_FORM)
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"access_token", "scope", "expires_in", "token_type"}
    assert body["scope"] == "cdp.audience_exports:r"
    assert body["expires_in"] == 86400
    assert body["token_type"] == "Bearer"
    assert body["access_token"].count(".") == 2  # a JWT
    wrong = api.anon.post("/oauth/token", data={**TOKEN_FORM, "client_secret": "nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "access_denied"
    grant = api.anon.post("/oauth/token", data={**TOKEN_FORM, "grant_type": "password"})
    assert grant.status_code == 400
    assert grant.json()["error"] == "unsupported_grant_type"
    audience = api.anon.post("/oauth/token", data={**TOKEN_FORM, "audience": "https://elsewhere"})
    assert audience.status_code == 403


def test_bearer_token_expires_by_the_sandbox_clock(api: SandboxApi) -> None:
    define(api)
    run(api)
    api.set_clock("2026-02-01T00:00:00.000Z")
    bearer = api.bearer()
    assert bearer.get("/v2/audienceExports/definitions/loyal/reports").status_code == 200
    api.advance(86399)
    assert bearer.get("/v2/audienceExports/definitions/loyal/reports").status_code == 200
    api.advance(2)
    expired = bearer.get("/v2/audienceExports/definitions/loyal/reports")
    assert expired.status_code == 401
    assert expired.json()["status"] == "UNAUTHORIZED"
    basic = api.rest.get("/v2/audienceExports/definitions/loyal/reports")
    assert basic.status_code == 401  # the export API takes Bearer tokens only
    bearer.close()


def test_full_export_json_with_segment_extensions_and_orders(api: SandboxApi) -> None:
    api.set_clock("2025-06-01T00:00:00.000Z")
    order = {"ref": "o1", "schema": "order", "mode": "insert", "value": {
        "referenceId": "R-1", "channel": "WEB", "pointOfSale": "shop", "status": "PURCHASED",
        "orderedAt": "2025-01-01T10:00:00.000Z", "currencyCode": "EUR", "price": 50, "paymentType": "Cash",
        "contact": {"identifiers": [{"provider": "CRM", "id": "g1"}]}, "orderItems": []}}  # fmt: skip
    api.run_batch([
        upsert("g1", email="g1@example.com", firstName="Gold", extensions=[{"name": "ext", "tier": "gold"}]),
        upsert("g2", email="g2@example.com", firstName="Silver", extensions=[{"name": "ext", "tier": "silver"}]),
        upsert("g3", email="g3@example.com", firstName="Gold2", extensions=[{"name": "ext1", "tier": "gold"}]),
        order,
        {**order, "value": {**order["value"], "referenceId": "OLD-1", "orderedAt": "2023-01-01T10:00:00.000Z"}},
    ])  # fmt: skip
    definition = define(
        api,
        segment={"match": "all", "rules": [{"extension": "tier", "op": "eq", "value": "gold"}]},
        attributes=["email", "firstName"],
        includeOrders=True,
    )
    report = run(api)
    assert report["status"] == "SUCCESS"
    assert report["definitionType"] == "FULL_SYNC"
    assert report["total"] == 2
    assert report["successes"] == 2
    assert report["friendlyId"] == "loyal"
    with api.bearer() as bearer:
        latest = bearer.get("/v2/audienceExports/definitions/loyal/latestExport")
        assert latest.status_code == 200
        listing = latest.json()
        assert listing["executionRef"] == report["executionRef"]
        assert listing["definitionRef"] == definition["ref"]
        assert listing["numberOfFiles"] == 1
        assert listing["clientKey"] == "sandbox-client-key"
        by_uuid = bearer.get(f"/v2/audienceExports/definitions/{definition['ref']}/latestExport").json()
        assert by_uuid["executionRef"] == report["executionRef"]
        same = bearer.get(f"/v2/audienceExports/executions/{report['executionRef']}/export").json()
        assert same["executionRef"] == report["executionRef"]
        reports = bearer.get("/v2/audienceExports/definitions/loyal/reports").json()
        assert [r["executionRef"] for r in reports] == [report["executionRef"]]
        assert bearer.get("/v2/audienceExports/definitions/nope/latestExport").status_code == 404
    lines = [orjson.loads(line) for line in download(listing["exports"][0]["url"]).splitlines()]
    by_email = {line["email"]: line for line in lines}
    assert set(by_email) == {"g1@example.com", "g3@example.com"}
    assert by_email["g1@example.com"]["ext.tier"] == "gold"
    assert by_email["g3@example.com"]["ext1.tier"] == "gold"
    # Facts §7.4: the last 20 orders by orderedAt, whatever their age, newest first.
    assert [o["referenceId"] for o in by_email["g1@example.com"]["orders"]] == ["R-1", "OLD-1"]
    assert set(by_email["g1@example.com"]) == {"guestRef", "email", "firstName", "ext.tier", "orders"}


def test_export_carries_the_last_20_orders_by_ordered_at_whatever_their_age(api: SandboxApi) -> None:
    def order(n: int, year: int) -> dict[str, Any]:
        return {"ref": str(uuid.uuid4()), "schema": "order", "mode": "insert", "value": {
            "referenceId": f"R-{n:02d}", "orderedAt": f"{year}-03-{n + 1:02d}T10:00:00.000Z", "channel": "WEB",
            "pointOfSale": "x", "currencyCode": "EUR", "price": 1, "status": "PURCHASED", "paymentType": "Cash",
            "contact": {"identifiers": [{"provider": "CRM", "id": "many"}]}, "orderItems": []}}  # fmt: skip

    # 25 orders from 2009 and 2010, sent in no particular order.
    orders = [order(n, 2009 + n % 2) for n in (3, 17, 0, 24, 8, 11, 1, 20, 5, 14, 22, 2, 9, 18, 6, 23, 12, 4, 15,
                                                  21, 7, 10, 19, 13, 16)]  # fmt: skip
    assert api.run_batch([upsert("many", email="many@example.com"), *orders])["status"]["code"] == "success"
    define(api, attributes=["email"], includeOrders=True, includeExtensions=False)
    listing = run_and_list(api)
    (line,) = [orjson.loads(x) for x in download(listing["exports"][0]["url"]).splitlines()]
    by_date = sorted((o["value"]["orderedAt"], o["value"]["referenceId"]) for o in orders)
    assert [o["referenceId"] for o in line["orders"]] == [ref for _, ref in reversed(by_date[-20:])]


def run_and_list(api: SandboxApi) -> dict[str, Any]:
    run(api)
    with api.bearer() as bearer:
        body: dict[str, Any] = bearer.get("/v2/audienceExports/definitions/loyal/latestExport").json()
    return body


def test_csv_options_and_order_fact_segment(api: SandboxApi) -> None:
    api.run_batch([upsert("c1", email="c1@example.com", firstName="Ann, Jr"), upsert("c2", email="c2@example.com")])
    define(api, format="CSV", csv={"separator": "pipe", "header": True, "quote": False},
           attributes=["email", "firstName"], includeExtensions=False)  # fmt: skip
    report = run(api)
    with api.bearer() as bearer:
        url = bearer.get(f"/v2/audienceExports/executions/{report['executionRef']}/export").json()["exports"][0]["url"]
    text = download(url).decode()
    rows = list(csv.reader(io.StringIO(text), delimiter="|"))
    assert rows[0] == ["guestRef", "email", "firstName"]
    assert sorted(r[1:] for r in rows[1:]) == [["c1@example.com", "Ann, Jr"], ["c2@example.com", ""]]
    assert '"' not in text
    change = {
        "csv": {"separator": "comma", "header": False, "quote": True},
        "segment": {"rules": [{"order": "count", "op": "gte", "value": 1}]},
    }
    assert api.admin("PATCH", "/exports/loyal", json=change).status_code == 200
    empty = run(api)
    assert empty["total"] == 0


def test_delta_export_has_added_and_removed_files(api: SandboxApi) -> None:
    api.run_batch([upsert(f"d{i}", email=f"d{i}@example.com", city="Cork") for i in range(3)])
    define(api, definitionType="DELTA", segment={"rules": [{"attribute": "city", "op": "eq", "value": "Cork"}]},
           attributes=["email"])  # fmt: skip
    first = run(api)
    assert first["successAdd"] == 3
    assert first["successRemove"] == 0
    api.run_batch([upsert("d0", city="Dublin"), upsert("d9", email="d9@example.com", city="Cork")])
    second = run(api)
    assert second["successAdd"] == 1
    assert second["successRemove"] == 1
    assert second["total"] == 3
    with api.bearer() as bearer:
        listing = bearer.get("/v2/audienceExports/definitions/loyal/latestExport").json()
    actions = {e["deltaAction"]: e["url"] for e in listing["exports"]}
    assert set(actions) == {"add", "remove"}
    added = [orjson.loads(x) for x in download(actions["add"]).splitlines()]
    removed = [orjson.loads(x) for x in download(actions["remove"]).splitlines()]
    assert [a["email"] for a in added] == ["d9@example.com"]
    assert len(removed) == 1
    assert set(removed[0]) == {"guestRef"}


def test_output_urls_expire(api: SandboxApi) -> None:
    api.set_clock("2026-04-01T12:00:00.000Z")
    define(api)
    report = run(api)
    with api.bearer() as bearer:
        listing = bearer.get(f"/v2/audienceExports/executions/{report['executionRef']}/export").json()
    assert listing["expireAt"] == "2026-04-01T13:00:00.000Z"
    url = listing["exports"][0]["url"]
    assert httpx.get(url).status_code == 200
    api.advance(3601)
    gone = httpx.get(url)
    assert gone.status_code == 403
    assert b"Request has expired" in gone.content
    assert httpx.get(url.replace("Signature=", "Signature=x")).status_code == 403


def test_files_split_at_configured_size(tmp_path: Any) -> None:
    with SandboxServer(SandboxConfig(port=0, db_path=str(tmp_path / "s.db"), export_split_size=2)) as server:
        from conftest import SandboxApi

        api = SandboxApi(server)
        api.run_batch([upsert(f"s{i}", email=f"s{i}@example.com") for i in range(5)])
        define(api)
        report = run(api)
        with api.bearer() as bearer:
            listing = bearer.get(f"/v2/audienceExports/executions/{report['executionRef']}/export").json()
        counts = [len(download(e["url"]).splitlines()) for e in listing["exports"]]
        assert counts == [2, 2, 1]
        api.close()


@pytest.fixture
def nightly(tmp_path: Any) -> Any:
    server = SandboxServer(SandboxConfig(port=0, db_path=str(tmp_path / "n.db"), snapshot_mode="nightly")).start()
    from conftest import SandboxApi

    api = SandboxApi(server)
    yield api
    api.close()
    server.stop()


def test_nightly_snapshot_shows_data_after_midnight_utc(nightly: SandboxApi) -> None:
    api = nightly
    api.set_clock("2026-05-10T09:00:00.000Z")
    api.run_batch([upsert("n1", email="n1@example.com")])
    define(api)
    today = run(api)
    assert today["total"] == 0
    assert today["datasetDate"] == "2026-05-09"
    api.set_clock("2026-05-10T23:59:59.000Z")
    assert run(api)["total"] == 0
    api.set_clock("2026-05-11T00:00:01.000Z")
    api.run_batch([upsert("n2", email="n2@example.com")])  # written after midnight: tomorrow's data
    next_day = run(api)
    assert next_day["total"] == 1
    assert next_day["datasetDate"] == "2026-05-10"
    api.set_clock("2026-05-12T06:00:00.000Z")
    assert run(api)["total"] == 2
