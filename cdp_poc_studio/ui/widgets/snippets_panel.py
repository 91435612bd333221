"""The Report step's Snippets: the nested-data code of a run, each with a copy button, and the hand-off action."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cdp_poc_studio.domain.progress import CancelToken
from cdp_poc_studio.roundtrip.handoff import Handoff, write_handoff
from cdp_poc_studio.roundtrip.run_folder import RunFolder
from cdp_poc_studio.roundtrip.scenario import load_scenario
from cdp_poc_studio.roundtrip.snippets import Snippet, snippets_for
from cdp_poc_studio.ui.context import StudioContext
from cdp_poc_studio.workers.tasks import Report

TABS = (
    ("decision", "Decisions"),
    ("accessor", "Accessors"),
    ("template", "Decision templates"),
    ("export", "Export (Advanced mode)"),
    ("sql", "Data lake SQL"),
)


class _SnippetList(QWidget):
    """One kind of snippet: the list on the left, the code on the right, a copy button under it."""

    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.snippets: list[Snippet] = []
        self.list = QListWidget()
        self.list.setObjectName(f"snippets-{kind}")
        self.code = QPlainTextEdit()
        self.code.setReadOnly(True)
        self.code.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName(f"copy-{kind}")
        self.copy_button.clicked.connect(self.copy)
        self.list.currentRowChanged.connect(self._on_list_row_changed)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.code)
        right_layout.addWidget(self.copy_button)
        splitter = QSplitter()
        splitter.addWidget(self.list)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def show_snippets(self, snippets: list[Snippet]) -> None:
        self.snippets = snippets
        self.list.clear()
        for snippet in snippets:
            item = QListWidgetItem(snippet.title)
            item.setToolTip(snippet.file)
            self.list.addItem(item)
        self.code.clear()
        if snippets:
            self.list.setCurrentRow(0)
        self.copy_button.setEnabled(bool(snippets))

    def _on_list_row_changed(self, row: int) -> None:
        self.code.setPlainText(self.snippets[row].code if 0 <= row < len(self.snippets) else "")

    def copy(self) -> str:
        text = self.code.toPlainText()
        QGuiApplication.clipboard().setText(text)
        return text


class SnippetsPanel(QGroupBox):
    """Signals:
    copied(str): a snippet was copied to the clipboard (its file name in the run folder).
    handoff_written(object): the hand-off was written (roundtrip.handoff.Handoff).
    """

    copied = Signal(str)
    handoff_written = Signal(object)

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__("Snippets: nested data made usable inside CDP, and the hand-off", parent)
        self.setObjectName("snippetsPanel")
        self.context = context
        self.folder: Path | None = None
        self._busy = False
        self.note = QLabel("No run yet.")
        self.note.setWordWrap(True)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("snippetTabs")
        self.lists: dict[str, _SnippetList] = {}
        for kind, label in TABS:
            panel = _SnippetList(kind)
            panel.copy_button.clicked.connect(lambda _=False, p=panel: self._on_copied(p))
            self.lists[kind] = panel
            self.tabs.addTab(panel, label)
        self.handoff_button = QPushButton("Write the hand-off for the customer's developers…")
        self.handoff_button.setObjectName("writeHandoff")
        self.handoff_button.setToolTip(
            "A Postman collection with tests, a standalone load.py, these snippets and a README, with no secrets"
        )
        self.handoff_button.clicked.connect(self.write_handoff)
        self.status = QLabel()
        self.status.setObjectName("handoffStatus")
        self.status.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(self.handoff_button)
        bottom.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)
        self.show_run(None)

    def show_run(self, folder: Path | None) -> None:
        """The snippets of a run's schema (the scenario as run, in its folder); none without a run."""
        self.folder = folder
        snippets: list[Snippet] = []
        if folder is not None and RunFolder(folder).exists():
            schema = load_scenario(RunFolder(folder).scenario).resolved_schema(folder)
            snippets = snippets_for(schema)
        for kind, panel in self.lists.items():
            panel.show_snippets([s for s in snippets if s.kind == kind])
        if folder is None:
            self.note.setText("No run yet: send and verify first.")
        elif not snippets:
            self.note.setText("This scenario has no nested fields: its extension keys are usable in CDP as they are.")
        else:
            fields = sorted({s.field for s in snippets})
            self.note.setText(
                f"{len(snippets)} snippets for {', '.join(fields)}, proved on every guest read back (the "
                "decisions source); in the run folder under snippets/."
            )
        self.handoff_button.setEnabled(folder is not None and not self._busy)

    def _on_copied(self, panel: _SnippetList) -> None:
        row = panel.list.currentRow()
        if 0 <= row < len(panel.snippets):
            self.status.setText(f"Copied {panel.snippets[row].file}.")
            self.copied.emit(panel.snippets[row].file)

    def write_handoff(self) -> None:
        folder = self.folder
        if folder is None:
            return
        answer = self.context.dialogs.ask_text(
            self, "Hand-off", "Write the hand-off into this folder:", str(folder / "handoff")
        )
        if not answer:
            return
        out = Path(answer)
        self._busy = True
        self.handoff_button.setEnabled(False)
        self.status.setText("Writing the hand-off…")

        def body(_report: Report, _cancel: CancelToken) -> Handoff:
            return write_handoff(folder, out)

        def done(result: Handoff) -> None:
            self.status.setText(
                f"Hand-off written to {result.out}: Postman collection ({result.postman_requests:,} requests), "
                f"load.py ({result.load_steps:,} steps), {result.snippets} snippets, README.md."
            )
            self.handoff_written.emit(result)

        def failed(exc: BaseException) -> None:
            self.status.setText("")
            self.context.dialogs.error(self, "Cannot write the hand-off", f"{exc}")

        def finished() -> None:
            self._busy = False
            self.handoff_button.setEnabled(self.folder is not None)

        self.context.runner.submit(body, name="handoff", on_success=done, on_failure=failed, on_finished=finished)
