"""Batch API: allocation, the pre-signed upload, processing statuses, error log, corrupted and expired paths."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tarfile
import uuid
import zipfile
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

if TYPE_CHECKING:
    from conftest import SandboxApi


def guest_record(ident: str, **value: Any) -> dict[str, Any]:
    return {
        "ref": str(uuid.uuid4()),
        "schema": "guest",
        "mode": "upsert",
        "value": {"guestType": "customer", "identifiers": [{"provider": "CRM", "id": ident}], **value},
    }


# The official examples of the batch data model docs (facts §6.6-§6.8), replayed.
DOC_UPSERT = {"ref":"9d94ee11-7043-4b71-980c-a777d00a7b46","schema":"guest","mode":"upsert","value":{"guestType":"customer","firstSeen":"2025-03-07T16:15:11.000Z","lastSeen":"2025-08-23T16:17:16.000Z","title":"Mr","firstName":"John","lastName":"Does","gender":"male","dateOfBirth":"1985-12-24T00:00Z","email":"john.does@example.com","nationality":"Irish","street":["Apartment 15","West Drive Avenue"],"city":"Dublin","country":"IE","postCode":"D2","state":"Dublin","identifiers":[{"provider":"SITECORE_IDENTITY_SYSTEM","id":"B7524AE6-CF1C-440F-B1A2-0C9D42F5CB41","expiryDate":"2025-08-23T16:17:16.000Z"}]}}  # noqa: E501  # fmt: skip
DOC_DM21 = [
    {
        "ref": "CE8B4A20-9C56-49A9-8B94-D1474939612F",
        "schema": "guest",
        "mode": "upsert",
        "value": {
            "guestType": "customer",
            "firstName": "Jane",
            "lastName": "Jones",
            "identifiers": [{"provider": "CDP_ID", "id": "12345"}],
        },
    },
    {
        "ref": "A721CE88-7E0D-45FC-9380-93EA1A5CA559",
        "schema": "guest",
        "mode": "upsert",
        "value": {
            "guestType": "customer",
            "firstName": "Bob",
            "lastName": "Jones",
            "email": "bobjones@test.com",
            "identifiers": [{"provider": "CDP_ID", "id": "56789"}],
        },
    },
]
DOC_ORDER = {"ref":"056621C2-C955-492D-B7EE-C77C6BDDFDEE","schema":"order","mode":"insert","value":{"referenceId":"BET_001-1","channel":"WEB","pointOfSale":"spinbet.com","status":"PURCHASED","orderedAt":"2025-03-07T16:15:11.000Z","currencyCode":"EUR","price":100,"paymentType":"Card","cardType":"Visa","extensions":[{"name":"ext","key":"default","promotion":"freeBet","withdrawAllowed":"no"}],"contact":{"identifiers":[{"provider":"CRM","id":"B7524AE6-CF1C-440F-B1A2-0C9D42F5CB41","expiryDate":"2025-08-23T16:17:16.000Z"},{"provider":"CRM","id":"123456789t"}]},"orderItems":[{"type":"90_EXACT","productId":"CORRECT_SCORE","name":"Exact score after 90 minutes","description":"footballBets","vendor":"Company ABC","orderedAt":"2025-03-07T16:15:11.000Z","quantity":1,"price":100.00,"currencyCode":"EUR","originalPrice":100.00,"originalCurrencyCode":"EUR","referenceId":"BET_001-1","status":"PURCHASED"}]}}  # noqa: E501  # fmt: skip
DOC_EXT = {"ref":str(uuid.uuid4()),"schema":"guest","mode":"upsert","value":{"guestType":"customer","email":"jane@example.com","identifiers":[{"provider":"email","id":"jane@example.com"}],"extensions":[{"name":"ext","key":"default","loyaltyTier":"gold","rewardBalance":120.5,"vipMember":True}]}}  # noqa: E501  # fmt: skip


def find_guest(api: SandboxApi, provider: str, ident: str) -> dict[str, Any]:
    found = api.rest.get("/v2.1/guests", params={"identifiers.provider": provider, "identifiers.id": ident}).json()
    assert len(found["items"]) == 1, found
    guest: dict[str, Any] = api.rest.get(found["items"][0]["href"], params={"expand": "true"}).json()
    return guest


def test_documented_examples_succeed(api: SandboxApi) -> None:
    batch = api.run_batch([DOC_UPSERT, *DOC_DM21, DOC_ORDER, DOC_EXT])
    assert batch["status"] == {"code": "success"}
    assert batch["stats"]["totalRecords"] == 5
    assert batch["stats"]["successfulRecords"] == 5
    assert batch["stats"]["failedRecords"] == 0
    john = find_guest(api, "SITECORE_IDENTITY_SYSTEM", "B7524AE6-CF1C-440F-B1A2-0C9D42F5CB41")
    assert john["firstName"] == "John"
    assert john["dateOfBirth"] == "1985-12-24T00:00:00.000Z"
    assert john["firstSeen"] == "2025-03-07T16:15:11.000Z"
    jane = find_guest(api, "email", "jane@example.com")
    ext = jane["dataExtensions"]["items"][0]
    assert ext["name"] == "ext"
    assert ext["loyaltyTier"] == "gold"
    assert ext["vipMember"] is True
    orders = api.rest.get("/v2.1/orders", params={"referenceId": "BET_001-1", "expand": "true"}).json()
    order = orders["items"][0]
    assert order["price"] == 100
    assert order["orderItems"]["items"][0]["productId"] == "CORRECT_SCORE"
    assert order["extensions"]["items"][0]["promotion"] == "freeBet"
    # The order contact's identifiers did not match a guest: a customer guest was created for it.
    guest = api.rest.get(order["guest"]["href"]).json()
    assert guest["guestType"] == "customer"
    assert len(guest["identifiers"]) == 2


def test_allocate_response_and_statuses(api: SandboxApi) -> None:
    data = api.gz([guest_record("a1")])
    ref = str(uuid.uuid4())
    batch = api.allocate(data, ref)
    assert batch["href"] == f"{api.base_url}/v2/batches/{ref}"
    assert batch["ref"] == ref
    assert batch["size"] == len(data)
    assert batch["checksum"] == hashlib.md5(data).hexdigest()
    assert batch["status"] == {"code": "uploading"}
    assert batch["location"]["href"].startswith(api.base_url + "/_s3/")
    assert set(batch) >= {"createdAt", "modifiedAt", "location"}
    assert api.admin("POST", "/batches/hold").status_code == 200
    assert api.upload(batch["location"]["href"], data).status_code == 200
    assert api.rest.get(f"/v2/batches/inspect/{ref}").json()["status"]["code"] == "file_uploaded"
    assert api.rest.get(f"/v2/batches/{ref}").json()["status"]["code"] == "processing"
    api.drain()
    done = api.rest.get(f"/v2/batches/{ref}").json()
    assert done["status"] == {"code": "success"}
    listing = api.rest.get("/v2/batches/inspect", params={"status": "success,error"}).json()
    assert listing["totalCount"] == 1
    assert listing["items"][0]["ref"] == ref
    assert listing["items"][0]["href"] == f"{api.base_url}/v2/batches/inspect/{ref}"
    assert api.rest.get("/v2/batches/inspect", params={"status": "uploading"}).json()["totalCount"] == 0


def test_upsert_updates_given_fields_and_replaces_whole_groups(api: SandboxApi) -> None:
    first = guest_record("u1", firstName="Ann", lastName="Old", extensions=[
        {"name": "ext", "key": "default", "tier": "gold", "points": 10},
        {"name": "ext1", "optIn": True},
    ])  # fmt: skip
    second = guest_record("u1", lastName="New", extensions=[{"name": "ext", "key": "default", "points": 20}])
    assert api.run_batch([first])["status"]["code"] == "success"
    assert api.run_batch([second])["status"]["code"] == "success"
    guest = find_guest(api, "CRM", "u1")
    assert guest["firstName"] == "Ann"
    assert guest["lastName"] == "New"
    exts = {e["name"]: e for e in guest["dataExtensions"]["items"]}
    assert "tier" not in exts["ext"]
    assert exts["ext"]["points"] == 20
    assert exts["ext1"]["optIn"] is True  # a group not in the record stays


def test_identity_resolution_by_email_then_identifiers(api: SandboxApi) -> None:
    existing = api.create_guest(email="known@example.com")
    api.run_batch(
        [{"ref": "r1", "schema": "guest", "mode": "upsert", "value": {"email": "known@example.com", "city": "Cork"}}]
    )
    assert api.rest.get(existing["href"]).json()["city"] == "Cork"
    assert api.rest.get("/v2.1/guests", params={"email": "known@example.com"}).json()["items"] == [
        {"href": existing["href"]}
    ]


def test_error_log_lists_only_failed_records(api: SandboxApi) -> None:
    records = [
        guest_record("ok1"),
        {**guest_record("bad1"), "ref": "bad-mode", "mode": "insert"},
        {"ref": "no-id", "schema": "guest", "mode": "upsert", "value": {"firstName": "X"}},
        {**guest_record("bad2", guestType="alien"), "ref": "bad-type"},
        {**guest_record("bad3", extensions=[{"name": "ext9", "a": 1}]), "ref": "bad-ext"},
        {**guest_record("bad4", extensions=[{"name": "ext", "a": 1}, {"name": "ext1", "a": 2}]), "ref": "dup-key"},
        {"ref": "no-guest", "schema": "guest", "mode": "delete", "value": {"email": "nobody@example.com"}},
        {"ref": "bad-schema", "schema": "tracking", "mode": "upsert", "value": {}},
        guest_record("ok2"),
    ]
    batch = api.run_batch(records)
    assert batch["status"]["code"] == "error"
    assert batch["stats"] == {**batch["stats"], "totalRecords": 9, "successfulRecords": 2, "failedRecords": 7}
    log = api.error_log(batch)
    by_ref = {line["ref"]: line for line in log}
    assert set(by_ref) == {"bad-mode", "no-id", "bad-type", "bad-ext", "dup-key", "no-guest", "bad-schema"}
    assert by_ref["bad-mode"] == {
        "ref": "bad-mode",
        "code": 402,
        "message": "Unsupported mode: mode insert is not supported for schema guest",
    }
    assert by_ref["no-id"]["code"] == 400
    assert by_ref["no-id"]["message"] == "Identity information missing"
    assert by_ref["bad-type"]["code"] == 400
    assert by_ref["bad-type"]["message"].startswith("Validation error")
    assert by_ref["no-guest"]["code"] == 404
    assert by_ref["bad-schema"]["code"] == 402
    assert all(set(line) == {"ref", "code", "message"} for line in log)


def test_guest_delete_and_gdpr_delete(api: SandboxApi) -> None:
    api.run_batch([DOC_ORDER])
    contact = find_guest(api, "CRM", "123456789t")
    api.run_batch(
        [
            {
                "ref": "d1",
                "schema": "guest",
                "mode": "delete",
                "value": {"identifiers": [{"provider": "CRM", "id": "123456789t"}]},
            }
        ]
    )
    assert api.rest.get(contact["href"]).status_code == 404
    assert len(api.rest.get("/v2.1/orders", params={"referenceId": "BET_001-1"}).json()["items"]) == 1  # kept
    api.run_batch([DOC_ORDER])
    again = find_guest(api, "CRM", "123456789t")
    api.run_batch(
        [
            {
                "ref": "d2",
                "schema": "guest",
                "mode": "gdpr_delete",
                "value": {"identifiers": [{"provider": "CRM", "id": "123456789t"}]},
            }
        ]
    )
    assert api.rest.get(again["href"]).status_code == 404
    assert api.rest.get("/v2.1/orders", params={"guestRef": again["ref"]}).json()["items"] == []


def test_order_delete_and_items_insert_only(api: SandboxApi) -> None:
    api.run_batch([DOC_ORDER])
    upsert_items = {**DOC_ORDER, "ref": "up", "mode": "upsert"}
    batch = api.run_batch([upsert_items])
    assert api.error_log(batch)[0]["code"] == 402
    missing = {
        "ref": "del0",
        "schema": "order",
        "mode": "delete",
        "value": {"referenceId": "NOPE", "orderedAt": "2025-03-07T16:15:11.000Z"},
    }
    ok = {
        "ref": "del1",
        "schema": "order",
        "mode": "delete",
        "value": {"referenceId": "BET_001-1", "orderedAt": "2025-03-07T10:00:00.000Z"},
    }
    batch = api.run_batch([missing, ok])
    assert api.error_log(batch) == [
        {"ref": "del0", "code": 404, "message": "No order found for the provided referenceId and orderedAt attributes."}
    ]
    assert api.rest.get("/v2.1/orders", params={"referenceId": "BET_001-1"}).json()["items"] == []


def _tar_gz() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("a.json", "b.json"):
            payload = orjson.dumps(guest_record(name)) + b"\n"
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("import.json", orjson.dumps(guest_record("z")))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b'{"not": "gzipped"}\n', "corrupted"),
        (gzip.compress(b"{}\n", mtime=0) + gzip.compress(b"{}\n", mtime=0), "corrupted"),
        (_tar_gz(), "corrupted"),
        (_zip(), "error"),  # the docs: error without a log means an unsupported compression such as zip
    ],
)
def test_bad_files(api: SandboxApi, data: bytes, status: str) -> None:
    batch = api.run_batch(data)
    assert batch["status"] == {"code": status}


def test_lines_that_are_not_json_are_failed_records_not_a_corrupted_file(api: SandboxApi) -> None:
    # "corrupted" is documented for a checksum or size mismatch; a CSV file gzipped is read and every line fails.
    batch = api.run_batch(gzip.compress(b"a,b,c\n1,2,3\n"))
    assert batch["status"]["code"] == "error"
    assert batch["stats"]["failedRecords"] == 2
    log = api.error_log(batch)
    assert [(e["ref"], e["code"]) for e in log] == [(None, 400), (None, 400)]
    assert log[0]["message"].startswith("Validation error: invalid JSON")


def test_byte_order_mark_before_the_first_record_is_skipped(api: SandboxApi) -> None:
    data = gzip.compress(b"\xef\xbb\xbf" + b"".join(orjson.dumps(guest_record(i)) + b"\n" for i in ("b1", "b2")))
    batch = api.run_batch(data)
    assert batch["status"] == {"code": "success"}
    assert batch["stats"]["successfulRecords"] == 2
    uploads = api.admin("GET", "/journal?prefix=/_s3").json()["entries"]
    assert any("byte order mark" in w for w in uploads[-1]["warnings"])


def test_over_long_line_is_one_failed_record(api: SandboxApi) -> None:
    # The sandbox reads lines up to batch_max_line_bytes (4 MiB); a longer one is reported by its ref and skipped
    # without being held whole (memory: see test_memory_stays_flat_reading_a_long_line in test_limits.py).
    long_record = guest_record("long")
    long_record["value"]["firstName"] = "x" * (5 * 1024 * 1024)
    data = api.gz([guest_record("before"), long_record, guest_record("after")])
    batch = api.run_batch(data)
    assert batch["status"]["code"] == "error"
    assert batch["stats"] == {**batch["stats"], "totalRecords": 3, "successfulRecords": 2, "failedRecords": 1}
    [entry] = api.error_log(batch)
    assert entry["ref"] == long_record["ref"]
    assert entry["message"].startswith("Validation error: the record is too long")


def test_checksum_or_size_mismatch_is_corrupted(api: SandboxApi) -> None:
    data = api.gz([guest_record("c1")])
    other = api.gz([guest_record("c2")])
    batch = api.allocate(data)
    assert api.upload(batch["location"]["href"], other).status_code == 200  # S3 only checks Content-MD5
    api.drain()
    assert api.rest.get(f"/v2/batches/{batch['ref']}").json()["status"] == {"code": "corrupted"}


def test_presigned_url_rules(api: SandboxApi) -> None:
    data = api.gz([guest_record("p1")])
    batch = api.allocate(data)
    url = batch["location"]["href"]
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    tampered = url.replace(query["Signature"][0].replace("+", "%2B").replace("/", "%2F").replace("=", "%3D"), "AAAA")
    denied = api.upload(tampered, data)
    assert denied.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in denied.content
    wrong_md5 = api.upload(url, data, md5=hashlib.md5(b"other").digest())
    assert wrong_md5.status_code == 400
    assert b"<Code>BadDigest</Code>" in wrong_md5.content
    garbage = httpx.put(url, content=data, headers={"Content-Md5": "!!"})
    assert garbage.status_code == 400
    assert b"InvalidDigest" in garbage.content
    assert api.rest.get(f"/v2/batches/{batch['ref']}").json()["status"]["code"] == "uploading"
    # Base64 of the hex string is accepted too (one reading of the doc's wording).
    hex_b64 = base64.b64encode(hashlib.md5(data).hexdigest().encode()).decode()
    assert httpx.put(url, content=data, headers={"Content-Md5": hex_b64}).status_code == 200
    again = api.upload(url, data)
    assert again.status_code == 403  # one file per batch
    api.drain()


def test_upload_url_expires_after_an_hour(api: SandboxApi) -> None:
    api.set_clock("2026-01-10T08:00:00.000Z")
    data = api.gz([guest_record("e1")])
    batch = api.allocate(data)
    assert batch["location"]["expiry"] == "2026-01-10T09:00:00.000Z"
    api.advance(3601)
    expired = api.upload(batch["location"]["href"], data)
    assert expired.status_code == 403
    assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in expired.content
    fresh = api.allocate(data, batch["ref"])  # re-allocating an unused ref gives a new hour
    assert api.upload(fresh["location"]["href"], data).status_code == 200
    api.drain()


def test_allocate_validation(api: SandboxApi) -> None:
    ref = str(uuid.uuid4())
    cases = [
        {"checksum": "xyz", "size": 10},
        {"checksum": "0" * 32},
        {"checksum": "0" * 32, "size": 0},
        {"checksum": "0" * 32, "size": 60 * 1024 * 1024},
        {"checksum": "0" * 32, "size": "ten"},
        {"checksum": "0" * 32, "size": "10.5"},
    ]
    for body in cases:
        resp = api.rest.put(f"/v2/batches/{ref}", json=body)
        assert resp.status_code == 400, body
        assert resp.json()["status"] == 400
    assert api.rest.put("/v2/batches/not-a-uuid", json={"checksum": "0" * 32, "size": 1}).status_code == 400
    assert api.rest.get(f"/v2/batches/{ref}").status_code == 404
    assert api.anon.put(f"/v2/batches/{ref}", json={"checksum": "0" * 32, "size": 1}).status_code == 401


def test_inspect_keeps_thirty_days(api: SandboxApi) -> None:
    api.set_clock("2026-03-01T00:00:00.000Z")
    old = api.allocate(b"x" * 10)
    api.advance(20 * 86400)
    new = api.allocate(b"y" * 10)
    listing = api.rest.get("/v2/batches/inspect").json()
    assert [i["ref"] for i in listing["items"]] == [new["ref"], old["ref"]]
    before = api.rest.get("/v2/batches/inspect", params={"createdBefore": "2026-03-10T00:00:00Z"}).json()
    assert [i["ref"] for i in before["items"]] == [old["ref"]]
    api.advance(11 * 86400)
    assert [i["ref"] for i in api.rest.get("/v2/batches/inspect").json()["items"]] == [new["ref"]]
    assert api.rest.get("/v2/batches/inspect", params={"status": "bogus"}).status_code == 400
