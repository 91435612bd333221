"""Legacy Guest and Order REST v2 over loopback HTTP: the documented requests, /v2 links, one store with v2.1."""

from __future__ import annotations

import gzip
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from tests.helpers.doc_examples import DOC_GUEST, DOC_ORDER

if TYPE_CHECKING:
    from conftest import SandboxApi

ITEM = {
    "type": "FLIGHT",
    "productId": "FL44124",
    "name": "NYC-PAR Flight",
    "description": "Flight from New York City to Paris",
    "vendor": "Travel Agency",
    "price": 105,
    "currencyCode": "EUR",
}
# The legacy pages' examples (facts §3.5) are sent as their curl does: JSON with no Content-Type header, which curl
# labels application/x-www-form-urlencoded.
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def post(api: SandboxApi, path: str, body: Any, status: int = 201) -> dict[str, Any]:
    resp = api.rest.post(path, content=orjson.dumps(body), headers=FORM)
    assert resp.status_code == status, resp.text
    result: dict[str, Any] = resp.json()
    return result


def test_guest_lifecycle_on_v2(api: SandboxApi) -> None:
    guest = post(api, "/v2/guests", DOC_GUEST)
    ref = guest["ref"]
    assert guest["href"] == f"{api.base_url}/v2/guests/{ref}"
    assert guest["passportExpiry"] == "2033-01-01T00:00:00.000Z"
    # update is a POST that merges what was sent (the page's identifiers example keeps the PII)
    updated = post(
        api, f"/v2/guests/{ref}", {"guestType": "customer", "identifiers": [{"provider": "BXLP", "id": "1"}]}, 200
    )
    assert updated["firstName"] == "Jane"
    assert updated["identifiers"] == [{"provider": "BXLP", "id": "1"}]
    # nulls (an SDK serialising every property) change nothing
    assert post(api, f"/v2/guests/{ref}", {"firstName": None, "lastName": "Smith"}, 200)["firstName"] == "Jane"
    read = api.rest.get(f"/v2/guests/{ref}").json()
    assert read["lastName"] == "Smith"
    assert read["href"].endswith(f"/v2/guests/{ref}")
    # one store: the same guest on v2.1
    assert api.rest.get(f"/v2.1/guests/{ref}").json()["lastName"] == "Smith"
    assert api.rest.delete(f"/v2/guests/{ref}").status_code == 200
    assert api.rest.get(f"/v2.1/guests/{ref}").status_code == 404
    assert api.rest.get(f"/v2/guests/{ref}").json()["code"] == 404


def test_legacy_search_filters(api: SandboxApi) -> None:
    jane = api.create_guest(firstName="Jane", lastName="Doe", email="jane@example.com", phoneNumbers=["0851"])
    api.create_guest(firstName="John", lastName="Doe", identifiers=[{"provider": "BXLP", "id": "123456"}])
    for query, expected in (
        ({"firstName": "Jane"}, ["Jane"]),
        ({"lastName": "Doe"}, ["Jane", "John"]),
        ({"email": "jane@example.com"}, ["Jane"]),
        ({"email.untouched": "jane@example.com"}, ["Jane"]),
        ({"phoneNumber": "0851"}, ["Jane"]),
        ({"identifiers.provider": "BXLP", "identifiers.id": "123456"}, ["John"]),
        ({"firstName": "Nobody"}, []),
    ):
        page = api.rest.get("/v2/guests", params={**query, "expand": "true"}).json()
        assert [g["firstName"] for g in page["items"]] == expected, query
        assert page["href"].startswith(f"{api.base_url}/v2/guests?")
    links = api.rest.get("/v2/guests", params={"firstName": "Jane"}).json()["items"]
    assert links == [{"href": f"{api.base_url}/v2/guests/{jane['ref']}"}]
    unknown = api.rest.get("/v2/guests", params={"foo": "bar"})
    assert unknown.status_code == 400
    assert unknown.json()["message"].startswith("foo: not a supported search parameter")


def test_sdk_lookup_by_email_and_email_identifier(api: SandboxApi) -> None:
    # The .NET SDK finds a guest with both filters and takes the first item; a guest created with an email only
    # must be found.
    guest = api.create_guest(email="ann@example.com")
    query = {"email": "ann@example.com", "identifiers.provider": "email", "identifiers.id": "ann@example.com"}
    items = api.rest.get("/v2/guests", params=query).json()["items"]
    assert items == [{"href": f"{api.base_url}/v2/guests/{guest['ref']}"}]
    warnings = [e["warnings"] for e in api.admin("GET", "/journal?prefix=/v2/guests").json()["entries"]]
    assert any("combined with OR" in w for found in warnings for w in found)


def test_data_extension_paths(api: SandboxApi) -> None:
    guest = api.create_guest(firstName="Ann")
    ref = guest["ref"]
    ext = post(api, f"/v2/guests/{ref}/extext", {"key": "default", "loyaltyTier": "level2", "vipMember": True})
    ext_ref = ext["ref"]
    assert ext["href"] == f"{api.base_url}/v2/guests/{ref}/extext/{ext_ref}"
    assert ext["loyaltyTier"] == "level2"
    assert ext["name"] == "ext"
    assert ext["key"] == "default"
    # key "default" is required on v2 (documented), the name must be ext..ext5
    assert post(api, f"/v2/guests/{ref}/extext1", {"points": 3}, 400)["message"].startswith("key:")
    assert post(api, f"/v2/guests/{ref}/extPreferences", {"key": "default", "a": 1}, 400)["code"] == 400
    assert post(api, f"/v2/guests/{ref}/extext", {"key": "default", "b": 1}, 409)["code"] == 409
    # the data model 2.0 spelling extExt1 is the same extension group as extext1
    second = post(api, f"/v2/guests/{ref}/extExt1", {"key": "default", "points": 3})
    located = api.rest.get(f"/v2/guests/{ref}/extext").json()
    assert located["items"] == [{"href": f"{api.base_url}/v2/guests/{ref}/extext/{ext_ref}"}]
    assert api.rest.get(f"/v2/guests/{ref}/extext?expand=true").json()["items"][0]["vipMember"] is True
    # retrieve a guest (legacy) includes its data extensions
    full = api.rest.get(f"/v2/guests/{ref}", params={"expand": "true"}).json()
    assert full["extext"]["items"][0]["loyaltyTier"] == "level2"
    assert full["extext1"]["items"][0]["points"] == 3
    # update replaces all the attributes (legacy page); v2.1 reads the same extension
    post(api, f"/v2/guests/{ref}/extext/{ext_ref}", {"key": "default", "loyaltyTier": "level3"}, 200)
    v21 = api.rest.get(f"/v2.1/guests/{ref}/extensions/ext").json()
    assert v21["loyaltyTier"] == "level3"
    assert "vipMember" not in v21
    assert v21["ref"] == ext_ref
    assert api.rest.get(f"/v2/guests/{ref}/extext/{uuid.uuid4()}").status_code == 404
    assert api.rest.delete(f"/v2/guests/{ref}/extext1/{second['ref']}").status_code == 200
    assert api.rest.get(f"/v2.1/guests/{ref}/extensions/ext1").status_code == 404
    # written on v2.1, read on v2
    api.rest.post(f"/v2.1/guests/{ref}/extensions", json={"name": "ext2", "colour": "red"})
    assert api.rest.get(f"/v2/guests/{ref}/extext2?expand=true").json()["items"][0]["colour"] == "red"


def test_orders_items_contacts_consumers_on_v2(api: SandboxApi) -> None:
    guest = api.create_guest(firstName="Jane", email="jane@example.com")
    missing_pos = {k: v for k, v in DOC_ORDER.items() if k != "pointOfSale"}
    assert post(api, "/v2/orders", missing_pos, 400)["message"] == "pointOfSale: may not be null"
    order = post(api, f"/v2/orders?guestRef={guest['ref']}", DOC_ORDER)
    oref = order["ref"]
    assert order["href"] == f"{api.base_url}/v2/orders/{oref}"
    assert order["guest"] == {"href": f"{api.base_url}/v2/guests/{guest['ref']}"}
    assert post(api, f"/v2/orders?guestRef={uuid.uuid4()}", DOC_ORDER, 400)["message"].startswith("guestRef:")
    item = post(api, f"/v2/orders/{oref}/orderItems", ITEM)
    assert item["href"] == f"{api.base_url}/v2/orderItems/{item['ref']}"
    assert post(api, f"/v2/orderItems/{item['ref']}", {"quantity": 2, "name": None}, 200)["name"] == "NYC-PAR Flight"
    assert post(api, f"/v2/orders/{oref}/contacts", {"emails": ["jane@example.com"]}, 400)["message"].startswith(
        "firstName"
    )
    contact = post(
        api,
        f"/v2/orders/{oref}/contacts",
        {"firstName": "Jane", "lastName": "Doe", "guest": {"href": f"{api.base_url}/v2/guests/{guest['ref']}"}},
    )
    assert contact["href"].startswith(f"{api.base_url}/v2/orderContacts/")
    consumer = post(
        api,
        f"/v2/orders/{oref}/consumers",
        {"firstName": "Tom", "lastName": "Doe", "orderItems": {"items": [{"href": item["href"]}]}},
    )
    expanded = api.rest.get(f"/v2/orders/{oref}", params={"expand": "orderItems"}).json()
    assert expanded["orderItems"]["items"][0]["quantity"] == 2
    assert expanded["contacts"]["items"][0]["ref"] == contact["ref"]
    assert expanded["consumers"]["items"][0]["ref"] == consumer["ref"]
    assert f"{api.base_url}/v2.1/" not in api.rest.get(f"/v2/orders/{oref}?expand=true").text
    listed = api.rest.get("/v2/orders", params={"guestRef": guest["ref"]}).json()
    assert listed["items"] == [{"href": f"{api.base_url}/v2/orders/{oref}"}]
    consumer_items = api.rest.get(f"/v2/orderConsumers/{consumer['ref']}/orderItems").json()["items"]
    assert consumer_items == [{"href": item["href"]}]
    assert post(api, f"/v2/orders/{oref}", {"status": "CANCELLED"}, 200)["price"] == 12
    # one store: v2.1 sees the order, v2 reads an order written on v2.1
    assert api.rest.get(f"/v2.1/orders/{oref}").json()["status"] == "CANCELLED"
    assert api.rest.get(f"/v2.1/orderContacts/{contact['ref']}").status_code == 200
    assert api.rest.delete(f"/v2/orderConsumers/{consumer['ref']}").status_code == 200
    assert api.rest.delete(f"/v2/orderItems/{item['ref']}").status_code == 200
    assert api.rest.delete(f"/v2/orderContacts/{contact['ref']}").status_code == 200
    assert api.rest.delete(f"/v2/orders/{oref}").status_code == 200
    assert api.rest.get(f"/v2.1/orders/{oref}").status_code == 404


def test_v2_writes_reach_batch_and_audience_export(api: SandboxApi) -> None:
    guest = post(
        api,
        "/v2/guests",
        {"guestType": "customer", "firstName": "Vera", "identifiers": [{"provider": "CRM", "id": "c-1"}]},
    )
    post(api, f"/v2/guests/{guest['ref']}/extext", {"key": "default", "loyaltyTier": "gold"})
    # the batch API resolves the v2 guest by its identifier and updates it
    batch = api.run_batch(
        [
            {
                "ref": str(uuid.uuid4()),
                "schema": "guest",
                "mode": "upsert",
                "value": {
                    "guestType": "customer",
                    "lastName": "Vogel",
                    "identifiers": [{"provider": "CRM", "id": "c-1"}],
                },
            }
        ]
    )
    assert batch["status"]["code"] == "success"
    assert api.rest.get(f"/v2/guests/{guest['ref']}").json()["lastName"] == "Vogel"
    definition = {
        "friendlyId": "gold",
        "name": "Gold",
        "format": "JSON",
        "attributes": ["firstName", "lastName"],
        "segment": {"match": "all", "rules": [{"extension": "loyaltyTier", "op": "eq", "value": "gold"}]},
    }
    assert api.admin("POST", "/exports", json=definition).status_code == 201
    report = api.admin("POST", "/exports/gold/run").json()
    assert report["successes"] == 1
    with api.bearer() as bearer:
        files = bearer.get("/v2/audienceExports/definitions/gold/latestExport").json()["exports"]
    lines = [orjson.loads(x) for f in files for x in gzip.decompress(httpx.get(f["url"]).content).splitlines()]
    assert lines[0]["guestRef"] == guest["ref"]
    assert lines[0]["lastName"] == "Vogel"


def test_json_body_with_a_byte_order_mark_or_no_content_type(api: SandboxApi) -> None:
    body = b'\xef\xbb\xbf{"guestType": "customer", "firstName": "Bo"}'
    with_bom = api.rest.post("/v2/guests", content=body, headers={"Content-Type": "application/json"})
    assert with_bom.status_code == 201, with_bom.text
    bare = httpx.post(f"{api.base_url}/v2/guests", content=body[3:], auth=("sandbox-client-key", "sandbox-api-token"))
    assert bare.status_code == 201, bare.text
    not_json = api.rest.post("/v2/guests", content=b"guestType=customer", headers=FORM)
    assert not_json.status_code == 415
