"""Flattening nested extension values into CDP's flat primitive keys, and the exact reverse.

Two strategies, chosen per top-level field of a group:

- prefix: `address.city` -> `addressCity`, list items indexed (`preferences0`, `stays1Hotel`). Usable
  directly in CDP segments and decision models.
- json: the whole nested value serialised into one string key. Compact, but CDP sees one string that segments
  and decision models must unpack with custom JavaScript or SQL.

Empty objects and empty lists have no flat form, so they count as absent: the generator never produces them,
and the reverse never rebuilds them. Reversing needs the schema, because `stays1Hotel` alone is ambiguous.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cdp_poc_studio.domain.schema import ExtensionSchema, FieldSpec, FlattenStrategy, GroupFields

_ABSENT: Any = object()


def _join(prefix: str, name: str) -> str:
    return prefix + name[0].upper() + name[1:]


def flatten_group(schema: ExtensionSchema, fields: GroupFields, nested: Mapping[str, Any]) -> dict[str, Any]:
    """The flat key-values CDP receives for one group's nested value."""
    flat: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in nested:
            continue
        value = nested[name]
        if spec.is_composite and schema.strategy_of(spec) == "json":
            flat[name] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        else:
            _flatten_into(flat, name, spec, value)
    return flat


def _flatten_into(flat: dict[str, Any], key: str, spec: FieldSpec, value: Any) -> None:
    if spec.kind == "object":
        assert spec.fields is not None
        for name, sub in spec.fields.items():
            if name in value:
                _flatten_into(flat, _join(key, name), sub, value[name])
    elif spec.kind == "list":
        assert spec.item is not None
        for index, item in enumerate(value):
            _flatten_into(flat, f"{key}{index}", spec.item, item)
    else:
        flat[key] = value


def unflatten_group(schema: ExtensionSchema, fields: GroupFields, flat: Mapping[str, Any]) -> dict[str, Any]:
    """Rebuild the nested value of one group from CDP's flat key-values: the reverse of `flatten_group`.

    Raises ValueError when a JSON-serialised field holds text that is not JSON.
    """
    nested: dict[str, Any] = {}
    for name, spec in fields.items():
        if spec.is_composite and schema.strategy_of(spec) == "json":
            if name in flat:
                raw = flat[name]
                try:
                    nested[name] = json.loads(raw) if isinstance(raw, str) else raw
                except json.JSONDecodeError as exc:
                    raise ValueError(f"extension key {name!r} should hold JSON but holds {raw!r:.60}") from exc
        else:
            value = _rebuild(flat, name, spec)
            if value is not _ABSENT:
                nested[name] = value
    return nested


def _rebuild(flat: Mapping[str, Any], key: str, spec: FieldSpec) -> Any:
    if spec.kind == "object":
        assert spec.fields is not None
        obj = {}
        for name, sub in spec.fields.items():
            value = _rebuild(flat, _join(key, name), sub)
            if value is not _ABSENT:
                obj[name] = value
        return obj or _ABSENT
    if spec.kind == "list":
        assert spec.item is not None
        items: list[Any] = []
        while (item := _rebuild(flat, f"{key}{len(items)}", spec.item)) is not _ABSENT:
            items.append(item)
        return items or _ABSENT
    return flat.get(key, _ABSENT)


@dataclass(frozen=True, slots=True)
class FlatKey:
    """A key a group can send at the most, with the schema path that produces it."""

    key: str
    schema_path: str
    strategy: FlattenStrategy


def possible_keys(schema: ExtensionSchema, entity: str, group: str, fields: GroupFields) -> Iterator[FlatKey]:
    """Every flat key the group can produce, lists at their longest: the worst case, for the limits."""
    for name, spec in fields.items():
        path = f"{entity}.{group}.{name}"
        strategy = schema.strategy_of(spec)
        if spec.is_composite and strategy == "json":
            yield FlatKey(name, path, "json")
        else:
            yield from _possible(name, path, spec)


def _possible(key: str, path: str, spec: FieldSpec) -> Iterator[FlatKey]:
    if spec.kind == "object":
        assert spec.fields is not None
        for name, sub in spec.fields.items():
            yield from _possible(_join(key, name), f"{path}.{name}", sub)
    elif spec.kind == "list":
        assert spec.item is not None
        for index in range(spec.max_items):
            yield from _possible(f"{key}{index}", f"{path}[{index}]", spec.item)
    else:
        yield FlatKey(key, path, "prefix")
