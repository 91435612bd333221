"""A run's life cycle around the window: a resumed run can be cancelled, closing mid-run asks what to do with the
run (no traceback), and opening the studio again offers to resume the interrupted run."""

from __future__ import annotations

import pytest

from cdp_poc_studio.ui.main_window import MainWindow
from cdp_poc_studio.workers.tasks import TaskRunner
from tests.helpers.studio import click, open_studio

pytestmark = [pytest.mark.slow, pytest.mark.sandbox_on_disk]


def _studio(qtbot, make_window) -> MainWindow:  # type: ignore[no-untyped-def]
    window = open_studio(qtbot, make_window, "travel_bookings", guests=150, load="rest", pull_back=["rest"],
                         runner=TaskRunner())  # fmt: skip
    window.document.set_modified(False)
    return window


def test_resume_cancel_close_mid_run_and_reopen_to_resume(qtbot, make_window, dialogs) -> None:
    window = _studio(qtbot, make_window)
    window.go_to(4)
    page = window.send_page
    run = window.run
    click(qtbot, page.send_button)
    qtbot.waitUntil(lambda: run.stage("send").done >= 10, timeout=60_000)
    with qtbot.waitSignal(run.run_cancelled, timeout=10_000):
        click(qtbot, page.cancel_button)
    qtbot.waitUntil(lambda: not run.running, timeout=10_000)
    folder = run.folder
    assert folder is not None

    # Resumed: Cancel is on at once, Dry run and Send are off.
    with qtbot.waitSignal(page.runs_listed, timeout=5_000):
        page.refresh_runs()
    assert page.select_run(folder)
    click(qtbot, page.resume_button)
    assert run.running
    assert page.cancel_button.isEnabled()
    assert not page.send_button.isEnabled()
    assert not page.dry_button.isEnabled()

    # Closing mid-run asks about the run, not only about saving; "keep the window" keeps everything going.
    dialogs.running_answers.append("cancel")
    assert not window.close()
    assert window.isVisible()
    assert run.running
    assert dialogs.asked[-1][0] == "close_running"
    assert folder.name in dialogs.asked[-1][1][0]
    # "Stop the run": the window closes without an error, and the run folder stays resumable.
    dialogs.running_answers.append("stop")
    assert window.close()
    assert not run.running or window.context.runner.closed

    # Opened again (on Untitled), the studio offers to resume the interrupted run; the Send page then describes
    # the run's scenario, not the empty document.
    again = make_window(runner=TaskRunner())
    assert again.document.display_name == "Untitled"
    dialogs.confirm_answers.append(True)
    with qtbot.waitSignal(again.run.run_finished, timeout=180_000):
        assert again.offer_resume()
        assert dialogs.confirmed[-1][0] == "Resume the interrupted run?"
        assert folder.name in dialogs.confirmed[-1][1]
        qtbot.waitUntil(lambda: again.run.running, timeout=30_000)
        assert again.current_page is again.send_page
        assert "travel" in again.send_page.plan_label.text().lower()
        assert "150 guests" in again.send_page.plan_label.text()
    assert again.run.folder == folder
    assert again.run.report is not None
    assert again.run.report.verdict == "passed"
    qtbot.waitUntil(lambda: not again.run.running, timeout=10_000)
