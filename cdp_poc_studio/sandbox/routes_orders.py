"""Order REST API v2.1: orders, contacts, consumers, order items and their data extensions (facts §5)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request

from cdp_poc_studio.sandbox import orders
from cdp_poc_studio.sandbox.auth import check_basic, sandbox_of
from cdp_poc_studio.sandbox.clock import iso
from cdp_poc_studio.sandbox.errors import CdpError, JsonResponse, conflict, invalid, not_found
from cdp_poc_studio.sandbox.fidelity import warn
from cdp_poc_studio.sandbox.http import (
    JsonBody,
    base_url,
    collection,
    new_ref,
    parse_expand,
    parse_paging,
    parse_sort,
)
from cdp_poc_studio.sandbox.validation import (
    CONSUMER_FIELDS,
    CONTACT_FIELDS,
    ORDER_FIELDS,
    ORDER_ITEM_FIELDS,
    ORDER_ITEM_READ_ONLY,
    ORDER_ITEM_REQUIRED,
    ORDER_READ_ONLY,
    ORDER_REQUIRED,
    PERSON_READ_ONLY,
    check_key_field,
    check_past,
    extension_schema,
    object_schema,
    require_object,
    validate,
    validate_extension_values,
)

router = APIRouter(dependencies=[Depends(check_basic)])
ORDER_TAG, CONTACT_TAG, CONSUMER_TAG, ITEM_TAG = "Order", "Order contact", "Order consumer", "Order item"
EXT_TAG = "Order data extension"
ITEM_EXT_TAG = "Order item data extension"
ExpandParam = Annotated[list[str] | None, Query(description="`true` inlines contacts, consumers, items, extensions")]


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


ORDER_SCHEMA = object_schema(ORDER_FIELDS, ORDER_REQUIRED, read_only=ORDER_READ_ONLY)
ORDER_PATCH_SCHEMA = object_schema(ORDER_FIELDS, read_only=ORDER_READ_ONLY)
ITEM_SCHEMA = object_schema(ORDER_ITEM_FIELDS, ORDER_ITEM_REQUIRED, read_only=ORDER_ITEM_READ_ONLY)
ITEM_PATCH_SCHEMA = object_schema(ORDER_ITEM_FIELDS, read_only=ORDER_ITEM_READ_ONLY)
CONTACT_SCHEMA = object_schema(CONTACT_FIELDS, read_only=PERSON_READ_ONLY)
CONSUMER_SCHEMA = object_schema(CONSUMER_FIELDS, read_only=PERSON_READ_ONLY)


def _order_missing(sandbox: Any, ref: str) -> CdpError:
    return not_found(f"Order with ref {ref} for client key {sandbox.config.client_key} was not found")


def _load_order(sandbox: Any, conn: Any, ref: str) -> orders.OrderRow:
    order = orders.load(conn, ref)
    if order is None:
        raise _order_missing(sandbox, ref)
    return order


# -- orders -------------------------------------------------------------------------------------------------


def create_order_for(request: Request, body: Any, *, required: tuple[str, ...]) -> JsonResponse:
    """POST /v2.1/orders and POST /v2/orders. `?guestRef=` links the order to that guest (the .NET SDK creates
    orders so); an unknown guest is a 400 rather than an order silently left without its guest."""
    sandbox = sandbox_of(request)
    attrs = validate(require_object(body), ORDER_FIELDS, required=required, read_only=ORDER_READ_ONLY)
    unknown = [name for name in request.query_params if name != "guestRef"]
    if unknown:
        raise invalid(unknown[0], "not a supported parameter on order create (use guestRef)")
    guest_ref = request.query_params.get("guestRef")
    now = iso(sandbox.clock.now())
    ref = new_ref()
    with sandbox.store.write() as conn:
        if guest_ref is not None:
            if conn.execute("SELECT 1 FROM guests WHERE ref = ?", (guest_ref,)).fetchone() is None:
                raise invalid("guestRef", f"guest {guest_ref} does not exist")
            warn("guestRef on order create links the order to that guest (seen in the .NET SDK, not documented)")
        orders.insert(conn, ref, attrs, now, guest_ref)
        order = _load_order(sandbox, conn, ref)
    return JsonResponse(orders.order_view(base_url(request), order), status_code=201)


@router.post("/v2.1/orders", tags=[ORDER_TAG], summary="Create an order", status_code=201,
             openapi_extra=_body(ORDER_SCHEMA))  # fmt: skip
def create_order(request: Request, body: JsonBody) -> JsonResponse:
    return create_order_for(request, body, required=ORDER_REQUIRED)


@router.get("/v2.1/orders", tags=[ORDER_TAG], summary="Retrieve orders by referenceId or guestRef")
def list_orders(
    request: Request,
    referenceId: str | None = None,  # noqa: N803
    guestRef: str | None = None,  # noqa: N803
    offset: int | None = None,
    limit: int | None = None,
    expand: ExpandParam = None,
    sort: str | None = None,
) -> JsonResponse:
    sandbox = sandbox_of(request)
    for name in request.query_params:
        if name not in ("referenceId", "guestRef", "offset", "limit", "expand", "sort"):
            raise invalid(name, "not a supported search parameter (use referenceId or guestRef)")
    if (referenceId is None) == (guestRef is None):
        raise invalid("referenceId", "send exactly one of referenceId and guestRef")
    off, lim = parse_paging(offset, limit)
    sortable = {"created": "created_at", "createdAt": "created_at"}
    if guestRef is not None:
        sortable["orderedAt"] = "ordered_at"  # orderedAt sorting only when listing by guestRef (facts §2.2)
    order_by = parse_sort(sort, sortable) or "created_at, ref"
    column, value = ("reference_id", referenceId) if referenceId is not None else ("guest_ref", guestRef)
    conn = sandbox.store.read()
    total = conn.execute(f"SELECT count(*) FROM orders WHERE {column} = ?", (value,)).fetchone()[0]
    rows = conn.execute(
        f"SELECT ref, guest_ref, created_at, modified_at, data, ext FROM orders WHERE {column} = ?"
        f" ORDER BY {order_by} LIMIT ? OFFSET ?",
        (value, lim, off),
    ).fetchall()
    base = base_url(request)
    full = parse_expand(expand)
    items = []
    for r in rows:
        row = orders.OrderRow(r[0], r[1], r[2], r[3], orjson.loads(r[4]), orjson.loads(r[5]) if r[5] else None)
        items.append(
            orders.order_view(base, row, conn, expand=True) if full else {"href": f"{base}/v2.1/orders/{r[0]}"}
        )
    query = {"referenceId": referenceId} if referenceId is not None else {"guestRef": str(guestRef)}
    if full:
        query["expand"] = "true"
    if sort:
        query["sort"] = sort
    return JsonResponse(collection(base, "/v2.1/orders", offset=off, limit=lim, total=total, items=items, query=query))


@router.get("/v2.1/orders/{orderRef}", tags=[ORDER_TAG], summary="Retrieve an order")
def get_order(request: Request, orderRef: str, expand: ExpandParam = None) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    conn = sandbox.store.read()
    order = _load_order(sandbox, conn, orderRef)
    full = parse_expand(expand) or any("orderItems" in e for e in expand or [])
    return JsonResponse(orders.order_view(base_url(request), order, conn, expand=full))


def _update_order(request: Request, ref: str, body: Any, *, replace: bool) -> JsonResponse:
    sandbox = sandbox_of(request)
    raw = require_object(body)
    attrs = validate(raw, ORDER_FIELDS, required=ORDER_REQUIRED if replace else (), read_only=ORDER_READ_ONLY)
    now = iso(sandbox.clock.now())
    with sandbox.store.write() as conn:
        order = _load_order(sandbox, conn, ref)
        if replace:
            order.data = attrs
        else:
            order.data.update(attrs)
            for key, value in raw.items():
                if value is None and key in ORDER_FIELDS and key not in ORDER_REQUIRED:
                    order.data.pop(key, None)
        orders.save(conn, order, now)
    return JsonResponse(orders.order_view(base_url(request), order))


@router.put("/v2.1/orders/{orderRef}", tags=[ORDER_TAG], summary="Update an order", openapi_extra=_body(ORDER_SCHEMA))
def put_order(request: Request, orderRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    return _update_order(request, orderRef, body, replace=True)


@router.patch("/v2.1/orders/{orderRef}", tags=[ORDER_TAG], summary="Partially update an order",
              openapi_extra=_body(ORDER_PATCH_SCHEMA))  # fmt: skip
def patch_order(request: Request, orderRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    return _update_order(request, orderRef, body, replace=False)


@router.delete("/v2.1/orders/{orderRef}", tags=[ORDER_TAG], summary="Delete an order")
def delete_order(request: Request, orderRef: str) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    with sandbox.store.write() as conn:
        _load_order(sandbox, conn, orderRef)
        conn.execute("DELETE FROM orders WHERE ref = ?", (orderRef,))
        orders.delete_children(conn, orderRef)
    return JsonResponse({})


# -- contacts and consumers ---------------------------------------------------------------------------------


def _person(request: Request, body: Any, fields: dict[str, Any], now: str) -> dict[str, Any]:
    attrs = validate(require_object(body), fields, read_only=PERSON_READ_ONLY)
    check_past(attrs, "dateOfBirth", now)
    return attrs


@router.post("/v2.1/orders/{orderRef}/contacts", tags=[CONTACT_TAG], summary="Create an order contact",
             status_code=201, openapi_extra=_body(CONTACT_SCHEMA))  # fmt: skip
def create_contact(request: Request, orderRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    now = iso(sandbox.clock.now())
    attrs = _person(request, body, CONTACT_FIELDS, now)
    ref = new_ref()
    with sandbox.store.write() as conn:
        order = _load_order(sandbox, conn, orderRef)
        if conn.execute("SELECT 1 FROM order_contacts WHERE order_ref = ?", (orderRef,)).fetchone():
            # Decision: one contact per order (the guest the order belongs to); delete it to replace it.
            raise conflict(f"Order {orderRef} already has a contact.")
        guest_ref = orders.resolve_person(conn, attrs, now, new_ref())
        stored = {k: v for k, v in attrs.items() if k != "guest"}
        conn.execute(
            "INSERT INTO order_contacts(ref, order_ref, guest_ref, created_at, modified_at, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (ref, orderRef, guest_ref, now, now, orjson.dumps(stored)),
        )
        order.guest_ref = guest_ref
        orders.save(conn, order, now)
        row = conn.execute(
            "SELECT ref, order_ref, guest_ref, created_at, modified_at, data FROM order_contacts WHERE ref = ?", (ref,)
        ).fetchone()
    return JsonResponse(orders.person_view(base_url(request), "orderContacts", row), status_code=201)


@router.get("/v2.1/orders/{orderRef}/contacts", tags=[CONTACT_TAG], summary="Retrieve the contacts of an order")
def list_contacts(request: Request, orderRef: str, expand: ExpandParam = None) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    conn = sandbox.store.read()
    _load_order(sandbox, conn, orderRef)
    rows = conn.execute(
        "SELECT ref, order_ref, guest_ref, created_at, modified_at, data FROM order_contacts WHERE order_ref = ?",
        (orderRef,),
    ).fetchall()
    base = base_url(request)
    full = parse_expand(expand)
    items = [orders.person_view(base, "orderContacts", r) if full else {"href": f"{base}/v2.1/orderContacts/{r[0]}"}
             for r in rows]  # fmt: skip
    return JsonResponse(collection(base, f"/v2.1/orders/{orderRef}/contacts", offset=0, limit=10, total=len(items),
                                   items=items))  # fmt: skip


def _get_person(request: Request, table: str, kind: str, ref: str) -> JsonResponse:
    sandbox = sandbox_of(request)
    extra = ", item_refs" if table == "order_consumers" else ""
    row = (
        sandbox.store.read()
        .execute(
            f"SELECT ref, order_ref, guest_ref, created_at, modified_at, data{extra} FROM {table} WHERE ref = ?", (ref,)
        )
        .fetchone()
    )
    if row is None:
        raise not_found(f"{kind[:-1]} with ref {ref} for client key {sandbox.config.client_key} was not found")
    return JsonResponse(orders.person_view(base_url(request), kind, row))


def _delete_person(request: Request, table: str, ref: str) -> JsonResponse:
    sandbox = sandbox_of(request)
    with sandbox.store.write() as conn:
        if conn.execute(f"DELETE FROM {table} WHERE ref = ?", (ref,)).rowcount == 0:
            raise not_found(f"Resource with ref {ref} for client key {sandbox.config.client_key} was not found")
    return JsonResponse({})


IDENTITY_KEYS = ("identifiers", "email", "emails")


def _update_person(request: Request, table: str, kind: str, ref: str, body: Any, *, replace: bool) -> JsonResponse:
    """PUT (replace) or PATCH (merge; null clears an attribute) of an order contact or consumer, with the rules of
    create: the same field table and checks, and the same identity resolution when the identity changes (guest
    link, identifiers or emails); otherwise the person keeps its guest, so that a consumer known only by name
    does not become a new traveller guest on every update."""
    sandbox = sandbox_of(request)
    now = iso(sandbox.clock.now())
    consumer = table == "order_consumers"
    fields = CONSUMER_FIELDS if consumer else CONTACT_FIELDS
    raw = require_object(body)
    attrs = _person(request, raw, fields, now)
    extra = ", item_refs" if consumer else ""
    columns = f"ref, order_ref, guest_ref, created_at, modified_at, data{extra}"
    with sandbox.store.write() as conn:
        row = conn.execute(f"SELECT {columns} FROM {table} WHERE ref = ?", (ref,)).fetchone()
        if row is None:
            raise not_found(f"{kind[:-1]} with ref {ref} for client key {sandbox.config.client_key} was not found")
        order_ref, guest_ref, old = row[1], row[2], orjson.loads(row[5])
        if replace:
            data = dict(attrs)
        else:
            data = {**old, **attrs}
            for key, value in raw.items():
                if value is None and key in fields:
                    data.pop(key, None)
        link = data.pop("guest", None)
        item_refs = orjson.loads(row[6]) if consumer else []
        if consumer:
            hrefs = data.pop("orderItems", None)
            if replace or hrefs is not None or raw.get("orderItems", ...) is None:
                item_refs = [orders.guest_ref_from_href(h) for h in hrefs or []]
                for item_ref in item_refs:
                    found = conn.execute("SELECT order_ref FROM order_items WHERE ref = ?", (item_ref,)).fetchone()
                    if found is None or found[0] != order_ref:
                        raise invalid("orderItems", f"order item {item_ref} does not belong to order {order_ref}")
        if link is not None or any(data.get(k) != old.get(k) for k in IDENTITY_KEYS):
            person = {**data, "guest": link} if link is not None else data
            if consumer:
                guest_ref = orders.resolve_person(
                    conn, person, now, new_ref(), guest_type="traveller", allow_name_only=True
                )
            else:
                guest_ref = orders.resolve_person(conn, person, now, new_ref())
                order = _load_order(sandbox, conn, order_ref)
                if order.guest_ref != guest_ref:
                    order.guest_ref = guest_ref
                    orders.save(conn, order, now)
        sets = "guest_ref = ?, data = ?, modified_at = ?" + (", item_refs = ?" if consumer else "")
        params: list[Any] = [guest_ref, orjson.dumps(data), now] + ([orjson.dumps(item_refs)] if consumer else [])
        conn.execute(f"UPDATE {table} SET {sets} WHERE ref = ?", (*params, ref))
        row = conn.execute(f"SELECT {columns} FROM {table} WHERE ref = ?", (ref,)).fetchone()
    return JsonResponse(orders.person_view(base_url(request), kind, row))


@router.put("/v2.1/orderContacts/{orderContactRef}", tags=[CONTACT_TAG], summary="Update an order contact",
            openapi_extra=_body(CONTACT_SCHEMA))  # fmt: skip
def put_contact(request: Request, orderContactRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    return _update_person(request, "order_contacts", "orderContacts", orderContactRef, body, replace=True)


@router.patch("/v2.1/orderContacts/{orderContactRef}", tags=[CONTACT_TAG],
              summary="Partially update an order contact", openapi_extra=_body(CONTACT_SCHEMA))  # fmt: skip
def patch_contact(request: Request, orderContactRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    return _update_person(request, "order_contacts", "orderContacts", orderContactRef, body, replace=False)


@router.put("/v2.1/orderConsumers/{orderConsumerRef}", tags=[CONSUMER_TAG], summary="Update an order consumer",
            openapi_extra=_body(CONSUMER_SCHEMA))  # fmt: skip
def put_consumer(request: Request, orderConsumerRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    return _update_person(request, "order_consumers", "orderConsumers", orderConsumerRef, body, replace=True)


@router.patch("/v2.1/orderConsumers/{orderConsumerRef}", tags=[CONSUMER_TAG],
              summary="Partially update an order consumer", openapi_extra=_body(CONSUMER_SCHEMA))  # fmt: skip
def patch_consumer(request: Request, orderConsumerRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    return _update_person(request, "order_consumers", "orderConsumers", orderConsumerRef, body, replace=False)


@router.get("/v2.1/orderContacts/{orderContactRef}", tags=[CONTACT_TAG], summary="Retrieve an order contact")
def get_contact(request: Request, orderContactRef: str) -> JsonResponse:  # noqa: N803
    return _get_person(request, "order_contacts", "orderContacts", orderContactRef)


@router.delete("/v2.1/orderContacts/{orderContactRef}", tags=[CONTACT_TAG], summary="Delete an order contact")
def delete_contact(request: Request, orderContactRef: str) -> JsonResponse:  # noqa: N803
    return _delete_person(request, "order_contacts", orderContactRef)


@router.post("/v2.1/orders/{orderRef}/consumers", tags=[CONSUMER_TAG], summary="Create an order consumer",
             status_code=201, openapi_extra=_body(CONSUMER_SCHEMA))  # fmt: skip
def create_consumer(request: Request, orderRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    now = iso(sandbox.clock.now())
    attrs = _person(request, body, CONSUMER_FIELDS, now)
    item_hrefs = attrs.pop("orderItems", [])
    ref = new_ref()
    with sandbox.store.write() as conn:
        _load_order(sandbox, conn, orderRef)
        item_refs = [orders.guest_ref_from_href(h) for h in item_hrefs]
        for item_ref in item_refs:
            found = conn.execute("SELECT order_ref FROM order_items WHERE ref = ?", (item_ref,)).fetchone()
            if found is None or found[0] != orderRef:
                raise invalid("orderItems", f"order item {item_ref} does not belong to order {orderRef}")
        # A consumer known only by name becomes a traveller guest (facts §5.5).
        guest_ref = orders.resolve_person(conn, attrs, now, new_ref(), guest_type="traveller", allow_name_only=True)
        stored = {k: v for k, v in attrs.items() if k != "guest"}
        conn.execute(
            "INSERT INTO order_consumers(ref, order_ref, guest_ref, created_at, modified_at, data, item_refs)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ref, orderRef, guest_ref, now, now, orjson.dumps(stored), orjson.dumps(item_refs)),
        )
        row = conn.execute(
            "SELECT ref, order_ref, guest_ref, created_at, modified_at, data, item_refs FROM order_consumers"
            " WHERE ref = ?",
            (ref,),
        ).fetchone()
    return JsonResponse(orders.person_view(base_url(request), "orderConsumers", row), status_code=201)


@router.get("/v2.1/orders/{orderRef}/consumers", tags=[CONSUMER_TAG], summary="Retrieve the consumers of an order")
def list_consumers(request: Request, orderRef: str, expand: ExpandParam = None) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    conn = sandbox.store.read()
    _load_order(sandbox, conn, orderRef)
    rows = conn.execute(
        "SELECT ref, order_ref, guest_ref, created_at, modified_at, data, item_refs FROM order_consumers"
        " WHERE order_ref = ? ORDER BY created_at, ref",
        (orderRef,),
    ).fetchall()
    base = base_url(request)
    full = parse_expand(expand)
    items = [orders.person_view(base, "orderConsumers", r) if full else {"href": f"{base}/v2.1/orderConsumers/{r[0]}"}
             for r in rows]  # fmt: skip
    return JsonResponse(collection(base, f"/v2.1/orders/{orderRef}/consumers", offset=0, limit=max(10, len(items)),
                                   total=len(items), items=items))  # fmt: skip


@router.get("/v2.1/orderConsumers/{orderConsumerRef}", tags=[CONSUMER_TAG], summary="Retrieve an order consumer")
def get_consumer(request: Request, orderConsumerRef: str) -> JsonResponse:  # noqa: N803
    return _get_person(request, "order_consumers", "orderConsumers", orderConsumerRef)


@router.delete("/v2.1/orderConsumers/{orderConsumerRef}", tags=[CONSUMER_TAG], summary="Delete an order consumer")
def delete_consumer(request: Request, orderConsumerRef: str) -> JsonResponse:  # noqa: N803
    return _delete_person(request, "order_consumers", orderConsumerRef)


@router.get("/v2.1/orderConsumers/{orderConsumerRef}/orderItems", tags=[CONSUMER_TAG],
            summary="Retrieve the order items of an order consumer")  # fmt: skip
def consumer_items(request: Request, orderConsumerRef: str, expand: ExpandParam = None) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    conn = sandbox.store.read()
    row = conn.execute("SELECT item_refs FROM order_consumers WHERE ref = ?", (orderConsumerRef,)).fetchone()
    if row is None:
        raise not_found(f"Order consumer with ref {orderConsumerRef} was not found")
    base = base_url(request)
    refs = orjson.loads(row[0])
    items: list[Any] = []
    for ref in refs:
        item = conn.execute(
            "SELECT ref, order_ref, created_at, modified_at, data, ext FROM order_items WHERE ref = ?", (ref,)
        ).fetchone()
        if item is not None:
            items.append(
                orders.item_view(base, item) if parse_expand(expand) else {"href": f"{base}/v2.1/orderItems/{ref}"}
            )
    path = f"/v2.1/orderConsumers/{orderConsumerRef}/orderItems"
    return JsonResponse(collection(base, path, offset=0, limit=max(10, len(items)), total=len(items), items=items))


# -- order items --------------------------------------------------------------------------------------------

ITEM_COLUMNS = "ref, order_ref, created_at, modified_at, data, ext"


def _load_item(sandbox: Any, conn: Any, ref: str) -> tuple[Any, ...]:
    row = conn.execute(f"SELECT {ITEM_COLUMNS} FROM order_items WHERE ref = ?", (ref,)).fetchone()
    if row is None:
        raise not_found(f"Order item with ref {ref} for client key {sandbox.config.client_key} was not found")
    return tuple(row)


@router.post("/v2.1/orders/{orderRef}/orderItems", tags=[ITEM_TAG], summary="Create an order item", status_code=201,
             openapi_extra=_body(ITEM_SCHEMA))  # fmt: skip
def create_item(request: Request, orderRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    attrs = validate(require_object(body), ORDER_ITEM_FIELDS, required=ORDER_ITEM_REQUIRED,
                     read_only=ORDER_ITEM_READ_ONLY)  # fmt: skip
    now = iso(sandbox.clock.now())
    ref = new_ref()
    with sandbox.store.write() as conn:
        _load_order(sandbox, conn, orderRef)
        orders.insert_item(conn, ref, orderRef, attrs, now, None)
        row = _load_item(sandbox, conn, ref)
    return JsonResponse(orders.item_view(base_url(request), row), status_code=201)


@router.get("/v2.1/orders/{orderRef}/orderItems", tags=[ITEM_TAG], summary="Retrieve the items of an order")
def list_items(
    request: Request,
    orderRef: str,  # noqa: N803
    offset: int | None = None,
    limit: int | None = None,
    expand: ExpandParam = None,
) -> JsonResponse:
    sandbox = sandbox_of(request)
    off, lim = parse_paging(offset, limit)
    conn = sandbox.store.read()
    _load_order(sandbox, conn, orderRef)
    total = conn.execute("SELECT count(*) FROM order_items WHERE order_ref = ?", (orderRef,)).fetchone()[0]
    rows = conn.execute(
        f"SELECT {ITEM_COLUMNS} FROM order_items WHERE order_ref = ? ORDER BY created_at, ref LIMIT ? OFFSET ?",
        (orderRef, lim, off),
    ).fetchall()
    base = base_url(request)
    full = parse_expand(expand)
    items = [orders.item_view(base, r) if full else {"href": f"{base}/v2.1/orderItems/{r[0]}"} for r in rows]
    return JsonResponse(collection(base, f"/v2.1/orders/{orderRef}/orderItems", offset=off, limit=lim, total=total,
                                   items=items, query={"expand": "true"} if full else None))  # fmt: skip


@router.get("/v2.1/orderItems/{orderItemRef}", tags=[ITEM_TAG], summary="Retrieve an order item")
def get_item(request: Request, orderItemRef: str) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    return JsonResponse(orders.item_view(base_url(request), _load_item(sandbox, sandbox.store.read(), orderItemRef)))


def _update_item(request: Request, ref: str, body: Any, *, replace: bool) -> JsonResponse:
    sandbox = sandbox_of(request)
    raw = require_object(body)
    attrs = validate(raw, ORDER_ITEM_FIELDS, required=ORDER_ITEM_REQUIRED if replace else (),
                     read_only=ORDER_ITEM_READ_ONLY)  # fmt: skip
    now = iso(sandbox.clock.now())
    with sandbox.store.write() as conn:
        row = _load_item(sandbox, conn, ref)
        data = attrs if replace else {**orjson.loads(row[4]), **attrs}
        if not replace:
            for key, value in raw.items():
                if value is None and key in ORDER_ITEM_FIELDS and key not in ORDER_ITEM_REQUIRED:
                    data.pop(key, None)
        conn.execute("UPDATE order_items SET data = ?, modified_at = ? WHERE ref = ?", (orjson.dumps(data), now, ref))
        row = _load_item(sandbox, conn, ref)
    return JsonResponse(orders.item_view(base_url(request), row))


@router.put("/v2.1/orderItems/{orderItemRef}", tags=[ITEM_TAG], summary="Update an order item",
            openapi_extra=_body(ITEM_SCHEMA))  # fmt: skip
def put_item(request: Request, orderItemRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    return _update_item(request, orderItemRef, body, replace=True)


@router.patch("/v2.1/orderItems/{orderItemRef}", tags=[ITEM_TAG], summary="Partially update an order item",
              openapi_extra=_body(ITEM_PATCH_SCHEMA))  # fmt: skip
def patch_item(request: Request, orderItemRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    return _update_item(request, orderItemRef, body, replace=False)


@router.delete("/v2.1/orderItems/{orderItemRef}", tags=[ITEM_TAG], summary="Delete an order item")
def delete_item(request: Request, orderItemRef: str) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    with sandbox.store.write() as conn:
        _load_item(sandbox, conn, orderItemRef)
        conn.execute("DELETE FROM order_items WHERE ref = ?", (orderItemRef,))
    return JsonResponse({})


# -- order and order item data extensions (one per owner, named ext, at most 100 keys) -------------------------

OWNERS = {"orders": ("orders", "Order"), "orderItems": ("order_items", "Order item")}


def _ext_owner(sandbox: Any, conn: Any, kind: str, ref: str) -> dict[str, Any] | None:
    table, label = OWNERS[kind]
    row = conn.execute(f"SELECT ext FROM {table} WHERE ref = ?", (ref,)).fetchone()
    if row is None:
        raise not_found(f"{label} with ref {ref} for client key {sandbox.config.client_key} was not found")
    return orjson.loads(row[0]) if row[0] else None


def _ext_name(name: Any) -> None:
    if name != "ext":
        raise CdpError(400, "name: value must be one of ext", "Attribute name is invalid (value must be one of ext).")


def _save_ext(conn: Any, kind: str, ref: str, ext: dict[str, Any] | None, now: str) -> None:
    table, _ = OWNERS[kind]
    conn.execute(
        f"UPDATE {table} SET ext = ?, modified_at = ? WHERE ref = ?", (orjson.dumps(ext) if ext else None, now, ref)
    )


def _ext_missing(sandbox: Any, kind: str, ref: str, name: str) -> CdpError:
    label = OWNERS[kind][1]
    return not_found(
        f"Data extension {name} for {label} ref {ref} and client key {sandbox.config.client_key} was not found"
    )


def _create_ext(request: Request, kind: str, ref: str, name: Any, raw: dict[str, Any]) -> JsonResponse:
    sandbox = sandbox_of(request)
    _ext_name(name)
    check_key_field(raw)
    values = validate_extension_values(raw)
    now = iso(sandbox.clock.now())
    with sandbox.store.write() as conn:
        if _ext_owner(sandbox, conn, kind, ref) is not None:
            raise conflict("Data extension ext already exists.")
        ext = {"ref": new_ref(), "createdAt": now, "modifiedAt": now, "values": values}
        _save_ext(conn, kind, ref, ext, now)
    return JsonResponse(orders.extension_view(base_url(request), kind, ref, ext), status_code=201)


def _change_ext(request: Request, kind: str, ref: str, name: str, body: Any, *, replace: bool) -> JsonResponse:
    sandbox = sandbox_of(request)
    _ext_name(name)
    raw = require_object(body)
    if raw.get("name", name) != name:
        raise invalid("name", "must match the data extension in the path (ext)")
    check_key_field(raw)
    values = validate_extension_values(raw)
    now = iso(sandbox.clock.now())
    with sandbox.store.write() as conn:
        ext = _ext_owner(sandbox, conn, kind, ref)
        if ext is None:
            raise _ext_missing(sandbox, kind, ref, name)
        merged = values if replace else {**ext["values"], **values}
        if len(merged) > 100:
            raise invalid("dataExtension", "a data extension may contain at most 100 key-value pairs")
        ext.update(values=merged, modifiedAt=now)
        _save_ext(conn, kind, ref, ext, now)
    return JsonResponse(orders.extension_view(base_url(request), kind, ref, ext))


def _add_extension_routes(kind: str, param: str, tag: str) -> None:
    base_path = f"/v2.1/{kind}/{{{param}}}/extensions"
    body_schema = _body(extension_schema(("ext",)))
    named_schema = _body(extension_schema(None))

    async def create_in_body(request: Request, body: JsonBody) -> JsonResponse:
        raw = require_object(body)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(_create_ext, request, kind, request.path_params[param], raw.get("name"), raw)

    def create_named(request: Request, dataExtensionName: str, body: JsonBody) -> JsonResponse:  # noqa: N803
        raw = require_object(body)
        if raw.get("name", dataExtensionName) != dataExtensionName:
            raise invalid("name", "must match the data extension in the path")
        return _create_ext(request, kind, request.path_params[param], dataExtensionName, raw)

    def list_exts(request: Request, expand: ExpandParam = None) -> JsonResponse:
        sandbox = sandbox_of(request)
        ref = request.path_params[param]
        ext = _ext_owner(sandbox, sandbox.store.read(), kind, ref)
        base = base_url(request)
        if ext is None:
            items: list[Any] = []
        elif parse_expand(expand):
            items = [orders.extension_view(base, kind, ref, ext)]
        else:
            items = [{"href": f"{base}/v2.1/{kind}/{ref}/extensions/ext"}]
        return JsonResponse(collection(base, f"/v2.1/{kind}/{ref}/extensions", offset=0, limit=10, total=len(items),
                                       items=items))  # fmt: skip

    def get_ext(request: Request, dataExtensionName: str) -> JsonResponse:  # noqa: N803
        sandbox = sandbox_of(request)
        ref = request.path_params[param]
        ext = _ext_owner(sandbox, sandbox.store.read(), kind, ref)
        if ext is None or dataExtensionName != "ext":
            raise _ext_missing(sandbox, kind, ref, dataExtensionName)
        return JsonResponse(orders.extension_view(base_url(request), kind, ref, ext))

    def put_ext(request: Request, dataExtensionName: str, body: JsonBody) -> JsonResponse:  # noqa: N803
        return _change_ext(request, kind, request.path_params[param], dataExtensionName, body, replace=True)

    def patch_ext(request: Request, dataExtensionName: str, body: JsonBody) -> JsonResponse:  # noqa: N803
        return _change_ext(request, kind, request.path_params[param], dataExtensionName, body, replace=False)

    def delete_ext(request: Request, dataExtensionName: str) -> JsonResponse:  # noqa: N803
        sandbox = sandbox_of(request)
        ref = request.path_params[param]
        with sandbox.store.write() as conn:
            if _ext_owner(sandbox, conn, kind, ref) is None or dataExtensionName != "ext":
                raise _ext_missing(sandbox, kind, ref, dataExtensionName)
            _save_ext(conn, kind, ref, None, iso(sandbox.clock.now()))
        return JsonResponse({})

    named = base_path + "/{dataExtensionName}"
    path_param = {"parameters": [{"name": param, "in": "path", "required": True, "schema": {"type": "string"}}]}
    extra = {**path_param}
    router.add_api_route(base_path, create_in_body, methods=["POST"], tags=[tag], status_code=201,
                         summary="Create a data extension (name in the body)",
                         openapi_extra={**extra, **body_schema})  # fmt: skip
    router.add_api_route(base_path, list_exts, methods=["GET"], tags=[tag], summary="Retrieve data extensions",
                         openapi_extra=extra)  # fmt: skip
    router.add_api_route(named, create_named, methods=["POST"], tags=[tag], status_code=201,
                         summary="Create a data extension", openapi_extra={**extra, **named_schema})  # fmt: skip
    router.add_api_route(named, get_ext, methods=["GET"], tags=[tag], summary="Retrieve a data extension",
                         openapi_extra=extra)  # fmt: skip
    router.add_api_route(named, put_ext, methods=["PUT"], tags=[tag], summary="Update a data extension",
                         openapi_extra={**extra, **named_schema})  # fmt: skip
    router.add_api_route(named, patch_ext, methods=["PATCH"], tags=[tag], summary="Partially update a data extension",
                         openapi_extra={**extra, **named_schema})  # fmt: skip
    router.add_api_route(named, delete_ext, methods=["DELETE"], tags=[tag], summary="Delete a data extension",
                         openapi_extra=extra)  # fmt: skip


_add_extension_routes("orders", "orderRef", EXT_TAG)
_add_extension_routes("orderItems", "orderItemRef", ITEM_EXT_TAG)
