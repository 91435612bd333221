"""A table cell that wraps its text, between words or else anywhere (keys, e-mail addresses), instead of eliding it."""

from __future__ import annotations

import math

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QPainter, QPalette, QTextLayout, QTextOption
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

MARGIN = 4  # around the text, in line with the line edits and combo boxes of the same row


def _option() -> QTextOption:
    # Qt's item views wrap only between words: "household.primaryContact.preferredLanguage" would be elided.
    option = QTextOption(Qt.AlignmentFlag.AlignLeft)
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    return option


def wrapped_height(text: str, font: QFont, width: int) -> int:
    """The height of `text` wrapped to `width` px as the delegate draws it."""
    layout = QTextLayout(text, font)
    layout.setTextOption(_option())
    layout.beginLayout()
    height = 0.0
    while (line := layout.createLine()).isValid():
        line.setLineWidth(width)
        line.setPosition(QPointF(0, height))
        height += line.height()
    layout.endLayout()
    return math.ceil(height)


class WrapAnywhereDelegate(QStyledItemDelegate):
    """Draws the text wrapped to the column from the top, and asks for a row as tall as that (for a view whose rows
    are sized to their contents)."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        base = super().sizeHint(option, index)
        text = str(index.data() or "")
        width = option.rect.width() - 2 * MARGIN
        if not text or width <= 0:
            return base
        height = wrapped_height(text, option.font, width) + 2 * MARGIN
        return QSize(base.width(), max(base.height(), height))

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        text = item.text
        item.text = ""
        widget = item.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, widget)
        selected = bool(item.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        painter.setFont(item.font)
        painter.setPen(item.palette.color(role))
        painter.drawText(QRectF(item.rect.adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)), text, _option())
        painter.restore()
