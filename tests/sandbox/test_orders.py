"""Order REST API v2.1: orders, contacts (identity resolution), consumers, items, extensions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers.doc_examples import DOC_ORDER

if TYPE_CHECKING:
    from conftest import SandboxApi

# The v2.1 order item example (facts §5.6).
DOC_ITEM = {
    "name": "NYC-PAR Flight",
    "description": "Flight from New York City to Paris",
    "type": "Flight Item",
    "productId": "FL44124",
    "price": 105,
    "currencyCode": "EUR",
    "originalPrice": 110,
    "originalCurrencyCode": "USD",
    "referenceId": "O62455331",
    "vendor": "Travel Agency",
    "status": "Confirmed",
    "language": "EN",
    "quantity": 1,
    "channel": "WEB",
}


def create_order(api: SandboxApi, **changes: Any) -> dict[str, Any]:
    resp = api.rest.post("/v2.1/orders", json={**DOC_ORDER, **changes})
    assert resp.status_code == 201, resp.text
    order: dict[str, Any] = resp.json()
    return order


def test_create_and_get_order(api: SandboxApi) -> None:
    order = create_order(api)
    assert order["href"] == f"{api.base_url}/v2.1/orders/{order['ref']}"
    assert {k: order[k] for k in DOC_ORDER} == DOC_ORDER
    got = api.rest.get(order["href"]).json()
    assert got["contacts"] == {"href": f"{order['href']}/contacts"}
    assert got["orderItems"] == {"href": f"{order['href']}/orderItems"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"price": None}, "price: may not be null"),
        ({"channel": "FAX"}, "channel: not a valid value"),
        ({"status": "PARTIALLY_REFUNDED"}, "status: not a valid value"),  # CDP spells it PARTIALY
        ({"orderedAt": "19/12/2025"}, "orderedAt: not a valid date-time"),
        ({"currencyCode": "euro"}, "currencyCode: must be a 3-letter ISO 4217 code"),
        ({"price": "twelve"}, "price: must be a number"),
    ],
)
def test_order_validation(api: SandboxApi, change: dict[str, Any], message: str) -> None:
    body = {**DOC_ORDER, **change}
    body = {k: v for k, v in body.items() if v is not None}
    resp = api.rest.post("/v2.1/orders", json=body)
    assert resp.status_code == 400
    assert resp.json()["message"] == message


def test_search_needs_exactly_one_filter(api: SandboxApi) -> None:
    order = create_order(api)
    found = api.rest.get("/v2.1/orders", params={"referenceId": "B94TXY-1"}).json()
    assert found["items"] == [{"href": order["href"]}]
    assert api.rest.get("/v2.1/orders").status_code == 400
    assert api.rest.get("/v2.1/orders", params={"referenceId": "x", "guestRef": "y"}).status_code == 400
    bad_sort = api.rest.get("/v2.1/orders", params={"referenceId": "x", "sort": "orderedAt::ASC"})
    assert bad_sort.status_code == 400  # orderedAt sorting only with guestRef


def test_contact_resolves_by_identifiers_then_email_else_creates(api: SandboxApi) -> None:
    by_ident = api.create_guest(identifiers=[{"provider": "CRM", "id": "42"}], email="a@example.com")
    by_email = api.create_guest(email="b@example.com")
    cases = [
        ({"firstName": "A", "identifiers": [{"provider": "CRM", "id": "42"}], "emails": ["b@example.com"]}, by_ident),
        ({"firstName": "B", "emails": ["b@example.com"]}, by_email),
    ]
    for contact, guest in cases:
        order = create_order(api)
        resp = api.rest.post(f"/v2.1/orders/{order['ref']}/contacts", json=contact)
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["guest"] == {"href": guest["href"]}
        assert body["href"].startswith(f"{api.base_url}/v2.1/orderContacts/")
        assert body["order"] == {"href": order["href"]}
        listed = api.rest.get("/v2.1/orders", params={"guestRef": guest["ref"]}).json()
        assert {"href": order["href"]} in listed["items"]
        by_order = api.rest.get("/v2.1/guests", params={"orderRef": order["ref"]}).json()
        assert by_order["items"] == [{"href": guest["href"]}]
    order = create_order(api, referenceId="NEW-1")
    new = api.rest.post(
        f"/v2.1/orders/{order['ref']}/contacts",
        json={"firstName": "Nia", "lastName": "New", "emails": ["new@example.com"]},
    ).json()
    guest = api.rest.get(new["guest"]["href"]).json()
    assert guest["guestType"] == "customer"
    assert guest["firstName"] == "Nia"
    assert guest["emails"] == ["new@example.com"]
    again = api.rest.post(f"/v2.1/orders/{order['ref']}/contacts", json={"emails": ["x@example.com"]})
    assert again.status_code == 409
    nobody = api.rest.post(f"/v2.1/orders/{create_order(api)['ref']}/contacts", json={"firstName": "X"})
    assert nobody.status_code == 400


def test_consumers_items_and_extensions(api: SandboxApi) -> None:
    order = create_order(api)
    ref = order["ref"]
    item = api.rest.post(f"/v2.1/orders/{ref}/orderItems", json=DOC_ITEM)
    assert item.status_code == 201, item.text
    item_body = item.json()
    assert item_body["href"] == f"{api.base_url}/v2.1/orderItems/{item_body['ref']}"
    assert {k: item_body[k] for k in DOC_ITEM} == DOC_ITEM
    assert api.rest.post(f"/v2.1/orders/{ref}/orderItems", json={**DOC_ITEM, "name": "x" * 129}).status_code == 400
    assert api.rest.post(f"/v2.1/orders/{ref}/orderItems", json={"name": "only"}).status_code == 400
    patched = api.rest.patch(item_body["href"], json={"quantity": 2}).json()
    assert patched["quantity"] == 2
    assert patched["productId"] == "FL44124"
    items = api.rest.get(f"/v2.1/orders/{ref}/orderItems").json()
    assert items["items"] == [{"href": item_body["href"]}]

    consumer = api.rest.post(
        f"/v2.1/orders/{ref}/consumers",
        json={"firstName": "Tom", "lastName": "Trav", "orderItems": {"items": [{"href": item_body["href"]}]}},
    )
    assert consumer.status_code == 201, consumer.text
    traveller = api.rest.get(consumer.json()["guest"]["href"]).json()
    assert traveller["guestType"] == "traveller"
    consumer_items = api.rest.get(f"/v2.1/orderConsumers/{consumer.json()['ref']}/orderItems").json()
    assert consumer_items["items"] == [{"href": item_body["href"]}]

    ext_body = {"firstTimeOrder": True, "storeLocation": "London", "totalUnits": 8, "totalDiscount": "20%"}
    ext = api.rest.post(f"/v2.1/orders/{ref}/extensions/ext", json=ext_body)
    assert ext.status_code == 201, ext.text
    assert ext.json()["href"] == f"{order['href']}/extensions/ext"
    assert ext.json()["totalUnits"] == 8
    assert api.rest.post(f"/v2.1/orders/{ref}/extensions/ext", json=ext_body).status_code == 409
    assert api.rest.post(f"/v2.1/orders/{ref}/extensions/ext1", json=ext_body).status_code == 400
    item_ext = api.rest.post(
        f"/v2.1/orderItems/{item_body['ref']}/extensions",
        json={"name": "ext", "withWarranty": True, "color": "obsidian", "capacityInGb": 128},
    )
    assert item_ext.status_code == 201
    assert item_ext.json()["orderItem"] == {"href": item_body["href"]}
    assert (
        api.rest.patch(f"/v2.1/orders/{ref}/extensions/ext", json={"totalUnits": 9}).json()["storeLocation"] == "London"
    )
    too_many = {f"key{i}": i for i in range(101)}
    assert api.rest.put(f"/v2.1/orders/{ref}/extensions/ext", json=too_many).status_code == 400

    expanded = api.rest.get(order["href"], params={"expand": "true"}).json()
    assert expanded["orderItems"]["items"][0]["ref"] == item_body["ref"]
    assert expanded["consumers"]["items"][0]["firstName"] == "Tom"
    assert expanded["extensions"]["items"][0]["totalUnits"] == 9

    assert api.rest.delete(item_body["href"]).status_code == 200
    assert api.rest.get(item_body["href"]).status_code == 404
    assert api.rest.delete(order["href"]).status_code == 200
    assert api.rest.get(order["href"]).status_code == 404


def test_put_and_patch_order(api: SandboxApi) -> None:
    order = create_order(api)
    patched = api.rest.patch(order["href"], json={"status": "REFUNDED"}).json()
    assert patched["status"] == "REFUNDED"
    assert patched["price"] == 12
    put = api.rest.put(
        order["href"], json={k: DOC_ORDER[k] for k in ("currencyCode", "orderedAt", "price", "referenceId")}
    )
    assert put.status_code == 200
    assert "status" not in put.json()
    assert api.rest.put(order["href"], json={"price": 1}).status_code == 400


def test_deleting_a_guest_removes_its_orders(api: SandboxApi) -> None:
    guest = api.create_guest(email="buyer@example.com")
    order = create_order(api)
    api.rest.post(f"/v2.1/orders/{order['ref']}/contacts", json={"emails": ["buyer@example.com"]})
    assert api.rest.delete(guest["href"]).status_code == 200
    assert api.rest.get(order["href"]).status_code == 404
