"""Finds text that does not fit its widget: labels, buttons, tab titles, table headers and cells (issue 13 item 9)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QTextLayout, QTextOption
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QHeaderView,
    QLabel,
    QTabBar,
    QTableView,
    QTableWidget,
    QTreeWidget,
    QWidget,
)

# Room a push button's frame and margins take beside its text, in the Fusion style.
BUTTON_PADDING = 12
# Room a combo box's frame and drop-down arrow take beside its text, in the Fusion style.
COMBO_PADDING = 30
# Room a table cell's margins take beside its text (Fusion: a focus frame margin and a pixel, each side).
CELL_PADDING = 6


def _visible(widget: QWidget) -> bool:
    return widget.isVisible() and widget.width() > 0 and widget.height() > 0


def _wrapped_height(text: str, font: QFont, width: int) -> float:
    """The height of `text` wrapped between words, or anywhere where a word is longer than the line."""
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    layout.beginLayout()
    height = 0.0
    while (line := layout.createLine()).isValid():
        line.setLineWidth(width)
        height += line.height()
    layout.endLayout()
    return height


def _wraps_whole(table: QTableWidget, row: int, column: int) -> bool:
    """Whether the cell's text, wrapped to its column, fits the row's height (in a table that wraps its cells)."""
    item = table.item(row, column)
    if item is None or not table.wordWrap():
        return False
    width = max(table.columnWidth(column) - CELL_PADDING, 1)
    return _wrapped_height(item.text(), table.font(), width) + CELL_PADDING <= table.rowHeight(row)


def _cut_in_wrapping_table(table: QTableWidget) -> list[str]:
    """In a table that wraps its cells (rows as tall as their text), every cell's text and every combo box shown
    in a cell is whole: such a table promises that nothing in it is cut."""
    if not table.wordWrap() or table.verticalHeader().sectionResizeMode(0) != QHeaderView.ResizeMode.ResizeToContents:
        return []
    found: list[str] = []
    for row in range(min(table.rowCount(), 40)):
        for column in range(table.columnCount()):
            if table.isColumnHidden(column):
                continue
            item = table.item(row, column)
            if item is not None and item.text() and not _wraps_whole(table, row, column):
                found.append(f"cell {item.text()!r} does not fit {table.columnWidth(column)} px wrapped")
            cell = table.cellWidget(row, column)
            combos = [] if cell is None else [cell] if isinstance(cell, QComboBox) else cell.findChildren(QComboBox)
            for combo in combos:
                need = combo.fontMetrics().horizontalAdvance(combo.currentText()) + COMBO_PADDING
                if combo.currentText() and need > combo.width():
                    found.append(f"combo {combo.currentText()!r}: needs {need} px, has {combo.width()}")
    return found


def clipped_texts(root: QWidget) -> list[str]:
    """Each text under `root` that is cut, as "Kind 'text': needs N px, has M"."""
    found: list[str] = []
    for label in root.findChildren(QLabel):
        text = label.text()
        if not _visible(label) or not text or label.wordWrap() or GuiQt.mightBeRichText(text):
            continue
        if not label.pixmap().isNull():
            continue
        need = label.fontMetrics().horizontalAdvance(text)
        have = label.contentsRect().width()
        if need > have:
            found.append(f"label {text!r}: needs {need} px, has {have}")
    for button in root.findChildren(QAbstractButton):
        text = button.text().replace("&", "")
        if not _visible(button) or not text or isinstance(button.parent(), QTabBar):
            continue
        need = button.fontMetrics().horizontalAdvance(text) + BUTTON_PADDING
        if not button.icon().isNull():
            need += button.iconSize().width()
        if need > button.width():
            found.append(f"button {text!r}: needs {need} px, has {button.width()}")
    for bar in root.findChildren(QTabBar):
        if not _visible(bar):
            continue
        for index in range(bar.count()):
            text = bar.tabText(index).replace("&", "")
            need = bar.fontMetrics().horizontalAdvance(text)
            if need > bar.tabRect(index).width() - 8:
                found.append(f"tab {text!r}: needs {need} px, has {bar.tabRect(index).width()}")
    for header in root.findChildren(QHeaderView):
        if not _visible(header) or header.orientation() != Qt.Orientation.Horizontal:
            continue
        model = header.model()
        if model is None:
            continue
        shown = [s for s in range(header.count()) if not header.isSectionHidden(s)]
        for section in shown:
            text = str(model.headerData(section, Qt.Orientation.Horizontal) or "")
            need = header.fontMetrics().horizontalAdvance(text) + 8
            have = header.sectionSize(section)
            if text and need > have:
                found.append(f"header {text!r}: needs {need} px, has {have}")
        if shown and header.stretchLastSection() and not isinstance(header.parent(), QTreeWidget):
            # The last column (often the explanation) must start on screen, with room to read it.
            last = shown[-1]
            start = header.sectionViewportPosition(last)
            if start + 80 > header.viewport().width():
                text = str(model.headerData(last, Qt.Orientation.Horizontal) or "")
                found.append(f"column {text!r} starts at {start} px of {header.viewport().width()}: off-screen")
    for table in root.findChildren(QTableWidget):
        if not _visible(table) or table.columnCount() < 2:
            continue
        # The first column names the row (a run, a file, a credential): it is never cut.
        for row in range(min(table.rowCount(), 20)):
            item = table.item(row, 0)
            if item is None or not item.text() or _wraps_whole(table, row, 0):
                continue
            need = table.fontMetrics().horizontalAdvance(item.text()) + 12
            if need > table.columnWidth(0):
                found.append(f"cell {item.text()!r}: needs {need} px, has {table.columnWidth(0)}")
        found += _cut_in_wrapping_table(table)
    for view in root.findChildren(QTableView):
        model = view.model()
        if not _visible(view) or isinstance(view, QTableWidget) or model is None or model.columnCount() < 2:
            continue
        # The first column names the row (a classification, a time): never cut either.
        for row in range(min(model.rowCount(), 10)):
            text = str(model.index(row, 0).data() or "")
            need = view.fontMetrics().horizontalAdvance(text) + 12
            if text and need > view.columnWidth(0):
                found.append(f"cell {text!r}: needs {need} px, has {view.columnWidth(0)}")
    for tree in root.findChildren(QTreeWidget):
        if not _visible(tree) or tree.columnCount() < 2:
            continue
        stack = [tree.topLevelItem(i) for i in range(min(tree.topLevelItemCount(), 50))]
        while stack:
            item = stack.pop()
            text = item.text(0)
            rect = tree.visualRect(tree.indexFromItem(item, 0))
            need = tree.fontMetrics().horizontalAdvance(text) + 6
            if text and rect.isValid() and need > rect.width():
                found.append(f"tree item {text!r}: needs {need} px, has {rect.width()}")
            stack.extend(item.child(i) for i in range(item.childCount()) if item.isExpanded())
    return found
