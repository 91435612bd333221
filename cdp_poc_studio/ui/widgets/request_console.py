"""The request console: every call the studio makes, filterable, with the masked request and response and curl."""

from __future__ import annotations

import json

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cdp_poc_studio.cdp.requestlog import LoggedRequest
from cdp_poc_studio.ui.qmodels.request_table import STATUS_FILTERS, RequestFilterProxy, RequestTableModel
from cdp_poc_studio.workers.request_feed import RequestFeed

METHODS = ("", "GET", "POST", "PUT", "PATCH", "DELETE")


def _pretty(text: str | None) -> str:
    if not text:
        return "(no body kept: empty, binary, or larger than the log's limit)"
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def render_request(entry: LoggedRequest) -> str:
    headers = "\n".join(f"{name}: {value}" for name, value in entry.request_headers)
    return f"{entry.method} {entry.url}\n{headers}\n\n{_pretty(entry.request_body) if entry.request_bytes else ''}"


def render_response(entry: LoggedRequest) -> str:
    status = f"HTTP {entry.status}" if entry.status is not None else f"No answer: {entry.error}"
    return f"{status}   ({entry.duration_ms:,.1f} ms, {entry.response_bytes:,} bytes)\n\n{_pretty(entry.response_body)}"


class RequestConsole(QWidget):
    """Signals:
    curl_copied(str): "Copy as curl" put this command on the clipboard.
    """

    curl_copied = Signal(str)

    def __init__(self, feed: RequestFeed, capacity: int = 2000, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("requestConsole")
        self.model = RequestTableModel(capacity, self)
        self.proxy = RequestFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        feed.received.connect(self._on_feed_received)

        self.method_combo = QComboBox()
        for method in METHODS:
            self.method_combo.addItem(method or "All methods", method)
        self.status_combo = QComboBox()
        self.status_combo.addItems(STATUS_FILTERS)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search URLs and bodies…")
        self.search_edit.setClearButtonEnabled(True)
        self.count_label = QLabel()
        self.clear_button = QPushButton("Clear")
        self.curl_button = QPushButton("Copy as curl")
        self.curl_button.setObjectName("copyCurl")
        self.curl_button.setEnabled(False)
        self.method_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.status_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.search_edit.textChanged.connect(self._on_filter_changed)
        self.clear_button.clicked.connect(self._on_clear_clicked)
        self.curl_button.clicked.connect(self.copy_curl)
        bar = QHBoxLayout()
        bar.addWidget(self.method_combo)
        bar.addWidget(self.status_combo)
        bar.addWidget(self.search_edit, 1)
        bar.addWidget(self.count_label)
        bar.addWidget(self.clear_button)
        bar.addWidget(self.curl_button)

        self.table = QTableView()
        self.table.setObjectName("requestTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setSortingEnabled(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for column, width in enumerate((95, 60, 60, 80)):
            header.resizeSection(column, width)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.request_view = QPlainTextEdit()
        self.response_view = QPlainTextEdit()
        self.curl_view = QPlainTextEdit()
        for view in (self.request_view, self.response_view, self.curl_view):
            view.setReadOnly(True)
            view.setFont(mono)
        self.details = QTabWidget()
        self.details.addTab(self.request_view, "Request")
        self.details.addTab(self.response_view, "Response")
        self.details.addTab(self.curl_view, "curl")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        self._refresh_count()

    def _on_feed_received(self, entries: list[LoggedRequest]) -> None:
        bar = self.table.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 2
        self.model.append(entries)
        if follow:
            self.table.scrollToBottom()
        self._refresh_count()

    def _refresh_count(self) -> None:
        shown, kept = self.proxy.rowCount(), self.model.rowCount()
        text = f"{shown:,} of {kept:,}" if shown != kept else f"{kept:,} calls"
        if self.model.total > kept:
            text += f" (latest {kept:,} of {self.model.total:,})"
        self.count_label.setText(text)

    def _on_filter_changed(self, *_args: object) -> None:
        self.proxy.set_filters(
            method=str(self.method_combo.currentData() or ""),
            status=self.status_combo.currentText(),
            text=self.search_edit.text(),
        )
        self._refresh_count()

    def _on_clear_clicked(self) -> None:
        self.model.clear()
        self._show(None)
        self._refresh_count()

    def selected(self) -> LoggedRequest | None:
        rows = self.table.selectionModel().selectedRows()
        return self.proxy.entry(rows[0].row()) if rows else None

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)

    def _on_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._show(self.selected())

    def _show(self, entry: LoggedRequest | None) -> None:
        self.curl_button.setEnabled(entry is not None)
        if entry is None:
            for view in (self.request_view, self.response_view, self.curl_view):
                view.clear()
            return
        self.request_view.setPlainText(render_request(entry))
        self.response_view.setPlainText(render_response(entry))
        self.curl_view.setPlainText(entry.as_curl())

    def copy_curl(self) -> str | None:
        """The selected call as curl, with `$CDP_CLIENT_KEY:$CDP_API_TOKEN` style placeholders, on the clipboard."""
        entry = self.selected()
        if entry is None:
            return None
        command = entry.as_curl()
        QGuiApplication.clipboard().setText(command)
        self.curl_copied.emit(command)
        return command
