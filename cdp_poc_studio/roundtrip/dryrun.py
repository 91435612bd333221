"""Dry run: exactly what would be sent, without sending: REST requests in order, or batch file lines."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson

from cdp_poc_studio.cdp.ledger import GuestLike
from cdp_poc_studio.cdp.rest_sender import PlannedRequest, plan_guest


def dry_run_rest(guests: Iterable[GuestLike]) -> Iterator[PlannedRequest]:
    """The requests the REST sender makes for guests that CDP does not have yet, in order."""
    for guest in guests:
        yield from plan_guest(guest)


def dry_run_batch(guests: Iterable[GuestLike]) -> Iterator[str]:
    """The batch file lines (minified JSON, as `BatchFileWriter` writes them), guest first, then its orders."""
    for guest in guests:
        yield orjson.dumps(guest.record).decode()
        for order in guest.orders:
            yield orjson.dumps(order.record).decode()
