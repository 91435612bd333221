"""Mutations: after a real send to the sandbox, change what CDP holds (through its own REST API) or the export
files pulled back, and check that the verifier reports each change with the right classification, through the
REST read-back and through the export wherever the change is visible there, and nothing else.

One run is sent and shared: each mutation works on its own guests, so every mutation is applied once, the
read-back and export are pulled once more, and the export files are changed last. Each mutation then checks
the differences of its own guests only, exactly: what it expects and nothing more. A last test checks that no
other guest has a difference at all.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.secrets import SANDBOX_CREDENTIALS
from cdp_poc_studio.generator.distribution import Distribution
from cdp_poc_studio.roundtrip.normalise import Outcome
from cdp_poc_studio.roundtrip.pipeline import Pipeline
from cdp_poc_studio.roundtrip.report_model import RunReport
from cdp_poc_studio.roundtrip.run_folder import read_generated
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import SandboxServer
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from cdp_poc_studio.targets.target import Target
from tests.helpers.data import bundled
from tests.helpers.roundtrip import run
from tests.helpers.verify_support import AUTH

GUESTS = 52
PROVIDER = "POC_STUDIO"
Expect = dict[tuple[str, str], Outcome]  # (source, path) -> outcome, for one record


@dataclass
class Sent:
    """A sent guest as generated: its key, attributes, flat extension groups and orders."""

    key: str
    guest: dict[str, Any]
    orders: list[dict[str, Any]]

    @property
    def ident(self) -> str:
        return self.key.split(":", 1)[1]

    def ext(self, name: str) -> dict[str, Any]:
        return next(e for e in self.guest.get("extensions", []) if e["name"] == name)


@dataclass
class Mutation:
    name: str
    where: str  # "cdp" (through CDP's REST API) or "file" (the pulled export files)
    wants: Callable[[Sent], bool]
    apply: Callable[[World, list[Sent]], dict[str, Expect]]
    guests: int = 1


@dataclass
class World:
    http: httpx.Client
    base: str
    sent: list[Sent]
    export_folder: Path
    clean: RunReport | None = None
    mutated: RunReport | None = None
    expected: dict[str, dict[str, Expect]] = field(default_factory=dict)  # mutation -> record -> expect
    used: set[str] = field(default_factory=set)

    # -- CDP REST helpers (plain httpx: independent of the client under test) ---------------------------

    def guest_ref(self, sent: Sent) -> str:
        body = self.http.get(
            "/v2.1/guests", params={"identifiers.provider": PROVIDER, "identifiers.id": sent.ident}
        ).json()
        return str(body["items"][0]["href"]).rsplit("/", 1)[1]

    def order_ref(self, reference: str) -> str:
        body = self.http.get("/v2.1/orders", params={"referenceId": reference}).json()
        return str(body["items"][0]["href"]).rsplit("/", 1)[1]

    def items(self, order_ref: str) -> list[dict[str, Any]]:
        body = self.http.get(f"/v2.1/orders/{order_ref}/orderItems", params={"expand": "true"}).json()
        return list(body["items"])

    def ok(self, response: httpx.Response) -> dict[str, Any]:
        assert response.is_success, response.text
        return response.json() if response.content else {}


def _both(path: str, outcome: Outcome) -> Expect:
    return {("rest", path): outcome, ("export", path): outcome}


def _rest(path: str, outcome: Outcome) -> Expect:
    return {("rest", path): outcome}


# ---------------------------------------------------------------- mutations through CDP's REST API


def change_attribute(w: World, s: list[Sent]) -> dict[str, Expect]:
    w.ok(w.http.patch(f"/v2.1/guests/{w.guest_ref(s[0])}", json={"firstName": "Changed"}))
    return {s[0].key: _both("firstName", Outcome.VALUE_CHANGED)}


def recase_attribute(w: World, s: list[Sent]) -> dict[str, Expect]:
    w.ok(w.http.patch(f"/v2.1/guests/{w.guest_ref(s[0])}", json={"lastName": s[0].guest["lastName"].upper()}))
    return {s[0].key: _both("lastName", Outcome.VALUE_CHANGED)}


def pad_attribute(w: World, s: list[Sent]) -> dict[str, Expect]:
    w.ok(w.http.patch(f"/v2.1/guests/{w.guest_ref(s[0])}", json={"city": f" {s[0].guest['city']} "}))
    return {s[0].key: _both("city", Outcome.VALUE_CHANGED)}


def remove_attribute(w: World, s: list[Sent]) -> dict[str, Expect]:
    ref = w.guest_ref(s[0])
    guest = w.ok(w.http.get(f"/v2.1/guests/{ref}"))
    kept = {k: v for k, v in guest.items() if k in s[0].guest and k not in ("extensions", "postCode")}
    w.ok(w.http.put(f"/v2.1/guests/{ref}", json=kept))
    return {s[0].key: _both("postCode", Outcome.FIELD_MISSING)}


def add_attribute(w: World, s: list[Sent]) -> dict[str, Expect]:
    w.ok(w.http.patch(f"/v2.1/guests/{w.guest_ref(s[0])}", json={"title": "Dr"}))
    return {s[0].key: _rest("title", Outcome.EXTRA_FIELD)}  # the export does not carry title


def change_extension_value(w: World, s: list[Sent]) -> dict[str, Expect]:
    tier = "platinum" if s[0].ext("ext")["loyaltyTier"] != "platinum" else "gold"
    w.ok(w.http.patch(f"/v2.1/guests/{w.guest_ref(s[0])}/extensions/ext", json={"loyaltyTier": tier}))
    return {s[0].key: _both("ext.loyaltyTier", Outcome.VALUE_CHANGED)}


def recase_extension_value(w: World, s: list[Sent]) -> dict[str, Expect]:
    tier = s[0].ext("ext")["loyaltyTier"].capitalize()
    w.ok(w.http.patch(f"/v2.1/guests/{w.guest_ref(s[0])}/extensions/ext", json={"loyaltyTier": tier}))
    return {s[0].key: _both("ext.loyaltyTier", Outcome.VALUE_CHANGED)}


def pad_nested_value(w: World, s: list[Sent]) -> dict[str, Expect]:
    city = s[0].ext("ext")["addressCity"] + " "
    w.ok(w.http.patch(f"/v2.1/guests/{w.guest_ref(s[0])}/extensions/ext", json={"addressCity": city}))
    return {s[0].key: _both("ext.address.city", Outcome.VALUE_CHANGED)}


def retype_extension_value(w: World, s: list[Sent]) -> dict[str, Expect]:
    number = str(s[0].ext("ext")["loyaltyNumber"])
    w.ok(w.http.patch(f"/v2.1/guests/{w.guest_ref(s[0])}/extensions/ext", json={"loyaltyNumber": number}))
    return {s[0].key: _both("ext.loyaltyNumber", Outcome.TYPE_CHANGED)}


def retype_boolean_to_number(w: World, s: list[Sent]) -> dict[str, Expect]:
    number = 1 if s[0].ext("ext")["vipMember"] else 0
    w.ok(w.http.patch(f"/v2.1/guests/{w.guest_ref(s[0])}/extensions/ext", json={"vipMember": number}))
    return {s[0].key: _both("ext.vipMember", Outcome.TYPE_CHANGED)}


def remove_extension_key(w: World, s: list[Sent]) -> dict[str, Expect]:
    w.ok(w.http.delete(f"/v2.1/guests/{w.guest_ref(s[0])}/extensions/ext/fields", params={"name": "loyaltyTier"}))
    return {s[0].key: _both("ext.loyaltyTier", Outcome.FIELD_MISSING)}


def add_extension_key(w: World, s: list[Sent]) -> dict[str, Expect]:
    w.ok(w.http.patch(f"/v2.1/guests/{w.guest_ref(s[0])}/extensions/ext", json={"surpriseKey": "x"}))
    return {s[0].key: _both("ext.surpriseKey", Outcome.EXTRA_FIELD)}


def change_inside_json(w: World, s: list[Sent]) -> dict[str, Expect]:
    preferences = orjson.loads(s[0].ext("ext1")["preferences"])
    preferences[0]["channel"] = "fax"
    body = {"preferences": orjson.dumps(preferences).decode()}
    w.ok(w.http.patch(f"/v2.1/guests/{w.guest_ref(s[0])}/extensions/ext1", json=body))
    return {s[0].key: _both("ext1.preferences[0].channel", Outcome.VALUE_CHANGED)}


def add_inside_json(w: World, s: list[Sent]) -> dict[str, Expect]:
    preferences = orjson.loads(s[0].ext("ext1")["preferences"])
    preferences[0]["sneaky"] = 1
    body = {"preferences": orjson.dumps(preferences).decode()}
    w.ok(w.http.patch(f"/v2.1/guests/{w.guest_ref(s[0])}/extensions/ext1", json=body))
    return {s[0].key: _both("ext1.preferences[0].sneaky", Outcome.EXTRA_FIELD)}


def remove_extension_group(w: World, s: list[Sent]) -> dict[str, Expect]:
    w.ok(w.http.delete(f"/v2.1/guests/{w.guest_ref(s[0])}/extensions/ext1"))
    ext1 = s[0].ext("ext1")
    paths = [f"ext1.preferences[{i}].{k}" for i, p in enumerate(orjson.loads(ext1["preferences"])) for k in p]
    paths.append("ext1.marketingConsent")
    expect: Expect = {}
    for path in paths:
        expect.update(_both(path, Outcome.FIELD_MISSING))
    return {s[0].key: expect}


def add_extension_group(w: World, s: list[Sent]) -> dict[str, Expect]:
    body = {"name": "ext5", "bonusPoints": 5}
    w.ok(w.http.post(f"/v2.1/guests/{w.guest_ref(s[0])}/extensions", json=body))
    return {s[0].key: _both("ext5.bonusPoints", Outcome.EXTRA_FIELD)}


def duplicate_guest(w: World, s: list[Sent]) -> dict[str, Expect]:
    twin = {"guestType": "customer", "firstName": "Twin", "identifiers": [{"provider": PROVIDER, "id": s[0].ident}]}
    w.ok(w.http.post("/v2.1/guests", json=twin))
    return {s[0].key: _both("*", Outcome.DUPLICATE)}


def extra_record(w: World, s: list[Sent]) -> dict[str, Expect]:
    ident = "retail42-9999999"
    stranger = {"guestType": "customer", "firstName": "Nobody", "identifiers": [{"provider": PROVIDER, "id": ident}]}
    w.ok(w.http.post("/v2.1/guests", json=stranger))
    # Only the export finds records nobody sent (the read-back looks up what was sent).
    return {f"{PROVIDER}:{ident}": {("export", "*"): Outcome.EXTRA_RECORD}}


def change_order(w: World, s: list[Sent]) -> dict[str, Expect]:
    reference = s[0].orders[0]["referenceId"]
    w.ok(w.http.patch(f"/v2.1/orders/{w.order_ref(reference)}", json={"price": 12345.5}))
    return {s[0].key: _both(f"orders.{reference}.price", Outcome.VALUE_CHANGED)}


def recase_order_point_of_sale(w: World, s: list[Sent]) -> dict[str, Expect]:
    order = s[0].orders[0]
    body = {"pointOfSale": order["pointOfSale"].upper()}
    w.ok(w.http.patch(f"/v2.1/orders/{w.order_ref(order['referenceId'])}", json=body))
    return {s[0].key: _both(f"orders.{order['referenceId']}.pointOfSale", Outcome.VALUE_CHANGED)}


def delete_order(w: World, s: list[Sent]) -> dict[str, Expect]:
    reference = s[0].orders[0]["referenceId"]
    w.ok(w.http.delete(f"/v2.1/orders/{w.order_ref(reference)}"))
    return {s[0].key: _both(f"orders.{reference}", Outcome.FIELD_MISSING)}


def add_order(w: World, s: list[Sent]) -> dict[str, Expect]:
    order = {
        "referenceId": "EXTRA-1", "orderedAt": "2025-01-01T10:00:00.000Z", "currencyCode": "EUR", "price": 5,
        "channel": "WEB", "pointOfSale": "shop", "status": "PURCHASED",
    }  # fmt: skip
    created = w.ok(w.http.post("/v2.1/orders", json=order))
    href = f"{w.base}/v2.1/guests/{w.guest_ref(s[0])}"
    w.ok(w.http.post(f"/v2.1/orders/{created['ref']}/contacts", json={"guest": {"href": href}}))
    return {s[0].key: _both("orders.EXTRA-1", Outcome.EXTRA_ORDER)}


def relink_order(w: World, s: list[Sent]) -> dict[str, Expect]:
    reference = s[0].orders[0]["referenceId"]
    order_ref = w.order_ref(reference)
    (contact,) = w.ok(w.http.get(f"/v2.1/orders/{order_ref}/contacts", params={"expand": "true"}))["items"]
    contact_ref = str(contact["href"]).rsplit("/", 1)[1]
    href = f"{w.base}/v2.1/guests/{w.guest_ref(s[1])}"
    w.ok(w.http.patch(f"/v2.1/orderContacts/{contact_ref}", json={"guest": {"href": href}}))
    path = f"orders.{reference}"
    return {s[0].key: _both(path, Outcome.RELINKED), s[1].key: _both(path, Outcome.RELINKED)}


def change_order_contact(w: World, s: list[Sent]) -> dict[str, Expect]:
    reference = s[0].orders[0]["referenceId"]
    (contact,) = w.ok(w.http.get(f"/v2.1/orders/{w.order_ref(reference)}/contacts", params={"expand": "true"}))["items"]
    contact_ref = str(contact["href"]).rsplit("/", 1)[1]
    w.ok(w.http.patch(f"/v2.1/orderContacts/{contact_ref}", json={"firstName": "Someone"}))
    return {s[0].key: _rest(f"orders.{reference}.contact.firstName", Outcome.VALUE_CHANGED)}


def change_order_extension(w: World, s: list[Sent]) -> dict[str, Expect]:
    reference = s[0].orders[0]["referenceId"]
    body = {"storeLocation": "Nowhere"}
    w.ok(w.http.patch(f"/v2.1/orders/{w.order_ref(reference)}/extensions/ext", json=body))
    return {s[0].key: _rest(f"orders.{reference}.ext.storeLocation", Outcome.VALUE_CHANGED)}


def add_order_extension_key(w: World, s: list[Sent]) -> dict[str, Expect]:
    reference = s[0].orders[0]["referenceId"]
    w.ok(w.http.patch(f"/v2.1/orders/{w.order_ref(reference)}/extensions/ext", json={"sneaky": True}))
    return {s[0].key: _rest(f"orders.{reference}.ext.sneaky", Outcome.EXTRA_FIELD)}


def _first_item(w: World, sent: Sent) -> tuple[str, str, dict[str, Any]]:
    order = sent.orders[0]
    item = w.items(w.order_ref(order["referenceId"]))[0]
    return order["referenceId"], str(item["href"]).rsplit("/", 1)[1], item


def change_item(w: World, s: list[Sent]) -> dict[str, Expect]:
    reference, item_ref, item = _first_item(w, s[0])
    w.ok(w.http.patch(f"/v2.1/orderItems/{item_ref}", json={"name": "Something else"}))
    return {s[0].key: _rest(f"orders.{reference}.items.{item['referenceId']}.name", Outcome.VALUE_CHANGED)}


def delete_item(w: World, s: list[Sent]) -> dict[str, Expect]:
    reference, item_ref, item = _first_item(w, s[0])
    w.ok(w.http.delete(f"/v2.1/orderItems/{item_ref}"))
    return {s[0].key: _rest(f"orders.{reference}.items.{item['referenceId']}", Outcome.FIELD_MISSING)}


def add_item(w: World, s: list[Sent]) -> dict[str, Expect]:
    reference, _, item = _first_item(w, s[0])
    extra = {k: item[k] for k in ("type", "productId", "name", "description", "vendor", "price", "currencyCode")}
    extra.update(referenceId="EXTRA-ITEM", quantity=1)
    w.ok(w.http.post(f"/v2.1/orders/{w.order_ref(reference)}/orderItems", json=extra))
    return {s[0].key: _rest(f"orders.{reference}.items.EXTRA-ITEM", Outcome.EXTRA_ITEM)}


def change_item_extension(w: World, s: list[Sent]) -> dict[str, Expect]:
    reference, item_ref, item = _first_item(w, s[0])
    w.ok(w.http.patch(f"/v2.1/orderItems/{item_ref}/extensions/ext", json={"color": "ultraviolet"}))
    return {s[0].key: _rest(f"orders.{reference}.items.{item['referenceId']}.ext.color", Outcome.VALUE_CHANGED)}


# ---------------------------------------------------------------- mutations of the pulled export files


def _edit_rows(w: World, edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    for path in sorted(w.export_folder.glob("*.gz")):
        rows = [orjson.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines() if line]
        rows = edit(rows)
        path.write_bytes(gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in rows)))


def _is(row: dict[str, Any], sent: Sent) -> bool:
    return any(i.get("id") == sent.ident for i in row.get("identifiers") or [])


def file_drop_row(w: World, s: list[Sent]) -> dict[str, Expect]:
    _edit_rows(w, lambda rows: [r for r in rows if not _is(r, s[0])])
    return {s[0].key: {("export", "*"): Outcome.RECORD_MISSING}}


def file_duplicate_row(w: World, s: list[Sent]) -> dict[str, Expect]:
    def edit(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        twin = next(r for r in rows if _is(r, s[0]))
        return [*rows, {**twin, "guestRef": "another-guest"}]

    _edit_rows(w, edit)
    return {s[0].key: {("export", "*"): Outcome.DUPLICATE}}


def _edit_row(w: World, sent: Sent, change: Callable[[dict[str, Any]], None]) -> None:
    def edit(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            if _is(row, sent):
                change(row)
        return rows

    _edit_rows(w, edit)


def file_change_cell(w: World, s: list[Sent]) -> dict[str, Expect]:
    _edit_row(w, s[0], lambda row: row.update(firstName="Edited"))
    return {s[0].key: {("export", "firstName"): Outcome.VALUE_CHANGED}}


def file_recase_cell(w: World, s: list[Sent]) -> dict[str, Expect]:
    _edit_row(w, s[0], lambda row: row.update(email=row["email"].upper()))
    return {s[0].key: {("export", "email"): Outcome.VALUE_CHANGED}}


def file_retype_cell(w: World, s: list[Sent]) -> dict[str, Expect]:
    _edit_row(w, s[0], lambda row: row.update({"ext.vipMember": str(row["ext.vipMember"]).lower()}))
    return {s[0].key: {("export", "ext.vipMember"): Outcome.TYPE_CHANGED}}


def file_add_key(w: World, s: list[Sent]) -> dict[str, Expect]:
    _edit_row(w, s[0], lambda row: row.update({"ext.injected": 7}))
    return {s[0].key: {("export", "ext.injected"): Outcome.EXTRA_FIELD}}


def file_drop_order(w: World, s: list[Sent]) -> dict[str, Expect]:
    reference = s[0].orders[0]["referenceId"]
    _edit_row(w, s[0], lambda row: row.update(orders=[o for o in row["orders"] if o["referenceId"] != reference]))
    return {s[0].key: {("export", f"orders.{reference}"): Outcome.FIELD_MISSING}}


def file_move_order(w: World, s: list[Sent]) -> dict[str, Expect]:
    reference = s[0].orders[0]["referenceId"]
    moved: list[dict[str, Any]] = []

    def edit(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            if _is(row, s[0]):
                moved.extend(o for o in row["orders"] if o["referenceId"] == reference)
                row["orders"] = [o for o in row["orders"] if o["referenceId"] != reference]
        for row in rows:
            if _is(row, s[1]):
                row["orders"] = [*row["orders"], *moved]
        return rows

    _edit_rows(w, edit)
    path = f"orders.{reference}"
    return {s[0].key: {("export", path): Outcome.RELINKED}, s[1].key: {("export", path): Outcome.RELINKED}}


def _has_orders(n: int) -> Callable[[Sent], bool]:
    return lambda sent: len(sent.orders) >= n


def _any(_: Sent) -> bool:
    return True


MUTATIONS = [
    Mutation("change guest attribute", "cdp", _any, change_attribute),
    Mutation("re-case guest attribute", "cdp", _any, recase_attribute),
    Mutation("pad guest attribute", "cdp", lambda g: "city" in g.guest, pad_attribute),
    Mutation("remove guest attribute", "cdp", lambda g: "postCode" in g.guest, remove_attribute),
    Mutation("add guest attribute", "cdp", lambda g: "title" not in g.guest, add_attribute),
    Mutation("change extension value", "cdp", _any, change_extension_value),
    Mutation("re-case extension value", "cdp", _any, recase_extension_value),
    Mutation("pad nested (prefix-flattened) value", "cdp", _any, pad_nested_value),
    Mutation("retype extension integer to text", "cdp", _any, retype_extension_value),
    Mutation("retype extension boolean to number", "cdp", _any, retype_boolean_to_number),
    Mutation("remove extension key", "cdp", _any, remove_extension_key),
    Mutation("add extension key", "cdp", _any, add_extension_key),
    Mutation("change a value inside a JSON field", "cdp", _any, change_inside_json),
    Mutation("add a key inside a JSON field", "cdp", _any, add_inside_json),
    Mutation("remove a whole extension group", "cdp", _any, remove_extension_group),
    Mutation("add an extension group", "cdp", _any, add_extension_group),
    Mutation("duplicate guest for one identity", "cdp", _any, duplicate_guest),
    Mutation("extra record of this run", "cdp", _any, extra_record, guests=0),
    Mutation("change order price", "cdp", _has_orders(1), change_order),
    Mutation("re-case order point of sale", "cdp", _has_orders(1), recase_order_point_of_sale),
    Mutation("delete order", "cdp", _has_orders(1), delete_order),
    Mutation("add order to guest", "cdp", _any, add_order),
    Mutation("re-link order to another guest", "cdp", _has_orders(1), relink_order, guests=2),
    Mutation("change order contact", "cdp", _has_orders(1), change_order_contact),
    Mutation("change order extension value", "cdp", _has_orders(1), change_order_extension),
    Mutation("add order extension key", "cdp", _has_orders(1), add_order_extension_key),
    Mutation("change order item", "cdp", _has_orders(1), change_item),
    Mutation("delete order item", "cdp", _has_orders(1), delete_item),
    Mutation("add order item", "cdp", _has_orders(1), add_item),
    Mutation("change order item extension value", "cdp", _has_orders(1), change_item_extension),
    Mutation("export file: drop a row", "file", _any, file_drop_row),
    Mutation("export file: duplicate a row", "file", _any, file_duplicate_row),
    Mutation("export file: change a cell", "file", _any, file_change_cell),
    Mutation("export file: re-case a cell", "file", _any, file_recase_cell),
    Mutation("export file: retype a cell", "file", _any, file_retype_cell),
    Mutation("export file: add a key", "file", _any, file_add_key),
    Mutation("export file: drop an order", "file", _has_orders(1), file_drop_order),
    Mutation("export file: move an order to another guest", "file", _has_orders(1), file_move_order, guests=2),
]


def _victims(world: World, mutation: Mutation) -> list[Sent]:
    """Guests no other mutation touches, the first that suit this one (the second of a pair: any guest)."""
    chosen: list[Sent] = []
    if mutation.guests == 0:
        return chosen
    for sent in world.sent:
        if sent.key in world.used or (not chosen and not mutation.wants(sent)):
            continue
        chosen.append(sent)
        world.used.add(sent.key)
        if len(chosen) == mutation.guests:
            break
    assert len(chosen) == mutation.guests, f"not enough guests for {mutation.name}"
    return chosen


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("mutations")
    server = SandboxServer(SandboxConfig(port=0, db_path=str(root / "sandbox.db"))).start()
    try:
        with (
            CdpConnection(ConnectionProfile.sandbox(server.base_url), SANDBOX_CREDENTIALS) as connection,
            httpx.Client(base_url=server.base_url, auth=AUTH, timeout=30) as http,
        ):
            admin = SandboxAdmin(server.base_url)
            target = Target(connection, "sandbox", "sandbox", admin=admin, nightly_snapshot=False)
            two = Distribution.parse("uniform:1-2")
            scenario, schema = bundled("retail_loyalty", guests=GUESTS, orders_per_guest=two, items_per_order=two)
            pipeline, clean = run(scenario, schema, target, root / "runs")
            sent = [
                Sent(line.key, line.guest, [o.value for o in line.orders])
                for line in read_generated(pipeline.folder.generated)
            ]
            world = World(http, server.base_url, sent, pipeline.folder.export, clean=clean)
            for mutation in (m for m in MUTATIONS if m.where == "cdp"):
                world.expected[mutation.name] = mutation.apply(world, _victims(world, mutation))
            # Pull back again: the read-back and the export see CDP's changes.
            state = pipeline.folder.load_state()
            for stage in ("readback", "export", "verify", "report"):
                state.stages.pop(stage, None)
            pipeline.folder.save_state(state)
            for path in pipeline.folder.export.glob("*.gz"):
                path.unlink()
            Pipeline(pipeline.scenario, schema, pipeline.folder, target).run()
            # Then change the pulled export files, and verify once more (every stage is done: verify only).
            for mutation in (m for m in MUTATIONS if m.where == "file"):
                world.expected[mutation.name] = mutation.apply(world, _victims(world, mutation))
            world.mutated = Pipeline(pipeline.scenario, schema, pipeline.folder, target).run()
            yield world
    finally:
        server.stop()


def _differences(report: RunReport, record: str) -> dict[tuple[str, str], Outcome]:
    return {(d.source, d.path): d.outcome for d in report.differences if d.record == record and not d.outcome.passes}


def test_the_run_before_any_mutation_is_clean(world: World) -> None:
    assert world.clean is not None
    assert world.clean.verdict == "passed"
    rest = next(s for s in world.clean.sources if s.source == "rest")
    assert {f.path: f.counts for f in rest.fields}["orders.*.contact.firstName"] == {"equal": sum(
        len(sent.orders) for sent in world.sent)}  # fmt: skip
    assert [d for d in world.clean.differences if d.outcome.fails] == []
    assert all(s.records_found == GUESTS for s in world.clean.sources if s.source in ("rest", "export"))


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_each_mutation_is_reported_with_its_classification(world: World, mutation: Mutation) -> None:
    assert world.mutated is not None
    for record, expect in world.expected[mutation.name].items():
        got = {k: v for k, v in _differences(world.mutated, record).items() if k[0] in ("rest", "export")}
        assert got == expect, (mutation.name, record)
        for difference in world.mutated.differences:
            if difference.record == record and difference.source in ("rest", "export"):
                assert difference.rule, difference  # every outcome names its rule


def test_no_guest_that_was_not_mutated_has_a_difference(world: World) -> None:
    assert world.mutated is not None
    touched = {record for expected in world.expected.values() for record in expected}
    others = [d for d in world.mutated.differences if d.record not in touched and d.source in ("rest", "export")]
    assert others == []
    assert len(MUTATIONS) >= 20
