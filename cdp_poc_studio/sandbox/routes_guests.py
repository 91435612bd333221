"""Guest REST API v2.1 and guest data extensions (facts §3, §4; the official guest spec)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from cdp_poc_studio.sandbox import guests
from cdp_poc_studio.sandbox.auth import check_basic, sandbox_of
from cdp_poc_studio.sandbox.clock import iso
from cdp_poc_studio.sandbox.errors import CdpError, JsonResponse, invalid, not_found
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
    GUEST_EXTENSION_NAMES,
    GUEST_FIELDS,
    GUEST_READ_ONLY,
    check_key_field,
    check_past,
    extension_schema,
    object_schema,
    require_object,
    validate,
    validate_extension_values,
)

router = APIRouter(dependencies=[Depends(check_basic)])

GUEST_TAG = "Guest"
EXT_TAG = "Guest data extension"
SORTABLE = {
    "createdAt": "created_at",
    "modifiedAt": "modified_at",
    "ref": "ref",
    "email": "email",
    **{
        name: f"json_extract(data, '$.{name}')"
        for name in ("firstName", "lastName", "guestType", "firstSeen", "lastSeen", "dateOfBirth", "city", "country")
    },
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


GUEST_CREATE_SCHEMA = object_schema(GUEST_FIELDS, ("guestType",), read_only=GUEST_READ_ONLY)
GUEST_PATCH_SCHEMA = object_schema(GUEST_FIELDS, read_only=GUEST_READ_ONLY)
ExpandParam = Annotated[list[str] | None, Query(description="`true` inlines the collection items")]
ExtName = Annotated[str, "dataExtensionName"]


def guest_not_found(sandbox: Any, ref: str) -> CdpError:
    return not_found(f"Guest with ref {ref} for client key {sandbox.config.client_key} was not found")


def _ext_not_found(sandbox: Any, ref: str, name: str) -> CdpError:
    return not_found(
        f"Data extension {name} for Guest ref {ref} and client key {sandbox.config.client_key} was not found for v2.1"
    )


def _validate_guest(body: Any, now: str, *, required: tuple[str, ...]) -> dict[str, Any]:
    attrs = validate(require_object(body), GUEST_FIELDS, required=required, read_only=GUEST_READ_ONLY)
    check_past(attrs, "dateOfBirth", now)
    return attrs


@router.post(
    "/v2.1/guests",
    tags=[GUEST_TAG],
    summary="Create a guest",
    status_code=201,
    openapi_extra=_body(GUEST_CREATE_SCHEMA),
)
def create_guest(request: Request, body: JsonBody) -> JsonResponse:
    sandbox = sandbox_of(request)
    now = iso(sandbox.clock.now())
    attrs = _validate_guest(body, now, required=("guestType",))
    ref = new_ref()  # never deduplicates: two POSTs make two guests (facts §3.3)
    with sandbox.store.write() as conn:
        guests.insert(conn, ref, attrs, now)
        guest = guests.load(conn, ref)
    assert guest is not None
    return JsonResponse(guests.guest_view(base_url(request), guest), status_code=201)


PAGING_PARAMS = frozenset({"offset", "limit", "expand", "sort"})
SEARCH_FILTERS = ("email", "orderReferenceId", "orderRef", "identifiers.provider", "identifiers.id")
# Legacy v2 also searched by these (facts §3.2, retrieve-guests--legacy-).
LEGACY_SEARCH_FILTERS = (*SEARCH_FILTERS, "firstName", "lastName", "email.untouched", "phoneNumber")


def check_query(request: Request, allowed: tuple[str, ...] | frozenset[str]) -> None:
    """An unsupported query parameter is a 400 naming it: silently ignoring a filter would answer with the
    tenant's first guests, and a "find first" client would pick the wrong one (fidelity table)."""
    for name in request.query_params:
        if name not in allowed and name not in PAGING_PARAMS:
            raise invalid(name, f"not a supported search parameter (use {', '.join(allowed)})")


def search_guests(request: Request, *, version: str, legacy: bool) -> JsonResponse:
    """GET /v2.1/guests and GET /v2/guests: exact-match filters, all of which must match, paged."""
    sandbox = sandbox_of(request)
    allowed = LEGACY_SEARCH_FILTERS if legacy else SEARCH_FILTERS
    check_query(request, allowed)
    q = request.query_params
    off, lim = parse_paging(_int_param(q, "offset"), _int_param(q, "limit"))
    sort = q.get("sort")
    order_by = parse_sort(sort, SORTABLE) or "created_at, ref"
    provider, ident = q.get("identifiers.provider"), q.get("identifiers.id")
    if (provider is None) != (ident is None):
        raise invalid("identifiers", "identifiers.provider and identifiers.id must be used together")
    where: list[str] = []
    params: list[Any] = []
    query: dict[str, str] = {}
    email = q.get("email")
    by_identifier = "ref IN (SELECT guest_ref FROM guest_identifiers WHERE provider = ? AND id = ?)"
    if legacy and email is not None and provider is not None:
        # Inferred: the .NET SDK finds a guest with email=X&identifiers.provider=email&identifiers.id=X and takes
        # the first item; it works against CDP only if either filter may match, so legacy search ORs the two.
        warn("email and identifiers filters were combined with OR, as the .NET SDK's guest lookup expects")
        where.append(f"(email = ? OR {by_identifier})")
        params += [email, provider, ident]
    else:
        if email is not None:
            where.append("email = ?")
            params.append(email)
        if provider is not None:
            where.append(by_identifier)
            params += [provider, ident]
    for name in ("email", "identifiers.provider", "identifiers.id"):
        if q.get(name) is not None:
            query[name] = str(q.get(name))
    order_ref, order_reference = q.get("orderRef"), q.get("orderReferenceId")
    if order_ref is not None:
        where.append("ref IN (SELECT guest_ref FROM orders WHERE ref = ?)")
        params.append(order_ref)
        query["orderRef"] = order_ref
    if order_reference is not None:
        where.append("ref IN (SELECT guest_ref FROM orders WHERE reference_id = ?)")
        params.append(order_reference)
        query["orderReferenceId"] = order_reference
    if legacy:
        # Inferred: email.untouched is the exact (not analysed) email; the sandbox's email match is exact already.
        untouched = q.get("email.untouched")
        if untouched is not None:
            where.append("email = ?")
            params.append(untouched)
            query["email.untouched"] = untouched
        for name in ("firstName", "lastName"):
            value = q.get(name)
            if value is not None:
                where.append(f"json_extract(data, '$.{name}') = ?")
                params.append(value)
                query[name] = value
        phone = q.get("phoneNumber")
        if phone is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(data, '$.phoneNumbers') WHERE value = ?)")
            params.append(phone)
            query["phoneNumber"] = phone
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    conn = sandbox.store.read()
    total = conn.execute(f"SELECT count(*) FROM guests{clause}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT ref, created_at, modified_at, data, exts FROM guests{clause} ORDER BY {order_by} LIMIT ? OFFSET ?",
        [*params, lim, off],
    ).fetchall()
    base = base_url(request)
    full = parse_expand(q.getlist("expand"))
    if full:
        query["expand"] = "true"
    items = [
        guests.guest_view(base, guests._row(r), full=True, expand=True)
        if full
        else {"href": f"{base}/{version}/guests/{r[0]}"}
        for r in rows
    ]
    if sort:
        query["sort"] = sort
    path = f"/{version}/guests"
    return JsonResponse(collection(base, path, offset=off, limit=lim, total=total, items=items, query=query))


def _int_param(query: Any, name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise invalid(name, "must be an integer") from None


@router.get("/v2.1/guests", tags=[GUEST_TAG], summary="Retrieve guests")
def list_guests(
    request: Request,
    offset: int | None = None,
    limit: int | None = None,
    expand: ExpandParam = None,
    sort: str | None = None,
    email: str | None = None,
    orderReferenceId: str | None = None,  # noqa: N803 - the wire name
    orderRef: str | None = None,  # noqa: N803
    identifiers_provider: Annotated[str | None, Query(alias="identifiers.provider")] = None,
    identifiers_id: Annotated[str | None, Query(alias="identifiers.id")] = None,
) -> JsonResponse:
    # The declared parameters document the route in the OpenAPI description; search_guests reads the query.
    return search_guests(request, version="v2.1", legacy=False)


@router.get("/v2.1/guests/{guestRef}", tags=[GUEST_TAG], summary="Retrieve a guest")
def get_guest(request: Request, guestRef: str, expand: ExpandParam = None) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    guest = guests.load(sandbox.store.read(), guestRef)
    if guest is None:
        raise guest_not_found(sandbox, guestRef)
    return JsonResponse(guests.guest_view(base_url(request), guest, full=True, expand=parse_expand(expand)))


@router.put(
    "/v2.1/guests/{guestRef}", tags=[GUEST_TAG], summary="Update a guest", openapi_extra=_body(GUEST_CREATE_SCHEMA)
)
def put_guest(request: Request, guestRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    now = iso(sandbox.clock.now())
    attrs = _validate_guest(body, now, required=("guestType",))
    with sandbox.store.write() as conn:
        guest = guests.load(conn, guestRef)
        if guest is None:
            raise guest_not_found(sandbox, guestRef)
        # Full replace of the attributes; firstSeen/lastSeen are the server's and survive.
        attrs.update({k: guest.data[k] for k in ("firstSeen", "lastSeen") if k in guest.data})
        guest.data = attrs
        guests.save(conn, guest, now)
    return JsonResponse(guests.guest_view(base_url(request), guest))


@router.patch(
    "/v2.1/guests/{guestRef}",
    tags=[GUEST_TAG],
    summary="Partially update a guest",
    openapi_extra=_body(GUEST_PATCH_SCHEMA),
)
def patch_guest(request: Request, guestRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    now = iso(sandbox.clock.now())
    raw = require_object(body)
    attrs = _validate_guest(raw, now, required=())
    with sandbox.store.write() as conn:
        guest = guests.load(conn, guestRef)
        if guest is None:
            raise guest_not_found(sandbox, guestRef)
        guest.data.update(attrs)
        for key, value in raw.items():  # an explicit null clears the attribute
            if value is None and key in GUEST_FIELDS:
                guest.data.pop(key, None)
        guests.save(conn, guest, now, identifiers_changed="identifiers" in raw)
    return JsonResponse(guests.guest_view(base_url(request), guest))


@router.delete("/v2.1/guests/{guestRef}", tags=[GUEST_TAG], summary="Delete a guest")
def delete_guest(request: Request, guestRef: str) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    with sandbox.store.write() as conn:
        # Deletes the guest and its orders (facts §3.1): irreversible.
        if not guests.delete(conn, guestRef, with_orders=True):
            raise guest_not_found(sandbox, guestRef)
    return JsonResponse({})


# -- data extensions ----------------------------------------------------------------------------------------


def load_for_extension(sandbox: Any, conn: Any, ref: str) -> guests.GuestRow:
    guest = guests.load(conn, ref)
    if guest is None:
        raise guest_not_found(sandbox, ref)
    return guest


def _check_path_name(name: str) -> str:
    return guests.check_extension_name(name)


@router.post(
    "/v2.1/guests/{guestRef}/extensions",
    tags=[EXT_TAG],
    summary="Create a data extension",
    status_code=201,
    openapi_extra=_body(extension_schema(GUEST_EXTENSION_NAMES)),
)
def create_extension(request: Request, guestRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    raw = require_object(body)
    name = guests.check_extension_name(raw.get("name"))
    check_key_field(raw)
    values = validate_extension_values(raw)
    now = iso(sandbox.clock.now())
    with sandbox.store.write() as conn:
        guest = load_for_extension(sandbox, conn, guestRef)
        ext = guests.create_extension(guest, name, values, new_ref(), now)
        guests.save(conn, guest, now, identifiers_changed=False)
    return JsonResponse(guests.extension_view(base_url(request), guestRef, name, ext), status_code=201)


@router.get("/v2.1/guests/{guestRef}/extensions", tags=[EXT_TAG], summary="Retrieve a guest's data extensions")
def list_extensions(
    request: Request,
    guestRef: str,  # noqa: N803
    offset: int | None = None,
    limit: int | None = None,
    expand: ExpandParam = None,
) -> JsonResponse:
    sandbox = sandbox_of(request)
    off, lim = parse_paging(offset, limit)
    guest = load_for_extension(sandbox, sandbox.store.read(), guestRef)
    base = base_url(request)
    names = [n for n in GUEST_EXTENSION_NAMES if n in guest.exts]
    full = parse_expand(expand)
    page = names[off : off + lim]
    items = [
        guests.extension_view(base, guestRef, n, guest.exts[n])
        if full
        else {"href": f"{base}/v2.1/guests/{guestRef}/extensions/{n}"}
        for n in page
    ]
    path = f"/v2.1/guests/{guestRef}/extensions"
    return JsonResponse(collection(base, path, offset=off, limit=lim, total=len(names), items=items))


@router.get(
    "/v2.1/guests/{guestRef}/extensions/{dataExtensionName}", tags=[EXT_TAG], summary="Retrieve a data extension"
)
def get_extension(request: Request, guestRef: str, dataExtensionName: str) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    guest = load_for_extension(sandbox, sandbox.store.read(), guestRef)
    ext = guest.exts.get(dataExtensionName)
    if ext is None:
        raise _ext_not_found(sandbox, guestRef, dataExtensionName)
    return JsonResponse(guests.extension_view(base_url(request), guestRef, dataExtensionName, ext))


def _update_extension(request: Request, guest_ref: str, name: str, body: Any, *, replace: bool) -> JsonResponse:
    sandbox = sandbox_of(request)
    _check_path_name(name)
    raw = require_object(body)
    if "name" in raw and raw["name"] != name:
        raise invalid("name", f"must match the data extension in the path ({name})")
    check_key_field(raw)
    values = validate_extension_values(raw)
    now = iso(sandbox.clock.now())
    with sandbox.store.write() as conn:
        guest = load_for_extension(sandbox, conn, guest_ref)
        ext = guest.exts.get(name)
        if ext is None:
            raise _ext_not_found(sandbox, guest_ref, name)
        merged = values if replace else {**ext["values"], **values}
        if len(merged) > 100:
            raise invalid("dataExtension", "a data extension may contain at most 100 key-value pairs")
        guests.check_unique_keys(guest.exts, name, merged)
        ext["values"] = merged
        ext["modifiedAt"] = now
        guests.save(conn, guest, now, identifiers_changed=False)
    return JsonResponse(guests.extension_view(base_url(request), guest_ref, name, ext))


EXT_PUT_BODY = _body(extension_schema(None))


@router.put(
    "/v2.1/guests/{guestRef}/extensions/{dataExtensionName}",
    tags=[EXT_TAG],
    summary="Update a data extension",
    openapi_extra=EXT_PUT_BODY,
)
def put_extension(
    request: Request,
    guestRef: str,  # noqa: N803
    dataExtensionName: str,  # noqa: N803
    body: JsonBody,
) -> JsonResponse:
    return _update_extension(request, guestRef, dataExtensionName, body, replace=True)


@router.patch(
    "/v2.1/guests/{guestRef}/extensions/{dataExtensionName}",
    tags=[EXT_TAG],
    summary="Partially update a data extension",
    openapi_extra=EXT_PUT_BODY,
)
def patch_extension(
    request: Request,
    guestRef: str,  # noqa: N803
    dataExtensionName: str,  # noqa: N803
    body: JsonBody,
) -> JsonResponse:
    return _update_extension(request, guestRef, dataExtensionName, body, replace=False)


@router.delete(
    "/v2.1/guests/{guestRef}/extensions/{dataExtensionName}", tags=[EXT_TAG], summary="Delete a data extension"
)
def delete_extension(request: Request, guestRef: str, dataExtensionName: str) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    now = iso(sandbox.clock.now())
    with sandbox.store.write() as conn:
        guest = load_for_extension(sandbox, conn, guestRef)
        if guest.exts.pop(dataExtensionName, None) is None:
            raise _ext_not_found(sandbox, guestRef, dataExtensionName)
        guests.save(conn, guest, now, identifiers_changed=False)
    return JsonResponse({})


@router.delete(
    "/v2.1/guests/{guestRef}/extensions/{dataExtensionName}/fields",
    tags=[EXT_TAG],
    summary="Delete key-value pairs from a data extension",
)
def delete_extension_fields(
    request: Request,
    guestRef: str,  # noqa: N803
    dataExtensionName: str,  # noqa: N803
    name: Annotated[list[str] | None, Query(description="keys to delete, joined by | (vipMember|loyaltyTier)")] = None,
) -> JsonResponse:
    sandbox = sandbox_of(request)
    now = iso(sandbox.clock.now())
    with sandbox.store.write() as conn:
        guest = load_for_extension(sandbox, conn, guestRef)
        ext = guest.exts.get(dataExtensionName)
        if ext is None:
            raise _ext_not_found(sandbox, guestRef, dataExtensionName)
        if name:
            doomed = {key for value in name for key in value.split("|") if key}
            ext["values"] = {k: v for k, v in ext["values"].items() if k not in doomed}
        else:  # without `name` the extension is emptied but kept (guest spec)
            ext["values"] = {}
        ext["modifiedAt"] = now
        guests.save(conn, guest, now, identifiers_changed=False)
    return JsonResponse(guests.extension_view(base_url(request), guestRef, dataExtensionName, ext))
