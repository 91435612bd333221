"""Request guards, outside every route: bounded request bodies, and the admin API's refusal of other sites and
(beyond loopback) of requests without the admin token.

Bodies: a declared Content-Length over the limit is refused before the route runs; a chunked body is counted
while it is read and refused when it passes the limit, so a request never costs more memory than the limit.
The admin API (/_sandbox/...) changes data, faults and the clock, so a web page the user happens to open must
not reach it: a cross-site Origin or Sec-Fetch-Site, a Host that is not the sandbox's own (DNS rebinding), or a
form / text/plain body (a browser's "simple" request, sent without a preflight) is a 403.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

from cdp_poc_studio.sandbox.errors import CdpError, JsonResponse, payload_too_large

ADMIN_PREFIX = "/_sandbox"
S3_PREFIX = "/_s3"
ADMIN_TOKEN_HEADER = "x-sandbox-admin-token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
SIMPLE_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLargeError(CdpError):
    def __init__(self, limit: int) -> None:
        err = payload_too_large(limit)
        super().__init__(413, err.message, err.developer_message)


def is_loopback(host: str) -> bool:
    return host.strip("[]").lower() in LOOPBACK_HOSTS or host.startswith("127.")


class GuardMiddleware:
    """Pure ASGI middleware (no body buffering of its own)."""

    def __init__(self, app: Any, *, max_body: int, max_upload: int, admin_token: str | None) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.admin_token = admin_token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if path.startswith(ADMIN_PREFIX + "/") or path == ADMIN_PREFIX:
            refusal = self._admin_refusal(scope, headers)
            if refusal is not None:
                await JsonResponse({"error": refusal}, status_code=403)(scope, receive, send)
                return
        limit = self.max_upload if path.startswith(S3_PREFIX + "/") else self.max_body
        declared = headers.get("content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False  # the server itself answers a malformed Content-Length
            if too_big:
                await BodyTooLargeError(limit).response()(scope, receive, send)
                return
        received = 0

        async def bounded_receive() -> Any:
            nonlocal received
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, bounded_receive, send)

    def _admin_refusal(self, scope: dict[str, Any], headers: dict[str, str]) -> str | None:
        """Why an admin request is refused, or None."""
        host_header = headers.get("host", "")
        host = urlsplit(f"//{host_header}").hostname or ""
        if self.admin_token is not None:
            given = headers.get(ADMIN_TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), self.admin_token.encode()):
                return f"the admin API needs the admin token in the {ADMIN_TOKEN_HEADER} header"
        elif not is_loopback(host):
            # On loopback without a token: only the sandbox's own names, so a rebound DNS name cannot reach it.
            return f"the admin API answers only requests addressed to a loopback host, not {host_header!r}"
        origin = headers.get("origin")
        if origin is not None and origin != "null":
            if urlsplit(origin).netloc.lower() != host_header.lower():
                return f"cross-site requests are refused (Origin {origin})"
        elif origin == "null":
            return "cross-site requests are refused (Origin null)"
        if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return "cross-site requests are refused (Sec-Fetch-Site)"
        if scope["method"] in UNSAFE_METHODS:
            media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media in SIMPLE_FORM_TYPES:
                return f"admin requests with a {media} body are refused; send application/json"
        return None
