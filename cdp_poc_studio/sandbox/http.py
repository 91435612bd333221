"""Request and response helpers shared by the CDP routes: JSON bodies, hrefs, paging envelopes, refs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from cdp_poc_studio.sandbox.errors import CdpError, invalid, json_parse_error, unsupported_media_type
from cdp_poc_studio.sandbox.fidelity import warn
from cdp_poc_studio.sandbox.validation import require_object

# facts §2.2: offset default 0; limit default 10, minimum 10, maximum 100 (guest spec).
DEFAULT_LIMIT = 10
MIN_LIMIT = 10
MAX_LIMIT = 100
# Inferred: CDP is a Java service whose paging parameters are Java ints; anything larger is a 400, never a 500.
MAX_OFFSET = 2**31 - 1
# The documented curl examples send JSON with no Content-Type header, so curl labels it form-urlencoded
# (facts §3.5, the legacy pages): a body that parses as JSON is read as JSON under these types too.
LENIENT_MEDIA_TYPES = frozenset({"", "application/x-www-form-urlencoded", "text/plain", "application/octet-stream"})


def new_ref() -> str:
    return str(uuid.uuid4())  # lowercase uuid4, as in CDP's examples (facts §2.1)


def base_url(request: Request) -> str:
    """The sandbox's own origin as the client reached it, so that hrefs work whatever port was picked."""
    return str(request.base_url).rstrip("/")


def is_json_content_type(value: str | None) -> bool:
    if not value:
        return False
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def json_body(request: Request) -> Any:
    """FastAPI dependency: the parsed JSON body, or CDP's 415 / 400 answer."""
    content_type = request.headers.get("content-type")
    json_type = is_json_content_type(content_type)
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if not json_type and media not in LENIENT_MEDIA_TYPES:
        raise unsupported_media_type(content_type)
    raw = await request.body()
    if raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark, which Jackson skips in byte input
        raw = raw[3:]
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not json_type:
            raise unsupported_media_type(content_type) from None
        raise json_parse_error(exc.lineno, exc.colno) from None


def parse_paging(offset: int | None, limit: int | None) -> tuple[int, int]:
    off = 0 if offset is None else offset
    lim = DEFAULT_LIMIT if limit is None else limit
    if off < 0:
        raise invalid("offset", "must be greater than or equal to 0")
    if off > MAX_OFFSET:
        raise invalid("offset", f"must be less than or equal to {MAX_OFFSET}")
    if not 1 <= lim <= MAX_LIMIT:
        raise invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    if lim < MIN_LIMIT:
        # The spec says minimum 10 on a parameter it types as an object; whether a tenant refuses, raises or
        # honours a smaller limit is not documented (fidelity table): honoured, with a warning.
        warn(f"limit={lim} is below the spec's minimum of {MIN_LIMIT}; honoured as sent")
    return off, lim


def parse_expand(values: list[str] | None) -> bool:
    """`expand=true` (the guest spec types it as an array of strings)."""
    return any(part.strip().lower() == "true" for value in values or [] for part in value.split(","))


def collection(
    base: str,
    path: str,
    *,
    offset: int,
    limit: int,
    total: int,
    items: list[Any],
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """CDP's collection envelope with lowercase first/last/next/prev links (facts §2.2, emulator choice)."""

    def link(off: int) -> dict[str, str]:
        params = {**(query or {}), "offset": str(off), "limit": str(limit)}
        return {"href": f"{base}{path}?{urlencode(params)}"}

    envelope: dict[str, Any] = {
        "href": link(offset)["href"],
        "offset": offset,
        "limit": limit,
        "items": items,
        "first": link(0),
        "last": link(max(0, ((total - 1) // limit) * limit) if total else 0),
    }
    if offset + limit < total:
        envelope["next"] = link(offset + limit)
    if offset > 0:
        envelope["prev"] = link(max(0, offset - limit))
    return envelope


def parse_sort(sort: str | None, allowed: dict[str, str]) -> str:
    """`field::ASC|field::DESC` joined by `|` (case-sensitive direction) into an SQL ORDER BY list."""
    if not sort:
        return ""
    terms = []
    for part in sort.split("|"):
        name, sep, direction = part.partition("::")
        if not sep or direction not in ("ASC", "DESC"):
            raise invalid("sort", "must be field::ASC or field::DESC")
        column = allowed.get(name)
        if column is None:
            raise invalid("sort", f"cannot sort by {name}")
        terms.append(f"{column} {direction}")
    return ", ".join(terms)


def require(condition: bool, error: CdpError) -> None:
    if not condition:
        raise error


JsonBody = Annotated[Any, Depends(json_body)]


def as_legacy(request: Request, response: Response) -> Response:
    """A v2.1 answer as legacy v2 gives it: the same body with every href on /v2/. One store serves both
    versions, so only the links differ (the base URL prefix keeps data values that merely contain "/v2.1/")."""
    base = base_url(request).encode()
    body = bytes(response.body).replace(base + b"/v2.1/", base + b"/v2/")
    return Response(body, status_code=response.status_code, media_type="application/json")


def drop_nulls(body: Any) -> Any:
    """Legacy updates merge the attributes sent; a null (an SDK serialising every property) changes nothing."""
    warn("a legacy v2 update merged the attributes sent and ignored nulls")
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if v is not None}
    return body


def add_legacy_update(
    router: APIRouter, path: str, *, tag: str, noun: str, name: str, patch: Callable[[Request, str, Any], Response]
) -> None:
    """A legacy v2 update at `path` (ending in its `{...Ref}`), taken on POST and on PUT alike: the v2.1 `patch`
    of what was sent with its nulls dropped, answered with /v2/ links. Routes are named update_<name> and
    put_<name>, as the OpenAPI operation ids have them."""
    # A default, not an Annotated hint: with postponed annotations FastAPI could not resolve a hint naming a local.
    ref_param = Path(alias=path.rsplit("{", 1)[1].rstrip("}"))

    def update(request: Request, body: JsonBody, ref: str = ref_param) -> Response:
        return as_legacy(request, patch(request, ref, drop_nulls(require_object(body))))

    for method, summary, route_name in (("POST", "legacy", f"update_{name}"), ("PUT", "legacy, PUT", f"put_{name}")):
        router.add_api_route(
            path, update, methods=[method], tags=[tag], summary=f"Update {noun} ({summary})", name=route_name
        )
