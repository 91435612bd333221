"""Progress of a stage whose records each take several HTTP calls in worker threads (the REST read-back).

Under faults such a stage can go tens of seconds before its first record completes (a 429 asks for a wait, a 500
is retried with backoff). So it reports from the start and then as calls are retried, not only per record:
records in flight, calls made, retries so far, the last error and when the next retry goes; and at least every
`HEARTBEAT_SECONDS` while it waits, so that the countdown stays true.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from cdp_poc_studio.cdp.retry import CallStats
from cdp_poc_studio.domain.progress import CancelToken, ProgressMeter

T = TypeVar("T")
R = TypeVar("R")
HEARTBEAT_SECONDS = 0.25  # the studio passes a stage event ten times a second at most


class CallProgress:
    """Counts a stage's records in flight and its calls (`stats`, given to the HTTP client) and reports them."""

    def __init__(self, meter: ProgressMeter, noun: str) -> None:
        """`noun`: what a record is, in the singular ("guest")."""
        self.meter = meter
        self.noun = noun
        self.stats = CallStats(on_retry=self.report)
        self._lock = threading.Lock()
        self.in_flight = 0

    def counted(self, work: Callable[[T], R]) -> Callable[[T], R]:
        """`work` on one record, counted in flight while it runs and done when it returns (in whatever order the
        records complete: one slow record does not hide those done after it)."""

        def run(item: T) -> R:
            with self._lock:
                self.in_flight += 1
            try:
                result = work(item)
            finally:
                with self._lock:
                    self.in_flight -= 1
            self.meter.advance(1, detail=self.describe(), retries=self.stats.retries)
            return result

        return run

    def describe(self) -> str:
        stats = self.stats
        flying = self.in_flight
        text = f"{flying:,} {self.noun}{'' if flying == 1 else 's'} in flight · {stats.calls:,} calls"
        wait = stats.next_retry_in()
        if wait is not None:
            text += f" · {stats.last_error}: retrying in {max(0.1, wait):.1f} s"
        elif stats.last_error:
            text += f" · last error {stats.last_error}"
        return text

    def report(self, detail: str = "") -> None:
        """Now, whatever the meter's interval: the stage started, a retry was decided, or a heartbeat."""
        self.meter.advance(0, detail=detail or self.describe(), retries=self.stats.retries, force=True)


def ordered_results(
    pool: ThreadPoolExecutor,
    work: Callable[[T], R],
    items: Iterable[T],
    *,
    window: int,
    cancel: CancelToken,
    waiting: Callable[[], None],
) -> Iterator[R]:
    """`work` on each item in `pool`, results in the items' order, at most `window` submitted ahead.

    While the next result is not ready, `waiting` is called every `HEARTBEAT_SECONDS` and `cancel` checked. On
    an error the work not yet started is dropped.
    """
    source = iter(items)
    pending: deque[Future[R]] = deque()

    def fill() -> None:
        while len(pending) < window:
            item = next(source, _END)
            if item is _END:
                return
            pending.append(pool.submit(work, item))  # type: ignore[arg-type]

    try:
        fill()
        while pending:
            try:
                result = pending[0].result(timeout=HEARTBEAT_SECONDS)
            except TimeoutError:
                cancel.raise_if_cancelled()
                waiting()
                continue
            pending.popleft()
            fill()
            yield result
    finally:
        for future in pending:
            future.cancel()


_END = object()
