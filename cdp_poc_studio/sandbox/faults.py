"""Seeded fault injection per endpoint pattern: error statuses (429 with Retry-After, 500, 503), latency,
dropped connections, expired upload URLs and corrupted uploads.

A rule in the compact CLI form: `status=503,rate=0.1,path=/v2.1/*`, `latency=50ms`, `drop,rate=0.02`,
`status=429,retry_after=2,count=1`, `expire_upload`, `corrupt_upload`. The admin API takes the same keys as JSON.
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson

ADMIN_PREFIX = "/_sandbox"
UPLOAD_FAULTS = ("expire_upload", "corrupt_upload")
ACTIONS = ("status", "drop", *UPLOAD_FAULTS)
DROP_PHASES = ("before", "after", "refuse")


@dataclass
class FaultRule:
    """One fault. `action` is None for a latency-only rule."""

    action: str | None = None
    status: int | None = None
    latency_ms: int = 0
    rate: float = 1.0
    path: str = "*"
    method: str | None = None
    retry_after: int | None = None
    count: int | None = None  # fire at most this many times (None: unlimited)
    # drop: "before" (the app does not run; the response starts and is cut after one body byte), "after" (the app
    # runs and commits; its response is replaced by the same cut response) or "refuse" (the app does not run; the
    # connection is closed before any byte of a response).
    phase: str = "before"
    fired: int = 0

    def __post_init__(self) -> None:
        if self.action not in (None, *ACTIONS):
            raise ValueError(f"unknown fault {self.action!r}")
        if self.action == "status" and (self.status is None or not 400 <= self.status <= 599):
            raise ValueError("status faults need an HTTP status between 400 and 599")
        if self.action is None and self.latency_ms <= 0:
            raise ValueError("a fault needs status=..., drop, expire_upload, corrupt_upload or latency=...")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if self.phase not in DROP_PHASES:
            raise ValueError("phase must be before, after or refuse")
        if self.action in UPLOAD_FAULTS and self.path == "*":
            self.path = "/_s3/*"
        if self.method:
            self.method = self.method.upper()
        if self.status in (429, 503) and self.retry_after is None:
            self.retry_after = 1

    @classmethod
    def parse(cls, spec: str) -> FaultRule:
        """Parse the compact CLI form. Raises ValueError with a readable message."""
        kwargs: dict[str, Any] = {}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            key, sep, value = part.partition("=")
            key = key.strip().lower().replace("-", "_")
            value = value.strip()
            if not sep:
                if key not in ("drop", *UPLOAD_FAULTS):
                    raise ValueError(f"fault option {key!r} needs a value")
                kwargs["action"] = key
            elif key == "status":
                kwargs["action"], kwargs["status"] = "status", _number(key, value, int, "an HTTP status such as 429")
            elif key == "latency":
                kwargs["latency_ms"] = _number(key, value, _parse_ms, "a time such as 200ms or 2s")
            elif key == "rate":
                kwargs["rate"] = _number(key, value, float, "a fraction between 0 and 1 such as 0.1")
            elif key in ("path", "method", "phase"):
                kwargs[key] = value
            elif key in ("retry_after", "count"):
                kwargs[key] = _number(key, value, int, "a whole number such as 2")
            else:
                raise ValueError(f"unknown fault option {key!r}")
        return cls(**kwargs)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        allowed = {"action", "status", "latency_ms", "rate", "path", "method", "retry_after", "count", "phase"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        data = dict(data)
        if "status" in data and "action" not in data:
            data["action"] = "status"
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, method: str, path: str) -> bool:
        if path.startswith(ADMIN_PREFIX):
            return False  # the admin API always answers, so a test can always remove its faults
        if self.method and self.method != method:
            return False
        return fnmatch.fnmatchcase(path, self.path)


def _number(key: str, value: str, parse: Callable[[str], Any], example: str) -> Any:
    """A number in a fault spec, or a ValueError a person can act on (not Python's `invalid literal`)."""
    try:
        return parse(value)
    except ValueError:
        raise ValueError(f"{key}={value!r} is not a number: give {example}") from None


def _parse_ms(value: str) -> int:
    text = value.strip().lower()
    if text.endswith("ms"):
        return int(float(text[:-2]))
    if text.endswith("s"):
        return int(float(text[:-1]) * 1000)
    return int(float(text))


class FaultInjector:
    """The active rules and the seeded random source that decides whether a matching rule fires."""

    def __init__(self, rules: list[FaultRule] | None = None, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = list(rules or [])
        self._seed = seed
        self._random = random.Random(seed)

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def set_rules(self, rules: list[FaultRule], seed: int | None = None) -> None:
        with self._lock:
            self._rules = list(rules)
            if seed is not None:
                self._seed = seed
            self._random = random.Random(self._seed)

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        self.set_rules([])

    def pick(self, method: str, path: str) -> tuple[int, FaultRule | None]:
        """Total latency to add and the first action rule that fires for this request."""
        latency = 0
        action: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if rule.rate < 1.0 and self._random.random() >= rule.rate:
                    continue
                if rule.action is None:
                    rule.fired += 1
                    latency += rule.latency_ms
                elif action is None:
                    rule.fired += 1
                    latency += rule.latency_ms
                    action = rule
        return latency, action


class FaultMiddleware:
    """Pure ASGI middleware (it must be able to cut a connection, which a Response cannot express)."""

    def __init__(self, app: Any, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        latency, rule = self.injector.pick(scope["method"], scope["path"])
        if latency:
            await asyncio.sleep(latency / 1000)
        labels = []
        if latency:
            labels.append(f"latency={latency}ms")
        if rule is None:
            if labels:
                await self.app(scope, receive, _with_header(send, ",".join(labels)))
            else:
                await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["sandbox_fault"] = rule.action
        if rule.action == "status":
            assert rule.status is not None
            labels.append(f"status={rule.status}")
            await _send_status(send, rule.status, rule.retry_after, ",".join(labels))
        elif rule.action == "drop":
            if rule.phase == "refuse" and _refuse(scope):
                return
            if rule.phase == "after":
                await self.app(scope, receive, _swallow)
            else:
                await _drain(receive)
            await _drop(send)
        else:  # upload faults: the S3 route reads scope["state"]["sandbox_fault"]
            labels.append(str(rule.action))
            await self.app(scope, receive, _with_header(send, ",".join(labels)))


class ExposeConnection:
    """The outermost ASGI wrapper (server.py): keeps uvicorn's request cycle, the object behind its `send`, in the
    scope, so that a `drop,phase=refuse` fault can close the connection before any byte of a response (an ASGI
    app cannot express that: returning without a response makes the server answer 500)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            cycle = getattr(send, "__self__", None)
            if hasattr(cycle, "transport") and hasattr(cycle, "disconnected"):
                scope.setdefault("state", {})[CYCLE_KEY] = cycle
        await self.app(scope, receive, send)


CYCLE_KEY = "sandbox_connection"


def _refuse(scope: dict[str, Any]) -> bool:
    """Close the connection without a response; False when the server does not expose it (then phase=before)."""
    cycle = scope.get("state", {}).get(CYCLE_KEY)
    if cycle is None:
        return False
    cycle.disconnected = True  # uvicorn then sends nothing for this request (and logs nothing)
    cycle.transport.close()
    return True


async def _drain(receive: Any) -> None:
    # Read the request body before cutting the connection: a socket closed with unread bytes sends a TCP reset,
    # and the client would see "connection reset" instead of the cut-off response a dropped connection gives.
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def _swallow(_message: Any) -> None:
    return None


def _with_header(send: Any, label: str) -> Any:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"x-sandbox-fault", label.encode())]}
        await send(message)

    return wrapped


async def _send_status(send: Any, status: int, retry_after: int | None, label: str) -> None:
    # Same body shape as CDP's errors, so clients exercise their normal error parsing.
    messages = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
    body = orjson.dumps(
        {
            "status": status,
            "code": status,
            "message": messages.get(status, "Injected fault"),
            "developerMessage": f"Fault injected by the CDP sandbox ({label}).",
            "moreInfoUrl": "https://support.sitecore.com",
        }
    )
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-sandbox-fault", label.encode()),
    ]
    if retry_after is not None and status in (429, 503):
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Any) -> None:
    # Announce a body and never finish it: the server closes the connection mid-response and the client sees
    # a broken connection (httpx RemoteProtocolError), which is what a dropped connection looks like to it.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1024")],
        }
    )
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
