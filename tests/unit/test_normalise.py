"""Comparing one value: only the changes a rule of docs/verification.md allows for that field pass as normalised."""

import pytest

from cdp_poc_studio.roundtrip.normalise import Outcome, compare_values, field_rules

DATETIME = field_rules("dateOfBirth")
PRICE = field_rules("orders.*.price")
IDENTIFIERS = field_rules("identifiers")
NONE: frozenset[str] = frozenset()
CSV = frozenset({"N-CSV-TEXT"})

CASES = [
    ("gold", "gold", NONE, False, Outcome.EQUAL, ""),
    ("1985-12-24T00:00Z", "1985-12-24T00:00:00.000Z", DATETIME, False, Outcome.NORMALISED, "N-DATETIME"),
    ("1985-12-24T00:00Z", "1985-12-25T00:00:00.000Z", DATETIME, False, Outcome.VALUE_CHANGED, "D-VALUE-CHANGED"),
    # A date-like string in an extension is a string like any other: no rule.
    ("1985-12-24T00:00Z", "1985-12-24T00:00:00.000Z", NONE, False, Outcome.VALUE_CHANGED, "D-VALUE-CHANGED"),
    ("D2", "d2", NONE, False, Outcome.VALUE_CHANGED, "D-VALUE-CHANGED"),
    ("gold", " gold ", NONE, False, Outcome.VALUE_CHANGED, "D-VALUE-CHANGED"),
    (12, 12.0, PRICE, False, Outcome.NORMALISED, "N-NUMBER"),
    (12, 12.0, NONE, False, Outcome.TYPE_CHANGED, "D-TYPE-CHANGED"),
    (12.5, "12.5", CSV, True, Outcome.NORMALISED, "N-CSV-TEXT"),
    (True, "true", CSV, True, Outcome.NORMALISED, "N-CSV-TEXT"),
    (True, "True", CSV, True, Outcome.TYPE_CHANGED, "D-TYPE-CHANGED"),
    (7, "7", CSV, True, Outcome.NORMALISED, "N-CSV-TEXT"),
    (7, "8", CSV, True, Outcome.VALUE_CHANGED, "D-VALUE-CHANGED"),
    (7, "7", NONE, False, Outcome.TYPE_CHANGED, "D-TYPE-CHANGED"),
    (True, 1, NONE, False, Outcome.TYPE_CHANGED, "D-TYPE-CHANGED"),
    (True, 1.0, PRICE, False, Outcome.TYPE_CHANGED, "D-TYPE-CHANGED"),
    (True, False, NONE, False, Outcome.VALUE_CHANGED, "D-VALUE-CHANGED"),
    (["a", "b"], ["a", "b"], NONE, False, Outcome.EQUAL, ""),
    (["a", "b"], ["b", "a"], NONE, False, Outcome.VALUE_CHANGED, "D-VALUE-CHANGED"),
    (["x@e.com"], '["x@e.com"]', CSV, True, Outcome.NORMALISED, "N-CSV-TEXT"),
]


@pytest.mark.parametrize(("sent", "back", "allowed", "from_text", "outcome", "rule"), CASES)
def test_compare_values(
    sent: object, back: object, allowed: frozenset[str], from_text: bool, outcome: Outcome, rule: str
) -> None:
    assert compare_values(sent, back, allowed=allowed, from_text=from_text)[:2] == (outcome, rule)


def test_identifiers_may_come_back_in_another_order_with_another_date_form() -> None:
    sent = [{"provider": "A", "id": "1"}, {"provider": "B", "id": "2", "expiryDate": "2030-01-01T00:00Z"}]
    back = [{"provider": "B", "id": "2", "expiryDate": "2030-01-01T00:00:00.000Z"}, {"provider": "A", "id": "1"}]
    outcome, rule, _ = compare_values(sent, back, allowed=IDENTIFIERS)
    assert outcome is Outcome.NORMALISED
    assert rule == "N-IDENTIFIERS-ORDER, N-DATETIME"


def test_identifiers_with_a_key_added_or_lost_differ() -> None:
    sent = [{"provider": "CRM", "id": "1"}]
    back = [{"provider": "CRM", "id": "1", "expiryDate": "2030-01-01T00:00:00.000Z"}]
    assert compare_values(sent, back, allowed=IDENTIFIERS)[0] is Outcome.VALUE_CHANGED
    assert compare_values(back, sent, allowed=IDENTIFIERS)[0] is Outcome.VALUE_CHANGED


def test_rules_are_per_field() -> None:
    assert field_rules("orders.*.orderedAt") == {"N-DATETIME"}
    assert field_rules("orders.*.items.*.price") == {"N-NUMBER"}
    assert field_rules("orders.*.ext.price") == frozenset()
    assert field_rules("ext.dateOfBirth") == frozenset()
    assert field_rules("firstName") == frozenset()
