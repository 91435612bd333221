"""Every linter rule: one record that breaks it, and the same record mended, which passes."""

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from cdp_poc_studio.domain.lint import lint_record

NOW = datetime(2026, 1, 1, tzinfo=UTC)
GUEST: dict[str, Any] = {
    "ref": "9d94ee11-7043-4b71-980c-a777d00a7b46",
    "schema": "guest",
    "mode": "upsert",
    "value": {
        "guestType": "customer",
        "gender": "female",
        "dateOfBirth": "1985-12-24T00:00Z",
        "country": "IE",
        "email": "jane@example.com",
        "identifiers": [{"provider": "CRM", "id": "42"}],
        "extensions": [
            {"name": "ext", "key": "default", "loyaltyTier": "gold", "vipMember": True},
            {"name": "ext1", "key": "default", "rewardBalance": 12.5},
        ],
    },
}
ITEM = {
    "type": "PRODUCT",
    "productId": "SKU-1",
    "name": "Shoe",
    "description": "A shoe",
    "vendor": "Acme",
    "price": 10.0,
    "currencyCode": "EUR",
    "extensions": [{"name": "ext", "key": "default", "color": "red"}],
}
ORDER: dict[str, Any] = {
    "ref": "056621c2-c955-492d-b7ee-c77c6bddfdee",
    "schema": "order",
    "mode": "insert",
    "value": {
        "referenceId": "R-1",
        "channel": "WEB",
        "pointOfSale": "shop",
        "status": "PURCHASED",
        "orderedAt": "2025-03-07T16:15:11.000Z",
        "currencyCode": "EUR",
        "price": 10.0,
        "paymentType": "Card",
        "cardType": "Visa",
        "contact": {"identifiers": [{"provider": "CRM", "id": "42"}]},
        "orderItems": [ITEM],
        "extensions": [{"name": "ext", "key": "default", "promotion": "none"}],
    },
}


def _set(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(record)
    target: Any = out
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    if value is _DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return out


_DELETE = object()
many_keys = {"name": "ext", "key": "default", **{f"k{i}": i for i in range(101)}}
fifty_one = {"name": "ext", "key": "default", **{f"k{i}": i for i in range(51)}}

# (rule, api, base record, path to change, bad value)
CASES = [
    ("extension-name", "batch", GUEST, "value.extensions.1.name", "ext9"),
    ("extension-key-count", "batch", GUEST, "value.extensions.0", many_keys),
    ("extension-key-count", "batch", ORDER, "value.extensions.0", fifty_one),
    (
        "extension-key-format",
        "batch",
        GUEST,
        "value.extensions.1",
        {"name": "ext1", "key": "default", "reward-balance": 1},
    ),
    (
        "extension-key-duplicate",
        "batch",
        GUEST,
        "value.extensions.1",
        {"name": "ext1", "key": "default", "vipMember": False},
    ),
    (
        "extension-value-type",
        "batch",
        GUEST,
        "value.extensions.1",
        {"name": "ext1", "key": "default", "address": {"city": "Dublin"}},
    ),
    (
        "extension-value-type",
        "rest",
        GUEST,
        "value.extensions.1",
        {"name": "ext1", "key": "default", "tags": ["a"]},
    ),
    (
        "extension-duplicate",
        "batch",
        GUEST,
        "value.extensions.1",
        {"name": "ext", "key": "default", "other": 1},
    ),
    ("guest-type", "batch", GUEST, "value.guestType", "visitor"),
    ("guest-type", "rest", GUEST, "value.guestType", "Customer"),
    ("guest-mode", "batch", GUEST, "mode", "insert"),
    ("identity", "batch", GUEST, "value", {"guestType": "customer", "firstName": "Jane"}),
    ("order-item-mode", "batch", ORDER, "mode", "upsert"),
    ("date-of-birth", "batch", GUEST, "value.dateOfBirth", "2030-01-01T00:00Z"),
    ("date-of-birth", "rest", GUEST, "value.dateOfBirth", "yesterday"),
    ("country", "batch", GUEST, "value.country", "Ireland"),
    ("gender", "batch", GUEST, "value.gender", "Female"),
    ("order-required", "batch", ORDER, "value.referenceId", _DELETE),
    ("order-required", "rest", ORDER, "value.price", _DELETE),
    ("order-required", "batch", ORDER, "value.cardType", _DELETE),
    ("order-channel", "batch", ORDER, "value.channel", "SHOP"),
    ("order-status", "rest", ORDER, "value.status", "PAID"),
    ("currency-code", "batch", ORDER, "value.currencyCode", "euro"),
    ("order-item-required", "batch", ORDER, "value.orderItems.0.productId", _DELETE),
    ("order-item-name", "batch", ORDER, "value.orderItems.0.name", "x" * 129),
    (
        "extension-count",
        "batch",
        ORDER,
        "value.extensions",
        [{"name": "ext", "key": "default", "a": 1}, {"name": "ext", "key": "default", "b": 2}],
    ),
    ("schema", "batch", GUEST, "schema", "tracking"),
    ("mode", "batch", GUEST, "mode", "replace"),
    ("ref", "batch", GUEST, "ref", "not-a-uuid"),
    ("envelope", "batch", GUEST, "value", _DELETE),
    ("identifier", "rest", GUEST, "value.identifiers.0", {"provider": "CRM"}),
]


@pytest.mark.parametrize("api", ["batch", "rest"])
@pytest.mark.parametrize("record", [GUEST, ORDER], ids=["guest", "order"])
def test_valid_records_pass(record: dict[str, Any], api: str) -> None:
    assert lint_record(record, api, now=NOW) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(("rule", "api", "record", "path", "bad"), CASES, ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CASES])
def test_each_rule_reports_its_violation_with_a_path(rule: str, api: str, record: dict, path: str, bad: Any) -> None:
    violations = lint_record(_set(record, path, bad), api, now=NOW)  # type: ignore[arg-type]
    assert rule in {v.rule for v in violations}, violations
    assert all(v.path and v.message for v in violations)


def test_rest_allows_100_keys_in_an_order_extension_where_batch_allows_50() -> None:
    record = _set(ORDER, "value.extensions.0", fifty_one)
    assert lint_record(record, "rest", now=NOW) == []


def test_guest_delete_needs_no_guest_attributes() -> None:
    record = {
        "ref": GUEST["ref"],
        "schema": "guest",
        "mode": "delete",
        "value": {"identifiers": [{"provider": "CRM", "id": "42"}]},
    }
    assert lint_record(record, "batch", now=NOW) == []


def test_violation_names_the_exact_key() -> None:
    record = _set(GUEST, "value.extensions.1", {"name": "ext1", "key": "default", "bad_key": 1})
    (violation,) = lint_record(record, "batch", now=NOW)
    assert violation.path == "value.extensions[1].bad_key"
    assert "camelCase" in str(violation)
