"""The Send page while CDP answers with errors: the read-back's row says at once that it is working and retrying,
and the live chart says that its red line counts retried calls, not lost records (issue 13, item 11)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from cdp_poc_studio.ui.run_controller import StageView
from cdp_poc_studio.workers.tasks import TaskRunner
from tests.helpers.studio import click, open_studio
from tests.ui.layout_check import clipped_texts

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("in_child", [False, True], ids=["in-thread", "child-process"])
def test_the_read_back_row_shows_its_retries_before_its_first_guest(qtbot, make_window, in_child: bool) -> None:
    window = open_studio(qtbot, make_window, "retail_loyalty", guests=3, load="batch", runner=TaskRunner())
    window.context.run_in_child_process = in_child
    document = window.document.scenario
    window.document.replace(document.model_copy(update={
        "integration": document.integration.model_copy(update={"pull_back": ["rest"]})}))  # fmt: skip
    # A batch send makes no guest GET: the first three of the read-back (one per guest) answer 429, retry after 1 s.
    connect = window.connect_page
    with qtbot.waitSignal(connect.faults_changed, timeout=10_000):
        connect.apply_faults(["status=429,retry_after=1,count=3,path=/v2.1/guests*,method=GET"])
    window.go_to(4)
    page = window.send_page
    run = window.run
    rows: list[str] = []
    clipped: list[str] = []

    def seen() -> None:
        stage = run.stage("readback")
        if stage.status == "running" and not stage.done:
            rows.append(page.stages.details["readback"].text())
            clipped.extend(clipped_texts(page.stages))  # the long row wraps at the default size

    run.stages_changed.connect(seen)
    click(qtbot, page.send_button)
    qtbot.waitUntil(lambda: not run.running, timeout=60_000)
    assert run.outcome == "finished", run.error

    assert rows, "the read-back's row was drawn before its first guest came back"
    waiting = [row for row in rows if "429: retrying in" in row]
    assert waiting, rows
    assert re.match(r"0 of 3 records · \d guests? in flight · \d+ calls · 429: retrying in \d+\.\d s", waiting[0])
    assert "HTTP errors retried" in waiting[-1]
    after = rows[rows.index(waiting[0]) :]
    assert not any(row.endswith("· starting") for row in after)
    assert not clipped

    chart = page.chart
    assert chart.errors.name() == "HTTP errors retried / s (right axis)"
    assert chart.y_errors.titleText() == "retried / s"
    assert "not lost records" in chart.toolTip()


def test_an_error_that_is_not_retried_is_a_rejected_record_not_a_retry(qtbot, make_window) -> None:
    """A 400 is CDP refusing a record, which the client does not retry: the Errors tab counts it once, as a
    rejected record, and neither the read-back row nor the chart's red line counts it as retried."""
    window = open_studio(qtbot, make_window, "travel_bookings", guests=4, load="rest", runner=TaskRunner())
    connect = window.connect_page
    with qtbot.waitSignal(connect.faults_changed, timeout=10_000):
        connect.apply_faults(["status=400,count=1,path=/v2.1/guests,method=POST"])
    window.go_to(4)
    page = window.send_page
    run = window.run
    click(qtbot, page.send_button)
    qtbot.waitUntil(lambda: not run.running, timeout=60_000)
    window.request_feed.flush()
    qtbot.waitUntil(lambda: "rejected" in page.errors_note.text(), timeout=10_000)
    assert re.fullmatch(r"Errors \(\d+\)", page.tabs.tabText(page.errors_tab_index))
    assert "retried" not in page.errors_note.text()
    assert not run.http_errors
    assert "retried" not in run.stage("send").detail()
    assert sum(sample.errors_per_second for sample in run.view.samples) == 0


def test_a_single_retried_error_is_said_in_the_singular() -> None:
    assert StageView("readback", http_errors=Counter({"429": 1})).http_error_text() == "1 HTTP error retried (429 ×1)"
    assert StageView("readback", retries=2).http_error_text() == "2 HTTP errors retried"
