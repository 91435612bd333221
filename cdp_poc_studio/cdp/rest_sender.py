"""Sending guests and orders through the Guest and Order REST APIs, so that reruns never duplicate.

Per guest: find it by identifier and replace it (PUT), or create it; POST each extension group, PATCH it on
409. Per order: find it by referenceId or create it; then its contact, items (with their extensions) and
extension. A create whose response was lost is never simply repeated: `create_once` searches first.

Concurrency: a pool of worker threads, one guest per worker at a time (a guest's requests depend on each
other), a bounded number in flight and an optional shared rate limit. Why threads, not asyncio: see http.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from cdp_poc_studio.cdp.http import CdpHttp
from cdp_poc_studio.cdp.ledger import GuestLike, LedgerRecord, RecordState, RunLedger
from cdp_poc_studio.cdp.rest import GuestClient, OrderClient, ref_of
from cdp_poc_studio.cdp.retry import RateLimiter
from cdp_poc_studio.domain.errors import (
    CdpApiError,
    CdpAuthError,
    CdpConfigError,
    CdpConflict,
    CdpError,
    CdpTransportError,
)
from cdp_poc_studio.domain.progress import Cancelled, CancelToken, ProgressMeter, StageCallback

T = TypeVar("T")
_ORDER_PARTS = ("contact", "orderItems", "extensions", "consumers")
# Batch envelopes carry `key: "default"` in extension groups; v2.1 REST sets it itself (facts §4.1).
_EXTENSION_ENVELOPE = ("name", "key")


# -- request bodies (shared with the dry run) -----------------------------------------------------------------


def guest_body(value: dict[str, Any]) -> dict[str, Any]:
    """The guest as the Guest REST API takes it: the batch value without its inline extensions."""
    return {k: v for k, v in value.items() if k != "extensions"}


def extension_body(group: dict[str, Any]) -> dict[str, Any]:
    """POST body of a guest extension: its name and flat values."""
    return {"name": group["name"], **extension_values(group)}


def extension_values(group: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in group.items() if k not in _EXTENSION_ENVELOPE}


def order_body(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in _ORDER_PARTS}


def item_body(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "extensions"}


def _item_key(item: dict[str, Any]) -> str:
    reference = item.get("referenceId")
    if reference:
        return f"ref:{reference}"
    return f"product:{item.get('productId')}:{item.get('name')}:{item.get('price')}"


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One request the sender would make for a record that CDP does not have yet (the dry run)."""

    method: str
    path: str
    params: dict[str, str] | None = None
    body: dict[str, Any] | None = None
    note: str = ""

    def as_curl(self, base_url: str) -> str:
        import shlex
        from urllib.parse import urlencode

        import orjson

        url = base_url.rstrip("/") + self.path + (f"?{urlencode(self.params)}" if self.params else "")
        parts = [
            "curl",
            "-X",
            self.method,
            "-u",
            '"$CDP_CLIENT_KEY:$CDP_API_TOKEN"',
            "-H",
            "'Accept: application/json'",
        ]
        if self.body is not None:
            parts += [
                "-H",
                "'Content-Type: application/json'",
                "--data-raw",
                shlex.quote(orjson.dumps(self.body).decode()),
            ]
        parts.append(shlex.quote(url))
        return " ".join(parts)


def plan_guest(guest: GuestLike) -> list[PlannedRequest]:
    """The requests for a guest and its orders when CDP has none of them; refs CDP would assign appear as
    `{guestRef}`, `{orderRef}` and `{orderItemRef}`."""
    value = guest.record["value"]
    ident = (value.get("identifiers") or [{}])[0]
    plan = [
        PlannedRequest(
            "GET",
            "/v2.1/guests",
            {
                "identifiers.provider": str(ident.get("provider")),
                "identifiers.id": str(ident.get("id")),
                "limit": "100",
            },
            note="find the guest by identifier (found: PUT /v2.1/guests/{guestRef} instead of the POST)",
        ),
        PlannedRequest("POST", "/v2.1/guests", body=guest_body(value), note="create the guest"),
    ]
    for group in value.get("extensions") or []:
        plan.append(
            PlannedRequest(
                "POST",
                "/v2.1/guests/{guestRef}/extensions",
                body=extension_body(group),
                note=f"create extension {group['name']} (on 409: PATCH .../extensions/{group['name']})",
            )
        )
    for order in guest.orders:
        plan += plan_order(order.record["value"])
    return plan


def plan_order(value: dict[str, Any]) -> list[PlannedRequest]:
    plan = [
        PlannedRequest(
            "GET",
            "/v2.1/orders",
            {"referenceId": str(value.get("referenceId")), "limit": "100"},
            note="find the order by referenceId",
        ),
        PlannedRequest("POST", "/v2.1/orders", body=order_body(value), note="create the order"),
    ]
    if value.get("contact"):
        plan.append(PlannedRequest("POST", "/v2.1/orders/{orderRef}/contacts", body=value["contact"], note="contact"))
    for consumer in value.get("consumers") or []:
        plan.append(PlannedRequest("POST", "/v2.1/orders/{orderRef}/consumers", body=consumer, note="consumer"))
    for item in value.get("orderItems") or []:
        plan.append(PlannedRequest("POST", "/v2.1/orders/{orderRef}/orderItems", body=item_body(item), note="item"))
        for group in item.get("extensions") or []:
            plan.append(
                PlannedRequest(
                    "POST",
                    f"/v2.1/orderItems/{{orderItemRef}}/extensions/{group['name']}",
                    body=extension_values(group),
                    note="item extension (on 409: PATCH)",
                )
            )
    for group in value.get("extensions") or []:
        plan.append(
            PlannedRequest(
                "POST",
                f"/v2.1/orders/{{orderRef}}/extensions/{group['name']}",
                body=extension_values(group),
                note="order extension (on 409: PATCH)",
            )
        )
    return plan


# -- the sender -----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RestResult:
    guests_done: int = 0
    orders_done: int = 0
    guests_failed: int = 0
    orders_failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)  # (record ref, message), first 100


@dataclass(frozen=True, slots=True)
class RestSettings:
    concurrency: int = 16
    # Requests per second over all workers; None for no limit.
    rate_limit: float | None = None
    # PUT replaces the whole guest so that it matches what was generated; PATCH only the fields sent.
    guest_update: str = "put"


class _Fatal(Exception):  # noqa: N818 - private marker
    """A failure that stops the run (bad credentials, CDP unreachable)."""


class RestSender:
    """Sends guests with their orders over REST, resumable through the ledger."""

    def __init__(
        self,
        http: CdpHttp,
        ledger: RunLedger | None = None,
        settings: RestSettings = RestSettings(),
        *,
        progress: StageCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self.settings = settings
        self.user_cancel = cancel or CancelToken()
        # Workers watch their own token: set on the user's cancel (by the feeding loop) or on a fatal error.
        self._stop = CancelToken()
        limiter = RateLimiter(settings.rate_limit, burst=settings.concurrency) if settings.rate_limit else None
        self.http = http.bound(cancel=self._stop, limiter=limiter)
        self.guests = GuestClient(self.http)
        self.orders = OrderClient(self.http)
        self.policy = self.http.policy
        self.ledger = ledger if ledger is not None else RunLedger(":memory:")
        self.progress = progress
        self._lock = threading.Lock()
        self._fatal: BaseException | None = None

    # -- driving ----------------------------------------------------------------------------------------------

    def send(self, guests: Iterable[GuestLike], *, total: int | None = None) -> RestResult:
        """Send every guest not yet done in the ledger. Raises the first fatal error (auth, unreachable);
        on cancel returns with `cancelled=True` and the ledger consistent (unfinished records stay `sent`)."""
        result = RestResult()
        meter = ProgressMeter("send", total, self.progress)
        started = time.perf_counter()
        concurrency = self.settings.concurrency
        in_flight: set[Future[None]] = set()
        executor = ThreadPoolExecutor(concurrency, thread_name_prefix="cdp-rest")
        try:
            for chunk in _chunks(guests, 256):
                self.ledger.register(chunk)
                known = self.ledger.states(
                    ref for g in chunk for ref in (g.record["ref"], *(o.record["ref"] for o in g.orders))
                )
                for guest in chunk:
                    if self._stopping():
                        break
                    if self._all_done(guest, known):
                        result.skipped += 1
                        meter.advance()
                        continue
                    while len(in_flight) >= concurrency * 2:
                        in_flight = self._reap(in_flight, 0.05)
                    future = executor.submit(self._guest_job, guest, known, result, meter)
                    in_flight.add(future)
                if self._stopping():
                    break
            while in_flight:
                in_flight = self._reap(in_flight, 0.05)
        finally:
            if self._stopping():
                self._stop.cancel()
            executor.shutdown(wait=True, cancel_futures=True)
            result.seconds = time.perf_counter() - started
            meter.finish()
        if self._fatal is not None:
            raise self._fatal
        result.cancelled = self.user_cancel.cancelled
        return result

    def _stopping(self) -> bool:
        return self.user_cancel.cancelled or self._fatal is not None

    def _reap(self, in_flight: set[Future[None]], timeout: float) -> set[Future[None]]:
        if self._stopping():
            self._stop.cancel()
        _done, pending = wait(in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
        if self._stopping():
            self._stop.cancel()
        return pending

    @staticmethod
    def _all_done(guest: GuestLike, known: dict[str, LedgerRecord]) -> bool:
        refs = (guest.record["ref"], *(o.record["ref"] for o in guest.orders))
        return all(ref in known and known[ref].state == RecordState.DONE for ref in refs)

    def _guest_job(
        self, guest: GuestLike, known: dict[str, LedgerRecord], result: RestResult, meter: ProgressMeter
    ) -> None:
        if self._stop.cancelled:
            return
        try:
            errors = self._send_guest(guest, known, result)
        except Cancelled:
            return
        except _Fatal as exc:
            with self._lock:
                if self._fatal is None:
                    self._fatal = exc.__cause__ or exc
            self._stop.cancel()
            return
        meter.advance(1, errors=errors)

    # -- one guest --------------------------------------------------------------------------------------------

    def _send_guest(self, guest: GuestLike, known: dict[str, LedgerRecord], result: RestResult) -> int:
        ledger = self.ledger
        g_ref = guest.record["ref"]
        row = known.get(g_ref)
        pending_orders = [o.record for o in guest.orders if not _done(known.get(o.record["ref"]))]
        ledger.mark_sent([*([] if _done(row) else [g_ref]), *(o["ref"] for o in pending_orders)])
        errors = 0
        guest_ref = row.cdp_ref if _done(row) and row is not None else None
        if guest_ref is None:
            try:
                guest_ref, status = self._upsert_guest(guest.record["value"])
            except CdpApiError as exc:
                self._record_failure(g_ref, exc, result, guest=True)
                for order in pending_orders:
                    ledger.mark_failed(
                        order["ref"],
                        http_status=None,
                        code="guest-failed",
                        message=f"not sent: its guest failed ({exc.status})",
                    )
                with self._lock:
                    result.orders_failed += len(pending_orders)
                return 1 + len(pending_orders)
            ledger.mark_done(g_ref, cdp_ref=guest_ref, http_status=status)
            with self._lock:
                result.guests_done += 1
        for order in pending_orders:
            try:
                order_ref = self._upsert_order(order["value"])
            except CdpApiError as exc:
                self._record_failure(order["ref"], exc, result, guest=False)
                errors += 1
                continue
            ledger.mark_done(order["ref"], cdp_ref=order_ref, http_status=201)
            with self._lock:
                result.orders_done += 1
        return errors

    def _record_failure(self, ref: str, exc: CdpApiError, result: RestResult, *, guest: bool) -> None:
        if isinstance(exc, CdpAuthError):
            raise _Fatal(str(exc)) from exc
        self.ledger.mark_failed(
            ref, http_status=exc.status, code=None if exc.code is None else str(exc.code), message=str(exc)
        )
        with self._lock:
            if guest:
                result.guests_failed += 1
            else:
                result.orders_failed += 1
            if len(result.failures) < 100:
                result.failures.append((ref, str(exc)))

    def _call(self, fn: Callable[[], T]) -> T:
        """Run one step; unrecoverable transport or configuration errors stop the run."""
        try:
            return fn()
        except (CdpTransportError, CdpConfigError) as exc:
            raise _Fatal(str(exc)) from exc
        except CdpError as exc:
            if not isinstance(exc, CdpApiError):
                raise _Fatal(str(exc)) from exc
            raise

    def _upsert_guest(self, value: dict[str, Any]) -> tuple[str, int]:
        body = guest_body(value)
        ident = (value.get("identifiers") or [None])[0]
        status = 201
        found: list[str] = []
        if ident is not None:
            found = self._call(lambda: self.guests.find_by_identifier(ident["provider"], ident["id"]))
        elif value.get("email"):
            found = self._call(lambda: self.guests.search(email=value["email"]))
        if found:
            ref = found[0]
            if self.settings.guest_update == "patch":
                self._call(lambda: self.guests.update(ref, body))
            else:
                self._call(lambda: self.guests.replace(ref, body))
            status = 200
        else:

            def find() -> dict[str, Any] | None:
                if ident is None:
                    return None
                refs = self.guests.find_by_identifier(ident["provider"], ident["id"])
                return {"ref": refs[0]} if refs else None

            created, was_found = self._call(lambda: self.policy.create_once(lambda: self.guests.create(body), find))
            ref = ref_of(created)
            status = 200 if was_found else 201
        for group in value.get("extensions") or []:
            self._guest_extension(ref, group)
        return ref, status

    def _guest_extension(self, guest_ref: str, group: dict[str, Any]) -> None:
        try:
            self._call(
                lambda: self.policy.create_once(
                    lambda: self.guests.create_extension(guest_ref, extension_body(group)), None
                )
            )
        except CdpConflict:
            self._call(lambda: self.guests.update_extension(guest_ref, group["name"], extension_values(group)))

    def _upsert_order(self, value: dict[str, Any]) -> str:
        reference_id = value["referenceId"]
        orders = self.orders
        found = self._call(lambda: orders.find_by_reference_id(reference_id))
        if found:
            order_ref, uncertain = found[0], True
        else:

            def find() -> dict[str, Any] | None:
                refs = orders.find_by_reference_id(reference_id)
                return {"ref": refs[0]} if refs else None

            created, uncertain = self._call(
                lambda: self.policy.create_once(lambda: orders.create(order_body(value)), find)
            )
            order_ref = ref_of(created)
        contact = value.get("contact")
        if contact and not (uncertain and self._contact_exists(order_ref)):

            def contact_find() -> dict[str, Any] | None:
                return {} if self._contact_exists(order_ref) else None

            self._call(lambda: self.policy.create_once(lambda: orders.add_contact(order_ref, contact), contact_find))
        consumers = value.get("consumers") or []
        if consumers and not (uncertain and self._call(lambda: orders.list_consumers(order_ref))):
            for consumer in consumers:
                self._add_consumer(order_ref, consumer)
        existing: dict[str, str] = {}
        if uncertain:
            existing = {_item_key(item): ref_of(item) for item in self._call(lambda: orders.list_items(order_ref))}
        for item in value.get("orderItems") or []:
            key = _item_key(item)
            item_ref = existing.get(key)
            if item_ref is None:
                item_ref = self._add_item(order_ref, item, key)
            for group in item.get("extensions") or []:
                self._order_extension(item_ref, group, item=True)
        for group in value.get("extensions") or []:
            self._order_extension(order_ref, group, item=False)
        return order_ref

    def _add_consumer(self, order_ref: str, consumer: dict[str, Any]) -> None:
        orders = self.orders
        self._call(lambda: self.policy.create_once(lambda: orders.add_consumer(order_ref, consumer), None))

    def _add_item(self, order_ref: str, item: dict[str, Any], key: str) -> str:
        orders = self.orders

        def find() -> dict[str, Any] | None:
            return next((have for have in orders.list_items(order_ref) if _item_key(have) == key), None)

        created, _ = self._call(
            lambda: self.policy.create_once(lambda: orders.add_item(order_ref, item_body(item)), find)
        )
        return ref_of(created)

    def _contact_exists(self, order_ref: str) -> bool:
        # The contact links the order to a guest; `orderRef` is a documented guest search filter (facts §3.2).
        return bool(self.guests.search(orderRef=order_ref))

    def _order_extension(self, ref: str, group: dict[str, Any], *, item: bool) -> None:
        orders, values, name = self.orders, extension_values(group), group["name"]
        create = orders.create_item_extension if item else orders.create_extension
        update = orders.update_item_extension if item else orders.update_extension
        try:
            self._call(lambda: self.policy.create_once(lambda: create(ref, values, name), None))
        except CdpConflict:
            self._call(lambda: update(ref, values, name))


def _done(row: LedgerRecord | None) -> bool:
    return row is not None and row.state == RecordState.DONE


def _chunks(items: Iterable[GuestLike], size: int) -> Iterator[list[GuestLike]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
