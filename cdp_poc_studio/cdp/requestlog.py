"""The request log: every HTTP call (method, URL, status, duration, sizes), secrets masked, with copy-as-curl.

Masking happens when an entry is recorded, so no secret is ever held in the log, written to its file or shown
in the console. What is masked: the Authorization header, the known secret values of the profile (replaced by
their environment variable, e.g. `$CDP_API_TOKEN`), `client_secret` in the token form, `access_token` in token
responses, and the signature and credential parameters of pre-signed URLs.
"""

from __future__ import annotations

import logging
import re
import shlex
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote_plus

import httpx
import orjson

MASK = "***"
# Values shorter than this are not masked by value: replacing "a" everywhere would mangle the log.
_MIN_SECRET = 6
_PRESIGNED = re.compile(
    r"(?i)((?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId|sig)=)[^&\"'\s<]+"
)
_ACCESS_TOKEN = re.compile(r'("(?:access_token|refresh_token|id_token)"\s*:\s*")[^"]*(")')
_FORM_SECRET = re.compile(r"((?:^|&)client_secret=)[^&\s]*")
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-amz-security-token"})
_TEXT_TYPES = ("json", "text", "xml", "x-www-form-urlencoded", "ndjson")
# The sandbox names, in this header, each decision it took on an inferred rule ("a real tenant may answer this
# differently"); a real tenant never sends it. Kept on the entry so the request console and the report show them.
SANDBOX_WARNING_HEADER = "x-sandbox-warning"


class SecretMasker:
    """Replaces known secret values and secret-shaped fields in text; thread-safe."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}
        for value, placeholder in (secrets or {}).items():
            self.add(value, placeholder)

    def add(self, value: str | None, placeholder: str) -> None:
        if value and len(value) >= _MIN_SECRET:
            with self._lock:
                # Longest first, so a secret containing another is replaced whole.
                self._values = dict(sorted({**self._values, value: placeholder}.items(), key=lambda kv: -len(kv[0])))

    def text(self, text: str) -> str:
        for value, placeholder in self._values.items():
            if value in text:
                text = text.replace(value, placeholder)
        if "=" in text:
            text = _PRESIGNED.sub(rf"\1{MASK}", text)
            text = _FORM_SECRET.sub(r"\1$CDP_OAUTH_CLIENT_SECRET", text)
        if "_token" in text:
            text = _ACCESS_TOKEN.sub(r"\1$CDP_ACCESS_TOKEN\2", text)
        return text

    def url(self, url: str) -> str:
        return self.text(url)

    def header(self, name: str, value: str) -> str:
        if name.lower() in _SECRET_HEADERS:
            scheme, _, _ = value.partition(" ")
            return f"{scheme} {MASK}" if scheme.lower() in ("basic", "bearer") else MASK
        return self.text(value)


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One call, masked. Bodies are kept only for text bodies up to the log's `body_limit`."""

    started_at: float
    method: str
    url: str
    status: int | None
    duration_ms: float
    request_bytes: int
    response_bytes: int
    request_headers: tuple[tuple[str, str], ...]
    request_body: str | None = None
    response_body: str | None = None
    error: str | None = None
    # The sandbox's warnings for this call (SANDBOX_WARNING_HEADER), masked like the rest.
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def as_curl(self) -> str:
        """A curl command that reproduces the call, with `$CDP_...` variables where the secrets were."""
        parts = ["curl", "-X", self.method]
        form = False
        for name, value in self.request_headers:
            low = name.lower()
            if low in ("host", "content-length", "accept-encoding", "connection", "user-agent"):
                continue
            if low == "authorization":
                if value.lower().startswith("basic"):
                    parts += ["-u", '"$CDP_CLIENT_KEY:$CDP_API_TOKEN"']
                else:
                    parts += ["-H", '"Authorization: Bearer $CDP_ACCESS_TOKEN"']
                continue
            if low == "content-type" and "x-www-form-urlencoded" in value:
                form = True
            parts += ["-H", _dq(f"{name}: {value}")]
        if self.request_body is not None:
            if form:
                for pair in self.request_body.split("&"):
                    key, _, value = pair.partition("=")
                    if not value.startswith("$"):
                        value = unquote_plus(value)
                    parts += ["--data-urlencode", _dq(f"{unquote_plus(key)}={value}")]
            else:
                parts += ["--data-raw", shlex.quote(self.request_body)]
        elif self.request_bytes:
            parts += ["--data-binary", "@<file>"]
        parts.append(_dq(self.url))
        return " ".join(parts)


def _dq(text: str) -> str:
    # Double quotes, so the shell expands the $CDP_... placeholders; escape what else it would expand.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
    escaped = re.sub(r"\$(?!CDP_[A-Z_]+)", r"\\$", escaped)
    return f'"{escaped}"'


class RequestLog:
    """The last `maxlen` calls in memory, optionally appended as NDJSON to `path`; listeners see each entry."""

    def __init__(self, maxlen: int = 5000, *, body_limit: int = 16_384, path: Path | None = None) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.body_limit = body_limit
        self.path = path
        self._file: BinaryIO | None = path.open("ab") if path is not None else None
        self._listeners: list[Callable[[LoggedRequest], None]] = []
        self.count = 0

    def add_listener(self, listener: Callable[[LoggedRequest], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[LoggedRequest], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)
            self.count += 1
            if self._file is not None:
                self._file.write(orjson.dumps(entry.to_json()) + b"\n")
        for listener in self._listeners:
            listener(entry)

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self.entries())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _is_text(content_type: str) -> bool:
    return any(kind in content_type for kind in _TEXT_TYPES)


class _LoggedStream(httpx.SyncByteStream):
    """Counts (and keeps the start of) a response body; records the entry when the body is closed."""

    def __init__(self, inner: httpx.SyncByteStream, keep: int, on_close: Callable[[int, bytes], None]) -> None:
        self._inner = inner
        self._keep = keep
        self._on_close = on_close
        self._size = 0
        self._head = bytearray()
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._size += len(chunk)
            if len(self._head) < self._keep:
                self._head += chunk[: self._keep - len(self._head)]
            yield chunk

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._inner.close()
            finally:
                self._on_close(self._size, bytes(self._head))


class LoggingTransport(httpx.BaseTransport):
    """Wraps the real transport so that every request, auth and pre-signed ones included, is logged."""

    def __init__(self, inner: httpx.BaseTransport, log: RequestLog, masker: SecretMasker) -> None:
        self.inner = inner
        self.log = log
        self.masker = masker

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started, t0 = time.time(), time.perf_counter()
        masker = self.masker
        url = masker.url(str(request.url))
        headers = tuple((name, masker.header(name, value)) for name, value in request.headers.items())
        request_bytes, request_body = self._request_body(request)
        try:
            response = self.inner.handle_request(request)
        except Exception as exc:
            self.log.record(
                LoggedRequest(
                    started,
                    request.method,
                    url,
                    None,
                    (time.perf_counter() - t0) * 1000,
                    request_bytes,
                    0,
                    headers,
                    request_body,
                    None,
                    type(exc).__name__,
                )
            )
            raise
        content_type = response.headers.get("content-type", "")
        keep = self.log.body_limit if _is_text(content_type) else 0

        def on_close(size: int, head: bytes) -> None:
            body = None
            if keep and head:
                body = masker.text(head.decode("utf-8", "replace"))
            warnings = tuple(masker.text(w) for w in response.headers.get_list(SANDBOX_WARNING_HEADER))
            self.log.record(
                LoggedRequest(
                    started,
                    request.method,
                    url,
                    response.status_code,
                    (time.perf_counter() - t0) * 1000,
                    request_bytes,
                    size,
                    headers,
                    request_body,
                    body,
                    warnings=warnings,
                )
            )

        if response.is_closed:
            # Already read by whoever built it (MockTransport responses are): log it now.
            on_close(len(response.content), response.content[:keep])
            return response
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _LoggedStream(response.stream, keep, on_close)
        return response

    def _request_body(self, request: httpx.Request) -> tuple[int, str | None]:
        size = int(request.headers.get("content-length", "0") or 0)
        if not size or not _is_text(request.headers.get("content-type", "")) or size > self.log.body_limit:
            return size, None
        try:
            content = request.content
        except httpx.RequestNotRead:
            return size, None
        return size, self.masker.text(content.decode("utf-8", "replace"))

    def close(self) -> None:
        self.inner.close()


_LOG_MASKERS: weakref.WeakSet[SecretMasker] = weakref.WeakSet()
# httpx logs every request URL at INFO (pre-signed signatures included); these loggers get the masking filter.
_MASKED_LOGGERS = ("httpx",)


class _MaskingFilter(logging.Filter):
    """Masks the secrets of every live connection in the records of httpx's logger (runs only when enabled)."""

    def filter(self, record: logging.LogRecord) -> bool:
        maskers = list(_LOG_MASKERS)
        if maskers:
            text = record.getMessage()
            for masker in maskers:
                text = masker.text(text)
            record.msg, record.args = text, None
        return True


_FILTER = _MaskingFilter()


def install_log_masking(masker: SecretMasker) -> None:
    """Keep `masker`'s secrets out of httpx's log records for as long as the masker lives."""
    _LOG_MASKERS.add(masker)
    for name in _MASKED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
