"""Thin clients for the Guest and Order REST APIs v2.1: one method per documented operation.

Paths and semantics are those of cdp-api-facts.md §3 to §5. Creates (POST) are not retried after an
ambiguous failure here; `RestSender` wraps them in `create_once`, which searches before trying again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from cdp_poc_studio.cdp.http import CdpHttp
from cdp_poc_studio.domain.errors import CdpNotFound

GUESTS = "/v2.1/guests"
ORDERS = "/v2.1/orders"
ORDER_ITEMS = "/v2.1/orderItems"


def ref_of(resource: dict[str, Any]) -> str:
    """A resource's ref: its `ref`, or the string after the final slash of its `href` (facts §2.1)."""
    ref = resource.get("ref")
    if isinstance(ref, str) and ref:
        return ref
    href = resource.get("href")
    if isinstance(href, str) and href:
        return href.rstrip("/").rsplit("/", 1)[-1]
    raise ValueError("resource has neither ref nor href")


def items_of(collection: Any) -> list[dict[str, Any]]:
    """The `items` of a collection envelope (`{href, offset, limit, items}`); a bare list is accepted too."""
    if isinstance(collection, list):
        return [item for item in collection if isinstance(item, dict)]
    if isinstance(collection, dict):
        items = collection.get("items")
        if isinstance(items, list):
            return [item for item in items if isinstance(item, dict)]
    return []


def _seg(value: str) -> str:
    return quote(value, safe="")


class GuestClient:
    def __init__(self, http: CdpHttp) -> None:
        self.http = http

    def search(self, **filters: str) -> list[str]:
        """Refs of guests matching exact filters: `email`, `orderReferenceId`, `orderRef`, or
        `{"identifiers.provider": ..., "identifiers.id": ...}` (pass those with `**{...}`)."""
        body = self.http.get_json(GUESTS, params={**filters, "limit": 100})
        return [ref_of(item) for item in items_of(body)]

    def find_by_identifier(self, provider: str, identifier: str) -> list[str]:
        return self.search(**{"identifiers.provider": provider, "identifiers.id": identifier})

    def get(self, ref: str, *, expand: bool = True) -> dict[str, Any]:
        params = {"expand": "true"} if expand else None
        body: dict[str, Any] = self.http.get_json(f"{GUESTS}/{_seg(ref)}", params=params)
        return body

    def create(self, guest: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self.http.send_json("POST", GUESTS, guest)
        return body

    def replace(self, ref: str, guest: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self.http.send_json("PUT", f"{GUESTS}/{_seg(ref)}", guest)
        return body

    def update(self, ref: str, fields: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self.http.send_json("PATCH", f"{GUESTS}/{_seg(ref)}", fields)
        return body

    def delete(self, ref: str) -> None:
        self.http.request("DELETE", f"{GUESTS}/{_seg(ref)}")

    def create_extension(self, ref: str, extension: dict[str, Any]) -> dict[str, Any]:
        """POST one group (`{"name": "ext", ...flat values}`). Raises CdpConflict if the name exists."""
        body: dict[str, Any] = self.http.send_json("POST", f"{GUESTS}/{_seg(ref)}/extensions", extension)
        return body

    def update_extension(self, ref: str, name: str, values: dict[str, Any]) -> dict[str, Any]:
        """PATCH: replace only the keys given (facts §4.1)."""
        body: dict[str, Any] = self.http.send_json("PATCH", f"{GUESTS}/{_seg(ref)}/extensions/{_seg(name)}", values)
        return body

    def get_extension(self, ref: str, name: str) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = self.http.get_json(f"{GUESTS}/{_seg(ref)}/extensions/{_seg(name)}")
        except CdpNotFound:
            return None
        return body

    def list_extensions(self, ref: str) -> list[dict[str, Any]]:
        body = self.http.get_json(f"{GUESTS}/{_seg(ref)}/extensions", params={"expand": "true"})
        return items_of(body)


class OrderClient:
    def __init__(self, http: CdpHttp) -> None:
        self.http = http

    def find_by_reference_id(self, reference_id: str) -> list[str]:
        body = self.http.get_json(ORDERS, params={"referenceId": reference_id, "limit": 100})
        return [ref_of(item) for item in items_of(body)]

    def list_for_guest(self, guest_ref: str) -> list[str]:
        body = self.http.get_json(ORDERS, params={"guestRef": guest_ref, "limit": 100})
        return [ref_of(item) for item in items_of(body)]

    def get(self, ref: str, *, expand: bool = True) -> dict[str, Any]:
        params = {"expand": "true"} if expand else None
        body: dict[str, Any] = self.http.get_json(f"{ORDERS}/{_seg(ref)}", params=params)
        return body

    def create(self, order: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self.http.send_json("POST", ORDERS, order)
        return body

    def add_contact(self, order_ref: str, contact: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self.http.send_json("POST", f"{ORDERS}/{_seg(order_ref)}/contacts", contact)
        return body

    def add_consumer(self, order_ref: str, consumer: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self.http.send_json("POST", f"{ORDERS}/{_seg(order_ref)}/consumers", consumer)
        return body

    def list_contacts(self, order_ref: str) -> list[dict[str, Any]]:
        body = self.http.get_json(f"{ORDERS}/{_seg(order_ref)}/contacts", params={"expand": "true", "limit": 100})
        return items_of(body)

    def list_consumers(self, order_ref: str) -> list[dict[str, Any]]:
        body = self.http.get_json(f"{ORDERS}/{_seg(order_ref)}/consumers", params={"expand": "true", "limit": 100})
        return items_of(body)

    def add_item(self, order_ref: str, item: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self.http.send_json("POST", f"{ORDERS}/{_seg(order_ref)}/orderItems", item)
        return body

    def list_items(self, order_ref: str) -> list[dict[str, Any]]:
        body = self.http.get_json(f"{ORDERS}/{_seg(order_ref)}/orderItems", params={"expand": "true", "limit": 100})
        items = items_of(body)
        # Without expansion a collection holds links only: fetch each item.
        return [item if len(item) > 1 else self.get_item(ref_of(item)) for item in items]

    def get_item(self, item_ref: str) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get_json(f"{ORDER_ITEMS}/{_seg(item_ref)}")
        return body

    # Order and order item data extensions: one per entity, named `ext` (facts §5.7), addressed by name.

    def create_extension(self, order_ref: str, values: dict[str, Any], name: str = "ext") -> dict[str, Any]:
        body: dict[str, Any] = self.http.send_json(
            "POST", f"{ORDERS}/{_seg(order_ref)}/extensions/{_seg(name)}", values
        )
        return body

    def update_extension(self, order_ref: str, values: dict[str, Any], name: str = "ext") -> dict[str, Any]:
        body: dict[str, Any] = self.http.send_json(
            "PATCH", f"{ORDERS}/{_seg(order_ref)}/extensions/{_seg(name)}", values
        )
        return body

    def get_extension(self, order_ref: str, name: str = "ext") -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = self.http.get_json(f"{ORDERS}/{_seg(order_ref)}/extensions/{_seg(name)}")
        except CdpNotFound:
            return None
        return body

    def create_item_extension(self, item_ref: str, values: dict[str, Any], name: str = "ext") -> dict[str, Any]:
        body: dict[str, Any] = self.http.send_json(
            "POST", f"{ORDER_ITEMS}/{_seg(item_ref)}/extensions/{_seg(name)}", values
        )
        return body

    def update_item_extension(self, item_ref: str, values: dict[str, Any], name: str = "ext") -> dict[str, Any]:
        body: dict[str, Any] = self.http.send_json(
            "PATCH", f"{ORDER_ITEMS}/{_seg(item_ref)}/extensions/{_seg(name)}", values
        )
        return body

    def get_item_extension(self, item_ref: str, name: str = "ext") -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = self.http.get_json(f"{ORDER_ITEMS}/{_seg(item_ref)}/extensions/{_seg(name)}")
        except CdpNotFound:
            return None
        return body
