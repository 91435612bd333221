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
    assert result.normalised_examples[0].explanation == "date-time format"
    assert result.normalised_examples[0].rule == "N-DATETIME"
    assert result.field_counts["ext.address.city"][Outcome.EQUAL] == 1
    assert result.field_counts["ext1.preferences[0].channel"][Outcome.EQUAL] == 1
    assert result.field_counts["orders.*.items.*.name"][Outcome.EQUAL] == 1


def test_a_mapping_to_the_wrong_key_is_explained() -> None:
    flat = {**FLAT, "ext": {k: v for k, v in FLAT["ext"].items() if k != "loyaltyTier"} | {"loyaltyTeir": "gold"}}
    result = compare([_expected()], _rest(flat=flat), SourceRules("rest"))
    (difference,) = result.differences
    assert difference.path == "ext.loyaltyTier"
    assert difference.outcome is Outcome.MAPPING_ERROR
    assert difference.rule == "D-MAPPING-ERROR"
    assert "ext.loyaltyTeir" in difference.explanation


def test_a_mapping_error_needs_type_and_value_to_match_uniquely() -> None:
    expected = [Expected("P:1", None, {"ext.vip": True, "ext.points": 1.0, "ext.a": True, "ext.b": True})]
    # True == 1.0 in Python: not a mapping error. Two sent booleans and one unexpected boolean: ambiguous.
    returned = {"P:1": Returned({}, {"ext.other": 1.0, "ext.flag": True})}
    result = compare(expected, returned, SourceRules("rest"))
    outcomes = {d.path: d.outcome for d in result.differences}
    assert outcomes["ext.vip"] is Outcome.FIELD_MISSING
    assert outcomes["ext.points"] is Outcome.MAPPING_ERROR  # 1.0 float at ext.other: the one float match
    assert outcomes["ext.flag"] is Outcome.EXTRA_FIELD
    assert "ext.other" not in outcomes


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


def test_export_csv_row_is_typed_joined_and_a_missing_recent_order_is_not_excused() -> None:
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
        order_limit=20,
    )
    expected = _expected(order_dates={"R-1": datetime(2025, 6, 1, tzinfo=UTC)})
    result = compare([expected], index, rules)
    # One order, so it is among the last 20: not excused, whatever its age.
    assert {d.outcome for d in result.differences} == {Outcome.FIELD_MISSING}
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
    # An extension integer that comes back a float changed type: only prices may (N-NUMBER).
    assert outcomes == {"vip": Outcome.TYPE_CHANGED, "points": Outcome.TYPE_CHANGED}
    assert result.field_counts["tier"] == {Outcome.EQUAL: 1}


def test_order_fields_are_counted_by_pattern() -> None:
    fields = {"orders.R-1.price": 1.0, "orders.R-2.price": 2.0, "orders.R-1.items.R-1-1.name": "a"}
    expected = [Expected("P:1", None, fields), Expected("P:2", None, dict(fields))]
    returned = {"P:1": Returned(dict(fields)), "P:2": Returned({**fields, "orders.R-2.price": 3.0})}
    result = compare(expected, returned, SourceRules("rest"))
    assert result.field_counts["orders.*.price"] == {Outcome.EQUAL: 3, Outcome.VALUE_CHANGED: 1}
    assert result.field_counts["orders.*.items.*.name"] == {Outcome.EQUAL: 2}
    assert [d.path for d in result.differences] == ["orders.R-2.price"]


def test_case_and_spaces_are_changes() -> None:
    expected = [Expected("P:1", None, {"firstName": "Jane", "ext.tier": "gold", "postCode": "D2"})]
    returned = {"P:1": Returned({"firstName": "jane", "ext.tier": " gold", "postCode": "D2"})}
    result = compare(expected, returned, SourceRules("rest"))
    assert {d.path: d.outcome for d in result.differences} == {
        "firstName": Outcome.VALUE_CHANGED,
        "ext.tier": Outcome.VALUE_CHANGED,
    }


def test_what_came_back_unsent_is_a_difference_at_every_level() -> None:
    flat = {**FLAT, "ext": {**FLAT["ext"], "bonus": 5}}
    back = returned_from_rest(
        SCHEMA,
        {**GUEST, "nickname": "J"},
        flat,
        [
            (
                {k: v for k, v in ORDER.items() if k != "orderItems"},
                {"name": "ext", "promotion": "none", "extraKey": "x"},
                [(ORDER["orderItems"][0], None), ({"referenceId": "R-1-9", "name": "Hat", "price": 1.0}, None)],
            ),
            ({"referenceId": "R-9", "price": 3.0, "orderedAt": "2025-06-01T10:00:00.000Z"}, None, []),
        ],
    )
    result = compare([_expected()], index_returned([(back, ["P:1"])]), SourceRules("rest"))
    outcomes = {d.path: (d.outcome, d.rule) for d in result.differences if d.outcome is not Outcome.EQUAL}
    assert outcomes == {
        "nickname": (Outcome.EXTRA_FIELD, "D-EXTRA-FIELD"),
        "ext.bonus": (Outcome.EXTRA_FIELD, "D-EXTRA-FIELD"),
        "orders.R-1.ext.extraKey": (Outcome.EXTRA_FIELD, "D-EXTRA-FIELD"),
        "orders.R-1.items.R-1-9": (Outcome.EXTRA_ITEM, "D-EXTRA-ITEM"),
        "orders.R-9": (Outcome.EXTRA_ORDER, "D-EXTRA-ORDER"),
    }
    assert result.field_pass_rate < 1.0


def test_duplicates_and_relinked_orders() -> None:
    fields_1 = {"firstName": "A", "orders.R-1.price": 1.0}
    fields_2 = {"firstName": "B", "orders.R-2.price": 2.0}
    expected = [Expected("P:1", None, fields_1), Expected("P:2", None, fields_2)]
    returned = {
        "P:1": Returned({"firstName": "A"}, duplicates=("ref-2",)),
        "P:2": Returned({"firstName": "B", "orders.R-2.price": 2.0, "orders.R-1.price": 1.0}),
    }
    result = compare(expected, returned, SourceRules("export"))
    outcomes = {(d.record, d.path): d.outcome for d in result.differences}
    assert outcomes == {
        ("P:1", "*"): Outcome.DUPLICATE,
        ("P:1", "orders.R-1"): Outcome.RELINKED,
        ("P:2", "orders.R-1"): Outcome.RELINKED,
    }


def test_rest_names_the_guest_a_missing_order_moved_to() -> None:
    expected = [Expected("P:1", None, {"firstName": "A", "orders.R-1.price": 1.0})]
    returned = {"P:1": Returned({"firstName": "A"}, moved_orders={"R-1": ["guest-9"]})}
    (difference,) = compare(expected, returned, SourceRules("rest")).differences
    assert (difference.path, difference.outcome) == ("orders.R-1", Outcome.RELINKED)
    assert "guest-9" in difference.explanation


def test_only_orders_beyond_the_last_20_by_ordered_at_are_excused() -> None:
    dates = {f"R-{n}": datetime(2020, 1, 1 + n, tzinfo=UTC) for n in range(25)}
    fields = {f"orders.{ref}.price": 1.0 for ref in dates}
    kept = {f"orders.R-{n}.price": 1.0 for n in range(5, 25) if n != 20}  # R-20 deleted in CDP
    expected = [Expected("P:1", None, fields, order_dates=dates)]
    result = compare(expected, {"P:1": Returned(kept)}, SourceRules("export", order_limit=20))
    outcomes = {d.path: (d.outcome, d.rule) for d in result.differences}
    assert outcomes.pop("orders.R-20") == (Outcome.FIELD_MISSING, "D-FIELD-MISSING")
    assert outcomes == {f"orders.R-{n}": (Outcome.BEYOND_RETENTION, "X-ORDERS-20") for n in range(5)}


def test_a_rejected_guest_that_reappears_stays_rejected() -> None:
    expected = [Expected("P:1", None, {"firstName": "A"}, rejected=(400, "Validation error"))]
    returned = {"P:1": Returned({"firstName": "A"})}
    result = compare(expected, returned, SourceRules("export"), extra_keys=["P:1"])
    assert [(d.outcome, d.rule) for d in result.differences] == [(Outcome.REJECTED, "X-REJECTED")]
    assert result.records_extra == 0


def test_a_delta_excuses_guests_already_in_the_audience_only() -> None:
    expected = [Expected("P:1", None, {"firstName": "A"}), Expected("P:2", None, {"firstName": "B"})]
    result = compare(expected, {}, SourceRules("export", previous_audience={"P:1"}))
    outcomes = {d.record: (d.outcome, d.rule) for d in result.differences}
    assert outcomes == {
        "P:1": (Outcome.UNCHANGED_IN_DELTA, "X-DELTA"),
        "P:2": (Outcome.RECORD_MISSING, "D-RECORD-MISSING"),
    }
