"""Order storage shared by the Order REST routes and the batch worker: orders, items, contacts, consumers."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import orjson

from cdp_poc_studio.sandbox import guests
from cdp_poc_studio.sandbox.errors import invalid

ORDER_KEYS = (
    "referenceId", "channel", "pointOfSale", "status", "orderedAt", "currencyCode", "price", "paymentType",
    "cardType",
)  # fmt: skip
# Contact attributes copied onto a guest created from an order contact or consumer.
GUEST_FROM_PERSON = (
    "title", "firstName", "lastName", "gender", "dateOfBirth", "email", "emails", "phoneNumbers", "street", "city",
    "state", "country", "postCode", "nationality", "passportNumber", "passportExpiry", "identifiers",
)  # fmt: skip


@dataclass
class OrderRow:
    ref: str
    guest_ref: str | None
    created_at: str
    modified_at: str
    data: dict[str, Any]
    ext: dict[str, Any] | None


def load(conn: sqlite3.Connection, ref: str) -> OrderRow | None:
    r = conn.execute(
        "SELECT ref, guest_ref, created_at, modified_at, data, ext FROM orders WHERE ref = ?", (ref,)
    ).fetchone()
    if r is None:
        return None
    return OrderRow(r[0], r[1], r[2], r[3], orjson.loads(r[4]), orjson.loads(r[5]) if r[5] else None)


def insert(conn: sqlite3.Connection, ref: str, data: dict[str, Any], now: str, guest_ref: str | None = None) -> None:
    conn.execute(
        "INSERT INTO orders(ref, guest_ref, reference_id, ordered_at, price, status, created_at, modified_at, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (ref, guest_ref, data["referenceId"], data["orderedAt"], data.get("price"), data.get("status"), now, now,
         orjson.dumps(data)),
    )  # fmt: skip


def save(conn: sqlite3.Connection, order: OrderRow, now: str) -> None:
    order.modified_at = now
    conn.execute(
        "UPDATE orders SET guest_ref = ?, reference_id = ?, ordered_at = ?, price = ?, status = ?, modified_at = ?,"
        " data = ?, ext = ? WHERE ref = ?",
        (order.guest_ref, order.data["referenceId"], order.data["orderedAt"], order.data.get("price"),
         order.data.get("status"), now, orjson.dumps(order.data), orjson.dumps(order.ext) if order.ext else None,
         order.ref),
    )  # fmt: skip


def order_view(
    base: str, order: OrderRow, conn: sqlite3.Connection | None = None, *, expand: bool = False
) -> dict[str, Any]:
    href = f"{base}/v2.1/orders/{order.ref}"
    out: dict[str, Any] = {"href": href, "ref": order.ref}
    out.update({k: order.data[k] for k in ORDER_KEYS if k in order.data})
    out["createdAt"] = order.created_at
    out["modifiedAt"] = order.modified_at
    if order.guest_ref:
        out["guest"] = {"href": f"{base}/v2.1/guests/{order.guest_ref}"}
    if expand and conn is not None:
        contact = conn.execute(
            "SELECT ref, order_ref, guest_ref, created_at, modified_at, data FROM order_contacts WHERE order_ref = ?",
            (order.ref,),
        ).fetchone()
        out["contacts"] = _inline(f"{href}/contacts", [person_view(base, "orderContacts", contact)] if contact else [])
        consumers = conn.execute(
            "SELECT ref, order_ref, guest_ref, created_at, modified_at, data, item_refs FROM order_consumers"
            " WHERE order_ref = ? ORDER BY created_at, ref",
            (order.ref,),
        ).fetchall()
        out["consumers"] = _inline(f"{href}/consumers", [person_view(base, "orderConsumers", c) for c in consumers])
        items = conn.execute(
            "SELECT ref, order_ref, created_at, modified_at, data, ext FROM order_items WHERE order_ref = ?"
            " ORDER BY created_at, ref",
            (order.ref,),
        ).fetchall()
        out["orderItems"] = _inline(f"{href}/orderItems", [item_view(base, i) for i in items])
        out["extensions"] = _inline(
            f"{href}/extensions", [extension_view(base, "orders", order.ref, order.ext)] if order.ext else []
        )
    else:
        out["contacts"] = {"href": f"{href}/contacts"}
        out["consumers"] = {"href": f"{href}/consumers"}
        out["orderItems"] = {"href": f"{href}/orderItems"}
        out["extensions"] = {"href": f"{href}/extensions"}
    return out


def _inline(href: str, items: list[Any]) -> dict[str, Any]:
    return {"href": href, "offset": 0, "limit": max(10, len(items)), "items": items}


ITEM_KEYS = (
    "type", "productId", "name", "description", "vendor", "orderedAt", "quantity", "price", "currencyCode",
    "originalPrice", "originalCurrencyCode", "referenceId", "status", "language", "channel", "pointOfSale",
)  # fmt: skip


def item_view(base: str, row: tuple[Any, ...]) -> dict[str, Any]:
    ref, order_ref, created, modified, data_json, _ext_json = row
    data = orjson.loads(data_json)
    out: dict[str, Any] = {"href": f"{base}/v2.1/orderItems/{ref}", "ref": ref}
    out.update({k: data[k] for k in ITEM_KEYS if k in data})
    out["createdAt"] = created
    out["modifiedAt"] = modified
    out["order"] = {"href": f"{base}/v2.1/orders/{order_ref}"}
    out["extensions"] = {"href": f"{base}/v2.1/orderItems/{ref}/extensions"}
    return out


def person_view(base: str, kind: str, row: tuple[Any, ...]) -> dict[str, Any]:
    ref, order_ref, guest_ref, created, modified, data_json = row[:6]
    data = orjson.loads(data_json)
    out: dict[str, Any] = {"href": f"{base}/v2.1/{kind}/{ref}", "ref": ref, **data}
    out["createdAt"] = created
    out["modifiedAt"] = modified
    out["guest"] = {"href": f"{base}/v2.1/guests/{guest_ref}"}
    out["order"] = {"href": f"{base}/v2.1/orders/{order_ref}"}
    if len(row) > 6:
        out["orderItems"] = {"items": [{"href": f"{base}/v2.1/orderItems/{r}"} for r in orjson.loads(row[6])]}
    return out


def extension_view(base: str, kind: str, owner_ref: str, ext: dict[str, Any]) -> dict[str, Any]:
    owner_key = "order" if kind == "orders" else "orderItem"
    return {
        "href": f"{base}/v2.1/{kind}/{owner_ref}/extensions/ext",
        "ref": ext["ref"],
        "name": "ext",
        "key": "default",
        "createdAt": ext["createdAt"],
        "modifiedAt": ext["modifiedAt"],
        owner_key: {"href": f"{base}/v2.1/{kind}/{owner_ref}"},
        **ext["values"],
    }


def insert_item(
    conn: sqlite3.Connection, ref: str, order_ref: str, data: dict[str, Any], now: str, ext: dict[str, Any] | None
) -> None:
    conn.execute(
        "INSERT INTO order_items(ref, order_ref, created_at, modified_at, data, ext) VALUES (?, ?, ?, ?, ?, ?)",
        (ref, order_ref, now, now, orjson.dumps(data), orjson.dumps(ext) if ext else None),
    )


def delete_children(conn: sqlite3.Connection, order_ref: str) -> None:
    conn.execute("DELETE FROM order_items WHERE order_ref = ?", (order_ref,))
    conn.execute("DELETE FROM order_contacts WHERE order_ref = ?", (order_ref,))
    conn.execute("DELETE FROM order_consumers WHERE order_ref = ?", (order_ref,))


def guest_ref_from_href(href: str) -> str:
    return href.rstrip("/").rsplit("/", 1)[-1]


def resolve_person(
    conn: sqlite3.Connection,
    person: dict[str, Any],
    now: str,
    new_ref: str,
    *,
    guest_type: str = "customer",
    allow_name_only: bool = False,
) -> str:
    """The guest an order contact or consumer stands for: an explicit guest.href, else identity resolution by
    identifiers then email, else a new guest built from the person's attributes (facts §5.4, §5.5)."""
    if "guest" in person:
        ref = guest_ref_from_href(person["guest"]["href"])
        if guests.load(conn, ref) is None:
            raise invalid("guest.href", f"guest {ref} does not exist")
        return ref
    identifiers = person.get("identifiers") or []
    emails = guests.all_emails(person)
    refs = guests.resolve(conn, identifiers, emails)
    if refs:
        guest = guests.load(conn, refs[0])
        assert guest is not None
        merged = guests.merge_identifiers(guest.data.get("identifiers") or [], identifiers)
        if merged != (guest.data.get("identifiers") or []):
            # Identity stitching: identifiers the contact brought are added to the resolved guest.
            guest.data["identifiers"] = merged
            guests.save(conn, guest, now)
        return guest.ref
    if not identifiers and not emails and not allow_name_only:
        raise invalid("identifiers", "identity information missing: send identifiers or an email")
    data = {"guestType": guest_type, **{k: person[k] for k in GUEST_FROM_PERSON if k in person}}
    guests.insert(conn, new_ref, data, now)
    return new_ref
