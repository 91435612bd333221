"""The studio's round trip in a process of its own: `python -m cdp_poc_studio.workers.run_child RUNS_ROOT ID`, Qt-free.

The studio (`workers.run_process`) starts it so that a long run never competes with the window for the interpreter
lock, and so that the run can go on when the window closes and be followed again by the next one. It talks through
the files of `roundtrip.live_run` under `RUNS_ROOT/.live/ID.*`, never through pipes that die with the window:

- the job, `ID.job.json`: `{"new": {"scenario": TOML, "runs_root": PATH}}` or `{"resume": RUN_DIR}`;
- the environment: `CDP_POC_STUDIO_RUN_TARGET`, how to reach the target (URL, certificate, sandbox database; no
  secrets), and the secrets in the usual `CDP_CLIENT_KEY`... variables: never on the command line or in a file;
- the channel, `ID.ndjson`: `{"process": ...}` first, `{"folder": PATH}` once the run folder is known, `{"event":
  StageEvent}` (ten a second per stage at most), `{"http_error": STATUS}` per failed call, and last `{"outcome":
  "finished" | "failed" | "cancelled", "error": TEXT}`. The report itself is read from the run folder;
- cancel: `ID.cancel` appearing, checked a few times a second; the run stops as the pipeline's CancelToken stops it;
- when it ends, it stops the embedded sandbox if the studio handed it over on closing (`ID.sandbox.json`).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import orjson

from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.requestlog import LoggedRequest, RequestLog
from cdp_poc_studio.cdp.secrets import ENV_VARS, Credentials, SecretName
from cdp_poc_studio.domain.progress import Cancelled, CancelToken, Progress, StageEvent
from cdp_poc_studio.roundtrip.live_run import ChannelWriter, LiveRun, ProcessId
from cdp_poc_studio.roundtrip.pipeline import Pipeline
from cdp_poc_studio.roundtrip.preflight import run_problems
from cdp_poc_studio.roundtrip.run_folder import RunFolder
from cdp_poc_studio.roundtrip.scenario import load_scenario, parse_scenario
from cdp_poc_studio.targets.target import TargetPlan
from cdp_poc_studio.workers.throttle import ProgressThrottle

TARGET_ENV = "CDP_POC_STUDIO_RUN_TARGET"


def plan_environment(plan: TargetPlan) -> dict[str, str]:
    """The child's environment for `plan`: the target without secrets as JSON, and each secret in its variable."""
    target = {
        "profile": plan.profile.model_dump(mode="json"),
        "description": plan.description,
        "kind": plan.kind,
        "profile_name": plan.profile_name,
        "admin_url": plan.admin_url,
        "nightly": plan.nightly,
        "sandbox_db": plan.sandbox_db,
        "sandbox_snapshot": plan.sandbox_snapshot,
        "batch_poll_seconds": plan.batch_poll_seconds,
    }
    env = {TARGET_ENV: orjson.dumps(target).decode()}
    for name in SecretName:
        value = plan.credentials.get(name)
        if value is not None and value.get_secret_value():
            env[ENV_VARS[name]] = value.get_secret_value()
    return env


def plan_from_environment(environ: dict[str, str] | os._Environ[str]) -> TargetPlan:
    target: dict[str, Any] = orjson.loads(environ[TARGET_ENV])
    credentials = Credentials.of(*(environ.get(ENV_VARS[name]) for name in SecretName))
    return TargetPlan(
        ConnectionProfile.model_validate(target["profile"]),
        credentials,
        target["description"],
        target["kind"],
        profile_name=target["profile_name"],
        admin_url=target["admin_url"],
        nightly=target["nightly"],
        sandbox_db=target["sandbox_db"],
        sandbox_snapshot=target["sandbox_snapshot"],
        batch_poll_seconds=target["batch_poll_seconds"],
    )


CANCEL_POLL_SECONDS = 0.2


def _watch_cancel(live: LiveRun, cancel: CancelToken, ended: threading.Event) -> None:
    while not ended.wait(CANCEL_POLL_SECONDS):
        if live.cancel_requested():
            cancel.cancel()
            return


def main(argv: list[str] | None = None) -> int:
    root, live_id = (argv if argv is not None else sys.argv[1:])[:2]
    live = LiveRun(Path(root), live_id)
    out = ChannelWriter(live.channel)
    out.write({"process": ProcessId.current().as_json()})
    try:
        return _run(live, out)
    finally:
        # A sandbox the studio left to this run is stopped now, unless a studio took it back meanwhile.
        handover = live.claim_sandbox()
        if handover is not None:
            handover.process.stop()
        out.close()


def _run(live: LiveRun, out: ChannelWriter) -> int:
    try:
        job = live.take_job()
    except (OSError, ValueError) as exc:
        out.write({"outcome": "failed", "error": f"the run's job could not be read: {exc}"})
        return 1
    cancel = CancelToken()
    ended = threading.Event()
    threading.Thread(target=_watch_cancel, args=(live, cancel, ended), name="run-child-cancel", daemon=True).start()

    def progress(event: Progress) -> None:
        if isinstance(event, StageEvent):  # a run reports only stage events
            out.write({"event": event.model_dump(mode="json")})

    def listen(entry: LoggedRequest) -> None:
        if entry.status is None or entry.status >= 400:
            out.write({"http_error": str(entry.status) if entry.status is not None else "no answer"})

    log = RequestLog(maxlen=1)
    log.add_listener(listen)
    try:
        plan = plan_from_environment(os.environ)
        with plan.open(request_log=log) as target:
            throttle = ProgressThrottle(progress)
            if "resume" in job:
                run = RunFolder(Path(job["resume"]))
                scenario = load_scenario(run.scenario)
                schema = scenario.resolved_schema(run.path)
                pipeline = Pipeline(scenario, schema, run, target, progress=throttle, cancel=cancel)
            else:
                scenario = parse_scenario(job["new"]["scenario"])
                schema = scenario.resolved_schema(None)
                # The studio checked all but the value makers, which take a moment to build: checked here,
                # before the run folder is made.
                problems = run_problems(scenario, schema)
                if problems:
                    raise ValueError("cannot send: " + "; ".join(problems))
                pipeline = Pipeline.start(scenario, schema, Path(job["new"]["runs_root"]), target,
                                          progress=throttle, cancel=cancel)  # fmt: skip
            out.write({"folder": str(pipeline.folder.path)})
            pipeline.run()
    except Cancelled:
        out.write({"outcome": "cancelled", "error": ""})
        return 0
    except Exception as exc:  # the studio shows it; the run folder stays resumable
        out.write({"outcome": "failed", "error": str(exc) or type(exc).__name__})
        return 1
    finally:
        ended.set()
    out.write({"outcome": "cancelled" if cancel.cancelled else "finished", "error": ""})
    return 0


if __name__ == "__main__":
    sys.exit(main())
