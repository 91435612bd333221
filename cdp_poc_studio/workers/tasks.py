"""TaskRunner: runs plain, Qt-free job bodies off the UI thread and hands their outcome back on it.

A job body is `body(report, cancel) -> result`: a blocking function that calls `report(...)` with a run's
`StageEvent`s or a one-off job's `ProgressReport` now and then, and checks `cancel` between units of work (all from
`domain.progress`, as the pipeline uses them). It never touches a widget. The runner keeps a strong reference to
every job until it has finished, and delivers progress and the outcome as signals on the UI thread.

Tests inject `ImmediateExecutor()`, which runs each body at once on the calling thread, so a click that submits
a job has its result on screen when the click returns.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, Signal, Slot

from cdp_poc_studio.domain.progress import Cancelled, CancelToken, Progress, ProgressCallback

log = logging.getLogger(__name__)

Report = ProgressCallback
Body = Callable[[Report, CancelToken], Any]


class Executor(Protocol):
    def submit(self, fn: Callable[[], None]) -> None: ...

    def shutdown(self, wait: bool = True) -> None: ...


class ImmediateExecutor:
    """Runs each job on the calling thread, before `submit` returns: serial, deterministic tests."""

    def submit(self, fn: Callable[[], None]) -> None:
        fn()

    def shutdown(self, wait: bool = True) -> None:
        pass


class ThreadExecutor:
    """A small thread pool; two workers suit a two-core laptop with the sandbox in its own process."""

    def __init__(self, max_workers: int = 2) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="studio-job")

    def submit(self, fn: Callable[[], None]) -> None:
        self._pool.submit(fn)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


def failure_message(name: str, exc: BaseException) -> str:
    """What the status bar says when a background job fails and nobody else explained it."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{name.replace('-', ' ').capitalize()} failed: {text}"


class Job(QObject):
    """One submitted job body, observed from the UI thread.

    Signals:
        progressed(object): the body reported progress (a StageEvent or a ProgressReport).
        succeeded(object): the body returned this result.
        failed(object): the body raised this exception (not `Cancelled`).
        cancelled(): the body stopped because `cancel()` was called.
        finished(): after any of the three outcomes, always last.
    """

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, job_id: int, name: str, body: Body, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.name = name
        self.body = body
        self.token = CancelToken()
        self.done = False
        # Whether the submitter handles a failure; if not, the runner reports it (`unhandled_failure`).
        self.failure_handled = False

    def cancel(self) -> None:
        self.token.cancel()


class _Bridge(QObject):
    """Lives on the UI thread; worker threads emit `deliver` to run a callable there (a queued connection)."""

    deliver = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.deliver.connect(self._on_deliver, Qt.ConnectionType.AutoConnection)

    @Slot(object)
    def _on_deliver(self, call: Callable[[], None]) -> None:
        call()


class TaskRunner(QObject):
    """Submits job bodies to an executor and keeps them alive until they finish.

    Every failure reaches the user: a job submitted without `on_failure` has its error sent through
    `unhandled_failure`, which the main window shows in its status bar. Failures are logged at warning level.

    Signals:
        busy_changed(bool): whether any job is running, for gating buttons.
        job_finished(object): a job (any outcome) has finished; its `Job` object.
        unhandled_failure(str): a job without a failure handler failed; a one-line message for the user.
    """

    busy_changed = Signal(bool)
    job_finished = Signal(object)
    unhandled_failure = Signal(str)

    def __init__(self, executor: Executor | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor: Executor = executor or ThreadExecutor()
        self._bridge = _Bridge(self)
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._closed = False

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    @property
    def closed(self) -> bool:
        """Shut down: nothing more can be submitted (late callbacks check this rather than submit)."""
        return self._closed

    def running(self, name: str | None = None) -> list[Job]:
        return [job for job in self._jobs.values() if name is None or job.name == name]

    def submit(
        self,
        body: Body,
        *,
        name: str = "job",
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        on_finished: Callable[[], None] | None = None,
    ) -> Job:
        """Start `body`; the callbacks are connected before it runs, so none is missed."""
        if self._closed:
            raise RuntimeError("the task runner has been shut down")
        job = Job(next(self._ids), name, body, self)
        job.failure_handled = on_failure is not None
        for signal, callback in (
            (job.succeeded, on_success),
            (job.failed, on_failure),
            (job.progressed, on_progress),
            (job.cancelled, on_cancelled),
            (job.finished, on_finished),
        ):
            if callback is not None:
                signal.connect(callback)
        was_busy = self.busy
        self._jobs[job.job_id] = job
        if not was_busy:
            self.busy_changed.emit(True)
        self._executor.submit(lambda: self._run(job))
        return job

    def _post(self, call: Callable[[], None]) -> None:
        self._bridge.deliver.emit(call)

    def _run(self, job: Job) -> None:
        """On the worker thread: run the body, then post the outcome to the UI thread."""

        def report(progress: Progress) -> None:
            self._post(lambda: job.progressed.emit(progress))

        try:
            result = job.body(report, job.token)
        except Cancelled:
            self._post(lambda: self._finish(job, job.cancelled.emit))
        except Exception as exc:  # a job's failure is shown to the user, never lost
            log.warning("job %s failed: %s", job.name, exc, exc_info=True)
            error = exc  # `exc` is unbound when the except block ends; the lambda runs later
            self._post(lambda: self._finish(job, lambda: self._fail(job, error)))
        else:
            if job.token.cancelled:
                self._post(lambda: self._finish(job, job.cancelled.emit))
            else:
                self._post(lambda: self._finish(job, lambda: job.succeeded.emit(result)))

    def _fail(self, job: Job, error: BaseException) -> None:
        job.failed.emit(error)
        if not job.failure_handled:
            self.unhandled_failure.emit(failure_message(job.name, error))

    def _finish(self, job: Job, emit_outcome: Callable[[], None]) -> None:
        job.done = True
        try:
            emit_outcome()
        finally:
            self._jobs.pop(job.job_id, None)
            job.finished.emit()
            self.job_finished.emit(job)
            if not self._jobs:
                self.busy_changed.emit(False)
            job.deleteLater()

    def cancel_all(self) -> None:
        for job in list(self._jobs.values()):
            job.cancel()

    def shutdown(self, wait: bool = True) -> None:
        """Cancel every job and stop the worker threads (on close, and in tests' leak guards)."""
        self._closed = True
        self.cancel_all()
        self._executor.shutdown(wait=wait)
