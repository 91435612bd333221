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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat
from operator import itemgetter
from typing import Any, Literal

from cdp_poc_studio.domain.flatten import possible_keys, unflatten_group
from cdp_poc_studio.domain.lint import parse_timestamp
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.normalise import UNORDERED_FIELDS, Outcome, compare_values

Source = Literal["rest", "export", "decisions"]
FieldMap = dict[str, Any]
_ENVELOPE = frozenset({"name", "key", "ref", "href", "createdAt", "modifiedAt", "guest", "order", "orderItem"})
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


@dataclass(frozen=True, slots=True)
class Expected:
    """One sent guest, as designed: its join keys, its fields, and what the upload said of it."""

    key: str
    email: str | None
    fields: FieldMap
    sent_at: datetime | None = None
    rejected: tuple[int | str, str] | None = None
    order_dates: Mapping[str, datetime] = field(default_factory=dict)
    # Orders the upload rejected, by referenceId: their fields count as rejected, not as missing.
    rejected_orders: Mapping[str, tuple[int | str, str]] = field(default_factory=dict)
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
        object.__setattr__(self, "numeric_types", tuple(type(fields[p]) for p in numeric))
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
    field_counts: dict[str, Counter[Outcome]] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    normalised_examples: list[Difference] = field(default_factory=list)

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
        if key not in ("contact", "orderItems", "extensions", "consumers") and key not in _READ_ONLY:
            out[f"{base}.{key}"] = value
    if nested_extension:
        leaves(f"{base}.ext", dict(nested_extension), out)
    for index, (item, nested) in enumerate(zip(order.get("orderItems", []), nested_item_extensions, strict=False)):
        item_base = f"{base}.items.{item.get('referenceId') or index}"
        for key, value in item.items():
            if key not in ("extensions",) and key not in _READ_ONLY:
                out[f"{item_base}.{key}"] = value
        if nested:
            leaves(f"{item_base}.ext", dict(nested), out)


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
    """One record as it came back: its fields, keys it may be joined by, and keys no design produces."""

    fields: FieldMap
    unexpected: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SourceRules:
    """What a source can return and when: the fields it carries, its time semantics and caps."""

    source: Source
    from_text: bool = False
    # Field paths this source can carry (prefixes); None means everything.
    carries: tuple[str, ...] | None = None
    snapshot_cutoff: datetime | None = None
    as_of: datetime | None = None
    order_retention_days: int | None = None
    include: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    _decisions: dict[str, bool] = field(default_factory=dict)

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


def _under(path: str, prefix: str) -> bool:
    return path == prefix or (path.startswith(prefix) and path[len(prefix)] in ".[")


def compare(
    expected: Iterable[Expected],
    returned: Mapping[str, Returned],
    rules: SourceRules,
    *,
    extra_keys: Iterable[str] = (),
) -> Comparison:
    """Compare every expected record with the returned record of the same key (identifier, email or ref)."""
    result = Comparison(rules.source)
    extra_keys = list(extra_keys)
    # Which records were found matters only to tell extra records apart.
    seen: set[str] = set()
    note_seen = seen.add if extra_keys else _ignore
    # Records that pass whole are counted by their set of fields, and folded into field_counts at the end:
    # counting each field of each record would cost more than comparing them.
    shapes: dict[int, int] = {}
    shape_of: dict[int, tuple[str, ...]] = {}
    lookup = returned.get
    select = rules.select if rules.filters else None
    expected_count = found = 0
    for record in expected:
        expected_count += 1
        back = lookup(record.key) or (lookup(f"email:{record.email}") if record.email else None)
        wanted = select(record.fields) if select else record.fields
        if back is None or record.rejected is not None:
            _record_level_outcome(result, record, wanted, back, rules)
            continue
        note_seen(record.key)
        found += 1
        if record.rejected_orders:
            wanted = _drop_rejected_orders(result, record, dict(wanted))
        actual = back.fields
        # The common case: the same fields came back with the same values (compared in C) and types.
        if (wanted == actual or _all_present_and_equal(wanted, actual)) and _same_numeric_types(record, actual):
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
            if shape_id in shapes:
                shapes[shape_id] += 1
            else:
                shapes[shape_id], shape_of[shape_id] = 1, shape
            continue
        _compare_fields(result, record, wanted, back, rules)
    result.records_expected, result.records_found = expected_count, found
    for shape_id, n in shapes.items():
        for pattern in shape_of[shape_id]:
            result.count(pattern, Outcome.EQUAL, n)
    for extra in extra_keys:
        if extra not in seen:
            result.records_extra += 1
            why = "came back but was not sent by this run"
            result.differences.append(Difference(rules.source, extra, "*", Outcome.EXTRA_RECORD, explanation=why))
    return result


def _ignore(_key: str) -> None:
    pass


def _record_level_outcome(
    result: Comparison, record: Expected, wanted: FieldMap, back: Returned | None, rules: SourceRules
) -> None:
    """A record rejected at upload, not yet in the snapshot, or missing: one outcome for all its fields."""
    if record.rejected is not None:
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
        result.differences.append(
            Difference(result.source, record.key, f"orders.{reference}", Outcome.REJECTED, explanation=why)
        )
    return wanted


def _record_level(result: Comparison, record: Expected, wanted: FieldMap, outcome: Outcome, why: str) -> None:
    for path in wanted:
        result.count(path, outcome)
    result.differences.append(Difference(result.source, record.key, "*", outcome, explanation=why))


def _compare_fields(result: Comparison, record: Expected, wanted: FieldMap, back: Returned, rules: SourceRules) -> None:
    actual = back.fields
    # An order that did not come back at all is one difference, not one per field.
    absent_orders: dict[str, bool] = {}
    for path, sent in wanted.items():
        if path not in actual:
            outcome, why = _explain_missing(path, sent, record, back, rules)
            result.count(path, outcome)
            order = _order_prefix(path)
            if order is None:
                result.differences.append(Difference(rules.source, record.key, path, outcome, sent, None, why))
            elif order not in absent_orders:
                absent_orders[order] = not any(p.startswith(order + ".") for p in actual)
                whole = absent_orders[order]
                where = order if whole else path
                why = f"the whole order is missing: {why}" if whole and outcome is Outcome.FIELD_MISSING else why
                result.differences.append(
                    Difference(rules.source, record.key, where, outcome, None if whole else sent, None, why)
                )
            elif not absent_orders[order]:
                result.differences.append(Difference(rules.source, record.key, path, outcome, sent, None, why))
            continue
        got = actual[path]
        outcome, note = compare_values(sent, got, from_text=rules.from_text, unordered=path in UNORDERED_FIELDS)
        result.count(path, outcome)
        if outcome is Outcome.NORMALISED:
            if result.field_counts[field_pattern(path)][outcome] <= EXAMPLES_PER_FIELD:
                result.normalised_examples.append(Difference(rules.source, record.key, path, outcome, sent, got, note))
        elif outcome is not Outcome.EQUAL:
            why = (
                "CDP holds another value"
                if outcome is Outcome.VALUE_CHANGED
                else (f"sent as {type(sent).__name__}, came back as {type(got).__name__}")
            )
            result.differences.append(Difference(rules.source, record.key, path, outcome, sent, got, why))


def _order_prefix(path: str) -> str | None:
    """`orders.R-1` for any field of order R-1 (its items included), else None."""
    if not path.startswith("orders."):
        return None
    return ".".join(path.split(".", 2)[:2])


def _explain_missing(path: str, sent: Any, record: Expected, back: Returned, rules: SourceRules) -> tuple[Outcome, str]:
    if path.startswith("orders.") and rules.order_retention_days is not None and rules.as_of is not None:
        reference = path.split(".")[1]
        ordered = record.order_dates.get(reference)
        if ordered is not None and rules.as_of - ordered > timedelta(days=rules.order_retention_days):
            return Outcome.BEYOND_RETENTION, (
                f"ordered {ordered:%Y-%m-%d}, more than {rules.order_retention_days} days before the export: "
                "beyond CDP's export retention"
            )
    for key, value in back.unexpected.items():
        if value == sent:
            return Outcome.FIELD_MISSING, f"mapping error: the value arrived at {key} instead"
    return Outcome.FIELD_MISSING, "not in what came back"


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
) -> Returned:
    """A guest read back through REST: attributes, its extension groups, and orders with items and extensions."""
    nested, unexpected = rebuild_extensions(schema, "guest", extensions)
    fields = guest_fields(guest, nested)
    for order, order_ext, items in orders:
        order_nested = rebuild_extensions(schema, "order", {"ext": order_ext})[0].get("ext") if order_ext else None
        item_values = [dict(item) for item, _ in items]
        item_nested = [
            rebuild_extensions(schema, "order_item", {"ext": ext})[0].get("ext") if ext else None for _, ext in items
        ]
        order_fields({**order, "orderItems": item_values}, order_nested, item_nested, fields)
    return Returned(fields, unexpected)


def returned_from_export(schema: ExtensionSchema, row: Mapping[str, Any]) -> Returned:
    """An audience export row: attributes, `group.key` extension columns, and `orders` (JSON or CSV)."""
    groups: dict[str, dict[str, Any]] = {}
    guest: dict[str, Any] = {}
    orders: Any = row.get("orders")
    for column, value in row.items():
        if column in ("guestRef", "orders"):
            continue
        group, dot, key = column.partition(".")
        if dot:
            groups.setdefault(group, {})[key] = value
        elif value not in ("", None):
            guest[column] = value
    nested, unexpected = rebuild_extensions(schema, "guest", groups)
    fields = guest_fields(guest, nested)
    if isinstance(orders, str) and orders:
        import json

        orders = json.loads(orders)
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
        import json

        try:
            identifiers = json.loads(identifiers)
        except ValueError:
            return
    for identifier in identifiers or []:
        if isinstance(identifier, dict) and "provider" in identifier and "id" in identifier:
            yield f"{identifier['provider']}:{identifier['id']}"


def order_dates(orders: Iterable[Mapping[str, Any]]) -> dict[str, datetime]:
    dates = {}
    for order in orders:
        when = parse_timestamp(order.get("orderedAt"))
        if when is not None:
            dates[str(order["referenceId"])] = when
    return dates
