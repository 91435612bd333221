"""Connect: the embedded sandbox as a real child process, credentials checked one by one, faults, tenants."""

from __future__ import annotations

import httpx
import pytest
from PySide6.QtCore import Qt

from cdp_poc_studio.cdp.secrets import SecretName
from cdp_poc_studio.ui.main_window import MainWindow
from cdp_poc_studio.ui.pages.connect import FAILED, NOT_SET, OK
from cdp_poc_studio.workers.tasks import TaskRunner

ALL_OK = {"rest": OK, "batch": OK, "oauth": OK}


def _outcomes(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {check.name: page.outcome(check) for check in page.results or []}


def _type(qtbot, edit, text: str) -> None:  # type: ignore[no-untyped-def]
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


@pytest.mark.slow
def test_sandbox_start_test_wrong_credentials_faults_and_stop(qtbot, window: MainWindow) -> None:
    page = window.connect_page
    sandbox = window.context.sandbox
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert sandbox.state == "running", sandbox.detail
    assert sandbox.base_url
    assert sandbox.base_url.startswith("http://127.0.0.1:")
    assert "Running" in page.sandbox_status.text()
    assert httpx.get(f"{sandbox.base_url}/_sandbox/health").json()["status"] == "ok"

    # The right credentials (the sandbox's own, prefilled).
    with qtbot.waitSignal(page.connection_tested):
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert _outcomes(page) == ALL_OK
    assert page.validation_error() is None

    # A wrong API token: only the Basic credential fails (on both APIs it opens), and the page says which.
    _type(qtbot, page.api_token_edit, "not-the-token")
    with qtbot.waitSignal(page.connection_tested):
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert _outcomes(page) == {"rest": FAILED, "batch": FAILED, "oauth": OK}
    assert page.results_table.item(0, 1).text() == "✖ Failed"
    assert "refused (HTTP 401)" in page.results_table.item(0, 2).text()
    assert "connection test failed" in (page.validation_error() or "")

    # A wrong OAuth secret: now the OAuth credential fails and Basic passes.
    _type(qtbot, page.api_token_edit, sandbox.options.api_token)
    _type(qtbot, page.oauth_secret_edit, "wrong-secret")
    with qtbot.waitSignal(page.connection_tested):
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert _outcomes(page) == {"rest": OK, "batch": OK, "oauth": FAILED}
    assert "wrong OAuth client id or secret" in page.results_table.item(2, 2).text()
    # Every test call is in the request console, the secrets masked.
    window.show_console()
    console = window.console
    assert console.model.rowCount() >= 6
    texts = [console.model.entry(row).url for row in range(console.model.rowCount())]
    assert any("/v2.1/guests" in url for url in texts)
    for row in range(console.model.rowCount()):
        entry = console.model.entry(row)
        dumped = repr(entry.to_json())
        assert "wrong-secret" not in dumped
        assert sandbox.options.api_token not in dumped

    # Faults go to the running sandbox through its admin API.
    qtbot.keyClicks(page.fault_edit, "status=503,rate=0.5,path=/v2.1/*")
    qtbot.mouseClick(page.add_fault_button, Qt.MouseButton.LeftButton)
    rules = httpx.get(f"{sandbox.base_url}/_sandbox/faults").json()["faults"]
    assert [(r["status"], r["rate"], r["path"]) for r in rules] == [(503, 0.5, "/v2.1/*")]
    assert page.faults_list.item(0).text().startswith("status=503,rate=0.5,path=/v2.1/*")
    qtbot.keyClicks(page.fault_edit, "status=abc")
    qtbot.mouseClick(page.add_fault_button, Qt.MouseButton.LeftButton)
    assert "status=abc" in page.fault_error.text()
    qtbot.mouseClick(page.clear_faults_button, Qt.MouseButton.LeftButton)
    assert httpx.get(f"{sandbox.base_url}/_sandbox/faults").json()["faults"] == []

    # Snapshot mode: a different choice asks for a restart, which applies it.
    page.snapshot_combo.setCurrentIndex(1)
    assert "Restart to apply nightly" in page.snapshot_note.text()
    qtbot.mouseClick(page.restart_button, Qt.MouseButton.LeftButton)
    assert sandbox.state == "running"
    assert httpx.get(f"{sandbox.base_url}/_sandbox/health").json()["snapshotMode"] == "nightly"

    qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    assert sandbox.state == "stopped"
    assert "start the embedded sandbox" in (page.validation_error() or "")


@pytest.mark.slow
def test_sandbox_on_real_threads_keeps_the_ui_responsive(qtbot, make_window) -> None:
    """A smoke test with the real thread pool: start and test connection as background jobs."""
    window = make_window(runner=TaskRunner())
    page = window.connect_page
    sandbox = window.context.sandbox
    with qtbot.waitSignal(sandbox.state_changed, timeout=20_000, check_params_cb=lambda s: s == "running"):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        assert sandbox.state == "starting"  # the click returned before the sandbox was up
    with qtbot.waitSignal(page.connection_tested, timeout=20_000):
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert _outcomes(page) == ALL_OK
    with qtbot.waitSignal(sandbox.state_changed, timeout=20_000, check_params_cb=lambda s: s == "stopped"):
        qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)


def test_real_tenant_profile_banner_and_keyring(qtbot, window: MainWindow, dialogs, memory_keyring) -> None:
    page = window.connect_page
    assert window.banner.isHidden()
    dialogs.texts.append("acme-uat")
    qtbot.mouseClick(page.new_profile_button, Qt.MouseButton.LeftButton)
    assert page.current_profile_name() == "acme-uat"
    assert not window.banner.isHidden()
    assert "REAL TENANT: acme-uat (https://api-engage-eu.sitecorecloud.io)" in window.banner.text()
    page.region_combo.setCurrentIndex(page.region_combo.findData("US"))
    assert "api-engage-us" in window.banner.text()
    _type(qtbot, page.client_key_edit, "ck-123")
    _type(qtbot, page.api_token_edit, "token-456")
    assert memory_keyring.values[("cdp-poc-studio", "acme-uat:api_token")] == "token-456"
    saved = window.context.settings_store.path.read_text()
    assert "ck-123" in saved
    assert "token-456" not in saved
    assert page.validation_error() is None
    # The scenario names the profile, never a secret.
    window.go_to(1)
    assert window.document.scenario.target.profile == "acme-uat"
    window.go_to(0)
    page.profile_combo.setCurrentIndex(0)
    assert window.banner.isHidden()


def test_no_keyring_keeps_typed_secrets_for_the_session(qtbot, window: MainWindow, dialogs, no_keyring) -> None:
    """Issue 13 item 1: with no OS keyring, typed secrets stay while the studio is open, until cleared."""
    page = window.connect_page
    dialogs.texts.append("acme-prod")
    qtbot.mouseClick(page.new_profile_button, Qt.MouseButton.LeftButton)
    assert page.keyring_notice.isVisible()
    assert "No OS keyring" in page.keyring_notice.text()
    assert "session only" in page.keyring_notice.text()
    # Typed, and the page left without pressing Return or clicking anything else.
    qtbot.keyClicks(page.api_token_edit, "token-789")
    qtbot.keyClicks(page.oauth_secret_edit, "oauth-secret-1")
    window.go_to(2)
    window.go_to(0)
    assert page.api_token_edit.text() == "token-789"
    assert page.oauth_secret_edit.text() == "oauth-secret-1"
    value, where = window.context.secrets.get("acme-prod", SecretName.API_TOKEN)
    assert where == "session"
    assert value is not None
    assert value.get_secret_value() == "token-789"
    # Another target and back: still there.
    page.profile_combo.setCurrentIndex(0)
    assert page.api_token_edit.text() != "token-789"
    page.profile_combo.setCurrentIndex(page.profile_combo.findData("acme-prod"))
    assert page.api_token_edit.text() == "token-789"
    # Emptying a field forgets that secret; the button forgets both.
    page.oauth_secret_edit.clear()
    window.go_to(1)
    window.go_to(0)
    assert page.oauth_secret_edit.text() == ""
    assert page.api_token_edit.text() == "token-789"
    qtbot.mouseClick(page.clear_secrets_button, Qt.MouseButton.LeftButton)
    window.go_to(1)
    window.go_to(0)
    assert page.api_token_edit.text() == ""
    assert window.context.secrets.get("acme-prod", SecretName.API_TOKEN) == (None, "")


def test_unreachable_tenant_reports_the_host_and_skips_the_rest(qtbot, window: MainWindow, dialogs) -> None:
    page = window.connect_page
    dialogs.texts.append("offline")
    qtbot.mouseClick(page.new_profile_button, Qt.MouseButton.LeftButton)
    page.region_combo.setCurrentIndex(page.region_combo.findData("custom"))
    _type(qtbot, page.custom_url_edit, "http://127.0.0.1:9")
    _type(qtbot, page.client_key_edit, "ck")
    _type(qtbot, page.api_token_edit, "tk")
    with qtbot.waitSignal(page.connection_tested):
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    # Each credential is reported on its own: the two that were given cannot reach the host, OAuth is not set.
    assert _outcomes(page) == {"rest": FAILED, "batch": FAILED, "oauth": NOT_SET}
    assert "cannot reach http://127.0.0.1:9" in page.results[0].message
    assert "connection test failed" in (page.validation_error() or "")
