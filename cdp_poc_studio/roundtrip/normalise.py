"""Comparing one sent value with what CDP gave back, per field and per rule (docs/verification.md).

A value passes when it came back exactly, type included. It passes as "equal after normalisation" only where a
rule of the spec allows the change for that kind of field: another ISO 8601 form of a date-time attribute
(N-DATETIME), another form of the same price (N-NUMBER), identifiers in another order (N-IDENTIFIERS-ORDER), the
text form of a typed value in a CSV export (N-CSV-TEXT). Nothing else is forgiven: letter case and surrounding
spaces are values like any other.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any


class Outcome(StrEnum):
    EQUAL = "equal"
    NORMALISED = "equal_after_normalisation"
    RECORD_MISSING = "record_missing"
    EXTRA_RECORD = "extra_record"
    FIELD_MISSING = "field_missing"
    VALUE_CHANGED = "value_changed"
    TYPE_CHANGED = "type_changed"
    EXTRA_FIELD = "extra_field"
    EXTRA_ORDER = "extra_order"
    EXTRA_ITEM = "extra_item"
    DUPLICATE = "duplicate_record"
    RELINKED = "linked_to_another_guest"
    MAPPING_ERROR = "mapping_error"
    REJECTED = "rejected_at_upload"
    BEYOND_RETENTION = "beyond_retention"
    NOT_IN_SNAPSHOT = "not_yet_in_snapshot"
    UNCHANGED_IN_DELTA = "unchanged_in_delta"

    @property
    def passes(self) -> bool:
        return self in (Outcome.EQUAL, Outcome.NORMALISED)

    @property
    def explained(self) -> bool:
        """CDP's own time, retention and delta semantics, not a defect: neither a pass nor a failure."""
        return self in (Outcome.BEYOND_RETENTION, Outcome.NOT_IN_SNAPSHOT, Outcome.UNCHANGED_IN_DELTA)

    @property
    def fails(self) -> bool:
        return not (self.passes or self.explained)


# The rule of the spec behind each outcome that is not a normalisation (normalisations name their own rule).
OUTCOME_RULES = {
    Outcome.RECORD_MISSING: "D-RECORD-MISSING",
    Outcome.EXTRA_RECORD: "D-EXTRA-RECORD",
    Outcome.FIELD_MISSING: "D-FIELD-MISSING",
    Outcome.VALUE_CHANGED: "D-VALUE-CHANGED",
    Outcome.TYPE_CHANGED: "D-TYPE-CHANGED",
    Outcome.EXTRA_FIELD: "D-EXTRA-FIELD",
    Outcome.EXTRA_ORDER: "D-EXTRA-ORDER",
    Outcome.EXTRA_ITEM: "D-EXTRA-ITEM",
    Outcome.DUPLICATE: "D-DUPLICATE",
    Outcome.RELINKED: "D-RELINKED",
    Outcome.MAPPING_ERROR: "D-MAPPING-ERROR",
    Outcome.REJECTED: "X-REJECTED",
    Outcome.NOT_IN_SNAPSHOT: "X-SNAPSHOT",
    Outcome.BEYOND_RETENTION: "X-ORDERS-20",
    Outcome.UNCHANGED_IN_DELTA: "X-DELTA",
}

# Field kinds, by field path pattern (order paths as `orders.*.…`, see verify.field_pattern).
_DATETIME_ATTRIBUTES = frozenset({"dateOfBirth", "passportExpiry", "firstSeen", "lastSeen"})
_ORDER_DATETIMES = frozenset({"orderedAt"})
_PRICES = frozenset({"price", "originalPrice"})


@lru_cache(maxsize=4096)
def field_rules(pattern: str) -> frozenset[str]:
    """The normalisation rules that apply to a field, by its path pattern; empty: it must come back exactly."""
    if "@accessor" in pattern:
        # The decisions source: a leaf accessor returns a Date as an ISO date-time (N-DECISION-DATE).
        return frozenset({"N-DECISION-DATE"})
    if pattern.startswith("orders.*."):
        parts = pattern.split(".")
        leaf = parts[-1]
        in_extension = "ext" in parts[2:-1]
        if in_extension:
            return frozenset()
        if leaf in _ORDER_DATETIMES:
            return frozenset({"N-DATETIME"})
        if leaf in _PRICES:
            return frozenset({"N-NUMBER"})
        return frozenset()
    if pattern in _DATETIME_ATTRIBUTES:
        return frozenset({"N-DATETIME"})
    if pattern == "identifiers":
        return frozenset({"N-IDENTIFIERS-ORDER", "N-DATETIME"})  # N-DATETIME for expiryDate inside
    return frozenset()


NO_RULES: frozenset[str] = frozenset()


def compare_values(
    expected: Any, actual: Any, *, allowed: frozenset[str] = NO_RULES, from_text: bool = False
) -> tuple[Outcome, str, str]:
    """The outcome of comparing one field, the rule behind it (empty when equal) and what was normalised."""
    if type(expected) is type(actual) and expected == actual:
        return Outcome.EQUAL, "", ""
    if from_text and isinstance(actual, str) and not isinstance(expected, str):
        typed = _from_text(actual, expected)
        if typed is _UNPARSED:
            return Outcome.TYPE_CHANGED, "D-TYPE-CHANGED", ""
        outcome, rule, note = compare_values(expected, typed, allowed=allowed)
        if outcome.passes:
            rules = ", ".join(r for r in ("N-CSV-TEXT", rule) if r)
            return (
                Outcome.NORMALISED,
                rules,
                f"CSV text read as {type(expected).__name__}" + (f", {note}" if note else ""),
            )
        return outcome, rule, note
    if type(expected) is not type(actual):
        # A price written 100 or 100.0 is one JSON number (N-NUMBER); any other change of type is a difference.
        if "N-NUMBER" in allowed and _is_number(expected) and _is_number(actual) and float(expected) == float(actual):
            return Outcome.NORMALISED, "N-NUMBER", "number format"
        return Outcome.TYPE_CHANGED, "D-TYPE-CHANGED", ""
    if isinstance(expected, str):
        for rule in ("N-DATETIME", "N-DECISION-DATE"):
            if rule in allowed:
                sent_time, back_time = _timestamp(expected), _timestamp(actual)
                if sent_time is not None and sent_time == back_time:
                    return Outcome.NORMALISED, rule, "date-time format"
        return Outcome.VALUE_CHANGED, "D-VALUE-CHANGED", ""
    if isinstance(expected, list):
        return _compare_lists(expected, actual, allowed)
    if isinstance(expected, dict):
        return _compare_objects(expected, actual, allowed)
    return Outcome.VALUE_CHANGED, "D-VALUE-CHANGED", ""


def _compare_lists(expected: list[Any], actual: list[Any], allowed: frozenset[str]) -> tuple[Outcome, str, str]:
    if len(expected) != len(actual):
        return Outcome.VALUE_CHANGED, "D-VALUE-CHANGED", ""
    pairs = list(zip(expected, actual, strict=True))
    rules: list[str] = []
    if "N-IDENTIFIERS-ORDER" in allowed and not _pairs_pass(pairs, allowed):
        # An identity is a set: match each sent identifier with the returned one of the same provider and id.
        by_key = {_identity(item): item for item in actual}
        if len(by_key) != len(actual) or any(_identity(item) not in by_key for item in expected):
            return Outcome.VALUE_CHANGED, "D-VALUE-CHANGED", ""
        pairs = [(item, by_key[_identity(item)]) for item in expected]
        rules.append("N-IDENTIFIERS-ORDER")
    notes: list[str] = ["list order"] if rules else []
    for sent, back in pairs:
        outcome, rule, note = compare_values(sent, back, allowed=allowed)
        if not outcome.passes:
            return outcome, rule, note
        if rule:
            rules.extend(r for r in rule.split(", ") if r not in rules)
            notes.append(note)
    return Outcome.NORMALISED, ", ".join(rules), ", ".join(dict.fromkeys(n for n in notes if n))


def _pairs_pass(pairs: list[tuple[Any, Any]], allowed: frozenset[str]) -> bool:
    return all(compare_values(s, b, allowed=allowed)[0].passes for s, b in pairs)


def _compare_objects(
    expected: dict[str, Any], actual: dict[str, Any], allowed: frozenset[str]
) -> tuple[Outcome, str, str]:
    # Objects inside attributes (identifiers) come back with exactly the keys sent: no key added, none lost.
    if expected.keys() != actual.keys():
        return Outcome.VALUE_CHANGED, "D-VALUE-CHANGED", ""
    rules: list[str] = []
    notes: list[str] = []
    for key, sent in expected.items():
        outcome, rule, note = compare_values(sent, actual[key], allowed=allowed)
        if not outcome.passes:
            return outcome, rule, note
        if rule:
            rules.extend(r for r in rule.split(", ") if r not in rules)
            notes.append(note)
    return Outcome.NORMALISED, ", ".join(rules), ", ".join(dict.fromkeys(n for n in notes if n))


def _identity(item: Any) -> Any:
    return (item.get("provider"), item.get("id")) if isinstance(item, dict) else json.dumps(item, sort_keys=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(text: str) -> datetime | None:
    if len(text) < 10 or not text[:4].isdigit() or text[4] != "-":
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_UNPARSED: Any = object()


def _from_text(text: str, like: Any) -> Any:
    """A CSV cell as the type that was sent, or _UNPARSED. Only the canonical text form of each type is read."""
    try:
        if isinstance(like, bool):
            return {"true": True, "false": False}.get(text, _UNPARSED)
        if isinstance(like, int):
            return int(text) if text.lstrip("-").isdigit() else _UNPARSED
        if isinstance(like, float):
            number = float(text)
            return number if text.strip() == text else _UNPARSED
        if isinstance(like, list | dict):
            parsed = json.loads(text)
            return parsed if type(parsed) is type(like) else _UNPARSED
    except ValueError:
        return _UNPARSED
    return _UNPARSED
