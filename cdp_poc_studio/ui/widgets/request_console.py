"""The request console: every call the studio makes, filterable, with the masked request and response and curl."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
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
from cdp_poc_studio.domain.progress import CancelToken
from cdp_poc_studio.roundtrip.request_index import matching_lines
from cdp_poc_studio.ui.qmodels.request_log_table import RequestLogTableModel
from cdp_poc_studio.ui.qmodels.request_table import STATUS_FILTERS, RequestFilterProxy, RequestTableModel, accepts
from cdp_poc_studio.workers.request_feed import RequestFeed
from cdp_poc_studio.workers.tasks import Report, TaskRunner

LIVE = "live"
# While a run goes on, its log on disk is indexed this often for new calls.
TAIL_MS = 1000

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
    # Each warning already says that a real tenant may answer differently.
    warnings = "".join(f"Sandbox warning: {warning}\n" for warning in entry.warnings)
    return (
        f"{status}   ({entry.duration_ms:,.1f} ms, {entry.response_bytes:,} bytes)\n{warnings}\n"
        f"{_pretty(entry.response_body)}"
    )


class RequestConsole(QWidget):
    """Two sources of calls: this session's latest calls (connection tests, replays), and a run's whole request log
    on disk (`requests.ndjson` in its folder), paged, so that every call of a run can be found.

    Signals:
        curl_copied(str): "Copy as curl" put this command on the clipboard.
        replay_requested(object): "Replay" asks to send the selected call (a LoggedRequest) again, to the same target.
        filtered(): the shown calls changed after a filter was applied.
    """

    curl_copied = Signal(str)
    replay_requested = Signal(object)
    filtered = Signal()

    def __init__(
        self, feed: RequestFeed, capacity: int = 2000, runner: TaskRunner | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("requestConsole")
        self.runner = runner
        self.model = RequestTableModel(capacity, self)
        self.proxy = RequestFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.run_model = RequestLogTableModel(self)
        self._scan_ticket: object | None = None
        feed.received.connect(self._on_feed_received)
        self.source_combo = QComboBox()
        self.source_combo.setObjectName("consoleSource")
        self.source_combo.addItem("This session's calls", LIVE)
        self.source_combo.currentIndexChanged.connect(self._on_source_changed)
        self._tail = QTimer(self)
        self._tail.setInterval(TAIL_MS)
        self._tail.timeout.connect(self.refresh_run_log)

        self.method_combo = QComboBox()
        for method in METHODS:
            self.method_combo.addItem(method or "All methods", method)
        self.status_combo = QComboBox()
        self.status_combo.addItems(STATUS_FILTERS)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search URLs, bodies and warnings…")
        self.search_edit.setClearButtonEnabled(True)
        self.count_label = QLabel()
        self.clear_button = QPushButton("Clear")
        self.curl_button = QPushButton("Copy as curl")
        self.curl_button.setObjectName("copyCurl")
        self.curl_button.setEnabled(False)
        self.replay_button = QPushButton("Replay")
        self.replay_button.setObjectName("replayRequest")
        self.replay_button.setToolTip("Send this call again to the same target, with the current credentials.")
        self.replay_button.setEnabled(False)
        self.replay_button.clicked.connect(self._on_replay_clicked)
        self.method_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.status_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.search_edit.textChanged.connect(self._on_filter_changed)
        self.clear_button.clicked.connect(self._on_clear_clicked)
        self.curl_button.clicked.connect(self.copy_curl)
        bar = QHBoxLayout()
        bar.addWidget(self.source_combo)
        bar.addWidget(self.method_combo)
        bar.addWidget(self.status_combo)
        bar.addWidget(self.search_edit, 1)
        bar.addWidget(self.count_label)
        bar.addWidget(self.clear_button)
        bar.addWidget(self.curl_button)
        bar.addWidget(self.replay_button)

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

    # -- the run's log on disk -------------------------------------------------------------------------------------

    @property
    def showing_run(self) -> bool:
        return bool(self.source_combo.currentData() != LIVE)

    def show_run_log(self, folder: Path, *, live: bool) -> None:
        """Show every call of the run in `folder`; `live` tails it while the run appends."""
        path = folder / "requests.ndjson"
        index = self.source_combo.findData(str(path))
        if index < 0:
            self.source_combo.addItem(f"Run {folder.name} (every call, from its folder)", str(path))
            index = self.source_combo.count() - 1
        self.source_combo.setCurrentIndex(index)
        self.follow_run(live)

    def follow_run(self, live: bool) -> None:
        if live and self.showing_run:
            self._tail.start()
        else:
            self._tail.stop()
            self.refresh_run_log()

    def refresh_run_log(self) -> None:
        if self.showing_run and self.run_model.refresh() and self._has_filter():
            self._apply_filter()
        self._refresh_count()

    def _on_source_changed(self, *_args: object) -> None:
        data = self.source_combo.currentData()
        self._show(None)
        if data == LIVE:
            self._tail.stop()
            self.run_model.open(None)
            self.table.setModel(self.proxy)
        else:
            self.run_model.open(Path(data))
            self.table.setModel(self.run_model)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self._apply_filter()

    def _has_filter(self) -> bool:
        return bool(self.method_combo.currentData() or self.status_combo.currentIndex() or self.search_edit.text())

    def _apply_filter(self) -> None:
        method = str(self.method_combo.currentData() or "")
        status = self.status_combo.currentText()
        text = self.search_edit.text().strip().lower()
        if not self.showing_run:
            self.proxy.set_filters(method=method, status=status, text=text)
            self._refresh_count()
            self.filtered.emit()
            return
        path, end = self.run_model.path, self.run_model.indexed_end
        if path is None or not self._has_filter():
            self._scan_ticket = None
            self.run_model.set_matches(None)
            self._refresh_count()
            self.filtered.emit()
            return
        ticket = self._scan_ticket = object()

        def body(_report: Report, cancel: CancelToken) -> list[int]:
            return matching_lines(path, lambda entry: accepts(entry, method, status, text), end, cancel)

        def done(lines: list[int]) -> None:
            if ticket is self._scan_ticket:
                self.run_model.set_matches(lines)
                self._refresh_count()
                self.filtered.emit()

        if self.runner is None:
            done(body(lambda _event: None, CancelToken()))
        else:
            self.count_label.setText("Searching the run's calls…")
            self.runner.submit(body, name="console-filter", on_success=done)

    def _refresh_count(self) -> None:
        if self.showing_run:
            shown, total = self.run_model.rowCount(), self.run_model.total
            self.count_label.setText(f"{shown:,} of {total:,} calls" if shown != total else f"{total:,} calls")
            return
        shown, kept = self.proxy.rowCount(), self.model.rowCount()
        text = f"{shown:,} of {kept:,}" if shown != kept else f"{kept:,} calls"
        if self.model.total > kept:
            text += f" (latest {kept:,} of {self.model.total:,})"
        self.count_label.setText(text)

    def _on_filter_changed(self, *_args: object) -> None:
        self._apply_filter()

    def _on_clear_clicked(self) -> None:
        self.model.clear()
        self._show(None)
        self._refresh_count()

    def current_model(self) -> RequestLogTableModel | RequestFilterProxy:
        return self.run_model if self.showing_run else self.proxy

    def row_count(self) -> int:
        return self.current_model().rowCount()

    def entry(self, row: int) -> LoggedRequest:
        return self.current_model().entry(row)

    def selected(self) -> LoggedRequest | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entry(rows[0].row()) if rows else None

    def _on_replay_clicked(self) -> None:
        entry = self.selected()
        if entry is not None:
            self.replay_requested.emit(entry)

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)

    def _on_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._show(self.selected())

    def _show(self, entry: LoggedRequest | None) -> None:
        self.curl_button.setEnabled(entry is not None)
        self.replay_button.setEnabled(entry is not None)
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
