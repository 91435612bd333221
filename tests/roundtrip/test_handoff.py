"""The hand-off of a run: its files, no secrets, load.py into a fresh sandbox, and newman running the collection."""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cdp_poc_studio.roundtrip.handoff import HandoffError, write_handoff
from cdp_poc_studio.roundtrip.run_folder import read_generated
from cdp_poc_studio.targets.target import Target
from tests.helpers.data import bundled
from tests.helpers.roundtrip import run

SCENARIOS = ["retail_loyalty", "travel_bookings", "hospitality_stays"]
SECRETS = ("sandbox-api-token", "sandbox-oauth-secret", "sandbox-oauth-client")
AUTH = ("sandbox-client-key", "sandbox-api-token")


def _reset(sandbox_url: str) -> None:
    httpx.post(f"{sandbox_url}/_sandbox/reset", timeout=30).raise_for_status()


def _counts(sandbox_url: str, generated: Path) -> tuple[list[int], list[int]]:
    """Per generated guest, how many guests the sandbox holds with its identifier; per order, by referenceId."""
    guests, orders = [], []
    with httpx.Client(base_url=sandbox_url, auth=AUTH, timeout=30) as http:
        for line in read_generated(generated):
            identifier = line.guest["identifiers"][0]
            params = {"identifiers.provider": identifier["provider"], "identifiers.id": identifier["id"]}
            guests.append(len(http.get("/v2.1/guests", params=params).raise_for_status().json()["items"]))
            for order in line.orders:
                found = http.get("/v2.1/orders", params={"referenceId": order.value["referenceId"]})
                orders.append(len(found.raise_for_status().json()["items"]))
    return guests, orders


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_handoff_files_and_load_py_into_a_fresh_sandbox(
    name: str, target: Target, sandbox_url: str, tmp_path: Path
) -> None:
    scenario, schema = bundled(name, guests=8)
    pipeline, report = run(scenario, schema, target, tmp_path / "runs")
    assert report.verdict == "passed"
    out = tmp_path / "handoff"
    result = write_handoff(pipeline.folder.path, out)

    for path in ("postman/collection.json", "postman/environment.json", "load.py", "load/plan.json", "README.md"):
        assert (out / path).is_file(), path
    assert list((out / "decisions" / "decisions").glob("*.js"))
    assert list((out / "decisions" / "templates").glob("*.js"))
    assert list((out / "sql").glob("*.sql"))
    assert result.batch_files == (1 if scenario.integration.load == "batch" else 0)
    collection = json.loads((out / "postman" / "collection.json").read_text())
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    assert collection["auth"]["basic"][0]["value"] == "{{clientKey}}"
    export = next(f for f in collection["item"] if f["name"].startswith("4 "))
    assert export["auth"]["type"] == "bearer"
    for folder in collection["item"]:
        for item in folder["item"]:
            assert any("pm.response.to.have.status" in line for line in item["event"][-1]["script"]["exec"])
    environment = json.loads((out / "postman" / "environment.json").read_text())
    assert {v["key"]: v["value"] for v in environment["values"] if v["type"] == "secret"} == {
        "clientKey": "",
        "apiToken": "",
        "oauthClientId": "",
        "oauthClientSecret": "",
    }
    for path in out.rglob("*"):
        if path.is_file() and path.suffix != ".gz":
            text = path.read_text(errors="replace")
            for secret in SECRETS:
                assert secret not in text, (path, secret)

    # load.py stands alone: the standard library and httpx, nothing of this project.
    imported = {
        node.names[0].name.split(".")[0] if isinstance(node, ast.Import) else (node.module or "").split(".")[0]
        for node in ast.walk(ast.parse((out / "load.py").read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
    }
    assert "cdp_poc_studio" not in imported
    assert imported - set(sys.stdlib_module_names) == {"httpx"}

    sent_guests, sent_orders = _counts(sandbox_url, pipeline.folder.generated)
    _reset(sandbox_url)
    assert _counts(sandbox_url, pipeline.folder.generated)[0] == [0] * len(sent_guests)
    env = {
        **os.environ,
        "CDP_BASE_URL": sandbox_url,
        "CDP_CLIENT_KEY": AUTH[0],
        "CDP_API_TOKEN": AUTH[1],
    }
    done = subprocess.run(
        [sys.executable, str(out / "load.py"), "--poll-seconds", "0.05"], env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert _counts(sandbox_url, pipeline.folder.generated) == (sent_guests, sent_orders)
    assert sent_guests == [1] * 8
    # Run again: the progress file says everything is done, so nothing is sent twice.
    again = subprocess.run(
        [sys.executable, str(out / "load.py")], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode == 0, again.stderr
    assert f"Resuming at step {result.load_steps + 1} of {result.load_steps}" in again.stdout
    assert _counts(sandbox_url, pipeline.folder.generated) == (sent_guests, sent_orders)


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_newman_runs_the_collection_green_against_a_fresh_sandbox(
    name: str, target: Target, sandbox_url: str, tmp_path: Path
) -> None:
    newman = shutil.which("newman")
    if newman is None:
        pytest.skip("newman is not installed (npm install -g newman); the collection is checked by the other test")
    scenario, schema = bundled(name, guests=5)
    pipeline, _ = run(scenario, schema, target, tmp_path / "runs")
    out = tmp_path / "handoff"
    write_handoff(pipeline.folder.path, out)
    _reset(sandbox_url)
    variables = {
        "baseUrl": sandbox_url,
        "authUrl": f"{sandbox_url}/oauth/token",
        "clientKey": AUTH[0],
        "apiToken": AUTH[1],
        "oauthClientId": "sandbox-oauth-client",
        "oauthClientSecret": "sandbox-oauth-secret",
    }
    command = [newman, "run", "postman/collection.json", "-e", "postman/environment.json", "--working-dir", "."]
    for key, value in variables.items():
        command += ["--env-var", f"{key}={value}"]
    command += ["-r", "json", "--reporter-json-export", str(tmp_path / "newman.json")]
    done = subprocess.run(command, cwd=out, capture_output=True, text=True, timeout=300, check=False)
    summary = json.loads((tmp_path / "newman.json").read_text())["run"]
    failures = [(f["source"]["name"], f["error"]["message"]) for f in summary["failures"]]
    assert done.returncode == 0, failures[:5] or done.stderr[-2000:]
    assert summary["stats"]["assertions"]["total"] > summary["stats"]["requests"]["total"] > 20


def test_a_folder_that_is_not_a_run_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(HandoffError, match="not a run folder"):
        write_handoff(tmp_path, tmp_path / "out")


def test_plan_from_a_run_measures_its_figures_and_prints_the_assumptions(target: Target, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cdp_poc_studio.cli.main import cli

    scenario, schema = bundled("travel_bookings", guests=6)
    pipeline, _ = run(scenario, schema, target, tmp_path / "runs")
    runner = CliRunner()
    result = runner.invoke(cli, ["plan", "--guests", "500000", "--from", str(pipeline.folder.path), "--output", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    sources = {f["name"]: f for f in plan["figures"]}
    assert sources["orders_per_guest"]["source"] == "measured"
    assert sources["rest_requests_per_guest"]["source"] == "measured"
    assert sources["rest_requests_per_guest"]["value"] > 3
    assert sources["rest_latency_ms"]["note"].endswith("enter --latency-ms for a tenant)")
    assert plan["choice"] == "batch"
    text = runner.invoke(cli, ["plan", "--guests", "500000", "--from", str(pipeline.folder.path)])
    assert "Assumptions:" in text.output
    assert "200,000 guests a day" in text.output
    bad = runner.invoke(cli, ["plan", "--guests", "10", "--from", str(tmp_path)])
    assert bad.exit_code == 2
    assert "not a run folder" in bad.output
