"""Guest storage and rules shared by the REST routes, order contacts and the batch worker."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from cdp_poc_studio.sandbox.errors import CdpError, conflict, invalid
from cdp_poc_studio.sandbox.validation import GUEST_EXTENSION_NAMES

# Order in which attributes appear in a guest response (CDP's field order in its examples).
GUEST_ORDER = (
    "guestType", "title", "firstName", "lastName", "gender", "dateOfBirth", "email", "emails", "phoneNumbers",
    "nationality", "passportNumber", "passportExpiry", "street", "city", "state", "country", "postCode",
    "zipCode", "language", "identifiers", "subscriptions", "identityStatus",
)  # fmt: skip


@dataclass
class GuestRow:
    ref: str
    created_at: str
    modified_at: str
    data: dict[str, Any]
    exts: dict[str, dict[str, Any]] = field(default_factory=dict)


def primary_email(data: dict[str, Any]) -> str | None:
    email = data.get("email")
    if isinstance(email, str):
        return email
    emails = data.get("emails")
    if emails:
        return str(emails[0])
    return None


def all_emails(data: dict[str, Any]) -> list[str]:
    found = [data["email"]] if isinstance(data.get("email"), str) else []
    found += [e for e in data.get("emails") or [] if e not in found]
    return found


def _row(r: tuple[Any, ...]) -> GuestRow:
    return GuestRow(r[0], r[1], r[2], orjson.loads(r[3]), orjson.loads(r[4]) if r[4] else {})


def load(conn: sqlite3.Connection, ref: str) -> GuestRow | None:
    r = conn.execute("SELECT ref, created_at, modified_at, data, exts FROM guests WHERE ref = ?", (ref,)).fetchone()
    return None if r is None else _row(r)


def insert(
    conn: sqlite3.Connection, ref: str, data: dict[str, Any], now: str, exts: dict[str, Any] | None = None
) -> None:
    data.setdefault("firstSeen", now)
    data.setdefault("lastSeen", now)
    conn.execute(
        "INSERT INTO guests(ref, email, created_at, modified_at, data, exts) VALUES (?, ?, ?, ?, ?, ?)",
        (ref, primary_email(data), now, now, orjson.dumps(data), orjson.dumps(exts) if exts else None),
    )
    _index_identifiers(conn, ref, data.get("identifiers") or [])


def save(conn: sqlite3.Connection, guest: GuestRow, now: str, *, identifiers_changed: bool = True) -> None:
    guest.modified_at = now
    conn.execute(
        "UPDATE guests SET email = ?, modified_at = ?, data = ?, exts = ? WHERE ref = ?",
        (
            primary_email(guest.data),
            now,
            orjson.dumps(guest.data),
            orjson.dumps(guest.exts) if guest.exts else None,
            guest.ref,
        ),
    )
    if identifiers_changed:
        conn.execute("DELETE FROM guest_identifiers WHERE guest_ref = ?", (guest.ref,))
        _index_identifiers(conn, guest.ref, guest.data.get("identifiers") or [])


def _index_identifiers(conn: sqlite3.Connection, ref: str, identifiers: Iterable[dict[str, Any]]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO guest_identifiers(provider, id, guest_ref) VALUES (?, ?, ?)",
        [(i["provider"], i["id"], ref) for i in identifiers],
    )


def delete(conn: sqlite3.Connection, ref: str, *, with_orders: bool) -> bool:
    """Delete a guest; with_orders also removes the orders it placed (REST DELETE and batch gdpr_delete)."""
    found = conn.execute("DELETE FROM guests WHERE ref = ?", (ref,)).rowcount > 0
    conn.execute("DELETE FROM guest_identifiers WHERE guest_ref = ?", (ref,))
    if with_orders:
        order_refs = [r[0] for r in conn.execute("SELECT ref FROM orders WHERE guest_ref = ?", (ref,))]
        delete_orders(conn, order_refs)
    return found


def delete_orders(conn: sqlite3.Connection, order_refs: list[str]) -> None:
    for order_ref in order_refs:
        conn.execute("DELETE FROM orders WHERE ref = ?", (order_ref,))
        conn.execute("DELETE FROM order_items WHERE order_ref = ?", (order_ref,))
        conn.execute("DELETE FROM order_contacts WHERE order_ref = ?", (order_ref,))
        conn.execute("DELETE FROM order_consumers WHERE order_ref = ?", (order_ref,))


def find_by_identifiers(conn: sqlite3.Connection, identifiers: list[dict[str, Any]]) -> list[str]:
    refs: list[str] = []
    for ident in identifiers:
        for (ref,) in conn.execute(
            "SELECT guest_ref FROM guest_identifiers WHERE provider = ? AND id = ? ORDER BY guest_ref",
            (ident["provider"], ident["id"]),
        ):
            if ref not in refs:
                refs.append(ref)
    return refs


def find_by_email(conn: sqlite3.Connection, email: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT ref FROM guests WHERE email = ? ORDER BY created_at, ref", (email,))]


def resolve(conn: sqlite3.Connection, identifiers: list[dict[str, Any]], emails: list[str]) -> list[str]:
    """Identity resolution as the reference describes it: identifiers first, then email (facts §5.4, §6.7)."""
    refs = find_by_identifiers(conn, identifiers) if identifiers else []
    if refs:
        return refs
    for email in emails:
        refs = find_by_email(conn, email)
        if refs:
            return refs
    return []


def merge_identifiers(existing: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [dict(i) for i in existing]
    for ident in new:
        for old in out:
            if old["provider"] == ident["provider"] and old["id"] == ident["id"]:
                old.update(ident)
                break
        else:
            out.append(dict(ident))
    return out


# -- data extensions ----------------------------------------------------------------------------------------


def check_extension_name(name: Any) -> str:
    if name not in GUEST_EXTENSION_NAMES:
        raise CdpError(
            400,
            "name: value must be one of ext,ext1,ext2,ext3,ext4,ext5",
            "Attribute name is invalid (value must be one of ext,ext1,ext2,ext3,ext4,ext5).",
        )
    return str(name)


def check_unique_keys(exts: dict[str, dict[str, Any]], name: str, values: dict[str, Any]) -> None:
    """Keys must be unique across all data extensions of a guest (facts §4.1)."""
    for other, ext in exts.items():
        if other == name:
            continue
        clash = next((k for k in values if k in ext["values"]), None)
        if clash is not None:
            raise invalid(clash, f"key already exists in data extension {other}")


def create_extension(guest: GuestRow, name: str, values: dict[str, Any], ref: str, now: str) -> dict[str, Any]:
    if name in guest.exts:
        raise conflict(f"Data extension {name} already exists.")
    check_unique_keys(guest.exts, name, values)
    guest.exts[name] = {"ref": ref, "createdAt": now, "modifiedAt": now, "values": values}
    return guest.exts[name]


def extension_view(base: str, guest_ref: str, name: str, ext: dict[str, Any]) -> dict[str, Any]:
    return {
        "href": f"{base}/v2.1/guests/{guest_ref}/extensions/{name}",
        "ref": ext["ref"],
        "name": name,
        "key": "default",
        "createdAt": ext["createdAt"],
        "modifiedAt": ext["modifiedAt"],
        "guest": {"href": f"{base}/v2.1/guests/{guest_ref}"},
        **ext["values"],
    }


def guest_view(base: str, guest: GuestRow, *, full: bool = False, expand: bool = False) -> dict[str, Any]:
    """The guest as CDP returns it. `full` adds the dataExtensions collection (GET), `expand` inlines it."""
    href = f"{base}/v2.1/guests/{guest.ref}"
    data = guest.data
    out: dict[str, Any] = {"href": href, "ref": guest.ref}
    for key in GUEST_ORDER:
        if key in data:
            out[key] = data[key]
    out["createdAt"] = guest.created_at
    out["modifiedAt"] = guest.modified_at
    out["firstSeen"] = data.get("firstSeen", guest.created_at)
    out["lastSeen"] = data.get("lastSeen", guest.created_at)
    if full:
        names = [n for n in GUEST_EXTENSION_NAMES if n in guest.exts]
        items = [
            extension_view(base, guest.ref, n, guest.exts[n]) if expand else {"href": f"{href}/extensions/{n}"}
            for n in names
        ]
        out["dataExtensions"] = {
            "href": f"{href}/extensions?offset=0&limit=10",
            "offset": 0,
            "limit": 10,
            "items": items,
        }
    return out
