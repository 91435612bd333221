"""Basic auth for REST v2.1 and Batch, OAuth client credentials and Bearer tokens for audience export."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBasic, HTTPBearer

from cdp_poc_studio.sandbox.config import OAUTH_AUDIENCE
from cdp_poc_studio.sandbox.errors import BEARER_CHALLENGE, JsonResponse, unauthorized

if TYPE_CHECKING:
    from cdp_poc_studio.sandbox.context import Sandbox

SCOPE = "cdp.audience_exports:r"

# auto_error=False: these objects only publish the security schemes in the OpenAPI description; the checks below
# answer with CDP's own 401 body.
_basic_scheme = HTTPBasic(auto_error=False, scheme_name="BasicAuth")
_bearer_scheme = HTTPBearer(auto_error=False, scheme_name="BearerToken", bearerFormat="JWT")


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_basic(request: Request, _scheme: Annotated[Any, Depends(_basic_scheme)]) -> None:
    """Dependency: Basic <clientKey:apiToken>, else CDP's 401 body."""
    sandbox = sandbox_of(request)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise unauthorized()
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise unauthorized() from None
    cfg = sandbox.config
    ok_user = hmac.compare_digest(user.encode(), cfg.client_key.encode())
    ok_pass = hmac.compare_digest(password.encode(), cfg.api_token.encode())
    if not (sep and ok_user and ok_pass):
        raise unauthorized()


def check_bearer(request: Request, _scheme: Annotated[Any, Depends(_bearer_scheme)]) -> None:
    """Dependency: a valid, unexpired token from /oauth/token (judged by the sandbox clock)."""
    sandbox = sandbox_of(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not verify_token(sandbox, token.strip()):
        raise unauthorized(BEARER_CHALLENGE)


def issue_token(sandbox: Sandbox, client_id: str, audience: str, issuer: str) -> str:
    """An HS256 JWT, like the real Auth0-issued token; `exp` counts on the sandbox clock."""
    now = int(sandbox.clock.now().timestamp())
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {
        "iss": issuer,
        "sub": f"{client_id}@clients",
        "aud": audience,
        "iat": now,
        "exp": now + sandbox.config.token_ttl_seconds,
        "scope": SCOPE,
        "gty": "client-credentials",
        "azp": client_id,
        "jti": secrets.token_hex(8),
    }
    signing_input = _b64url(orjson.dumps(header)) + "." + _b64url(orjson.dumps(payload))
    signature = hmac.new(sandbox.secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)


def verify_token(sandbox: Sandbox, token: str) -> bool:
    try:
        head, body, sig = token.split(".")
        expected = hmac.new(sandbox.secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64url_decode(sig)):
            return False
        payload = orjson.loads(_b64url_decode(body))
        exp = payload["exp"]
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        return False
    return isinstance(exp, int) and sandbox.clock.now().timestamp() < exp and SCOPE in str(payload.get("scope"))


def _oauth_error(status: int, error: str, description: str) -> JsonResponse:
    # Auth0's error shape (auth.sitecorecloud.io is an Auth0 tenant): {"error", "error_description"}.
    return JsonResponse({"error": error, "error_description": description}, status_code=status)


oauth_router = APIRouter(tags=["OAuth (auth.sitecorecloud.io)"])


@oauth_router.post(
    "/oauth/token",
    summary="Request an access token (client credentials)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type", "client_id", "client_secret", "audience"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "client_id": {"type": "string"},
                            "client_secret": {"type": "string"},
                            "audience": {"type": "string", "example": OAUTH_AUDIENCE},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "Token issued",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "access_token": {"type": "string"},
                                "scope": {"type": "string", "example": SCOPE},
                                "expires_in": {"type": "integer", "example": 86400},
                                "token_type": {"type": "string", "example": "Bearer"},
                            },
                        }
                    }
                },
            }
        },
    },
)
async def oauth_token(request: Request) -> JsonResponse:
    sandbox = sandbox_of(request)
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    form: dict[str, str] = {}
    try:
        if content_type == "application/json":
            loaded = orjson.loads(raw)
            if isinstance(loaded, dict):
                form = {k: v for k, v in loaded.items() if isinstance(v, str)}
        else:
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        return _oauth_error(400, "invalid_request", "The request body could not be parsed.")
    # client_secret_basic is also accepted, as Auth0 does.
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and "client_id" not in form:
        try:
            cid, _, csecret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            form.setdefault("client_id", cid)
            form.setdefault("client_secret", csecret)
        except (binascii.Error, UnicodeDecodeError):
            pass
    grant = form.get("grant_type")
    if not grant:
        return _oauth_error(400, "invalid_request", "Missing required parameter: grant_type")
    if grant != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
    cfg = sandbox.config
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    if not (
        hmac.compare_digest(client_id.encode(), cfg.oauth_client_id.encode())
        and hmac.compare_digest(client_secret.encode(), cfg.oauth_client_secret.encode())
    ):
        return _oauth_error(401, "access_denied", "Unauthorized")
    audience = form.get("audience")
    if not audience:
        return _oauth_error(
            403, "access_denied", "No audience parameter was provided, and no default audience has been configured"
        )
    if audience != OAUTH_AUDIENCE:
        return _oauth_error(403, "access_denied", f"Service not found: {audience}")
    issuer = str(request.base_url)
    token = issue_token(sandbox, client_id, audience, issuer)
    return JsonResponse(
        {
            "access_token": token,
            "scope": SCOPE,
            "expires_in": cfg.token_ttl_seconds,
            "token_type": "Bearer",
        }
    )
