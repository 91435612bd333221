"""Connect's checks in front of a customer: a deadline, a timer and a Cancel; errors that name the host and the
credential; the OAuth auth host shown and changeable; old results cleared; numbers explained in words."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

from cdp_poc_studio.cdp.profiles import DEFAULT_TOKEN_URL
from cdp_poc_studio.cdp.secrets import SANDBOX_CREDENTIALS
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import SandboxServer
from cdp_poc_studio.ui.main_window import MainWindow
from cdp_poc_studio.ui.pages.connect import FAILED, OK, ConnectPage
from cdp_poc_studio.workers.tasks import TaskRunner


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers: a tenant behind a broken proxy."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="silent-server", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.listener.close()
        for conn in self.accepted:
            conn.close()
        self._thread.join(5)


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    server = SandboxServer(SandboxConfig(port=0)).start()
    yield server.base_url
    server.stop()


def _type(qtbot, edit, text: str) -> None:  # type: ignore[no-untyped-def]
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def _custom_profile(qtbot, window: MainWindow, dialogs, url: str) -> ConnectPage:  # type: ignore[no-untyped-def]
    page = window.connect_page
    dialogs.texts.append("acme")
    qtbot.mouseClick(page.new_profile_button, Qt.MouseButton.LeftButton)
    page.region_combo.setCurrentIndex(page.region_combo.findData("custom"))
    _type(qtbot, page.custom_url_edit, url)
    _type(qtbot, page.client_key_edit, "ck")
    _type(qtbot, page.api_token_edit, "tk")
    return page


@pytest.mark.slow
def test_a_silent_tenant_times_out_with_a_timer_naming_the_host(qtbot, make_window, dialogs, silent_server) -> None:
    window = make_window(runner=TaskRunner())
    window.context.check_timeout_seconds = 1.0
    page = _custom_profile(qtbot, window, dialogs, silent_server.url)
    with qtbot.waitSignal(page.connection_tested, timeout=10_000):
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        assert page.cancel_test_button.isVisible()
        assert "Testing…" in page.test_timer.text()
        assert "gives up after 1 s" in page.test_timer.text()
    assert page.outcome(page.results[0]) == FAILED
    message = page.results[0].message
    assert f"no answer from {silent_server.url} within 1 s" in message
    assert "proxy" in message
    assert page.test_button.isEnabled()
    assert not page.cancel_test_button.isVisible()
    silent_server.close()  # the abandoned requests end now, not after their own timeout
    qtbot.waitUntil(lambda: not window.context.runner.busy, timeout=10_000)


@pytest.mark.slow
def test_cancel_frees_the_page_at_once_and_a_new_url_clears_old_results(
    qtbot, make_window, dialogs, silent_server
) -> None:
    window = make_window(runner=TaskRunner())
    page = _custom_profile(qtbot, window, dialogs, silent_server.url)
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: silent_server.accepted != [], timeout=5_000)
    assert not page.test_button.isEnabled()
    assert page.is_busy()
    qtbot.mouseClick(page.cancel_test_button, Qt.MouseButton.LeftButton)
    assert page.test_button.isEnabled()
    assert not page.is_busy()
    assert page.test_timer.text() == "Test cancelled."
    assert page.results is None
    silent_server.close()
    qtbot.waitUntil(lambda: not window.context.runner.busy, timeout=10_000)
    # The cancelled test's late answer is not shown.
    assert page.results is None

    # Results of one address are cleared as soon as another one is typed.
    _type(qtbot, page.custom_url_edit, "http://127.0.0.1:9")
    with qtbot.waitSignal(page.connection_tested, timeout=10_000):
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert page.results
    qtbot.keyClicks(page.custom_url_edit, "0")
    assert page.results is None
    assert page.results_table.rowCount() == 0


@pytest.mark.slow
def test_oauth_errors_name_the_auth_host_which_is_shown_and_changeable(
    qtbot, window: MainWindow, dialogs, sandbox_url: str
) -> None:
    creds = SANDBOX_CREDENTIALS
    page = _custom_profile(qtbot, window, dialogs, sandbox_url)
    _type(qtbot, page.client_key_edit, creds.client_key.get_secret_value())  # type: ignore[union-attr]
    _type(qtbot, page.api_token_edit, creds.api_token.get_secret_value())  # type: ignore[union-attr]
    _type(qtbot, page.oauth_id_edit, creds.oauth_client_id.get_secret_value())  # type: ignore[union-attr]
    _type(qtbot, page.oauth_secret_edit, creds.oauth_client_secret.get_secret_value())  # type: ignore[union-attr]
    # The page says where token requests go: Sitecore's auth host by default.
    assert DEFAULT_TOKEN_URL in page.auth_note.text()
    assert sandbox_url in page.auth_note.text()

    # An auth host that does not answer: the error names it (not the API host, which answered) and says what to do.
    _type(qtbot, page.auth_url_edit, "http://127.0.0.1:9/oauth/token")
    assert "http://127.0.0.1:9/oauth/token" in page.auth_note.text()
    assert window.context.settings.profile("acme").token_url == "http://127.0.0.1:9/oauth/token"  # type: ignore[union-attr]
    with qtbot.waitSignal(page.connection_tested):
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    checks = {c.name: c for c in page.results or []}
    assert page.outcome(checks["rest"]) == OK
    assert page.outcome(checks["oauth"]) == FAILED
    assert "cannot reach http://127.0.0.1:9" in checks["oauth"].message
    assert sandbox_url not in checks["oauth"].message
    assert "auth host" in checks["oauth"].message

    # The tenant's own auth host: accepted. A wrong secret is then refused, naming the host and the credential.
    _type(qtbot, page.auth_url_edit, f"{sandbox_url}/oauth/token")
    with qtbot.waitSignal(page.connection_tested):
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert page.outcome(page.results[2]) == OK
    _type(qtbot, page.oauth_secret_edit, "wrong")
    with qtbot.waitSignal(page.connection_tested):
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    message = page.results[2].message
    assert f"token request to {sandbox_url}" in message
    assert "OAuth client secret (CDP_OAUTH_CLIENT_SECRET)" in message

    # A wrong API token: the API host that refused it and the credential are named.
    _type(qtbot, page.api_token_edit, "wrong")
    with qtbot.waitSignal(page.connection_tested):
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert f"refused (HTTP 401) by {sandbox_url}" in page.results[0].message
    assert "API token (CDP_API_TOKEN)" in page.results[0].message

    # A URL that is not one says so, in words, and keeps the saved value.
    _type(qtbot, page.auth_url_edit, "auth.example.com")
    assert "OAuth auth host not saved: the URL must start with https://" in page.tenant_error.text()
    assert window.context.settings.profile("acme").token_url == f"{sandbox_url}/oauth/token"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("status=abc", "status='abc' is not a number: give an HTTP status such as 429"),
        ("status=503,rate=lots", "rate='lots' is not a number: give a fraction between 0 and 1"),
        ("latency=soon", "latency='soon' is not a number: give a time such as 200ms or 2s"),
    ],
)
def test_bad_numbers_in_a_fault_are_explained_in_words(qtbot, window: MainWindow, spec: str, expected: str) -> None:
    page = window.connect_page
    qtbot.keyClicks(page.fault_edit, spec)
    qtbot.mouseClick(page.add_fault_button, Qt.MouseButton.LeftButton)
    assert expected in page.fault_error.text()
    assert "invalid literal" not in page.fault_error.text()
    assert "could not convert" not in page.fault_error.text()
