"""A read-only tree of a JSON value: objects and lists expand, primitives show their JSON text."""

# mypy: disable-error-code="union-attr"
from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

MAX_CHILDREN = 500


class JsonTree(QTreeWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Key", "Value"])
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        # Keys are shown whole (a flattened key cut short is a different key); values scroll when long.
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.header().setStretchLastSection(True)

    def set_value(self, value: Any, expand_depth: int = 3) -> None:
        self.setUpdatesEnabled(False)
        try:
            self.clear()
            if isinstance(value, dict):
                for key, child in value.items():
                    self._add(self.invisibleRootItem(), str(key), child)
            elif isinstance(value, list):
                for index, child in enumerate(value):
                    self._add(self.invisibleRootItem(), f"[{index}]", child)
            elif value is not None:
                self._add(self.invisibleRootItem(), "", value)
            self.expandToDepth(expand_depth - 1)
        finally:
            self.setUpdatesEnabled(True)

    def _add(self, parent: QTreeWidgetItem, key: str, value: Any) -> None:
        item = QTreeWidgetItem(parent, [key, ""])
        if isinstance(value, dict):
            item.setText(1, f"{{{len(value)} keys}}")
            for child_key, child in list(value.items())[:MAX_CHILDREN]:
                self._add(item, str(child_key), child)
        elif isinstance(value, list):
            item.setText(1, f"[{len(value)} items]")
            for index, child in enumerate(value[:MAX_CHILDREN]):
                self._add(item, f"[{index}]", child)
        else:
            text = json.dumps(value, ensure_ascii=False)
            item.setText(1, text)
            item.setToolTip(1, text)

    def find_key(self, key: str) -> QTreeWidgetItem | None:
        """The first item whose key is `key` (depth first), for tests and for linking."""
        stack = [self.topLevelItem(i) for i in range(self.topLevelItemCount())]
        while stack:
            item = stack.pop(0)
            if item.text(0) == key:
                return item
            stack[0:0] = [item.child(i) for i in range(item.childCount())]
        return None
