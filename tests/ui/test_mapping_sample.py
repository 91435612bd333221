"""Map fields with the customer's own sample: transforms edited per row with a live before and after, one check for
rows, checker and payload, and the sample saved into the scenario and reopened."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PySide6.QtCore import Qt

from cdp_poc_studio.resources import RESOURCES, SCENARIOS
from cdp_poc_studio.roundtrip.scenario import load_scenario
from cdp_poc_studio.ui.main_window import MainWindow
from cdp_poc_studio.ui.pages.mapping import AFTER_COL, BEFORE_COL, CHECK_COL, MappingPage

SAMPLE = RESOURCES / "samples" / "crm_customers.csv"


def _imported(qtbot, window: MainWindow, tmp_path: Path, dialogs) -> MappingPage:  # type: ignore[no-untyped-def]
    sample = tmp_path / "crm_customers.csv"
    shutil.copy(SAMPLE, sample)
    window.open_template(SCENARIOS / "retail_loyalty.toml")
    window.go_to(3)
    page = window.mapping_page
    dialogs.open_paths.append(sample)
    with qtbot.waitSignal(page.sample_ready):
        qtbot.mouseClick(page.import_button, Qt.MouseButton.LeftButton)
    assert page.source == "imported"
    return page


def _type_steps(qtbot, page: MappingPage, column: str, text: str) -> None:  # type: ignore[no-untyped-def]
    edit = page.steps_of(page.row_of(column))
    assert edit is not None
    edit.selectAll()
    edit.del_()
    if text:
        qtbot.keyClicks(edit, text)


def _set_target(qtbot, page: MappingPage, column: str, target: str) -> None:  # type: ignore[no-untyped-def]
    combo = page.target_combo(column)
    assert combo is not None
    combo.lineEdit().selectAll()
    qtbot.keyClicks(combo.lineEdit(), target)


def _cell(page: MappingPage, column: str, col: int) -> str:
    return page.table.item(page.row_of(column), col).text()


def test_import_suggests_transforms_and_shows_before_and_after(
    qtbot, window: MainWindow, tmp_path: Path, dialogs
) -> None:
    page = _imported(qtbot, window, tmp_path, dialogs)
    assert (_cell(page, "Date of Birth", BEFORE_COL), _cell(page, "Date of Birth", AFTER_COL)) == (
        "14/03/1985", "1985-03-14T00:00Z",
    )  # fmt: skip
    assert (_cell(page, "Country", BEFORE_COL), _cell(page, "Country", AFTER_COL)) == ("Ireland", "IE")
    assert (_cell(page, "Lifetime Value", BEFORE_COL), _cell(page, "Lifetime Value", AFTER_COL)) == (
        "1.234,50",
        "1234.5",
    )
    assert _cell(page, "First Name", AFTER_COL) == "aoife"
    # Live: a transform typed in the row changes its After at once, and the exact payload follows.
    _type_steps(qtbot, page, "First Name", "trim | case:title")
    assert _cell(page, "First Name", AFTER_COL) == "Aoife"
    assert json.loads(page.payload.toPlainText())["value"]["firstName"] == "Aoife"
    page.record_spin.setValue(2)
    assert (_cell(page, "First Name", BEFORE_COL), _cell(page, "First Name", AFTER_COL)) == ("Zoë ", "Zoë")
    assert page.validation_error() is None
    assert "no problems in the 10 sample records" in page.lint_label.text()


def test_rows_checker_and_payload_agree(qtbot, window: MainWindow, tmp_path: Path, dialogs) -> None:
    """Issue 13, item 4: a tick means the exact payload passes every CDP rule for the chosen API."""
    page = _imported(qtbot, window, tmp_path, dialogs)
    # No transforms on the date and the country: CDP would refuse 14/03/1985 and "Ireland".
    _type_steps(qtbot, page, "Date of Birth", "")
    _type_steps(qtbot, page, "Country", "")
    for column, rule in (("Date of Birth", "not an ISO 8601 date-time"), ("Country", "ISO 3166-1 alpha-2")):
        assert _cell(page, column, CHECK_COL).startswith("✖")
        assert rule in _cell(page, column, CHECK_COL)
        assert rule in page.lint_label.text()
    line = json.loads(page.payload.toPlainText())
    assert (line["value"]["dateOfBirth"], line["value"]["country"]) == ("14/03/1985", "Ireland")
    assert page.validation_error() is not None
    # A target CDP refuses: the row says so, the checker says so, and the batch line does not carry it.
    _set_target(qtbot, page, "Email Opt-In", "ext.email opt-in!")
    assert _cell(page, "Email Opt-In", CHECK_COL).startswith("✖")
    # Not sent, but its value still shown, to choose a better target by.
    assert (_cell(page, "Email Opt-In", BEFORE_COL), _cell(page, "Email Opt-In", AFTER_COL)) == ("yes", "")
    assert "Email Opt-In" in page.lint_label.text() or "ext.email opt-in!" in (page.validation_error() or "")
    assert "opt-in" not in page.payload.toPlainText()
    # A transform that fails on a later record: its row is not ticked even while record 0 looks fine.
    _type_steps(qtbot, page, "Date of Birth", "date:%d/%m/%Y")
    _type_steps(qtbot, page, "Country", "country")
    _set_target(qtbot, page, "Email Opt-In", "ext.emailOptIn")
    assert _cell(page, "Date of Birth", AFTER_COL) == "1985-03-14T00:00Z"
    assert "'1979-11-02' is not a date in the form %d/%m/%Y" in _cell(page, "Date of Birth", CHECK_COL)
    assert "row 2 (line 3), column 'Date of Birth'" in page.lint_label.text()
    # Fixed: every row ticked, and the checker finds nothing (by batch and by REST).
    _type_steps(qtbot, page, "Date of Birth", "date:%d/%m/%Y,%Y-%m-%d")
    checks = [page.table.item(r, CHECK_COL).text() for r in range(page.table.rowCount())]
    assert all(c in ("✔", "") for c in checks), checks
    assert page.validation_error() is None
    qtbot.mouseClick(page.api_rest, Qt.MouseButton.LeftButton)
    assert page.payload.toPlainText().startswith("# 1. POST /v2.1/guests\n")
    assert "no problems" in page.lint_label.text()


def test_a_sample_is_saved_into_the_scenario_and_reopened(qtbot, window: MainWindow, tmp_path: Path, dialogs) -> None:
    page = _imported(qtbot, window, tmp_path, dialogs)
    _type_steps(qtbot, page, "Tier", "lookup:g=gold,s=silver,b=bronze")
    _set_target(qtbot, page, "Tier", "ext.loyaltyTier")
    _type_steps(qtbot, page, "First Name", "trim | case:title")
    _set_target(qtbot, page, "Preferred Store", "(not sent)")
    assert _cell(page, "Tier", AFTER_COL) == "gold"
    saved = tmp_path / "poc.toml"
    dialogs.save_paths.append(saved)
    assert window.save_as()
    scenario = load_scenario(saved)
    assert scenario.source is not None
    assert scenario.source.file == "crm_customers.csv"
    rules = {rule.target: rule for rule in scenario.mapping}
    assert rules["ext.loyaltyTier"].column == "Tier"
    assert rules["ext.loyaltyTier"].transforms[0].op == "lookup"
    assert [t.op for t in rules["firstName"].transforms] == ["trim", "case"]
    assert "ext.preferredStore" not in rules
    # Reopened in a fresh window state: the same rows, transforms and targets, the same before and after.
    window.new_scenario()
    assert window.open_scenario(saved)
    window.go_to(3)
    page = window.mapping_page
    assert page.source == "imported"
    assert page.steps_of(page.row_of("Tier")).text() == "lookup:g=gold,s=silver,b=bronze"
    assert page.target_combo("Tier").currentText() == "ext.loyaltyTier"
    assert page.target_combo("Preferred Store").currentText() == "(not sent)"
    assert (_cell(page, "Tier", BEFORE_COL), _cell(page, "Tier", AFTER_COL)) == ("G", "gold")
    assert _cell(page, "First Name", AFTER_COL) == "Aoife"
    # Left unchanged, the page writes back exactly what it read.
    window.go_to(2)
    assert window.document.scenario.mapping == scenario.mapping
    assert not window.document.modified


def test_lookalike_data_is_proposed_from_the_sample_and_editable_in_design(
    qtbot, window: MainWindow, tmp_path: Path, dialogs
) -> None:
    page = _imported(qtbot, window, tmp_path, dialogs)
    _type_steps(qtbot, page, "Tier", "lookup:g=gold,s=silver,b=bronze")
    dialogs.texts.append("250")
    qtbot.mouseClick(page.lookalike_button, Qt.MouseButton.LeftButton)
    assert not dialogs.errors
    scenario = window.document.scenario
    assert scenario.source is not None
    assert scenario.source.synthetic_rows == 250
    fields = scenario.extensions.guest["ext"]
    assert fields["tier"].kind == "choice"
    assert set(fields["tier"].choices or []) == {"gold", "silver", "bronze"}
    assert fields["emailOptIn"].kind == "bool"
    assert scenario.generator.locales[0] == "en_IE"
    # The Design data step shows the proposal for editing; the mapping is still the sample's.
    window.go_to(2)
    assert window.document.scenario.extensions.guest["ext"]["tier"].kind == "choice"
    window.go_to(3)
    assert window.mapping_page.source == "imported"
    assert window.mapping_page.validation_error() is None


def test_a_scenario_whose_sample_is_gone_keeps_its_rules_and_says_why(
    qtbot, window: MainWindow, tmp_path: Path, dialogs
) -> None:
    page = _imported(qtbot, window, tmp_path, dialogs)
    saved = tmp_path / "poc.toml"
    dialogs.save_paths.append(saved)
    assert window.save_as()
    rules = load_scenario(saved).mapping
    (tmp_path / "crm_customers.csv").unlink()
    window.new_scenario()
    assert window.open_scenario(saved)
    window.go_to(3)
    page = window.mapping_page
    problem = page.validation_error() or ""
    assert "the scenario's sample cannot be read" in problem
    assert "crm_customers.csv" in problem
    assert "no such file" in problem
    window.go_to(2)  # leaving the page writes nothing over the unreadable sample's rules
    assert window.document.scenario.source is not None
    assert window.document.scenario.mapping == rules
