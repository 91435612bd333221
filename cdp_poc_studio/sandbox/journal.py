"""The request journal: what clients really sent (method, path, status, duration, masked headers)."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from cdp_poc_studio.sandbox.clock import Clock, iso
from cdp_poc_studio.sandbox.fidelity import collecting

SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
SECRET_QUERY = ("Signature", "client_secret")
WARNING_HEADER = b"x-sandbox-warning"


def mask_header(name: str, value: str) -> str:
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, sep, _secret = value.partition(" ")
    return f"{scheme} ***" if sep else "***"


def mask_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        key, sep, _value = part.partition("=")
        parts.append(f"{key}=***" if sep and key in SECRET_QUERY else part)
    return "&".join(parts)


@dataclass
class JournalEntry:
    seq: int
    time: str
    method: str
    path: str
    query: str
    status: int | None
    duration_ms: float
    request_headers: dict[str, str]
    request_bytes: int = 0
    fault: str | None = None
    error: str | None = None
    # Accepted on an inferred rule (fidelity.warn): a real tenant may answer differently.
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class Journal:
    def __init__(self, clock: Clock, maxlen: int = 10_000) -> None:
        self._clock = clock
        self._entries: deque[JournalEntry] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._seq = itertools.count(1)

    def add(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(e) for e in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def next_seq(self) -> int:
        return next(self._seq)

    def now(self) -> str:
        return iso(self._clock.now())


class JournalMiddleware:
    """Outermost ASGI middleware, so injected faults are journalled too. The journal's own reads are skipped."""

    def __init__(self, app: Any, journal: Journal) -> None:
        self.app = app
        self.journal = journal

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox/journal"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        entry = JournalEntry(
            seq=self.journal.next_seq(),
            time=self.journal.now(),
            method=scope["method"],
            path=scope["path"],
            query=mask_query(scope.get("query_string", b"").decode("latin-1")),
            status=None,
            duration_ms=0.0,
            request_headers={k: mask_header(k, v) for k, v in headers.items()},
        )
        size = 0

        async def counting_receive() -> Any:
            nonlocal size
            message = await receive()
            if message.get("type") == "http.request":
                size += len(message.get("body", b""))
            return message

        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
                if entry.warnings:
                    # Also on the response, so that any client (curl -i, Postman, a request log) sees them.
                    extra = [(WARNING_HEADER, w.encode("ascii", "backslashreplace")[:1000]) for w in entry.warnings]
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            with collecting() as warnings:
                entry.warnings = warnings
                await self.app(scope, counting_receive, recording_send)
        except Exception as exc:
            entry.error = repr(exc)
            raise
        finally:
            entry.duration_ms = round((time.perf_counter() - started) * 1000, 3)
            entry.request_bytes = size
            entry.fault = scope.get("state", {}).get("sandbox_fault")
            self.journal.add(entry)
