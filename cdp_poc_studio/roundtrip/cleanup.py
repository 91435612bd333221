"""Clean-up: find what a run created in the target, list it, and delete it through the REST API."""

from __future__ import annotations

from dataclasses import dataclass, field

from cdp_poc_studio.cdp.http import CdpHttp
from cdp_poc_studio.cdp.rest import GuestClient, OrderClient
from cdp_poc_studio.domain.errors import CdpNotFound
from cdp_poc_studio.domain.progress import CancelToken
from cdp_poc_studio.roundtrip.run_folder import RunFolder, read_generated


@dataclass
class CleanupPlan:
    """What the run left in the target: guests by ref (with their identifier) and orders by ref."""

    guests: list[tuple[str, str]] = field(default_factory=list)
    orders: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.guests and not self.orders


def plan_cleanup(folder: RunFolder, http: CdpHttp, cancel: CancelToken | None = None) -> CleanupPlan:
    """Search the target for every guest (by identifier) and order (by referenceId) the run generated."""
    guests, orders = GuestClient(http), OrderClient(http)
    plan = CleanupPlan()
    for line in read_generated(folder.generated):
        if cancel is not None:
            cancel.raise_if_cancelled()
        identifier = line.guest["identifiers"][0]
        for ref in guests.find_by_identifier(identifier["provider"], identifier["id"]):
            plan.guests.append((ref, f"{identifier['provider']}:{identifier['id']}"))
        for order in line.orders:
            reference = order.value["referenceId"]
            for ref in orders.find_by_reference_id(reference):
                plan.orders.append((ref, reference))
    return plan


def execute_cleanup(plan: CleanupPlan, http: CdpHttp, cancel: CancelToken | None = None) -> tuple[int, int]:
    """Delete the planned guests (CDP deletes their orders with them), then any order still there."""
    guests = GuestClient(http)
    deleted_guests = deleted_orders = 0
    for ref, _ in plan.guests:
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            guests.delete(ref)
            deleted_guests += 1
        except CdpNotFound:
            pass  # already gone: a clean-up that ran before, or deleted by hand
    for ref, _ in plan.orders:
        try:
            http.request("DELETE", f"/v2.1/orders/{ref}")
            deleted_orders += 1
        except CdpNotFound:
            pass  # went with its guest
    return deleted_guests, deleted_orders
