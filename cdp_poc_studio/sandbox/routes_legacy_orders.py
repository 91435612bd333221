"""Legacy Order REST API v2: orders, order items, contacts and consumers on their /v2 paths (facts §4.2, §5;
the `--legacy-` pages and the .NET SDK's interactive API).

One store with v2.1: each route runs the v2.1 rule and answers with /v2/ links. What differs on the wire:
`pointOfSale` is required on order create (legacy page), `POST /v2/orders?guestRef=G` links the order to G,
`?expand=orderItems` (or `true`) expands an order, updates are `POST` (and `PUT`) merging what was sent
(nulls change nothing), and a legacy order contact needs firstName and lastName.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from cdp_poc_studio.sandbox import routes_orders
from cdp_poc_studio.sandbox.auth import check_basic
from cdp_poc_studio.sandbox.errors import invalid
from cdp_poc_studio.sandbox.http import JsonBody, add_legacy_update, as_legacy
from cdp_poc_studio.sandbox.validation import ORDER_REQUIRED, require_object

router = APIRouter(dependencies=[Depends(check_basic)])
ORDER_TAG, ITEM_TAG = "Order (legacy v2)", "Order item (legacy v2)"
CONTACT_TAG, CONSUMER_TAG = "Order contact (legacy v2)", "Order consumer (legacy v2)"
LEGACY_ORDER_REQUIRED = (*ORDER_REQUIRED, "pointOfSale")  # create-an-order--legacy-
ExpandParam = Annotated[list[str] | None, Query(description="`orderItems` or `true` expands the order")]


# -- orders -------------------------------------------------------------------------------------------------


@router.post("/v2/orders", tags=[ORDER_TAG], summary="Create an order (legacy)", status_code=201)
def create_order(request: Request, body: JsonBody) -> Response:
    return as_legacy(request, routes_orders.create_order_for(request, body, required=LEGACY_ORDER_REQUIRED))


@router.get("/v2/orders", tags=[ORDER_TAG], summary="Retrieve orders (legacy)")
def list_orders(
    request: Request,
    referenceId: str | None = None,  # noqa: N803
    guestRef: str | None = None,  # noqa: N803
    offset: int | None = None,
    limit: int | None = None,
    expand: ExpandParam = None,
    sort: str | None = None,
) -> Response:
    return as_legacy(request, routes_orders.list_orders(request, referenceId, guestRef, offset, limit, expand, sort))


@router.get("/v2/orders/{orderRef}", tags=[ORDER_TAG], summary="Retrieve an order (legacy)")
def get_order(request: Request, orderRef: str, expand: ExpandParam = None) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.get_order(request, orderRef, expand))


add_legacy_update(
    router, "/v2/orders/{orderRef}", tag=ORDER_TAG, noun="an order", name="order", patch=routes_orders.patch_order
)


@router.delete("/v2/orders/{orderRef}", tags=[ORDER_TAG], summary="Delete an order (legacy)")
def delete_order(request: Request, orderRef: str) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.delete_order(request, orderRef))


# -- order items --------------------------------------------------------------------------------------------


@router.post("/v2/orders/{orderRef}/orderItems", tags=[ITEM_TAG], summary="Create an order item (legacy)",
             status_code=201)  # fmt: skip
def create_item(request: Request, orderRef: str, body: JsonBody) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.create_item(request, orderRef, body))


@router.get("/v2/orders/{orderRef}/orderItems", tags=[ITEM_TAG], summary="Retrieve the items of an order (legacy)")
def list_items(
    request: Request,
    orderRef: str,  # noqa: N803
    offset: int | None = None,
    limit: int | None = None,
    expand: ExpandParam = None,
) -> Response:
    return as_legacy(request, routes_orders.list_items(request, orderRef, offset, limit, expand))


@router.get("/v2/orderItems/{orderItemRef}", tags=[ITEM_TAG], summary="Retrieve an order item (legacy)")
def get_item(request: Request, orderItemRef: str) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.get_item(request, orderItemRef))


add_legacy_update(
    router,
    "/v2/orderItems/{orderItemRef}",
    tag=ITEM_TAG,
    noun="an order item",
    name="item",
    patch=routes_orders.patch_item,
)


@router.delete("/v2/orderItems/{orderItemRef}", tags=[ITEM_TAG], summary="Delete an order item (legacy)")
def delete_item(request: Request, orderItemRef: str) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.delete_item(request, orderItemRef))


# -- contacts -----------------------------------------------------------------------------------------------


@router.post("/v2/orders/{orderRef}/contacts", tags=[CONTACT_TAG], summary="Create an order contact (legacy)",
             status_code=201)  # fmt: skip
def create_contact(request: Request, orderRef: str, body: JsonBody) -> Response:  # noqa: N803
    raw = require_object(body)
    for name in ("firstName", "lastName"):  # required on the legacy contact (facts §5.4)
        if raw.get(name) is None:
            raise invalid(name, "may not be null")
    return as_legacy(request, routes_orders.create_contact(request, orderRef, raw))


@router.get("/v2/orders/{orderRef}/contacts", tags=[CONTACT_TAG], summary="Retrieve the contacts of an order (legacy)")
def list_contacts(request: Request, orderRef: str, expand: ExpandParam = None) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.list_contacts(request, orderRef, expand))


@router.get("/v2/orderContacts/{orderContactRef}", tags=[CONTACT_TAG], summary="Retrieve an order contact (legacy)")
def get_contact(request: Request, orderContactRef: str) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.get_contact(request, orderContactRef))


add_legacy_update(
    router,
    "/v2/orderContacts/{orderContactRef}",
    tag=CONTACT_TAG,
    noun="an order contact",
    name="contact",
    patch=routes_orders.patch_contact,
)


@router.delete("/v2/orderContacts/{orderContactRef}", tags=[CONTACT_TAG], summary="Delete an order contact (legacy)")
def delete_contact(request: Request, orderContactRef: str) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.delete_contact(request, orderContactRef))


# -- consumers ----------------------------------------------------------------------------------------------


@router.post("/v2/orders/{orderRef}/consumers", tags=[CONSUMER_TAG], summary="Create an order consumer (legacy)",
             status_code=201)  # fmt: skip
def create_consumer(request: Request, orderRef: str, body: JsonBody) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.create_consumer(request, orderRef, body))


@router.get("/v2/orders/{orderRef}/consumers", tags=[CONSUMER_TAG],
            summary="Retrieve the consumers of an order (legacy)")  # fmt: skip
def list_consumers(request: Request, orderRef: str, expand: ExpandParam = None) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.list_consumers(request, orderRef, expand))


@router.get("/v2/orderConsumers/{orderConsumerRef}", tags=[CONSUMER_TAG],
            summary="Retrieve an order consumer (legacy)")  # fmt: skip
def get_consumer(request: Request, orderConsumerRef: str) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.get_consumer(request, orderConsumerRef))


add_legacy_update(
    router,
    "/v2/orderConsumers/{orderConsumerRef}",
    tag=CONSUMER_TAG,
    noun="an order consumer",
    name="consumer",
    patch=routes_orders.patch_consumer,
)


@router.delete("/v2/orderConsumers/{orderConsumerRef}", tags=[CONSUMER_TAG],
               summary="Delete an order consumer (legacy)")  # fmt: skip
def delete_consumer(request: Request, orderConsumerRef: str) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.delete_consumer(request, orderConsumerRef))


@router.get("/v2/orderConsumers/{orderConsumerRef}/orderItems", tags=[CONSUMER_TAG],
            summary="Retrieve the order items of an order consumer (legacy)")  # fmt: skip
def consumer_items(request: Request, orderConsumerRef: str, expand: ExpandParam = None) -> Response:  # noqa: N803
    return as_legacy(request, routes_orders.consumer_items(request, orderConsumerRef, expand))
