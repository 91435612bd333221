"""Design data: generator settings, the schema tree editor, the live preview and CDP's findings."""

from __future__ import annotations

from PySide6.QtCore import Qt

from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.ui.main_window import MainWindow


def _design(window: MainWindow, template: str = "retail_loyalty.toml"):  # type: ignore[no-untyped-def]
    window.open_template(SCENARIOS / template)
    window.go_to(2)
    return window.design_page


def _rename(qtbot, editor, path: str, name: str) -> None:  # type: ignore[no-untyped-def]
    assert editor.select_path(path)
    editor.name_edit.selectAll()
    qtbot.keyClicks(editor.name_edit, name)
    qtbot.keyClick(editor.name_edit, Qt.Key.Key_Return)


def test_preview_shows_guests_nested_and_flattened(qtbot, window: MainWindow) -> None:
    page = _design(window)
    qtbot.waitUntil(lambda: page.table_model.rowCount() == page.sample_spin.value())
    assert page.table_model.rowCount() == 50
    first = page.preview.guests[0]
    assert page.table_model.index(0, 2).data() == first.guest["email"]
    # Nested on the left, flattened keys on the right.
    assert page.nested_tree.find_key("address") is not None
    assert page.flat_tree.find_key("addressCity") is not None
    assert page.nested_tree.find_key("addressCity") is None
    assert "guest.ext1.preferences" in page.serialised_note.text()
    assert page.validation_error() is None


def test_a_key_collision_is_listed_linked_and_fixed_in_the_editor(qtbot, window: MainWindow) -> None:
    page = _design(window)
    editor = page.schema_editor
    # A new top-level field named addressCity collides with address.city flattened to addressCity.
    editor.select_path("guest.ext.loyaltyTier")
    qtbot.mouseClick(editor.add_field_button, Qt.MouseButton.LeftButton)
    _rename(qtbot, editor, "guest.ext.newField", "addressCity")
    texts = [page.findings_list.item(i).text() for i in range(page.findings_list.count())]
    collision = [t for t in texts if "addressCity" in t and "rename one of them" in t]
    assert collision, texts
    assert "addressCity" in (page.validation_error() or "")
    assert "Missing:" in window.page_status.text()
    # Clicking the finding selects the field at fault in the tree.
    editor.select_path("guest.ext.loyaltyTier")
    row = texts.index(collision[0])
    item = page.findings_list.item(row)
    rect = page.findings_list.visualItemRect(item)
    qtbot.mouseClick(page.findings_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert editor.path_of(editor.tree.currentItem()) in ("guest.ext.address.city", "guest.ext.addressCity")
    # Rename it: the finding goes away and the step is complete again.
    editor.select_path("guest.ext.addressCity")
    _rename(qtbot, editor, "guest.ext.addressCity", "homeCity")
    qtbot.waitUntil(lambda: page.validation_error() is None)
    texts = [page.findings_list.item(i).text() for i in range(page.findings_list.count())]
    assert texts == ["No findings: the schema and the sample follow CDP's rules."]


def test_a_bad_field_name_and_a_bad_provider_are_findings_at_the_field(qtbot, window: MainWindow) -> None:
    page = _design(window)
    editor = page.schema_editor
    _rename(qtbot, editor, "guest.ext.homeStore", "home_store")
    assert any("home_store" in page.findings_list.item(i).text() for i in range(page.findings_list.count()))
    _rename(qtbot, editor, "guest.ext.home_store", "homeStore")
    editor.provider_combo.lineEdit().selectAll()
    qtbot.keyClicks(editor.provider_combo.lineEdit(), "no_such_provider")
    page.refresh_preview()
    qtbot.waitUntil(lambda: "no_such_provider" in (page.validation_error() or ""))
    item = page.findings_list.item(0)
    assert item.data(Qt.ItemDataRole.UserRole) == "guest.ext.homeStore"
    editor.provider_combo.lineEdit().selectAll()
    qtbot.keyClicks(editor.provider_combo.lineEdit(), "city")
    page.refresh_preview()
    qtbot.waitUntil(lambda: page.validation_error() is None)


def test_add_nested_object_and_list_reorder_and_remove(qtbot, window: MainWindow) -> None:
    page = _design(window)
    editor = page.schema_editor
    editor.select_path("order.ext")
    qtbot.mouseClick(editor.add_field_button, Qt.MouseButton.LeftButton)
    _rename(qtbot, editor, "order.ext.newField", "delivery")
    editor.kind_combo.setCurrentText("object")
    assert editor.item_at("order.ext.delivery.name") is not None
    qtbot.mouseClick(editor.add_child_button, Qt.MouseButton.LeftButton)
    assert editor.item_at("order.ext.delivery.newField") is not None
    editor.select_path("order.ext.delivery")
    editor.flatten_combo.setCurrentIndex(2)  # one JSON string
    assert editor.item_at("order.ext.delivery").text(2) == "one JSON string"
    # A list of choices with weights.
    editor.select_path("order.ext.promotion")
    qtbot.mouseClick(editor.add_field_button, Qt.MouseButton.LeftButton)
    _rename(qtbot, editor, "order.ext.newField", "tags")
    editor.kind_combo.setCurrentText("list")
    editor.select_path("order.ext.tags[]")
    editor.choices_edit.selectAll()
    qtbot.keyClicks(editor.choices_edit, "gift, express, eco")
    qtbot.keyClicks(editor.weights_edit, "1, 2, 3")
    # Reorder: move tags up, above promotion.
    editor.select_path("order.ext.tags")
    qtbot.mouseClick(editor.up_button, Qt.MouseButton.LeftButton)
    data = editor.schema_data()
    names = list(data["order"]["ext"])
    assert names.index("tags") < names.index("promotion")
    assert data["order"]["ext"]["tags"]["item"] == {
        "kind": "choice", "choices": ["gift", "express", "eco"], "weights": [1.0, 2.0, 3.0]
    }  # fmt: skip
    assert data["order"]["ext"]["delivery"]["flatten"] == "json"
    # Remove the object again.
    editor.select_path("order.ext.delivery")
    qtbot.mouseClick(editor.remove_button, Qt.MouseButton.LeftButton)
    assert "delivery" not in editor.schema_data()["order"]["ext"]
    page.refresh_preview()
    qtbot.waitUntil(lambda: page.validation_error() is None)
    orders = [o for g in page.preview.guests for o in g.orders]
    assert all(o.nested_extension["tags"] for o in orders)


def test_new_seed_and_settings_validation(qtbot, window: MainWindow) -> None:
    page = _design(window)
    page.tabs.setCurrentIndex(1)
    before = page.seed_spin.value()
    first_email = page.preview.guests[0].guest["email"] if page.preview else None
    qtbot.mouseClick(page.new_seed_button, Qt.MouseButton.LeftButton)
    assert page.seed_spin.value() != before
    page.refresh_preview()
    qtbot.waitUntil(lambda: page.preview is not None and page.preview.guests[0].guest["email"] != first_email)
    page.orders_edit.selectAll()
    qtbot.keyClicks(page.orders_edit, "poisson:lots")
    assert "poisson:lots" in page.settings_error.text()
    assert page.validation_error() is not None
    # Leaving the page with impossible settings is refused, with the reason in the status bar.
    assert not window.go_to(3)
    assert window.current_index == 2
    assert "poisson:lots" in window.statusBar().currentMessage()
    page.orders_edit.selectAll()
    qtbot.keyClicks(page.orders_edit, "fixed:2")
    # Unticking every locale is not allowed either.
    for index in range(page.locales_list.count()):
        page.locales_list.item(index).setCheckState(Qt.CheckState.Unchecked)
    assert "locale" in (page.validation_error() or "")
    page.locales_list.item(0).setCheckState(Qt.CheckState.Checked)
    assert page.validation_error() is None
    assert window.go_to(3)
    assert str(window.document.scenario.generator.orders_per_guest) == "fixed:2"
    assert window.document.scenario.generator.locales == ["en_US"]


def test_bad_numbers_in_the_generator_settings_are_explained_in_words(qtbot, window: MainWindow) -> None:
    """Issue 13 item 3: no "invalid literal for int() with base 10" on screen."""
    page = _design(window)
    page.tabs.setCurrentIndex(1)
    for typed, expected in (
        ("fixed:x", "write a whole number after fixed:, for example fixed:2"),
        ("uniform:1-x", "write two whole numbers after uniform:, for example uniform:1-3"),
        ("poisson:lots", "write a number after poisson:, for example poisson:1.5"),
    ):
        page.orders_edit.selectAll()
        qtbot.keyClicks(page.orders_edit, typed)
        shown = page.settings_error.text()
        assert expected in shown, shown
        assert "invalid literal" not in shown
        assert "could not convert" not in shown
        assert expected in (page.validation_error() or "")
