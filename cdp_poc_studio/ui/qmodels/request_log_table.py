"""The request console's table over a run's `requests.ndjson`: every call of the run, paged from disk.

The model holds only the offsets of the file's lines (8 bytes a call) and a few pages of parsed entries, so a run
of a million calls costs a few megabytes; `refresh()` indexes what the run appended since. A filter is the list of
matching line numbers, computed by a scan of the file on a worker thread (`set_matches`).
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from cdp_poc_studio.cdp.requestlog import LoggedRequest
from cdp_poc_studio.roundtrip.request_index import index_lines, read_entries
from cdp_poc_studio.ui.qmodels.request_table import COLUMNS, Index, cell

PAGE = 256
PAGES_KEPT = 8


class RequestLogTableModel(QAbstractTableModel):
    """Rows are the log's lines (all of them, or the matches of the current filter)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self._offsets = array("q")
        self._end = 0
        self._matches: list[int] | None = None
        self._pages: OrderedDict[int, list[LoggedRequest]] = OrderedDict()

    # -- the file ---------------------------------------------------------------------------------------------

    def open(self, path: Path | None) -> None:
        self.beginResetModel()
        self.path = path
        self._offsets = array("q")
        self._end = 0
        self._matches = None
        self._pages.clear()
        self.endResetModel()
        self.refresh()

    def refresh(self) -> int:
        """Index the lines appended since the last call; returns how many were new."""
        if self.path is None:
            return 0
        offsets, end = index_lines(self.path, self._end)
        if not offsets:
            return 0
        self._end = end
        # The last page may have been read while it was still filling: read it again when asked.
        self._pages.pop(len(self._offsets) // PAGE, None)
        if self._matches is not None:  # a filtered view grows when the filter is scanned again
            self._offsets.extend(offsets)
            return len(offsets)
        first = len(self._offsets)
        self.beginInsertRows(QModelIndex(), first, first + len(offsets) - 1)
        self._offsets.extend(offsets)
        self.endInsertRows()
        return len(offsets)

    @property
    def total(self) -> int:
        """Every call in the log so far, whatever the filter."""
        return len(self._offsets)

    @property
    def indexed_end(self) -> int:
        return self._end

    def set_matches(self, lines: list[int] | None) -> None:
        """Show only these line numbers (None: every line)."""
        self.beginResetModel()
        self._matches = lines
        self.endResetModel()

    # -- rows -------------------------------------------------------------------------------------------------

    def line_of(self, row: int) -> int:
        return self._matches[row] if self._matches is not None else row

    def entry(self, row: int) -> LoggedRequest:
        line = self.line_of(row)
        page = line // PAGE
        entries = self._pages.get(page)
        if entries is None:
            assert self.path is not None
            start = self._offsets[page * PAGE]
            last = min((page + 1) * PAGE, len(self._offsets))
            end = self._offsets[last] if last < len(self._offsets) else self._end
            entries = read_entries(self.path, start, end)
            self._pages[page] = entries
            while len(self._pages) > PAGES_KEPT:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page)
        return entries[line - page * PAGE]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's own default
        if parent.isValid():
            return 0
        return len(self._matches) if self._matches is not None else len(self._offsets)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        return cell(self.entry(index.row()), index.column(), role)
