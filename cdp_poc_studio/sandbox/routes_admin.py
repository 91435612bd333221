"""The sandbox admin API under /_sandbox (never on CDP paths): reset, clock, journal, faults, batch worker
control, export definitions and runs. guard.py refuses cross-site requests, and requests without the admin token
whenever one is set (always when the sandbox listens beyond loopback)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request

from cdp_poc_studio.sandbox.auth import sandbox_of
from cdp_poc_studio.sandbox.clock import iso, parse_iso
from cdp_poc_studio.sandbox.errors import JsonResponse
from cdp_poc_studio.sandbox.exports import DefinitionError
from cdp_poc_studio.sandbox.faults import FaultRule

ADMIN = "/_sandbox"
router = APIRouter(prefix=ADMIN, include_in_schema=False)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status_code=status)


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


@router.get("/health")
def health(request: Request) -> JsonResponse:
    sandbox = sandbox_of(request)
    # No secrets here (nor in /config): no credentials, tokens or signing material.
    return JsonResponse({"status": "ok", "db": str(sandbox.store.path), "snapshotMode": sandbox.config.snapshot_mode})


@router.get("/config")
def config(request: Request) -> JsonResponse:
    cfg = sandbox_of(request).config
    return JsonResponse(
        {
            "snapshotMode": cfg.snapshot_mode,
            "exportSplitSize": cfg.export_split_size,
            "tokenTtlSeconds": cfg.token_ttl_seconds,
            "uploadUrlTtlSeconds": cfg.upload_url_ttl_seconds,
        }
    )


@router.post("/reset")
def reset(request: Request) -> JsonResponse:
    sandbox_of(request).reset()
    return JsonResponse({"reset": True})


# -- clock ----------------------------------------------------------------------------------------------------


def _clock_view(sandbox: Any) -> dict[str, Any]:
    return {"now": iso(sandbox.clock.now()), "frozen": sandbox.clock.frozen}


@router.get("/clock")
def get_clock(request: Request) -> JsonResponse:
    return JsonResponse(_clock_view(sandbox_of(request)))


@router.post("/clock")
async def set_clock(request: Request) -> JsonResponse:
    """Body: {"now": "<iso>", "frozen": bool} and/or {"advanceSeconds": n}; {"reset": true} back to real time."""
    sandbox = sandbox_of(request)
    body = await _json(request)
    if not isinstance(body, dict):
        return _error(400, "body must be a JSON object")
    clock = sandbox.clock
    try:
        if body.get("reset"):
            clock.reset()
        if "now" in body:
            clock.set(parse_iso(body["now"]), frozen=body.get("frozen"))
        elif "frozen" in body:
            clock.freeze() if body["frozen"] else clock.unfreeze()
        if "advanceSeconds" in body:
            clock.advance(timedelta(seconds=float(body["advanceSeconds"])))
    except (ValueError, TypeError, OverflowError) as exc:
        return _error(400, f"bad clock change: {exc}")
    return JsonResponse(_clock_view(sandbox))


# -- journal --------------------------------------------------------------------------------------------------


@router.get("/journal")
def get_journal(request: Request, prefix: str | None = None) -> JsonResponse:
    entries = sandbox_of(request).journal.entries()
    if prefix:
        entries = [e for e in entries if e["path"].startswith(prefix)]
    return JsonResponse({"entries": entries})


@router.delete("/journal")
def clear_journal(request: Request) -> JsonResponse:
    sandbox_of(request).journal.clear()
    return JsonResponse({"cleared": True})


# -- faults ---------------------------------------------------------------------------------------------------


@router.get("/faults")
def get_faults(request: Request) -> JsonResponse:
    return JsonResponse({"faults": [r.to_json() for r in sandbox_of(request).faults.rules]})


@router.put("/faults")
async def put_faults(request: Request) -> JsonResponse:
    """Replace all rules. Body: {"faults": [{...} or "compact spec", ...], "seed": n}."""
    sandbox = sandbox_of(request)
    body = await _json(request)
    if not isinstance(body, dict) or not isinstance(body.get("faults", []), list):
        return _error(400, 'body must be {"faults": [...]}')
    try:
        rules = [FaultRule.parse(f) if isinstance(f, str) else FaultRule.from_json(f) for f in body.get("faults", [])]
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))
    sandbox.faults.set_rules(rules, seed=body.get("seed"))
    return JsonResponse({"faults": [r.to_json() for r in rules]})


@router.post("/faults")
async def add_fault(request: Request) -> JsonResponse:
    """Add one rule: a JSON object, or {"spec": "status=503,rate=0.5"}."""
    sandbox = sandbox_of(request)
    body = await _json(request)
    try:
        if isinstance(body, dict) and "spec" in body:
            rule = FaultRule.parse(str(body["spec"]))
        elif isinstance(body, dict):
            rule = FaultRule.from_json(body)
        else:
            return _error(400, "body must be a JSON object")
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))
    sandbox.faults.add(rule)
    return JsonResponse(rule.to_json(), status_code=201)


@router.delete("/faults")
def clear_faults(request: Request) -> JsonResponse:
    sandbox_of(request).faults.clear()
    return JsonResponse({"faults": []})


# -- batch worker ---------------------------------------------------------------------------------------------


@router.post("/batches/hold")
def hold_batches(request: Request) -> JsonResponse:
    sandbox_of(request).batches.hold(True)
    return JsonResponse({"held": True})


@router.post("/batches/release")
def release_batches(request: Request) -> JsonResponse:
    sandbox_of(request).batches.hold(False)
    return JsonResponse({"held": False})


@router.post("/batches/drain")
def drain_batches(request: Request, timeout: float = 60.0) -> JsonResponse:
    """Block until every uploaded batch is processed (a held worker is released first)."""
    batches = sandbox_of(request).batches
    if not 0 <= timeout <= 600:  # also refuses nan and inf, which threading cannot wait for
        return _error(400, "timeout must be between 0 and 600 seconds")
    batches.hold(False)
    idle = batches.drain(timeout)
    return JsonResponse({"idle": idle}, status_code=200 if idle else 504)


# -- audience exports -----------------------------------------------------------------------------------------


@router.get("/exports")
def list_exports(request: Request) -> JsonResponse:
    return JsonResponse({"definitions": sandbox_of(request).exports.list_definitions()})


@router.post("/exports")
async def create_export(request: Request) -> JsonResponse:
    sandbox = sandbox_of(request)
    body = await _json(request)
    try:
        definition = sandbox.exports.create_definition(body)
    except DefinitionError as exc:
        return _error(400, str(exc))
    return JsonResponse(definition, status_code=201)


@router.get("/exports/{key}")
def get_export(request: Request, key: str) -> JsonResponse:
    definition = sandbox_of(request).exports.get_definition(key)
    return JsonResponse(definition) if definition else _error(404, f"no export {key}")


@router.patch("/exports/{key}")
async def update_export(request: Request, key: str) -> JsonResponse:
    sandbox = sandbox_of(request)
    body = await _json(request)
    try:
        definition = sandbox.exports.update_definition(key, body)
    except DefinitionError as exc:
        return _error(400, str(exc))
    return JsonResponse(definition) if definition else _error(404, f"no export {key}")


@router.delete("/exports/{key}")
def delete_export(request: Request, key: str) -> JsonResponse:
    found = sandbox_of(request).exports.delete_definition(key)
    return JsonResponse({"deleted": True}) if found else _error(404, f"no export {key}")


@router.post("/exports/{key}/run")
def run_export(request: Request, key: str, executionType: str = "INSTANT_RUN") -> JsonResponse:  # noqa: N803
    """Run now (synchronously) and answer with the execution report."""
    if executionType not in ("INSTANT_RUN", "SCHEDULED"):
        return _error(400, "executionType must be INSTANT_RUN or SCHEDULED")
    report = sandbox_of(request).exports.run(key, executionType)
    return JsonResponse(report) if report else _error(404, f"no export {key}")
