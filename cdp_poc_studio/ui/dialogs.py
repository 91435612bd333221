"""Every modal question the studio asks, behind one injectable object, so tests answer them without a screen."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

SaveAnswer = Literal["save", "discard", "cancel"]
SCENARIO_FILTER = "Scenarios (*.toml);;All files (*)"
SAMPLE_FILTER = "Customer data (*.csv *.json *.ndjson *.jsonl);;All files (*)"
HTML_FILTER = "HTML report (*.html);;All files (*)"
BUNDLE_FILTER = "Evidence bundle (*.zip);;All files (*)"


class Dialogs(Protocol):
    def ask_save_changes(self, parent: QWidget, name: str) -> SaveAnswer: ...

    def open_file(self, parent: QWidget, caption: str, folder: str, filter: str) -> Path | None: ...

    def save_file(self, parent: QWidget, caption: str, folder: str, filter: str) -> Path | None: ...

    def ask_text(self, parent: QWidget, title: str, label: str, default: str = "") -> str | None: ...

    def error(self, parent: QWidget, title: str, text: str) -> None: ...

    def info(self, parent: QWidget, title: str, text: str) -> None: ...

    def confirm(self, parent: QWidget, title: str, text: str, details: str = "") -> bool: ...


class QtDialogs:
    """The real thing: QMessageBox and QFileDialog."""

    def ask_save_changes(self, parent: QWidget, name: str) -> SaveAnswer:
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Unsaved changes")
        box.setText(f"Save the changes to {name}?")
        box.setInformativeText("Your changes are lost if you don't save them.")
        box.setStandardButtons(
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return "save"
        if answer == QMessageBox.StandardButton.Discard:
            return "discard"
        return "cancel"

    def open_file(self, parent: QWidget, caption: str, folder: str, filter: str) -> Path | None:
        name, _ = QFileDialog.getOpenFileName(parent, caption, folder, filter)
        return Path(name) if name else None

    def save_file(self, parent: QWidget, caption: str, folder: str, filter: str) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(parent, caption, folder, filter)
        if not name:
            return None
        path = Path(name)
        # The filter's first pattern gives the suffix a bare name gets: "(*.toml)" -> ".toml".
        suffix = filter.partition("(*")[2].partition(")")[0].split()[0] if "(*." in filter else ""
        return path if path.suffix or not suffix else path.with_suffix(suffix)

    def ask_text(self, parent: QWidget, title: str, label: str, default: str = "") -> str | None:
        text, ok = QInputDialog.getText(parent, title, label, text=default)
        return text.strip() if ok and text.strip() else None

    def error(self, parent: QWidget, title: str, text: str) -> None:
        QMessageBox.critical(parent, title, text)

    def info(self, parent: QWidget, title: str, text: str) -> None:
        QMessageBox.information(parent, title, text)

    def confirm(self, parent: QWidget, title: str, text: str, details: str = "") -> bool:
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(title)
        box.setText(text)
        if details:
            box.setDetailedText(details)
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Yes
