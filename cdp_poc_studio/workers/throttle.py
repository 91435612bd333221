"""Progress from worker threads, thinned out before it crosses to the UI thread: a few reports a second per stage."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cdp_poc_studio.domain.progress import Progress, ProgressCallback, StageEvent


class ProgressThrottle:
    """Forwards a stage's report when `interval` seconds have passed since that stage's last one.

    The first report of a stage, the one that completes its count (`done >= total`) and a stage event that ends
    its stage always go through, so bars start and finish exactly. Thread-safe: the REST sender reports from
    several threads at once.
    """

    def __init__(
        self, forward: ProgressCallback, interval: float = 0.1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._forward = forward
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def __call__(self, report: Progress) -> None:
        now = self._clock()
        finished = report.total is not None and report.done >= report.total
        if isinstance(report, StageEvent):
            finished = finished or report.finished
        with self._lock:
            last = self._last.get(report.stage)
            if last is not None and not finished and now - last < self._interval:
                return
            self._last[report.stage] = now
        self._forward(report)
