"""The batch guest fast path (prepare_chunk + bulk insert, optionally in the helper process) must give exactly the
result of the per-record path, which is the reference semantics: same error-log lines, same guests, identifiers,
extension groups and orders."""

from __future__ import annotations

import gzip
import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cdp_poc_studio.sandbox.batch_records import ChunkApplier, prepare_chunk
from cdp_poc_studio.sandbox.clock import Clock
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import SandboxServer
from cdp_poc_studio.sandbox.store import Store

NOW = "2026-03-01T10:00:00.000Z"
AUTH = ("sandbox-client-key", "sandbox-api-token")


def rec(mode: str, schema: str = "guest", **value: Any) -> dict[str, Any]:
    return {"ref": str(uuid.uuid4()), "schema": schema, "mode": mode, "value": value}


def ident(i: str, provider: str = "CRM") -> list[dict[str, str]]:
    return [{"provider": provider, "id": i}]


def ext(name: str = "ext", **values: Any) -> list[dict[str, Any]]:
    return [{"name": name, "key": "default", **values}]


ORDER = {
    "referenceId": "R-1", "channel": "WEB", "pointOfSale": "shop", "status": "PURCHASED",
    "orderedAt": "2026-02-01T10:00:00.000Z", "currencyCode": "EUR", "price": 10, "paymentType": "Cash",
    "orderItems": [{"type": "T", "productId": "P", "name": "N", "description": "D", "vendor": "V", "price": 10,
                    "currencyCode": "EUR"}],
}  # fmt: skip


def mixed_records() -> list[bytes]:
    records: list[Any] = [
        rec("upsert", guestType="customer", email="a@x.io", identifiers=ident("A"), extensions=ext(tier="gold")),
        rec("upsert", firstName="Bo", identifiers=ident("B"), extensions=ext("ext2", points=3)),
        # the same person again in the chunk: attributes merged, the ext group replaced as a whole
        rec("upsert", lastName="Ay", identifiers=ident("A"), extensions=ext(other=1)),
        rec("merge", email="b@x.io", identifiers=ident("B2")),
        rec("upsert", email="b@x.io", firstName="ByEmail"),  # resolves by email
        rec("create", identifiers=ident("A")),  # 409 Guest already exists
        rec("create", email="new@x.io", identifiers=ident("C")),
        rec("upsert", guestType="visitor", identifiers=ident("D")),  # 400
        rec("upsert", dateOfBirth="2099-01-01T00:00Z", identifiers=ident("D")),  # 400 future
        rec("upsert", firstname="typo", identifiers=ident("D")),  # 400 unknown attribute
        rec("upsert", identifiers=ident("D"), extensions=ext(BadKey=1)),  # 400 key
        rec("upsert", identifiers=ident("D"), extensions=[*ext(k=1), *ext("ext1", k=2)]),  # 400 key in two groups
        rec("upsert", firstName="Nobody"),  # 400 identity missing
        rec("insert", identifiers=ident("D")),  # 402
        rec("upsert", identifiers=ident("OLD"), city="Cork"),  # an existing guest
        rec("upsert", email="old2@x.io", identifiers=ident("OLD2", "WEB"), country="IE"),  # existing by email
        rec("upsert", identifiers=ident("E"), email="e@x.io", extensions=ext(n=1.5, flag=True)),
        {
            "ref": str(uuid.uuid4()),
            "schema": "order",
            "mode": "insert",
            "value": {**ORDER, "contact": {"identifiers": ident("E")}},
        },
        rec("upsert", identifiers=ident("E"), firstName="AfterOrder"),
        rec("delete", identifiers=ident("C")),
        rec("upsert", identifiers=ident("F"), email="a@x.io"),  # after a delete: resolves A by email
        rec("upsert", identifiers=ident("G")),
        rec("upsert", identifiers=[{"provider": "CRM", "id": "H"}, {"provider": "CRM", "id": "H"}]),
        "not an object",
        {"schema": "guest", "mode": "upsert", "value": {"identifiers": ident("I")}},  # no ref
        rec("upsert", identifiers=ident("G"), extensions=ext("ext3", x="y")),
    ]
    lines = [orjson.dumps(r) for r in records]
    lines.insert(5, b"{not json")
    return lines


def seeded_store(path: Path) -> Store:
    store = Store(str(path), Clock())
    with store.write() as conn:
        conn.execute(
            "INSERT INTO guests VALUES ('old-1', NULL, ?, ?, ?, NULL)",
            (NOW, NOW, orjson.dumps({"guestType": "customer", "identifiers": ident("OLD")})),
        )
        conn.execute("INSERT INTO guest_identifiers VALUES ('CRM', 'OLD', 'old-1')")
        conn.execute(
            "INSERT INTO guests VALUES ('old-2', 'old2@x.io', ?, ?, ?, ?)",
            (
                NOW,
                NOW,
                orjson.dumps({"guestType": "customer", "email": "old2@x.io"}),
                orjson.dumps({"ext": {"ref": "r", "createdAt": NOW, "modifiedAt": NOW, "values": {"a": 1}}}),
            ),
        )
    return store


def snapshot(store: Store) -> dict[str, Any]:
    """The database content with random refs replaced by stable names (a guest by its smallest identity key)."""
    conn = store.read()
    names: dict[str, str] = {}
    for ref, email, data in conn.execute("SELECT ref, email, data FROM guests"):
        keys = sorted(f"{i['provider']}:{i['id']}" for i in orjson.loads(data).get("identifiers") or [])
        names[ref] = (keys or [f"email:{email}"])[0]
    guests = {}
    for ref, email, created, modified, data, exts in conn.execute("SELECT * FROM guests"):
        groups = orjson.loads(exts) if exts else {}
        for group in groups.values():
            group["ref"] = "<ref>" if group["ref"] != "r" else "r"
        guests[names[ref]] = (email, created, modified, orjson.loads(data), groups)
    assert len(guests) == len(names), "two guests with the same identity"
    idents = sorted((p, i, names[g]) for p, i, g in conn.execute("SELECT * FROM guest_identifiers"))
    orders = sorted((r, names.get(g, g)) for r, g in conn.execute("SELECT reference_id, guest_ref FROM orders"))
    return {"guests": guests, "identifiers": idents, "orders": orders}


def apply_chunks(store: Store, lines: list[bytes], size: int, *, fast: bool) -> list[Any]:
    outcome: list[Any] = []
    for start in range(0, len(lines), size):
        chunk = lines[start : start + size]
        with store.write() as conn:
            applier = ChunkApplier(conn, NOW)
            applier.apply(chunk, prepare_chunk(chunk, NOW) if fast else [None] * len(chunk))
            outcome.append((applier.succeeded, applier.failures))
    return outcome


@pytest.mark.parametrize("size", [1, 3, 7, 100])
def test_fast_path_equals_per_record_path(tmp_path: Path, size: int) -> None:
    lines = mixed_records()
    reference = seeded_store(tmp_path / "ref.db")
    fast = seeded_store(tmp_path / "fast.db")
    try:
        expected = apply_chunks(reference, lines, size, fast=False)
        assert apply_chunks(fast, lines, size, fast=True) == expected
        assert snapshot(fast) == snapshot(reference)
    finally:
        reference.close()
        fast.close()
    failures = [f for _, chunk_failures in expected for f in chunk_failures]
    assert [(code, message) for _, code, message in failures] == [
        (400, "Validation error: invalid JSON (unexpected character, expected a string key)"),
        (409, "Guest already exists"),
        (400, "Validation error: guestType: only customer guests can be uploaded"),
        (400, "Validation error: dateOfBirth: must be in the past"),
        (400, "Validation error: firstname: not a known attribute"),
        (400, "Validation error: BadKey: key must be alphanumeric camel case"),
        (400, "Validation error: k: key already exists in data extension ext"),
        (400, "Identity information missing"),
        (402, "Unsupported mode: mode insert is not supported for schema guest"),
        (400, "Validation error: a record must be a JSON object"),
        (400, "Validation error: ref may not be null"),
    ]
    assert sum(succeeded for succeeded, _ in expected) == 16


def test_prepare_chunk_prepares_only_valid_guest_upserts() -> None:
    lines = mixed_records()
    prepared = prepare_chunk(lines, NOW)
    assert len(prepared) == len(lines)
    first = prepared[0]
    assert first is not None
    guest_ref, keys, emails, row, ident_rows = first
    _, email, created_at, modified_at, data_json, exts_json = row
    assert (keys, emails, email, created_at, modified_at) == ((("CRM", "A"),), ("a@x.io",), "a@x.io", NOW, NOW)
    assert row[0] == guest_ref
    assert ident_rows == (("CRM", "A", guest_ref),)
    assert orjson.loads(data_json) == {
        "guestType": "customer", "email": "a@x.io", "identifiers": [{"provider": "CRM", "id": "A"}],
        "firstSeen": NOW, "lastSeen": NOW,
    }  # fmt: skip
    assert exts_json is not None
    group = orjson.loads(exts_json)["ext"]
    assert group["values"] == {"tier": "gold"}
    assert uuid.UUID(group["ref"]).version == 4
    assert str(uuid.UUID(guest_ref)) == guest_ref
    assert prepared[5] is None  # not JSON
    assert sum(p is None for p in prepared) == 12  # errors, orders, deletes: left to the per-record path


def _batch(client: httpx.Client, records: list[bytes]) -> dict[str, Any]:
    data = gzip.compress(b"\n".join(records) + b"\n")
    ref = str(uuid.uuid4())
    batch = client.put(f"/v2/batches/{ref}", json={"checksum": hashlib.md5(data).hexdigest(), "size": len(data)})
    assert httpx.put(batch.json()["location"]["href"], content=data).status_code == 200
    assert client.post("/_sandbox/batches/drain").json() == {"idle": True}
    status: dict[str, Any] = client.get(f"/v2/batches/{ref}").json()
    lines = []
    if status["status"].get("log"):
        lines = gzip.decompress(httpx.get(status["status"]["log"]).content).splitlines()
    status["lines"] = [{k: v for k, v in orjson.loads(line).items() if k != "ref"} for line in lines]
    return status


def test_helper_process_gives_the_same_result_as_the_worker_thread(tmp_path: Path) -> None:
    records = mixed_records() * 3  # the same people three times: the later chunks update them
    outcomes = []
    for helper in (True, False):
        config = SandboxConfig(
            port=0, db_path=str(tmp_path / f"h{helper}.db"), batch_chunk_records=4, batch_prepare_process=helper
        )
        with SandboxServer(config) as server, httpx.Client(base_url=server.base_url, auth=AUTH) as client:
            preparer = server.sandbox.batches._preparer
            if helper:
                assert preparer is not None
                deadline = time.monotonic() + 60
                while not preparer._ready.is_set() and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert preparer._ready.is_set(), "the helper process did not start"
            else:
                assert preparer is None
            status = _batch(client, records)
            if helper:
                assert preparer is not None
                assert preparer._ready.is_set(), "the helper failed during the batch"
            store = server.sandbox.store
            outcomes.append((status["stats"]["successfulRecords"], status["stats"]["failedRecords"],
                             status["lines"], snapshot(store)))  # fmt: skip
    assert outcomes[0][:3] == outcomes[1][:3]
    with_helper, without = outcomes[0][3], outcomes[1][3]
    # Timestamps differ between the two runs (real clock); compare everything else.
    for snap in (with_helper, without):
        for name, (email, _, _, data, groups) in list(snap["guests"].items()):
            data = {k: v for k, v in data.items() if k not in ("firstSeen", "lastSeen")}
            snap["guests"][name] = (email, data, {n: g["values"] for n, g in groups.items()})
    assert with_helper == without


def test_a_dead_helper_falls_back_to_the_worker_thread(tmp_path: Path) -> None:
    config = SandboxConfig(port=0, db_path=str(tmp_path / "dead.db"), batch_chunk_records=4)
    with SandboxServer(config) as server, httpx.Client(base_url=server.base_url, auth=AUTH) as client:
        preparer = server.sandbox.batches._preparer
        assert preparer is not None
        deadline = time.monotonic() + 60
        while not preparer._ready.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert preparer._proc is not None
        preparer._proc.kill()
        preparer._proc.wait()
        status = _batch(client, mixed_records())
        assert status["status"]["code"] == "error"  # failed records, but every record was processed
        assert status["stats"]["totalRecords"] == len(mixed_records())
        assert preparer._proc is None  # discarded
