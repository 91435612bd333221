"""The task runner, settings, secrets, the sandbox child process and the `gui` command without a display."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import keyring
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from cdp_poc_studio.app import NO_DISPLAY_MESSAGE, display_problem
from cdp_poc_studio.cdp.profiles import ConnectionProfile, Region
from cdp_poc_studio.cdp.secrets import KeyringSecretStore, SecretName
from cdp_poc_studio.cli.main import cli
from cdp_poc_studio.domain.errors import SecretStoreUnavailable
from cdp_poc_studio.domain.progress import Cancelled, CancelToken, ProgressReport
from cdp_poc_studio.targets.credentials import StudioSecrets
from cdp_poc_studio.targets.sandbox_process import SandboxOptions, SandboxProcess, SandboxStartError
from cdp_poc_studio.targets.settings import SavedProfile, SettingsStore, StudioSettings
from cdp_poc_studio.workers.tasks import ImmediateExecutor, Report, TaskRunner
from cdp_poc_studio.workers.throttle import ProgressThrottle

# -- the task runner ------------------------------------------------------------------------------------------


def test_immediate_runner_delivers_progress_result_and_failure(qtbot) -> None:
    runner = TaskRunner(executor=ImmediateExecutor())
    seen: list[object] = []

    def body(report: Report, cancel: CancelToken) -> int:
        report(ProgressReport("work", 1, 2, message="half"))
        return 42

    runner.submit(body, on_progress=seen.append, on_success=seen.append, on_finished=lambda: seen.append("end"))
    assert seen == [ProgressReport("work", 1, 2, message="half"), 42, "end"]
    assert not runner.busy

    def broken(report: Report, cancel: CancelToken) -> None:
        raise ValueError("no")

    errors: list[BaseException] = []
    runner.submit(broken, on_failure=errors.append)
    assert isinstance(errors[0], ValueError)


def test_a_failure_nobody_handles_reaches_the_status_bar_and_the_log(qtbot, window, caplog) -> None:
    runner = window.context.runner

    def broken(report: Report, cancel: CancelToken) -> None:
        raise OSError("the disk is full\nmore detail")

    unhandled: list[str] = []
    runner.unhandled_failure.connect(unhandled.append)
    with caplog.at_level("WARNING", logger="cdp_poc_studio.workers.tasks"):
        runner.submit(broken, name="save-bundle")
    assert unhandled == ["Save bundle failed: the disk is full"]
    assert window.statusBar().currentMessage() == "Save bundle failed: the disk is full"
    assert any(r.levelname == "WARNING" and "save-bundle" in r.getMessage() for r in caplog.records)

    handled: list[BaseException] = []
    runner.submit(broken, name="handled", on_failure=handled.append)
    assert len(handled) == 1
    assert len(unhandled) == 1, "a caller's own handler explains its failure"


def test_threaded_runner_runs_off_the_ui_thread_and_cancels(qtbot) -> None:
    runner = TaskRunner()
    started = threading.Event()
    threads: list[str] = []

    def slow(report: Report, cancel: CancelToken) -> None:
        threads.append(threading.current_thread().name)
        started.set()
        while True:
            cancel.raise_if_cancelled()
            threading.Event().wait(0.01)

    job = runner.submit(slow)
    assert started.wait(5)
    assert runner.busy
    with qtbot.waitSignal(job.cancelled, timeout=5000):
        job.cancel()
    qtbot.waitUntil(lambda: not runner.busy)
    assert threads[0].startswith("studio-job")
    with qtbot.waitSignal(runner.job_finished, timeout=5000):
        runner.submit(lambda report, cancel: threading.current_thread().name)
    runner.shutdown()
    with pytest.raises(RuntimeError):
        runner.submit(lambda report, cancel: None)


def test_cancel_token() -> None:
    token = CancelToken()
    token.raise_if_cancelled()
    token.cancel()
    with pytest.raises(Cancelled):
        token.raise_if_cancelled()


def test_progress_throttle_passes_first_last_and_a_few_a_second() -> None:
    now = [0.0]
    seen: list[ProgressReport] = []
    throttle = ProgressThrottle(seen.append, interval=0.1, clock=lambda: now[0])
    for done in range(1, 101):
        now[0] = done * 0.01  # a report every 10 ms for one second
        throttle(ProgressReport("send", done, 100))
        throttle(ProgressReport("upload", done, None))
    send = [r.done for r in seen if r.stage == "send"]
    assert send[0] == 1
    assert send[-1] == 100  # the finishing report always goes through
    assert len(send) <= 12
    assert 8 <= len([r for r in seen if r.stage == "upload"]) <= 11


# -- settings -------------------------------------------------------------------------------------------------


def test_settings_save_only_what_changed(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    store.save(StudioSettings(last_folder="/work", profiles=[SavedProfile(name="acme", client_key="ck")]))
    data = json.loads(store.path.read_text())
    assert data == {"last_folder": "/work", "profiles": [{"client_key": "ck", "name": "acme"}]}
    assert store.load().profile("acme") == SavedProfile(name="acme", client_key="ck")


def test_saved_profiles_are_the_client_layers_profiles(tmp_path: Path) -> None:
    tenant = SavedProfile.of_choice("acme", "US", client_key="ck")
    assert tenant.connection_profile() == ConnectionProfile.tenant(Region.US, name="acme")
    custom = SavedProfile.of_choice("proxy", "custom", "https://cdp.example.com/")
    assert custom.connection_profile() == ConnectionProfile.custom("https://cdp.example.com", name="proxy")
    with pytest.raises(ValueError, match="base URL"):
        SavedProfile.of_choice("nourl", "custom").connection_profile()
    # A settings file from before the client layer (region "custom" and custom_url) still reads.
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"profiles": [
        {"name": "old", "region": "custom", "custom_url": "http://127.0.0.1:9", "client_key": "ck"},
        {"name": "eu", "region": "EU", "custom_url": ""},
    ]}))  # fmt: skip
    settings = SettingsStore(path).load()
    old = settings.profile("old")
    assert old is not None
    assert (old.kind, old.base_url, old.client_key, old.choice) == ("custom", "http://127.0.0.1:9", "ck", "custom")
    eu = settings.profile("eu")
    assert eu is not None
    assert eu.connection_profile().api_base_url == "https://api-engage-eu.sitecorecloud.io"


def test_a_corrupt_settings_file_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    store = SettingsStore(path)
    assert store.load() == StudioSettings()
    assert "set aside" in (store.problem or "")
    assert (tmp_path / "settings.json.corrupt").read_text() == "{not json"


def test_one_bad_value_is_dropped_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"last_folder": "/kept", "preview_size": "lots"}))
    store = SettingsStore(path)
    settings = store.load()
    assert settings.last_folder == "/kept"
    assert settings.preview_size == 50
    assert "preview_size" in (store.problem or "")


# -- secrets --------------------------------------------------------------------------------------------------


def test_keyring_store_without_a_keyring_raises_for_the_page_to_explain(no_keyring) -> None:
    store = KeyringSecretStore()
    with pytest.raises(SecretStoreUnavailable, match="no OS keyring"):
        store.set("acme", SecretName.API_TOKEN, SecretStr("x"))
    secrets = StudioSecrets()
    assert secrets.keyring_available() is not None
    assert secrets.store("acme", SecretName.API_TOKEN, SecretStr("x"), session_only=True) == "session"
    assert secrets.get("acme", SecretName.API_TOKEN)[1] == "session"


def test_keyring_and_environment(memory_keyring, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDP_API_TOKEN", raising=False)
    secrets = StudioSecrets()
    assert secrets.store("acme", SecretName.API_TOKEN, SecretStr("k"), session_only=False) == "keyring"
    # The client layer's keyring entry, which `cdp-poc-studio run --target profile:acme` reads too.
    assert keyring.get_password("cdp-poc-studio", "acme:api_token") == "k"
    assert secrets.get("acme", SecretName.API_TOKEN)[1] == "keyring"
    monkeypatch.setenv("CDP_OAUTH_CLIENT_SECRET", "from-env")
    value, where = secrets.get("acme-uat", SecretName.OAUTH_CLIENT_SECRET)
    assert where == "environment"
    assert value is not None
    assert value.get_secret_value() == "from-env"
    credentials = secrets.credentials(SavedProfile(name="acme", client_key="ck", oauth_client_id="oid"))
    assert credentials.has_basic
    assert credentials.has_oauth
    secrets.forget("acme")
    assert secrets.get("acme", SecretName.API_TOKEN) == (None, "")


def test_the_command_line_reads_the_studios_profiles_and_keyring(
    memory_keyring, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cdp_poc_studio.targets.target import BASIC, TargetError, profile_target

    for name in ("CDP_API_TOKEN", "CDP_CLIENT_KEY", "CDP_OAUTH_CLIENT_ID", "CDP_OAUTH_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    store = SettingsStore(tmp_path / "settings.json")
    monkeypatch.setattr(SettingsStore, "default", classmethod(lambda cls: store))
    store.save(StudioSettings(profiles=[SavedProfile.of_choice("acme", "custom", "http://127.0.0.1:9",
                                                               client_key="ck-1")]))  # fmt: skip
    # A run that loads and reads back over REST needs only the Basic credentials (the export, OAuth too).
    with pytest.raises(TargetError, match="no API token"), profile_target("acme", BASIC):
        pass
    StudioSecrets().store("acme", SecretName.API_TOKEN, SecretStr("tok-123456"), session_only=False)
    with profile_target("acme", BASIC) as target:
        assert target.kind == "profile"
        assert target.connection.profile.api_base_url == "http://127.0.0.1:9"
        assert target.connection.credentials_present == {"rest": True, "batch": True, "oauth": False}


# -- the sandbox child process --------------------------------------------------------------------------------


@pytest.mark.slow
def test_sandbox_process_starts_announces_its_url_and_stops(tmp_path: Path) -> None:
    process = SandboxProcess(SandboxOptions(db_path=str(tmp_path / "data" / "sandbox.sqlite"), api_token="tok"))
    url = process.start()
    try:
        assert process.running
        health = httpx.get(f"{url}/_sandbox/health").json()
        assert health["status"] == "ok"
        assert health["db"].endswith("sandbox.sqlite")
        assert httpx.get(f"{url}/v2.1/guests", auth=("sandbox-client-key", "tok")).status_code == 200
    finally:
        code = process.stop()
    assert code == 0  # SIGTERM: a clean exit after closing the database
    assert not process.running


def test_sandbox_that_cannot_start_says_why() -> None:
    process = SandboxProcess(SandboxOptions(faults=["nonsense=1"]))
    with pytest.raises(SandboxStartError, match="exited with status 2"):
        process.start(timeout=20)
    assert not process.running


# -- no display -----------------------------------------------------------------------------------------------


def test_display_problem_only_without_any_display() -> None:
    assert display_problem({}, "linux") == NO_DISPLAY_MESSAGE
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "darwin") is None
    assert display_problem({}, "win32") is None


@pytest.mark.parametrize("args", [[], ["gui"]])
def test_the_gui_without_a_display_points_to_the_demo(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "cdp-poc-studio demo" in result.output


def test_signal_emits_do_not_leak_references_to_true(qtbot) -> None:
    """PySide6 6.12.0 took a reference from True on every emit, and a long run aborted Python 3.11 with
    "bool_dealloc"; pyproject.toml excludes that release. This guards against its return."""
    import gc
    import sys

    runner = TaskRunner(executor=ImmediateExecutor())
    # Objects of earlier tests that the collector frees mid-loop drop their references to True too: collect them
    # first and keep the collector out of the loop, so only the emits can change the count.
    gc.collect()
    gc.disable()
    try:
        before = sys.getrefcount(True)
        for _ in range(2_000):  # each job emits several signals
            runner.submit(lambda report, cancel: None)
        after = sys.getrefcount(True)
    finally:
        gc.enable()
    assert not runner.busy
    assert after >= before - 10
