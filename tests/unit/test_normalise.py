"""Comparing one value: what CDP legitimately changes passes as normalised; anything else is classified."""

import pytest

from cdp_poc_studio.roundtrip.normalise import Outcome, compare_values

CASES = [
    ("gold", "gold", False, Outcome.EQUAL, ""),
    ("1985-12-24T00:00Z", "1985-12-24T00:00:00.000Z", False, Outcome.NORMALISED, "date format"),
    ("1985-12-24T00:00Z", "1985-12-25T00:00:00.000Z", False, Outcome.VALUE_CHANGED, ""),
    ("D2", "d2", False, Outcome.NORMALISED, "casing"),
    (12, 12.0, False, Outcome.NORMALISED, "number format"),
    (12.5, "12.5", True, Outcome.NORMALISED, "CSV text read as float"),
    (True, "true", True, Outcome.NORMALISED, "CSV text read as bool"),
    (7, "7", True, Outcome.NORMALISED, "CSV text read as int"),
    (7, "7", False, Outcome.TYPE_CHANGED, ""),
    (True, 1, False, Outcome.TYPE_CHANGED, ""),
    (True, False, False, Outcome.VALUE_CHANGED, ""),
    ("gold", "silver", False, Outcome.VALUE_CHANGED, ""),
    (["a", "b"], ["a", "b"], False, Outcome.EQUAL, ""),
    (["x@e.com", "y@e.com"], '["x@e.com","y@e.com"]', True, Outcome.NORMALISED, "CSV text read as list"),
]


@pytest.mark.parametrize(("sent", "back", "from_text", "outcome", "note"), CASES)
def test_compare_values(sent: object, back: object, from_text: bool, outcome: Outcome, note: str) -> None:
    assert compare_values(sent, back, from_text=from_text) == (outcome, note)


def test_list_order_counts_only_where_it_carries_meaning() -> None:
    assert compare_values(["1", "2"], ["2", "1"], from_text=False, unordered=True) == (Outcome.NORMALISED, "list order")
    assert compare_values(["1", "2"], ["2", "1"], from_text=False)[0] is Outcome.VALUE_CHANGED


def test_identifiers_with_keys_cdp_adds_pass() -> None:
    sent = [{"provider": "CRM", "id": "1"}]
    back = [{"provider": "CRM", "id": "1", "expiryDate": "2030-01-01T00:00:00.000Z"}]
    outcome, _ = compare_values(sent, back, from_text=False, unordered=True)
    assert outcome is Outcome.NORMALISED
