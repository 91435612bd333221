"""The request console's table: the latest calls (capped), and a proxy that filters by method, status and text."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from cdp_poc_studio.cdp.requestlog import LoggedRequest

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Time", "Method", "Status", "Duration", "URL", "Bytes in/out")
STATUS_FILTERS = ("All statuses", "2xx", "3xx", "4xx", "5xx", "Errors (4xx, 5xx, no answer)", "With sandbox warnings")
WARNED = STATUS_FILTERS[-1]
# After the status of a call the sandbox answered on an inferred rule (its warnings are in the tooltip and details).
WARNING_MARK = " \u26a0"
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


def status_class(entry: LoggedRequest) -> str:
    return "none" if entry.status is None else f"{entry.status // 100}xx"


def is_error(entry: LoggedRequest) -> bool:
    return entry.status is None or entry.status >= 400


def cell(entry: LoggedRequest, column: int, role: int) -> Any:
    """What a request table shows of one call in a column, for a role (both consoles' models use it)."""
    if role == Qt.ItemDataRole.DisplayRole:
        if column == 0:
            return (
                time.strftime("%H:%M:%S", time.localtime(entry.started_at))
                + f".{int(entry.started_at * 1000) % 1000:03d}"
            )
        if column == 1:
            return entry.method
        if column == 2:
            status = str(entry.status) if entry.status is not None else (entry.error or "no answer")
            return status + WARNING_MARK if entry.warnings else status
        if column == 3:
            return f"{entry.duration_ms:,.1f} ms"
        if column == 4:
            parts = urlsplit(entry.url)
            return parts.path + (f"?{parts.query}" if parts.query else "")
        return f"{entry.response_bytes:,} / {entry.request_bytes:,}"
    if role == SORT_ROLE:
        return (entry.started_at, entry.method, entry.status or 0, entry.duration_ms, entry.url,
                entry.response_bytes)[column]  # fmt: skip
    if role == Qt.ItemDataRole.ToolTipRole and column == 4:
        return entry.url
    if role == Qt.ItemDataRole.ToolTipRole and column == 2 and entry.warnings:
        return "Accepted by the sandbox on an inferred rule:\n" + "\n".join(entry.warnings)
    if role == Qt.ItemDataRole.ForegroundRole and column == 2 and is_error(entry):
        return QColor("#c62828")
    if role == Qt.ItemDataRole.ForegroundRole and column == 2 and entry.warnings:
        return QColor("#b26a00")
    if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3, 5):
        return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return None


def accepts(entry: LoggedRequest, method: str, status: str, text: str) -> bool:
    """The console's filter: a method ("" for all), one of STATUS_FILTERS, and lower-case text in the URL, bodies or
    sandbox warnings.
    Plain Python: the scan of a run's log on disk runs it on a worker thread."""
    if method and entry.method != method:
        return False
    if status != STATUS_FILTERS[0]:
        if status == WARNED:
            if not entry.warnings:
                return False
        elif status.startswith("Errors"):
            if not is_error(entry):
                return False
        elif status_class(entry) != status:
            return False
    if text:
        haystack = " ".join((entry.url, entry.request_body or "", entry.response_body or "", *entry.warnings)).lower()
        if text not in haystack:
            return False
    return True


class RequestTableModel(QAbstractTableModel):
    """At most `capacity` entries, oldest dropped first, so memory stays flat however long the studio runs."""

    def __init__(self, capacity: int = 2000, parent: Any = None) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self._entries: list[LoggedRequest] = []
        self.total = 0

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's own default
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def entry(self, row: int) -> LoggedRequest:
        return self._entries[row]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        return cell(self._entries[index.row()], index.column(), role)

    def append(self, entries: list[LoggedRequest]) -> None:
        if not entries:
            return
        self.total += len(entries)
        entries = entries[-self.capacity :]
        overflow = len(self._entries) + len(entries) - self.capacity
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            del self._entries[:overflow]
            self.endRemoveRows()
        first = len(self._entries)
        self.beginInsertRows(QModelIndex(), first, first + len(entries) - 1)
        self._entries.extend(entries)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._entries.clear()
        self.endResetModel()


class RequestFilterProxy(QSortFilterProxyModel):
    """Filters by method ("" for all), status class (one of STATUS_FILTERS) and text in the URL or bodies."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.method = ""
        self.status = STATUS_FILTERS[0]
        self.text = ""
        self.setSortRole(SORT_ROLE)

    def set_filters(self, *, method: str | None = None, status: str | None = None, text: str | None = None) -> None:
        if method is not None:
            self.method = method
        if status is not None:
            self.status = status
        if text is not None:
            self.text = text.strip().lower()
        self.beginFilterChange()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, RequestTableModel)
        return accepts(model.entry(source_row), self.method, self.status, self.text)

    def entry(self, row: int) -> LoggedRequest:
        source = self.mapToSource(self.index(row, 0))
        model = self.sourceModel()
        assert isinstance(model, RequestTableModel)
        return model.entry(source.row())
