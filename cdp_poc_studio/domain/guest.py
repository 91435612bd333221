"""Guests, their identifiers and their data extensions, as CDP's Guest REST API and Batch API write them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_serializer, model_validator

from cdp_poc_studio.domain.wire import WireModel

GuestType = Literal["visitor", "customer", "traveller"]
Gender = Literal["male", "female", "unknown"]
ExtensionValue = str | bool | int | float


class Identifier(WireModel):
    provider: str
    id: str
    expiry_date: str | None = None


class Link(WireModel):
    href: str


class DataExtension(WireModel):
    """One extension group: a name, CDP's fixed key, and flat primitive key-values.

    The key-values are held in `values` and written flat beside `name` and `key`, as CDP does.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    key: str = "default"
    values: dict[str, ExtensionValue] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _fold_flat_values(cls, data: Any) -> Any:
        if isinstance(data, dict) and "values" not in data:
            envelope = {
                "name",
                "key",
                "ref",
                "href",
                "createdAt",
                "modifiedAt",
                "guest",
                "order",
                "orderItem",
            }
            values = {k: v for k, v in data.items() if k not in envelope}
            return {"name": data.get("name"), "key": data.get("key", "default"), "values": values}
        return data

    @model_serializer
    def _flat(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key, **self.values}


class Person(WireModel):
    """The personal attributes CDP shares between guests, order contacts and order consumers."""

    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    emails: list[str] | None = None
    phone_numbers: list[str] | None = None
    gender: Gender | None = None
    date_of_birth: str | None = None
    nationality: str | None = None
    passport_number: str | None = None
    passport_expiry: str | None = None
    street: list[str] | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    identifiers: list[Identifier] | None = None
    # Read-only attributes CDP adds in its responses.
    ref: str | None = None
    href: str | None = None
    created_at: str | None = None
    modified_at: str | None = None


class Guest(Person):
    """Every documented guest attribute (cdp-api-facts.md §3.4, §6.7)."""

    guest_type: GuestType
    post_code: str | None = None
    language: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    # Batch records carry extensions inline; REST sends each group as its own request.
    extensions: list[DataExtension] | None = None
