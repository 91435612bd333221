"""The declarative extension schema: what nested data to generate for each group, and how to flatten it.

A schema file (TOML or JSON; see cdp_poc_studio/resources/schemas/) names guest groups `ext`..`ext5` and the one
`ext` group of orders and order items, and describes each field: where its values come from and, at the top level of a
group, whether its nested value reaches CDP as prefixed keys or as one JSON string.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cdp_poc_studio.domain.limits import GUEST_EXTENSION_NAMES, ORDER_EXTENSION_NAME

FieldKind = Literal["faker", "choice", "int", "float", "bool", "date", "datetime", "const", "object", "list"]
FlattenStrategy = Literal["prefix", "json"]
Primitive = str | bool | int | float

FIELD_NAME = re.compile(r"^[a-z][A-Za-z0-9]*$")
_COMPOSITE = ("object", "list")


class FieldSpec(BaseModel):
    """One field of an extension: a value source, or an object or list of further fields."""

    model_config = ConfigDict(extra="forbid")

    kind: FieldKind
    provider: str | None = None
    args: dict[str, Any] = {}
    choices: list[Primitive] | None = None
    weights: list[float] | None = None
    min: float | None = None
    max: float | None = None
    decimals: int = Field(default=2, ge=0, le=6)
    start: str | None = None
    end: str | None = None
    value: Primitive | None = None
    fields: dict[str, FieldSpec] | None = None
    item: FieldSpec | None = None
    min_items: int = Field(default=1, ge=0)
    max_items: int = Field(default=3, ge=0)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    flatten: FlattenStrategy | None = None

    @property
    def is_composite(self) -> bool:
        return self.kind in _COMPOSITE

    @model_validator(mode="after")
    def _check_kind(self) -> Self:
        needs = {
            "faker": ("provider", 'a Faker provider name, for example provider = "city"'),
            "choice": ("choices", 'a list of values, for example choices = ["gold", "silver"]'),
            "const": ("value", "the constant, for example value = true"),
            "object": ("fields", "a table of fields, for example [...address.fields.city]"),
            "list": ("item", "the spec of one item, for example [...preferences.item]"),
        }
        if self.kind in needs:
            attribute, example = needs[self.kind]
            if getattr(self, attribute) is None:
                raise ValueError(f"a field of kind {self.kind!r} needs {attribute}: {example}")
        if self.kind in ("int", "float") and (self.min is None or self.max is None):
            raise ValueError(f"a field of kind {self.kind!r} needs min and max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.min_items > self.max_items:
            raise ValueError(f"min_items ({self.min_items}) is greater than max_items ({self.max_items})")
        if self.weights is not None:
            if self.choices is None or len(self.weights) != len(self.choices):
                raise ValueError("weights must have one number for each of the choices")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be non-negative and not all zero")
        if self.fields is not None:
            for name in self.fields:
                _check_field_name(name)
            if self.fields == {}:
                raise ValueError("an object needs at least one field")
        if self.kind == "list" and self.item is not None:
            if self.item.probability < 1.0:
                raise ValueError("list items are always present: remove probability from the item")
            if self.item.kind == "object" and all(f.probability < 1.0 for f in (self.item.fields or {}).values()):
                # An item with no values would vanish when flattened, shifting the others' indexes.
                raise ValueError("an object in a list needs at least one field that is always present")
        return self


def _check_field_name(name: str) -> None:
    if not FIELD_NAME.match(name):
        raise ValueError(
            f"field name {name!r} must be alphanumeric camelCase starting with a lowercase letter, "
            "as CDP requires of extension keys (for example loyaltyTier)"
        )


GroupFields = dict[str, FieldSpec]


class ExtensionSchema(BaseModel):
    """The extension groups of guests, orders and order items, with their fields."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    default_flatten: FlattenStrategy = "prefix"
    guest: dict[str, GroupFields] = {}
    order: dict[str, GroupFields] = {}
    order_item: dict[str, GroupFields] = {}

    @model_validator(mode="after")
    def _check_groups(self) -> Self:
        for group, fields in self.guest.items():
            if group not in GUEST_EXTENSION_NAMES:
                raise ValueError(
                    f"guest extension group {group!r} is not one CDP accepts; use one of "
                    + ", ".join(GUEST_EXTENSION_NAMES)
                )
            for name in fields:
                _check_field_name(name)
        for entity, groups in (("order", self.order), ("order_item", self.order_item)):
            for group, fields in groups.items():
                if group != ORDER_EXTENSION_NAME:
                    raise ValueError(f"{entity} takes one extension group, named 'ext' (not {group!r})")
                for name in fields:
                    _check_field_name(name)
        return self

    def strategy_of(self, field: FieldSpec) -> FlattenStrategy:
        return field.flatten or self.default_flatten
