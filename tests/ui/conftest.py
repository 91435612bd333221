"""UI test fixtures: a serial task runner, scripted dialogs, an in-memory keyring, and leak guards."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.errors
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QUrl
from PySide6.QtWidgets import QApplication

from cdp_poc_studio.app import create_main_window
from cdp_poc_studio.targets.sandbox_process import SandboxOptions
from cdp_poc_studio.ui.main_window import MainWindow
from cdp_poc_studio.workers.tasks import ImmediateExecutor, TaskRunner


class FakeDialogs:
    """Answers the studio's questions from queues, and records every question asked."""

    def __init__(self) -> None:
        self.save_answers: list[str] = []
        self.open_paths: list[Path | None] = []
        self.save_paths: list[Path | None] = []
        self.texts: list[str | None] = []
        self.asked: list[tuple[str, Any]] = []
        self.errors: list[tuple[str, str]] = []
        self.confirm_answers: list[bool] = []
        self.confirmed: list[tuple[str, str, str]] = []
        self.running_answers: list[str] = []

    def ask_save_changes(self, parent: Any, name: str) -> str:
        self.asked.append(("save_changes", name))
        return self.save_answers.pop(0)

    def open_file(self, parent: Any, caption: str, folder: str, filter: str) -> Path | None:
        self.asked.append(("open_file", caption))
        return self.open_paths.pop(0)

    def save_file(self, parent: Any, caption: str, folder: str, filter: str) -> Path | None:
        self.asked.append(("save_file", folder))
        return self.save_paths.pop(0)

    def ask_text(self, parent: Any, title: str, label: str, default: str = "") -> str | None:
        self.asked.append(("ask_text", title))
        return self.texts.pop(0)

    def error(self, parent: Any, title: str, text: str) -> None:
        self.errors.append((title, text))

    def info(self, parent: Any, title: str, text: str) -> None:
        self.asked.append(("info", title))

    def confirm(self, parent: Any, title: str, text: str, details: str = "") -> bool:
        self.confirmed.append((title, text, details))
        return self.confirm_answers.pop(0)

    def ask_close_running(self, parent: Any, run: str, can_leave: bool) -> str:
        self.asked.append(("close_running", (run, can_leave)))
        return self.running_answers.pop(0)


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.values:
            raise keyring.errors.PasswordDeleteError(username)
        del self.values[(service, username)]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """The headless Linux situation: keyring's `fail` backend."""
    from keyring.backends.fail import Keyring as FailKeyring

    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def dialogs() -> FakeDialogs:
    return FakeDialogs()


@pytest.fixture
def runner() -> TaskRunner:
    return TaskRunner(executor=ImmediateExecutor())


@pytest.fixture
def sandbox_options(request: pytest.FixtureRequest, tmp_path: Path) -> SandboxOptions:
    """In memory; on disk for a test marked `sandbox_on_disk`, where a later window or the run's own process must
    find what was sent."""
    if request.node.get_closest_marker("sandbox_on_disk"):
        return SandboxOptions(db_path=str(tmp_path / "sandbox.sqlite"))
    return SandboxOptions(db_path=":memory:")


@pytest.fixture(autouse=True)
def _no_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client layer reads CDP_API_TOKEN and friends for every profile: a developer's shell must not leak in."""
    for name in ("CDP_CLIENT_KEY", "CDP_API_TOKEN", "CDP_OAUTH_CLIENT_ID", "CDP_OAUTH_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def opened_urls() -> list[QUrl]:
    """What the studio asked the desktop to open (instead of a browser)."""
    return []


@pytest.fixture
def make_window(qtbot, tmp_path: Path, dialogs: FakeDialogs, memory_keyring, sandbox_options, opened_urls):  # type: ignore[no-untyped-def]
    windows: list[MainWindow] = []

    def record(url: QUrl) -> bool:
        opened_urls.append(url)
        return True

    def make(
        runner: TaskRunner | None = None, settings_path: Path | None = None, run_in_child_process: bool = False
    ) -> MainWindow:
        window = create_main_window(
            settings_path=settings_path or tmp_path / "config" / "settings.json",
            runner=runner or TaskRunner(executor=ImmediateExecutor()),
            dialogs=dialogs,
            sandbox_options=sandbox_options,
            autostart_sandbox=False,
            preview_delay_ms=0,
            runs_root=tmp_path / "runs",
            open_url=record,
            # The sandbox processes a small batch file in milliseconds: poll its status quickly.
            batch_poll_seconds=0.05,
            run_in_child_process=run_in_child_process,
        )
        # Closed by this fixture, not by qtbot.addWidget: pytest-qt would close it before the document is reset,
        # and the unsaved-changes question would have no scripted answer.
        window.show()
        windows.append(window)
        return window

    yield make
    while windows:
        closing = windows.pop(0)
        closing.shutdown()
        closing.document.set_modified(False)
        closing.close()
        closing.deleteLater()
        del closing
    QApplication.processEvents()
    # The windows go now, and their Python wrappers with them, while Qt runs (as app._tear_down does for the app):
    # left to a later automatic collection in the middle of another test's event loop, one crashed PySide6 (a
    # segmentation fault while garbage-collecting, once in a full run).
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    # The dangling-widget guard: nothing a test opened is still on screen (no stray dialog or window).
    visible = [w.objectName() or type(w).__name__ for w in QApplication.topLevelWidgets() if w.isVisible()]
    assert not visible, f"widgets left open: {visible}"


@pytest.fixture
def window(make_window) -> MainWindow:  # type: ignore[no-untyped-def]
    return make_window()


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Every job thread and sandbox reader a test started has stopped when it ends (napari's dangling-thread guard)."""
    before = set(threading.enumerate())
    yield
    QApplication.processEvents()
    leaked = [
        t for t in threading.enumerate()
        if t not in before and t.is_alive() and t.name.startswith(("studio-job", "sandbox-"))
    ]  # fmt: skip
    for thread in leaked:
        thread.join(5)
    still = [t.name for t in leaked if t.is_alive()]
    assert not still, f"threads left running: {still}"
