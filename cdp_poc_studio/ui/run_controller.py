"""The current run, shared by the Send, Verify and Report pages: the round-trip pipeline in a job, its progress by
stage, throughput samples for the live chart, cancel, resume, and the report it ends with.

The pipeline never runs on the UI thread. In the app it runs in a child process of its own (`RunProcess`), so that
a large run never holds the window's interpreter lock; otherwise (most tests) it is a job body on the task runner.
Either way its typed `StageEvent`s arrive thinned out (`ProgressThrottle`, ten a second per stage at most) as Qt
signals; each event updates its stage's row as it is (the `report` stage shares the `verify` row). The run folder
is the single source of truth: a child's report is read from it when the child exits.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QObject, QTimer, Signal

from cdp_poc_studio.cdp.requestlog import LoggedRequest
from cdp_poc_studio.cdp.retry import retried_status
from cdp_poc_studio.cdp.secrets import Credentials
from cdp_poc_studio.domain.progress import STAGE_LABELS, CancelToken, Stage, StageEvent, StageState, Unit
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.live_run import LiveStatus, ProcessId, running_in_own_process
from cdp_poc_studio.roundtrip.pipeline import Pipeline
from cdp_poc_studio.roundtrip.report_model import RunReport
from cdp_poc_studio.roundtrip.run_folder import RunFolder, RunState
from cdp_poc_studio.roundtrip.run_jobs import load_report
from cdp_poc_studio.roundtrip.scenario import Scenario, load_scenario
from cdp_poc_studio.roundtrip.source.rows import resolve_source
from cdp_poc_studio.targets.target import TargetError, TargetPlan, profile_plan, sandbox_plan
from cdp_poc_studio.ui.context import StudioContext
from cdp_poc_studio.workers.request_feed import RequestFeed
from cdp_poc_studio.workers.run_process import RunProcess
from cdp_poc_studio.workers.tasks import Job, Report
from cdp_poc_studio.workers.throttle import ProgressThrottle

# How long closing the window waits for a cancelled child run to leave its run folder consistent.
CHILD_STOP_MSECS = 30_000
# The rows the Send page shows: every stage of a run, with writing the report folded into verifying.
ROWS: tuple[Stage, ...] = ("generate", "send", "readback", "export", "verify")
Status = Literal["pending"] | StageState
SAMPLE_SECONDS = 0.25
RATE_WINDOW = 2.0
SAMPLES_KEPT = 240


def row_of(stage: Stage) -> Stage:
    return "verify" if stage == "report" else stage


@dataclass
class StageView:
    name: Stage
    status: Status = "pending"
    done: int = 0
    total: int | None = None
    unit: Unit = "records"
    errors: int = 0
    rate: float | None = None
    eta: float | None = None
    message: str = ""
    # HTTP errors the client retried while this stage ran (429, 5xx, "no answer"), by status: not rejected records,
    # but the user should see that the stage is fighting them. Other 4xx are CDP refusing a record: the Errors tab
    # lists those records.
    http_errors: Counter[str] = field(default_factory=Counter)
    # The retries the stage itself counted (its events): said until the request log's errors, by status, arrive.
    retries: int = 0

    def http_error_text(self) -> str:
        if not self.http_errors:
            return f"{_http_errors(self.retries)} retried" if self.retries else ""
        total = sum(self.http_errors.values())
        kinds = ", ".join(f"{status} ×{count:,}" for status, count in self.http_errors.most_common(3))
        return f"{_http_errors(total)} retried ({kinds})"

    @property
    def label(self) -> str:
        return "Verify and report" if self.name == "verify" else STAGE_LABELS[self.name]

    def detail(self) -> str:
        if self.status == "pending":
            return "not started"
        if self.status in ("skipped", "waiting", "cancelled", "failed") and not self.done:
            return " · ".join(filter(None, (self.message or self.status, self.http_error_text())))
        text = f"{self.done:,}" + (f" of {self.total:,}" if self.total else "") + f" {self.unit}"
        if self.rate:
            text += f" · {self.rate:,.0f}/s"
        if self.eta and self.status == "running":
            text += f" · {_duration(self.eta)} left"
        if self.errors:
            text += f" · {self.errors:,} errors"
        if self.message:
            text += f" · {self.message}"
        if self.http_errors or self.retries:
            text += f" · {self.http_error_text()}"
        return text


def _http_errors(count: int) -> str:
    return f"{count:,} HTTP error" + ("" if count == 1 else "s")


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


@dataclass
class Sample:
    seconds: float
    records_per_second: float
    # Calls answered with an HTTP error (or not at all) that the client retries: not records lost.
    errors_per_second: float


@dataclass
class RunView:
    stages: dict[str, StageView] = field(default_factory=dict)
    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=SAMPLES_KEPT))


class RunController(QObject):
    """Starts, cancels and resumes the pipeline; the pages observe it.

    Signals:
        run_started(): a run (new or resumed) began; `folder` may still be None for a new one.
        folder_opened(str): the run folder is known (made, or reopened to resume).
        stages_changed(): a stage's progress or status changed (throttled).
        sampled(object): a new throughput sample (Sample) for the live chart.
        run_finished(object): the pipeline returned this RunReport (passed, failed or waiting).
        run_failed(str): the pipeline stopped on an error; the message says what to do.
        run_cancelled(): the user cancelled; the run folder can be resumed.
        busy_changed(bool): a run started or ended.
    """

    run_started = Signal()
    folder_opened = Signal(str)
    stages_changed = Signal()
    sampled = Signal(object)
    run_finished = Signal(object)
    run_failed = Signal(str)
    run_cancelled = Signal()
    busy_changed = Signal(bool)
    _folder_known = Signal(str)

    def __init__(self, context: StudioContext, feed: RequestFeed, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.folder: Path | None = None
        self.report: RunReport | None = None
        self.schema: ExtensionSchema | None = None
        self.scenario: Scenario | None = None
        self.load: str = "batch"
        self.error: str | None = None
        self.outcome: Literal["none", "running", "finished", "failed", "cancelled"] = "none"
        self.view = RunView()
        # Every HTTP error of the current run that the client retried, by status (the Errors tab's count beside
        # the rejected records).
        self.http_errors: Counter[str] = Counter()
        self._job: Job | None = None
        self._child: RunProcess | None = None
        # Whether the child's target is the studio's sandbox (handed over to the run when the window closes on it).
        self._child_on_sandbox = True
        self._started = 0.0
        self._started_wall = 0.0
        self._history: deque[tuple[float, str, int]] = deque(maxlen=int(RATE_WINDOW / SAMPLE_SECONDS) + 1)
        self._errors_since = 0
        self._reset_stages([])
        self._timer = QTimer(self)
        self._timer.setInterval(int(SAMPLE_SECONDS * 1000))
        self._timer.timeout.connect(self._on_timer_timeout)
        feed.received.connect(self._on_feed_received)
        self._folder_known.connect(self._on_folder_known)

    # -- state --------------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        # From `_begin` on, before the job is even submitted: the pages gate their buttons on it when
        # `busy_changed` fires, which is before `submit` returns.
        return self.outcome == "running"

    def stage(self, name: str) -> StageView:
        return self.view.stages[name]

    def _reset_stages(self, enabled: list[str]) -> None:
        self.view = RunView(stages={n: StageView(n) for n in ROWS})
        for name in ROWS:
            if enabled and name not in enabled:
                self.view.stages[name].status = "skipped"
                self.view.stages[name].message = "not chosen in the scenario"

    def _enabled(self, scenario: Scenario) -> list[str]:
        pulls = {"rest": "readback", "export": "export"}
        return ["generate", "send", *(pulls[p] for p in scenario.integration.pull_back), "verify"]

    # -- the target -------------------------------------------------------------------------------------------

    def target_plan(self, scenario: Scenario) -> TargetPlan | str:
        """How to reach the scenario's target from the job, or what is missing (for the page to say)."""
        context = self.context
        if scenario.target.kind == "sandbox":
            sandbox = context.sandbox
            if sandbox.state != "running" or not sandbox.base_url:
                return "start the embedded sandbox on the Connect page"
            options = sandbox.options
            credentials = Credentials.of(
                options.client_key, options.api_token, options.oauth_client_id, options.oauth_client_secret
            )
            plan = sandbox_plan(sandbox.base_url, db=options.db_path, snapshot=options.snapshot,
                                credentials=credentials, certificate=sandbox.certificate)  # fmt: skip
        else:
            name = scenario.target.profile or ""
            saved = context.settings.profile(name)
            if saved is None:
                return f"the tenant profile {name!r} is not set up on this computer: create it on the Connect page"
            credentials = context.secrets.credentials(saved)
            if not credentials.has_basic:
                return f"the tenant profile {name!r} needs its client key and API token (Connect page)"
            try:
                plan = profile_plan(saved, credentials)
            except TargetError as exc:
                return str(exc)
        if context.batch_poll_seconds is not None:
            plan = dataclasses.replace(plan, batch_poll_seconds=context.batch_poll_seconds)
        return plan

    # -- starting and resuming --------------------------------------------------------------------------------

    def start(self, scenario: Scenario, schema: ExtensionSchema) -> str | None:
        """A new run of `scenario`; returns why not, or None when it started."""
        if self.running:
            return "a run is in progress"
        plan = self.target_plan(scenario)
        if isinstance(plan, str):
            return plan
        # A [source] sample is named relative to the scenario file; the run reads it from anywhere.
        scenario = resolve_source(scenario, self.context.document.base_dir)
        runs_root = self.context.runs_root
        if self.context.run_in_child_process:
            # The schema inlined: the child needs nothing but the scenario (and the target in its environment).
            as_sent = scenario.model_copy(update={"schema_file": None, "extensions": schema})
            self._begin(scenario, schema, None)
            self._start_child(lambda child: child.start_new(plan, as_sent), plan)
            return None
        log = self.context.request_log

        def body(report: Report, cancel: CancelToken) -> RunReport:
            with plan.open(request_log=log) as target:
                pipeline = Pipeline.start(scenario, schema, runs_root, target, progress=ProgressThrottle(report),
                                          cancel=cancel)  # fmt: skip
                self._folder_known.emit(str(pipeline.folder.path))
                return pipeline.run()

        self._begin(scenario, schema, None)
        self._submit(body)
        return None

    def resume(self, folder: Path) -> str | None:
        """Complete a run folder: cancelled, crashed, or waiting for the nightly snapshot."""
        if self.running:
            return "a run is in progress"
        run = RunFolder(folder)
        try:
            state = run.load_state()
            scenario = load_scenario(run.scenario)
            schema = scenario.resolved_schema(run.path)
        except (FileNotFoundError, ValueError) as exc:
            return f"{folder.name} cannot be resumed: {exc}"
        problem = self._resumable(state)
        if problem:
            return problem
        problem = running_in_own_process(folder)
        if problem:
            return problem
        plan = self.target_plan(self._as_run_target(scenario, state))
        if isinstance(plan, str):
            return plan
        log = self.context.request_log

        def body(report: Report, cancel: CancelToken) -> RunReport:
            with plan.open(request_log=log) as target:
                return Pipeline(scenario, schema, run, target, progress=ProgressThrottle(report), cancel=cancel).run()

        self._begin(scenario, schema, folder)
        self._show_done_before(state)
        if self.context.run_in_child_process:
            self._start_child(lambda child: child.start_resume(plan, folder), plan)
            return None
        self._submit(body)
        return None

    def attach(self, status: LiveStatus) -> str | None:
        """Follow a run going on in a process of its own (left running when a window closed): its progress from
        the start of its channel, then its outcome, as if it had been started here."""
        if self.running:
            return "a run is in progress"
        scenario: Scenario | None = None
        schema: ExtensionSchema | None = None
        state: RunState | None = None
        if status.folder is not None:
            run = RunFolder(status.folder)
            try:
                state = run.load_state()
                scenario = load_scenario(run.scenario)
                schema = scenario.resolved_schema(run.path)
            except (FileNotFoundError, ValueError):
                state = None  # not written yet: its stages fill in as the channel is read
        self._begin(scenario, schema, status.folder)
        if state is not None:
            self._show_done_before(state)
        child = RunProcess.attach(status, self)
        self._child_on_sandbox = state is not None and state.target_kind == "sandbox"
        self._follow(child)
        self._record_sandbox(child)
        return None

    def _show_done_before(self, state: RunState) -> None:
        for name, timing in state.stages.items():
            if name in self.view.stages and timing.status in ("done", "skipped"):
                stage = self.view.stages[name]
                stage.status = timing.status
                stage.done, stage.total = timing.records, timing.records or None
                stage.message = timing.note or ("done before" if timing.status == "done" else stage.message)

    def _as_run_target(self, scenario: Scenario, state: RunState) -> Scenario:
        if state.target_kind == "profile":
            target = scenario.target.model_copy(update={"kind": "profile", "profile": state.profile})
        else:
            target = scenario.target.model_copy(update={"kind": "sandbox"})
        return scenario.model_copy(update={"target": target})

    def _resumable(self, state: RunState) -> str | None:
        if state.target_kind != "sandbox":
            return None
        sandbox = self.context.sandbox
        if sandbox.state != "running":
            return "start the embedded sandbox on the Connect page to resume this run"
        if state.sandbox_db and state.sandbox_db != sandbox.options.db_path:
            return (f"this run went to the sandbox database {state.sandbox_db}, and the studio's sandbox uses "
                    f"{sandbox.options.db_path}: resume it with `cdp-poc-studio resume` instead")  # fmt: skip
        if state.sandbox_db == ":memory:" and state.run_id not in sandbox.session_runs:
            return "this run went to a throwaway (in-memory) sandbox that has been stopped since: its data is gone"
        return None

    def _begin(self, scenario: Scenario | None, schema: ExtensionSchema | None, folder: Path | None) -> None:
        self.scenario, self.schema, self.folder = scenario, schema, folder
        self.load = scenario.integration.load if scenario is not None else "batch"
        self.report = None
        self.error = None
        self.outcome = "running"
        self._reset_stages(self._enabled(scenario) if scenario is not None else [])
        self._started = time.monotonic()
        self._started_wall = time.time()
        self._history.clear()
        self._errors_since = 0
        self.http_errors = Counter()
        self.view.stages["generate"].status = "running"
        if folder is not None:
            self.folder_opened.emit(str(folder))
        self._timer.start()
        self.run_started.emit()
        self.busy_changed.emit(True)
        self.stages_changed.emit()

    def _submit(self, body: Callable[[Report, CancelToken], RunReport]) -> None:
        try:
            job = self._do_submit(body)
        except RuntimeError as exc:  # the runner was shut down (the window is closing)
            self._on_job_failed(exc)
            self._on_job_finished()
            return
        # A serial executor (tests) has finished the job before `submit` returns.
        self._job = None if job.done else job

    def _do_submit(self, body: Callable[[Report, CancelToken], RunReport]) -> Job:
        return self.context.runner.submit(
            body,
            name="pipeline",
            on_progress=self._on_job_progressed,
            on_success=self._on_job_succeeded,
            on_failure=self._on_job_failed,
            on_cancelled=self._on_job_cancelled,
            on_finished=self._on_job_finished,
        )

    def _start_child(self, start: Callable[[RunProcess], None], plan: TargetPlan) -> None:
        child = RunProcess(self.context.runs_root, self)
        self._child_on_sandbox = plan.kind == "sandbox"
        self._follow(child)
        start(child)
        self._record_sandbox(child)

    def _record_sandbox(self, child: RunProcess) -> None:
        """A run on the studio's sandbox records it as this window's: should the window crash, the run (or the next
        window) knows which sandbox nobody owns any more."""
        if child.live is None or not self._child_on_sandbox:
            return
        handover = self.context.sandbox.handover(window=ProcessId.current())
        if handover is not None:
            child.live.record_sandbox(handover)

    def _follow(self, child: RunProcess) -> None:
        child.folder_known.connect(self._on_folder_known)
        child.progressed.connect(self._on_job_progressed)
        child.http_errors.connect(self._on_child_http_errors)
        child.ended.connect(self._on_child_ended)
        self._child = child

    @property
    def child_pid(self) -> int | None:
        """The process id of the run's own process, while it runs there."""
        return self._child.pid if self._child is not None and self._child.running else None

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
        if self._child is not None:
            self._child.cancel()

    @property
    def can_leave(self) -> bool:
        """Whether the run can go on without the window (only a run in its own process can)."""
        return self._child is not None and self._child.running

    def stop(self) -> None:
        """Cancel before the window closes; the run folder stays resumable. The window's shutdown waits for a job;
        a child process is waited for here (it stops at its next step)."""
        self.cancel()
        if self._child is not None and not self._child.wait(CHILD_STOP_MSECS):
            self._child.kill()  # the ledger makes a resumed send idempotent

    def detach(self) -> None:
        """Leave the run going without the window, which a window opened later can re-attach to. A run on the
        embedded sandbox keeps the sandbox: the run stops it when it ends, unless a window has taken it back."""
        child = self._child
        if child is None:
            return
        sandbox = self.context.sandbox
        handover = sandbox.handover() if self._child_on_sandbox else None
        if child.detach(handover) and handover is not None:
            sandbox.release()
        self._child = None
        self._timer.stop()

    # -- progress ---------------------------------------------------------------------------------------------

    def _on_folder_known(self, path: str) -> None:
        self.folder = Path(path)
        if self.scenario is None:  # attached before the run had its folder: its scenario is there now
            try:
                self.scenario = load_scenario(RunFolder(self.folder).scenario)
                self.schema = self.scenario.resolved_schema(self.folder)
                self.load = self.scenario.integration.load
            except (FileNotFoundError, ValueError):
                pass
        sandbox = self.context.sandbox
        sandbox.session_runs.add(self.folder.name)
        self.folder_opened.emit(path)

    def _on_job_progressed(self, event: StageEvent) -> None:
        stage = self.view.stages[row_of(event.stage)]
        if event.stage == "report" and event.state == "done":
            return  # the verify row keeps its counts; the run's outcome closes it
        stage.status = event.state
        stage.done, stage.total, stage.unit = event.done, event.total, event.unit
        stage.errors, stage.rate, stage.eta = event.errors, event.rate, event.eta_seconds
        stage.retries = max(stage.retries, event.retries)  # the closing event does not repeat the count
        stage.message = event.detail
        self.stages_changed.emit()

    def _on_feed_received(self, entries: list[LoggedRequest]) -> None:
        if self.outcome == "none":
            return
        # Entries of this run arrive up to a feed interval late: count them even after it ended.
        retried = [e for e in entries if retried_status(e.status) and e.started_at >= self._started_wall]
        self._count_http_errors([str(e.status) if e.status is not None else "no answer" for e in retried])

    def _on_child_http_errors(self, statuses: list[str]) -> None:
        self._count_http_errors([s for s in statuses if retried_status(int(s) if s.isdigit() else None)])

    def _count_http_errors(self, statuses: list[str]) -> None:
        if not statuses:
            return
        self._errors_since += len(statuses)
        active = next((s for s in self.view.stages.values() if s.status == "running"), None)
        if active is not None:
            active.http_errors.update(statuses)
        self.http_errors.update(statuses)
        self.stages_changed.emit()

    def _on_timer_timeout(self) -> None:
        now = time.monotonic()
        active = next((s for s in self.view.stages.values() if s.status == "running"), None)
        name = active.name if active is not None else ""
        done = active.done if active is not None and active.unit == "records" else 0
        # Records per second over the last two seconds of the same stage: stages report in steps (the read-back
        # every 100 guests), and a plain difference between two ticks would draw spikes.
        same = [(t, d) for t, n, d in self._history if n == name]
        first_time, first_done = same[0] if same else (now - SAMPLE_SECONDS, done)
        rate = max(0.0, (done - first_done) / max(1e-3, now - first_time))
        sample = Sample(now - self._started, rate, self._errors_since / SAMPLE_SECONDS)
        self._history.append((now, name, done))
        self._errors_since = 0
        self.view.samples.append(sample)
        self.sampled.emit(sample)

    # -- outcome ----------------------------------------------------------------------------------------------

    def _on_job_succeeded(self, report: RunReport) -> None:
        self.report = report
        self.outcome = "finished"
        for timing in report.stages:
            name = "verify" if timing.name == "report" else timing.name
            if name in self.view.stages:
                stage = self.view.stages[name]
                stage.status = timing.status
                if timing.records:
                    stage.done = stage.total = timing.records
                stage.message = timing.note
        self.stages_changed.emit()
        self.run_finished.emit(report)

    def _on_job_failed(self, exc: BaseException) -> None:
        self.outcome = "failed"
        self._mark_running("failed", str(exc))
        where = f"; resume it from the Send page once fixed ({self.folder.name})" if self.folder else ""
        self.error = f"{exc}{where}"
        self.run_failed.emit(self.error)

    def _on_job_cancelled(self) -> None:
        self.outcome = "cancelled"
        self._mark_running("cancelled", "cancelled: resume to complete")
        self.run_cancelled.emit()

    def _mark_running(self, status: Status, message: str) -> None:
        for stage in self.view.stages.values():
            if stage.status == "running":
                stage.status = status
                stage.message = message
        self.stages_changed.emit()

    def _on_child_ended(self, outcome: str, error: str) -> None:
        if outcome == "finished":
            report = load_report(self.folder) if self.folder is not None else None
            if report is not None:
                self._on_job_succeeded(report)
            else:
                self._on_job_failed(RuntimeError("the run ended without writing its report"))
        elif outcome == "cancelled":
            self._on_job_cancelled()
        else:
            self._on_job_failed(RuntimeError(error))
        self._on_job_finished()

    def _on_job_finished(self) -> None:
        self._job = None
        if self._child is not None:
            self._child.deleteLater()
            self._child = None
        self._timer.stop()
        self.busy_changed.emit(False)
