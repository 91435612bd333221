"""Guest data extensions: every rule of the reference (facts §4.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import SandboxApi

DOC_EXT = {"name": "ext", "vipMember": True, "loyaltyTier": "level2", "rewardBalance": 5012.25, "loyaltyNumber": 3452}


def test_create_replays_the_spec_example(api: SandboxApi) -> None:
    guest = api.create_guest()
    resp = api.rest.post(f"/v2.1/guests/{guest['ref']}/extensions", json=DOC_EXT)
    assert resp.status_code == 201
    body = resp.json()
    assert body["href"] == f"{guest['href']}/extensions/ext"
    assert body["key"] == "default"
    assert body["guest"] == {"href": guest["href"]}
    assert {k: body[k] for k in DOC_EXT} == DOC_EXT
    dup = api.rest.post(f"/v2.1/guests/{guest['ref']}/extensions", json={"name": "ext", "other": 1})
    assert dup.status_code == 409
    assert dup.json()["message"] == "Data extension ext already exists."
    listing = api.rest.get(f"/v2.1/guests/{guest['ref']}/extensions").json()
    assert listing["items"] == [{"href": body["href"]}]
    expanded = api.rest.get(f"/v2.1/guests/{guest['ref']}/extensions", params={"expand": "true"}).json()
    assert expanded["items"][0]["loyaltyNumber"] == 3452


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "ext6", "a": 1}, "name: value must be one of ext,ext1,ext2,ext3,ext4,ext5"),
        ({"a": 1}, "name: value must be one of ext,ext1,ext2,ext3,ext4,ext5"),
        (
            {"name": "ext", "nested": {"a": 1}},
            "nested: value must be a string, boolean, integer or floating-point number",
        ),
        ({"name": "ext", "list": [1]}, "list: value must be a string, boolean, integer or floating-point number"),
        ({"name": "ext", "bad-key": 1}, "bad-key: key must be alphanumeric camel case"),
        ({"name": "ext", "BadKey": 1}, "BadKey: key must be alphanumeric camel case"),
        ({"name": "ext", "key": "other", "a": 1}, "key: value must be default"),
        (
            {"name": "ext", **{f"k{i}": i for i in range(101)}},
            "dataExtension: a data extension may contain at most 100 key-value pairs",
        ),
    ],
)
def test_rules(api: SandboxApi, body: dict, message: str) -> None:
    guest = api.create_guest()
    resp = api.rest.post(f"/v2.1/guests/{guest['ref']}/extensions", json=body)
    assert resp.status_code == 400
    assert resp.json()["message"] == message


def test_hundred_keys_and_six_groups_are_fine(api: SandboxApi) -> None:
    guest = api.create_guest()
    for index, name in enumerate(["ext", "ext1", "ext2", "ext3", "ext4", "ext5"]):
        body = {"name": name, **{f"g{index}k{i}": i for i in range(100)}}
        assert api.rest.post(f"/v2.1/guests/{guest['ref']}/extensions", json=body).status_code == 201
    full = api.rest.get(guest["href"], params={"expand": "true"}).json()
    assert [e["name"] for e in full["dataExtensions"]["items"]] == ["ext", "ext1", "ext2", "ext3", "ext4", "ext5"]


def test_keys_unique_across_groups(api: SandboxApi) -> None:
    guest = api.create_guest()
    base = f"/v2.1/guests/{guest['ref']}/extensions"
    api.rest.post(base, json={"name": "ext", "vipMember": True})
    clash = api.rest.post(base, json={"name": "ext1", "vipMember": False})
    assert clash.status_code == 400
    assert clash.json()["message"] == "vipMember: key already exists in data extension ext"
    api.rest.post(base, json={"name": "ext1", "other": 1})
    assert api.rest.patch(f"{base}/ext1", json={"vipMember": 1}).status_code == 400


def test_put_patch_delete_group_and_fields(api: SandboxApi) -> None:
    guest = api.create_guest()
    base = f"/v2.1/guests/{guest['ref']}/extensions"
    api.rest.post(base, json=DOC_EXT)
    patched = api.rest.patch(f"{base}/ext", json={"loyaltyTier": "level3"}).json()
    assert patched["loyaltyTier"] == "level3"
    assert patched["vipMember"] is True
    put = api.rest.put(f"{base}/ext", json={"onlyKey": "x"}).json()
    assert "vipMember" not in put
    assert put["onlyKey"] == "x"
    api.rest.put(f"{base}/ext", json={"vipMember": True, "loyaltyMember": True, "keep": 1})
    fields = api.rest.delete(f"{base}/ext/fields", params={"name": "vipMember|loyaltyMember"})
    assert fields.status_code == 200
    assert {
        k for k in fields.json() if k not in ("href", "ref", "name", "key", "createdAt", "modifiedAt", "guest")
    } == {"keep"}
    emptied = api.rest.delete(f"{base}/ext/fields").json()
    assert "keep" not in emptied
    assert emptied["name"] == "ext"
    assert api.rest.delete(f"{base}/ext").status_code == 200
    missing = api.rest.get(f"{base}/ext")
    assert missing.status_code == 404
    assert "Data extension ext for Guest ref" in missing.json()["developerMessage"]
    assert api.rest.put(f"{base}/ext2", json={"a": 1}).status_code == 404
    assert api.rest.put(f"{base}/ext9", json={"a": 1}).status_code == 400
