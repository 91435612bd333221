"""The preview's table of sample guests: one row per guest, the columns a user scans first."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QWidget

from cdp_poc_studio.generator.records import GeneratedGuest

COLUMNS = ("#", "Name", "Email", "Country", "Orders", "Keys", "Findings")
TOOLTIPS = {"Keys": "Extension keys of the guest once flattened (CDP allows 100 per group)"}
_Index = QModelIndex | QPersistentModelIndex


class PreviewTableModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._guests: list[GeneratedGuest] = []
        self._lint: list[int] = []

    def set_guests(self, guests: list[GeneratedGuest], lint_counts: list[int]) -> None:
        self.beginResetModel()
        self._guests = guests
        self._lint = lint_counts
        self.endResetModel()

    def guest(self, row: int) -> GeneratedGuest:
        return self._guests[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._guests)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TOOLTIPS.get(COLUMNS[section])
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        guest = self._guests[index.row()]
        value = guest.guest
        column = index.column()
        if column == 0:
            return guest.seq
        if column == 1:
            return f"{value.get('firstName', '')} {value.get('lastName', '')}".strip()
        if column == 2:
            return value.get("email", "")
        if column == 3:
            return value.get("country", "")
        if column == 4:
            return len(guest.orders)
        if column == 5:
            return sum(len(g) - 2 for g in value.get("extensions", []))
        lint = self._lint[index.row()] if index.row() < len(self._lint) else 0
        return lint or ""
