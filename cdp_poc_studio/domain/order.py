"""Orders, order contacts, consumers and items, as CDP's Order REST API and Batch API write them."""

from __future__ import annotations

from pydantic import Field

from cdp_poc_studio.domain.guest import DataExtension, Link, Person
from cdp_poc_studio.domain.wire import WireModel


class OrderContact(Person):
    """The person who placed an order; CDP resolves it to a guest by identifiers or email."""

    guest: Link | None = None
    order: Link | None = None


class OrderConsumer(OrderContact):
    """A person an order item is for; identified by name alone it becomes a `traveller` guest."""


class OrderItem(WireModel):
    type: str
    product_id: str
    name: str = Field(max_length=128)
    description: str | None = None
    vendor: str | None = None
    ordered_at: str | None = None
    quantity: int | None = None
    price: float
    currency_code: str
    original_price: float | None = None
    original_currency_code: str | None = None
    reference_id: str | None = None
    status: str | None = None
    language: str | None = None
    channel: str | None = None
    extensions: list[DataExtension] | None = None
    ref: str | None = None
    href: str | None = None
    created_at: str | None = None
    modified_at: str | None = None


class Order(WireModel):
    """An order (cdp-api-facts.md §5.3, §6.8). Required fields differ by API; the linter checks them."""

    reference_id: str
    ordered_at: str
    currency_code: str | None = None
    price: float | None = None
    channel: str | None = None
    point_of_sale: str | None = None
    status: str | None = None
    payment_type: str | None = None
    card_type: str | None = None
    contact: OrderContact | None = None
    consumers: list[OrderConsumer] | None = None
    order_items: list[OrderItem] | None = None
    extensions: list[DataExtension] | None = None
    ref: str | None = None
    href: str | None = None
    created_at: str | None = None
    modified_at: str | None = None
