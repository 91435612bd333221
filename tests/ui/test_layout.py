"""No text cut at 1280×800 and at 1920×1080: every page, every tab, after a real run (issue 13 item 9)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QTabWidget

from cdp_poc_studio.ui.main_window import MainWindow
from tests.helpers.studio import open_studio, send
from tests.ui.layout_check import clipped_texts

# Map fields belongs to the customer-data engineer this session (issue 13 item 4 with it); its table is checked
# by their tests, not here.
NOT_HERE = {"Map fields"}


def _walk(window: MainWindow) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for index in range(len(window.pages)):
        window.go_to(index)
        QApplication.processEvents()
        page = window.current_page
        if page.title in NOT_HERE:
            continue
        problems = clipped_texts(window)
        for tabs in page.findChildren(QTabWidget):
            for tab in range(tabs.count()):
                tabs.setCurrentIndex(tab)
                QApplication.processEvents()
                problems += clipped_texts(window)
            tabs.setCurrentIndex(0)
        if problems:
            found[page.title] = sorted(set(problems))
    return found


@pytest.mark.slow
def test_every_page_fits_at_both_sizes(qtbot, make_window) -> None:
    window = open_studio(qtbot, make_window, "retail_loyalty", guests=12)
    report = send(qtbot, window)
    assert report.verdict == "passed"
    with qtbot.waitSignal(window.send_page.runs_listed):
        window.send_page.refresh_runs()
    window.show_console()
    for size in ((1280, 800), (1920, 1080)):
        window.resize(*size)
        QApplication.processEvents()
        assert window.width() == size[0]
        found = _walk(window)
        listing = "\n".join(f"{page}: {problem}" for page, problems in found.items() for problem in problems)
        assert not found, f"text cut at {size[0]}×{size[1]}:\n{listing}"
