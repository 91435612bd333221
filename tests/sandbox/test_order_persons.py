"""PUT and PATCH of order contacts and consumers: the validation rules of create, identity re-resolution only
when the identity changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from test_orders import DOC_ITEM, create_order

if TYPE_CHECKING:
    from conftest import SandboxApi


def _contact(api: SandboxApi, order: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    resp = api.rest.post(f"/v2.1/orders/{order['ref']}/contacts", json=body)
    assert resp.status_code == 201, resp.text
    contact: dict[str, Any] = resp.json()
    return contact


def test_contact_put_and_patch(api: SandboxApi) -> None:
    known = api.create_guest(identifiers=[{"provider": "CRM", "id": "7"}], email="k@example.com")
    order = create_order(api)
    contact = _contact(api, order, {"firstName": "Ann", "email": "ann@example.com"})
    first_guest = contact["guest"]

    patched = api.rest.patch(contact["href"], json={"lastName": "Byrne", "phoneNumbers": ["+3531"]})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["firstName"], body["lastName"], body["email"]) == ("Ann", "Byrne", "ann@example.com")
    assert body["guest"] == first_guest  # identity unchanged: same guest
    assert body["href"] == contact["href"]
    assert body["createdAt"] == contact["createdAt"]
    assert api.rest.get(contact["href"]).json() == body

    # PATCH null clears an attribute
    assert "phoneNumbers" not in api.rest.patch(contact["href"], json={"phoneNumbers": None}).json()

    # new identifiers: the contact now resolves the known guest, and the order follows it
    moved = api.rest.patch(contact["href"], json={"identifiers": [{"provider": "CRM", "id": "7"}]}).json()
    assert moved["guest"] == {"href": known["href"]}
    assert api.rest.get("/v2.1/guests", params={"orderRef": order["ref"]}).json()["items"] == [{"href": known["href"]}]

    # PUT replaces everything; the rules of create apply
    put = api.rest.put(contact["href"], json={"firstName": "Bea", "email": "k@example.com"})
    assert put.status_code == 200, put.text
    assert put.json()["guest"] == {"href": known["href"]}  # resolved by email now
    assert "lastName" not in put.json()
    assert "identifiers" not in put.json()
    nobody = api.rest.put(contact["href"], json={"firstName": "Bea"})
    assert nobody.status_code == 400  # no identifiers, email or guest: as on create
    assert api.rest.patch(contact["href"], json={"email": None}).status_code == 400
    for bad, message in (
        ({"firstname": "x"}, "firstname: not a known attribute"),
        ({"dateOfBirth": "2999-01-01T00:00:00.000Z"}, "dateOfBirth: must be in the past"),
        ({"country": "Ireland"}, "country: must be a 2-letter ISO 3166-1 code"),
        ({"guest": {"href": f"{api.base_url}/v2.1/guests/nope"}}, "guest.href: guest nope does not exist"),
    ):
        resp = api.rest.patch(contact["href"], json=bad)
        assert resp.status_code == 400, bad
        assert resp.json()["message"] == message
    assert api.rest.patch(contact["href"], json=[1]).status_code == 400
    assert api.rest.get(contact["href"]).json()["firstName"] == "Bea"  # failed updates changed nothing

    linked = api.rest.patch(contact["href"], json={"guest": {"href": first_guest["href"]}}).json()
    assert linked["guest"] == first_guest
    assert "guest" in linked  # the link is the response's guest, not a stored attribute

    missing = f"{api.base_url}/v2.1/orderContacts/00000000-0000-4000-8000-000000000000"
    assert api.rest.put(missing, json={"email": "a@example.com"}).status_code == 404
    assert api.rest.patch(missing, json={"email": "a@example.com"}).status_code == 404


def test_consumer_put_and_patch(api: SandboxApi) -> None:
    order = create_order(api)
    other = create_order(api, referenceId="OTHER-1")
    item = api.rest.post(f"/v2.1/orders/{order['ref']}/orderItems", json=DOC_ITEM).json()
    foreign = api.rest.post(f"/v2.1/orders/{other['ref']}/orderItems", json=DOC_ITEM).json()
    created = api.rest.post(f"/v2.1/orders/{order['ref']}/consumers", json={"firstName": "Tom", "lastName": "T"})
    assert created.status_code == 201, created.text
    consumer = created.json()
    traveller = consumer["guest"]

    # a name-only consumer keeps its traveller guest when other attributes change
    patched = api.rest.patch(consumer["href"], json={"title": "Mr", "orderItems": {"items": [{"href": item["href"]}]}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["guest"] == traveller
    assert patched.json()["orderItems"] == {"items": [{"href": item["href"]}]}
    listed = api.rest.get(f"/v2.1/orderConsumers/{consumer['ref']}/orderItems").json()
    assert listed["items"] == [{"href": item["href"]}]
    # items survive a PATCH that does not mention them, a null clears them
    assert api.rest.patch(consumer["href"], json={"firstName": "Tim"}).json()["orderItems"]["items"] != []
    assert api.rest.patch(consumer["href"], json={"orderItems": None}).json()["orderItems"] == {"items": []}

    foreign_items = {"items": [{"href": foreign["href"]}]}
    wrong = api.rest.put(consumer["href"], json={"firstName": "T", "orderItems": foreign_items})
    assert wrong.status_code == 400
    assert "does not belong to order" in wrong.json()["message"]

    put = api.rest.put(consumer["href"], json={"firstName": "Tom", "emails": ["tom@example.com"]})
    assert put.status_code == 200, put.text
    body = put.json()
    assert "title" not in body
    assert body["emails"] == ["tom@example.com"]
    assert body["guest"] != traveller  # new identity: resolved again (a new traveller guest)
    guest = api.rest.get(body["guest"]["href"]).json()
    assert guest["guestType"] == "traveller"
    assert guest["emails"] == ["tom@example.com"]
    assert api.rest.put(consumer["href"], json={"firstName": 5}).status_code == 400
    missing = f"{api.base_url}/v2.1/orderConsumers/00000000-0000-4000-8000-000000000000"
    assert api.rest.patch(missing, json={"firstName": "x"}).status_code == 404


def test_person_updates_are_in_the_openapi_description(api: SandboxApi) -> None:
    paths = api.anon.get("/_sandbox/openapi.json").json()["paths"]
    for path in ("/v2.1/orderContacts/{orderContactRef}", "/v2.1/orderConsumers/{orderConsumerRef}"):
        assert {"get", "put", "patch", "delete"} <= set(paths[path])
