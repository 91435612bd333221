"""Checking what the sandbox stores, independently of the client under test (plain httpx, REST search)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from cdp_poc_studio.generator.records import GeneratedGuest

AUTH = ("sandbox-client-key", "sandbox-api-token")


@dataclass
class StoreCheck:
    guests_expected: int = 0
    guests_in_store: int = 0
    missing_guests: list[str] = field(default_factory=list)
    duplicated_guests: list[str] = field(default_factory=list)
    missing_extensions: list[str] = field(default_factory=list)
    orders_expected: int = 0
    missing_orders: list[str] = field(default_factory=list)
    duplicated_orders: list[str] = field(default_factory=list)
    incomplete_orders: list[str] = field(default_factory=list)

    @property
    def problems(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if isinstance(value, list) and value}

    def assert_complete(self) -> None:
        assert not self.problems, self.problems
        assert self.guests_in_store == self.guests_expected, (self.guests_in_store, self.guests_expected)


def _items(body: Any) -> list[dict[str, Any]]:
    return list(body.get("items") or []) if isinstance(body, dict) else []


def check_store(base_url: str, guests: Sequence[GeneratedGuest], *, workers: int = 8) -> StoreCheck:
    """Every generated guest exactly once with its extension groups; every order exactly once with one contact,
    its items (by referenceId) and its extension. Also: no guest in the store that was not generated."""
    check = StoreCheck(guests_expected=len(guests))
    with httpx.Client(base_url=base_url, auth=AUTH, timeout=60) as client:
        seen: Counter[str] = Counter()
        groups: dict[str, set[str]] = {}
        offset = 0
        while True:
            body = client.get("/v2.1/guests", params={"limit": 100, "offset": offset, "expand": "true"}).json()
            items = _items(body)
            for item in items:
                for ident in item.get("identifiers") or []:
                    key = f"{ident['provider']}:{ident['id']}"
                    seen[key] += 1
                    groups[key] = {e.get("name") for e in _items(item.get("dataExtensions"))}
            check.guests_in_store += len(items)
            if len(items) < 100:
                break
            offset += 100
        for guest in guests:
            key = f"{guest.identifier['provider']}:{guest.identifier['id']}"
            if seen[key] == 0:
                check.missing_guests.append(key)
            elif seen[key] > 1:
                check.duplicated_guests.append(key)
            expected_groups = {g["name"] for g in guest.guest.get("extensions") or []}
            if seen[key] and not expected_groups <= groups.get(key, set()):
                check.missing_extensions.append(key)

        orders = [order.record["value"] for guest in guests for order in guest.orders]
        check.orders_expected = len(orders)

        def check_order(value: dict[str, Any]) -> tuple[str, str | None]:
            reference = value["referenceId"]
            found = _items(client.get("/v2.1/orders", params={"referenceId": reference, "limit": 100}).json())
            if not found:
                return reference, "missing"
            if len(found) > 1:
                return reference, "duplicated"
            ref = found[0].get("ref") or found[0]["href"].rsplit("/", 1)[1]
            order = client.get(f"/v2.1/orders/{ref}", params={"expand": "true"}).json()
            items = _items(client.get(f"/v2.1/orders/{ref}/orderItems", params={"expand": "true", "limit": 100}).json())
            have = sorted(item.get("referenceId") for item in items)
            want = sorted(item.get("referenceId") for item in value["orderItems"])
            contacts = _items(order.get("contacts"))
            extensions = {e.get("name") for e in _items(order.get("extensions"))}
            want_ext = {e["name"] for e in value.get("extensions") or []}
            if have != want or len(contacts) != 1 or not want_ext <= extensions:
                return reference, f"incomplete: items {have} vs {want}, contacts {len(contacts)}, ext {extensions}"
            return reference, None

        with ThreadPoolExecutor(workers) as pool:
            for reference, problem in pool.map(check_order, orders):
                if problem == "missing":
                    check.missing_orders.append(reference)
                elif problem == "duplicated":
                    check.duplicated_orders.append(reference)
                elif problem:
                    check.incomplete_orders.append(f"{reference}: {problem}")
    return check
