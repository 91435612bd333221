"""What every step page is: it reads the scenario when shown, writes it back when left, and says what is missing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from cdp_poc_studio.roundtrip.scenario import Scenario
from cdp_poc_studio.ui.context import StudioContext


class Page(QWidget):
    """One step of the PoC.

    Subclasses implement `load` (scenario -> widgets), `store` (widgets -> a new scenario) and
    `validation_error` (None when the step is complete, else what is missing, in words for the user).

    Signals:
        edited(): the user changed something; the document is now modified.
        status_changed(): the step may have become complete or incomplete.
    """

    edited = Signal()
    status_changed = Signal()

    title = ""
    subtitle = ""

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._loading = False

    @contextlib.contextmanager
    def loading(self) -> Iterator[None]:
        """Widget changes made while loading are not the user's edits."""
        self._loading = True
        try:
            yield
        finally:
            self._loading = False

    def _on_widget_edited(self, *_args: object) -> None:
        if not self._loading:
            self.edited.emit()
            self.status_changed.emit()

    def load(self, scenario: Scenario) -> None:
        """Show this scenario (new or opened document, or the page is shown)."""

    def store(self, scenario: Scenario) -> Scenario:
        """The scenario with this page's edits applied (the page is left, or the document is saved)."""
        return scenario

    def validation_error(self) -> str | None:
        return None

    def is_busy(self) -> bool:
        return False

    def isComplete(self) -> bool:
        return self.validation_error() is None and not self.is_busy()

    def shown(self) -> None:
        """Called after `load` when the page becomes the current step."""

    def left(self) -> None:
        """Called before `store` when another step is shown."""
