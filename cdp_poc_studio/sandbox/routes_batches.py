"""Batch API v2: allocate an upload location, status, inspect (facts §6; the reconstructed batch spec)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request

from cdp_poc_studio.sandbox.auth import check_basic, sandbox_of
from cdp_poc_studio.sandbox.batch_processor import LOG_NAME, UPLOAD_NAME
from cdp_poc_studio.sandbox.clock import iso, parse_iso
from cdp_poc_studio.sandbox.errors import CdpError, JsonResponse, invalid, not_found
from cdp_poc_studio.sandbox.fidelity import warn
from cdp_poc_studio.sandbox.http import MAX_OFFSET, JsonBody, base_url, require
from cdp_poc_studio.sandbox.s3 import BATCH_BUCKET
from cdp_poc_studio.sandbox.validation import numeric_string, require_object

router = APIRouter(dependencies=[Depends(check_basic)], tags=["Batch"])

STATUSES = ("uploading", "file_uploaded", "processing", "success", "corrupted", "error")
HEX_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
BATCH_COLUMNS = (
    "ref, checksum, size, status, created_at, modified_at, upload_expiry, stats, has_log, object_prefix, run_ms"
)

ALLOCATE_SCHEMA = {
    "type": "object",
    "required": ["checksum", "size"],
    "properties": {
        "checksum": {"type": "string", "pattern": HEX_MD5.pattern, "description": "hex MD5 of the gzipped file"},
        "size": {"type": "integer", "minimum": 1, "description": "size in bytes of the gzipped file"},
    },
    "additionalProperties": False,
}


def _check_ref(batch_ref: str) -> str:
    try:
        uuid.UUID(batch_ref)
    except ValueError:
        raise invalid("batchRef", "must be a UUID") from None
    return batch_ref


def _batch_not_found(sandbox: Any, ref: str) -> CdpError:
    return not_found(f"Batch with ref {ref} for client key {sandbox.config.client_key} was not found")


def batch_view(request: Request, row: tuple[Any, ...], *, inspect: bool) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    ref, checksum, size, status, created, modified, expiry, stats_json, has_log, prefix, run_ms = row
    base = base_url(request)
    signer = sandbox.signer
    code = status
    if status == "file_uploaded" and not inspect:
        code = "processing"  # file_uploaded is only reported by the inspect endpoints (facts §6.4)
    status_obj: dict[str, Any] = {"code": code}
    if has_log:
        expires = sandbox.clock.now() + timedelta(seconds=sandbox.config.download_url_ttl_seconds)
        status_obj["log"] = signer.presign(base, "GET", BATCH_BUCKET, f"{prefix}/{LOG_NAME}", expires)
    out: dict[str, Any] = {
        "href": f"{base}/v2/batches/{'inspect/' if inspect else ''}{ref}",
        "ref": ref,
        "checksum": checksum,
        "size": size,
        "location": {
            "href": signer.presign(base, "PUT", BATCH_BUCKET, f"{prefix}/{UPLOAD_NAME}", parse_iso(expiry)),
            "expiry": expiry,
        },
        "status": status_obj,
    }
    if stats_json:
        stats = orjson.loads(stats_json)
        # Gap: the doc lists the members (run time in ms, records read, succeeded, failed) but not their names.
        out["stats"] = {
            "jobRunTime": run_ms,
            "totalRecords": stats["total"],
            "successfulRecords": stats["ok"],
            "failedRecords": stats["failed"],
        }
    out["createdAt"] = created
    out["modifiedAt"] = modified
    return out


@router.put(
    "/v2/batches/{batchRef}",
    summary="Allocate batch upload location",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": ALLOCATE_SCHEMA}}}},
)
def allocate(request: Request, batchRef: str, body: JsonBody) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    ref = _check_ref(batchRef)
    raw = require_object(body)
    unknown = set(raw) - {"checksum", "size"}
    require(not unknown, invalid(sorted(unknown)[0] if unknown else "", "not a known attribute"))
    checksum, size = raw.get("checksum"), raw.get("size")
    require(checksum is not None, invalid("checksum", "may not be null"))
    require(isinstance(checksum, str) and bool(HEX_MD5.match(checksum)), invalid("checksum", "must be a hex MD5"))
    require(size is not None, invalid("size", "may not be null"))
    if isinstance(size, str):
        # Inferred (fidelity table): a published uploader sends {"size": "192328"}; Jackson reads a numeric string
        # into a long by default.
        coerced = numeric_string(size)
        require(isinstance(coerced, int), invalid("size", "must be an integer"))
        warn(f"size {size!r} was sent as a string and read as {coerced}")
        size = coerced
    require(isinstance(size, int) and not isinstance(size, bool), invalid("size", "must be an integer"))
    assert isinstance(size, int)
    assert isinstance(checksum, str)
    require(size > 0, invalid("size", "must be greater than 0"))
    limit = sandbox.config.batch_max_bytes
    require(size <= limit, invalid("size", f"must be less than or equal to {limit} (50 MB gzipped)"))
    now = sandbox.clock.now()
    expiry = iso(now + timedelta(seconds=sandbox.config.upload_url_ttl_seconds))
    with sandbox.store.write() as conn:
        existing = conn.execute("SELECT status FROM batches WHERE ref = ?", (ref,)).fetchone()
        if existing is not None and existing[0] != "uploading":
            # Gap: re-using a batchRef is undocumented; refused once a file was received (refs must be unique).
            raise CdpError(409, f"Batch {ref} already exists.", f"Batch with ref {ref} already has an uploaded file.")
        if existing is None:
            conn.execute(
                "INSERT INTO batches(ref, checksum, size, status, created_at, modified_at, upload_expiry,"
                " object_prefix) VALUES (?, ?, ?, 'uploading', ?, ?, ?, ?)",
                (ref, checksum.lower(), size, iso(now), iso(now), expiry, f"{sandbox.config.client_key}/{ref}"),
            )
        else:  # still waiting for its file: a new allocation replaces checksum, size and URL expiry
            conn.execute(
                "UPDATE batches SET checksum = ?, size = ?, upload_expiry = ?, modified_at = ? WHERE ref = ?",
                (checksum.lower(), size, expiry, iso(now), ref),
            )
        row = conn.execute(f"SELECT {BATCH_COLUMNS} FROM batches WHERE ref = ?", (ref,)).fetchone()
    return JsonResponse(batch_view(request, row, inspect=False))


def _get(request: Request, ref: str, *, inspect: bool) -> JsonResponse:
    sandbox = sandbox_of(request)
    row = sandbox.store.read().execute(f"SELECT {BATCH_COLUMNS} FROM batches WHERE ref = ?", (ref,)).fetchone()
    if row is None:
        raise _batch_not_found(sandbox, ref)
    return JsonResponse(batch_view(request, row, inspect=inspect))


@router.get("/v2/batches/inspect", summary="Retrieve details of batch uploads (last 30 days)")
def inspect_list(
    request: Request,
    status: str | None = None,
    createdBefore: str | None = None,  # noqa: N803
    offset: int | None = None,
    limit: int | None = None,
) -> JsonResponse:
    sandbox = sandbox_of(request)
    off = 0 if offset is None else offset
    lim = 10 if limit is None else limit
    require(off >= 0, invalid("offset", "must be greater than or equal to 0"))
    require(off <= MAX_OFFSET, invalid("offset", f"must be less than or equal to {MAX_OFFSET}"))
    require(1 <= lim <= 100, invalid("limit", "must be between 1 and 100"))
    now = sandbox.clock.now()
    where = ["created_at >= ?"]
    params: list[Any] = [iso(now - timedelta(days=sandbox.config.batch_history_days))]
    if status:
        wanted = [s.strip() for s in status.split(",") if s.strip()]
        bad = [s for s in wanted if s not in STATUSES]
        require(not bad, invalid("status", f"must be a comma-separated list of {', '.join(STATUSES)}"))
        where.append(f"status IN ({', '.join('?' * len(wanted))})")
        params += wanted
    if createdBefore:
        try:
            before = iso(parse_iso(createdBefore))
        except ValueError:
            raise invalid("createdBefore", "not a valid date-time") from None
        where.append("created_at < ?")
        params.append(before)
    clause = " AND ".join(where)
    conn = sandbox.store.read()
    total = conn.execute(f"SELECT count(*) FROM batches WHERE {clause}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT {BATCH_COLUMNS} FROM batches WHERE {clause} ORDER BY created_at DESC, ref LIMIT ? OFFSET ?",
        [*params, lim, off],
    ).fetchall()
    items = []
    for row in rows:
        view = batch_view(request, row, inspect=True)
        item = {"href": view["href"], "ref": view["ref"], "status": view["status"]["code"]}
        if "log" in view["status"]:
            item["log"] = view["status"]["log"]  # inferred name (facts §6.4)
        item["createdAt"] = view["createdAt"]
        item["modifiedAt"] = view["modifiedAt"]
        items.append(item)
    return JsonResponse({"totalCount": total, "offset": off, "limit": lim, "items": items})


@router.get("/v2/batches/inspect/{batchRef}", summary="Retrieve batch file upload status (inspect)")
def inspect_one(request: Request, batchRef: str) -> JsonResponse:  # noqa: N803
    return _get(request, batchRef, inspect=True)


@router.get("/v2/batches/{batchRef}", summary="Retrieve batch file upload status")
def get_batch(request: Request, batchRef: str) -> JsonResponse:  # noqa: N803
    return _get(request, batchRef, inspect=False)
