"""The shell: steps, navigation by mouse and keyboard, the scenario as the document, settings between runs."""

from __future__ import annotations

import tomllib
from pathlib import Path

from PySide6.QtCore import Qt

from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.roundtrip.scenario import load_scenario
from cdp_poc_studio.ui.main_window import MainWindow


def test_steps_are_listed_in_order_with_their_status(window: MainWindow) -> None:
    titles = [window.steps.item(i).text() for i in range(window.steps.count())]
    assert titles == [
        "1. Connect",
        "2. Choose the integration point",
        "3. Design data",
        "4. Map fields",
        "5. Send",
        "6. Verify",
        "7. Report",
    ]
    # The sandbox is not running in this test, so the Connect step says what is missing.
    assert "start the embedded sandbox" in window.steps.item(0).toolTip()
    # Send names the first incomplete step before it, as its own button does.
    assert window.steps.item(4).toolTip().startswith("Missing: first complete 1. Connect: start the embedded sandbox")
    assert not window.send_page.send_button.isEnabled()
    assert window.page_status.text().startswith("Missing: start the embedded sandbox")


def test_free_navigation_by_clicks_buttons_and_shortcuts(qtbot, window: MainWindow) -> None:
    # Next follows the step's validator (the sandbox is not running); the list and the keys still go anywhere.
    assert not window.next_button.isEnabled()
    assert "start the embedded sandbox" in window.next_button.toolTip()
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert window.current_index == 1
    assert window.next_button.isEnabled()
    qtbot.mouseClick(window.next_button, Qt.MouseButton.LeftButton)
    assert window.current_index == 2
    window.go_to(1)
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert window.current_index == 2
    qtbot.keyClick(window, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
    assert window.current_index == 3
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert window.current_index == 2
    qtbot.keyClick(window, Qt.Key.Key_7, Qt.KeyboardModifier.ControlModifier)
    assert window.current_index == 6
    assert window.stack.currentWidget() is window.report_page
    window.steps.setCurrentRow(0)
    assert window.current_index == 0
    assert not window.back_button.isEnabled()


def test_title_shows_the_file_and_a_modified_marker(qtbot, window: MainWindow, tmp_path: Path, dialogs) -> None:
    assert window.windowTitle() == "Untitled[*] — CDP PoC Studio"
    assert not window.isWindowModified()
    window.go_to(1)
    qtbot.mouseClick(window.integration_page.load_rest, Qt.MouseButton.LeftButton)
    assert window.isWindowModified()
    dialogs.save_paths.append(tmp_path / "poc.toml")
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert window.windowTitle() == "poc.toml[*] — CDP PoC Studio"
    assert not window.isWindowModified()
    assert tomllib.loads((tmp_path / "poc.toml").read_text())["integration"]["load"] == "rest"


def test_saving_and_reopening_loses_nothing(qtbot, make_window, tmp_path: Path, dialogs) -> None:
    window = make_window()
    window.open_template(SCENARIOS / "retail_loyalty.toml")
    # Change something on every page that has settings.
    window.go_to(1)
    page = window.integration_page
    page.volume.lineEdit().selectAll()
    qtbot.keyClicks(page.volume.lineEdit(), "1500")
    qtbot.mouseClick(page.partial, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(page.use_recommendation, Qt.MouseButton.LeftButton)
    assert page.load_rest.isChecked()
    window.go_to(2)
    design = window.design_page
    design.tabs.setCurrentIndex(1)
    design.seed_spin.lineEdit().selectAll()
    qtbot.keyClicks(design.seed_spin.lineEdit(), "777")
    design.orders_edit.clear()
    qtbot.keyClicks(design.orders_edit, "uniform:0-2")
    design.tabs.setCurrentIndex(0)
    editor = design.schema_editor
    editor.select_path("guest.ext.vipMember")
    editor.name_edit.clear()
    qtbot.keyClicks(editor.name_edit, "isVip")
    qtbot.keyClick(editor.name_edit, Qt.Key.Key_Return)
    window.go_to(0)
    window.connect_page.snapshot_combo.setCurrentIndex(1)  # nightly
    dialogs.save_paths.append(tmp_path / "mine" / "retail.toml")
    (tmp_path / "mine").mkdir()
    assert window.save_as()
    saved = window.document.scenario

    again = make_window()
    assert again.open_scenario(tmp_path / "mine" / "retail.toml")
    reopened = again.document.scenario
    assert reopened == saved
    assert reopened.generator.seed == 777
    assert str(reopened.generator.orders_per_guest) == "uniform:0-2"
    assert reopened.integration.load == "rest"
    assert reopened.integration.advisor is not None
    assert reopened.integration.advisor.volume == 1500
    assert reopened.target.snapshot == "nightly"
    assert "isVip" in reopened.extensions.guest["ext"]
    assert reopened.schema_file is None  # an edited schema is kept in the scenario
    # And the widgets show it again.
    again.go_to(2)
    assert again.design_page.seed_spin.value() == 777
    assert again.design_page.schema_editor.item_at("guest.ext.isVip") is not None
    assert load_scenario(tmp_path / "mine" / "retail.toml") == saved


def test_save_as_elsewhere_keeps_the_schema_file_reachable(window: MainWindow, tmp_path: Path, dialogs) -> None:
    window.open_template(SCENARIOS / "travel_bookings.toml")
    dialogs.save_paths.append(tmp_path / "travel.toml")
    assert window.save_as()
    reopened = load_scenario(tmp_path / "travel.toml")
    assert reopened.schema_file is not None
    assert reopened.resolved_schema(tmp_path) == load_scenario(SCENARIOS / "travel_bookings.toml").resolved_schema(
        SCENARIOS
    )


def test_unsaved_changes_prompt_cancel_discard_and_save(qtbot, window: MainWindow, tmp_path: Path, dialogs) -> None:
    window.go_to(1)
    qtbot.mouseClick(window.integration_page.load_rest, Qt.MouseButton.LeftButton)
    # Cancel: nothing happens.
    dialogs.save_answers.append("cancel")
    window.new_scenario()
    assert dialogs.asked[-1] == ("save_changes", "Untitled")
    assert window.document.scenario.integration.load == "rest"
    # Save: asks where, writes, then opens the new document.
    dialogs.save_answers.append("save")
    dialogs.save_paths.append(tmp_path / "kept.toml")
    window.new_scenario()
    assert (tmp_path / "kept.toml").exists()
    assert window.document.path is None
    assert window.document.scenario.integration.load == "batch"
    # Discard: the change is dropped.
    qtbot.mouseClick(window.integration_page.load_rest, Qt.MouseButton.LeftButton)
    dialogs.save_answers.append("discard")
    window.new_scenario()
    assert window.document.scenario.integration.load == "batch"
    assert not window.isWindowModified()


def test_closing_with_changes_asks_and_can_be_cancelled(qtbot, window: MainWindow, dialogs) -> None:
    window.go_to(1)
    qtbot.mouseClick(window.integration_page.load_rest, Qt.MouseButton.LeftButton)
    dialogs.save_answers.append("cancel")
    window.close()
    assert window.isVisible()
    dialogs.save_answers.append("discard")
    window.close()
    assert not window.isVisible()


def test_a_broken_scenario_is_reported_with_its_line(window: MainWindow, tmp_path: Path, dialogs) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('scenario_version = 1\nname = "x"\n[generator]\nguests = -5\n')
    assert not window.open_scenario(bad)
    title, text = dialogs.errors[-1]
    assert title == "Cannot open the scenario"
    assert "line 4" in text
    assert "generator.guests" in text


def test_recent_files_geometry_and_last_folder_are_remembered(make_window, tmp_path: Path, dialogs) -> None:
    settings = tmp_path / "settings.json"
    first = make_window(settings_path=settings)
    first.resize(1111, 777)
    dialogs.save_paths.append(tmp_path / "one.toml")
    first.save_as()
    first.close()
    saved = settings.read_text()
    assert "api_token" not in saved
    assert "secret" not in saved.lower()
    second = make_window(settings_path=settings)
    # The offscreen screen is small, so Qt fits the restored geometry into it: not the 1280x820 default.
    assert second.context.settings.geometry
    assert second.size().width() < 1280
    assert second.context.settings.recent_files == [str(tmp_path / "one.toml")]
    assert second.context.settings.last_folder == str(tmp_path)
    actions = second.recent_menu.actions()
    assert [a.text() for a in actions] == [str(tmp_path / "one.toml")]
    actions[0].trigger()
    assert second.document.path == tmp_path / "one.toml"
