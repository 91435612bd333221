"""Restart persistence with a file database, batch recovery after a stop, and the CLI as a child process."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import httpx
from conftest import SandboxApi

from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import SandboxServer


def test_data_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.db")
    with SandboxServer(SandboxConfig(port=0, db_path=db)) as server:
        api = SandboxApi(server)
        guest = api.create_guest(email="keep@example.com")
        api.rest.post(f"/v2.1/guests/{guest['ref']}/extensions", json={"name": "ext", "tier": "gold"})
        batch = api.run_batch([{"ref": "r", "schema": "guest", "mode": "upsert", "value": {"email": "b@example.com"}}])
        api.close()
    with SandboxServer(SandboxConfig(port=0, db_path=db)) as server:
        api = SandboxApi(server)
        again = api.rest.get(f"/v2.1/guests/{guest['ref']}", params={"expand": "true"}).json()
        assert again["email"] == "keep@example.com"
        assert again["dataExtensions"]["items"][0]["tier"] == "gold"
        status = api.rest.get(f"/v2/batches/{batch['ref']}").json()
        assert status["status"] == {"code": "success"}
        # The upload URL issued before the restart still verifies (the signing secret is persisted).
        assert status["location"]["href"].split("/_s3/")[1] == batch["location"]["href"].split("/_s3/")[1]
        api.close()


def test_interrupted_batch_is_finished_after_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.db")
    records = [
        {"ref": str(uuid.uuid4()), "schema": "guest", "mode": "upsert", "value": {"email": f"g{i}@example.com"}}
        for i in range(50)
    ]
    with SandboxServer(SandboxConfig(port=0, db_path=db)) as server:
        api = SandboxApi(server)
        api.admin("POST", "/batches/hold")
        data = api.gz(records)
        batch = api.allocate(data)
        assert api.upload(batch["location"]["href"], data).status_code == 200
        api.close()
    # As if the process died mid-way: the batch is left "processing".
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE batches SET status = 'processing' WHERE ref = ?", (batch["ref"],))
    with SandboxServer(SandboxConfig(port=0, db_path=db)) as server:
        api = SandboxApi(server)
        api.drain()
        status = api.rest.get(f"/v2/batches/{batch['ref']}").json()
        assert status["status"] == {"code": "success"}
        assert status["stats"]["totalRecords"] == 50
        assert len(api.rest.get("/v2.1/guests", params={"limit": 100}).json()["items"]) == 50
        api.close()


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline() if proc.stdout else ""), daemon=True)
    reader.start()
    reader.join(timeout)
    return box[0] if box else ""


def test_cli_child_process_prints_ready_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    definition = tmp_path / "export.json"
    definition.write_text(json.dumps({"friendlyId": "cli_export", "name": "From the CLI"}))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cdp_poc_studio", "sandbox", "--port", "0", "--db", str(tmp_path / "cli.db"),
         "--client-key", "ck", "--api-token", "tok", "--fault", "status=503,path=/v2.1/orders*",
         "--export-definition", str(definition)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        line = _read_line(proc, timeout=60)
        assert line.startswith("CDP sandbox ready at http://127.0.0.1:"), line
        base = line.split(" at ", 1)[1].strip()
        with httpx.Client(base_url=base, auth=("ck", "tok")) as client:
            assert client.get("/v2.1/guests").status_code == 200
            assert client.get("/v2.1/orders", params={"referenceId": "x"}).status_code == 503
            assert client.get("/_sandbox/exports/cli_export").json()["name"] == "From the CLI"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()


def test_cli_rejects_a_bad_fault_spec(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cdp_poc_studio", "sandbox", "--port", "0", "--db", ":memory:", "--fault", "boom"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--fault 'boom'" in result.stderr
