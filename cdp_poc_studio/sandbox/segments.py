"""Segments: rules over guest attributes, extension keys and order facts, compiled to a Python predicate.

A segment is `{"match": "all"|"any", "rules": [rule, ...]}`; a rule is one of

    {"attribute": "country", "op": "eq", "value": "IE"}           guest attribute (also guestRef, createdAt, ...)
    {"extension": "loyaltyTier", "op": "in", "value": ["gold"]}   key in any data extension ("ext1.tier" for one)
    {"order": "count", "op": "gte", "value": 2}                   order facts: count, totalPrice, firstOrderedAt,
                                                                  lastOrderedAt, status (any order with it)
    {"match": "any", "rules": [...]}                              a nested group

Operators: eq, ne, in, notIn, gt, gte, lt, lte, exists, notExists, contains, startsWith.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OPS = ("eq", "ne", "in", "notIn", "gt", "gte", "lt", "lte", "exists", "notExists", "contains", "startsWith")
ORDER_FACTS = ("count", "totalPrice", "firstOrderedAt", "lastOrderedAt", "status")
MISSING = object()


@dataclass
class GuestFacts:
    """What a rule can look at for one guest."""

    ref: str
    created_at: str
    modified_at: str
    data: dict[str, Any]
    exts: dict[str, Any]
    orders: dict[str, Any] = field(default_factory=dict)

    def attribute(self, name: str) -> Any:
        if name in ("guestRef", "ref"):
            return self.ref
        if name == "createdAt":
            return self.created_at
        if name == "modifiedAt":
            return self.modified_at
        return self.data.get(name, MISSING)

    def extension(self, name: str) -> Any:
        group, dot, key = name.partition(".")
        if dot:
            ext = self.exts.get(group)
            return MISSING if ext is None else ext["values"].get(key, MISSING)
        for ext in self.exts.values():
            if name in ext["values"]:
                return ext["values"][name]
        return MISSING


Predicate = Callable[[GuestFacts], bool]


class SegmentError(ValueError):
    pass


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "exists":
        return actual is not MISSING and actual is not None
    if op == "notExists":
        return actual is MISSING or actual is None
    if actual is MISSING or actual is None:
        return op in ("ne", "notIn")
    values = actual if isinstance(actual, list) else [actual]  # list attributes match if any element does
    try:
        if op == "eq":
            return any(v == expected for v in values)
        if op == "ne":
            return all(v != expected for v in values)
        if op == "in":
            return any(v in expected for v in values)
        if op == "notIn":
            return all(v not in expected for v in values)
        if op == "contains":
            return any(isinstance(v, str) and str(expected) in v for v in values)
        if op == "startsWith":
            return any(isinstance(v, str) and v.startswith(str(expected)) for v in values)
        if op == "gt":
            return any(v > expected for v in values)
        if op == "gte":
            return any(v >= expected for v in values)
        if op == "lt":
            return any(v < expected for v in values)
        if op == "lte":
            return any(v <= expected for v in values)
    except TypeError:
        return False
    raise SegmentError(f"unknown operator {op!r}")


def compile_segment(segment: dict[str, Any] | None) -> tuple[Predicate, bool]:
    """A predicate and whether it needs order facts. An empty segment matches every guest."""
    if not segment:
        return (lambda _facts: True), False
    needs_orders = [False]
    predicate = _compile_group(segment, needs_orders)
    return predicate, needs_orders[0]


def _compile_group(group: dict[str, Any], needs_orders: list[bool]) -> Predicate:
    match = group.get("match", "all")
    if match not in ("all", "any"):
        raise SegmentError("match must be all or any")
    rules = group.get("rules", [])
    if not isinstance(rules, list):
        raise SegmentError("rules must be a list")
    compiled = [_compile_rule(rule, needs_orders) for rule in rules]
    if not compiled:
        return lambda _facts: True
    if match == "all":
        return lambda facts: all(p(facts) for p in compiled)
    return lambda facts: any(p(facts) for p in compiled)


def _compile_rule(rule: Any, needs_orders: list[bool]) -> Predicate:
    if not isinstance(rule, dict):
        raise SegmentError("a rule must be an object")
    if "rules" in rule:
        return _compile_group(rule, needs_orders)
    op = rule.get("op", "eq")
    if op not in OPS:
        raise SegmentError(f"unknown operator {op!r}; use one of {', '.join(OPS)}")
    expected = rule.get("value")
    if op in ("in", "notIn") and not isinstance(expected, list):
        raise SegmentError(f"{op} needs a list value")
    if op not in ("exists", "notExists") and "value" not in rule:
        raise SegmentError(f"{op} needs a value")
    if "attribute" in rule:
        name = str(rule["attribute"])
        return lambda facts: _compare(op, facts.attribute(name), expected)
    if "extension" in rule:
        key = str(rule["extension"])
        return lambda facts: _compare(op, facts.extension(key), expected)
    if "order" in rule:
        fact = rule["order"]
        if fact not in ORDER_FACTS:
            raise SegmentError(f"unknown order fact {fact!r}; use one of {', '.join(ORDER_FACTS)}")
        needs_orders[0] = True
        if fact == "status":
            return lambda facts: _compare(op, facts.orders.get("statuses", []) or MISSING, expected)
        return lambda facts: _compare(
            op, facts.orders.get(fact, 0 if fact in ("count", "totalPrice") else MISSING), expected
        )
    raise SegmentError("a rule needs attribute, extension, order or rules")
