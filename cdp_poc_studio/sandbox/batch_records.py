"""Per-record processing of a batch file, by schema and mode (facts §6.6-§6.8), in chunks of one transaction.

Guests take a bulk path (identities of a whole chunk looked up in three queries, rows written with executemany)
because batch ingestion must reach tens of thousands of records per second; orders and deletes take a simple
per-record path after the pending guest writes are flushed.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from cdp_poc_studio.sandbox import guests, orders
from cdp_poc_studio.sandbox.batch_file import TOO_LONG, too_long_ref
from cdp_poc_studio.sandbox.clock import parse_iso
from cdp_poc_studio.sandbox.errors import CdpError
from cdp_poc_studio.sandbox.validation import (
    BATCH_GUEST_FIELDS,
    CONSUMER_FIELDS,
    CONTACT_FIELDS,
    GUEST_EXTENSION_NAMES,
    MAX_BATCH_ORDER_EXTENSION_KEYS,
    MAX_EXTENSION_KEYS,
    ORDER_FIELDS,
    ORDER_ITEM_FIELDS,
    ORDER_ITEM_REQUIRED,
    validate,
    validate_extension_values,
)

# Documented error-log codes and messages (facts §6.5). 409 and 500 codes are inferred there.
VALIDATION = (400, "Validation error")
IDENTITY_MISSING = (400, "Identity information missing")
UNSUPPORTED_MODE = (402, "Unsupported mode")
GUEST_NOT_FOUND = (404, "Guest not found")
ALREADY_EXISTS = (409, "Guest already exists")
NOT_ENOUGH_INFO = (400, "Not Enough Identifying Info")

GUEST_MODES = ("upsert", "merge", "create", "delete", "gdpr_delete")
ORDER_MODES = ("insert", "upsert", "delete")
BATCH_ORDER_REQUIRED = (
    "referenceId", "channel", "pointOfSale", "status", "orderedAt", "currencyCode", "price", "paymentType",
)  # fmt: skip
ORDER_UPSERT_REQUIRED = ("referenceId", "channel", "pointOfSale", "orderedAt")
SAME_ORDER_WINDOW = timedelta(hours=24)  # facts §6.8: delete matches referenceId + orderedAt within 24 h
EMPTY: frozenset[str] = frozenset()
EXTENSIONS_ONLY = frozenset({"extensions"})


class RecordError(Exception):
    def __init__(self, code_message: tuple[int, str], detail: str | None = None) -> None:
        code, message = code_message
        super().__init__(message)
        self.code = code
        self.message = f"{message}: {detail}" if detail else message


@dataclass(slots=True)
class PendingGuest:
    ref: str
    created_at: str
    data: dict[str, Any]
    exts: dict[str, Any]
    new: bool
    identifiers: list[tuple[str, str]] = field(default_factory=list)


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def new_refs(count: int) -> list[str]:
    """`count` random (version 4) UUIDs in lowercase, from one read of os.urandom (about 4x str(uuid.uuid4()))."""
    h = os.urandom(16 * count).hex()
    variant = _VARIANT
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-4{h[i + 13 : i + 16]}-{variant[h[i + 16]]}{h[i + 17 : i + 20]}-"
        f"{h[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


def _new_ref() -> str:
    return new_refs(1)[0]


# A guest upsert prepared as a new guest: (guest ref, identifier keys, emails, guests row, guest_identifiers rows),
# the rows ready for executemany: (ref, email, created_at, modified_at, data JSON, exts JSON), (provider, id, ref).
GuestRow = tuple[str, str | None, str, str, bytes, bytes | None]
Prepared = tuple[str, tuple[tuple[str, str], ...], tuple[str, ...], GuestRow, tuple[tuple[str, str, str], ...]]
GUEST_UPSERT_MODES = frozenset({"upsert", "merge", "create"})


def check_guest(
    value: dict[str, Any], now: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Validate a guest upsert value: (attributes, extension groups, identifiers, emails), or raise."""
    extensions = value.get("extensions")
    attrs = validate(value, BATCH_GUEST_FIELDS, read_only=EXTENSIONS_ONLY)
    if attrs.get("guestType", "customer") != "customer":
        raise RecordError(VALIDATION, "guestType: only customer guests can be uploaded")
    if "dateOfBirth" in attrs and attrs["dateOfBirth"] >= now:
        raise RecordError(VALIDATION, "dateOfBirth: must be in the past")
    groups = _batch_extensions(extensions) if extensions is not None else {}
    identifiers = attrs.get("identifiers") or []
    emails = guests.all_emails(attrs)
    if not identifiers and not emails:
        raise RecordError(IDENTITY_MISSING)
    return attrs, groups, identifiers, emails


def new_guest_docs(
    attrs: dict[str, Any], groups: dict[str, dict[str, Any]], now: str, new_ref: Callable[[], str]
) -> dict[str, Any]:
    """Complete the attributes of a new guest (in place) and build its extensions."""
    attrs.setdefault("guestType", "customer")
    attrs.setdefault("firstSeen", now)
    attrs.setdefault("lastSeen", now)
    exts = {}
    for name, values in groups.items():
        exts[name] = {"ref": new_ref(), "createdAt": now, "modifiedAt": now, "values": values}
    _check_unique(exts)
    return exts


def prepare_chunk(lines: list[bytes], now: str) -> list[Prepared | None]:
    """Parse and validate guest upserts and build their rows as new guests; None for every other record.

    Pure (no database), so it can run in a helper process while the previous chunk is being written. A record
    that fails here in any way is simply not prepared: the per-record path then reports its error.
    """
    out: list[Prepared | None] = []
    append = out.append
    refs = new_refs(2 * len(lines) + 1)
    next_ref = refs.pop
    dumps = orjson.dumps
    for line in lines:
        try:
            rec = orjson.loads(line)
            if (
                type(rec) is not dict
                or rec.get("schema") != "guest"
                or rec.get("mode") not in GUEST_UPSERT_MODES
                or type(rec.get("ref")) is not str
                or type(value := rec.get("value")) is not dict
            ):
                append(None)
                continue
            attrs, groups, identifiers, emails = check_guest(value, now)
            guest_ref = next_ref()
            exts = new_guest_docs(attrs, groups, now, next_ref)
            keys = tuple([(i["provider"], i["id"]) for i in identifiers])
            row = (guest_ref, guests.primary_email(attrs), now, now, dumps(attrs), dumps(exts) if exts else None)
            append((guest_ref, keys, tuple(emails), row, tuple([(p, i, guest_ref) for p, i in keys])))
        except Exception:  # any failure is reported by the per-record path
            append(None)
    return out


def _parse(line: bytes) -> tuple[Any, RecordError | None]:
    if line.startswith(TOO_LONG):
        # The record's ref, if its first bytes name it, stands in for the record (see batch_file.iter_lines).
        return {"ref": too_long_ref(line)}, RecordError(
            VALIDATION, "the record is too long (over the maximum line length); split or shorten it"
        )
    try:
        return orjson.loads(line), None
    except orjson.JSONDecodeError as exc:
        return None, RecordError(VALIDATION, f"invalid JSON ({exc.msg})")


class ChunkApplier:
    """Applies one chunk of records inside one transaction. Failures are collected as (ref, code, message)."""

    def __init__(self, conn: sqlite3.Connection, now: str) -> None:
        self.conn = conn
        self.now = now
        self.failures: list[tuple[str | None, int, str]] = []
        self.succeeded = 0
        self.pending: dict[str, PendingGuest] = {}
        self.ident_map: dict[tuple[str, str], str] = {}
        self.email_map: dict[str, str] = {}
        self.prefetched = False
        self.fast: dict[str, Prepared] = {}  # new guests of this chunk, as prepare_chunk built them
        self._refs: list[str] = []

    def _ref(self) -> str:
        refs = self._refs
        if not refs:
            refs.extend(new_refs(256))
        return refs.pop()

    # -- entry point ---------------------------------------------------------------------------------------

    def apply(self, lines: list[bytes], prepared: list[Prepared | None] | None = None) -> None:
        """Apply the records of one chunk. `prepared` is prepare_chunk(lines, self.now), possibly computed elsewhere.

        A prepared record (a valid guest upsert, as a new guest) whose identifiers and emails match no guest, in the
        database or earlier in the batch, is inserted as prepared; every other record, including a prepared one
        that turns out to match a guest, goes through the per-record path below, which is the reference semantics.
        """
        if prepared is None:
            prepared = prepare_chunk(lines, self.now)
        slow: dict[int, tuple[Any, RecordError | None]] = {}
        for index, prep in enumerate(prepared):
            if prep is None:
                slow[index] = _parse(lines[index])
        self._prefetch(prepared, slow.values())
        fast = self.fast
        ident_map, email_map = self.ident_map, self.email_map
        for index, prep in enumerate(prepared):
            if prep is not None:
                if self.prefetched:
                    guest_ref, keys, emails = prep[0], prep[1], prep[2]
                    for key in keys:
                        if key in ident_map:
                            break
                    else:
                        for email in emails:
                            if email in email_map:
                                break
                        else:  # a new guest: as prepared
                            for key in keys:
                                ident_map[key] = guest_ref
                            for email in emails:
                                email_map[email] = guest_ref
                            fast[guest_ref] = prep
                            self.succeeded += 1
                            continue
                rec, early_error = _parse(lines[index])
            else:
                rec, early_error = slow[index]
            ref = rec.get("ref") if isinstance(rec, dict) else None
            ref = ref if isinstance(ref, str) else None
            try:
                if early_error is not None:
                    raise early_error
                self._apply_record(rec)
                self.succeeded += 1
            except RecordError as exc:
                self.failures.append((ref, exc.code, exc.message))
            except CdpError as exc:
                self.failures.append((ref, 400, f"Validation error: {exc.message}"))
        self.flush()

    def _apply_record(self, rec: Any) -> None:
        if not isinstance(rec, dict):
            raise RecordError(VALIDATION, "a record must be a JSON object")
        schema, mode, value = rec.get("schema"), rec.get("mode"), rec.get("value")
        if not isinstance(rec.get("ref"), str):
            raise RecordError(VALIDATION, "ref may not be null")
        if schema == "migration":
            self._migration(mode, value)
            return
        if not isinstance(value, dict):
            raise RecordError(VALIDATION, "value must be an object")
        if schema == "guest":
            if mode in ("upsert", "merge", "create"):
                self._guest_upsert(value, create_only=mode == "create")
            elif mode in ("delete", "gdpr_delete"):
                self._guest_delete(value, gdpr=mode == "gdpr_delete")
            else:  # insert included: not supported for guests (facts §6.7)
                raise RecordError(UNSUPPORTED_MODE, f"mode {mode} is not supported for schema guest")
        elif schema == "order":
            self.flush()
            if mode == "insert":
                self._order_write(value, insert=True)
            elif mode == "upsert":
                self._order_write(value, insert=False)
            elif mode == "delete":
                self._order_delete(value)
            else:
                raise RecordError(UNSUPPORTED_MODE, f"mode {mode} is not supported for schema order")
        else:
            raise RecordError(UNSUPPORTED_MODE, f"schema {schema} is not supported")

    # -- guest bulk path -----------------------------------------------------------------------------------

    def _prefetch(self, prepared: list[Prepared | None], records: Iterable[tuple[Any, Any]]) -> None:
        keys: set[tuple[str, str]] = set()
        emails: set[str] = set()
        for prep in prepared:
            if prep is not None:
                keys.update(prep[1])
                emails.update(prep[2])
        for rec, _ in records:
            if not isinstance(rec, dict) or rec.get("schema") != "guest":
                continue
            value = rec.get("value")
            if not isinstance(value, dict):
                continue
            for ident in value.get("identifiers") or ():
                if (
                    isinstance(ident, dict)
                    and isinstance(ident.get("provider"), str)
                    and isinstance(ident.get("id"), str)
                ):
                    keys.add((ident["provider"], ident["id"]))
            for email in guests.all_emails(value) if _emails_ok(value) else ():
                emails.add(email)
        # One query per provider and one for the emails, each driven by the chunk's keys (json_each on the left
        # of a CROSS JOIN, so that SQLite probes the indexes instead of scanning the tables).
        conn = self.conn
        by_provider: dict[str, list[str]] = {}
        for provider, ident in keys:
            by_provider.setdefault(provider, []).append(ident)
        found: list[tuple[str, str, str]] = []
        for provider, ids in by_provider.items():
            found.extend(
                conn.execute(
                    "SELECT g.provider, g.id, g.guest_ref FROM json_each(?) j CROSS JOIN guest_identifiers g"
                    " ON g.provider = ? AND g.id = j.value",
                    (orjson.dumps(ids).decode(), provider),
                )
            )
        found.sort(key=lambda row: row[2])  # the first guest_ref wins, as find_by_identifiers orders them
        for provider, ident, ref in found:
            self.ident_map.setdefault((provider, ident), ref)
        if emails:
            for email, ref in conn.execute(
                "SELECT g.email, g.ref FROM json_each(?) j CROSS JOIN guests g ON g.email = j.value"
                " ORDER BY g.created_at, g.ref",
                (orjson.dumps(list(emails)).decode(),),
            ):
                self.email_map.setdefault(email, ref)
        self.prefetched = True

    def _lookup(self, identifiers: list[dict[str, Any]], emails: list[str]) -> str | None:
        for ident in identifiers:
            ref = self.ident_map.get((ident["provider"], ident["id"]))
            if ref is not None:
                return ref
        if not self.prefetched:
            found = guests.find_by_identifiers(self.conn, identifiers) if identifiers else []
            if found:
                return found[0]
        for email in emails:
            ref = self.email_map.get(email)
            if ref is not None:
                return ref
        if not self.prefetched:
            for email in emails:
                found = guests.find_by_email(self.conn, email)
                if found:
                    return found[0]
        return None

    def _state(self, ref: str) -> PendingGuest:
        state = self.pending.get(ref)
        if state is None and ref in self.fast:  # a guest created earlier in this chunk as prepared
            _, keys, _, (_, _, created_at, _, data_json, exts_json), _ = self.fast.pop(ref)
            state = PendingGuest(
                ref, created_at, orjson.loads(data_json), orjson.loads(exts_json) if exts_json else {}, True, list(keys)
            )
            self.pending[ref] = state
        if state is None:
            row = guests.load(self.conn, ref)
            assert row is not None
            state = PendingGuest(ref, row.created_at, row.data, row.exts, new=False)
            self.pending[ref] = state
        return state

    def _guest_upsert(self, value: dict[str, Any], *, create_only: bool) -> None:
        attrs, groups, identifiers, emails = check_guest(value, self.now)
        ref = self._lookup(identifiers, emails)
        if ref is not None and create_only:
            raise RecordError(ALREADY_EXISTS)
        if ref is None:
            ref = self._ref()
            exts = new_guest_docs(attrs, groups, self.now, self._ref)
            state = PendingGuest(ref, self.now, attrs, exts, new=True)
            self.pending[ref] = state
        else:
            state = self._state(ref)
            if groups:
                exts = dict(state.exts)
                for name, values in groups.items():  # a group in the record replaces that whole group
                    old = exts.get(name)
                    exts[name] = {
                        "ref": old["ref"] if old else self._ref(),
                        "createdAt": old["createdAt"] if old else self.now,
                        "modifiedAt": self.now,
                        "values": values,
                    }
                _check_unique(exts)
                state.exts = exts
            if "identifiers" in attrs:
                attrs["identifiers"] = guests.merge_identifiers(state.data.get("identifiers") or [], identifiers)
            state.data.update(attrs)  # upsert: only the attributes given change
        for ident in identifiers:
            key = (ident["provider"], ident["id"])
            self.ident_map.setdefault(key, ref)
            state.identifiers.append(key)
        for email in emails:
            self.email_map.setdefault(email, ref)

    def flush(self) -> None:
        if not self.pending and not self.fast:
            return
        now = self.now
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        idents: list[tuple[str, str, str]] = []
        for prep in self.fast.values():
            inserts.append(prep[3])
            idents.extend(prep[4])
        for state in self.pending.values():
            data_json = orjson.dumps(state.data)
            exts_json = orjson.dumps(state.exts) if state.exts else None
            email = guests.primary_email(state.data)
            if state.new:
                inserts.append((state.ref, email, state.created_at, now, data_json, exts_json))
            else:
                updates.append((email, now, data_json, exts_json, state.ref))
            idents.extend((p, i, state.ref) for p, i in state.identifiers)
        conn = self.conn
        if inserts:
            conn.executemany(
                "INSERT INTO guests(ref, email, created_at, modified_at, data, exts) VALUES (?, ?, ?, ?, ?, ?)", inserts
            )
        if updates:
            conn.executemany("UPDATE guests SET email = ?, modified_at = ?, data = ?, exts = ? WHERE ref = ?", updates)
        if idents:
            conn.executemany(
                "INSERT OR IGNORE INTO guest_identifiers(provider, id, guest_ref) VALUES (?, ?, ?)", idents
            )
        self.pending.clear()
        self.fast.clear()

    def _reset_caches(self) -> None:
        self.flush()
        self.ident_map.clear()
        self.email_map.clear()
        self.prefetched = False

    def _guest_delete(self, value: dict[str, Any], *, gdpr: bool) -> None:
        self._reset_caches()
        attrs = validate(value, BATCH_GUEST_FIELDS)
        identifiers = attrs.get("identifiers") or []
        emails = guests.all_emails(attrs)
        if not identifiers and not emails:
            raise RecordError(NOT_ENOUGH_INFO)
        refs = guests.resolve(self.conn, identifiers, emails)
        if not refs:
            raise RecordError(GUEST_NOT_FOUND)
        # "n matches found for this guest, 1st match deleted" (facts §6.5): only the first match goes.
        # delete keeps orders; gdpr_delete removes them too (facts §6.7).
        guests.delete(self.conn, refs[0], with_orders=gdpr)

    def _migration(self, mode: Any, value: Any) -> None:
        if mode != "guest":
            raise RecordError(UNSUPPORTED_MODE, f"mode {mode} is not supported for schema migration")
        self._reset_caches()
        if not isinstance(value, dict):
            raise RecordError(VALIDATION, "value must be an object")
        source = validate(
            _obj(value.get("migrateFrom"), "migrateFrom"), {"identifiers": BATCH_GUEST_FIELDS["identifiers"]}
        )
        target = validate(_obj(value.get("migrateTo"), "migrateTo"), {"identifiers": BATCH_GUEST_FIELDS["identifiers"]})
        if not source.get("identifiers") or not target.get("identifiers"):
            raise RecordError(IDENTITY_MISSING)
        refs = guests.find_by_identifiers(self.conn, source["identifiers"])
        if not refs:
            raise RecordError(GUEST_NOT_FOUND)
        guest = guests.load(self.conn, refs[0])
        assert guest is not None
        old = {(i["provider"], i["id"]) for i in source["identifiers"]}
        kept = [i for i in guest.data.get("identifiers") or [] if (i["provider"], i["id"]) not in old]
        guest.data["identifiers"] = guests.merge_identifiers(kept, target["identifiers"])
        guests.save(self.conn, guest, self.now)

    # -- orders (per record) -------------------------------------------------------------------------------

    def _find_orders(self, reference_id: str, ordered_at: str | None) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT ref, ordered_at FROM orders WHERE reference_id = ? ORDER BY created_at, ref", (reference_id,)
        ).fetchall()
        if ordered_at is None:
            return rows
        when = parse_iso(ordered_at)
        return [r for r in rows if abs(parse_iso(r[1]) - when) <= SAME_ORDER_WINDOW]

    def _order_write(self, value: dict[str, Any], *, insert: bool) -> None:
        self._reset_caches()
        value = dict(value)
        contact = value.pop("contact", None)
        items = value.pop("orderItems", None)
        consumers = value.pop("consumers", None)
        extensions = value.pop("extensions", None)
        required = BATCH_ORDER_REQUIRED if insert else ORDER_UPSERT_REQUIRED
        attrs = validate(value, ORDER_FIELDS, required=required)
        if insert and attrs.get("paymentType") == "Card" and "cardType" not in attrs:
            raise RecordError(VALIDATION, "cardType: may not be null when paymentType is Card")
        if not insert and items is not None:
            raise RecordError(UNSUPPORTED_MODE, "order items can only be sent with mode insert")
        if contact is None:
            raise RecordError(VALIDATION, "contact: may not be null")
        contact_attrs = validate(_obj(contact, "contact"), CONTACT_FIELDS, prefix="contact.")
        if insert and items is None:
            raise RecordError(VALIDATION, "orderItems: may not be null")
        item_rows = []
        for index, item in enumerate(items or []):
            item = dict(_obj(item, f"orderItems[{index}]"))
            item_ext = item.pop("extensions", None)
            item_attrs = validate(item, ORDER_ITEM_FIELDS, required=ORDER_ITEM_REQUIRED, prefix=f"orderItems[{index}].")
            item_rows.append((item_attrs, _single_ext(item_ext, self.now)))
        consumer_attrs = [
            validate(_obj(c, f"consumers[{i}]"), CONSUMER_FIELDS, prefix=f"consumers[{i}].")
            for i, c in enumerate(consumers or [])
        ]
        order_ext = _single_ext(extensions, self.now)
        if not (contact_attrs.get("identifiers") or guests.all_emails(contact_attrs) or "guest" in contact_attrs):
            raise RecordError(IDENTITY_MISSING)
        guest_ref = orders.resolve_person(self.conn, contact_attrs, self.now, _new_ref())
        matches = self._find_orders(attrs["referenceId"], attrs["orderedAt"])
        conn = self.conn
        if matches:
            order = orders.load(conn, matches[0][0])
            assert order is not None
            if insert:  # insert overwrites the whole order
                orders.delete_children(conn, order.ref)
                order.data = attrs
                order.ext = order_ext
            else:
                order.data.update(attrs)
                if extensions is not None:
                    order.ext = order_ext
            order.guest_ref = guest_ref
            orders.save(conn, order, self.now)
            order_ref = order.ref
        else:
            order_ref = _new_ref()
            orders.insert(conn, order_ref, attrs, self.now, guest_ref)
            if order_ext:
                conn.execute("UPDATE orders SET ext = ? WHERE ref = ?", (orjson.dumps(order_ext), order_ref))
        conn.execute(
            "INSERT OR REPLACE INTO order_contacts(ref, order_ref, guest_ref, created_at, modified_at, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (_new_ref(), order_ref, guest_ref, self.now, self.now, orjson.dumps(contact_attrs)),
        )
        for item_attrs, item_ext in item_rows:
            orders.insert_item(conn, _new_ref(), order_ref, item_attrs, self.now, item_ext)
        for person in consumer_attrs:
            same_as_contact = (person.get("firstName"), person.get("lastName")) == (
                contact_attrs.get("firstName"),
                contact_attrs.get("lastName"),
            )
            consumer_guest = (
                guest_ref
                if same_as_contact and not person.get("identifiers")
                else orders.resolve_person(
                    conn, person, self.now, _new_ref(), guest_type="traveller", allow_name_only=True
                )
            )
            conn.execute(
                "INSERT INTO order_consumers(ref, order_ref, guest_ref, created_at, modified_at, data, item_refs)"
                " VALUES (?, ?, ?, ?, ?, ?, '[]')",
                (_new_ref(), order_ref, consumer_guest, self.now, self.now, orjson.dumps(person)),
            )

    def _order_delete(self, value: dict[str, Any]) -> None:
        self._reset_caches()
        reference_id = value.get("referenceId")
        if not isinstance(reference_id, str):
            raise RecordError(VALIDATION, "referenceId: may not be null")
        ordered_at = value.get("orderedAt")
        if ordered_at is not None:
            try:
                parse_iso(ordered_at)
            except (ValueError, TypeError):
                raise RecordError(VALIDATION, "orderedAt: not a valid date-time") from None
        order_ref = value.get("orderRef")
        matches = self._find_orders(reference_id, ordered_at)
        if isinstance(order_ref, str):
            matches = [m for m in matches if m[0] == order_ref]
        if not matches:
            raise RecordError((404, "No order found for the provided referenceId and orderedAt attributes."))
        if len(matches) > 1:
            raise RecordError(
                (
                    400,
                    "More than one order exists with that referenceId, please supply the orderedAt date for the"
                    " order you wish to delete.",
                )
            )
        guests.delete_orders(self.conn, [matches[0][0]])


def _emails_ok(value: dict[str, Any]) -> bool:
    return (value.get("email") is None or isinstance(value.get("email"), str)) and (
        value.get("emails") is None
        or (isinstance(value.get("emails"), list) and all(isinstance(e, str) for e in value["emails"]))
    )


def _obj(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(VALIDATION, f"{name}: must be an object")
    return value


def _batch_extensions(extensions: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(extensions, list):
        raise RecordError(VALIDATION, "extensions: must be an array of objects")
    groups: dict[str, dict[str, Any]] = {}
    for index, ext in enumerate(extensions):
        ext = _obj(ext, f"extensions[{index}]")
        name = ext.get("name")
        if name not in GUEST_EXTENSION_NAMES:
            raise RecordError(VALIDATION, "extensions.name: value must be one of ext,ext1,ext2,ext3,ext4,ext5")
        if ext.get("key", "default") != "default":
            raise RecordError(VALIDATION, "extensions.key: value must be default")
        if name in groups:
            raise RecordError(VALIDATION, f"extensions: data extension {name} appears twice")
        groups[name] = validate_extension_values(ext, max_keys=MAX_EXTENSION_KEYS)
    return groups


def _check_unique(exts: dict[str, Any]) -> None:
    if len(exts) < 2:
        return
    seen: dict[str, str] = {}
    for name, ext in exts.items():
        for key in ext["values"]:
            other = seen.setdefault(key, name)
            if other != name:
                raise RecordError(VALIDATION, f"{key}: key already exists in data extension {other}")


def _single_ext(extensions: Any, now: str) -> dict[str, Any] | None:
    """Order and order item extensions in a batch: at most one group, named ext, at most 50 keys."""
    if extensions is None:
        return None
    if not isinstance(extensions, list) or len(extensions) > 1:
        raise RecordError(VALIDATION, "extensions: only one data extension (ext) is allowed")
    if not extensions:
        return None
    ext = _obj(extensions[0], "extensions[0]")
    if ext.get("name") != "ext":
        raise RecordError(VALIDATION, "extensions.name: value must be ext")
    if ext.get("key", "default") != "default":
        raise RecordError(VALIDATION, "extensions.key: value must be default")
    values = validate_extension_values(ext, max_keys=MAX_BATCH_ORDER_EXTENSION_KEYS)
    return {"ref": _new_ref(), "createdAt": now, "modifiedAt": now, "values": values}
