"""Guest REST API v2.1 over loopback HTTP."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.helpers.doc_examples import DOC_GUEST

if TYPE_CHECKING:
    from conftest import SandboxApi

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CDP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_create_guest_replays_the_documented_example(api: SandboxApi) -> None:
    resp = api.rest.post("/v2.1/guests", json=DOC_GUEST)
    assert resp.status_code == 201
    body = resp.json()
    assert UUID4.match(body["ref"])
    assert body["href"] == f"{api.base_url}/v2.1/guests/{body['ref']}"
    for key in ("createdAt", "modifiedAt", "firstSeen", "lastSeen"):
        assert CDP_TIME.match(body[key]), key
    assert body["passportExpiry"] == "2033-01-01T00:00:00.000Z"  # normalised like CDP
    expected = {k: v for k, v in DOC_GUEST.items() if k != "passportExpiry"}
    assert {k: body[k] for k in expected} == expected


def test_create_never_deduplicates(api: SandboxApi) -> None:
    first = api.create_guest(email="same@example.com")
    second = api.create_guest(email="same@example.com")
    assert first["ref"] != second["ref"]
    found = api.rest.get("/v2.1/guests", params={"email": "same@example.com"}).json()
    assert sorted(i["href"] for i in found["items"]) == sorted([first["href"], second["href"]])


def test_get_put_patch_delete(api: SandboxApi) -> None:
    guest = api.create_guest(firstName="Ann", phoneNumbers=["1"])
    got = api.rest.get(f"/v2.1/guests/{guest['ref']}").json()
    assert got["firstName"] == "Ann"
    assert got["dataExtensions"]["items"] == []

    patched = api.rest.patch(f"/v2.1/guests/{guest['ref']}", json={"phoneNumbers": ["+353161123345"]})
    assert patched.status_code == 200
    assert patched.json()["phoneNumbers"] == ["+353161123345"]
    assert patched.json()["firstName"] == "Ann"  # untouched by PATCH

    put = api.rest.put(f"/v2.1/guests/{guest['ref']}", json={"guestType": "visitor", "lastName": "Lee"})
    assert put.status_code == 200
    assert "firstName" not in put.json()  # PUT replaces everything
    assert put.json()["lastName"] == "Lee"

    assert api.rest.delete(f"/v2.1/guests/{guest['ref']}").status_code == 200
    missing = api.rest.get(f"/v2.1/guests/{guest['ref']}")
    assert missing.status_code == 404
    assert missing.json() == {
        "status": 404,
        "code": 404,
        "message": "The specified resource does not exist.",
        "developerMessage": f"Guest with ref {guest['ref']} for client key sandbox-client-key was not found",
        "moreInfoUrl": "https://support.sitecore.com",
    }


def test_search_by_identifier_is_exact(api: SandboxApi) -> None:
    ident = {"provider": "ProfileSystem", "id": "B7524AE6-CF1C-440F-B1A2-0C9D42F5CB41"}
    guest = api.create_guest(identifiers=[ident])
    api.create_guest(identifiers=[{"provider": "ProfileSystem", "id": "other"}])
    params = {"identifiers.provider": ident["provider"], "identifiers.id": ident["id"]}
    found = api.rest.get("/v2.1/guests", params=params).json()
    assert [i["href"] for i in found["items"]] == [guest["href"]]
    lower = api.rest.get("/v2.1/guests", params={**params, "identifiers.id": ident["id"].lower()}).json()
    assert lower["items"] == []
    half = api.rest.get("/v2.1/guests", params={"identifiers.provider": "ProfileSystem"})
    assert half.status_code == 400


def test_paging_sort_and_bounds(api: SandboxApi) -> None:
    for name in ("Cara", "Abe", "Bob") * 5:
        api.create_guest(firstName=name)
    page = api.rest.get("/v2.1/guests", params={"limit": 10, "offset": 10, "sort": "firstName::ASC"}).json()
    assert page["offset"] == 10
    assert page["limit"] == 10
    assert len(page["items"]) == 5
    assert "next" not in page
    assert page["prev"]["href"].endswith("offset=0&limit=10")
    first = api.rest.get("/v2.1/guests", params={"sort": "firstName::DESC", "expand": "true"}).json()
    assert [g["firstName"] for g in first["items"]][:5] == ["Cara"] * 5
    assert first["next"]["href"].startswith(api.base_url + "/v2.1/guests?")
    for bad in (
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
        {"offset": 2**63},
        {"sort": "firstName::asc"},
        {"limit": "x"},
    ):
        resp = api.rest.get("/v2.1/guests", params=bad)
        assert resp.status_code == 400, bad
        assert resp.json()["status"] == 400
        assert resp.json()["code"] == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"guestType": "alien"}, "guestType: not a valid value"),
        ({}, "guestType: may not be null"),
        ({"guestType": "customer", "firstname": "typo"}, "firstname: not a known attribute"),
        ({"guestType": "customer", "dateOfBirth": "2999-01-01T00:00:00.000Z"}, "dateOfBirth: must be in the past"),
        ({"guestType": "customer", "dateOfBirth": "yesterday"}, "dateOfBirth: not a valid date-time"),
        ({"guestType": "customer", "emails": "a@b.c"}, "emails: must be an array of strings"),
        (
            {"guestType": "customer", "identifiers": [{"provider": "P"}]},
            "identifiers: identifiers[0].id may not be empty",
        ),
    ],
)
def test_invalid_guest_gets_cdp_400(api: SandboxApi, body: dict, message: str) -> None:
    resp = api.rest.post("/v2.1/guests", json=body)
    assert resp.status_code == 400
    err = resp.json()
    assert err["status"] == 400
    assert err["code"] == 400
    assert err["message"] == message
    assert err["developerMessage"].startswith("Attribute ")
    assert err["moreInfoUrl"] == "https://support.sitecore.com"


def test_malformed_requests(api: SandboxApi) -> None:
    broken = api.rest.post("/v2.1/guests", content=b'{"guestType": ', headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["message"] == "Unable to parse JSON string"
    assert broken.json()["developerMessage"].startswith("JSON parse error [line: 1, column:")
    form = api.rest.post("/v2.1/guests", data={"guestType": "customer"})
    assert form.status_code == 415
    assert form.json()["code"] == 415
    text = api.rest.patch("/v2.1/guests/x", content=b"first=Ann", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    xml = api.rest.post("/v2.1/guests", content=b"{}", headers={"Content-Type": "application/xml"})
    assert xml.status_code == 415
    array = api.rest.post("/v2.1/guests", json=[1, 2])
    assert array.status_code == 400


def test_unauthorized_body(api: SandboxApi) -> None:
    for resp in (
        api.anon.get("/v2.1/guests"),
        api.anon.get("/v2.1/guests", auth=("sandbox-client-key", "wrong")),
        api.anon.get("/v2/batches/inspect", headers={"Authorization": "Basic !!!"}),
        api.anon.get("/v2.1/guests", headers={"Authorization": f"Bearer {api.token()}"}),
    ):
        assert resp.status_code == 401
        assert resp.json() == {
            "status": "UNAUTHORIZED",
            "code": 401,
            "message": "Authentication credentials are required to access the resource. "
            "All requests must be authenticated.",
            "moreInfoUrl": "https://support.sitecore.com",
        }


def test_unknown_route_and_method(api: SandboxApi) -> None:
    nowhere = api.rest.get("/v2.1/nowhere")
    assert nowhere.status_code == 404
    assert nowhere.json()["status"] == 404
    wrong = api.rest.post(f"/v2.1/guests/{'0' * 8}")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == 405
