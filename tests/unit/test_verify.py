"""Verification: joining, comparing, and classifying every kind of difference with its explanation."""

from datetime import UTC, datetime
from pathlib import Path

from cdp_poc_studio.domain.schema_file import load_schema
from cdp_poc_studio.roundtrip.normalise import Outcome
from cdp_poc_studio.roundtrip.verify import (
    Expected,
    Returned,
    SourceRules,
    compare,
    guest_fields,
    index_returned,
    order_fields,
    returned_from_export,
    returned_from_rest,
)

SCHEMA = load_schema(Path(__file__).parents[2] / "cdp_poc_studio" / "resources" / "schemas" / "retail_loyalty.toml")
GUEST = {
    "guestType": "customer",
    "firstName": "Jane",
    "email": "jane@example.com",
    "dateOfBirth": "1985-12-24T00:00Z",
    "identifiers": [{"provider": "P", "id": "1"}],
}
NESTED = {
    "ext": {"loyaltyTier": "gold", "address": {"city": "Dublin"}, "favouriteCategories": ["shoes"]},
    "ext1": {"preferences": [{"channel": "sms", "optIn": True}]},
}
FLAT = {
    "ext": {
        "name": "ext",
        "key": "default",
        "loyaltyTier": "gold",
        "addressCity": "Dublin",
        "favouriteCategories0": "shoes",
    },
    "ext1": {"name": "ext1", "key": "default", "preferences": '[{"channel":"sms","optIn":true}]'},
}
ORDER = {
    "referenceId": "R-1",
    "price": 10.0,
    "orderedAt": "2025-06-01T10:00:00.000Z",
    "orderItems": [{"referenceId": "R-1-1", "name": "Shoe", "price": 10.0}],
}


def _expected(**kw: object) -> Expected:
    fields = guest_fields(GUEST, NESTED)
    order_fields(ORDER, {"promotion": "none"}, [None], fields)
    return Expected(key="P:1", email="jane@example.com", fields=fields, **kw)  # type: ignore[arg-type]


def _rest(guest: dict | None = None, flat: dict | None = None) -> dict:
    back_guest = {**GUEST, "dateOfBirth": "1985-12-24T00:00:00.000Z", "ref": "abc", **(guest or {})}
    order = (
        {k: v for k, v in ORDER.items() if k != "orderItems"},
        {"name": "ext", "promotion": "none"},
        [(ORDER["orderItems"][0], None)],
    )
    record = returned_from_rest(SCHEMA, back_guest, flat or FLAT, [order])
    return index_returned([(record, ["P:1"])])


def test_a_faithful_round_trip_passes_with_normalisations_shown() -> None:
    result = compare([_expected()], _rest(), SourceRules("rest"))
    assert result.records_found == 1
    assert result.differences == []
    assert result.field_pass_rate == 1.0
    assert result.field_counts["dateOfBirth"][Outcome.NORMALISED] == 1
    assert result.normalised_examples[0].explanation == "date format"
    assert result.field_counts["ext.address.city"][Outcome.EQUAL] == 1
    assert result.field_counts["ext1.preferences[0].channel"][Outcome.EQUAL] == 1
    assert result.field_counts["orders.*.items.*.name"][Outcome.EQUAL] == 1


def test_a_mapping_to_the_wrong_key_is_explained() -> None:
    flat = {**FLAT, "ext": {k: v for k, v in FLAT["ext"].items() if k != "loyaltyTier"} | {"loyaltyTeir": "gold"}}
    result = compare([_expected()], _rest(flat=flat), SourceRules("rest"))
    (difference,) = result.differences
    assert difference.path == "ext.loyaltyTier"
    assert difference.outcome is Outcome.FIELD_MISSING
    assert "mapping error" in difference.explanation
    assert "ext.loyaltyTeir" in difference.explanation


def test_changed_values_and_types_are_told_apart() -> None:
    flat = {**FLAT, "ext": {**FLAT["ext"], "loyaltyTier": "silver", "addressCity": 5}}
    result = compare([_expected()], _rest(flat=flat), SourceRules("rest"))
    outcomes = {d.path: d.outcome for d in result.differences}
    assert outcomes == {"ext.loyaltyTier": Outcome.VALUE_CHANGED, "ext.address.city": Outcome.TYPE_CHANGED}


def test_missing_rejected_waiting_and_extra_records() -> None:
    sent_at = datetime(2026, 1, 2, 15, tzinfo=UTC)
    records = [
        _expected(),
        Expected("P:2", None, {"firstName": "Ann"}),
        Expected("P:3", None, {"firstName": "Bo"}, rejected=(400, "Validation error")),
        Expected("P:4", None, {"firstName": "Cy"}, sent_at=sent_at),
    ]
    rules = SourceRules("export", snapshot_cutoff=datetime(2026, 1, 2, tzinfo=UTC))
    result = compare(records, _rest(), rules, extra_keys=["P:1", "P:9"])
    by_record = {d.record: d for d in result.differences}
    assert by_record["P:2"].outcome is Outcome.RECORD_MISSING
    assert by_record["P:3"].outcome is Outcome.REJECTED
    assert "400 Validation error" in by_record["P:3"].explanation
    assert by_record["P:4"].outcome is Outcome.NOT_IN_SNAPSHOT
    assert by_record["P:9"].outcome is Outcome.EXTRA_RECORD
    assert (result.records_missing, result.records_rejected, result.records_waiting, result.records_extra) == (
        1,
        1,
        1,
        1,
    )


def test_export_csv_row_is_typed_joined_and_orders_beyond_retention_are_explained() -> None:
    row = {
        "guestRef": "abc",
        "email": "jane@example.com",
        "firstName": "Jane",
        "identifiers": '[{"provider":"P","id":"1"}]',
        "ext.loyaltyTier": "gold",
        "ext.addressCity": "Dublin",
        "ext.favouriteCategories0": "shoes",
        "ext1.preferences": '[{"channel":"sms","optIn":true}]',
        "orders": "[]",
    }
    back = returned_from_export(SCHEMA, row)
    index = index_returned([(back, ["email:jane@example.com"])])
    rules = SourceRules(
        "export",
        from_text=True,
        carries=("email", "firstName", "identifiers", "ext", "ext1", "orders"),
        as_of=datetime(2026, 9, 1, tzinfo=UTC),
        order_retention_days=365,
    )
    expected = _expected(order_dates={"R-1": datetime(2025, 6, 1, tzinfo=UTC)})
    result = compare([expected], index, rules)
    assert {d.outcome for d in result.differences} == {Outcome.BEYOND_RETENTION}
    assert result.field_counts["identifiers"][Outcome.NORMALISED] == 1
    assert "dateOfBirth" not in result.field_counts


def test_include_and_ignore_choose_the_fields() -> None:
    rules = SourceRules("rest", include=("ext",), ignore=("ext.address",))
    result = compare([_expected()], _rest(), rules)
    assert set(result.field_counts) == {"ext.loyaltyTier", "ext.favouriteCategories[0]"}


def test_mapping_moves_values_and_leaves_the_design_untouched() -> None:
    from cdp_poc_studio.roundtrip.mapping import apply_mapping
    from cdp_poc_studio.roundtrip.scenario import MappingRule

    guest = {"firstName": "Jane", "extensions": [{"name": "ext", "key": "default", "tier": "gold"}]}
    rules = [
        MappingRule(source="ext.tier", target="ext2.loyaltyTier"),
        MappingRule(source="firstName", target="lastName"),
    ]
    mapped = apply_mapping(guest, rules)
    assert mapped == {"lastName": "Jane", "extensions": [{"name": "ext2", "key": "default", "loyaltyTier": "gold"}]}
    assert guest["firstName"] == "Jane"


def test_a_changed_type_is_seen_even_when_values_compare_equal() -> None:
    expected = [Expected("P:1", None, {"vip": True, "points": 12, "tier": "gold"})]
    returned = {"P:1": Returned({"vip": 1, "points": 12.0, "tier": "gold"})}
    result = compare(expected, returned, SourceRules("rest"))
    outcomes = {d.path: d.outcome for d in result.differences}
    assert outcomes == {"vip": Outcome.TYPE_CHANGED}
    assert result.field_counts["points"] == {Outcome.NORMALISED: 1}
    assert result.field_counts["tier"] == {Outcome.EQUAL: 1}


def test_order_fields_are_counted_by_pattern() -> None:
    fields = {"orders.R-1.price": 1.0, "orders.R-2.price": 2.0, "orders.R-1.items.R-1-1.name": "a"}
    expected = [Expected("P:1", None, fields), Expected("P:2", None, dict(fields))]
    returned = {"P:1": Returned(dict(fields)), "P:2": Returned({**fields, "orders.R-2.price": 3.0})}
    result = compare(expected, returned, SourceRules("rest"))
    assert result.field_counts["orders.*.price"] == {Outcome.EQUAL: 3, Outcome.VALUE_CHANGED: 1}
    assert result.field_counts["orders.*.items.*.name"] == {Outcome.EQUAL: 2}
    assert [d.path for d in result.differences] == ["orders.R-2.price"]
