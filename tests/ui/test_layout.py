"""No text cut at 1280×800 and at 1920×1080: every page, every tab, after a real run (issue 13 item 9)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QTabWidget

from cdp_poc_studio.resources import RESOURCES
from cdp_poc_studio.ui.main_window import MainWindow
from cdp_poc_studio.ui.pages.mapping import CHECK_COL, MappingPage
from tests.helpers.studio import click, open_studio, send
from tests.ui.layout_check import clipped_texts

SAMPLE = RESOURCES / "samples" / "crm_customers.csv"


def _nested_sample(folder: Path) -> Path:
    """The bundled CRM sample as JSON, with a household object that flattens to long keys."""
    with SAMPLE.open(encoding="utf-8-sig", newline="") as stream:
        records = list(csv.DictReader(stream, delimiter=";"))
    for number, record in enumerate(records):
        record["household"] = {"primaryContact": {"preferredLanguage": "en-IE"}, "memberCount": number % 4 + 1}
    path = folder / "crm_customers.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def _map_the_sample(qtbot, window: MainWindow, sample: Path, dialogs) -> MappingPage:  # type: ignore[no-untyped-def]
    """The Map page on the customer's sample, left contradicting CDP where a demo would: a date and a country
    without their transforms, and an extension key CDP refuses."""
    window.go_to(window.pages.index(window.mapping_page))
    page = window.mapping_page
    dialogs.open_paths.append(sample)
    with qtbot.waitSignal(page.sample_ready):
        click(qtbot, page.import_button)
    for column in ("Date of Birth", "Country"):
        steps = page.steps_of(page.row_of(column))
        assert steps is not None
        steps.clear()
    combo = page.target_combo("Email Opt-In")
    assert combo is not None
    combo.setCurrentText("ext.email opt-in!")
    assert page.table.item(page.row_of("Email Opt-In"), CHECK_COL).text().startswith("✖")
    assert page.table.item(page.row_of("household.primaryContact.preferredLanguage"), CHECK_COL).text() == "✔"
    return page


def _walk(window: MainWindow) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for index in range(len(window.pages)):
        assert window.go_to(index), window.statusBar().currentMessage()
        QApplication.processEvents()
        page = window.current_page
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
def test_every_page_fits_at_both_sizes(qtbot, make_window, dialogs, tmp_path: Path) -> None:
    window = open_studio(qtbot, make_window, "retail_loyalty", guests=12)
    report = send(qtbot, window)
    assert report.verdict == "passed"
    with qtbot.waitSignal(window.send_page.runs_listed):
        window.send_page.refresh_runs()
    window.show_console()
    window.resize(1280, 800)
    window.go_to(window.pages.index(window.mapping_page))
    QApplication.processEvents()
    assert not clipped_texts(window), "the generated data's mapping is cut at 1280×800"
    _map_the_sample(qtbot, window, _nested_sample(tmp_path), dialogs)
    for size in ((1280, 800), (1920, 1080)):
        window.resize(*size)
        QApplication.processEvents()
        assert window.width() == size[0]
        found = _walk(window)
        listing = "\n".join(f"{page}: {problem}" for page, problems in found.items() for problem in problems)
        assert not found, f"text cut at {size[0]}×{size[1]}:\n{listing}"
