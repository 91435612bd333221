"""Closing the studio on a run in its own process: leave it going, and the next window re-attaches to it.

Real processes throughout: the run's own process, the embedded sandbox, and two windows one after the other on the
same runs folder and sandbox database. The sandbox answers guest creation slowly (a latency fault) while the test
needs the run to be still going, and promptly once the fault is cleared.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from cdp_poc_studio.cli.main import cli
from cdp_poc_studio.roundtrip.live_run import LIVE_DIR, live_runs
from cdp_poc_studio.roundtrip.run_folder import RunFolder
from cdp_poc_studio.roundtrip.run_jobs import list_runs
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from cdp_poc_studio.ui.main_window import MainWindow
from cdp_poc_studio.workers.tasks import TaskRunner
from tests.helpers.studio import click, open_studio

pytestmark = [pytest.mark.slow, pytest.mark.sandbox_on_disk]

SLOW_GUEST_CREATION = {"path": "/v2.1/guests", "method": "POST"}


@pytest.fixture(autouse=True)
def _no_process_left(tmp_path: Path) -> Iterator[None]:
    """A run left going outlives its window by design: whatever this test left is stopped after it."""
    yield
    for process in psutil.process_iter():
        try:
            if any(str(tmp_path) in part for part in process.cmdline()):
                process.kill()
        except psutil.Error:
            continue


def _send_slowly(qtbot, make_window, latency_ms: int = 3000) -> tuple[MainWindow, Path, int, int]:  # type: ignore[no-untyped-def]
    """A window whose run is going (slowly) in its own process: the window, run folder, run pid and sandbox pid.

    The default latency is long enough for a window to close and the next to open while the run is still sending.
    """
    window = open_studio(qtbot, make_window, "travel_bookings", guests=24, load="rest", pull_back=["rest"],
                         runner=TaskRunner(), run_in_child_process=True)  # fmt: skip
    window.document.set_modified(False)
    sandbox = window.context.sandbox
    admin = sandbox.admin()
    assert admin is not None
    admin.set_faults([{**SLOW_GUEST_CREATION, "latency_ms": latency_ms}])
    window.go_to(4)
    click(qtbot, window.send_page.send_button)
    run = window.run
    qtbot.waitUntil(lambda: run.folder is not None and run.child_pid is not None, timeout=60_000)
    assert run.folder is not None
    assert run.child_pid is not None
    sandbox_pid = sandbox._process.pid
    return window, run.folder, run.child_pid, sandbox_pid


def _alive(pid: int) -> bool:
    return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


def _leave(window: MainWindow, dialogs) -> None:  # type: ignore[no-untyped-def]
    dialogs.running_answers.append("leave")
    window.close()
    assert not window.isVisible()
    assert dialogs.asked[-1][0] == "close_running"


def test_a_run_left_going_is_re_attached_to_by_the_next_window(qtbot, make_window, dialogs) -> None:  # type: ignore[no-untyped-def]
    first, folder, run_pid, sandbox_pid = _send_slowly(qtbot, make_window)
    sandbox_url = first.context.sandbox.base_url
    _leave(first, dialogs)

    # The window is gone; the run and the sandbox it sends to are not.
    assert psutil.pid_exists(run_pid)
    assert psutil.pid_exists(sandbox_pid)
    [status] = live_runs(first.context.runs_root)
    assert status.liveness == "running"
    assert status.folder == folder
    assert status.handed_over_sandbox
    [summary] = list_runs(first.context.runs_root)  # what the Runs tab lists
    assert summary.status == "running in a process of its own: the studio re-attaches to it"
    # Nobody else may run the same folder meanwhile: not the command line, not a window's Resume.
    refused = CliRunner().invoke(cli, ["resume", str(folder)])
    assert refused.exit_code == 2, refused.output
    assert "still running in a process of its own" in refused.output

    second = make_window(runner=TaskRunner(), run_in_child_process=True)
    # The sandbox left running is taken back, not started a second time on the same database.
    sandbox = second.context.sandbox
    assert sandbox.state == "running"
    assert sandbox.base_url == sandbox_url
    assert sandbox._process.pid == sandbox_pid
    assert "still running" in (second.run.resume(folder) or "")

    dialogs.confirm_answers.append(True)
    assert second.offer_resume()
    assert dialogs.confirmed[-1][0] == "Re-attach to the running run?"
    run = second.run
    assert run.running
    assert run.folder == folder
    assert run.child_pid == run_pid
    assert second.send_page.isVisible()
    # The Send page describes the run it follows, not the new window's untitled scenario.
    assert "<b>24 guests</b> of “Travel bookings”" in second.send_page.plan_label.text()
    SandboxAdmin(sandbox_url).clear_faults()
    with qtbot.waitSignal(run.run_finished, timeout=120_000) as finished:
        pass
    assert finished.args[0].verdict == "passed"
    assert run.stage("send").status == "done"
    assert run.stage("send").message.startswith("24 guests")
    assert RunFolder(folder).load_state().done("verify")
    assert not (second.context.runs_root / LIVE_DIR).exists()  # seen to its end: nothing live is left
    assert psutil.pid_exists(sandbox_pid)  # the window owns the sandbox again, and stops it when it closes
    second.shutdown()
    assert not psutil.pid_exists(sandbox_pid) or psutil.Process(sandbox_pid).status() == psutil.STATUS_ZOMBIE


def test_a_run_that_ends_without_a_window_stops_its_sandbox_and_is_shown_next_time(qtbot, make_window, dialogs) -> None:  # type: ignore[no-untyped-def]
    first, folder, run_pid, sandbox_pid = _send_slowly(qtbot, make_window, latency_ms=1500)
    sandbox_url = first.context.sandbox.base_url
    assert sandbox_url is not None
    _leave(first, dialogs)
    SandboxAdmin(sandbox_url).clear_faults()

    run_process, sandbox_process = psutil.Process(run_pid), psutil.Process(sandbox_pid)
    run_process.wait(120)
    sandbox_process.wait(30)  # the run stopped the sandbox it was handed when it ended
    [status] = live_runs(first.context.runs_root)
    assert status.liveness == "ended"
    assert status.outcome == "finished"

    second = make_window(runner=TaskRunner(), run_in_child_process=True)
    assert second.context.sandbox.state == "stopped"  # nothing to take back: a fresh one starts as usual
    dialogs.confirm_answers.append(True)
    with qtbot.waitSignal(second.run.run_finished, timeout=30_000) as finished:
        assert second.offer_resume()
    assert dialogs.confirmed[-1][0] == "A run ended while the studio was closed"
    assert finished.args[0].verdict == "passed"
    assert second.run.folder == folder
    assert not (second.context.runs_root / LIVE_DIR).exists()


def test_a_re_attached_run_can_be_cancelled_and_a_killed_one_is_offered_for_resuming(
    qtbot, make_window, dialogs
) -> None:  # type: ignore[no-untyped-def]
    first, folder, run_pid, _ = _send_slowly(qtbot, make_window)
    _leave(first, dialogs)

    second = make_window(runner=TaskRunner(), run_in_child_process=True)
    dialogs.confirm_answers.append(True)
    assert second.offer_resume()
    run = second.run
    with qtbot.waitSignal(run.run_cancelled, timeout=60_000):
        click(qtbot, second.send_page.cancel_button)
    assert not psutil.pid_exists(run_pid) or psutil.Process(run_pid).status() == psutil.STATUS_ZOMBIE
    assert not RunFolder(folder).load_state().done("send")
    assert not (second.context.runs_root / LIVE_DIR).exists()

    # Resumed here, left going again, and then killed from outside: the next window offers to resume it.
    assert run.resume(folder) is None
    qtbot.waitUntil(lambda: run.child_pid is not None, timeout=30_000)
    killed = run.child_pid
    dialogs.running_answers.append("leave")
    second.close()
    assert killed is not None
    psutil.Process(killed).kill()
    psutil.Process(killed).wait(10)

    third = make_window(runner=TaskRunner(), run_in_child_process=True)
    assert third.context.sandbox.state == "running"  # the killed run never stopped the sandbox: taken back
    dialogs.confirm_answers.append(False)
    assert not third.offer_resume()
    title, question, _ = dialogs.confirmed[-1]
    assert title == "Resume the interrupted run?"
    assert folder.name in question
    assert not (third.context.runs_root / LIVE_DIR).exists()


def test_closing_on_a_run_and_stopping_it_leaves_nothing_running(qtbot, make_window, dialogs) -> None:  # type: ignore[no-untyped-def]
    window, folder, run_pid, sandbox_pid = _send_slowly(qtbot, make_window, latency_ms=1500)
    dialogs.running_answers.append("stop")
    window.close()
    assert not window.isVisible()
    # The window waited for the run to stop at its next step: the run, its live files and the sandbox are gone.
    assert not _alive(run_pid)
    assert not _alive(sandbox_pid)
    assert not (window.context.runs_root / LIVE_DIR).exists()
    assert window.run.outcome == "cancelled"
    assert not RunFolder(folder).load_state().done("verify")  # resumable
