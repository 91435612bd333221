"""F1 opens the step's help, the designer undoes and redoes, Delete removes a field, and
`cdp-poc-studio FILE.toml` opens the file in the studio."""

from __future__ import annotations

import logging
from pathlib import Path

from click.testing import CliRunner
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from cdp_poc_studio.cli.main import cli
from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.ui.main_window import MainWindow


def test_f1_opens_the_help_of_the_current_step_with_links(qtbot, window: MainWindow, opened_urls, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    window.activateWindow()
    window.go_to(2)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    QApplication.processEvents()
    assert window.help_dock.isVisible()
    text = window.help_view.toPlainText()
    assert text.startswith("3. Design data")
    assert "CDP's rules this step checks" in text
    assert "camelCase" in text
    assert "Ambiguous shortcut" not in caplog.text
    html = window.help_view.toHtml()
    assert "https://doc.sitecore.com/cdp/en/developers/api/guest-extension-data-model.html" in html
    # Another step, another help; a link opens in the browser.
    window.go_to(4)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert window.help_view.toPlainText().startswith("5. Send")
    window.help_view.anchorClicked.emit(_first_link(window))
    assert opened_urls
    assert opened_urls[-1].toString().startswith("https://doc.sitecore.com/")


def _first_link(window: MainWindow):  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QUrl

    html = window.help_view.toHtml()
    start = html.index('href="') + len('href="')
    return QUrl(html[start : html.index('"', start)])


def test_delete_removes_a_field_and_undo_redo_walk_the_history(qtbot, window: MainWindow) -> None:
    window.open_template(SCENARIOS / "retail_loyalty.toml")
    window.go_to(2)
    editor = window.design_page.schema_editor
    original = editor.schema_data()
    assert editor.select_path("guest.ext.loyaltyTier")
    editor.tree.setFocus()
    qtbot.keyClick(editor.tree, Qt.Key.Key_Delete)
    assert editor.item_at("guest.ext.loyaltyTier") is None
    assert "loyaltyTier" not in editor.schema_data()["guest"]["ext"]

    # A rename is one step of the history.
    assert editor.select_path("guest.ext.address")
    editor.name_edit.selectAll()
    qtbot.keyClicks(editor.name_edit, "homeAddress")
    qtbot.keyClick(editor.name_edit, Qt.Key.Key_Return)
    assert editor.item_at("guest.ext.homeAddress") is not None
    assert editor.undo_stack.count() == 2

    window.undo_action.trigger()
    assert editor.item_at("guest.ext.address") is not None
    assert editor.item_at("guest.ext.homeAddress") is None
    assert editor.item_at("guest.ext.loyaltyTier") is None
    window.undo_action.trigger()
    assert editor.schema_data() == original
    assert not window.undo_action.isEnabled()
    # The design page sees the restored schema: the document gets it when the page is left.
    window.redo_action.trigger()
    assert editor.item_at("guest.ext.loyaltyTier") is None
    window.go_to(3)
    assert "loyaltyTier" not in window.document.schema().guest["ext"]
    assert "address" in window.document.schema().guest["ext"]


def test_a_toml_file_as_the_only_argument_opens_the_studio(tmp_path: Path) -> None:
    # A file that does not exist: the studio's own command (gui) answers, not "No such command".
    result = CliRunner().invoke(cli, [str(tmp_path / "my-poc.toml")])
    assert result.exit_code == 2
    assert "No such command" not in result.output
    assert "my-poc.toml" in result.output
    assert "does not exist" in result.output
