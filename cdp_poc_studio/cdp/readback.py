"""Reading back through REST: a guest with its extensions, an order with its items and extensions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cdp_poc_studio.cdp.http import CdpHttp
from cdp_poc_studio.cdp.rest import GuestClient, OrderClient, items_of, ref_of
from cdp_poc_studio.domain.errors import CdpNotFound

_EXTENSION_ENVELOPE = frozenset(
    {"name", "key", "ref", "href", "createdAt", "modifiedAt", "guest", "order", "orderItem"}
)


def extension_values(extension: dict[str, Any]) -> dict[str, Any]:
    """The key-values of an extension resource, without its envelope (name, key, ref, href, timestamps)."""
    return {k: v for k, v in extension.items() if k not in _EXTENSION_ENVELOPE}


@dataclass(slots=True)
class GuestSnapshot:
    ref: str
    data: dict[str, Any]
    extensions: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class OrderItemSnapshot:
    ref: str
    data: dict[str, Any]
    extension: dict[str, Any] | None = None


@dataclass(slots=True)
class OrderSnapshot:
    ref: str
    data: dict[str, Any]
    items: list[OrderItemSnapshot] = field(default_factory=list)
    extension: dict[str, Any] | None = None
    guest_refs: list[str] = field(default_factory=list)
    consumers: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)


class ReadBack:
    """What CDP holds for the records a run sent."""

    def __init__(self, http: CdpHttp) -> None:
        self.guests = GuestClient(http)
        self.orders = OrderClient(http)

    def guest_by_identifier(self, provider: str, identifier: str) -> list[GuestSnapshot]:
        """Every guest with this identifier (more than one means duplicates)."""
        return [self.guest(ref) for ref in self.guests.find_by_identifier(provider, identifier)]

    def guest(self, ref: str) -> GuestSnapshot:
        data = self.guests.get(ref, expand=True)
        extensions: dict[str, dict[str, Any]] = {}
        inline = data.get("dataExtensions") or data.get("extensions")
        for item in items_of(inline):
            if "name" in item:
                extensions[str(item["name"])] = extension_values(item)
            else:
                # A link only: fetch the extension.
                name = ref_of(item)
                fetched = self.guests.get_extension(ref, name)
                if fetched is not None:
                    extensions[str(fetched.get("name", name))] = extension_values(fetched)
        if inline is None:
            for item in self.guests.list_extensions(ref):
                name = str(item.get("name") or ref_of(item))
                full = item if "name" in item else self.guests.get_extension(ref, name)
                if full is not None:
                    extensions[name] = extension_values(full)
        return GuestSnapshot(ref_of(data) if ("ref" in data or "href" in data) else ref, data, extensions)

    def orders_by_reference_id(self, reference_id: str, *, guests: bool = True) -> list[OrderSnapshot]:
        return [self.order(ref, guests=guests) for ref in self.orders.find_by_reference_id(reference_id)]

    @staticmethod
    def _people(collection: Any, fetch: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """An order's contacts or consumers: inline when the order came expanded, else fetched (one GET)."""
        if collection is None:
            return []
        inline = items_of(collection)
        if isinstance(collection, dict) and "items" in collection and all(len(i) > 1 for i in inline):
            return inline
        return fetch()

    def order(self, ref: str, *, guests: bool = True) -> OrderSnapshot:
        """The order with its items and extensions; `guests=False` skips finding the guests linked to it."""
        data = self.orders.get(ref, expand=True)
        items = []
        for item in self.orders.list_items(ref):
            item_ref = ref_of(item)
            extension = self.orders.get_item_extension(item_ref)
            items.append(OrderItemSnapshot(item_ref, item, None if extension is None else extension_values(extension)))
        extension = self.orders.get_extension(ref)
        guest_refs: list[str] = []
        if guests:
            try:
                guest_refs = self.guests.search(orderRef=ref)
            except CdpNotFound:
                guest_refs = []
        consumers = self._people(data.get("consumers"), lambda: self.orders.list_consumers(ref))
        contacts = self._people(data.get("contacts"), lambda: self.orders.list_contacts(ref))
        return OrderSnapshot(
            ref, data, items, None if extension is None else extension_values(extension), guest_refs, consumers,
            contacts,
        )  # fmt: skip
