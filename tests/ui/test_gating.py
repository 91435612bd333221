"""One validator per step, used by the step list, the Next button and Send, with `run`'s own checks."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from cdp_poc_studio.cli.main import cli
from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.roundtrip.scenario import load_scenario, save_scenario
from cdp_poc_studio.ui.main_window import MainWindow


def _type(qtbot, edit, text: str) -> None:  # type: ignore[no-untyped-def]
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def _ready_tenant(qtbot, window: MainWindow, dialogs) -> None:  # type: ignore[no-untyped-def]
    """A complete Connect step without a network: a tenant profile with its key and token typed."""
    page = window.connect_page
    dialogs.texts.append("acme")
    qtbot.mouseClick(page.new_profile_button, Qt.MouseButton.LeftButton)
    _type(qtbot, page.client_key_edit, "ck")
    _type(qtbot, page.api_token_edit, "tk")
    assert page.validation_error() is None


def _click_step(qtbot, window: MainWindow, row: int) -> None:  # type: ignore[no-untyped-def]
    rect = window.steps.visualItemRect(window.steps.item(row))
    qtbot.mouseClick(window.steps.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QApplication.processEvents()


def test_an_invalid_schema_blocks_leaving_design_and_sending_and_says_so(qtbot, window: MainWindow, dialogs) -> None:
    window.open_template(SCENARIOS / "retail_loyalty.toml")
    _ready_tenant(qtbot, window, dialogs)
    window.go_to(2)
    design = window.design_page
    editor = design.schema_editor
    assert editor.select_path("guest.ext.loyaltyTier")
    _type(qtbot, editor.name_edit, "loyalty tier!")
    problem = design.validation_error()
    assert problem is not None
    assert "loyalty tier!" in problem

    # Next is off, and says why; the step list shows Send as blocked by Design, and the Send button is off.
    assert not window.next_button.isEnabled()
    assert "loyalty tier!" in window.next_button.toolTip()
    assert window.steps.item(4).toolTip().startswith("Missing: first complete 3. Design data:")
    assert not window.send_page.send_button.isEnabled()
    assert "3. Design data" in window.send_page.send_button.toolTip()

    # A click on "5. Send" is refused: the page says so in its status line, and the list stays on Design.
    _click_step(qtbot, window, 4)
    assert window.current_index == 2
    assert window.steps.currentRow() == 2
    assert [item.text() for item in window.steps.selectedItems()] == ["3. Design data"]
    assert window.page_status.text().startswith("Cannot leave Design data yet:")
    assert "loyalty tier!" in window.page_status.text()

    # Fixed: everything agrees again.
    _type(qtbot, editor.name_edit, "loyaltyTier")
    qtbot.waitUntil(lambda: design.validation_error() is None)
    assert window.next_button.isEnabled()
    assert not window.page_status.text().startswith("Cannot leave")
    assert window.send_page.send_button.isEnabled()


def test_zero_guests_is_refused_by_the_studio_as_by_run(qtbot, window: MainWindow, dialogs, tmp_path: Path) -> None:
    window.open_template(SCENARIOS / "retail_loyalty.toml")
    _ready_tenant(qtbot, window, dialogs)
    window.go_to(2)
    window.design_page.guests_spin.setValue(0)
    assert window.design_page.validation_error() == "generate at least one guest"
    assert window.go_to(4)
    send = window.send_page
    assert not send.send_button.isEnabled()
    assert "3. Design data: generate at least one guest" in (send.validation_error() or "")
    assert "3. Design data" in window.steps.item(4).toolTip()
    # Even asked directly, the page refuses: nothing is sent, no run folder is made.
    send.send()
    assert "Cannot send yet: 3. Design data: generate at least one guest" in send.status_label.text()
    assert not window.run.running
    assert window.run.folder is None

    # The command line refuses the same scenario as bad usage (exit 2), before it sends anything.
    scenario = load_scenario(SCENARIOS / "retail_loyalty.toml")
    zero = scenario.generator.model_copy(update={"guests": 0})
    inline = scenario.resolved_schema(SCENARIOS)
    scenario = scenario.model_copy(update={"generator": zero, "schema_file": None, "extensions": inline})
    path = tmp_path / "zero.toml"
    save_scenario(scenario, path)
    result = CliRunner().invoke(cli, ["run", str(path), "--runs", str(tmp_path / "cli-runs")])
    assert result.exit_code == 2, result.output
    assert "guests is 0" in result.output
    assert not (tmp_path / "cli-runs").exists()
