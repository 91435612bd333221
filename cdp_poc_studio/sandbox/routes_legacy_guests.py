"""Legacy Guest REST API v2 and its guest data extensions (facts §4.2; the `--legacy-` pages).

Same store and rules as v2.1 (what is written here is read on /v2.1 and the reverse); what differs is the wire:
hrefs on /v2/, update is `POST /v2/guests/{ref}` merging the attributes sent, search takes the legacy filters, and
data extensions live at `/v2/guests/{ref}/ext{Name}` (a collection) and `/v2/guests/{ref}/ext{Name}/{extRef}`,
where `{Name}` is the extension's name (`ext`, `ext1`..`ext5`; `extext`, and `extExt` as the data model 2.0 pages
write it). Legacy extension bodies must carry `"key": "default"` and an update replaces all the attributes.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from cdp_poc_studio.sandbox import guests, orders, routes_guests
from cdp_poc_studio.sandbox.auth import check_basic, sandbox_of
from cdp_poc_studio.sandbox.clock import iso
from cdp_poc_studio.sandbox.errors import CdpError, JsonResponse, invalid, not_found
from cdp_poc_studio.sandbox.fidelity import warn
from cdp_poc_studio.sandbox.http import JsonBody, add_legacy_update, as_legacy, base_url, new_ref, parse_expand
from cdp_poc_studio.sandbox.validation import GUEST_EXTENSION_NAMES, require_object, validate_extension_values

router = APIRouter(dependencies=[Depends(check_basic)])
TAG = "Guest (legacy v2)"
EXT_TAG = "Guest data extension (legacy v2)"
ExpandParam = Annotated[list[str] | None, Query(description="`true` inlines the data extensions")]


@router.post("/v2/guests", tags=[TAG], summary="Create a guest (legacy)", status_code=201)
def create_guest(request: Request, body: JsonBody) -> Response:
    return as_legacy(request, routes_guests.create_guest(request, body))


@router.get("/v2/guests", tags=[TAG], summary="Retrieve guests (legacy)")
def list_guests(request: Request) -> Response:
    """Filters: email, email.untouched, firstName, lastName, phoneNumber, identifiers.provider + identifiers.id,
    orderRef, orderReferenceId; offset, limit, expand, sort."""
    return as_legacy(request, routes_guests.search_guests(request, version="v2", legacy=True))


def extension_segment(name: str) -> str:
    return f"ext{name}"


def legacy_extension_view(base: str, guest_ref: str, name: str, ext: dict[str, Any]) -> dict[str, Any]:
    return {
        "href": f"{base}/v2/guests/{guest_ref}/{extension_segment(name)}/{ext['ref']}",
        "ref": ext["ref"],
        "name": name,
        "key": "default",
        "createdAt": ext["createdAt"],
        "modifiedAt": ext["modifiedAt"],
        "guest": {"href": f"{base}/v2/guests/{guest_ref}"},
        **ext["values"],
    }


def _extension_collection(base: str, guest_ref: str, name: str, ext: dict[str, Any] | None, full: bool) -> Any:
    href = f"{base}/v2/guests/{guest_ref}/{extension_segment(name)}"
    if ext is None:
        items: list[Any] = []
    elif full:
        items = [legacy_extension_view(base, guest_ref, name, ext)]
    else:
        items = [{"href": f"{href}/{ext['ref']}"}]
    return {"href": href, "offset": 0, "limit": 10, "items": items, "first": {"href": href}, "last": {"href": href}}


@router.get("/v2/guests/{guestRef}", tags=[TAG], summary="Retrieve a guest (legacy)")
def get_guest(request: Request, guestRef: str, expand: ExpandParam = None) -> JsonResponse:  # noqa: N803
    """The full guest; each data extension appears as `ext{Name}`: a link, or with `expand=true` its content."""
    sandbox = sandbox_of(request)
    guest = guests.load(sandbox.store.read(), guestRef)
    if guest is None:
        raise routes_guests.guest_not_found(sandbox, guestRef)
    base = base_url(request)
    view = guests.guest_view(base, guest)
    view["href"] = f"{base}/v2/guests/{guest.ref}"
    full = parse_expand(expand)
    for name in GUEST_EXTENSION_NAMES:
        if name in guest.exts:
            view[extension_segment(name)] = _extension_collection(base, guest.ref, name, guest.exts[name], full)
    return JsonResponse(view)


# Inferred (fidelity table): the page's second example sends only guestType and identifiers, which makes sense
# only if an update merges; nulls (SDKs that serialise every property) change nothing.
add_legacy_update(
    router, "/v2/guests/{guestRef}", tag=TAG, noun="a guest", name="guest", patch=routes_guests.patch_guest
)


@router.delete("/v2/guests/{guestRef}", tags=[TAG], summary="Delete a guest (legacy)")
def delete_guest(request: Request, guestRef: str) -> Response:  # noqa: N803
    return as_legacy(request, routes_guests.delete_guest(request, guestRef))


# -- data extensions ----------------------------------------------------------------------------------------


def extension_name(segment: str) -> str:
    """`extext` -> `ext`, `extExt1` -> `ext1`; any other path segment is not a data extension (404)."""
    if not segment.startswith("ext") or len(segment) <= 3:
        raise not_found(f"No resource matches {segment}")
    name = segment[3:].lower()
    return guests.check_extension_name(name)


def _values(body: Any) -> dict[str, Any]:
    raw = require_object(body)
    # Documented for v2: "You must include the following required attribute in the object: "key": "default"".
    if "key" not in raw:
        raise invalid("key", 'may not be null (legacy v2 data extensions need "key": "default")')
    if raw["key"] != "default":
        raise invalid("key", "value must be default")
    return validate_extension_values(raw)


def _ext_missing(sandbox: Any, guest_ref: str, name: str, ext_ref: str | None = None) -> CdpError:
    which = f"{name} ({ext_ref})" if ext_ref else name
    return not_found(
        f"Data extension {which} for Guest ref {guest_ref} and client key {sandbox.config.client_key} was not found"
    )


@router.post("/v2/guests/{guestRef}/{extension}", tags=[EXT_TAG], summary="Create a data extension (legacy)",
             status_code=201)  # fmt: skip
def create_extension(request: Request, guestRef: str, extension: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    name = extension_name(extension)
    values = _values(body)
    now = iso(sandbox.clock.now())
    with sandbox.store.write() as conn:
        guest = routes_guests.load_for_extension(sandbox, conn, guestRef)
        ext = guests.create_extension(guest, name, values, new_ref(), now)
        guests.save(conn, guest, now, identifiers_changed=False)
    return JsonResponse(legacy_extension_view(base_url(request), guestRef, name, ext), status_code=201)


@router.get("/v2/guests/{guestRef}/{extension}", tags=[EXT_TAG], summary="Locate a guest's data extension (legacy)")
def list_extension(request: Request, guestRef: str, extension: str, expand: ExpandParam = None) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    name = extension_name(extension)
    guest = routes_guests.load_for_extension(sandbox, sandbox.store.read(), guestRef)
    full = parse_expand(expand)
    return JsonResponse(_extension_collection(base_url(request), guestRef, name, guest.exts.get(name), full))


def _find(sandbox: Any, guest: guests.GuestRow, name: str, ext_ref: str) -> dict[str, Any]:
    ext = guest.exts.get(name)
    if ext is None or str(ext["ref"]).lower() != ext_ref.lower():
        raise _ext_missing(sandbox, guest.ref, name, ext_ref)
    return ext


@router.get("/v2/guests/{guestRef}/{extension}/{extRef}", tags=[EXT_TAG],
            summary="Retrieve a data extension (legacy)")  # fmt: skip
def get_extension(request: Request, guestRef: str, extension: str, extRef: str) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    name = extension_name(extension)
    guest = routes_guests.load_for_extension(sandbox, sandbox.store.read(), guestRef)
    return JsonResponse(legacy_extension_view(base_url(request), guestRef, name, _find(sandbox, guest, name, extRef)))


@router.post("/v2/guests/{guestRef}/{extension}/{extRef}", tags=[EXT_TAG],
             summary="Update a data extension (legacy; replaces all its attributes)")  # fmt: skip
def update_extension(request: Request, guestRef: str, extension: str, extRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    name = extension_name(extension)
    values = _values(body)
    now = iso(sandbox.clock.now())
    with sandbox.store.write() as conn:
        guest = routes_guests.load_for_extension(sandbox, conn, guestRef)
        ext = _find(sandbox, guest, name, extRef)
        guests.check_unique_keys(guest.exts, name, values)
        ext["values"] = values  # "An update replaces all existing attributes" (legacy page)
        ext["modifiedAt"] = now
        guests.save(conn, guest, now, identifiers_changed=False)
    return JsonResponse(legacy_extension_view(base_url(request), guestRef, name, ext))


@router.put("/v2/guests/{guestRef}/{extension}/{extRef}", tags=[EXT_TAG],
            summary="Update a data extension (legacy, PUT)")  # fmt: skip
def put_extension(request: Request, guestRef: str, extension: str, extRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    return update_extension(request, guestRef, extension, extRef, body)


@router.delete("/v2/guests/{guestRef}/{extension}/{extRef}", tags=[EXT_TAG],
               summary="Delete a data extension (legacy)")  # fmt: skip
def delete_extension(request: Request, guestRef: str, extension: str, extRef: str) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    name = extension_name(extension)
    now = iso(sandbox.clock.now())
    with sandbox.store.write() as conn:
        guest = routes_guests.load_for_extension(sandbox, conn, guestRef)
        _find(sandbox, guest, name, extRef)
        del guest.exts[name]
        guests.save(conn, guest, now, identifiers_changed=False)
    return JsonResponse({})


# -- guest context (the .NET SDK's lookup) ------------------------------------------------------------------

CONTEXT_ORDERS = 100  # the SDK asks for items.orders(offset:0,limit:100)


@router.get("/v2/guestContexts/{guestRef}", tags=[TAG], summary="Retrieve a guest with its orders and items")
def guest_context(request: Request, guestRef: str) -> Response:  # noqa: N803
    """The guest with `orders`, each with its `orderItems` inlined. Not on Sitecore's pages: the .NET SDK's guest
    lookup ends here (`?expand=items.orders(offset:0,limit:100)&source=all&timeout=30000`, parameters read as
    that shape); the shape is the SDK's GuestContext model (fidelity table)."""
    sandbox = sandbox_of(request)
    conn = sandbox.store.read()
    guest = guests.load(conn, guestRef)
    if guest is None:
        raise routes_guests.guest_not_found(sandbox, guestRef)
    warn("guestContexts is not documented; answered in the shape the .NET SDK reads")
    base = base_url(request)
    view = guests.guest_view(base, guest)
    rows = conn.execute(
        "SELECT ref, guest_ref, created_at, modified_at, data, ext FROM orders WHERE guest_ref = ?"
        " ORDER BY ordered_at DESC, ref LIMIT ?",
        (guestRef, CONTEXT_ORDERS),
    ).fetchall()
    contexts = []
    for r in rows:
        order = orders.OrderRow(r[0], r[1], r[2], r[3], orjson.loads(r[4]), orjson.loads(r[5]) if r[5] else None)
        context = orders.order_view(base, order)
        items = conn.execute(
            "SELECT ref, order_ref, created_at, modified_at, data, ext FROM order_items WHERE order_ref = ?"
            " ORDER BY created_at, ref",
            (order.ref,),
        ).fetchall()
        context["orderItems"] = [orders.item_view(base, item) for item in items]
        contexts.append(context)
    view["orders"] = contexts
    return as_legacy(request, JsonResponse(view))
