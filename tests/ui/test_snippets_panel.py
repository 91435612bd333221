"""The Report step's Snippets: a run's nested-data code by kind, copied with a click, and the hand-off written."""

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from tests.helpers.studio import open_studio, send

pytestmark = pytest.mark.slow


def test_snippets_tab_copies_code_and_writes_the_handoff(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = open_studio(qtbot, make_window, "retail_loyalty", guests=6)
    report = send(qtbot, window)
    assert report.verdict == "passed"
    window.go_to(6)
    summary = window.report_page.summary_text.toPlainText()
    assert "the generated Personalize decisions unpacked the nested data of 6 of 6 guests" in summary
    assert summary.count("the audience export found") == 1
    panel = window.report_page.snippets
    assert "proved on every guest read back" in panel.note.text()
    decisions = panel.lists["decision"]
    assert decisions.list.count() == 3  # ext.address, ext.favouriteCategories, ext1.preferences
    decisions.list.setCurrentRow(2)
    assert "guest.dataExtensions" in decisions.code.toPlainText()
    with qtbot.waitSignal(panel.copied) as copied:
        qtbot.mouseClick(decisions.copy_button, Qt.MouseButton.LeftButton)
    assert copied.args == ["decisions/guest_ext1_preferences.js"]
    assert QGuiApplication.clipboard().text() == decisions.code.toPlainText()
    sql = panel.lists["sql"]
    assert sql.list.count() == 3
    assert "FROM guests g" in sql.code.toPlainText()

    out = tmp_path / "handoff"
    window.context.dialogs.texts.append(str(out))
    with qtbot.waitSignal(panel.handoff_written) as written:
        qtbot.mouseClick(panel.handoff_button, Qt.MouseButton.LeftButton)
    assert written.args[0].out == out
    assert (out / "postman" / "collection.json").is_file()
    assert (out / "load.py").is_file()
    assert "Hand-off written" in panel.status.text()


def test_the_advisor_estimates_a_full_load_of_the_answered_volume(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    from cdp_poc_studio.resources import SCENARIOS

    window = make_window()
    window.open_template(SCENARIOS / "retail_loyalty.toml")
    window.go_to(1)
    page = window.integration_page
    page.volume.setValue(2_000_000)
    text = page.capacity.text.text()
    assert "2,000,000 guests with their orders: <b>BATCH</b>" in text
    assert "10.00 day(s)" in text
    assert page.capacity.plan is not None
    assert page.capacity.plan.guests == 2_000_000
