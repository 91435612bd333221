"""The UI tests' shared steps: a click as a person makes it, a studio on a bundled scenario with its own sandbox
started from the Connect page, and a send through the Send page."""

from __future__ import annotations

from PySide6.QtCore import Qt

from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.roundtrip.report_model import RunReport
from cdp_poc_studio.roundtrip.run_folder import RunFolder
from cdp_poc_studio.roundtrip.scenario import MappingRule
from cdp_poc_studio.ui.main_window import MainWindow
from cdp_poc_studio.workers.tasks import TaskRunner


def click(qtbot, button) -> None:  # type: ignore[no-untyped-def]
    """A left click on a button, as a person would make it."""
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def open_studio(  # type: ignore[no-untyped-def]
    qtbot,
    make_window,
    scenario: str = "retail_loyalty",
    *,
    guests: int = 20,
    load: str | None = None,
    pull_back: list[str] | None = None,
    mapping: list[MappingRule] | None = None,
    snapshot: str = "immediate",
    runner: TaskRunner | None = None,
    run_in_child_process: bool = False,
) -> MainWindow:
    """A window on a bundled scenario with a few guests, its sandbox started with the Connect page's button."""
    window = make_window(runner=runner, run_in_child_process=run_in_child_process)
    window.open_template(SCENARIOS / f"{scenario}.toml")
    current = window.document.scenario
    update: dict[str, object] = {"generator": current.generator.model_copy(update={"guests": guests})}
    integration: dict[str, object] = {"load": load, "pull_back": pull_back}
    if any(value is not None for value in integration.values()):
        changes = {name: value for name, value in integration.items() if value is not None}
        update["integration"] = current.integration.model_copy(update=changes)
    if mapping is not None:
        update["mapping"] = mapping
    window.document.replace(current.model_copy(update=update))
    page = window.connect_page
    page.snapshot_combo.setCurrentIndex(page.snapshot_combo.findData(snapshot))
    sandbox = window.context.sandbox
    if runner is None:
        click(qtbot, page.start_button)
    else:
        with qtbot.waitSignal(sandbox.state_changed, timeout=30_000, check_params_cb=lambda s: s == "running"):
            click(qtbot, page.start_button)
    assert sandbox.state == "running", sandbox.detail
    return window


def saved_report(window: MainWindow) -> RunReport:
    """The pipeline's own result, as it wrote it to the run folder."""
    assert window.run.folder is not None
    return RunReport.model_validate_json(RunFolder(window.run.folder).report_json.read_bytes())


def send(qtbot, window: MainWindow) -> RunReport:  # type: ignore[no-untyped-def]
    window.go_to(4)
    page = window.send_page
    click(qtbot, page.dry_button)
    assert page.dry is not None
    click(qtbot, page.send_button)
    assert window.run.outcome == "finished", window.run.error
    assert window.run.report is not None
    return window.run.report
