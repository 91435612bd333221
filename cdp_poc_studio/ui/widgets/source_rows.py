"""Every row of a customer's sample and what became of it: mapped or not (and why), CDP's answer, verified or not.

Shows the lines of a run's per-row log (rows.ndjson.gz, see roundtrip.source.rows: the guests' rows, then the
orders file's) or, before a run, the Map page's check of the sample's first records, in one table filtered by status.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cdp_poc_studio.roundtrip.source.rows import read_rows
from cdp_poc_studio.ui.widgets.wrap_delegate import WrapAnywhereDelegate

COLUMNS = ("Row", "Line", "Identifier", "Status", "CDP", "Why")
SHOWN = 5000
# Up to this many rows shown, each is as tall as its reason wrapped; measuring more would stall the window, so
# beyond it a row keeps one line (its tooltip has the whole reason).
WRAPPED = 200
_BAD = {"invalid", "rejected by linter", "rejected by CDP", "differs", "not sent"}


def _why(line: dict[str, Any]) -> str:
    if line.get("findings"):
        return "; ".join(
            f"{f['column'] or 'row'}: {f['reason']}"
            + (f" ({f['value']!r})" if f.get("value") not in (None, "") else "")
            for f in line["findings"]
        )
    if line.get("differences"):
        return "; ".join(f"{d['path']} from {d['column'] or '?'}: {d['outcome']}" for d in line["differences"])
    cdp = line.get("cdp") or {}
    if cdp.get("code") or cdp.get("message"):
        return f"{cdp.get('code') or ''} {cdp.get('message') or ''}".strip()
    return ""


class SourceRowsView(QWidget):
    """The per-row table with a status filter and counts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lines: list[dict[str, Any]] = []
        self.summary = QLabel()
        self.summary.setObjectName("sourceRowsSummary")
        self.summary.setWordWrap(True)
        self.status_filter = QComboBox()
        self.status_filter.setObjectName("sourceRowsFilter")
        self.status_filter.currentIndexChanged.connect(self._refresh)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("sourceRowsTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self._wrap = WrapAnywhereDelegate(self.table)
        self.table.setItemDelegateForColumn(len(COLUMNS) - 1, self._wrap)
        # Fitted to its contents, an empty column is narrower than its title ("CDP" before a run): never cut that.
        header.setMinimumSectionSize(min(header.fontMetrics().horizontalAdvance(t) for t in COLUMNS) + 16)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("Show"))
        top.addWidget(self.status_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

    def show_folder(self, folder: Path) -> None:
        """A run folder's per-row log (the first 5,000 rows; the file has them all)."""
        self.show_lines(read_rows(folder, SHOWN), source=str(folder / "rows.ndjson.gz"))

    def show_lines(self, lines: list[dict[str, Any]], source: str = "") -> None:
        self._lines = lines
        counts = Counter(str(line.get("status", "")) for line in lines)
        self.summary.setText(
            f"{len(lines):,} row(s)"
            + (f" (the first {SHOWN:,}; {source} has every row)" if len(lines) >= SHOWN and source else "")
            + ": "
            + ", ".join(f"{n:,} {status}" for status, n in counts.most_common())
        )
        self.status_filter.blockSignals(True)
        self.status_filter.clear()
        self.status_filter.addItem("every row", "")
        self.status_filter.addItem("rows with a problem", "problem")
        for status in sorted(counts):
            self.status_filter.addItem(status, status)
        self.status_filter.blockSignals(False)
        self._refresh()

    def statuses(self) -> list[str]:
        items = (self.table.item(r, 3) for r in range(self.table.rowCount()))
        return [item.text() for item in items if item is not None]

    def _refresh(self, *_args: object) -> None:
        wanted = self.status_filter.currentData() or ""
        shown = [
            line
            for line in self._lines
            if not wanted or line.get("status") == wanted or (wanted == "problem" and line.get("status") in _BAD)
        ]
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # not measured again as each cell is set
        self.table.setRowCount(len(shown))
        for row, line in enumerate(shown):
            cdp = line.get("cdp") or {}
            # A row of the orders file ([source.orders]) is named by its file, and its guest key by its order.
            order_file, order = line.get("file"), line.get("order")
            values = (
                f"{order_file} {line.get('row')}" if order_file else line.get("row"),
                line.get("line"),
                f"{line.get('key')}, order {order}" if order_file and order else line.get("key"),
                line.get("status"),
                cdp.get("state"),
                _why(line),
            )
            for column, value in enumerate(values):
                item = QTableWidgetItem("" if value is None else str(value))
                if column == 3:
                    item.setForeground(Qt.GlobalColor.red if value in _BAD else Qt.GlobalColor.darkGreen)
                if column == len(COLUMNS) - 1:
                    item.setToolTip(str(value))
                self.table.setItem(row, column, item)
        if len(shown) <= WRAPPED:
            rows.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
