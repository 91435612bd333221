"""create_app: the ASGI application of the sandbox (FastAPI), its routers, middleware and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from cdp_poc_studio.sandbox import (
    auth,
    routes_admin,
    routes_batches,
    routes_exports,
    routes_guests,
    routes_legacy_guests,
    routes_legacy_orders,
    routes_orders,
    s3,
)
from cdp_poc_studio.sandbox.clock import Clock
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.context import Sandbox
from cdp_poc_studio.sandbox.errors import install_error_handlers
from cdp_poc_studio.sandbox.faults import FaultMiddleware
from cdp_poc_studio.sandbox.guard import GuardMiddleware
from cdp_poc_studio.sandbox.journal import JournalMiddleware

DESCRIPTION = """A local emulator of Sitecore CDP's HTTP APIs: Guest and Order REST v2.1 and legacy v2
(Basic auth), Batch v2 (Basic auth, pre-signed upload URLs served by the sandbox), Audience export v2 (OAuth client
credentials at /oauth/token, Bearer tokens). The sandbox admin API (/_sandbox/...) and the fake S3 (/_s3/...) are
not part of the CDP surface and are left out of this description."""


LEGACY_PREFIXES = ("/v2/guest", "/v2/order")  # /v2/guests, /v2/guestContexts, /v2/orders, /v2/orderItems...


class LegacyDispatch:
    """Sends legacy Guest and Order REST requests to the legacy app; everything else goes on."""

    def __init__(self, app: Any, legacy: Any) -> None:
        self.app = app
        self.legacy = legacy

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(LEGACY_PREFIXES):
            await self.legacy(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(config: SandboxConfig | None = None, *, clock: Clock | None = None) -> FastAPI:
    sandbox = Sandbox(config or SandboxConfig(), clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sandbox.start()
        try:
            yield
        finally:
            sandbox.close()

    app = FastAPI(
        title="Sitecore CDP (local sandbox)",
        version="v2.1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.sandbox = sandbox
    install_error_handlers(app)
    app.include_router(auth.oauth_router)
    app.include_router(routes_guests.router)
    app.include_router(routes_orders.router)
    app.include_router(routes_legacy_guests.router)
    app.include_router(routes_legacy_orders.router)
    app.include_router(routes_batches.router)
    app.include_router(routes_exports.router)
    app.include_router(s3.router)
    app.include_router(routes_admin.router)
    # Legacy requests are routed by their own small app (the same routers, also listed above for the OpenAPI
    # description): route matching is linear, and behind every v2.1 route a legacy request would cost more than
    # its v2.1 twin only to be found.
    legacy = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    legacy.state.sandbox = sandbox
    install_error_handlers(legacy)
    legacy.include_router(routes_legacy_guests.router)
    legacy.include_router(routes_legacy_orders.router)
    app.add_middleware(LegacyDispatch, legacy=legacy)
    # Last added is outermost: the journal sees everything, including injected faults and refusals.
    cfg = sandbox.config
    app.add_middleware(
        GuardMiddleware,
        max_body=cfg.max_body_bytes,
        max_upload=cfg.batch_max_bytes + 64 * 1024,
        admin_token=cfg.admin_token,
    )
    app.add_middleware(FaultMiddleware, injector=sandbox.faults)
    app.add_middleware(JournalMiddleware, journal=sandbox.journal)
    return app
