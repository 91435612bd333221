"""A fake S3: pre-signed URLs (query-string auth in the style of the real batch and export URLs), their
verification, and the object routes under /_s3/. Errors answer in S3's XML, as the real bucket would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from cdp_poc_studio.sandbox.clock import Clock
from cdp_poc_studio.sandbox.fidelity import warn

if TYPE_CHECKING:
    from cdp_poc_studio.sandbox.context import Sandbox

S3_PREFIX = "/_s3"
BATCH_BUCKET = "sitecore-batch-service-sandbox"
EXPORT_BUCKET = "sitecore-cdp-audience-export-sandbox"
ACCESS_KEY_ID = "SANDBOXACCESSKEYID"


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> Response:
        request_id = uuid.uuid4().hex[:16].upper()
        extra = "".join(f"<{k}>{v}</{k}>" for k, v in self.extra.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{self.message}</Message>{extra}"
            f"<RequestId>{request_id}</RequestId><HostId>sandbox</HostId></Error>"
        )
        return Response(body, status_code=self.status, media_type="application/xml")


class Signer:
    """HMAC signatures over method, expiry and object path, with the sandbox's persisted secret."""

    def __init__(self, secret: bytes, clock: Clock) -> None:
        self._secret = secret
        self._clock = clock

    def _signature(self, method: str, expires: int, bucket: str, key: str) -> str:
        string_to_sign = f"{method}\n{expires}\n/{bucket}/{key}"
        return base64.b64encode(hmac.new(self._secret, string_to_sign.encode(), hashlib.sha1).digest()).decode()

    def presign(self, base: str, method: str, bucket: str, key: str, expires_at: datetime) -> str:
        expires = int(expires_at.timestamp())
        signature = quote(self._signature(method, expires, bucket, key), safe="")
        return (
            f"{base}{S3_PREFIX}/{bucket}/{key}?AWSAccessKeyId={ACCESS_KEY_ID}&Expires={expires}&Signature={signature}"
        )

    def verify(self, method: str, bucket: str, key: str, query: dict[str, str], *, force_expired: bool = False) -> None:
        """Raise S3Error unless the query carries a valid, unexpired signature for this method and object."""
        signature, expires_text = query.get("Signature"), query.get("Expires")
        if not signature or not expires_text or not query.get("AWSAccessKeyId"):
            raise S3Error(
                403,
                "AccessDenied",
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
            )
        try:
            expires = int(expires_text)
        except ValueError:
            raise S3Error(403, "AccessDenied", "Invalid date (should be seconds since epoch)") from None
        expected = self._signature(method, expires, bucket, key)
        if query.get("AWSAccessKeyId") != ACCESS_KEY_ID or not hmac.compare_digest(expected, signature):
            raise S3Error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        now = self._clock.now()
        if force_expired or now.timestamp() > expires:
            raise S3Error(
                403,
                "AccessDenied",
                "Request has expired",
                Expires=datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                ServerTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            )


def object_path(files_dir: Path, bucket: str, key: str) -> Path:
    parts = [p for p in key.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise S3Error(400, "InvalidArgument", "Invalid object key")
    return files_dir.joinpath(bucket, *parts)


def decode_content_md5(value: str) -> bytes | None:
    """The raw 16-byte digest from a Content-MD5 header: base64 of the digest (RFC 1864, what S3 checks) or,
    leniently, base64 of the hex string (one reading of CDP's doc wording, facts §6.3). None if malformed."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except ValueError:
        return None
    if len(decoded) == 16:
        return decoded
    if len(decoded) == 32:
        try:
            return bytes.fromhex(decoded.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return None
    return None


def _starts_with_bom(body: bytes) -> bool:
    """Whether a gzip upload's content begins with a UTF-8 byte order mark (the first bytes only are inflated)."""
    if body[:2] != b"\x1f\x8b":
        return False
    try:
        return zlib.decompressobj(wbits=31).decompress(body[:4096], 3) == b"\xef\xbb\xbf"
    except zlib.error:
        return False


router = APIRouter(include_in_schema=False)


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


@router.put(S3_PREFIX + "/{bucket}/{key:path}")
async def put_object(request: Request, bucket: str, key: str) -> Response:
    sandbox = _sandbox(request)
    fault = request.scope.get("state", {}).get("sandbox_fault")
    try:
        sandbox.signer.verify("PUT", bucket, key, dict(request.query_params), force_expired=fault == "expire_upload")
        body = await request.body()
        md5 = hashlib.md5(body).digest()
        header = request.headers.get("content-md5")
        if header is not None:
            claimed = decode_content_md5(header)
            if claimed is None:
                raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was not valid.")
            if claimed != md5:
                raise S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
        if bucket != BATCH_BUCKET:
            raise S3Error(403, "AccessDenied", "Access Denied")
        if _starts_with_bom(body):
            warn(
                "the batch file starts with a UTF-8 byte order mark; the sandbox skips it as Jackson does for byte"
                " input, a tenant reading line by line may fail the first record"
            )
        if fault == "corrupt_upload" and body:
            # Storage-side damage after the checksum passed: the batch must end up "corrupted".
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(sandbox.batches.receive_upload, key, body)
    except S3Error as exc:
        return exc.response()
    return Response(status_code=200, headers={"ETag": f'"{md5.hex()}"'})


@router.get(S3_PREFIX + "/{bucket}/{key:path}")
def get_object(request: Request, bucket: str, key: str) -> Response:
    sandbox = _sandbox(request)
    try:
        sandbox.signer.verify("GET", bucket, key, dict(request.query_params))
        path = object_path(sandbox.store.files_dir, bucket, key)
        if not path.is_file():
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.", Key=key)
    except S3Error as exc:
        return exc.response()
    return FileResponse(path, media_type="application/gzip" if path.suffix == ".gz" else None)
