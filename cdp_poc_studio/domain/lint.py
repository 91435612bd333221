"""The CDP linter: every rule a record breaks, with its path, before anything is sent.

`lint_record(record, api)` takes a batch envelope (`{"ref","schema","mode","value"}`). For `api="batch"` the
Batch API's rules apply (guests must be customers, no insert mode for guests, order items only in insert mode,
50 keys in an order extension); for `api="rest"` the same value is checked as the REST API will receive it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from cdp_poc_studio.domain.countries import ISO_COUNTRY_CODES
from cdp_poc_studio.domain.limits import (
    BATCH_MODES,
    BATCH_SCHEMAS,
    GENDERS,
    GUEST_EXTENSION_NAMES,
    GUEST_TYPES,
    MAX_BATCH_ORDER_EXTENSION_KEYS,
    MAX_EXTENSION_KEYS,
    MAX_ORDER_ITEM_NAME_LENGTH,
    ORDER_CHANNELS,
    ORDER_EXTENSION_NAME,
    ORDER_STATUSES,
)

Api = Literal["batch", "rest"]

EXTENSION_KEY = re.compile(r"^[a-z][A-Za-z0-9]*$")
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
_EXTENSION_ENVELOPE = frozenset({"name", "key"})

# Required order fields per API and mode (cdp-api-facts.md §5.3 for REST, §6.8 for batch insert and upsert).
REQUIRED_ORDER_FIELDS: Mapping[str, tuple[str, ...]] = {
    "rest": ("referenceId", "orderedAt", "currencyCode", "price"),
    "insert": (
        "referenceId",
        "channel",
        "pointOfSale",
        "status",
        "orderedAt",
        "currencyCode",
        "price",
        "paymentType",
        "contact",
        "orderItems",
    ),
    "upsert": ("referenceId", "channel", "pointOfSale", "orderedAt", "contact", "orderItems"),
}
REQUIRED_ITEM_FIELDS = ("type", "productId", "name", "description", "vendor", "price", "currencyCode")


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where (a dotted path into the record or schema), which rule, and what to do."""

    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.rule}]"


def lint_record(record: Mapping[str, Any], api: Api, *, now: datetime | None = None) -> list[Violation]:
    """Every violation of CDP's rules in one batch envelope, for the API it is meant for."""
    found: list[Violation] = []
    for key in ("ref", "schema", "mode", "value"):
        if key not in record:
            found.append(Violation(key, "envelope", f"a batch record needs {key!r}"))
    if found:
        return found
    _check_ref(record["ref"], found)
    schema, mode, value = record["schema"], record["mode"], record["value"]
    if schema not in BATCH_SCHEMAS:
        found.append(Violation("schema", "schema", f"schema {schema!r} is not one of {', '.join(BATCH_SCHEMAS)}"))
    if mode not in BATCH_MODES:
        found.append(Violation("mode", "mode", f"mode {mode!r} is not one of {', '.join(BATCH_MODES)}"))
    if not isinstance(value, Mapping):
        found.append(Violation("value", "envelope", "value must be a JSON object"))
        return found
    when = now or datetime.now(UTC)
    if schema == "guest":
        if api == "batch" and mode == "insert":
            found.append(Violation("mode", "guest-mode", "guests cannot be inserted in a batch: use upsert"))
        if mode not in ("delete", "gdpr_delete"):
            found.extend(lint_guest(value, api, now=when, path="value"))
    elif schema == "order" and mode not in ("delete",):
        found.extend(lint_order(value, api, mode=mode, path="value", now=when))
    return found


def _check_ref(ref: Any, found: list[Violation]) -> None:
    try:
        uuid.UUID(str(ref))
    except ValueError:
        found.append(Violation("ref", "ref", f"ref {ref!r} must be a UUID"))


def lint_guest(guest: Mapping[str, Any], api: Api, *, now: datetime, path: str = "") -> list[Violation]:
    found: list[Violation] = []
    at = _prefixer(path)
    guest_type = guest.get("guestType")
    if api == "batch" and guest_type != "customer":
        found.append(Violation(at("guestType"), "guest-type", f"a batch guest must be a customer, not {guest_type!r}"))
    elif api == "rest" and guest_type not in GUEST_TYPES:
        found.append(Violation(at("guestType"), "guest-type", f"guestType must be one of {', '.join(GUEST_TYPES)}"))
    if api == "batch" and not guest.get("identifiers") and not guest.get("email"):
        found.append(
            Violation(at("identifiers"), "identity", "a batch guest needs identifiers or an email to be matched")
        )
    gender = guest.get("gender")
    if gender is not None and gender not in GENDERS:
        found.append(Violation(at("gender"), "gender", f"gender must be lowercase {', '.join(GENDERS)}"))
    _check_past(guest.get("dateOfBirth"), at("dateOfBirth"), "date-of-birth", now, found)
    _check_country(guest.get("country"), at("country"), found)
    for index, identifier in enumerate(guest.get("identifiers") or []):
        for key in ("provider", "id"):
            if not isinstance(identifier, Mapping) or not identifier.get(key):
                found.append(Violation(at(f"identifiers[{index}].{key}"), "identifier", f"{key} is required"))
    extensions = guest.get("extensions") or []
    _check_extension_groups(extensions, GUEST_EXTENSION_NAMES, MAX_EXTENSION_KEYS, at("extensions"), found)
    _check_unique_keys_across_groups(extensions, at("extensions"), found)
    return found


def lint_order(
    order: Mapping[str, Any], api: Api, *, mode: str = "insert", path: str = "", now: datetime
) -> list[Violation]:
    found: list[Violation] = []
    at = _prefixer(path)
    required = REQUIRED_ORDER_FIELDS["rest"] if api == "rest" else REQUIRED_ORDER_FIELDS.get(mode, ())
    for key in required:
        if order.get(key) in (None, "", []):
            found.append(Violation(at(key), "order-required", f"an order needs {key}"))
    channel, status = order.get("channel"), order.get("status")
    if channel is not None and channel not in ORDER_CHANNELS:
        found.append(Violation(at("channel"), "order-channel", f"channel {channel!r} is not a CDP channel"))
    if status is not None and status not in ORDER_STATUSES:
        found.append(Violation(at("status"), "order-status", f"status {status!r} is not a CDP order status"))
    currency = order.get("currencyCode")
    if currency is not None and not CURRENCY_CODE.match(str(currency)):
        found.append(Violation(at("currencyCode"), "currency-code", "currencyCode must be ISO 4217, like EUR"))
    if api == "batch" and mode == "insert" and order.get("paymentType") == "Card" and not order.get("cardType"):
        found.append(Violation(at("cardType"), "order-required", "a Card payment needs cardType"))
    items = order.get("orderItems") or []
    if api == "batch" and items and mode != "insert":
        found.append(
            Violation(at("orderItems"), "order-item-mode", f"order items can only be inserted, not sent in {mode}")
        )
    order_limit = MAX_BATCH_ORDER_EXTENSION_KEYS if api == "batch" else MAX_EXTENSION_KEYS
    _check_extension_groups(
        order.get("extensions") or [], (ORDER_EXTENSION_NAME,), order_limit, at("extensions"), found
    )
    for index, item in enumerate(items):
        _check_item(item, at(f"orderItems[{index}]"), order_limit, found)
    contact = order.get("contact")
    if isinstance(contact, Mapping):
        _check_past(contact.get("dateOfBirth"), at("contact.dateOfBirth"), "date-of-birth", now, found)
        _check_country(contact.get("country"), at("contact.country"), found)
    return found


def _check_item(item: Any, path: str, key_limit: int, found: list[Violation]) -> None:
    at = _prefixer(path)
    if not isinstance(item, Mapping):
        found.append(Violation(path, "order-item", "an order item must be a JSON object"))
        return
    for key in REQUIRED_ITEM_FIELDS:
        if item.get(key) in (None, ""):
            found.append(Violation(at(key), "order-item-required", f"an order item needs {key}"))
    name = item.get("name")
    if isinstance(name, str) and len(name) > MAX_ORDER_ITEM_NAME_LENGTH:
        found.append(Violation(at("name"), "order-item-name", f"name is {len(name)} characters, CDP takes at most 128"))
    _check_extension_groups(item.get("extensions") or [], (ORDER_EXTENSION_NAME,), key_limit, at("extensions"), found)


def _check_extension_groups(
    groups: Any, allowed: tuple[str, ...], key_limit: int, path: str, found: list[Violation]
) -> None:
    if not isinstance(groups, list):
        found.append(Violation(path, "extension-shape", "extensions must be a list of groups"))
        return
    seen: set[str] = set()
    for index, group in enumerate(groups):
        at = f"{path}[{index}]"
        if not isinstance(group, Mapping):
            found.append(Violation(at, "extension-shape", "an extension group must be a JSON object"))
            continue
        name = group.get("name")
        if name not in allowed:
            found.append(
                Violation(
                    f"{at}.name",
                    "extension-name",
                    f"extension name {name!r} must be one of {', '.join(allowed)}",
                )
            )
        elif name in seen:
            found.append(Violation(f"{at}.name", "extension-duplicate", f"extension {name!r} appears twice"))
        seen.add(str(name))
        if len(allowed) == 1 and len(groups) > 1 and index == 1:
            found.append(Violation(at, "extension-count", "an order or order item takes only one extension"))
        keys = [k for k in group if k not in _EXTENSION_ENVELOPE]
        if len(keys) > key_limit:
            found.append(
                Violation(at, "extension-key-count", f"{len(keys)} keys in {name!r}, CDP takes at most {key_limit}")
            )
        for key in keys:
            if not EXTENSION_KEY.match(key):
                found.append(
                    Violation(f"{at}.{key}", "extension-key-format", f"key {key!r} must be alphanumeric camelCase")
                )
            value = group[key]
            if isinstance(value, (Mapping, list, tuple)):
                found.append(
                    Violation(
                        f"{at}.{key}",
                        "extension-value-type",
                        "extension values must be flat primitives: flatten this value or serialise it",
                    )
                )
            elif value is not None and not isinstance(value, (str, bool, int, float)):
                found.append(Violation(f"{at}.{key}", "extension-value-type", "value is not a JSON primitive"))


def _check_unique_keys_across_groups(groups: Any, path: str, found: list[Violation]) -> None:
    if not isinstance(groups, list):
        return
    owner: dict[str, str] = {}
    for index, group in enumerate(groups):
        if not isinstance(group, Mapping):
            continue
        for key in group:
            if key in _EXTENSION_ENVELOPE:
                continue
            if key in owner:
                found.append(
                    Violation(
                        f"{path}[{index}].{key}",
                        "extension-key-duplicate",
                        f"key {key!r} is already in group {owner[key]!r}; keys must be unique across a guest's groups",
                    )
                )
            else:
                owner[key] = str(group.get("name"))


def _check_past(value: Any, path: str, rule: str, now: datetime, found: list[Violation]) -> None:
    if value is None:
        return
    when = parse_timestamp(value)
    if when is None:
        found.append(Violation(path, rule, f"{value!r} is not an ISO 8601 date-time"))
    elif when >= now:
        found.append(Violation(path, rule, f"{value} is in the future; it must be in the past"))


def _check_country(value: Any, path: str, found: list[Violation]) -> None:
    if value is not None and value not in ISO_COUNTRY_CODES:
        found.append(Violation(path, "country", f"country {value!r} must be an ISO 3166-1 alpha-2 code, like IE"))


def parse_timestamp(value: Any) -> datetime | None:
    """CDP's timestamps (`1985-12-24T00:00Z`, `...T00:00:00.000Z`, or a date) as aware datetimes."""
    if not isinstance(value, str):
        return None
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _prefixer(path: str) -> Any:
    return (lambda key: f"{path}.{key}") if path else (lambda key: key)
