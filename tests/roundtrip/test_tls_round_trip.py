"""Issue 11: a whole run against `sandbox --tls` (a child process, as `run` and the studio start it), the client
trusting the sandbox's self-signed certificate through the profile's CA file, certificate verification on."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from cdp_poc_studio.targets.target import sandbox_target
from tests.helpers.data import bundled
from tests.helpers.roundtrip import run


def test_a_batch_run_with_export_passes_against_a_tls_sandbox(tmp_path: Path) -> None:
    scenario, schema = bundled("retail_loyalty", guests=10)
    integration = scenario.integration.model_copy(update={"load": "batch", "pull_back": ["rest", "export"]})
    scenario = scenario.model_copy(update={"integration": integration})
    with sandbox_target(str(tmp_path / "sandbox" / "sandbox.db"), tls=True) as target:
        profile = target.connection.profile
        assert profile.api_base_url.startswith("https://127.0.0.1:")
        assert profile.verify_tls
        assert profile.ca_file is not None
        assert Path(profile.ca_file).parent == tmp_path / "sandbox"
        # Verification is really on: a client that does not trust the certificate is refused.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{profile.api_base_url}/health", timeout=10)
        pipeline, report = run(scenario, schema, target, tmp_path / "runs")

    assert report.verdict == "passed", [d for d in report.differences if d.outcome.fails][:5]
    assert {s.source for s in report.sources} >= {"rest", "export"}
    for source in report.sources:
        assert source.records_expected == source.records_found == 10
    calls = [orjson.loads(line) for line in pipeline.folder.requests.read_bytes().splitlines()]
    urls = {call["url"].split("/")[2] for call in calls}
    assert all(call["url"].startswith("https://") for call in calls), urls
    methods = {(call["method"], call["url"].split("?")[0].rsplit("/", 1)[-1]) for call in calls}
    assert ("POST", "token") in methods  # the OAuth token for the export, over HTTPS too
    assert any(method == "PUT" for method, _ in methods)  # the batch file's upload to the pre-signed URL
