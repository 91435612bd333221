"""Map fields (generated and imported sources, payloads) and the integration point advisor page."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt

from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.ui.main_window import MainWindow
from cdp_poc_studio.ui.pages.mapping import CHECK_COL


def _mapping(window: MainWindow):  # type: ignore[no-untyped-def]
    window.open_template(SCENARIOS / "retail_loyalty.toml")
    window.go_to(3)
    return window.mapping_page


def test_generated_fields_remapped_validated_and_shown_as_payload(qtbot, window: MainWindow) -> None:
    page = _mapping(window)
    assert page.table.rowCount() > 20
    batch = page.payload.toPlainText().splitlines()
    first = json.loads(batch[0])
    assert first["schema"] == "guest"
    assert first["value"]["extensions"][0]["name"] == "ext"
    # Remap the loyalty tier to another key of ext1: the batch line follows.
    combo = page.target_combo("ext.loyaltyTier")
    combo.lineEdit().selectAll()
    qtbot.keyClicks(combo.lineEdit(), "ext1.tier")
    line = json.loads(page.payload.toPlainText().splitlines()[0])
    ext1 = next(g for g in line["value"]["extensions"] if g["name"] == "ext1")
    assert "tier" in ext1
    assert "loyaltyTier" not in line["value"]["extensions"][0]
    assert page.validation_error() is None
    # A key that breaks CDP's rules is flagged on its row.
    combo.lineEdit().selectAll()
    qtbot.keyClicks(combo.lineEdit(), "ext1.loyalty_tier")
    row = [page.table.item(r, 0).text() for r in range(page.table.rowCount())].index("ext.loyaltyTier")
    assert page.table.item(row, CHECK_COL).text().startswith("✖ extension key 'loyalty_tier'")
    # The checker says the same, and the exact batch line does not carry the refused key.
    assert "extension key 'loyalty_tier'" in page.lint_label.text()
    assert "loyalty_tier" not in page.payload.toPlainText()
    assert "loyalty_tier" in (page.validation_error() or "")
    # Two sources to one target.
    combo.lineEdit().selectAll()
    qtbot.keyClicks(combo.lineEdit(), "firstName")
    assert "already goes to firstName" in (page.validation_error() or "")
    combo.lineEdit().selectAll()
    qtbot.keyClicks(combo.lineEdit(), "ext1.tier")
    # REST: the requests in order, guest first, then its extension groups, then orders.
    qtbot.mouseClick(page.api_rest, Qt.MouseButton.LeftButton)
    text = page.payload.toPlainText()
    assert text.startswith("# 1. POST /v2.1/guests\n")
    assert "# 2. POST /v2.1/guests/{guestRef}/extensions" in text
    # The rule is kept in the scenario.
    window.go_to(2)
    rules = [(r.source, r.target) for r in window.document.scenario.mapping]
    assert rules == [("ext.loyaltyTier", "ext1.tier")]
    window.go_to(3)
    assert page.target_combo("ext.loyaltyTier").currentText() == "ext1.tier"


def test_rest_payload_for_a_guest_with_orders(qtbot, window: MainWindow) -> None:
    page = _mapping(window)
    qtbot.mouseClick(page.api_rest, Qt.MouseButton.LeftButton)
    for record in range(page.record_spin.maximum() + 1):
        page.record_spin.setValue(record)
        if "/v2.1/orders" in page.payload.toPlainText():
            break
    text = page.payload.toPlainText()
    assert "POST /v2.1/orders/{orderRef1}/contacts" in text
    assert "POST /v2.1/orders/{orderRef1}/orderItems" in text
    assert "no problems" in page.lint_label.text()


def test_import_a_csv_sample_with_suggestions(qtbot, window: MainWindow, tmp_path: Path, dialogs) -> None:
    sample = tmp_path / "customers.csv"
    sample.write_text(
        "Customer ID,E-mail,First Name,Surname,Loyalty Tier,points\n"
        "C-1,ann@example.com,Ann,Lee,gold,120\n"
        "C-2,bob@example.com,Bob,Ray,silver,40\n"
    )
    page = _mapping(window)
    dialogs.open_paths.append(sample)
    with qtbot.waitSignal(page.sample_ready):
        qtbot.mouseClick(page.import_button, Qt.MouseButton.LeftButton)
    assert page.source == "imported"
    targets = {page.table.item(r, 0).text(): page.target_of(r) for r in range(page.table.rowCount())}
    assert targets == {
        "Customer ID": "identifiers.id",
        "E-mail": "email",
        "First Name": "firstName",
        "Surname": "lastName",
        "Loyalty Tier": "ext.loyaltyTier",
        "points": "ext.points",
    }
    record = json.loads(page.payload.toPlainText())
    assert record["value"]["email"] == "ann@example.com"
    assert record["value"]["identifiers"] == [{"provider": "POC_STUDIO", "id": "C-1"}]
    assert record["value"]["extensions"] == [{"name": "ext", "key": "default", "loyaltyTier": "gold", "points": 120}]
    assert "no problems" in page.lint_label.text()
    page.record_spin.setValue(1)
    assert json.loads(page.payload.toPlainText())["value"]["firstName"] == "Bob"


def test_import_a_nested_json_sample(qtbot, window: MainWindow, tmp_path: Path, dialogs) -> None:
    sample = tmp_path / "customers.json"
    sample.write_text(json.dumps([{"email": "c@example.com", "address": {"city": "Cork", "zip": "T12"}}]))
    page = _mapping(window)
    page.import_sample(sample)
    targets = {page.table.item(r, 0).text(): page.target_of(r) for r in range(page.table.rowCount())}
    assert targets == {"email": "email", "address.city": "city", "address.zip": "postCode"}


def test_advisor_recommends_and_the_choice_is_stored(qtbot, window: MainWindow) -> None:
    window.go_to(1)
    page = window.integration_page
    assert "Batch API" in page.recommendation.text()
    page.volume.lineEdit().selectAll()
    qtbot.keyClicks(page.volume.lineEdit(), "300")
    page.freshness.setCurrentIndex(page.freshness.findData("seconds"))
    assert "Guest and Order REST API" in page.recommendation.text()
    assert "50 MB" not in page.reasons.toPlainText()
    page.purpose.setCurrentIndex(page.purpose.findData("analytics"))
    assert "Data Lake Export" in page.reasons.toPlainText()
    page.purpose.setCurrentIndex(page.purpose.findData("activation"))
    assert "midnight UTC" in page.reasons.toPlainText()
    assert page.load_batch.isChecked()
    assert "recommends the Guest and Order REST API" in page.choice_note.text()
    qtbot.mouseClick(page.use_recommendation, Qt.MouseButton.LeftButton)
    assert page.load_rest.isChecked()
    assert page.choice_note.text().startswith("Audience exports")
    # Pull back at least one way.
    qtbot.mouseClick(page.pull_rest, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(page.pull_export, Qt.MouseButton.LeftButton)
    assert "at least one way" in (page.validation_error() or "")
    qtbot.mouseClick(page.pull_export, Qt.MouseButton.LeftButton)
    window.go_to(2)
    integration = window.document.scenario.integration
    assert integration.load == "rest"
    assert integration.pull_back == ["export"]
    assert integration.advisor is not None
    assert integration.advisor.freshness == "seconds"
