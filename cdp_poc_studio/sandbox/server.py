"""Running the sandbox: `SandboxServer` in a thread (tests, in-process use) and `serve` for the CLI child process."""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from cdp_poc_studio.sandbox.app import create_app
from cdp_poc_studio.sandbox.clock import Clock
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.context import Sandbox
from cdp_poc_studio.sandbox.faults import ExposeConnection

READY_PREFIX = "CDP sandbox ready at "
CERTIFICATE_PREFIX = "CDP sandbox certificate (trust it for HTTPS): "
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without it
    # every response (headers and body written apart) waits about 40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(256)
    sock.set_inheritable(True)
    return sock


def _url(sock: socket.socket, *, tls: bool = False) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def _tls_files(config: SandboxConfig) -> tuple[Path, Path] | None:
    if config.tls_dir is None:
        return None
    from cdp_poc_studio.sandbox.tls import ensure_certificate

    return ensure_certificate(config.tls_dir)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_ready: Any = None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self._on_ready is not None and not self.should_exit:
            self._on_ready()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Our own handlers: uvicorn's re-raise the signal after shutdown, which would kill the process with
        # SIGTERM's status instead of exiting cleanly (status 0) after closing the database.
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_signal(sig: int, _frame: FrameType | None) -> None:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _uvicorn_config(app: Any, log_level: str, tls: tuple[Path, Path] | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        ExposeConnection(app),
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )


class SandboxServer:
    """The sandbox on a loopback port in a background thread.

    >>> server = SandboxServer(SandboxConfig(port=0)).start()
    >>> server.base_url  # e.g. http://127.0.0.1:41235
    >>> server.clock.advance(3600)
    >>> server.stop()
    """

    def __init__(self, config: SandboxConfig | None = None, *, clock: Clock | None = None, log_level: str = "warning"):
        self.config = config or SandboxConfig(port=0)
        self.clock = clock or Clock()
        self.app = create_app(self.config, clock=self.clock)
        self.sandbox: Sandbox = self.app.state.sandbox
        self._log_level = log_level
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.base_url = ""
        self.certificate: Path | None = None  # with config.tls_dir: the certificate clients must trust

    def start(self, timeout: float = 30.0) -> SandboxServer:
        tls = _tls_files(self.config)
        self.certificate = tls[0] if tls else None
        self._sock = _bind(self.config.host, self.config.port)
        self.base_url = _url(self._sock, tls=tls is not None)
        ready = threading.Event()
        self._server = _Server(_uvicorn_config(self.app, self._log_level, tls), on_ready=ready.set)
        sock = self._sock
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.run(sockets=[sock]), name="cdp-sandbox-server", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("the CDP sandbox did not start in time")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def serve(config: SandboxConfig, *, log_level: str = "warning", setup: Callable[[Sandbox], None] | None = None) -> int:
    """Run in the foreground until SIGINT or SIGTERM. Prints one ready line with the base URL, then serves.

    `setup` runs on the new sandbox before it listens (the CLI loads export definitions with it).
    """
    if config.host not in LOOPBACK:
        print(f"warning: the CDP sandbox is listening on {config.host}, not a loopback address", file=sys.stderr)
        if config.admin_token is None:
            token_file = _admin_token_file(config)
            config = config.replace(admin_token=token_file.read_text().strip())
            print(
                f"the admin API (/_sandbox/...) needs the header X-Sandbox-Admin-Token: the token is in {token_file}",
                file=sys.stderr,
            )
    tls = _tls_files(config)
    app = create_app(config)
    if setup is not None:
        setup(app.state.sandbox)
    sock = _bind(config.host, config.port)
    url = _url(sock, tls=tls is not None)

    def announce() -> None:
        if tls is not None:
            print(f"{CERTIFICATE_PREFIX}{tls[0]}", flush=True)
        print(f"{READY_PREFIX}{url}", flush=True)

    server = _Server(_uvicorn_config(app, log_level, tls), on_ready=announce)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


def _admin_token_file(config: SandboxConfig) -> Path:
    """A random admin token kept beside the database (owner-only), made on the first start beyond loopback."""
    import os
    import secrets

    folder = Path(config.db_path).parent if config.db_path != ":memory:" else Path(config.files_dir or ".")
    path = folder / "sandbox-admin-token"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24))
    return path
