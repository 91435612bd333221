"""The embedded CDP sandbox as a child process: start it, learn its base URL from its ready line, stop it.

Qt-free, so that the command line can use it as well as the studio. The child is
`python -m cdp_poc_studio sandbox --port 0 ...`; it prints one line containing `http://127.0.0.1:PORT` when it
listens, and closes its database cleanly on SIGTERM. A child that does not stop within the grace period is killed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

READY_URL = re.compile(r"(https?://[^\s]+)")
CERTIFICATE_LINE = re.compile(r"^CDP sandbox certificate[^:]*: (.+)$")
SnapshotMode = Literal["immediate", "nightly"]


def default_sandbox_db() -> str:
    """The sandbox database the studio, `run` and `cdp-poc-studio sandbox` share (the sandbox's own default)."""
    from cdp_poc_studio.sandbox.cli_support import default_db_path

    return default_db_path()


class SandboxStartError(RuntimeError):
    """The sandbox did not come up: the message carries the last lines it wrote."""


@dataclass
class SandboxOptions:
    """How to start the sandbox. The credentials are the sandbox's own, not a tenant's."""

    db_path: str = ":memory:"
    client_key: str = "sandbox-client-key"
    api_token: str = "sandbox-api-token"
    oauth_client_id: str = "sandbox-oauth-client"
    oauth_client_secret: str = "sandbox-oauth-secret"
    snapshot: SnapshotMode = "immediate"
    faults: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    # HTTPS with the sandbox's self-signed certificate; after start, SandboxProcess.certificate is its path.
    tls: bool = False

    def command(self, python: str | None = None) -> list[str]:
        argv = [python or sys.executable, "-m", "cdp_poc_studio", "sandbox"]
        argv += ["--host", self.host, "--port", str(self.port), "--db", self.db_path]
        argv += ["--client-key", self.client_key, "--api-token", self.api_token]
        argv += ["--oauth-client-id", self.oauth_client_id, "--oauth-client-secret", self.oauth_client_secret]
        argv += ["--snapshot", self.snapshot]
        if self.tls:
            argv.append("--tls")
        for spec in self.faults:
            argv += ["--fault", spec]
        return argv


class SandboxProcess:
    """One sandbox child process.

    >>> sandbox = SandboxProcess(SandboxOptions(db_path="/tmp/s.sqlite"))
    >>> sandbox.start()          # blocks until the ready line, returns the base URL
    'http://127.0.0.1:41235'
    >>> sandbox.stop()
    """

    def __init__(self, options: SandboxOptions | None = None) -> None:
        self.options = options or SandboxOptions()
        self.base_url: str | None = None
        self.certificate: str | None = None  # the certificate file to trust, with options.tls
        self._process: subprocess.Popen[str] | None = None
        self._output: deque[str] = deque(maxlen=40)
        self._readers: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 30.0) -> str:
        """Start the child and wait for its ready line; returns the base URL. Raises SandboxStartError."""
        with self._lock:
            if self.running and self.base_url:
                return self.base_url
            if self.options.db_path != ":memory:":
                Path(self.options.db_path).parent.mkdir(parents=True, exist_ok=True)
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            self._output.clear()
            self._process = subprocess.Popen(
                self.options.command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=env,
                # Its own process group: a Ctrl+C in the studio's terminal does not reach the sandbox twice.
                start_new_session=True,
            )
            ready = threading.Event()
            found: list[str] = []
            assert self._process.stdout is not None
            assert self._process.stderr is not None
            self._readers = [
                threading.Thread(
                    target=self._read, args=(self._process.stdout, ready, found), name="sandbox-stdout", daemon=True
                ),
                threading.Thread(target=self._read, args=(self._process.stderr, None, None), name="sandbox-stderr",
                                 daemon=True),
            ]  # fmt: skip
            for reader in self._readers:
                reader.start()
            deadline = time.monotonic() + timeout
            while not ready.wait(0.05):
                if self._process.poll() is not None or time.monotonic() > deadline:
                    code = self._process.poll()
                    self._stop_locked(grace=2.0)
                    for reader in self._readers:
                        reader.join(1.0)
                    tail = "\n".join(self._output) or "(no output)"
                    why = f"exited with status {code}" if code is not None else f"not ready after {timeout:g} s"
                    raise SandboxStartError(f"the sandbox {why}:\n{tail}")
            self.base_url = found[0]
            return self.base_url

    def _read(self, stream: IO[str], ready: threading.Event | None, found: list[str] | None) -> None:
        for line in stream:
            line = line.rstrip("\n")
            self._output.append(line)
            if ready is not None and found is not None and not ready.is_set():
                certificate = CERTIFICATE_LINE.match(line)
                if certificate:
                    self.certificate = certificate.group(1).strip()
                match = READY_URL.search(line)
                if match:
                    found.append(match.group(1).rstrip("/"))
                    ready.set()
        stream.close()

    def output(self) -> list[str]:
        """The last lines the child wrote (stdout and stderr), for error messages."""
        return list(self._output)

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exit status (None if never started)."""
        with self._lock:
            return self._stop_locked(grace)

    def _stop_locked(self, grace: float) -> int | None:
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5.0)
            except ProcessLookupError:
                pass
        for reader in self._readers:
            reader.join(2.0)
        self._readers = []
        self._process = None
        self.base_url = None
        return process.returncode

    def disown(self) -> None:
        """Leave the child running past this object (a run left going uses it, and stops it by its pid).

        A thread waits for the child meanwhile: it reaps it when whoever stops it does, and keeps the Popen from
        being collected while its child runs (which warns that it was leaked); the reader threads keep draining
        the child's output while this process lives.
        """
        process = self._process
        if process is not None:
            threading.Thread(target=process.wait, name="sandbox-disowned", daemon=True).start()

    def __enter__(self) -> SandboxProcess:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
