"""A sample's orders file ([source.orders]) on the real sandbox: rows that cannot be sent are findings with the file,
row, column and fix; with "stop" nothing is sent, with "skip" the valid orders go and the others are accounted for."""

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cdp_poc_studio.cdp.readback import ReadBack
from cdp_poc_studio.resources import SAMPLES
from cdp_poc_studio.roundtrip.pipeline import Pipeline
from cdp_poc_studio.roundtrip.scenario import Scenario
from cdp_poc_studio.roundtrip.source.rows import RowFindingsError
from cdp_poc_studio.roundtrip.source.spec import OrdersSpec
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from cdp_poc_studio.targets.target import Target
from tests.helpers.roundtrip import run
from tests.roundtrip.test_source_run import crm_sample, rows_log


def _with_bad_orders(tmp_path: Path, **source: Any) -> Scenario:
    """The bundled scenario with two more order rows: a guest key no guest has, and 31 February."""
    lines = (SAMPLES / "crm_orders.csv").read_text(encoding="utf-8").splitlines()
    lines.append("SO-5101;C-9999;03/03/2024 10:00;Purchased;web;;eur;10,00;cash;;BOOK-0001;Atlas;Books;Map Co;1;10,00")
    lines.append("SO-5102;C-1005;31/02/2024 10:00;Purchased;web;;eur;10,00;cash;;BOOK-0002;Guide;Books;Map Co;1;10,00")
    path = tmp_path / "crm_orders.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    scenario, _schema = crm_sample(**source.pop("integration", {}))
    assert scenario.source is not None
    assert scenario.source.orders is not None
    orders = scenario.source.orders.model_copy(update={"file": str(path)})
    return scenario.model_copy(update={"source": scenario.source.model_copy(update={"orders": orders, **source})})


def test_an_unknown_guest_key_and_a_bad_order_date_stop_the_run_before_anything_is_sent(
    target: Target, admin: SandboxAdmin, tmp_path: Path
) -> None:
    scenario = _with_bad_orders(tmp_path)
    _, schema = crm_sample()
    pipeline = Pipeline.start(scenario, schema, tmp_path / "runs", target, batch_poll_seconds=0.05)
    with pytest.raises(RowFindingsError) as raised:
        pipeline.run()
    message = str(raised.value)
    assert "2 of 9 order row(s) cannot be sent as mapped; nothing was sent" in message
    assert "nothing was sent" in message
    assert (
        "crm_orders.csv, row 8 (line 9), column 'Customer No', value 'C-9999': no guest has the identifier 'C-9999'; "
        "fix the key, or add the guest to the guests' file" in message
    )
    assert "crm_orders.csv, row 9 (line 10), column 'Order Date', value '31/02/2024 10:00'" in message
    assert ReadBack(target.connection.http).guest_by_identifier("CRM", "C-1001") == []
    requests = (pipeline.folder.path / "requests.ndjson").read_text().splitlines()
    assert not [line for line in requests if "batch" in line]


def test_skip_sends_the_valid_orders_and_logs_the_others_with_their_column(target: Target, tmp_path: Path) -> None:
    scenario = _with_bad_orders(tmp_path, invalid_rows="skip", integration={"load": "rest"})
    _, schema = crm_sample()
    pipeline, report = run(scenario, schema, target, tmp_path / "runs")
    assert report.verdict == "passed", [d.model_dump() for d in report.differences[:5]]
    assert report.rows is not None
    assert (report.rows.verified, report.rows.order_rows, report.rows.order_rows_verified) == (10, 9, 7)
    assert report.rows.order_rows_invalid == 2
    bad = [r for r in rows_log(pipeline.folder.path, orders=True) if r["status"] != "verified"]
    assert [(r["row"], r["order"], r["status"], r["findings"][0]["column"]) for r in bad] == [
        (8, "SO-5101", "invalid", "Customer No"), (9, "SO-5102", "invalid", "Order Date"),
    ]  # fmt: skip
    assert bad[0]["findings"][0]["file"] == "crm_orders.csv"
    # The guest of the bad-dated order is sent (its row is fine); the order is not.
    rest = next(s for s in report.sources if s.source == "rest")
    assert {f.path: f.counts for f in rest.fields}["orders.*.referenceId"] == {"equal": 6}


def test_an_orders_table_without_a_reference_or_with_a_guest_target_is_refused_with_its_fix() -> None:
    rule = {"column": "Order Date", "target": "orderedAt"}
    with pytest.raises(ValidationError, match="map a column to referenceId"):
        OrdersSpec.model_validate({"file": "orders.csv", "guest_key": "Customer", "mapping": [rule]})
    with pytest.raises(ValidationError, match=r"'firstName' is not an order target: write one of referenceId"):
        OrdersSpec.model_validate({
            "file": "orders.csv", "guest_key": "Customer",
            "mapping": [{"column": "No", "target": "referenceId"}, {"column": "Name", "target": "firstName"}],
        })  # fmt: skip
    assert json.dumps(OrdersSpec.model_json_schema())  # the scenario's schema (for editors) takes the table
