"""Checks of an extension schema against CDP's limits, before any data is generated or sent."""

from __future__ import annotations

from collections.abc import Iterator

from cdp_poc_studio.domain.flatten import FlatKey, possible_keys
from cdp_poc_studio.domain.limits import (
    MAX_BATCH_ORDER_EXTENSION_KEYS,
    MAX_EXTENSION_KEYS,
    RESERVED_EXTENSION_KEYS,
)
from cdp_poc_studio.domain.lint import Violation
from cdp_poc_studio.domain.schema import ExtensionSchema, FieldSpec


def check_schema(schema: ExtensionSchema, *, api: str = "batch") -> list[Violation]:
    """Key collisions and limit overflows, each named by the schema path that causes it.

    Lists count at their longest (`max_items`), because any record may reach it.
    """
    found: list[Violation] = []
    for entity, groups in (("guest", schema.guest), ("order", schema.order), ("order_item", schema.order_item)):
        for group, fields in groups.items():
            found.extend(_flatten_options(fields, f"{entity}.{group}", top=True))
            found.extend(_reserved(possible_keys(schema, entity, group, fields)))
    guest_owner: dict[str, FlatKey] = {}
    for group, fields in schema.guest.items():
        keys = list(possible_keys(schema, "guest", group, fields))
        found.extend(_overflow(keys, f"guest.{group}", MAX_EXTENSION_KEYS))
        for flat in _unique(keys, found):
            # Keys must be unique across all of a guest's groups, not only within one.
            if flat.key in guest_owner:
                found.append(_collision(flat, guest_owner[flat.key]))
            else:
                guest_owner[flat.key] = flat
    order_limit = MAX_BATCH_ORDER_EXTENSION_KEYS if api == "batch" else MAX_EXTENSION_KEYS
    for entity, groups in (("order", schema.order), ("order_item", schema.order_item)):
        for group, fields in groups.items():
            keys = list(possible_keys(schema, entity, group, fields))
            found.extend(_overflow(keys, f"{entity}.{group}", order_limit))
            list(_unique(keys, found))
    return found


def _reserved(keys: Iterator[FlatKey]) -> Iterator[Violation]:
    for flat in keys:
        if flat.key in RESERVED_EXTENSION_KEYS:
            yield Violation(
                flat.schema_path,
                "extension-key-reserved",
                f"flattens to key {flat.key!r}, which CDP uses for the extension itself (its name, key, ref, "
                "links and timestamps): the value would overwrite it or vanish on read-back; rename the field",
            )


def _flatten_options(fields: dict[str, FieldSpec], path: str, *, top: bool) -> Iterator[Violation]:
    """`flatten` is honoured on a group's top-level objects and lists; anywhere else it is refused, not ignored."""
    for name, spec in fields.items():
        where = f"{path}.{name}"
        if spec.flatten is not None and not spec.is_composite:
            yield Violation(
                where,
                "flatten-not-applicable",
                f"flatten = {spec.flatten!r} applies to objects and lists only; a {spec.kind} field is sent as it "
                "is: remove flatten",
            )
        elif spec.flatten is not None and not top:
            yield Violation(
                where,
                "flatten-not-applicable",
                f"flatten = {spec.flatten!r} is set on a field inside another object or list, where the outer "
                "field decides how it is flattened: set flatten on the top-level field of the group instead",
            )
        if spec.fields:
            yield from _flatten_options(spec.fields, where, top=False)
        if spec.item is not None:
            yield from _flatten_options({"item": spec.item}, where, top=False)


def _unique(keys: list[FlatKey], found: list[Violation]) -> Iterator[FlatKey]:
    seen: dict[str, FlatKey] = {}
    for flat in keys:
        if flat.key in seen:
            found.append(_collision(flat, seen[flat.key]))
        else:
            seen[flat.key] = flat
            yield flat


def _collision(flat: FlatKey, first: FlatKey) -> Violation:
    return Violation(
        flat.schema_path,
        "extension-key-collision",
        f"flattens to key {flat.key!r}, which {first.schema_path} also produces: rename one of them",
    )


def _overflow(keys: list[FlatKey], path: str, limit: int) -> list[Violation]:
    if len(keys) <= limit:
        return []
    return [
        Violation(
            path,
            "extension-key-count",
            f"can produce {len(keys)} keys, CDP takes at most {limit}: lower max_items, "
            'or serialise a nested field as JSON (flatten = "json")',
        )
    ]


def serialised_fields(schema: ExtensionSchema) -> list[str]:
    """Schema paths of fields that reach CDP as a JSON string: segments must unpack them with custom code."""
    paths = []
    for entity, groups in (
        ("guest", schema.guest),
        ("order", schema.order),
        ("order_item", schema.order_item),
    ):
        for group, fields in groups.items():
            for name, spec in fields.items():
                if spec.is_composite and schema.strategy_of(spec) == "json":
                    paths.append(f"{entity}.{group}.{name}")
    return paths
