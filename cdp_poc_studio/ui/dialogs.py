"""Every modal question the studio asks, behind one injectable object, so tests answer them without a screen."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

SaveAnswer = Literal["save", "discard", "cancel"]
# Closing while a run goes on: stop it (it can be resumed), leave it running (a run in its own process), or not close.
RunningAnswer = Literal["stop", "leave", "cancel"]
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

    def ask_close_running(self, parent: QWidget, run: str, can_leave: bool) -> RunningAnswer: ...


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

    def ask_close_running(self, parent: QWidget, run: str, can_leave: bool) -> RunningAnswer:
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("A run is in progress")
        box.setText(f"{run} is still running.")
        leave = None
        if can_leave:
            box.setInformativeText("Leave it running, and the studio re-attaches to it when you open it again; or "
                                   "stop it, and resume it later: nothing is sent twice.")  # fmt: skip
            leave = box.addButton("Leave it running", QMessageBox.ButtonRole.AcceptRole)
        else:
            box.setInformativeText("Stop it to close the studio; resume it later from the Send step: nothing is sent "
                                   "twice.")  # fmt: skip
        stop = box.addButton("Stop the run", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep the window open", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.exec()
        clicked = box.clickedButton()
        if clicked is stop:
            return "stop"
        if leave is not None and clicked is leave:
            return "leave"
        return "cancel"
