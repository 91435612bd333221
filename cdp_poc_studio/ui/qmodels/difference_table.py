"""The verify page's difference table: one row per field that did not come back equal, and its filter proxy."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from cdp_poc_studio.roundtrip.normalise import Outcome
from cdp_poc_studio.roundtrip.report_model import DifferenceRow
from cdp_poc_studio.roundtrip.reports import OUTCOME_LABELS

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Classification", "Source", "Record", "Field", "Sent", "Came back", "Explanation")
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
# Failures first, then what CDP's time and retention rules explain, then normalised passes.
OUTCOME_ORDER = {outcome: n for n, outcome in enumerate(sorted(Outcome, key=lambda o: (o.passes, o.explained)))}
SOURCE_LABELS = {"rest": "REST", "export": "Export"}


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class DifferenceTableModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[DifferenceRow] = []

    def set_rows(self, rows: list[DifferenceRow]) -> None:
        """The rows, sorted by classification (failures first), field and record."""
        self.beginResetModel()
        self._rows = sorted(rows, key=lambda r: (OUTCOME_ORDER[r.outcome], r.path, r.record))
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting is done here, on the Python list with a key, in one go: a proxy sorting 10,000 rows would call
        `data()` a few hundred thousand times on the UI thread."""
        if not 0 <= column < len(COLUMNS):
            return
        self.layoutAboutToBeChanged.emit()
        reverse = order == Qt.SortOrder.DescendingOrder
        if column == 0:
            self._rows.sort(key=lambda r: (OUTCOME_ORDER[r.outcome], r.path, r.record), reverse=reverse)
        else:
            self._rows.sort(key=lambda r: self._text(r, column), reverse=reverse)
        self.layoutChanged.emit()

    @staticmethod
    def _text(row: DifferenceRow, column: int) -> str:
        return (
            OUTCOME_LABELS[row.outcome],
            SOURCE_LABELS.get(row.source, row.source),
            row.record,
            row.path,
            _value(row.expected),
            _value(row.actual),
            row.explanation,
        )[column]

    def row(self, index: int) -> DifferenceRow:
        return self._rows[index]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's own default
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._text(row, column)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ForegroundRole and column == 0:
            if row.outcome.fails:
                return QColor("#c62828")
            if row.outcome.explained:
                return QColor("#b35c00")
            return QColor("#2e7d32")
        return None


class DifferenceFilterProxy(QSortFilterProxyModel):
    """Filters by classification (None: all), source (None: both) and search text in record, field or values."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.outcome: Outcome | None = None
        self.source: str | None = None
        self.text = ""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The source model sorts (fast, in Python); this proxy only filters, keeping its order."""
        model = self.sourceModel()
        if model is not None:
            model.sort(column, order)

    def set_filters(
        self, *, outcome: Outcome | str | None = "", source: str | None = "", text: str | None = None
    ) -> None:
        """Change the given filters only ("" leaves a filter as it is; None clears it)."""
        if outcome != "":
            self.outcome = Outcome(outcome) if outcome else None
        if source != "":
            self.source = source or None
        if text is not None:
            self.text = text.strip().lower()
        self.beginFilterChange()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, DifferenceTableModel)
        row = model.row(source_row)
        if self.outcome is not None and row.outcome != self.outcome:
            return False
        if self.source is not None and row.source != self.source:
            return False
        if self.text:
            haystack = " ".join((row.record, row.path, _value(row.expected), _value(row.actual), row.explanation))
            if self.text not in haystack.lower():
                return False
        return True

    def row(self, proxy_row: int) -> DifferenceRow:
        value = self.data(self.index(proxy_row, 0), ROW_ROLE)
        assert isinstance(value, DifferenceRow)
        return value
