"""The always-visible warning strip shown while the target is a real tenant."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


class Banner(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tenantBanner")
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # Fixed colours on purpose: the warning must look the same in light and dark themes.
        self.setStyleSheet(
            "QLabel#tenantBanner { background: #b3261e; color: white; font-weight: bold; padding: 8px;"
            " border-radius: 4px; }"
        )
        self.hide()

    def show_message(self, text: str) -> None:
        self.setText(text)
        self.show()
