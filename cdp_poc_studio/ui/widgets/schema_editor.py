"""The extension schema editor: a tree of groups and fields, and a form for the selected field.

The tree is the editing surface, not a second copy of the state: `schema_data()` reads the whole schema back
from it, and the Design page validates that and stores it in the scenario when the page is left.
"""

# PySide6's stubs type every item lookup (child, parent, currentItem) as Optional; the tree's shape guarantees them.
# mypy: disable-error-code="union-attr, arg-type, return-value"
from __future__ import annotations

import json
import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cdp_poc_studio.domain.limits import GUEST_EXTENSION_NAMES
from cdp_poc_studio.domain.schema import FIELD_NAME, ExtensionSchema
from cdp_poc_studio.roundtrip.preview import Finding

NODE = Qt.ItemDataRole.UserRole
SPEC = Qt.ItemDataRole.UserRole + 1
GROUP = Qt.ItemDataRole.UserRole + 2
KINDS = ("faker", "choice", "int", "float", "bool", "date", "datetime", "const", "object", "list")
ENTITIES = {"guest": "Guest", "order": "Order", "order_item": "Order item"}
# Keys of a field spec that belong to each kind; the others are dropped when the kind changes.
KIND_KEYS = {
    "faker": {"provider", "args"},
    "choice": {"choices", "weights"},
    "int": {"min", "max"},
    "float": {"min", "max", "decimals"},
    "bool": set(),
    "date": {"start", "end"},
    "datetime": {"start", "end"},
    "const": {"value"},
    "object": set(),
    "list": {"min_items", "max_items"},
}
COMMON_KEYS = {"kind", "probability", "flatten"}
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "faker": {"provider": "word"},
    "choice": {"choices": ["yes", "no"]},
    "int": {"min": 0, "max": 100},
    "float": {"min": 0, "max": 100},
    "const": {"value": "fixed"},
}
PROVIDERS = (
    "word", "city", "street_address", "postcode", "country_code", "company", "job", "color_name", "date",
    "iso8601", "first_name", "last_name", "email", "phone_number", "url", "uuid4", "sentence", "currency_code",
    "language_code", "user_name", "ean13", "license_plate", "bothify", "numerify", "pyint", "pyfloat",
)  # fmt: skip


def _typed(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class SchemaEditor(QWidget):
    """Signals:
    edited(): the schema in the tree changed (a field added, removed, renamed, moved or edited).
    """

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loading = False
        self._problems: dict[int, dict[str, str]] = {}
        # Undo and redo of every change made in the editor: snapshots of the schema's data, which is small.
        self.undo_stack = QUndoStack(self)
        self._snapshot: dict[str, Any] = {}

        self.default_flatten = QComboBox()
        self.default_flatten.addItem("prefixed keys (address.city → addressCity)", "prefix")
        self.default_flatten.addItem("one JSON string per field", "json")
        self.default_flatten.currentIndexChanged.connect(self._on_changed)

        self.tree = QTreeWidget()
        self.tree.setObjectName("schemaTree")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Field", "Values", "Reaches CDP as"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(self._on_tree_current_changed)
        # Delete (and Backspace on macOS) removes the selected field, as in any tree of things.
        self.delete_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.tree)
        self.delete_shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        self.delete_shortcut.activated.connect(self.remove_current)

        self.add_group_button = QToolButton()
        self.add_group_button.setText("Add group")
        self.add_group_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_group_menu = QMenu(self)
        self.add_group_menu.aboutToShow.connect(self._fill_group_menu)
        self.add_group_button.setMenu(self.add_group_menu)
        self.add_field_button = QPushButton("Add field")
        self.add_field_button.setObjectName("addField")
        self.add_child_button = QPushButton("Add nested field")
        self.remove_button = QPushButton("Remove")
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        self.add_field_button.clicked.connect(self.add_field)
        self.add_child_button.clicked.connect(self.add_child)
        self.remove_button.clicked.connect(self.remove_current)
        self.up_button.clicked.connect(lambda: self.move_current(-1))
        self.down_button.clicked.connect(lambda: self.move_current(1))
        # Two short rows rather than one long one: the editor stays narrow enough at 1280 pixels for the preview
        # beside it, and no button text is cut.
        buttons = QVBoxLayout()
        for row in (
            (self.add_group_button, self.add_field_button, self.add_child_button),
            (self.remove_button, self.up_button, self.down_button),
        ):
            line = QHBoxLayout()
            for button in row:
                line.addWidget(button)
            line.addStretch(1)
            buttons.addLayout(line)

        # The form for the selected field.
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("fieldName")
        self.name_edit.setPlaceholderText("camelCase, for example loyaltyTier")
        self.kind_combo = QComboBox()
        self.kind_combo.addItems(KINDS)
        self.provider_combo = QComboBox()
        self.provider_combo.setEditable(True)
        self.provider_combo.addItems(PROVIDERS)
        self.args_edit = QLineEdit()
        self.args_edit.setPlaceholderText('JSON object, for example {"digits": 6}')
        self.choices_edit = QLineEdit()
        self.choices_edit.setPlaceholderText("comma-separated: gold, silver, bronze")
        self.weights_edit = QLineEdit()
        self.weights_edit.setPlaceholderText("optional, one per choice: 10, 30, 60")
        self.min_edit = QLineEdit()
        self.max_edit = QLineEdit()
        self.decimals_spin = QSpinBox()
        self.decimals_spin.setRange(0, 6)
        self.start_edit = QLineEdit()
        self.start_edit.setPlaceholderText("YYYY-MM-DD (default: ten years before the anchor date)")
        self.end_edit = QLineEdit()
        self.end_edit.setPlaceholderText("YYYY-MM-DD (default: the anchor date)")
        self.value_edit = QLineEdit()
        self.min_items_spin = QSpinBox()
        self.min_items_spin.setRange(0, 100)
        self.max_items_spin = QSpinBox()
        self.max_items_spin.setRange(0, 100)
        self.probability_spin = QDoubleSpinBox()
        self.probability_spin.setRange(0.0, 1.0)
        self.probability_spin.setSingleStep(0.05)
        self.probability_spin.setDecimals(2)
        self.flatten_combo = QComboBox()
        self.flatten_combo.addItem("the schema's default", None)
        self.flatten_combo.addItem("prefixed keys", "prefix")
        self.flatten_combo.addItem("one JSON string", "json")
        self.path_label = QLabel()
        self.path_label.setObjectName("fieldPath")
        self.rows: dict[str, QWidget] = {
            "name": self.name_edit,
            "kind": self.kind_combo,
            "provider": self.provider_combo,
            "args": self.args_edit,
            "choices": self.choices_edit,
            "weights": self.weights_edit,
            "min": self.min_edit,
            "max": self.max_edit,
            "decimals": self.decimals_spin,
            "start": self.start_edit,
            "end": self.end_edit,
            "value": self.value_edit,
            "min_items": self.min_items_spin,
            "max_items": self.max_items_spin,
            "probability": self.probability_spin,
            "flatten": self.flatten_combo,
        }
        labels = {
            "name": "Name:", "kind": "Kind:", "provider": "Faker provider:", "args": "Provider arguments:",
            "choices": "Choices:", "weights": "Weights:", "min": "Minimum:", "max": "Maximum:",
            "decimals": "Decimals:", "start": "From:", "end": "To:", "value": "Value:", "min_items": "Items, at least:",
            "max_items": "Items, at most:", "probability": "Probability present:", "flatten": "Flattening:",
        }  # fmt: skip
        self.form.addRow(self.path_label)
        for key, widget in self.rows.items():
            self.form.addRow(labels[key], widget)
        self.name_edit.editingFinished.connect(self._on_name_edited)
        self.kind_combo.currentTextChanged.connect(self._on_kind_changed)
        self.provider_combo.currentTextChanged.connect(self._on_form_changed)
        for edit in (self.args_edit, self.choices_edit, self.weights_edit, self.min_edit, self.max_edit,
                     self.start_edit, self.end_edit, self.value_edit):  # fmt: skip
            edit.textEdited.connect(self._on_form_changed)
        for spin in (self.decimals_spin, self.min_items_spin, self.max_items_spin):
            spin.valueChanged.connect(self._on_form_changed)
        self.probability_spin.valueChanged.connect(self._on_form_changed)
        self.flatten_combo.currentIndexChanged.connect(self._on_form_changed)

        top = QHBoxLayout()
        top.addWidget(QLabel("Nested fields reach CDP as:"))
        top.addWidget(self.default_flatten, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.tree, 3)
        layout.addLayout(buttons)
        layout.addWidget(self.form_host, 2)
        self._show_form(None)

    # -- schema <-> tree ----------------------------------------------------------------------------------------

    def set_schema(self, schema: ExtensionSchema) -> None:
        """Show a schema (a document opened or reloaded): a fresh start, so the undo history is cleared."""
        self._fill(schema.model_dump(mode="json", exclude_defaults=True))
        self.undo_stack.clear()
        self._snapshot = self.schema_data()

    def _fill(self, data: dict[str, Any]) -> None:
        self._loading = True
        try:
            self._problems.clear()
            self.tree.clear()
            flatten = data.get("default_flatten", "prefix")
            self.default_flatten.setCurrentIndex(max(0, self.default_flatten.findData(flatten)))
            for entity in ENTITIES:
                for group, fields in (data.get(entity) or {}).items():
                    group_item = self._group_item(entity, group)
                    for name, spec in fields.items():
                        self._field_item(group_item, name, spec)
            self.tree.expandAll()
            if self.tree.topLevelItemCount():
                self.tree.setCurrentItem(self.tree.topLevelItem(0))
        finally:
            self._loading = False

    def _group_item(self, entity: str, group: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem([f"{ENTITIES[entity]} · {group}", "extension group", ""])
        item.setData(0, NODE, "group")
        item.setData(0, GROUP, (entity, group))
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
        # Keep the groups in CDP's order: guest ext..ext5, then order, then order item.
        order = list(ENTITIES).index(entity) * 10 + (GUEST_EXTENSION_NAMES.index(group) if group in
                                                       GUEST_EXTENSION_NAMES else 0)  # fmt: skip
        item.setData(1, NODE, order)
        position = 0
        while position < self.tree.topLevelItemCount() and self.tree.topLevelItem(position).data(1, NODE) < order:
            position += 1
        self.tree.insertTopLevelItem(position, item)
        return item

    def _field_item(self, parent: QTreeWidgetItem, name: str, spec: dict[str, Any], node: str = "field") -> None:
        item = QTreeWidgetItem([name])
        item.setData(0, NODE, node)
        own = {k: v for k, v in spec.items() if k not in ("fields", "item")}
        own.setdefault("kind", spec.get("kind", "faker"))
        item.setData(0, SPEC, own)
        parent.addChild(item)
        if spec.get("kind") == "object":
            for child_name, child in (spec.get("fields") or {}).items():
                self._field_item(item, child_name, child)
        elif spec.get("kind") == "list" and spec.get("item") is not None:
            self._field_item(item, "[item]", spec["item"], node="item")
        self._refresh_item(item)

    def schema_data(self) -> dict[str, Any]:
        """The schema as plain data, for `ExtensionSchema.model_validate`."""
        data: dict[str, Any] = {"schema_version": 1, "default_flatten": self.default_flatten.currentData()}
        for index in range(self.tree.topLevelItemCount()):
            group_item = self.tree.topLevelItem(index)
            entity, group = group_item.data(0, GROUP)
            fields = {}
            for child_index in range(group_item.childCount()):
                child = group_item.child(child_index)
                fields[child.text(0)] = self._spec_of(child)
            data.setdefault(entity, {})[group] = fields
        return data

    def _spec_of(self, item: QTreeWidgetItem) -> dict[str, Any]:
        spec = dict(item.data(0, SPEC))
        if spec.get("kind") == "object":
            spec["fields"] = {item.child(i).text(0): self._spec_of(item.child(i)) for i in range(item.childCount())}
        elif spec.get("kind") == "list":
            spec["item"] = self._spec_of(item.child(0)) if item.childCount() else None
        return spec

    # -- paths and problems ------------------------------------------------------------------------------------

    def path_of(self, item: QTreeWidgetItem) -> str:
        """`guest.ext.address.city`; a list's item is `guest.ext.favouriteCategories[]`."""
        chain: list[QTreeWidgetItem] = []
        current: QTreeWidgetItem | None = item
        while current is not None:
            chain.insert(0, current)
            current = current.parent()
        path = ""
        for link in chain:
            node = link.data(0, NODE)
            if node == "group":
                entity, group = link.data(0, GROUP)
                path = f"{entity}.{group}"
            elif node == "item":
                path += "[]"
            else:
                path += f".{link.text(0)}"
        return path

    def item_at(self, path: str) -> QTreeWidgetItem | None:
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            if self.path_of(item) == path:
                return item
            stack.extend(item.child(i) for i in range(item.childCount()))
        return None

    def select_path(self, path: str) -> bool:
        """Select the field at a schema path, or its nearest existing parent; True when found exactly."""
        candidate = path
        while candidate:
            item = self.item_at(candidate)
            if item is not None:
                self.tree.setCurrentItem(item)
                self.tree.scrollToItem(item, QAbstractItemView.ScrollHint.PositionAtCenter)
                return candidate == path
            if candidate.endswith("[]"):
                candidate = candidate[:-2]
            elif "." in candidate:
                candidate = candidate.rsplit(".", 1)[0]
            else:
                break
        return False

    def input_findings(self) -> list[Finding]:
        """Problems the form found in what was typed (a name that CDP refuses, a number that is not one)."""
        found: list[Finding] = []
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop(0)
            path = self.path_of(item)
            node = item.data(0, NODE)
            if node == "field" and not FIELD_NAME.match(item.text(0)):
                found.append(
                    Finding(
                        f"the name {item.text(0)!r} must be alphanumeric camelCase starting with a lowercase letter, "
                        "as CDP requires of extension keys (for example loyaltyTier)",
                        path,
                        "schema",
                    )
                )
            names = [item.child(i).text(0) for i in range(item.childCount()) if item.child(i).data(0, NODE) == "field"]
            for name in {n for n in names if names.count(n) > 1}:
                found.append(Finding(f"two fields are named {name!r}: rename one of them", f"{path}.{name}", "schema"))
            for key, problem in self._problems.get(id(item), {}).items():
                found.append(Finding(f"{key}: {problem}", path, "schema"))
            stack.extend(item.child(i) for i in range(item.childCount()))
        return found

    # -- editing ------------------------------------------------------------------------------------------------

    def _current_field(self) -> QTreeWidgetItem | None:
        item = self.tree.currentItem()
        return item if item is not None and item.data(0, NODE) in ("field", "item") else None

    def _sibling_for_new(self) -> QTreeWidgetItem | None:
        """The selected field when a new field goes beside it (right after it), else None."""
        item = self.tree.currentItem()
        if item is None or item.data(0, NODE) != "field" or item.data(0, SPEC).get("kind") == "object":
            return None
        return item

    def _container_for_new(self) -> QTreeWidgetItem | None:
        """Where "Add field" puts a field: in the selected group or object, else beside the selected field."""
        item = self.tree.currentItem()
        if item is None:
            return None
        node = item.data(0, NODE)
        if node == "group":
            return item
        spec = item.data(0, SPEC)
        if spec.get("kind") == "object":
            return item
        if node == "item":
            return None
        return item.parent()

    def _unique_name(self, parent: QTreeWidgetItem, stem: str = "newField") -> str:
        names = {parent.child(i).text(0) for i in range(parent.childCount())}
        name, n = stem, 1
        while name in names:
            n += 1
            name = f"{stem}{n}"
        return name

    def add_field(self) -> QTreeWidgetItem | None:
        parent = self._container_for_new()
        if parent is None:
            return None
        return self._insert_field(
            parent, self._unique_name(parent), {"kind": "faker", "provider": "word"}, after=self._sibling_for_new()
        )

    def add_child(self) -> QTreeWidgetItem | None:
        """A nested field under the selected field, which becomes an object if it was not one."""
        item = self._current_field()
        if item is None:
            return self.add_field()
        spec = dict(item.data(0, SPEC))
        if spec.get("kind") == "list":
            item = item.child(0)
            spec = dict(item.data(0, SPEC))
        if spec.get("kind") != "object":
            spec = {k: v for k, v in spec.items() if k in COMMON_KEYS}
            spec["kind"] = "object"
            item.setData(0, SPEC, spec)
        return self._insert_field(item, self._unique_name(item), {"kind": "faker", "provider": "word"})

    def _insert_field(
        self, parent: QTreeWidgetItem, name: str, spec: dict[str, Any], after: QTreeWidgetItem | None = None
    ) -> QTreeWidgetItem:
        self._field_item(parent, name, spec)
        child = parent.child(parent.childCount() - 1)
        if after is not None and after.parent() is parent:
            parent.takeChild(parent.childCount() - 1)
            parent.insertChild(parent.indexOfChild(after) + 1, child)
        self._refresh_item(parent)
        parent.setExpanded(True)
        self.tree.setCurrentItem(child)
        self._emit(structural=True)
        self.name_edit.setFocus()
        self.name_edit.selectAll()
        return child

    def add_group(self, entity: str, group: str) -> None:
        item = self._group_item(entity, group)
        self.tree.setCurrentItem(item)
        self._insert_field(item, "newField", {"kind": "faker", "provider": "word"})

    def _fill_group_menu(self) -> None:
        self.add_group_menu.clear()
        existing = {self.tree.topLevelItem(i).data(0, GROUP) for i in range(self.tree.topLevelItemCount())}
        options = [("guest", g) for g in GUEST_EXTENSION_NAMES] + [("order", "ext"), ("order_item", "ext")]
        for entity, group in options:
            if (entity, group) in existing:
                continue
            action = self.add_group_menu.addAction(f"{ENTITIES[entity]} · {group}")
            action.triggered.connect(lambda _=False, e=entity, g=group: self.add_group(e, g))

    def remove_current(self) -> None:
        item = self.tree.currentItem()
        if item is None or item.data(0, NODE) == "item":
            return
        parent = item.parent()
        if parent is None:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        else:
            parent.removeChild(item)
            self._refresh_item(parent)
        self._problems.pop(id(item), None)
        self._emit(structural=True)

    def move_current(self, step: int) -> None:
        item = self._current_field()
        if item is None or item.data(0, NODE) == "item":
            return
        parent = item.parent()
        index = parent.indexOfChild(item)
        target = index + step
        if not 0 <= target < parent.childCount():
            return
        expanded = item.isExpanded()
        parent.takeChild(index)
        parent.insertChild(target, item)
        item.setExpanded(expanded)
        self.tree.setCurrentItem(item)
        self._emit(structural=True)

    def rename_current(self, name: str) -> None:
        item = self._current_field()
        if item is None or item.data(0, NODE) == "item" or item.text(0) == name:
            return
        item.setText(0, name)
        self._refresh_item(item)
        self.path_label.setText(self.path_of(item))
        self._emit()

    # -- the form -----------------------------------------------------------------------------------------------

    def _show_form(self, item: QTreeWidgetItem | None) -> None:
        field = item is not None and item.data(0, NODE) in ("field", "item")
        self.form_host.setEnabled(field)
        if not field or item is None:
            self.path_label.setText("Select a field to edit it." if item is None else
                                    f"{self.path_of(item)}: add fields to this group with Add field.")  # fmt: skip
            for key in self.rows:
                self.form.setRowVisible(self.rows[key], key in ("name", "kind"))
            return
        spec = item.data(0, SPEC)
        kind = spec.get("kind", "faker")
        self._loading = True
        try:
            self.path_label.setText(self.path_of(item))
            self.name_edit.setText(item.text(0))
            self.name_edit.setEnabled(item.data(0, NODE) == "field")
            self.kind_combo.setCurrentText(kind)
            self.provider_combo.setCurrentText(spec.get("provider") or "")
            self.args_edit.setText(json.dumps(spec["args"]) if spec.get("args") else "")
            self.choices_edit.setText(", ".join(_text_of(c) for c in spec.get("choices") or []))
            self.weights_edit.setText(", ".join(_text_of(w) for w in spec.get("weights") or []))
            self.min_edit.setText(_text_of(spec.get("min")))
            self.max_edit.setText(_text_of(spec.get("max")))
            self.decimals_spin.setValue(int(spec.get("decimals", 2)))
            self.start_edit.setText(spec.get("start") or "")
            self.end_edit.setText(spec.get("end") or "")
            self.value_edit.setText(_text_of(spec.get("value")))
            self.min_items_spin.setValue(int(spec.get("min_items", 1)))
            self.max_items_spin.setValue(int(spec.get("max_items", 3)))
            self.probability_spin.setValue(float(spec.get("probability", 1.0)))
            self.flatten_combo.setCurrentIndex(max(0, self.flatten_combo.findData(spec.get("flatten"))))
        finally:
            self._loading = False
        top_level_composite = item.parent() is not None and item.parent().data(0, NODE) == "group" and kind in (
            "object", "list")  # fmt: skip
        visible = {"name", "kind", "probability"} | KIND_KEYS[kind]
        if top_level_composite:
            visible.add("flatten")
        if item.data(0, NODE) == "item":
            visible.discard("probability")
        for key, widget in self.rows.items():
            self.form.setRowVisible(widget, key in visible)

    def _on_tree_current_changed(self, current: QTreeWidgetItem | None, _previous: object) -> None:
        self._show_form(current)

    def _on_name_edited(self) -> None:
        if not self._loading:
            self.rename_current(self.name_edit.text().strip())

    def _on_kind_changed(self, kind: str) -> None:
        item = self._current_field()
        if self._loading or item is None:
            return
        old = dict(item.data(0, SPEC))
        if old.get("kind") == kind:
            return
        spec = {k: v for k, v in old.items() if k in COMMON_KEYS or k in KIND_KEYS[kind]}
        spec["kind"] = kind
        for key, value in KIND_DEFAULTS.get(kind, {}).items():
            spec.setdefault(key, value)
        if kind not in ("object", "list"):
            spec.pop("flatten", None)
        item.setData(0, SPEC, spec)
        item.takeChildren()
        if kind == "object":
            self._field_item(item, "name", {"kind": "faker", "provider": "word"})
        elif kind == "list":
            self._field_item(item, "[item]", {"kind": "choice", "choices": ["a", "b"]}, node="item")
        item.setExpanded(True)
        self._problems.pop(id(item), None)
        self._refresh_item(item)
        self._show_form(item)
        self._emit()

    def _on_form_changed(self, *_args: object) -> None:
        item = self._current_field()
        if self._loading or item is None:
            return
        spec = dict(item.data(0, SPEC))
        kind = spec.get("kind", "faker")
        problems: dict[str, str] = {}
        keys = KIND_KEYS[kind]

        def put(key: str, value: Any) -> None:
            if value in (None, "", []):
                spec.pop(key, None)
            else:
                spec[key] = value

        if "provider" in keys:
            put("provider", self.provider_combo.currentText().strip() or None)
        if "args" in keys:
            text = self.args_edit.text().strip()
            try:
                args = json.loads(text) if text else {}
                if not isinstance(args, dict):
                    raise ValueError("not an object")
                put("args", args)
            except ValueError:
                problems["provider arguments"] = 'write a JSON object, for example {"digits": 6}'
        if "choices" in keys:
            put("choices", [_typed(c) for c in self.choices_edit.text().split(",") if c.strip()] or None)
            text = self.weights_edit.text().strip()
            try:
                put("weights", [float(w) for w in text.split(",") if w.strip()] if text else None)
            except ValueError:
                problems["weights"] = "write numbers separated by commas"
        for key, edit in (("min", self.min_edit), ("max", self.max_edit)):
            if key in keys:
                text = edit.text().strip()
                try:
                    put(key, float(text) if text else None)
                except ValueError:
                    problems[key] = f"{text!r} is not a number"
        if "decimals" in keys:
            spec["decimals"] = self.decimals_spin.value()
        for key, edit in (("start", self.start_edit), ("end", self.end_edit)):
            if key in keys:
                text = edit.text().strip()
                if text and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                    problems[key] = "write a date as YYYY-MM-DD"
                else:
                    put(key, text or None)
        if "value" in keys:
            put("value", _typed(self.value_edit.text()) if self.value_edit.text().strip() else None)
        if "min_items" in keys:
            spec["min_items"] = self.min_items_spin.value()
            spec["max_items"] = self.max_items_spin.value()
        probability = round(self.probability_spin.value(), 2)
        if probability < 1.0 and item.data(0, NODE) == "field":
            spec["probability"] = probability
        else:
            spec.pop("probability", None)
        flatten = self.flatten_combo.currentData()
        if flatten and kind in ("object", "list"):
            spec["flatten"] = flatten
        else:
            spec.pop("flatten", None)
        item.setData(0, SPEC, spec)
        if problems:
            self._problems[id(item)] = problems
        else:
            self._problems.pop(id(item), None)
        self._refresh_item(item)
        self._emit()

    def _on_changed(self, *_args: object) -> None:
        if not self._loading:
            for index in range(self.tree.topLevelItemCount()):
                group = self.tree.topLevelItem(index)
                for child in range(group.childCount()):
                    self._refresh_item(group.child(child))
            self._emit()

    def _emit(self, structural: bool = False) -> None:
        if self._loading:
            return
        current = self.schema_data()
        if current != self._snapshot:
            # Typing in one field's form is one step of the history; adding, removing or moving is a step each.
            item = self.tree.currentItem()
            merge_key = None if structural or item is None else f"item {id(item)}"
            self.undo_stack.push(_Snapshot(self, self._snapshot, current, merge_key, self._selected_path()))
            self._snapshot = current
        self.edited.emit()

    def _selected_path(self) -> str | None:
        item = self.tree.currentItem()
        return self.path_of(item) if item is not None else None

    def restore(self, data: dict[str, Any], path: str | None) -> None:
        """Show an earlier (undo) or later (redo) state of the schema, with the field that was selected."""
        self._fill(data)
        self._snapshot = self.schema_data()
        if path:
            self.select_path(path)
        self.edited.emit()

    def _refresh_item(self, item: QTreeWidgetItem) -> None:
        if item.data(0, NODE) == "group":
            return
        spec = item.data(0, SPEC)
        item.setText(1, _summary(spec, item.childCount()))
        parent = item.parent()
        if parent is not None and parent.data(0, NODE) == "group":
            if spec.get("kind") in ("object", "list"):
                strategy = spec.get("flatten") or self.default_flatten.currentData()
                item.setText(2, "prefixed keys" if strategy == "prefix" else "one JSON string")
            else:
                item.setText(2, "one key")


def _summary(spec: dict[str, Any], children: int) -> str:
    kind = str(spec.get("kind", ""))
    text = kind
    if kind == "faker":
        text = f"faker: {spec.get('provider', '?')}"
        if spec.get("args"):
            text += f" {json.dumps(spec['args'])}"
    elif kind == "choice":
        text = f"choice of {len(spec.get('choices') or [])}" + (", weighted" if spec.get("weights") else "")
    elif kind in ("int", "float"):
        text = f"{kind} {_text_of(spec.get('min'))}…{_text_of(spec.get('max'))}"
    elif kind in ("date", "datetime"):
        text = f"{kind} {spec.get('start') or '…'} to {spec.get('end') or '…'}"
    elif kind == "const":
        text = f"always {_text_of(spec.get('value'))}"
    elif kind == "object":
        text = f"object of {children} field{'s' if children != 1 else ''}"
    elif kind == "list":
        text = f"list of {spec.get('min_items', 1)}…{spec.get('max_items', 3)}"
    if spec.get("probability", 1.0) < 1.0:
        text += f", present {spec['probability']:.0%}"
    return text


class _Snapshot(QUndoCommand):
    """One change of the schema editor: the data before and after it."""

    def __init__(
        self,
        editor: SchemaEditor,
        before: dict[str, Any],
        after: dict[str, Any],
        merge_key: str | None,
        path: str | None,
    ) -> None:
        super().__init__(f"edit {path}" if merge_key and path else "change the schema")
        self.editor = editor
        self.before = before
        self.after = after
        self.merge_key = merge_key
        self.path = path
        self._applied = True  # pushed after the change was made: the first redo has nothing to do

    def id(self) -> int:
        return 1 if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _Snapshot) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        self.path = other.path
        return True

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.editor.restore(self.after, self.path)

    def undo(self) -> None:
        self.editor.restore(self.before, self.path)
