"""Field mapping: move generated (or imported) values to the CDP fields the scenario names.

Rules work on wire paths of a guest: an attribute (`firstName`) or a flat extension key (`ext.loyaltyTier`,
`ext.addressCity`). With no rules, every field goes where the design puts it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from cdp_poc_studio.roundtrip.scenario import WIRE_PATH, MappingRule

_MISSING: Any = object()


def apply_mapping(guest: dict[str, Any], rules: Iterable[MappingRule]) -> dict[str, Any]:
    """A copy of the guest's wire value with each rule's source value moved to its target."""
    # Rules over a [source] sample's columns are applied by roundtrip.source, not here.
    moves = [(rule.source, rule.target) for rule in rules if rule.source is not None]
    if not moves:
        return guest
    mapped = copy.deepcopy(guest)
    # Take every source first, so that rules swapping two fields do not overwrite each other.
    taken = [(target, _take(mapped, source)) for source, target in moves]
    for target, value in taken:
        if value is not _MISSING:
            _put(mapped, target, value)
    groups = mapped.get("extensions")
    if groups is not None:
        mapped["extensions"] = [g for g in groups if set(g) - {"name", "key"}]
        if not mapped["extensions"]:
            del mapped["extensions"]
    return mapped


def _split(path: str) -> tuple[str | None, str]:
    match = WIRE_PATH.match(path)
    if match is None:
        raise ValueError(f"{path!r} is not a guest field")
    return match.group(1), match.group(2)


def _take(guest: dict[str, Any], path: str) -> Any:
    group, key = _split(path)
    if group is None:
        return guest.pop(key, _MISSING)
    for extension in guest.get("extensions", []):
        if extension["name"] == group:
            return extension.pop(key, _MISSING)
    return _MISSING


def _put(guest: dict[str, Any], path: str, value: Any) -> None:
    group, key = _split(path)
    if group is None:
        guest[key] = value
        return
    extensions = guest.setdefault("extensions", [])
    for extension in extensions:
        if extension["name"] == group:
            extension[key] = value
            return
    extensions.append({"name": group, "key": "default", key: value})
