"""Retries (tenacity: exponential backoff with jitter, Retry-After honoured) and a shared rate limiter.

Which failures are retried depends on whether the call is idempotent:

- idempotent calls (GET, PUT, PATCH, DELETE, the batch allocation): 429, 5xx and transport errors;
- creates (POST): only what certainly did not reach the server: 429 and connection failures. A 5xx, a
  timeout or a dropped response may hide a create that happened; `create_once` then searches before it
  tries again, so a lost response never becomes a duplicate.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from cdp_poc_studio.domain.errors import CdpApiError, CdpError, CdpRateLimited, CdpServerError, CdpTransportError
from cdp_poc_studio.domain.progress import CancelToken

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetrySettings:
    attempts: int = 8
    initial: float = 0.2
    maximum: float = 20.0
    jitter: float = 0.5
    # Never wait longer than this for one Retry-After, nor retry one call for longer than `deadline`.
    max_retry_after: float = 120.0
    deadline: float = 600.0


DEFAULT_RETRY = RetrySettings()
NO_RETRY = RetrySettings(attempts=1)


def is_ambiguous(exc: BaseException) -> bool:
    """True when the failed request may still have been carried out by the server."""
    if isinstance(exc, CdpTransportError):
        return exc.maybe_sent
    return isinstance(exc, CdpServerError)


def retryable_always(exc: BaseException) -> bool:
    return isinstance(exc, CdpError) and exc.retryable


def retryable_if_not_sent(exc: BaseException) -> bool:
    return isinstance(exc, CdpError) and exc.retryable and not is_ambiguous(exc)


class wait_retry_after(wait_base):  # noqa: N801 - tenacity's naming
    """Backoff from `fallback`, but never less than the Retry-After of a 429 (capped), plus a little jitter."""

    def __init__(self, fallback: wait_base, cap: float) -> None:
        self.fallback = fallback
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        backoff = float(self.fallback(retry_state))
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, CdpRateLimited) and exc.retry_after is not None:
            told = min(self.cap, exc.retry_after)
            return max(told + random.uniform(0, 0.1 + told * 0.1), backoff)
        return backoff


def retried_status(status: int | None) -> bool:
    """Whether the client retries a call that ended with this HTTP status (None: no answer). A 4xx other than
    429 is CDP refusing the request: it is not retried, and for a record it means the record was rejected."""
    return status is None or status == 429 or status >= 500


def error_label(exc: BaseException | None) -> str:
    """A failed call in a word or two for people: its HTTP status, "timeout" or "no answer"."""
    if isinstance(exc, CdpApiError):
        return str(exc.status)
    if isinstance(exc, CdpTransportError):
        return "timeout" if exc.timed_out else "no answer"
    return type(exc).__name__ if exc is not None else "error"


class CallStats:
    """One job's HTTP calls and the retries among them, as they happen; thread-safe.

    A job under faults may wait a long time before its first record completes: these counts let its progress
    say meanwhile that it is working and what it is fighting. `on_retry` is called (in the worker's thread) each
    time a retry is decided, before the wait.
    """

    def __init__(self, on_retry: Callable[[], None] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.on_retry = on_retry
        self._clock = clock
        self._lock = threading.Lock()
        self.calls = 0
        self.retries = 0
        self.last_error = ""
        self._waking: list[float] = []  # when the workers now waiting will retry

    def called(self) -> None:
        with self._lock:
            self.calls += 1

    def retrying(self, exc: BaseException | None, wait: float) -> None:
        with self._lock:
            now = self._clock()
            self.retries += 1
            self.last_error = error_label(exc)
            self._waking = [t for t in self._waking if t > now] + [now + wait]
        if self.on_retry is not None:
            self.on_retry()

    def next_retry_in(self) -> float | None:
        """Seconds until the soonest retry still waiting, or None when no call is waiting to retry."""
        with self._lock:
            now = self._clock()
            self._waking = [t for t in self._waking if t > now]
            return min(self._waking) - now if self._waking else None


class RetryPolicy:
    """Two prebuilt tenacity `Retrying`s (idempotent calls, creates) that sleep through a cancel token.

    With `stats`, each retry is counted there before its wait.
    """

    def __init__(
        self, settings: RetrySettings = DEFAULT_RETRY, cancel: CancelToken | None = None, stats: CallStats | None = None
    ) -> None:
        self.settings = settings
        self.cancel = cancel
        self.stats = stats
        wait = wait_retry_after(
            wait_exponential(multiplier=settings.initial, max=settings.maximum) + wait_random(0, settings.jitter),
            settings.max_retry_after,
        )
        stop = stop_after_attempt(settings.attempts) | stop_after_delay(settings.deadline)
        common = {"wait": wait, "stop": stop, "sleep": self._sleep, "reraise": True}
        if stats is not None:
            common["before_sleep"] = self._count_retry
        self.idempotent = Retrying(retry=retry_if_exception(retryable_always), **common)  # type: ignore[arg-type]
        self.create = Retrying(retry=retry_if_exception(retryable_if_not_sent), **common)  # type: ignore[arg-type]
        # For `create_once`: the whole check-then-create unit is retried after any retryable failure.
        self.checked = self.idempotent

    def _count_retry(self, retry_state: RetryCallState) -> None:
        assert self.stats is not None
        outcome, action = retry_state.outcome, retry_state.next_action
        self.stats.retrying(outcome.exception() if outcome is not None else None, action.sleep if action else 0.0)

    def _sleep(self, seconds: float) -> None:
        if self.cancel is not None:
            self.cancel.sleep(seconds)
        else:
            time.sleep(seconds)

    def run(self, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        retrying = self.idempotent if idempotent else self.create
        return retrying(fn)

    def create_once(self, post: Callable[[], T], find: Callable[[], T | None] | None) -> tuple[T, bool]:
        """Create something exactly once: `post` (not retried by itself); after an ambiguous failure, `find`
        before posting again. Returns the result and whether it was found rather than created."""
        state = {"ambiguous": False}

        def attempt() -> tuple[T, bool]:
            if state["ambiguous"] and find is not None:
                found = find()
                if found is not None:
                    return found, True
            try:
                return post(), False
            except CdpError as exc:
                if is_ambiguous(exc):
                    state["ambiguous"] = True
                raise

        return self.checked(attempt)


class RateLimiter:
    """A token bucket shared by all workers: at most `rate` requests a second, bursts of `burst`."""

    def __init__(self, rate: float, burst: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("the rate limit must be positive")
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1, int(rate / 10)))
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = clock()

    def acquire(self, cancel: CancelToken | None = None) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            if cancel is not None:
                cancel.sleep(wait)
            else:
                time.sleep(wait)
