"""Running the sandbox for tests: in a thread (the session fixture in `tests.helpers.fixtures`) or in a child
process (drills and benchmarks, where the sender and the sandbox must not share one GIL). Its admin API is
driven with the product's own client, `cdp_poc_studio.targets.sandbox_admin.SandboxAdmin`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

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
