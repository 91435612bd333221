"""Progress and cancellation for long jobs: plain Python, no Qt, safe to call from any thread.

A run's progress is one typed stream of `StageEvent`s: the pipeline and the clients it drives emit them, and the
command line's progress line and the studio's run controller render the same events. Events are pydantic models
that serialise to JSON, so the stream can cross a process pipe unchanged. `ProgressReport` is for the studio's
one-off jobs outside a run (a preview, a dry run's count).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

# The stages of a run, in order: the one definition every front end, the run folder and the report use.
Stage = Literal["generate", "send", "readback", "export", "verify", "report"]
STAGES: tuple[Stage, ...] = get_args(Stage)
STAGE_LABELS: dict[Stage, str] = {
    "generate": "Generate",
    "send": "Send",
    "readback": "Read back (REST)",
    "export": "Audience export",
    "verify": "Verify",
    "report": "Report",
}
# `running` while a stage works; the others end it (the run folder records the same words, without `running`).
StageState = Literal["running", "done", "skipped", "waiting", "failed", "cancelled"]
Unit = Literal["records", "files", "bytes"]


class StageEvent(BaseModel):
    """Where a run is: `done` of `total` (None when unknown) `unit`s in `stage`, with errors, rate and ETA.

    `errors` counts records that failed; `retries` counts calls CDP answered with an error (a 429, a 500) or not at
    all, that the client retried: no record is lost to them, but they say why a stage is slow. `detail` is for
    people (a file being uploaded, CDP's batch status, the calls in flight, why a stage was skipped); nothing
    parses it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: Stage
    state: StageState = "running"
    done: int = 0
    total: int | None = None
    unit: Unit = "records"
    errors: int = 0
    retries: int = 0
    rate: float | None = None  # units per second since the stage (or its part) started
    eta_seconds: float | None = None
    detail: str = ""

    @property
    def finished(self) -> bool:
        return self.state != "running"

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


StageCallback = Callable[[StageEvent], None]


@dataclass(frozen=True, slots=True)
class ProgressReport:
    """A one-off job's progress (outside a run): `done` of `total` (None when unknown) in `stage`."""

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


# What a background job may report: a run's stage events or a one-off job's progress.
Progress = StageEvent | ProgressReport
ProgressCallback = Callable[[Progress], None]


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
    """Counts a stage's work and emits it at most every `interval` seconds, with rate and ETA; thread-safe."""

    def __init__(
        self,
        stage: Stage,
        total: int | None,
        callback: StageCallback | None,
        *,
        unit: Unit = "records",
        interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stage: Stage = stage
        self.total = total
        self.unit: Unit = unit
        self._callback = callback
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._last = float("-inf")
        self.done = 0
        self.errors = 0
        self.retries = 0

    def advance(
        self, done: int = 1, errors: int = 0, detail: str = "", *, retries: int | None = None, force: bool = False
    ) -> None:
        """Count `done` and `errors` more (and the stage's `retries` so far); `force` emits even within `interval`."""
        with self._lock:
            self.done += done
            self.errors += errors
            if retries is not None:
                self.retries = retries
            now = self._clock()
            if now - self._last < self._interval and not force:
                return
            self._last = now
            event = self._event(now, detail)
        self._emit(event)

    def finish(self, detail: str = "") -> StageEvent:
        """The meter's last count (always emitted); the stage itself is ended by the pipeline."""
        with self._lock:
            event = self._event(self._clock(), detail)
        self._emit(event)
        return event

    def snapshot(self, detail: str = "") -> StageEvent:
        with self._lock:
            return self._event(self._clock(), detail)

    def _event(self, now: float, detail: str) -> StageEvent:
        elapsed = now - self._start
        rate = self.done / elapsed if elapsed > 0 else None
        eta = None
        if rate and self.total is not None:
            eta = max(0.0, (self.total - self.done) / rate)
        return StageEvent(
            stage=self.stage, done=self.done, total=self.total, unit=self.unit, errors=self.errors,
            retries=self.retries, rate=rate, eta_seconds=eta, detail=detail,
        )  # fmt: skip

    def _emit(self, event: StageEvent) -> None:
        if self._callback is not None:
            self._callback(event)
