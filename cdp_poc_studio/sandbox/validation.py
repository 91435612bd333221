"""The sandbox's own request schemas, written from the reference (never shared with the client side).

One field table per entity drives both the validation (CDP-style 400 messages) and the JSON Schema published in
the app's OpenAPI description, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cdp_poc_studio.sandbox.clock import iso, parse_iso
from cdp_poc_studio.sandbox.errors import CdpError, invalid
from cdp_poc_studio.sandbox.fidelity import warn

GUEST_TYPES = ("visitor", "customer", "traveller")
# facts §5.3, with the official spelling "PARTIALY".
ORDER_STATUSES = (
    "BROWSED", "CANCELLED", "CONFIRMED", "DECLINED", "PARTIALY_CONFIRMED", "PARTIALY_REFUNDED",
    "PAYMENT_PENDING", "PENDING", "PURCHASED", "REFUNDED", "RESERVED", "SEARCHED", "UNKNOWN",
)  # fmt: skip
CHANNELS = (
    "WEB", "MOBILE_WEB", "MOBILE_APP", "CALL_CENTER", "AIRPORT_KIOSK", "BRANCH", "KIOSK", "OFFLINE", "GDS",
    "OTA", "OTHER",
)  # fmt: skip
GUEST_EXTENSION_NAMES = ("ext", "ext1", "ext2", "ext3", "ext4", "ext5")
MAX_EXTENSION_KEYS = 100
MAX_BATCH_ORDER_EXTENSION_KEYS = 50  # facts §6.8: batch order extensions allow 50 (REST 100)
# "Alphanumeric [A-Za-z0-9] ... in camel case" (facts §4.1): a lowercase letter first, then letters and digits.
EXTENSION_KEY = re.compile(r"^[a-z][A-Za-z0-9]*$")
TWO_LETTERS = re.compile(r"^[A-Za-z]{2}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class Field:
    """One attribute: a checker that returns the normalised value or raises ValueError(reason)."""

    check: Callable[[Any], Any]
    schema: dict[str, Any]
    # Shortcut taken by validate() before calling `check` (the batch path validates ~100,000 records a second):
    # PLAIN_STRING accepts any str as is, STRING_ARRAY any list of str. Anything else goes through `check`.
    fast: int = 0


PLAIN_STRING = 1
STRING_ARRAY = 2


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _bounded_string(limit: int) -> Field:
    def check(value: Any) -> str:
        text = _string(value)
        if len(text) > limit:
            raise ValueError(f"size must be between 0 and {limit}")
        return text

    return Field(check, {"type": "string", "maxLength": limit})


def _string_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be an array of strings")
    return value


def numeric_string(value: str) -> int | float | None:
    """A JSON string holding a number ("192328", "12.5"), as Jackson coerces it by default; else None."""
    text = value.strip()
    if not text or len(text) > 40:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        # Inferred (fidelity table): CDP is a Jackson service, which coerces a numeric string to a number.
        coerced = numeric_string(value) if isinstance(value, str) else None
        if coerced is None:
            raise ValueError("must be a number")
        warn(f"the number {value!r} was sent as a string and read as {coerced}")
        return coerced
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        coerced = numeric_string(value) if isinstance(value, str) else None
        if isinstance(coerced, int):
            warn(f"the integer {value!r} was sent as a string and read as {coerced}")
            return coerced
        raise ValueError("must be an integer")
    return value


def _datetime(value: Any) -> str:
    # CDP normalises e.g. "2033-01-01T00:00Z" to "2033-01-01T00:00:00.000Z" (facts §3.5).
    try:
        return iso(parse_iso(value))
    except (ValueError, TypeError, OverflowError):
        pass
    # Inferred (fidelity table): a date-time without a zone (.NET writes DateTime so) or a bare date, as Jackson's
    # default date format reads it: as UTC.
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is not None:
            raise ValueError
        normalised = iso(parsed.replace(tzinfo=UTC))
    except (ValueError, OverflowError):
        raise ValueError("not a valid date-time") from None
    warn(f"the date-time {value!r} has no time zone and was read as UTC ({normalised})")
    return normalised


def _enum(values: tuple[str, ...]) -> Field:
    allowed = frozenset(values)

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise ValueError("not a valid value")
        return str(value)

    return Field(check, {"type": "string", "enum": list(values)})


def _pattern(regex: re.Pattern[str], reason: str) -> Field:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not regex.match(value):
            raise ValueError(reason)
        return value

    return Field(check, {"type": "string", "pattern": regex.pattern})


IDENTIFIER_KEYS = frozenset({"provider", "id", "expiryDate"})


def _identifiers(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValueError("must be an array of identifiers")
    out = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValueError(f"identifiers[{index}] must be an object")
        if not IDENTIFIER_KEYS.issuperset(item):
            unknown = set(item) - IDENTIFIER_KEYS
            raise ValueError(f"identifiers[{index}].{sorted(unknown)[0]} is not a known attribute")
        provider, ident = item.get("provider"), item.get("id")
        if not isinstance(provider, str) or not provider:
            raise ValueError(f"identifiers[{index}].provider may not be empty")
        if not isinstance(ident, str) or not ident:
            raise ValueError(f"identifiers[{index}].id may not be empty")
        clean: dict[str, Any] = {"provider": provider, "id": ident}
        expiry = item.get("expiryDate")
        if expiry is not None:
            clean["expiryDate"] = _datetime(expiry)
        out.append(clean)
    return out


def _link(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not isinstance(value.get("href"), str) or set(value) - {"href"}:
        raise ValueError("must be an object with an href")
    return {"href": value["href"]}


def _subscriptions(value: Any) -> list[Any]:
    # Deprecated in data model 2.1 with maxItems 0 (guest spec).
    if not isinstance(value, list):
        raise ValueError("must be an array")
    if value:
        raise ValueError("size must be between 0 and 0")
    return value


STRING = Field(_string, {"type": "string"}, PLAIN_STRING)
STRING_LIST = Field(_string_list, {"type": "array", "items": {"type": "string"}}, STRING_ARRAY)
NUMBER = Field(_number, {"type": "number"})
INTEGER = Field(_integer, {"type": "integer"})
DATETIME = Field(_datetime, {"type": "string", "format": "date-time"})
# Inferred: country/language are checked as two letters (ISO codes), case kept as sent.
COUNTRY = _pattern(TWO_LETTERS, "must be a 2-letter ISO 3166-1 code")
LANGUAGE = _pattern(TWO_LETTERS, "must be a 2-letter ISO 639 code")
CURRENCY_CODE = _pattern(CURRENCY, "must be a 3-letter ISO 4217 code")
IDENTIFIERS = Field(
    _identifiers,
    {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["provider", "id"],
            "properties": {
                "provider": {"type": "string", "minLength": 1},
                "id": {"type": "string", "minLength": 1},
                "expiryDate": {"type": "string", "format": "date-time"},
            },
            "additionalProperties": False,
        },
    },
)
LINK = Field(
    _link,
    {"type": "object", "properties": {"href": {"type": "string"}}, "required": ["href"], "additionalProperties": False},
)

GUEST_FIELDS: dict[str, Field] = {
    "guestType": _enum(GUEST_TYPES),
    "title": STRING,
    "firstName": STRING,
    "lastName": STRING,
    "email": STRING,
    "emails": STRING_LIST,
    "phoneNumbers": STRING_LIST,
    "gender": STRING,
    "dateOfBirth": DATETIME,
    "nationality": STRING,
    "passportNumber": STRING,
    "passportExpiry": DATETIME,
    "street": STRING_LIST,
    "city": STRING,
    "state": STRING,
    "country": COUNTRY,
    "postCode": STRING,
    "language": LANGUAGE,
    "identifiers": IDENTIFIERS,
    "subscriptions": Field(_subscriptions, {"type": "array", "maxItems": 0}),
    "identityStatus": STRING,  # deprecated but still accepted
    "zipCode": STRING,  # deprecated but still accepted
}
# Server-owned attributes a client may echo back in a PUT; they are ignored, never stored.
GUEST_READ_ONLY = frozenset({"ref", "href", "createdAt", "modifiedAt", "firstSeen", "lastSeen", "dataExtensions"})
BATCH_GUEST_FIELDS: dict[str, Field] = {**GUEST_FIELDS, "firstSeen": DATETIME, "lastSeen": DATETIME}

ORDER_FIELDS: dict[str, Field] = {
    "referenceId": STRING,
    "currencyCode": CURRENCY_CODE,
    "orderedAt": DATETIME,
    "price": NUMBER,
    "paymentType": STRING,
    "cardType": STRING,
    "pointOfSale": STRING,
    "channel": _enum(CHANNELS),
    "status": _enum(ORDER_STATUSES),
}
ORDER_REQUIRED = ("currencyCode", "orderedAt", "price", "referenceId")  # facts §5.3
ORDER_READ_ONLY = frozenset(
    {"ref", "href", "createdAt", "modifiedAt", "contacts", "consumers", "orderItems", "extensions", "guest"}
)

ORDER_ITEM_FIELDS: dict[str, Field] = {
    "type": STRING,
    "productId": STRING,
    "name": _bounded_string(128),
    "description": STRING,
    "vendor": STRING,
    "price": NUMBER,
    "currencyCode": CURRENCY_CODE,
    "originalPrice": NUMBER,
    "originalCurrencyCode": CURRENCY_CODE,
    "orderedAt": DATETIME,
    "quantity": INTEGER,
    "referenceId": STRING,
    "status": STRING,
    "language": LANGUAGE,
    "channel": _enum(CHANNELS),
    "pointOfSale": STRING,
}
# Gap: the v2.1 create-item page was not retrievable; the batch data model's required attributes are used.
ORDER_ITEM_REQUIRED = ("type", "productId", "name", "description", "vendor", "price", "currencyCode")
ORDER_ITEM_READ_ONLY = frozenset({"ref", "href", "createdAt", "modifiedAt", "order", "extensions"})

PERSON_FIELDS: dict[str, Field] = {
    "title": STRING,
    "firstName": STRING,
    "lastName": STRING,
    "gender": STRING,
    "dateOfBirth": DATETIME,
    "email": STRING,
    "emails": STRING_LIST,
    "phoneNumbers": STRING_LIST,
    "identifiers": IDENTIFIERS,
    "street": STRING_LIST,
    "city": STRING,
    "state": STRING,
    "country": COUNTRY,
    "postCode": STRING,
    "nationality": STRING,
    "passportNumber": STRING,
    "passportExpiry": DATETIME,
    "guest": LINK,
}
CONTACT_FIELDS = PERSON_FIELDS
CONSUMER_FIELDS: dict[str, Field] = {
    **PERSON_FIELDS,
    "orderItems": Field(
        lambda v: _order_item_links(v),
        {"type": "object", "properties": {"items": {"type": "array", "items": LINK.schema}}},
    ),
}
PERSON_READ_ONLY = frozenset({"ref", "href", "createdAt", "modifiedAt", "order"})


def _order_item_links(value: Any) -> list[str]:
    if not isinstance(value, dict) or not isinstance(value.get("items"), list):
        raise ValueError("must be an object with an items array")
    return [_link(item)["href"] for item in value["items"]]


def validate(
    body: dict[str, Any],
    fields: dict[str, Field],
    *,
    required: tuple[str, ...] = (),
    read_only: frozenset[str] = frozenset(),
    prefix: str = "",
) -> dict[str, Any]:
    """Check an object against a field table; return the normalised attributes (nulls dropped).

    Unknown attributes are rejected with 400 rather than ignored: a misspelt field name in a client must fail
    here, not vanish silently (decision recorded in the README).

    Raises:
        CdpError: 400 with CDP's `attribute: reason` message.
    """
    out: dict[str, Any] = {}
    for name, value in body.items():
        spec = fields.get(name)
        if spec is None:
            if name in read_only:
                continue
            if value is None:
                # Inferred (fidelity table): Jackson-based services take a null as an absent attribute; SDKs that
                # serialise every property (the .NET SDK's "phone": null) rely on it.
                warn(f"the unknown attribute {prefix + name} was null and is ignored")
                continue
            raise invalid(prefix + name, "not a known attribute")
        if value is None:
            continue
        fast = spec.fast
        if fast:  # the common cases, without a function call
            if fast == PLAIN_STRING:
                if type(value) is str:
                    out[name] = value
                    continue
            elif type(value) is list:
                for item in value:
                    if type(item) is not str:
                        break
                else:
                    out[name] = value
                    continue
        try:
            out[name] = spec.check(value)
        except ValueError as exc:
            raise invalid(prefix + name, str(exc)) from None
    for name in required:
        if name not in out:
            raise invalid(prefix + name, "may not be null")
    return out


def check_past(attrs: dict[str, Any], name: str, now_iso: str, prefix: str = "") -> None:
    if name in attrs and attrs[name] >= now_iso:
        raise invalid(prefix + name, "must be in the past")


_GOOD_KEYS: set[str] = set()  # extension keys already seen to match EXTENSION_KEY
_PRIMITIVES = frozenset({str, bool, int, float})


def validate_extension_values(
    body: dict[str, Any], *, max_keys: int = MAX_EXTENSION_KEYS, skip: tuple[str, ...] = ("name", "key")
) -> dict[str, Any]:
    """Flat primitive key-values with alphanumeric camelCase keys, at most `max_keys` of them (facts §4.1)."""
    values: dict[str, Any] = {}
    good = _GOOD_KEYS
    for key, value in body.items():
        if key in skip:
            continue
        if key not in good:
            if not EXTENSION_KEY.match(key):
                raise invalid(key, "key must be alphanumeric camel case")
            if len(good) < 10_000:  # keys repeat from record to record; the cache stays bounded
                good.add(key)
        if type(value) in _PRIMITIVES or isinstance(value, bool | str | int | float):
            values[key] = value
        else:
            raise invalid(key, "value must be a string, boolean, integer or floating-point number")
    if len(values) > max_keys:
        raise invalid("dataExtension", f"a data extension may contain at most {max_keys} key-value pairs")
    return values


def check_key_field(body: dict[str, Any]) -> None:
    key = body.get("key", "default")
    if key != "default":
        raise invalid("key", "value must be default")


def object_schema(
    fields: dict[str, Field], required: tuple[str, ...] = (), *, read_only: frozenset[str] = frozenset()
) -> dict[str, Any]:
    properties = {name: spec.schema for name, spec in fields.items()}
    for name in read_only:
        properties.setdefault(name, {})
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


EXTENSION_VALUE_SCHEMA: dict[str, Any] = {"type": ["string", "boolean", "integer", "number"]}


def extension_schema(names: tuple[str, ...] | None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": EXTENSION_VALUE_SCHEMA,
        "maxProperties": MAX_EXTENSION_KEYS + 2,
    }
    if names:
        schema["properties"] = {"name": {"type": "string", "enum": list(names)}, "key": {"type": "string"}}
        schema["required"] = ["name"]
    return schema


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise CdpError(400, "Unable to parse JSON string", "The request body must be a JSON object.")
    return body
