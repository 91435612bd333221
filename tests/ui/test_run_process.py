"""The studio's round trip in a process of its own: progress and the request log reach the window, cancel leaves a
resumable run folder, and resuming it (in a new child) completes the run from the folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from cdp_poc_studio.domain.progress import StageEvent
from cdp_poc_studio.domain.schema import ExtensionSchema, FieldSpec
from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.roundtrip.live_run import ChannelWriter, LiveRun, ProcessId, status_of
from cdp_poc_studio.roundtrip.run_folder import RunFolder
from cdp_poc_studio.workers.run_process import RunProcess
from cdp_poc_studio.workers.tasks import TaskRunner
from tests.helpers.studio import click, open_studio

pytestmark = [pytest.mark.slow, pytest.mark.sandbox_on_disk]


def test_a_run_in_its_own_process_cancels_resumably_and_resumes(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = open_studio(qtbot, make_window, "travel_bookings", guests=120, load="rest", pull_back=["rest"],
                         runner=TaskRunner(), run_in_child_process=True)  # fmt: skip
    window.document.set_modified(False)
    sandbox = window.context.sandbox
    window.go_to(4)
    page, run = window.send_page, window.run

    click(qtbot, page.send_button)
    assert run.running
    qtbot.waitUntil(lambda: run.child_pid is not None, timeout=30_000)  # its first line gives its process id
    pid = run.child_pid
    assert pid is not None
    assert pid != os.getpid()
    # The secrets reach the child through its environment, never its command line or its job file.
    assert sandbox.options.api_token not in " ".join(psutil.Process(pid).cmdline())
    live = window.context.runs_root / ".live"
    assert not any(sandbox.options.api_token.encode() in path.read_bytes() for path in live.iterdir())
    qtbot.waitUntil(lambda: run.folder is not None and run.stage("send").done >= 10, timeout=60_000)
    folder = run.folder
    assert folder is not None
    with qtbot.waitSignal(run.run_cancelled, timeout=30_000):
        click(qtbot, page.cancel_button)
    assert not run.running
    assert run.child_pid is None
    state = RunFolder(folder).load_state()
    assert not state.done("send")
    assert RunFolder(folder).requests.stat().st_size > 0  # the child wrote the run's request log

    # Resumed in a new child process: it completes what was left, and the report is read from the folder.
    with qtbot.waitSignal(page.runs_listed, timeout=5_000):
        page.refresh_runs()
    assert page.select_run(folder)
    with qtbot.waitSignal(run.run_finished, timeout=120_000) as finished:
        click(qtbot, page.resume_button)
        assert run.running
        qtbot.waitUntil(lambda: run.child_pid is not None or not run.running, timeout=30_000)
        assert run.child_pid not in (pid, os.getpid())
    report = finished.args[0]
    assert report.verdict == "passed", report.verdict
    assert run.stage("send").status == "done"
    assert RunFolder(folder).load_state().done("send")


def test_a_run_in_its_own_process_refuses_a_field_that_cannot_make_values(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    """The value makers are built in the child (not on the click): a bad provider fails there, before any folder."""
    window = make_window(runner=TaskRunner(), run_in_child_process=True)
    window.open_template(SCENARIOS / "travel_bookings.toml")
    current = window.document.scenario
    schema = ExtensionSchema(guest={"ext": {"mood": FieldSpec(kind="faker", provider="no_such_provider")}})
    window.document.replace(current.model_copy(update={
        "schema_file": None,
        "extensions": schema,
        "generator": current.generator.model_copy(update={"guests": 5}),
    }))  # fmt: skip
    window.document.set_modified(False)
    sandbox = window.context.sandbox
    with qtbot.waitSignal(sandbox.state_changed, timeout=30_000, check_params_cb=lambda s: s == "running"):
        click(qtbot, window.connect_page.start_button)
    window.go_to(4)
    run = window.run
    with qtbot.waitSignal(run.run_failed, timeout=60_000) as failed:
        click(qtbot, window.send_page.send_button)
    assert "no_such_provider" in failed.args[0]
    assert run.folder is None
    runs = window.context.runs_root
    assert not runs.exists() or not any(runs.iterdir())


def test_a_long_channel_is_passed_on_coalesced_and_in_order(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Re-attaching to a long run: thousands of lines arrive as a few signals, each stage's latest event in order,
    and every failed call counted."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    live = LiveRun.new(tmp_path)
    writer = ChannelWriter(live.channel)
    writer.write({"process": ProcessId.of(sleeper.pid).as_json()})
    writer.write({"folder": str(tmp_path / "run")})
    for block in range(30):
        for done in range(100):
            event = StageEvent(stage="send", state="running", done=block * 100 + done, total=3000)
            writer.write({"event": event.model_dump(mode="json")})
        for _ in range(10):
            writer.write({"http_error": "429" if block % 2 else "500"})
    writer.write({"event": StageEvent(stage="send", state="done", done=3000, total=3000).model_dump(mode="json")})
    writer.write({"event": StageEvent(stage="verify", state="running").model_dump(mode="json")})
    writer.write({"outcome": "finished", "error": ""})
    writer.close()
    sleeper.kill()
    sleeper.wait()

    child = RunProcess.attach(status_of(live))
    events: list[StageEvent] = []
    errors: list[list[str]] = []
    child.progressed.connect(events.append)
    child.http_errors.connect(errors.append)
    with qtbot.waitSignal(child.ended, timeout=10_000) as ended:
        pass
    assert ended.args == ["finished", ""]
    # One per block of send events (one more where a read's chunk ends inside a block), then the send's last and
    # the verify's: not 3,002.
    assert len(events) <= 34
    sends = [e.done for e in events if e.stage == "send"]
    assert sends == sorted(sends)
    assert {block * 100 + 99 for block in range(30)} <= set(sends)
    assert (events[-2].state, events[-1].stage) == ("done", "verify")
    assert len(errors) <= 32
    assert sum(len(batch) for batch in errors) == 300
    assert not live.channel.exists()  # its outcome seen: nothing live is left


def test_a_runs_folder_that_cannot_be_written_fails_the_send_with_a_message(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "runs").write_text("a file where the runs folder should be")
    window = open_studio(qtbot, make_window, "retail_loyalty", guests=5, runner=TaskRunner(), run_in_child_process=True)
    window.go_to(4)
    with qtbot.waitSignal(window.run.run_failed, timeout=10_000) as failed:
        click(qtbot, window.send_page.send_button)
    assert "the run could not be started" in failed.args[0]
    assert str(tmp_path / "runs") in failed.args[0]
    assert not window.run.running
