"""Comparing one sent value with what CDP gave back, forgiving what CDP legitimately changes.

CDP may write a date in another format (`1985-12-24T00:00Z` comes back as `1985-12-24T00:00:00.000Z`), change
casing, write 12 as 12.0, return list fields whose order carries no meaning in another order, and CSV exports
give text for every value. Each of those is "equal after normalisation", a pass that says what changed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    EQUAL = "equal"
    NORMALISED = "equal_after_normalisation"
    RECORD_MISSING = "record_missing"
    EXTRA_RECORD = "extra_record"
    FIELD_MISSING = "field_missing"
    VALUE_CHANGED = "value_changed"
    TYPE_CHANGED = "type_changed"
    REJECTED = "rejected_at_upload"
    BEYOND_RETENTION = "beyond_retention"
    NOT_IN_SNAPSHOT = "not_yet_in_snapshot"

    @property
    def passes(self) -> bool:
        return self in (Outcome.EQUAL, Outcome.NORMALISED)

    @property
    def explained(self) -> bool:
        """CDP's own time and retention semantics, not a defect: neither a pass nor a failure."""
        return self in (Outcome.BEYOND_RETENTION, Outcome.NOT_IN_SNAPSHOT)

    @property
    def fails(self) -> bool:
        return not (self.passes or self.explained)


# Guest list attributes whose order means nothing to CDP.
UNORDERED_FIELDS = frozenset({"identifiers", "emails", "phoneNumbers"})


def compare_values(expected: Any, actual: Any, *, from_text: bool, unordered: bool = False) -> tuple[Outcome, str]:
    """The outcome of comparing one field, and what was normalised (empty when nothing was)."""
    if _same(expected, actual):
        return Outcome.EQUAL, ""
    if from_text and isinstance(actual, str) and not isinstance(expected, str):
        typed = _from_text(actual, expected)
        if typed is not _UNPARSED:
            outcome, note = compare_values(expected, typed, from_text=False, unordered=unordered)
            if outcome.passes:
                return Outcome.NORMALISED, "CSV text read as " + type(expected).__name__ + (f", {note}" if note else "")
            return outcome, note
    if isinstance(expected, bool) or isinstance(actual, bool):
        return (Outcome.TYPE_CHANGED, "") if type(expected) is not type(actual) else (Outcome.VALUE_CHANGED, "")
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        if float(expected) == float(actual):
            return Outcome.NORMALISED, "number format"
        return Outcome.VALUE_CHANGED, ""
    if isinstance(expected, str) and isinstance(actual, str):
        return _compare_text(expected, actual)
    if isinstance(expected, list) and isinstance(actual, list):
        if unordered and sorted(map(_canonical, expected)) == sorted(map(_canonical, actual)):
            return Outcome.NORMALISED, "list order"
        if len(expected) == len(actual):
            notes = []
            for sent, back in zip(expected, actual, strict=True):
                outcome, note = compare_values(sent, back, from_text=from_text)
                if not outcome.passes:
                    return Outcome.VALUE_CHANGED, ""
                if note:
                    notes.append(note)
            return Outcome.NORMALISED, ", ".join(sorted(set(notes)))
        return Outcome.VALUE_CHANGED, ""
    if isinstance(expected, dict) and isinstance(actual, dict):
        # Objects in lists (identifiers): CDP may add keys of its own; compare what was sent.
        notes = []
        for key, sent in expected.items():
            if key not in actual:
                return Outcome.VALUE_CHANGED, ""
            outcome, note = compare_values(sent, actual[key], from_text=from_text)
            if not outcome.passes:
                return Outcome.VALUE_CHANGED, ""
            if note:
                notes.append(note)
        return Outcome.NORMALISED, ", ".join(sorted(set(notes))) or "extra keys added by CDP"
    return Outcome.TYPE_CHANGED, ""


def _same(expected: Any, actual: Any) -> bool:
    # True == 1 in Python; in JSON a boolean and a number are different types.
    return type(expected) is type(actual) and expected == actual


def _compare_text(expected: str, actual: str) -> tuple[Outcome, str]:
    sent_time, back_time = _timestamp(expected), _timestamp(actual)
    if sent_time is not None and back_time is not None:
        return (Outcome.NORMALISED, "date format") if sent_time == back_time else (Outcome.VALUE_CHANGED, "")
    if expected.casefold() == actual.casefold():
        return Outcome.NORMALISED, "casing"
    if expected.strip() == actual.strip():
        return Outcome.NORMALISED, "surrounding spaces"
    return Outcome.VALUE_CHANGED, ""


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
    """A CSV cell as the type that was sent, or _UNPARSED."""
    try:
        if isinstance(like, bool):
            lowered = text.strip().lower()
            return {"true": True, "false": False}.get(lowered, _UNPARSED)
        if isinstance(like, int):
            return int(text)
        if isinstance(like, float):
            return float(text)
        if isinstance(like, list | dict):
            return json.loads(text)
    except ValueError:
        return _UNPARSED
    return _UNPARSED


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
