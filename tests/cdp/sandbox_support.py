"""Running the sandbox for client tests: in a thread (the session fixture) or in a child process (drills and
benchmarks, where the sender and the sandbox must not share one GIL), plus a small admin API client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

import cdp_poc_studio.sandbox.server as sandbox_server

# WORKAROUND (reported to the lead): the sandbox binds its listening socket with `socket.socket(family,
# SOCK_STREAM)`, whose `proto` is 0, so asyncio's `_set_nodelay` (which checks `proto == IPPROTO_TCP`) never sets
# TCP_NODELAY on accepted connections. Nagle plus the client's delayed ACK then adds about 40 ms to every
# request on a reused keep-alive connection (measured: 47 ms per GET instead of 2.5 ms). Setting TCP_NODELAY on
# the listening socket (accepted sockets inherit it on Linux) removes the delay without touching the sandbox.
_original_bind = sandbox_server._bind


def _bind_nodelay(host: str, port: int) -> socket.socket:
    sock = _original_bind(host, port)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def install_nodelay_workaround() -> None:
    sandbox_server._bind = _bind_nodelay


_CHILD = """
import socket, sys
import cdp_poc_studio.sandbox.server as srv
from cdp_poc_studio.sandbox.config import SandboxConfig
original = srv._bind
def bind(host, port):
    sock = original(host, port)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
srv._bind = bind
sys.exit(srv.serve(SandboxConfig(port=0, db_path=sys.argv[1])))
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
