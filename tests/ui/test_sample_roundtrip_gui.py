"""The customer's sample through the studio: mapped on the Map page, sent from Send on the embedded sandbox, and
every source row's result on the Verify page."""

from __future__ import annotations

import pytest

from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.roundtrip.scenario import load_scenario
from tests.helpers.studio import open_studio, send

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("load", ["batch", "rest"])
def test_the_bundled_sample_is_sent_from_send_and_verified_row_by_row(qtbot, make_window, load: str) -> None:
    window = open_studio(qtbot, make_window, "crm_sample", load=load)
    window.go_to(3)
    mapping = window.mapping_page
    assert mapping.source == "imported"
    assert mapping.validation_error() is None
    assert mapping.source_rows.statuses() == ["mapped"] * 10
    report = send(qtbot, window)
    # Visiting the Map page changed nothing: the rules are the bundled scenario's, transform for transform.
    assert window.document.scenario.mapping == load_scenario(SCENARIOS / "crm_sample.toml").mapping
    assert report.verdict == "passed"
    assert window.send_page.dry is not None
    assert window.send_page.dry.guests == 10
    assert report.rows is not None
    assert (report.rows.read, report.rows.verified) == (10, 10)
    window.go_to(5)
    verify = window.verify_page
    assert verify.source_rows_tab_index >= 0
    assert verify.tabs.tabText(verify.source_rows_tab_index) == "Source rows"
    # The guests' 10 rows, then the orders file's 7 (one per item), each named by its file and order.
    assert verify.source_rows.statuses() == ["verified"] * 17
    assert "17 verified" in verify.source_rows.summary.text()
    table = verify.source_rows.table
    assert (table.item(10, 0).text(), table.item(10, 2).text()) == ("crm_orders.csv 1", "C-1001, order SO-5001")
