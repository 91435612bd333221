"""Issue 11: a call the sandbox answers on an inferred rule carries its warning into the request log, the run's
requests.ndjson, the studio's request console (marker, filter, details) and the run's report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
from PySide6.QtCore import Qt

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.requestlog import LoggedRequest
from cdp_poc_studio.roundtrip.report_model import RunReport, SandboxWarnings
from cdp_poc_studio.roundtrip.reports import render_html
from cdp_poc_studio.roundtrip.request_index import warned_calls
from cdp_poc_studio.ui.qmodels.request_table import WARNED, WARNING_MARK
from cdp_poc_studio.ui.widgets.request_console import RequestConsole
from cdp_poc_studio.workers.request_feed import RequestFeed


def _calls_to_file(connection: CdpConnection, path: Path) -> None:
    """Two guest creates, one of them with a zone-less date of birth (.NET's DateTime): the sandbox reads it as UTC
    and warns that a real tenant may answer differently."""
    with path.open("ab") as out:

        def write(entry: LoggedRequest) -> None:
            out.write(orjson.dumps(entry.to_json()) + b"\n")

        connection.request_log.add_listener(write)
        try:
            guest = {"guestType": "customer", "email": "plain@example.com"}
            connection.http.send_json("POST", "/v2.1/guests", guest)
            zoneless = {"guestType": "customer", "email": "dotnet@example.com", "dateOfBirth": "1986-05-25T00:00:00"}
            connection.http.send_json("POST", "/v2.1/guests", zoneless)
        finally:
            connection.request_log.remove_listener(write)


def test_a_sandbox_warning_reaches_the_request_log_the_console_and_the_report(
    qtbot, connection: CdpConnection, tmp_path: Path
) -> None:
    path = tmp_path / "requests.ndjson"
    _calls_to_file(connection, path)

    # The request log keeps the sandbox's X-Sandbox-Warning, on the call it belongs to only.
    plain, zoneless = [e for e in connection.request_log.entries() if e.url.endswith("/v2.1/guests")]
    assert plain.status == zoneless.status == 201
    assert plain.warnings == ()
    assert len(zoneless.warnings) == 1
    assert "no time zone" in zoneless.warnings[0]
    assert "1986-05-25T00:00:00" in zoneless.warnings[0]
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [line["warnings"] for line in lines if line["url"].endswith("/v2.1/guests")] == [[], list(zoneless.warnings)]

    # The console, showing the run's log from disk: a marker on the status, the warning in tooltip and details.
    feed = RequestFeed()
    console = RequestConsole(feed)
    qtbot.addWidget(console)
    console.show_run_log(tmp_path, live=False)
    assert console.row_count() == len(lines)
    model = console.run_model
    statuses = [model.index(row, 2).data() for row in range(model.rowCount())]
    assert statuses.count(f"201{WARNING_MARK}") == 1
    assert "201" in statuses
    warned_row = statuses.index(f"201{WARNING_MARK}")
    tooltip = model.index(warned_row, 2).data(Qt.ItemDataRole.ToolTipRole)
    assert "a real tenant may answer this differently" in tooltip
    assert zoneless.warnings[0] in tooltip

    # "With sandbox warnings" shows that call alone; its details name the warning.
    with qtbot.waitSignal(console.filtered):
        console.status_combo.setCurrentText(WARNED)
    assert console.row_count() == 1
    assert console.count_label.text() == f"1 of {len(lines):,} calls"
    console.select_row(0)
    assert console.selected() == zoneless
    assert f"Sandbox warning: {zoneless.warnings[0]}" in console.response_view.toPlainText()
    # The text search looks in the warnings too.
    console.status_combo.setCurrentIndex(0)
    with qtbot.waitSignal(console.filtered):
        console.search_edit.setText("no time zone")
    assert [console.entry(row) for row in range(console.row_count())] == [zoneless]

    # The report's summary: how many calls, and examples that name the call and the warning.
    calls, examples = warned_calls(path)
    assert calls == 1
    assert examples == [f"POST /v2.1/guests: {zoneless.warnings[0]}"]
    report = RunReport(
        run_id="r", scenario_name="s", started_at=datetime.now(UTC), versions={}, seed=1, run_tag="t",
        target="sandbox", load="batch", pull_back=[], settings={},
        sandbox_warnings=SandboxWarnings(calls=calls, examples=examples),
    )  # fmt: skip
    html = render_html(report)
    assert "The sandbox answered 1 call(s) on an inferred rule" in html
    assert "no time zone" in html
