"""Fuzzing driven by the app's own OpenAPI description: no request, valid or not, may get a 5xx."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

if TYPE_CHECKING:
    from conftest import SandboxApi

EXAMPLES_PER_OPERATION = 6  # modest: the whole sandbox suite must stay around two minutes on two cores


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_no_server_errors(api: SandboxApi, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(api.base_url + "/_sandbox/openapi.json")
    basic = "Basic " + base64.b64encode(b"sandbox-client-key:sandbox-api-token").decode()
    bearer = "Bearer " + api.token()
    failures: list[str] = []
    checked = 0

    def fuzz(operation: Any) -> None:
        nonlocal checked
        auth = bearer if "audienceExports" in operation.path else basic

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case: Any) -> None:
            nonlocal checked
            response = case.call(base_url=api.base_url, headers={"Authorization": auth})
            checked += 1
            if response.status_code >= 500:
                failures.append(f"{operation.method.upper()} {case.formatted_path} -> {response.status_code}")

        exercise()

    for result in schema.get_all_operations():
        fuzz(result.ok())
    assert checked > 100
    assert failures == []
