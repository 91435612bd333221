"""Running the sandbox for client tests: in a thread (the session fixture) or in a child process (drills and
benchmarks, where the sender and the sandbox must not share one GIL), plus a small admin API client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

import cdp_poc_studio.sandbox.server as sandbox_server

_CHILD = """
import sys
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import serve
sys.exit(serve(SandboxConfig(port=0, db_path=sys.argv[1])))
"""


@contextmanager
def sandbox_process(db_path: str = ":memory:") -> Iterator[str]:
    """A sandbox in a child process; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, db_path],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if sandbox_server.READY_PREFIX not in line:
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        yield line.split(sandbox_server.READY_PREFIX, 1)[1].strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


class Admin:
    """The sandbox admin API (`/_sandbox/...`): reset, faults, journal, clock, batch worker, exports."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url + "/_sandbox", timeout=120)

    def close(self) -> None:
        self.http.close()

    def _ok(self, response: httpx.Response) -> Any:
        assert response.is_success, f"{response.request.method} {response.request.url}: {response.text}"
        return response.json()

    def reset(self) -> None:
        self._ok(self.http.post("/reset"))

    def faults(self, *specs: str | dict[str, Any], seed: int | None = None) -> None:
        body: dict[str, Any] = {"faults": list(specs)}
        if seed is not None:
            body["seed"] = seed
        self._ok(self.http.put("/faults", json=body))

    def clear_faults(self) -> None:
        self._ok(self.http.delete("/faults"))

    def fault_rules(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._ok(self.http.get("/faults"))["faults"]
        return result

    def journal(self, prefix: str | None = None) -> list[dict[str, Any]]:
        params = {"prefix": prefix} if prefix else None
        result: list[dict[str, Any]] = self._ok(self.http.get("/journal", params=params))["entries"]
        return result

    def advance_clock(self, seconds: float) -> None:
        self._ok(self.http.post("/clock", json={"advanceSeconds": seconds}))

    def drain(self, timeout: float = 60) -> None:
        self._ok(self.http.post("/batches/drain", params={"timeout": timeout}))

    def hold_batches(self) -> None:
        self._ok(self.http.post("/batches/hold"))

    def create_export(self, definition: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._ok(self.http.post("/exports", json=definition))
        return result

    def run_export(self, key: str) -> dict[str, Any]:
        result: dict[str, Any] = self._ok(self.http.post(f"/exports/{key}/run"))
        return result
