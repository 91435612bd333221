"""What each API would send for one guest and its orders: the batch lines, or the REST requests in order.

Qt-free and deliberately simple: a preview for the user, built from the same wire records the generator writes.
The refs in REST paths are placeholders (`{guestRef}`), since CDP assigns them when the previous request returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cdp_poc_studio.domain.guest import Guest

# Guest attributes a mapping may target (CDP's read-only fields and the structured ones left out).
GUEST_ATTRIBUTES: tuple[str, ...] = tuple(
    field.alias or name
    for name, field in Guest.model_fields.items()
    if name not in ("ref", "href", "created_at", "modified_at", "extensions", "identifiers", "first_seen", "last_seen")
)
LIST_ATTRIBUTES = frozenset({"emails", "phoneNumbers", "street"})


@dataclass(frozen=True, slots=True)
class RestRequest:
    method: str
    path: str
    body: dict[str, Any]

    def render(self) -> str:
        return f"{self.method} {self.path}\n{json.dumps(self.body, indent=2, ensure_ascii=False)}"


def _without(value: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in keys}


def _extension_body(group: Mapping[str, Any]) -> dict[str, Any]:
    # v2.1 sets `key` to "default" itself; the name travels in the body.
    return _without(group, "key")


def rest_requests(guest: Mapping[str, Any], orders: Iterable[Mapping[str, Any]] = ()) -> list[RestRequest]:
    """The Guest and Order REST v2.1 requests, in the order a sender makes them, for one guest's wire values."""
    requests = [RestRequest("POST", "/v2.1/guests", _without(guest, "extensions"))]
    for group in guest.get("extensions") or []:
        requests.append(RestRequest("POST", "/v2.1/guests/{guestRef}/extensions", _extension_body(group)))
    for number, order in enumerate(orders, start=1):
        ref = f"{{orderRef{number}}}"
        requests.append(
            RestRequest("POST", "/v2.1/orders", _without(order, "contact", "orderItems", "extensions", "consumers"))
        )
        if order.get("contact"):
            requests.append(RestRequest("POST", f"/v2.1/orders/{ref}/contacts", dict(order["contact"])))
        for index, item in enumerate(order.get("orderItems") or [], start=1):
            requests.append(RestRequest("POST", f"/v2.1/orders/{ref}/orderItems", _without(item, "extensions")))
            for group in item.get("extensions") or []:
                requests.append(
                    RestRequest(
                        "POST", f"/v2.1/orderItems/{{orderItemRef{number}.{index}}}/extensions", _extension_body(group)
                    )
                )
        for group in order.get("extensions") or []:
            requests.append(RestRequest("POST", f"/v2.1/orders/{ref}/extensions", _extension_body(group)))
    return requests


def render_rest(requests: list[RestRequest]) -> str:
    return "\n\n".join(f"# {n}. {request.render()}" for n, request in enumerate(requests, start=1))


def render_batch(records: Iterable[Mapping[str, Any]]) -> str:
    """Batch file lines exactly as written: one minified JSON record per line."""
    import orjson

    # The same serialiser as the batch file writer, so that the preview is byte for byte what is uploaded.
    return "\n".join(orjson.dumps(record).decode("utf-8") for record in records)
