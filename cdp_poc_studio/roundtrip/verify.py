"""Field-level verification: join what was sent with what came back, compare, classify every difference.

Records are compared as flat maps of field paths (`firstName`, `ext.address.city`, `ext.stays[1].hotel`,
`orders.R-1.price`, `orders.R-1.items.R-1-2.name`). Nested extension values are rebuilt from CDP's flat keys by
the reverse of their flattening first, so a difference is named by the field the architect designed. A record
whose maps are equal passes whole, at the speed of a dictionary comparison; only the others are walked field by
field.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from operator import itemgetter
from types import MappingProxyType
from typing import Any, Literal

import orjson

from cdp_poc_studio.domain.flatten import possible_keys, unflatten_group
from cdp_poc_studio.domain.join_keys import email_key, identifier_key
from cdp_poc_studio.domain.lint import parse_timestamp
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.normalise import OUTCOME_RULES, Outcome, compare_values, field_rules

Source = Literal["rest", "export", "decisions"]
FieldMap = dict[str, Any]
# Extension resource envelope (facts §4.1, §5.7): not data. Schema fields may not use these names (schema_check).
_ENVELOPE = frozenset({"name", "key", "ref", "href", "createdAt", "modifiedAt", "guest", "order", "orderItem"})
# Order and item attributes CDP assigns or links by itself (facts §2.1, §5.3): not compared unless sent.
_ORDER_METADATA = frozenset({"orderRef", "contacts", "guest", "order", "orderItems", "orderItem"})
_READ_ONLY = frozenset(
    {
        "ref",
        "href",
        "createdAt",
        "modifiedAt",
        "firstSeen",
        "lastSeen",
        "dataExtensions",
        "extensions",
        "orders",
        "subscriptions",
        "sessions",
    }
)
EXAMPLES_PER_FIELD = 5
# One shared, read-only empty mapping for the defaults: a million records need not hold a million empty dicts.
_NONE: Mapping[str, Any] = MappingProxyType({})  # a default_factory hands out this one object


@dataclass(frozen=True, slots=True)
class Expected:
    """One sent guest, as designed: its join keys, its fields, and what the upload said of it."""

    key: str
    email: str | None
    fields: FieldMap
    sent_at: datetime | None = None
    rejected: tuple[int | str, str] | None = None
    order_dates: Mapping[str, datetime] = field(default_factory=lambda: _NONE)
    # Orders the upload rejected, by referenceId: their fields count as rejected, not as missing.
    rejected_orders: Mapping[str, tuple[int | str, str]] = field(default_factory=lambda: _NONE)
    # Computed once, when the record is built, so that comparing stays in C (see `compare`): the paths holding
    # numbers or booleans, where == cannot see a changed type (True == 1 == 1.0), a getter for them and their
    # types; and the record's field patterns, one tuple shared by every record of the same shape.
    numeric: tuple[str, ...] = field(init=False)
    numeric_getter: Any = field(init=False)
    numeric_types: tuple[type, ...] = field(init=False)
    shape: tuple[str, ...] = field(init=False)
    shape_shared: bool = field(init=False)

    def __post_init__(self) -> None:
        fields = self.fields
        numeric = tuple(path for path, value in fields.items() if isinstance(value, int | float))
        paths = tuple(fields)
        with_orders = any(map(str.startswith, paths, repeat("orders.")))
        if with_orders:
            paths = tuple(map(field_pattern, paths))
        shape = _shared(paths)
        object.__setattr__(self, "numeric", numeric)
        # Order paths are unique to a record: their getters are not worth keeping once the record is gone.
        getter = None if not numeric else _getter(numeric) if not with_orders else _new_getter(numeric)
        object.__setattr__(self, "numeric_getter", getter)
        types = tuple(type(fields[p]) for p in numeric)
        object.__setattr__(self, "numeric_types", _TYPES.setdefault(types, types) if len(_TYPES) < 10_000 else types)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "shape_shared", shape is _SHAPES.get(shape))


@dataclass(slots=True)
class Difference:
    source: Source
    record: str
    path: str
    outcome: Outcome
    expected: Any = None
    actual: Any = None
    explanation: str = ""
    # The rule of docs/verification.md behind the outcome (rules.RULES); by default the outcome's own.
    rule: str = ""

    def __post_init__(self) -> None:
        if not self.rule:
            self.rule = OUTCOME_RULES.get(self.outcome, "")


@dataclass(slots=True)
class Comparison:
    """The result of comparing one source (REST read-back or audience export) with what was sent."""

    source: Source
    records_expected: int = 0
    records_found: int = 0
    records_missing: int = 0
    records_rejected: int = 0
    records_waiting: int = 0
    records_extra: int = 0
    records_unchanged: int = 0
    field_counts: dict[str, Counter[Outcome]] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    normalised_examples: list[Difference] = field(default_factory=list)

    def add(self, difference: Difference) -> None:
        self.differences.append(difference)

    def recount(self, path: str, before: Outcome, after: Outcome) -> None:
        """Move one counted outcome of a field to another (a missing order found re-linked, say)."""
        counts = self.field_counts.get(field_pattern(path))
        if counts is not None and counts[before] > 0:
            counts[before] -= 1
            if not counts[before]:
                del counts[before]
        self.count(path, after)

    def count(self, path: str, outcome: Outcome, n: int = 1) -> None:
        """Count one outcome for a field; order fields are counted by pattern (`orders.*.price`)."""
        key = field_pattern(path)
        counts = self.field_counts.get(key)
        if counts is None:
            counts = self.field_counts[key] = Counter()
        counts[outcome] += n

    @property
    def outcome_totals(self) -> Counter[Outcome]:
        total: Counter[Outcome] = Counter()
        for counts in self.field_counts.values():
            total.update(counts)
        return total

    @property
    def field_pass_rate(self) -> float:
        """Passing fields among those judged; fields explained by CDP's snapshot or retention are not judged."""
        totals = self.outcome_totals
        judged = sum(n for outcome, n in totals.items() if not outcome.explained)
        return 1.0 if judged == 0 else sum(n for o, n in totals.items() if o.passes) / judged


_SHAPES: dict[tuple[str, ...], tuple[str, ...]] = {}
_TYPES: dict[tuple[type, ...], tuple[type, ...]] = {}
_GETTERS: dict[tuple[str, ...], Any] = {}


def _shared(shape: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple object per distinct shape, so that records can be counted by identity (a bounded cache)."""
    if len(_SHAPES) > 20_000:
        return shape
    return _SHAPES.setdefault(shape, shape)


def _getter(paths: tuple[str, ...]) -> Any:
    getter = _GETTERS.get(paths)
    if getter is None:
        getter = _new_getter(paths)
        if len(_GETTERS) < 10_000:
            _GETTERS[paths] = getter
    return getter


def _new_getter(paths: tuple[str, ...]) -> Any:
    return itemgetter(*paths) if len(paths) != 1 else (lambda m, p=paths[0]: (m[p],))


def field_pattern(path: str) -> str:
    """`orders.R-1.items.R-1-2.name` -> `orders.*.items.*.name`: statistics per field, not per order."""
    if not path.startswith("orders."):
        return path
    parts = path.split(".")
    parts[1] = "*"
    if len(parts) > 3 and parts[2] == "items":
        parts[3] = "*"
    # Interned: patterns repeat across millions of order fields, one string each is enough.
    return sys.intern(".".join(parts))


# ---------------------------------------------------------------- building field maps


def leaves(prefix: str, value: Any, out: FieldMap) -> None:
    """Nested extension values as leaf paths: `ext.address.city`, `ext.tags[0]`."""
    if isinstance(value, dict):
        for key, item in value.items():
            leaves(f"{prefix}.{key}", item, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            leaves(f"{prefix}[{index}]", item, out)
    else:
        # Interned: the same few hundred paths stand in every record (and in the shape cache).
        out[sys.intern(prefix)] = value


def guest_fields(guest: Mapping[str, Any], nested_extensions: Mapping[str, Mapping[str, Any]]) -> FieldMap:
    """The designed fields of a guest: wire attributes and the leaves of its nested extension values."""
    out: FieldMap = {k: v for k, v in guest.items() if k not in _READ_ONLY}
    for group, nested in nested_extensions.items():
        leaves(group, dict(nested), out)
    return out


def order_fields(
    order: Mapping[str, Any],
    nested_extension: Mapping[str, Any] | None,
    nested_item_extensions: Iterable[Mapping[str, Any] | None],
    out: FieldMap,
) -> None:
    reference = order["referenceId"]
    base = f"orders.{reference}"
    for key, value in order.items():
        if key == "consumers":
            if isinstance(value, list):  # a link object ({href}) carries no data
                # A set (N-CONSUMERS-ORDER): numbered in name order on both sides, not in listing order.
                for index, consumer in enumerate(sorted(value, key=_consumer_order)):
                    for attribute, item in consumer.items():
                        if attribute not in _READ_ONLY and attribute not in _ORDER_METADATA:
                            out[f"{base}.consumers.{index}.{attribute}"] = item
        elif key == "contact":
            if isinstance(value, dict):  # the person the order is linked by: each attribute sent, as sent
                for attribute, item in value.items():
                    if attribute not in _READ_ONLY and attribute not in _ORDER_METADATA:
                        out[f"{base}.contact.{attribute}"] = item
        elif key != "extensions" and key not in _READ_ONLY and key not in _ORDER_METADATA:
            out[f"{base}.{key}"] = value
    if nested_extension:
        leaves(f"{base}.ext", dict(nested_extension), out)
    for index, (item, nested) in enumerate(zip(order.get("orderItems", []), nested_item_extensions, strict=False)):
        item_base = f"{base}.items.{item.get('referenceId') or index}"
        for key, value in item.items():
            if key != "extensions" and key not in _READ_ONLY and key not in _ORDER_METADATA:
                out[f"{item_base}.{key}"] = value
        if nested:
            leaves(f"{item_base}.ext", dict(nested), out)


def _consumer_order(consumer: Mapping[str, Any]) -> tuple[str, str, str]:
    first, last = str(consumer.get("firstName", "")), str(consumer.get("lastName", ""))
    return last, first, orjson.dumps(consumer.get("identifiers"), option=orjson.OPT_SORT_KEYS).decode()


_KNOWN_KEYS: dict[tuple[int, str, str], tuple[ExtensionSchema, frozenset[str]]] = {}


def _known_keys(schema: ExtensionSchema, entity: str, group: str, fields: Any) -> frozenset[str]:
    """The flat keys a group's schema can produce, computed once per schema (kept alive here, so ids stay valid)."""
    key = (id(schema), entity, group)
    cached = _KNOWN_KEYS.get(key)
    if cached is None or cached[0] is not schema:
        cached = (schema, frozenset(fk.key for fk in possible_keys(schema, entity, group, fields)))
        if len(_KNOWN_KEYS) > 1_000:
            _KNOWN_KEYS.clear()
        _KNOWN_KEYS[key] = cached
    return cached[1]


def rebuild_extensions(
    schema: ExtensionSchema, entity: str, groups: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Nested values rebuilt from CDP's flat groups, and the flat keys no schema field produces.

    A key that no field produces is where a mapping error usually shows: the value went to the wrong key.
    """
    designed = {"guest": schema.guest, "order": schema.order, "order_item": schema.order_item}[entity]
    nested: dict[str, dict[str, Any]] = {}
    unexpected: dict[str, Any] = {}
    for group, flat in groups.items():
        values = {k: v for k, v in flat.items() if k not in _ENVELOPE}
        fields = designed.get(group)
        if fields is None:
            unexpected.update({f"{group}.{k}": v for k, v in values.items()})
            continue
        known = _known_keys(schema, entity, group, fields)
        unexpected.update({f"{group}.{k}": v for k, v in values.items() if k not in known})
        try:
            nested[group] = unflatten_group(schema, fields, values)
        except ValueError:
            # A JSON-serialised field that does not hold JSON: compare the raw text, the diff will show it.
            nested[group] = {k: v for k, v in values.items() if k in known}
    return nested, unexpected


# ---------------------------------------------------------------- comparing


@dataclass(slots=True)
class Returned:
    """One record as it came back: its fields, the keys no design produces, other CDP guests holding the same
    identity (duplicates), and sent orders found linked to another guest (reference -> that guest)."""

    fields: FieldMap
    unexpected: Mapping[str, Any] = field(default_factory=lambda: _NONE)
    duplicates: tuple[str, ...] = ()
    moved_orders: Mapping[str, list[str]] = field(default_factory=lambda: _NONE)

    @property
    def clean(self) -> bool:
        return not (self.unexpected or self.duplicates or self.moved_orders)


@dataclass(slots=True)
class SourceRules:
    """What a source can return and when: the fields it carries, its time semantics and caps."""

    source: Source
    from_text: bool = False
    # Field paths this source can carry (prefixes); None means everything.
    carries: tuple[str, ...] | None = None
    snapshot_cutoff: datetime | None = None
    # Audience exports carry a guest's last 20 orders by orderedAt (X-ORDERS-20); None: every order.
    order_limit: int | None = None
    # Delta exports: the join keys of the guests in the audience of the previous run (X-DELTA).
    previous_audience: Container[str] | None = None
    include: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    _decisions: dict[str, bool] = field(default_factory=dict)
    _keeps: dict[str, bool] = field(default_factory=dict)

    @property
    def text_rules(self) -> frozenset[str]:
        return _CSV_RULES if self.from_text else _NO_RULES

    def keeps(self, path: str) -> bool:
        """Whether something that came back at `path`, sent or not, is judged: the user's include and ignore
        lists decide; what a source carries does not (if it came back, the source carries it)."""
        pattern = field_pattern(path)
        decision = self._keeps.get(pattern)
        if decision is None:
            decision = self._keeps[pattern] = not (
                (self.include and not any(_under(pattern, p) for p in self.include))
                or any(_under(pattern, p) for p in self.ignore)
            )
        return decision

    def wants(self, path: str) -> bool:
        # Guest paths repeat from record to record and are cached as they are; order paths by their pattern.
        decision = self._decisions.get(path)
        if decision is None:
            pattern = field_pattern(path)
            decision = self._decisions.get(pattern)
            if decision is None:
                decision = self._decisions[pattern] = self._decide(pattern)
            if pattern == path:
                self._decisions[path] = decision
        return decision

    def _decide(self, pattern: str) -> bool:
        if self.include and not any(_under(pattern, p) for p in self.include):
            return False
        if any(_under(pattern, p) for p in self.ignore):
            return False
        return self.carries is None or any(_under(pattern, p) for p in self.carries)

    @property
    def filters(self) -> bool:
        return bool(self.include or self.ignore or self.carries is not None)

    def select(self, fields: FieldMap) -> FieldMap:
        """The fields this source is compared on."""
        return {path: value for path, value in fields.items() if self.wants(path)}


_CSV_RULES = frozenset({"N-CSV-TEXT"})
_NO_RULES: frozenset[str] = frozenset()


def _under(path: str, prefix: str) -> bool:
    return path == prefix or (path.startswith(prefix) and path[len(prefix)] in ".[")


def compare(
    expected: Iterable[Expected],
    returned: Mapping[str, Returned],
    rules: SourceRules,
    *,
    extra_keys: Iterable[str] = (),
) -> Comparison:
    """Compare every expected record with the returned record of the same key (identifier, email or ref).

    Both ways: what was sent and did not come back, and what came back that was not sent (fields, extension
    keys, values inside JSON fields, orders, items, duplicate guests, records of this run nobody sent).
    """
    result = Comparison(rules.source)
    # Keys of returned records that may be extra: each one a sent record accounts for (found or rejected) is
    # struck off as the records go by; what is left came back unsent.
    order = list(extra_keys)
    pending = set(order)
    note_seen = pending.discard if pending else _ignore
    # Records that pass whole are counted by their set of fields, and folded into field_counts at the end:
    # counting each field of each record would cost more than comparing them.
    shapes: dict[int, int] = {}
    shape_of: dict[int, tuple[str, ...]] = {}
    lookup = returned.get
    select = rules.select if rules.filters else None
    moves = _Moves()
    expected_count = found = 0
    for record in expected:
        expected_count += 1
        key = record.key
        note_seen(key)
        back = lookup(key) or (lookup(email_key(record.email)) if record.email else None)
        wanted = select(record.fields) if select else record.fields
        if back is None or record.rejected is not None:
            _record_level_outcome(result, record, wanted, back, rules)
            continue
        found += 1
        if record.rejected_orders:
            wanted = _drop_rejected_orders(result, record, dict(wanted))
        actual = back.fields
        # The common case: the same fields came back with the same values (compared in C) and types, and
        # nothing else came back (same number of fields, no unknown keys, no duplicate, no moved order).
        # Written out inline: this loop runs once per record, a million times.
        if (wanted == actual or (len(wanted) == len(actual) and _all_present_and_equal(wanted, actual))) and not (
            back.unexpected or back.duplicates or back.moved_orders
        ):
            getter = record.numeric_getter
            if getter is not None:
                try:
                    same_types = tuple(map(type, getter(actual))) == record.numeric_types
                except KeyError:
                    same_types = _same_numeric_types(record, actual)
                if not same_types:
                    _compare_fields(result, record, wanted, back, rules, moves)
                    continue
            if wanted is record.fields:
                shape, shared = record.shape, record.shape_shared
            else:
                shape = _shared(tuple(map(field_pattern, wanted)))
                shared = shape is _SHAPES.get(shape)
            if not shared:  # a rare shape, past the cache's bound: counted field by field
                for pattern in shape:
                    result.count(pattern, Outcome.EQUAL)
                continue
            # Shared shapes are kept alive by the cache, so their identity is a cheap, safe key.
            shape_id = id(shape)
            try:
                shapes[shape_id] += 1
            except KeyError:
                shapes[shape_id], shape_of[shape_id] = 1, shape
            continue
        _compare_fields(result, record, wanted, back, rules, moves)
    result.records_expected, result.records_found = expected_count, found
    for shape_id, n in shapes.items():
        for pattern in shape_of[shape_id]:
            result.count(pattern, Outcome.EQUAL, n)
    moves.resolve(result)
    for extra in [k for k in order if k in pending] if pending else []:
        result.records_extra += 1
        result.count("*", Outcome.EXTRA_RECORD)
        why = "came back but was not sent by this run"
        result.add(Difference(rules.source, extra, "*", Outcome.EXTRA_RECORD, explanation=why))
    return result


def _ignore(_key: str) -> None:
    pass


class _Moves:
    """Orders missing from one guest and extra on another of this run: re-linked, reported as such on both."""

    def __init__(self) -> None:
        self.missing: dict[str, Difference] = {}
        self.extra: dict[str, Difference] = {}

    def resolve(self, result: Comparison) -> None:
        for reference, gone in self.missing.items():
            arrived = self.extra.get(reference)
            if arrived is None or arrived.record == gone.record:
                continue
            gone.outcome = arrived.outcome = Outcome.RELINKED
            gone.rule = arrived.rule = "D-RELINKED"
            gone.explanation = f"the order came back linked to guest {arrived.record}"
            arrived.explanation = f"sent for guest {gone.record}, came back linked to this guest"
            result.recount(arrived.path, Outcome.EXTRA_ORDER, Outcome.RELINKED)


def _record_level_outcome(
    result: Comparison, record: Expected, wanted: FieldMap, back: Returned | None, rules: SourceRules
) -> None:
    """A record rejected at upload, not yet in the snapshot, unchanged in a delta, or missing: one outcome."""
    if record.rejected is not None:
        # Whatever came back for it (a guest created by its orders' contacts, say) stays rejected (X-REJECTED).
        result.records_rejected += 1
        code, message = record.rejected
        _record_level(result, record, wanted, Outcome.REJECTED, f"rejected at upload: {code} {message}")
        return
    cutoff = rules.snapshot_cutoff
    if cutoff is not None and record.sent_at is not None and record.sent_at >= cutoff:
        result.records_waiting += 1
        why = (
            f"sent at {record.sent_at:%Y-%m-%d %H:%M} UTC, after the segment snapshot of "
            f"{cutoff:%Y-%m-%d %H:%M} UTC: it appears in the next day's export"
        )
        _record_level(result, record, wanted, Outcome.NOT_IN_SNAPSHOT, why)
    elif rules.previous_audience is not None and record.key in rules.previous_audience:
        result.records_unchanged += 1
        why = "already in the audience of the previous delta run: a delta holds only guests added or removed since"
        _record_level(result, record, wanted, Outcome.UNCHANGED_IN_DELTA, why)
    else:
        result.records_missing += 1
        _record_level(result, record, wanted, Outcome.RECORD_MISSING, "no record came back for this guest")


def _same_numeric_types(record: Expected, actual: FieldMap) -> bool:
    if record.numeric_getter is None:
        return True
    try:
        return tuple(map(type, record.numeric_getter(actual))) == record.numeric_types
    except KeyError:  # a numeric field the source does not carry (filtered out): check one by one
        return all(
            type(actual[p]) is t for p, t in zip(record.numeric, record.numeric_types, strict=True) if p in actual
        )


def _all_present_and_equal(wanted: FieldMap, actual: FieldMap) -> bool:
    """Every wanted field is among those that came back, with an equal value (in C, via itemgetter)."""
    if not wanted:
        return True
    try:
        values = itemgetter(*wanted)(actual)
    except KeyError:
        return False
    sent = tuple(wanted.values())
    return bool((values,) == sent if len(sent) == 1 else values == sent)


def _drop_rejected_orders(result: Comparison, record: Expected, wanted: FieldMap) -> FieldMap:
    for reference, (code, message) in record.rejected_orders.items():
        prefix = f"orders.{reference}."
        for path in [p for p in wanted if p.startswith(prefix)]:
            result.count(path, Outcome.REJECTED)
            del wanted[path]
        why = f"order rejected at upload: {code} {message}"
        result.add(Difference(result.source, record.key, f"orders.{reference}", Outcome.REJECTED, explanation=why))
    return wanted


def _record_level(result: Comparison, record: Expected, wanted: FieldMap, outcome: Outcome, why: str) -> None:
    for path in wanted:
        result.count(path, outcome)
    result.add(Difference(result.source, record.key, "*", outcome, explanation=why))


def _compare_fields(
    result: Comparison, record: Expected, wanted: FieldMap, back: Returned, rules: SourceRules, moves: _Moves
) -> None:
    actual = back.fields
    source = rules.source
    add = result.add
    unexpected = dict(back.unexpected)
    if back.duplicates:
        result.count("*", Outcome.DUPLICATE)
        why = f"{len(back.duplicates) + 1} CDP guests hold this identity; the others: {', '.join(back.duplicates)}"
        add(Difference(source, record.key, "*", Outcome.DUPLICATE, None, list(back.duplicates), why))
    # What came back under an order or item that was not sent at all is one difference per order or item.
    sent_orders = {_order_prefix(p) for p in wanted if p.startswith("orders.")}
    sent_items = {_item_prefix(p) for p in wanted if ".items." in p}
    extras = [p for p in actual if p not in wanted and rules.keeps(p)]
    retained = _retained_orders(record, rules) if rules.order_limit is not None else None
    mapped = _mapping_errors(wanted, actual, unexpected, extras)
    # An order or item that did not come back at all is one difference, not one per field.
    whole: dict[str, bool] = {}
    groups: dict[str, Outcome] = {}
    for path, sent in wanted.items():
        if path not in actual:
            outcome, rule, why = _explain_missing(path, record, mapped, retained, rules)
            group = _absent_group(path, actual, whole)
            if group is None:
                result.count(path, outcome)
                add(Difference(source, record.key, path, outcome, sent, None, why, rule))
                continue
            if group not in groups:
                reference = group.split(".")[1]
                moved = back.moved_orders.get(reference) if group.count(".") == 1 else None
                if moved and outcome is Outcome.FIELD_MISSING:
                    outcome, rule = Outcome.RELINKED, "D-RELINKED"
                    why = f"the order is linked to another guest in CDP: {', '.join(moved)}"
                elif outcome is Outcome.FIELD_MISSING:
                    why = f"the whole {'order' if group.count('.') == 1 else 'order item'} is missing: {why}"
                groups[group] = outcome
                difference = Difference(source, record.key, group, outcome, None, None, why, rule)
                add(difference)
                if group.count(".") == 1 and outcome in (Outcome.FIELD_MISSING, Outcome.RELINKED):
                    moves.missing[reference] = difference
            result.count(path, groups[group])
            continue
        got = actual[path]
        outcome, rule, note = compare_values(
            sent, got, allowed=field_rules(field_pattern(path)) | rules.text_rules, from_text=rules.from_text
        )
        result.count(path, outcome)
        if outcome is Outcome.NORMALISED:
            if result.field_counts[field_pattern(path)][outcome] <= EXAMPLES_PER_FIELD:
                result.normalised_examples.append(Difference(source, record.key, path, outcome, sent, got, note, rule))
        elif outcome is not Outcome.EQUAL:
            why = (
                "CDP holds another value"
                if outcome is Outcome.VALUE_CHANGED
                else f"sent as {_json_type(sent)}, came back as {_json_type(got)}"
            )
            add(Difference(source, record.key, path, outcome, sent, got, why, rule))
    reported: set[str] = set()
    for path in extras:
        order, item = _order_prefix(path), _item_prefix(path)
        if order is not None and order not in sent_orders:
            if order not in reported:
                reported.add(order)
                result.count(order, Outcome.EXTRA_ORDER)
                difference = Difference(
                    source, record.key, order, Outcome.EXTRA_ORDER, None, _subtree(actual, order),
                    "this order came back on the guest but was not sent for it", "D-EXTRA-ORDER",
                )  # fmt: skip
                add(difference)
                moves.extra[order.split(".", 1)[1]] = difference
            continue
        if item is not None and item not in sent_items:
            if item not in reported:
                reported.add(item)
                result.count(item, Outcome.EXTRA_ITEM)
                add(Difference(
                    source, record.key, item, Outcome.EXTRA_ITEM, None, _subtree(actual, item),
                    "this item came back on the order but was not sent for it", "D-EXTRA-ITEM",
                ))  # fmt: skip
            continue
        result.count(path, Outcome.EXTRA_FIELD)
        add(Difference(
            source, record.key, path, Outcome.EXTRA_FIELD, None, actual[path],
            "came back but was not sent", "D-EXTRA-FIELD",
        ))  # fmt: skip
    for key, value in unexpected.items():
        if not rules.keeps(key):
            continue
        result.count(key, Outcome.EXTRA_FIELD)
        add(Difference(
            source, record.key, key, Outcome.EXTRA_FIELD, None, value,
            "a key no field of the schema produces came back", "D-EXTRA-FIELD",
        ))  # fmt: skip


def _absent_group(path: str, actual: FieldMap, whole: dict[str, bool]) -> str | None:
    """The order (`orders.R`) or item (`orders.R.items.I`) of a missing path when none of it came back."""
    for prefix in (_order_prefix(path), _item_prefix(path)):
        if prefix is None:
            continue
        gone = whole.get(prefix)
        if gone is None:
            start = prefix + "."
            gone = whole[prefix] = not any(p.startswith(start) for p in actual)
        if gone:
            return prefix
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _subtree(fields: FieldMap, prefix: str) -> dict[str, Any]:
    return {p[len(prefix) + 1 :]: v for p, v in fields.items() if p.startswith(prefix + ".")}


def _order_prefix(path: str) -> str | None:
    """`orders.R-1` for any field of order R-1 (its items included), else None."""
    if not path.startswith("orders."):
        return None
    return ".".join(path.split(".", 2)[:2])


def _item_prefix(path: str) -> str | None:
    """`orders.R-1.items.R-1-2` for any field of that item, else None."""
    if not path.startswith("orders."):
        return None
    parts = path.split(".", 4)
    return ".".join(parts[:4]) if len(parts) > 3 and parts[2] == "items" else None


def _retained_orders(record: Expected, rules: SourceRules) -> set[str]:
    """The sent orders an export must carry (X-ORDERS-20): the guest's last `order_limit` by orderedAt.

    Orders rejected at upload are not in CDP and take no place. Ties in orderedAt are undecided by the
    reference; they are kept together (an order tied with the last retained one is not expected either way).
    """
    dates = [(when, ref) for ref, when in record.order_dates.items() if ref not in record.rejected_orders]
    limit = rules.order_limit or 0
    if len(dates) <= limit:
        return {ref for _, ref in dates}
    dates.sort(reverse=True)
    return {ref for _, ref in dates[:limit]}


def _mapping_errors(
    wanted: FieldMap, actual: FieldMap, unexpected: dict[str, Any], extras: list[str]
) -> dict[str, str]:
    """Missing fields whose value arrived at another key: only where type and value match and the match is
    unique both ways (one missing field, one unexpected key). The keys so explained are no longer extras."""
    missing = [p for p in wanted if p not in actual and not p.startswith("orders.")]
    if not missing or not (unexpected or extras):
        return {}
    candidates = {**{p: actual[p] for p in extras if not p.startswith("orders.")}, **unexpected}

    def same(a: Any, b: Any) -> bool:
        return type(a) is type(b) and a == b

    mapped: dict[str, str] = {}
    for path in missing:
        sent = wanted[path]
        keys = [k for k, v in candidates.items() if same(v, sent)]
        if len(keys) != 1:
            continue
        rivals = [p for p in missing if same(wanted[p], candidates[keys[0]])]
        if len(rivals) == 1:
            mapped[path] = keys[0]
    for key in mapped.values():
        unexpected.pop(key, None)
        if key in extras:
            extras.remove(key)
    return mapped


def _explain_missing(
    path: str, record: Expected, mapped: dict[str, str], retained: set[str] | None, rules: SourceRules
) -> tuple[Outcome, str, str]:
    if retained is not None and path.startswith("orders."):
        reference = path.split(".")[1]
        ordered = record.order_dates.get(reference)
        if ordered is not None and reference not in retained:
            return (
                Outcome.BEYOND_RETENTION,
                "X-ORDERS-20",
                (
                    f"ordered {ordered:%Y-%m-%d}: not among the guest's last {rules.order_limit} orders by orderedAt, "
                    "which is all an audience export carries"
                ),
            )
    if path in mapped:
        return Outcome.MAPPING_ERROR, "D-MAPPING-ERROR", f"mapping error: the value arrived at {mapped[path]} instead"
    return Outcome.FIELD_MISSING, "D-FIELD-MISSING", "not in what came back"


# ---------------------------------------------------------------- preparing returned records


def returned_from_rest(
    schema: ExtensionSchema,
    guest: Mapping[str, Any],
    extensions: Mapping[str, Mapping[str, Any]],
    orders: Iterable[
        tuple[
            Mapping[str, Any],
            Mapping[str, Any] | None,
            list[tuple[Mapping[str, Any], Mapping[str, Any] | None]],
        ]
    ],
    *,
    duplicates: Iterable[str] = (),
    moved_orders: Mapping[str, list[str]] | None = None,
) -> Returned:
    """A guest read back through REST: attributes, its extension groups, and orders with items and extensions."""
    nested, unexpected = rebuild_extensions(schema, "guest", extensions)
    fields = guest_fields(guest, nested)
    for order, order_ext, items in orders:
        base = f"orders.{order.get('referenceId')}"
        order_nested = None
        if order_ext:
            rebuilt, odd = rebuild_extensions(schema, "order", {"ext": order_ext})
            order_nested = rebuilt.get("ext")
            unexpected.update({f"{base}.{key}": value for key, value in odd.items()})
        item_values = [dict(item) for item, _ in items]
        item_nested: list[dict[str, Any] | None] = []
        for index, (item, ext) in enumerate(items):
            if not ext:
                item_nested.append(None)
                continue
            rebuilt, odd = rebuild_extensions(schema, "order_item", {"ext": ext})
            item_nested.append(rebuilt.get("ext"))
            item_base = f"{base}.items.{item.get('referenceId') or index}"
            unexpected.update({f"{item_base}.{key}": value for key, value in odd.items()})
        order_fields({**order, "orderItems": item_values}, order_nested, item_nested, fields)
    return Returned(fields, unexpected, tuple(duplicates), dict(moved_orders or {}))


def returned_from_export(schema: ExtensionSchema, row: Mapping[str, Any]) -> Returned:
    """An audience export row: attributes, `group.key` extension columns, and `orders` (JSON or CSV).

    An empty CSV cell is an absent value (CSV cannot tell the two apart), so an optional field that was not
    sent reads as absent, not as an empty string that fails to parse.
    """
    groups: dict[str, dict[str, Any]] = {}
    guest: dict[str, Any] = {}
    orders: Any = row.get("orders")
    for column, value in row.items():
        if column in ("guestRef", "orders") or value == "" or value is None:
            continue
        group, dot, key = column.partition(".")
        if dot:
            groups.setdefault(group, {})[key] = value
        else:
            guest[column] = value
    nested, unexpected = rebuild_extensions(schema, "guest", groups)
    fields = guest_fields(guest, nested)
    if isinstance(orders, str):
        try:
            orders = orjson.loads(orders) if orders else []
        except orjson.JSONDecodeError:
            unexpected["orders"] = orders
            orders = []
    for order in orders or []:
        if isinstance(order, dict) and "referenceId" in order:
            order_fields(order, None, [], fields)
    return Returned(fields, unexpected)


def index_returned(records: Iterable[tuple[Returned, Iterable[str]]]) -> dict[str, Returned]:
    """Returned records under every key they can be joined by (identifier keys, `email:...`, `ref:...`)."""
    index: dict[str, Returned] = {}
    for record, keys in records:
        for key in keys:
            index.setdefault(key, record)
    return index


def identifier_keys(identifiers: Any) -> Iterator[str]:
    if isinstance(identifiers, str):
        try:
            identifiers = orjson.loads(identifiers)
        except orjson.JSONDecodeError:
            return
    for identifier in identifiers or []:
        if isinstance(identifier, dict) and "provider" in identifier and "id" in identifier:
            yield identifier_key(identifier["provider"], identifier["id"])


def order_dates(orders: Iterable[Mapping[str, Any]]) -> dict[str, datetime]:
    dates = {}
    for order in orders:
        when = parse_timestamp(order.get("orderedAt"))
        if when is not None:
            dates[str(order["referenceId"])] = when
    return dates
