"""Audience export REST API v2 (Bearer token): latest export, finished jobs, one job's output (facts §7.2)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from cdp_poc_studio.sandbox.auth import check_bearer, sandbox_of
from cdp_poc_studio.sandbox.errors import CdpError, JsonResponse, not_found
from cdp_poc_studio.sandbox.http import base_url

router = APIRouter(dependencies=[Depends(check_bearer)])


def _definition(request: Request, key: str) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    definition = sandbox.exports.get_definition(key)
    if definition is None:
        raise _missing(f"Audience export {key} for client key {sandbox.config.client_key} was not found")
    return definition


def _missing(message: str) -> CdpError:
    return not_found(message)


@router.get(
    "/v2/audienceExports/definitions/{audienceExportRef}/latestExport",
    tags=["Most recent export job"],
    summary="Retrieve the output URLs of the most recent export job",
    operation_id="retrieveUrlsOfMostRecentExportJob",
)
def latest_export(request: Request, audienceExportRef: str) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    definition = _definition(request, audienceExportRef)
    execution_ref = sandbox.exports.latest_execution(definition["ref"])
    if execution_ref is None:
        raise _missing(f"No finished export job for audience export {audienceExportRef}")
    listing = sandbox.exports.listing(base_url(request), execution_ref)
    assert listing is not None
    return JsonResponse(listing)


@router.get(
    "/v2/audienceExports/definitions/{audienceExportRef}/reports",
    tags=["Any export job"],
    summary="Retrieve the finished export jobs of an export",
    operation_id="retrieveFinishedExportJobs",
)
def reports(request: Request, audienceExportRef: str) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    definition = _definition(request, audienceExportRef)
    return JsonResponse(sandbox.exports.reports(definition["ref"]))


@router.get(
    "/v2/audienceExports/executions/{executionRef}/export",
    tags=["Any export job"],
    summary="Retrieve the output URLs of an export job",
    operation_id="retrieveUrlsOfExportJob",
)
def execution_export(request: Request, executionRef: str) -> JsonResponse:  # noqa: N803
    sandbox = sandbox_of(request)
    listing = sandbox.exports.listing(base_url(request), executionRef)
    if listing is None:
        raise _missing(f"Export job {executionRef} for client key {sandbox.config.client_key} was not found")
    return JsonResponse(listing)
