"""The whole loop in the GUI on the embedded sandbox: send, verify, report, the console, cancel and resume, the
nightly snapshot, and the autoplay demo.

The sandbox is the studio's own: a real child process started by the Connect page's Start button (an in-memory
database per test), exactly as a user runs it. That costs about a second per test, and buys the real thing: the
pipeline talks to a separate process over loopback HTTP, as in the product and in the benchmark, and start/stop
is exercised on the way. Most tests run jobs serially (`ImmediateExecutor`): a click returns with its result on
screen. Cancel, resume and autoplay use real worker threads, since that is what they are about.
"""

from __future__ import annotations

import gzip
import time
import zipfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from PySide6.QtGui import QGuiApplication

from cdp_poc_studio.roundtrip.normalise import Outcome
from cdp_poc_studio.roundtrip.reports import OUTCOME_LABELS
from cdp_poc_studio.roundtrip.scenario import MappingRule
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from cdp_poc_studio.ui.autoplay import EXIT_PASSED, EXIT_USAGE, Autoplay
from cdp_poc_studio.workers.tasks import TaskRunner
from tests.helpers.studio import click, open_studio, saved_report, send

pytestmark = pytest.mark.slow
SECRETS = ("sandbox-api-token", "sandbox-oauth-secret")


@pytest.mark.parametrize(("scenario", "load"), [("retail_loyalty", "batch"), ("travel_bookings", "rest")])
def test_the_whole_loop_shows_what_the_pipeline_found(qtbot, make_window, scenario: str, load: str) -> None:
    window = open_studio(qtbot, make_window, scenario, guests=15, load=load)
    window.go_to(4)
    page = window.send_page
    assert "15 guests" in page.plan_label.text()

    # The dry run: the first records exactly as they will go, and the counts.
    with qtbot.waitSignal(page.dry_run_ready):
        click(qtbot, page.dry_button)
    dry = page.dry
    assert dry is not None
    assert dry.exact
    assert dry.guests == 15
    assert page.counts_label.text().startswith("15 guests")
    text = page.dry_text.toPlainText()
    if load == "batch":
        first = orjson.loads(text.splitlines()[0])
        assert first["schema"] == "guest"
        assert first["mode"] == "upsert"
        assert dry.batch_lines == 15 + dry.orders
    else:
        assert text.startswith("# 1. find the guest by identifier")
        assert text.splitlines()[1].startswith("GET http://127.0.0.1:")
        assert "/v2.1/guests?identifiers.provider=" in text.splitlines()[1]
        assert "POST http://127.0.0.1:" in text
        assert dry.rest_requests > 15 * 2
    assert not any(secret in text for secret in SECRETS)

    # Send: the pipeline runs every stage, each bar ends full.
    click(qtbot, page.send_button)
    report = window.run.report
    assert report is not None, window.run.error
    for name in ("generate", "send", "readback", "export", "verify"):
        assert window.run.stage(name).status == "done", name
        assert page.stages.bars[name].value() == page.stages.bars[name].maximum()
    assert page.validation_error() is None
    if load == "batch":
        assert page.files_table.rowCount() == 1
        assert page.files_table.item(0, 3).text() == "success"
        assert page.files_table.item(0, 1).text() == str(15 + dry.orders)
    else:
        assert page.files_table.rowCount() == 0
    assert page.errors_table.rowCount() == 0

    # What the user sees on the verify page is what the pipeline wrote.
    window.go_to(5)
    verify = window.verify_page
    pipeline = saved_report(window)
    assert pipeline.verdict == report.verdict == "passed"
    assert verify.verdict_label.text().startswith("PASSED")
    assert verify.validation_error() is None
    shown = verify.sources_label.text()
    # The decisions source (the handoff's snippets run on each guest read back) joins REST and the export.
    assert {s.source for s in pipeline.sources} - {"decisions"} == {"rest", "export"}
    for source in pipeline.sources:
        assert source.records_found == source.records_expected == 15
        assert (
            f"{source.records_found:,} of {source.records_expected:,} records found, "
            f"{100 * source.field_pass_rate:.2f} % of fields equal"
        ) in shown
    rows = [*pipeline.differences, *pipeline.normalised_examples]
    assert verify.model.rowCount() == len(rows)
    expected_groups = {OUTCOME_LABELS[o]: n for o, n in Counter(r.outcome for r in rows).items()}
    assert verify.group_counts() == expected_groups
    assert not any(r.outcome.fails for r in rows)  # a passing run lists passes and explained differences only
    # The charts are drawn on the next turn of the event loop, after the table.
    qtbot.waitUntil(lambda: bool(verify.field_chart.chart().series()), timeout=5_000)
    assert window.step_status(4) is None
    assert window.step_status(5) is None
    assert window.step_status(6) is None


def test_a_planted_mapping_fault_is_grouped_filterable_and_traced(qtbot, make_window) -> None:
    rule = MappingRule(source="ext.loyaltyTier", target="ext.loyaltyTeir")
    window = open_studio(qtbot, make_window, guests=12, mapping=[rule])
    report = send(qtbot, window)
    assert report.verdict == "failed"
    window.go_to(5)
    page = window.verify_page
    assert page.verdict_label.text().startswith("FAILED")
    assert "FAILED" in window.report_page.verdict_label.text()
    # The value arrived under another key of the same type: a mapping error, on every guest, in the REST
    # read-back and in the export.
    missing = OUTCOME_LABELS[Outcome.MAPPING_ERROR]
    assert page.group_counts()[missing] == 2 * 12
    # The failures come first in the list, then what normalisation explains.
    assert page.groups.item(1).text() == f"{missing} (24)"

    page.select_group(Outcome.MAPPING_ERROR)
    assert page.proxy.rowCount() == 24
    assert {page.proxy.row(r).path for r in range(page.proxy.rowCount())} == {"ext.loyaltyTier"}
    page.source_combo.setCurrentIndex(page.source_combo.findData("rest"))
    assert page.proxy.rowCount() == 12
    qtbot.keyClicks(page.search_edit, "arrived at ext.loyaltyTeir")
    assert page.proxy.rowCount() == 12
    page.search_edit.clear()
    qtbot.keyClicks(page.search_edit, "no-such-thing")
    assert page.proxy.rowCount() == 0
    assert page.shown_label.text() == f"0 of {page.model.rowCount()} field differences shown"
    page.search_edit.clear()

    # A record: its trace through every stage, and the nested value sent beside the one rebuilt.
    with qtbot.waitSignal(page.record_shown) as shown:
        page.table.selectRow(0)
    details = shown.args[0]
    assert details.key == page.proxy.row(0).record
    assert "loyaltyTier" in details.sent["extensions"]["ext"]
    assert details.rebuilt is not None
    assert "loyaltyTier" not in details.rebuilt["extensions"]["ext"]
    assert "ext.loyaltyTeir" in details.unexpected
    assert page.sent_tree.find_key("loyaltyTier") is not None
    assert page.rebuilt_tree.find_key("loyaltyTier") is None
    assert page.trace_tree.topLevelItem(0).text(0) == f"guest {details.key}"
    assert "state done" in page.trace_tree.topLevelItem(0).text(1)
    assert "ext.loyaltyTeir" in page.record_note.text()

    page.tabs.setCurrentIndex(page.charts_tab_index)
    qtbot.waitUntil(lambda: bool(page.cause_chart.chart().series()), timeout=5_000)
    cause_series = page.cause_chart.chart().series()
    assert cause_series
    assert cause_series[0].barSets()[0].sum() >= 24


def test_a_value_cdp_rejects_is_in_the_error_log_with_its_trace(qtbot, make_window) -> None:
    # homeStore (a city name) sent as the ISO country code: CDP's batch log rejects those guests.
    rule = MappingRule(source="ext.homeStore", target="country")
    window = open_studio(qtbot, make_window, guests=15, mapping=[rule])
    send(qtbot, window)
    page = window.send_page
    rejected = page.errors_table.rowCount()
    assert rejected > 3
    assert page.tabs.tabText(page.errors_tab_index) == f"Errors ({rejected})"
    assert page.errors_table.item(0, 2).text().startswith("batch-001.json.gz:")
    assert page.errors_table.item(0, 3).text() == "400"
    assert "country" in page.errors_table.item(0, 4).text()
    assert page.files_table.item(0, 3).text() == "error"  # finished, with rejected records, as CDP reports it
    assert page.files_table.item(0, 5).text() == str(rejected)
    with qtbot.waitSignal(page.record_shown):
        page.errors_table.selectRow(0)
    trace = page.trace_text.toPlainText()
    assert trace.startswith(f"Trace of {page.errors_table.item(0, 0).text()}")
    assert "state failed" in trace
    assert "batch-001.json.gz, line" in trace


def test_the_request_console_masks_secrets_and_copies_curl_without_them(qtbot, make_window) -> None:
    window = open_studio(qtbot, make_window, "travel_bookings", guests=3)
    send(qtbot, window)
    window.show_console()
    console = window.console
    # The console shows the run's own log, from its folder.
    assert console.showing_run
    assert console.row_count() > 20
    for row in range(console.row_count()):
        dumped = orjson.dumps(console.entry(row).to_json()).decode()
        assert not any(secret in dumped for secret in SECRETS), dumped[:300]
    # Filters: method, status class, text.
    console.method_combo.setCurrentIndex(console.method_combo.findData("POST"))
    assert console.row_count() > 0
    assert {console.entry(r).method for r in range(console.row_count())} == {"POST"}
    qtbot.keyClicks(console.search_edit, "/v2.1/guests")
    posts = console.row_count()
    assert posts >= 3
    for r in range(posts):
        entry = console.entry(r)
        assert "/v2.1/guests" in f"{entry.url} {entry.request_body} {entry.response_body}"
    console.status_combo.setCurrentIndex(console.status_combo.findText("5xx"))
    assert console.row_count() == 0
    console.status_combo.setCurrentIndex(0)
    # The selected call, its request and response masked, and curl with placeholders.
    console.select_row(0)
    entry = console.selected()
    assert entry is not None
    assert entry.method == "POST"
    assert "authorization: basic ***" in console.request_view.toPlainText().lower()
    assert console.response_view.toPlainText().startswith("HTTP 201")
    with qtbot.waitSignal(console.curl_copied) as copied:
        click(qtbot, console.curl_button)
    command = copied.args[0]
    assert QGuiApplication.clipboard().text() == command
    assert '-u "$CDP_CLIENT_KEY:$CDP_API_TOKEN"' in command
    assert not any(secret in command for secret in SECRETS)
    assert "Basic " not in command
    # The OAuth token request of the export: its secret and the token it returned are masked too.
    console.method_combo.setCurrentIndex(0)
    console.search_edit.clear()
    qtbot.keyClicks(console.search_edit, "oauth/token")
    assert console.row_count() >= 1
    console.select_row(0)
    token_call = console.selected()
    assert token_call is not None
    assert "$CDP_OAUTH_CLIENT_SECRET" in (token_call.request_body or "")
    assert "$CDP_ACCESS_TOKEN" in (token_call.response_body or "")
    assert "$CDP_OAUTH_CLIENT_SECRET" in console.copy_curl()  # type: ignore[operator]


def test_cancel_stops_within_a_second_and_the_run_resumes_without_duplicates(qtbot, make_window) -> None:
    window = open_studio(qtbot, make_window, "travel_bookings", guests=300, load="rest", runner=TaskRunner())
    window.go_to(4)
    page = window.send_page
    run = window.run
    click(qtbot, page.send_button)
    assert run.running  # the click returned while the pipeline works on a worker thread
    qtbot.waitUntil(lambda: run.stage("send").done >= 20, timeout=60_000)
    assert run.stage("send").done < 300, "too fast to cancel mid-send: raise the guest count"
    started = time.monotonic()
    with qtbot.waitSignal(run.run_cancelled, timeout=5_000):
        click(qtbot, page.cancel_button)
    stopped = time.monotonic() - started
    qtbot.waitUntil(lambda: not run.running, timeout=5_000)
    print(f"cancel stopped the run in {stopped * 1000:.0f} ms")
    assert stopped < 1.5, f"cancel took {stopped:.2f} s"
    assert run.stage("send").status == "cancelled"
    assert "can be resumed" in page.status_label.text()
    assert "cancelled" in (page.validation_error() or "")
    folder = run.folder
    assert folder is not None

    # The Runs tab lists the interrupted run; resuming it completes it.
    with qtbot.waitSignal(page.runs_listed, timeout=5_000):
        page.refresh_runs()
    assert page.select_run(folder)
    row = page.runs_table.currentRow()
    assert page.runs_table.item(row, 4).text() == "interrupted: resume to complete"
    assert page.resume_button.isEnabled()
    with qtbot.waitSignal(run.run_finished, timeout=120_000):
        click(qtbot, page.resume_button)
    report = run.report
    assert report is not None
    assert report.verdict == "passed"
    assert run.folder == folder
    # Nothing was sent twice: every guest is found exactly once.
    with gzip.open(folder / "readback.ndjson.gz") as lines:
        matches = [orjson.loads(line)["matches"] for line in lines]
    assert matches == [1] * 300
    qtbot.waitUntil(lambda: not run.running, timeout=5_000)


def test_the_nightly_snapshot_wait_then_resume_now(qtbot, make_window) -> None:
    window = open_studio(qtbot, make_window, "travel_bookings", guests=6, snapshot="nightly")
    report = send(qtbot, window)
    assert report.verdict == "waiting"
    assert report.waiting_until is not None
    window.go_to(5)
    page = window.verify_page
    assert page.waiting_frame.isVisible()
    text = page.waiting_label.text()
    assert "has to wait for CDP's nightly segment snapshot" in text
    assert f"{report.waiting_until:%Y-%m-%d %H:%M} UTC" in text
    assert "local time" in text
    assert page.verdict_label.text().startswith("WAITING")
    assert "nightly snapshot" in (page.validation_error() or "")
    assert window.run.stage("export").status == "waiting"
    assert [s.source for s in report.sources if s.source != "decisions"] == ["rest"]

    # Too early: resuming leaves it waiting.
    click(qtbot, page.resume_button)
    assert window.run.report is not None
    assert window.run.report.verdict == "waiting"
    # After midnight UTC on the sandbox's clock, "Resume now" completes the export and the verdict.
    url = window.context.sandbox.base_url
    assert url is not None
    SandboxAdmin(url).set_clock(report.waiting_until + timedelta(minutes=5))
    click(qtbot, page.resume_button)
    final = window.run.report
    assert final is not None
    assert final.verdict == "passed"
    assert not page.waiting_frame.isVisible()
    assert {s.source for s in saved_report(window).sources} - {"decisions"} == {"rest", "export"}
    assert page.verdict_label.text().startswith("PASSED")


def test_report_save_bundle_open_summary_and_cleanup(qtbot, make_window, dialogs, opened_urls, tmp_path: Path) -> None:
    window = open_studio(qtbot, make_window, "travel_bookings", guests=5)
    report = send(qtbot, window)
    window.go_to(6)
    page = window.report_page
    assert page.validation_error() is None

    dialogs.save_paths.append(tmp_path / "out" / "report.html")
    (tmp_path / "out").mkdir()
    with qtbot.waitSignal(page.saved):
        click(qtbot, page.save_html_button)
    assert "<html" in (tmp_path / "out" / "report.html").read_text()[:500].lower()

    dialogs.save_paths.append(tmp_path / "out" / "evidence.zip")
    with qtbot.waitSignal(page.saved):
        click(qtbot, page.save_bundle_button)
    names = zipfile.ZipFile(tmp_path / "out" / "evidence.zip").namelist()
    assert any(name.endswith("report/report.html") for name in names)
    assert any(name.endswith("ledger.sqlite") for name in names)

    click(qtbot, page.open_button)
    assert [url.toLocalFile() for url in opened_urls] == [str(window.run.folder / "report" / "report.html")]

    summary = page.copy_summary()
    assert QGuiApplication.clipboard().text() == summary
    assert summary.startswith(f'The CDP proof of concept "{report.scenario_name}"')
    assert "passed" in summary
    assert "5 of 5 records" in summary
    assert not any(secret in summary for secret in SECRETS)

    # Clean-up: the confirmation lists what will be deleted; "no" deletes nothing.
    dialogs.confirm_answers.append(False)
    with qtbot.waitSignal(page.cleaned) as cleaned:
        click(qtbot, page.cleanup_button)
    assert cleaned.args[0] is None
    title, text, details = dialogs.confirmed[-1]
    assert title == "Clean up the target"
    assert text.startswith("Delete 5 guest(s) and ")
    assert details.splitlines()[0].startswith("guest ")
    assert "travel" in details
    dialogs.confirm_answers.append(True)
    with qtbot.waitSignal(page.cleaned) as cleaned:
        click(qtbot, page.cleanup_button)
    guests, _orders = cleaned.args[0]
    assert guests == 5
    assert page.status_label.text().startswith("Deleted 5 guest(s)")
    with qtbot.waitSignal(page.cleaned) as cleaned:
        click(qtbot, page.cleanup_button)
    assert cleaned.args[0] == (0, 0)
    assert page.status_label.text().startswith("Nothing of this run is left")


def test_autoplay_plays_the_demo_to_the_end_and_writes_screenshots(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window(runner=TaskRunner())
    window.resize(1400, 900)
    shots = tmp_path / "shots"
    player = Autoplay(window, "travel_bookings", pace=0.05, screenshots=shots)
    steps: list[str] = []
    player.step_started.connect(steps.append)
    with qtbot.waitSignal(player.finished, timeout=120_000) as finished:
        player.start()
    assert finished.args == [EXIT_PASSED], player.message
    assert window.run.report is not None
    assert window.run.report.verdict == "passed"
    assert steps[0] == "open the scenario"
    assert steps[-1] == "report"
    assert window.current_index == 6
    expected = ["1-connect", "2-integration", "3-design", "4-mapping", "5a-send-dry-run", "5-send",
                "5b-request-console", "6-verify", "6b-verify-charts", "7-report"]  # fmt: skip
    assert sorted(p.stem for p in shots.glob("*.png")) == sorted(expected)
    for path in shots.glob("*.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000
    window.document.set_modified(False)


def test_autoplay_of_an_unknown_scenario_exits_with_the_usage_code(qtbot, make_window) -> None:
    window = make_window()
    player = Autoplay(window, "no_such_scenario", pace=0)
    with qtbot.waitSignal(player.finished) as finished:
        player.start()
    assert finished.args == [EXIT_USAGE]
    assert "no scenario 'no_such_scenario'" in player.message


def test_read_back_under_429_and_500_faults_shows_its_retries(qtbot, make_window) -> None:
    """Issue 13 item 11: the read-back's row and the Errors tab say that CDP answers 429 and 500, as it happens."""
    window = open_studio(qtbot, make_window, "travel_bookings", guests=30, load="batch", runner=TaskRunner())
    document = window.document.scenario
    window.document.replace(document.model_copy(update={
        "integration": document.integration.model_copy(update={"pull_back": ["rest"]})}))  # fmt: skip
    connect = window.connect_page
    # Seven failed calls in all, however they fall on the read-back's calls: no call can use up the client's eight
    # attempts (with random rates, one now and then did, and the run failed: about one run in twelve).
    rules = ["status=429,retry_after=0,count=4,path=/v2.1/guests*,method=GET",
             "status=500,count=3,path=/v2.1/guests*,method=GET"]  # fmt: skip
    with qtbot.waitSignal(connect.faults_changed, timeout=10_000):
        connect.apply_faults(rules)
    window.go_to(4)
    page = window.send_page
    run = window.run
    click(qtbot, page.send_button)
    qtbot.waitUntil(lambda: not run.running, timeout=120_000)
    assert run.outcome == "finished", run.error
    window.request_feed.flush()
    readback = run.stage("readback")
    assert readback.http_errors["429"] > 0
    assert readback.http_errors["500"] > 0
    assert "HTTP errors retried (" in readback.detail()
    assert "429 ×" in readback.detail()
    qtbot.waitUntil(lambda: "HTTP)" in page.tabs.tabText(page.errors_tab_index), timeout=5_000)
    total = sum(run.http_errors.values())
    assert page.tabs.tabText(page.errors_tab_index) == f"Errors (0 records · {total:,} HTTP)"
    assert "retried" in page.errors_note.text()
    # The Verify page's progress rows are the same rows.
    window.go_to(5)
    assert "HTTP errors retried" in window.verify_page.stages.details["readback"].text()


def test_the_console_finds_every_call_of_a_run_on_disk_and_replays_one(qtbot, make_window) -> None:
    """Issue 13 item 8: the console pages the run's requests.ndjson, so no call is lost however many there are."""
    window = open_studio(qtbot, make_window, "retail_loyalty", guests=40)
    window.console.model.capacity = 25  # the session's list keeps few: the run's calls must come from disk
    report = send(qtbot, window)
    assert report.verdict == "passed"
    window.show_console()
    console = window.console
    folder = window.run.folder
    assert folder is not None
    lines = (folder / "requests.ndjson").read_bytes().splitlines()
    assert len(lines) > 100
    assert console.showing_run
    assert console.row_count() == len(lines)
    assert console.count_label.text() == f"{len(lines):,} calls"
    assert orjson.loads(orjson.dumps(console.entry(len(lines) - 1).to_json())) == orjson.loads(lines[-1])
    # The batch upload of the run's first minutes is there, and a filter finds it.
    console.method_combo.setCurrentIndex(console.method_combo.findData("PUT"))
    uploads = [console.entry(r) for r in range(console.row_count())]
    assert uploads
    assert all(e.method == "PUT" for e in uploads)
    assert any("/v2/batches/" in e.url for e in uploads)
    assert console.count_label.text() == f"{len(uploads):,} of {len(lines):,} calls"
    console.method_combo.setCurrentIndex(0)
    qtbot.keyClicks(console.search_edit, "/v2.1/guests")
    reads = console.row_count()
    assert 40 <= reads < len(lines)

    # Replay a read of a guest against the same target: the answer is the session's newest call, selected.
    console.select_row(0)
    chosen = console.selected()
    assert chosen is not None
    assert chosen.method == "GET"
    with qtbot.waitSignal(window.replayed) as replayed:
        click(qtbot, console.replay_button)
    assert replayed.args[0] == "HTTP 200"
    assert not console.showing_run
    again = console.selected()
    assert again is not None
    assert (again.method, again.url, again.status) == ("GET", chosen.url, 200)
    # A token request holds masked secrets: it is not replayed, and the console says why.
    console.source_combo.setCurrentIndex(1)
    console.search_edit.clear()
    qtbot.keyClicks(console.search_edit, "oauth/token")
    console.select_row(0)
    token_call = console.selected()
    assert token_call is not None
    assert window.replay(token_call) == "its body held secrets, which the log masked"
    assert "Cannot replay this call" in console.count_label.text()
