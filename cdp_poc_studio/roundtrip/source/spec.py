"""The scenario's `[source]` table and the CDP targets a mapping rule may name for a sample's columns."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cdp_poc_studio.domain.guest import Guest
from cdp_poc_studio.domain.limits import GUEST_EXTENSION_NAMES
from cdp_poc_studio.roundtrip.source.transforms import Transform

IDENTIFIER_TARGET = "identifiers.id"
# Guest attributes a rule may fill (CDP's read-only and structured fields left out; identifiers have their own form).
GUEST_ATTRIBUTES: tuple[str, ...] = tuple(
    field.alias or name
    for name, field in Guest.model_fields.items()
    if name
    not in (
        "ref",
        "href",
        "created_at",
        "modified_at",
        "extensions",
        "identifiers",
        "first_seen",
        "last_seen",
        "guest_type",
    )
)
LIST_ATTRIBUTES = frozenset({"emails", "phoneNumbers", "street"})
_EXTENSION = re.compile(r"^(ext[1-5]?)\.([a-z][A-Za-z0-9]*(?:\.[a-z][A-Za-z0-9]*)*)$")


# What an orders file's rules may fill: order attributes, and `items.<attribute>` for one order item per row.
ORDER_ATTRIBUTES = ("referenceId", "orderedAt", "currencyCode", "price", "status", "channel", "pointOfSale",
                    "paymentType", "cardType")  # fmt: skip
ITEM_ATTRIBUTES = ("type", "productId", "name", "description", "vendor", "price", "currencyCode", "quantity",
                   "orderedAt", "referenceId", "status", "originalPrice", "originalCurrencyCode")  # fmt: skip
ORDER_TARGETS = (*ORDER_ATTRIBUTES, *(f"items.{a}" for a in ITEM_ATTRIBUTES))


class OrderRule(BaseModel):
    """`[[source.orders.mapping]]`: a column of the orders file to an order (or item) attribute, with transforms."""

    model_config = ConfigDict(extra="forbid")

    column: str | list[str] | None = None
    target: str
    required: bool = False
    transforms: list[Transform] = []

    @field_validator("target")
    @classmethod
    def _order_target(cls, value: str) -> str:
        if value not in ORDER_TARGETS:
            raise ValueError(
                f"{value!r} is not an order target: write one of {', '.join(ORDER_ATTRIBUTES)}, "
                f"or items.<attribute> ({', '.join(ITEM_ATTRIBUTES)}) for one order item per row"
            )
        return value

    @property
    def columns(self) -> list[str]:
        return [self.column] if isinstance(self.column, str) else list(self.column or [])

    @property
    def label(self) -> str:
        return " + ".join(self.columns) or f"({self.target})"


class OrdersSpec(BaseModel):
    """`[source.orders]`: the customer's orders, one row per order or per item, joined to guests by a key column.

    Rows whose referenceId (after its transforms) is the same make one order: its attributes from the first of
    them, and one item per row when any rule targets items.<attribute>.
    """

    model_config = ConfigDict(extra="forbid")

    file: str = Field(min_length=1)  # relative to the scenario file
    # The column holding the guest's identifier (the id of the guest's identifiers.id rule), compared trimmed.
    guest_key: str = Field(min_length=1)
    format: Literal["auto", "csv", "json", "ndjson"] = "auto"
    encoding: str | None = None
    delimiter: str | None = None
    mapping: list[OrderRule] = Field(min_length=1)

    @field_validator("mapping")
    @classmethod
    def _has_reference(cls, rules: list[OrderRule]) -> list[OrderRule]:
        if not any(rule.target == "referenceId" for rule in rules):
            raise ValueError("map a column to referenceId: it names each order (rows sharing it are one order)")
        return rules


class SourceSpec(BaseModel):
    """`[source]`: a file of the customer's records, sent instead of generated guests."""

    model_config = ConfigDict(extra="forbid")

    # Relative to the scenario file.
    file: str = Field(min_length=1)
    format: Literal["auto", "csv", "json", "ndjson"] = "auto"
    # None: detected (UTF-8 with or without BOM, UTF-16 by its BOM, else Windows-1252, said in the run's notes).
    encoding: str | None = None
    # CSV only; None: detected among , ; | and tab.
    delimiter: str | None = None
    # A row with a finding (a transform that failed, a CDP rule broken): "stop" sends nothing until the file or
    # the mapping is fixed; "skip" sends the valid rows and lists the others in the per-row log and the report.
    invalid_rows: Literal["stop", "skip"] = "stop"
    # Look-alike data: this many synthetic guests, generated from the proposed schema, sent after the sample.
    synthetic_rows: int = Field(default=0, ge=0)
    # The customer's orders (and their items), sent with their guests.
    orders: OrdersSpec | None = None

    def with_paths(self, change: Callable[[str], str]) -> SourceSpec:
        """The spec with each file it names (the sample, the orders file) passed through `change`."""
        update: dict[str, object] = {"file": change(self.file)}
        if self.orders is not None:
            update["orders"] = self.orders.model_copy(update={"file": change(self.orders.file)})
        return self.model_copy(update=update)

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError('a delimiter is one character, for example ";" or "\\t"')
        return value


@dataclass(frozen=True, slots=True)
class Target:
    """Where a rule's value goes: a guest attribute, an identifier, or an extension group and (nested) path."""

    kind: Literal["attribute", "identifier", "extension"]
    name: str
    group: str | None = None
    path: tuple[str, ...] = ()

    @property
    def is_list(self) -> bool:
        return self.kind == "attribute" and self.name in LIST_ATTRIBUTES


def parse_target(text: str) -> Target:
    """A rule's target, or ValueError saying which forms exist."""
    if text == IDENTIFIER_TARGET:
        return Target("identifier", text)
    if text in GUEST_ATTRIBUTES:
        return Target("attribute", text)
    found = _EXTENSION.match(text)
    if found is not None:
        group, path = found.groups()
        return Target("extension", text, group, tuple(path.split(".")))
    group = text.split(".", 1)[0]
    if "." in text and group.startswith("ext") and group not in GUEST_EXTENSION_NAMES:
        raise ValueError(f"{group} is not an extension group; use ext or ext1..ext5")
    if "." in text and group in GUEST_EXTENSION_NAMES:
        key = text.split(".", 1)[1]
        raise ValueError(
            f"extension key {key!r} must be alphanumeric camelCase starting with a lowercase letter "
            "(for example ext.loyaltyTier, or ext.address.city for a nested field)"
        )
    raise ValueError(
        f"{text!r} is not a CDP target: write a guest attribute (firstName, email, dateOfBirth...), "
        f"{IDENTIFIER_TARGET} (with provider), or an extension key (ext.loyaltyTier, ext.address.city)"
    )
