"""CDP error bodies and the exception handlers that guarantee every bad request gets one (never a 500 page).

Body shapes (facts §1.1 and §2.3)::

    401: {"status": "UNAUTHORIZED", "code": 401, "message": ..., "moreInfoUrl": ...}   # status is a string
    4xx: {"status": 400, "code": 400, "message": ..., "developerMessage": ..., "moreInfoUrl": ...}
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

MORE_INFO_URL = "https://support.sitecore.com"
UNAUTHORIZED_MESSAGE = (
    "Authentication credentials are required to access the resource. All requests must be authenticated."
)
NOT_FOUND_MESSAGE = "The specified resource does not exist."

log = logging.getLogger(__name__)


class JsonResponse(Response):
    """A JSON response rendered by orjson (faster than the stdlib and no FastAPI re-validation)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class CdpError(Exception):
    """An error answered with CDP's JSON error body."""

    def __init__(
        self,
        status: int,
        message: str,
        developer_message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.developer_message = developer_message if developer_message is not None else message
        self.headers = headers

    def body(self) -> dict[str, Any]:
        if self.status == 401:
            return unauthorized_body()
        return {
            "status": self.status,
            "code": self.status,
            "message": self.message,
            "developerMessage": self.developer_message,
            "moreInfoUrl": MORE_INFO_URL,
        }

    def response(self) -> JsonResponse:
        return JsonResponse(self.body(), status_code=self.status, headers=self.headers)


def unauthorized_body() -> dict[str, Any]:
    return {"status": "UNAUTHORIZED", "code": 401, "message": UNAUTHORIZED_MESSAGE, "moreInfoUrl": MORE_INFO_URL}


# RFC 9110: every 401 carries a challenge; clients that answer challenges (curl --anyauth, .NET's
# CredentialCache, requests' HTTPDigestAuth fallbacks) send no credentials until they see one.
BASIC_CHALLENGE = 'Basic realm="Sitecore CDP", charset="UTF-8"'
BEARER_CHALLENGE = 'Bearer realm="Sitecore CDP"'


def unauthorized(challenge: str = BASIC_CHALLENGE) -> CdpError:
    return CdpError(401, UNAUTHORIZED_MESSAGE, headers={"WWW-Authenticate": challenge})


def payload_too_large(limit: int | None = None) -> CdpError:
    most = f"{limit} bytes, " if limit else ""
    return CdpError(413, "Payload Too Large", f"The request body is larger than {most}the most this endpoint accepts.")


def invalid(attribute: str, reason: str) -> CdpError:
    """400 in CDP's wording: `guestType: not a valid value` / `Attribute guestType is invalid (not a valid value).`"""
    return CdpError(400, f"{attribute}: {reason}", f"Attribute {attribute} is invalid ({reason}).")


def not_found(developer_message: str) -> CdpError:
    return CdpError(404, NOT_FOUND_MESSAGE, developer_message)


def conflict(message: str) -> CdpError:
    return CdpError(409, message, message)


def unsupported_media_type(content_type: str | None) -> CdpError:
    shown = content_type or "none"
    return CdpError(
        415,
        "Unsupported Media Type",
        f"Content type '{shown}' not supported. Send the request body as application/json.",
    )


def json_parse_error(line: int | None = None, column: int | None = None) -> CdpError:
    where = f" [line: {line}, column: {column}]" if line is not None else ""
    return CdpError(400, "Unable to parse JSON string", f"JSON parse error{where}.")


def install_error_handlers(app: FastAPI) -> None:
    """Map every framework exception onto a CDP-shaped 4xx body; unexpected exceptions onto a CDP 500 body."""

    async def on_cdp_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CdpError)
        return exc.response()

    async def on_validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body", "header")]
        attribute = ".".join(loc) or "request"
        reason = str(first.get("msg", "not a valid value")).lower()
        return invalid(attribute, reason).response()

    async def on_http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return not_found(f"No resource matches {_request.method} {_request.url.path}").response()
        if exc.status_code == 405:
            return CdpError(
                405, "Method Not Allowed", f"Method {_request.method} is not supported on this resource."
            ).response()
        if exc.status_code == 401:
            return unauthorized().response()
        if exc.status_code == 413:
            return payload_too_large().response()
        return CdpError(exc.status_code, str(exc.detail)).response()

    async def on_unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error in the sandbox", exc_info=exc)
        return CdpError(500, "Internal Server Error", "An unexpected error occurred.").response()

    app.add_exception_handler(CdpError, on_cdp_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
