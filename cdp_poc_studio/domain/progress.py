"""Progress reports and cancellation for long jobs: plain Python, no Qt, safe to call from any thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProgressReport:
    """Where a job is: `done` of `total` (None when unknown) in `stage`, with errors, throughput and ETA."""

    stage: str
    done: int
    total: int | None = None
    errors: int = 0
    rate_per_second: float | None = None
    eta_seconds: float | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


ProgressCallback = Callable[[ProgressReport], None]


class Cancelled(Exception):  # noqa: N818 - the name reads as the event, like asyncio.CancelledError
    """The job was cancelled by the user. Deliberately not a CdpError, so `except CdpError` never eats it."""


class CancelToken:
    """Set once by the UI thread, checked by the worker between steps; `wait` sleeps but wakes on cancel."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if cancelled meanwhile."""
        return self._event.wait(max(0.0, seconds))

    def sleep(self, seconds: float) -> None:
        """Sleep up to `seconds`, raising Cancelled as soon as the token is cancelled."""
        if self._event.wait(max(0.0, seconds)):
            raise Cancelled("cancelled")


class ProgressMeter:
    """Counts work and reports it at most every `interval` seconds, with rate and ETA; thread-safe."""

    def __init__(
        self,
        stage: str,
        total: int | None,
        callback: ProgressCallback | None,
        *,
        interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stage = stage
        self.total = total
        self._callback = callback
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._last = float("-inf")
        self.done = 0
        self.errors = 0

    def advance(self, done: int = 1, errors: int = 0, message: str = "") -> None:
        with self._lock:
            self.done += done
            self.errors += errors
            now = self._clock()
            if now - self._last < self._interval:
                return
            self._last = now
            report = self._report(now, message)
        self._emit(report)

    def finish(self, message: str = "") -> ProgressReport:
        with self._lock:
            report = self._report(self._clock(), message)
        self._emit(report)
        return report

    def snapshot(self, message: str = "") -> ProgressReport:
        with self._lock:
            return self._report(self._clock(), message)

    def _report(self, now: float, message: str) -> ProgressReport:
        elapsed = now - self._start
        rate = self.done / elapsed if elapsed > 0 else None
        eta = None
        if rate and self.total is not None:
            eta = max(0.0, (self.total - self.done) / rate)
        return ProgressReport(self.stage, self.done, self.total, self.errors, rate, eta, message)

    def _emit(self, report: ProgressReport) -> None:
        if self._callback is not None:
            self._callback(report)
