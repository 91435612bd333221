"""A [source] sample through the whole loop on the real sandbox: sent by batch and by REST, verified, every row
accounted for in the run folder and the report; with findings, nothing sent unless the valid rows are chosen."""

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cdp_poc_studio.cdp.readback import ReadBack
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.roundtrip.pipeline import Pipeline
from cdp_poc_studio.roundtrip.scenario import Scenario, load_scenario
from cdp_poc_studio.roundtrip.source.rows import RowFindingsError, resolve_source
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from cdp_poc_studio.targets.target import Target
from tests.helpers.roundtrip import run


def crm_sample(**integration: Any) -> tuple[Scenario, ExtensionSchema]:
    path = SCENARIOS / "crm_sample.toml"
    scenario = resolve_source(load_scenario(path), path.parent)
    if integration:
        scenario = scenario.model_copy(update={"integration": scenario.integration.model_copy(update=integration)})
    return scenario, scenario.resolved_schema(path.parent)


def rows_log(folder: Path, *, orders: bool = False) -> list[dict[str, Any]]:
    """The per-row log's rows of the guests' file, or of the orders file."""
    with gzip.open(folder / "rows.ndjson.gz", "rb") as stream:
        return [row for row in map(json.loads, stream) if ("file" in row) == orders]


@pytest.mark.parametrize("load", ["batch", "rest"])
def test_the_bundled_messy_sample_runs_green_with_every_row_verified(
    load: str, target: Target, admin: SandboxAdmin, tmp_path: Path
) -> None:
    scenario, schema = crm_sample(load=load)
    pipeline, report = run(scenario, schema, target, tmp_path)
    assert report.verdict == "passed", [d.model_dump() for d in report.differences[:5]]
    assert report.rows is not None
    assert (report.rows.read, report.rows.mapped, report.rows.verified, report.rows.rejected_by_cdp) == (10, 10, 10, 0)
    html = (pipeline.folder.report / "report.html").read_text()
    assert "<h3>Source rows</h3>" in html
    assert "rows.ndjson.gz" in html
    assert "the orders file <code>crm_orders.csv</code>" in html
    assert "7 read, 0 not sent (findings), 7 verified" in html
    rows = rows_log(pipeline.folder.path)
    assert [r["row"] for r in rows] == list(range(1, 11))
    assert {r["status"] for r in rows} == {"verified"}
    assert {r["cdp"]["state"] for r in rows} == {"accepted"}
    # The orders file: 7 item rows, 6 orders, sent with their guests and compared field by field.
    assert (report.rows.order_rows, report.rows.order_rows_verified, report.rows.order_rows_invalid) == (7, 7, 0)
    rest = next(s for s in report.sources if s.source == "rest")
    compared = {f.path: f.counts for f in rest.fields if f.path.startswith("orders.")}
    assert compared["orders.*.price"] == {"equal": 6}
    assert compared["orders.*.items.*.price"] == {"equal": 7}
    order_rows = rows_log(pipeline.folder.path, orders=True)
    assert [(r["row"], r["order"], r["status"]) for r in order_rows[:3]] == [
        (1, "SO-5001", "verified"), (2, "SO-5001", "verified"), (3, "SO-5002", "verified"),
    ]  # fmt: skip
    # 02/05/2024 10:15 in Dublin (summer time), "1.049,90", "web", "eur", one item per row.
    order = order_rows[0]["payload"]["value"]
    assert (order["orderedAt"], order["price"], order["channel"], order["currencyCode"]) == (
        "2024-05-02T09:15:00.000Z", 1049.9, "WEB", "EUR",
    )  # fmt: skip
    assert [i["productId"] for i in order["orderItems"]] == ["GOLF-DRV-01", "GOLF-BAL-12"]
    assert order["contact"]["identifiers"] == [{"provider": "CRM", "id": "C-1001"}]
    first = rows[0]["payload"]["value"]
    # 14/03/1985, "Ireland", "English", "  aoife ", "1.234,50", "yes", "G", the concatenated name...
    assert (first["dateOfBirth"], first["country"], first["language"], first["firstName"]) == (
        "1985-03-14T00:00Z", "IE", "EN", "Aoife",
    )  # fmt: skip
    extension = first["extensions"][0]
    assert (extension["lifetimeValue"], extension["emailOptIn"], extension["loyaltyTier"]) == (1234.5, True, "gold")
    assert (extension["fullName"], extension["interests0"], extension["dataSource"]) == (
        "Aoife Byrne",
        "golf",
        "crm_extract",
    )
    # What CDP holds is what the mapping made, read back through REST: 03/07/1990, "France", "ZOE.MARTIN@...".
    [guest] = ReadBack(target.connection.http).guest_by_identifier("CRM", "C-1003")
    assert (guest.data["dateOfBirth"][:10], guest.data["country"], guest.data["email"]) == (
        "1990-07-03", "FR", "zoe.martin@example.com",
    )  # fmt: skip


def _with_bad_rows(tmp_path: Path) -> Path:
    sample = (SCENARIOS.parent / "samples" / "crm_customers.csv").read_text(encoding="utf-8-sig")
    lines = sample.splitlines()
    lines.append("C-2001;Mr;bad;Date;bad.date@example.com;M;31/02/1990;yes;Ireland;English;;;1,00;01/01/2024 10:00;G;")
    lines.append(
        "C-2002;Mr;no;Country;no.country@example.com;M;01/02/1990;yes;Narnia;English;;;1,00;01/01/2024 10:00;G;"
    )
    path = tmp_path / "crm_customers.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_rows_with_findings_stop_the_run_before_anything_is_sent(
    target: Target, admin: SandboxAdmin, tmp_path: Path
) -> None:
    scenario, schema = crm_sample()
    scenario = scenario.model_copy(
        update={"source": scenario.source.model_copy(update={"file": str(_with_bad_rows(tmp_path))})}
    )
    pipeline = Pipeline.start(scenario, schema, tmp_path / "runs", target, batch_poll_seconds=0.05)
    with pytest.raises(RowFindingsError) as raised:
        pipeline.run()
    message = str(raised.value)
    assert "2 of 12 source row(s) cannot be sent" in message
    assert "nothing was sent" in message
    assert "row 11 (line 12), column 'Date of Birth', value '31/02/1990'" in message
    assert "row 12 (line 13), column 'Country', value 'Narnia'" in message
    assert ReadBack(target.connection.http).guest_by_identifier("CRM", "C-1001") == []
    assert not [line for line in _requests(pipeline.folder.path) if "batch" in json.dumps(line)]
    assert pipeline.folder.load_state().stages["generate"].status == "failed"


def _requests(folder: Path) -> list[dict[str, Any]]:
    path = folder / "requests.ndjson"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_valid_rows_only_sends_them_and_accounts_for_the_others(target: Target, tmp_path: Path) -> None:
    scenario, schema = crm_sample(load="rest")
    source = scenario.source.model_copy(update={"file": str(_with_bad_rows(tmp_path)), "invalid_rows": "skip"})
    pipeline, report = run(scenario.model_copy(update={"source": source}), schema, target, tmp_path / "runs")
    assert report.verdict == "passed"
    assert report.rows is not None
    assert (report.rows.read, report.rows.mapped, report.rows.invalid, report.rows.verified) == (12, 10, 2, 10)
    bad = [r for r in rows_log(pipeline.folder.path) if r["status"] != "verified"]
    assert [(r["row"], r["status"], r["findings"][0]["column"]) for r in bad] == [
        (11, "invalid", "Date of Birth"), (12, "invalid", "Country"),
    ]  # fmt: skip


def test_the_cli_runs_the_bundled_sample_and_refuses_a_missing_column(tmp_path: Path) -> None:
    scenario = (SCENARIOS / "crm_sample.toml").read_text()
    broken = tmp_path / "broken.toml"
    broken.write_text(
        scenario.replace('column = "Surname"', 'column = "Surnam"')
        .replace("../samples/crm_customers.csv", str(SCENARIOS.parent / "samples" / "crm_customers.csv"))
        .replace("../samples/crm_orders.csv", str(SCENARIOS.parent / "samples" / "crm_orders.csv"))
    )
    result = subprocess.run(
        [sys.executable, "-m", "cdp_poc_studio", "run", str(broken), "--sandbox-db", ":memory:",
         "--runs", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    assert (
        "crm_customers.csv (line 1), column 'Surnam': no such column in the header; did you mean 'Surname'?"
        in result.stderr
    )


def test_a_lookalike_proposal_sends_the_sample_plus_synthetic_guests_of_its_shape(
    target: Target, tmp_path: Path
) -> None:
    from cdp_poc_studio.roundtrip.source.lookalike import propose
    from cdp_poc_studio.roundtrip.source.rows import open_mapping

    scenario, schema = crm_sample()
    proposed = propose(scenario, schema, open_mapping(scenario, schema), 30)
    fields = proposed.extensions.guest["ext"]
    assert (fields["emailOptIn"].kind, fields["lifetimeValue"].kind, fields["lastVisit"].kind) == (
        "bool", "float", "datetime",
    )  # fmt: skip
    assert fields["loyaltyTier"].choices == ["gold", "bronze", "silver"]  # a value set: the user may keep it
    assert (fields["lifetimeValue"].min, fields["lifetimeValue"].max) == (0.0, 12500.0)
    assert fields["interestList"].probability == 0.9  # one of ten customers has no interests
    assert proposed.generator.locales[:2] == ["en_IE", "en_GB"]
    pipeline, report = run(proposed, proposed.extensions, target, tmp_path)
    assert report.verdict == "passed"
    assert report.rows is not None
    assert (report.rows.read, report.rows.verified) == (10, 10)
    assert all(source.records_expected == 40 for source in report.sources)
    with gzip.open(pipeline.folder.generated, "rb") as stream:
        sent = [json.loads(line) for line in stream]
    sample, synthetic = sent[:10], sent[10:]
    assert len(synthetic) == 30
    # Of the sample's shape: only the attributes it maps (no passports), its extension keys, no orders.
    mapped_attributes = {r.target for r in scenario.mapping if "." not in r.target}
    for line in synthetic:
        assert set(line["guest"]) - {"guestType", "identifiers", "extensions"} <= mapped_attributes
        assert line["orders"] == []
    # No sample value is copied, except through the value sets (loyaltyTier, dataSource, the booleans).
    attributes = {v for line in sample for k, v in line["guest"].items() if isinstance(v, str) and k != "guestType"}
    extensions = {v for line in sample for v in line["nested"]["ext"].values() if isinstance(v, str)}
    sample_values = attributes | extensions
    value_sets = {"gold", "silver", "bronze", "crm_extract"}
    for line in synthetic:
        for key in ("firstName", "lastName", "email"):
            assert line["guest"].get(key) not in sample_values
        copied = {v for v in line["nested"]["ext"].values() if isinstance(v, str)} & sample_values
        assert copied <= value_sets, copied


def test_a_difference_points_back_to_its_source_row_and_column(target: Target, tmp_path: Path) -> None:
    """The per-row log joins what verification found with the row and column the value came from."""
    from cdp_poc_studio.cdp.ledger import RunLedger
    from cdp_poc_studio.roundtrip.normalise import Outcome
    from cdp_poc_studio.roundtrip.source.rows import open_mapping, write_row_results
    from cdp_poc_studio.roundtrip.verify import Difference

    scenario, schema = crm_sample(load="rest")
    pipeline, _ = run(scenario, schema, target, tmp_path)
    mapping = open_mapping(pipeline.scenario, pipeline.schema)
    changed = Difference("rest", "CRM:C-1003", "dateOfBirth", Outcome.VALUE_CHANGED, "1990-07-03T00:00Z", "1990-07-04")
    nested = Difference("export", "CRM:C-1003", "ext.loyaltyTier", Outcome.FIELD_MISSING, "bronze", None)
    with RunLedger(pipeline.folder.ledger) as ledger:
        summary, rows_of = write_row_results(
            pipeline.folder.path, "crm_customers.csv", ledger, [changed, nested], mapping.origin, compared=True
        )
    assert (summary.verified, summary.differs, rows_of) == (9, 1, {"CRM:C-1003": 3})
    row = next(r for r in rows_log(pipeline.folder.path) if r["row"] == 3)
    assert row["status"] == "differs"
    assert [(d["path"], d["column"]) for d in row["differences"]] == [
        ("dateOfBirth", "Date of Birth"), ("ext.loyaltyTier", "Tier"),
    ]  # fmt: skip
    assert mapping.origin("ext.interests[1]") == "Interests"
    assert mapping.origin("identifiers") == "Customer No"


def test_a_sample_run_waits_for_the_nightly_snapshot_resumes_and_names_the_row_that_went_missing(
    target: Target, tmp_path: Path
) -> None:
    from datetime import timedelta

    from cdp_poc_studio.cdp.rest import GuestClient

    scenario, schema = crm_sample()
    nightly = Target(target.connection, target.description, "sandbox", admin=target.admin, nightly_snapshot=True)
    pipeline, first = run(scenario, schema, nightly, tmp_path)
    assert first.verdict == "waiting"
    assert first.rows is not None
    assert first.rows.verified == 10  # by REST so far
    guests = GuestClient(target.connection.http)
    (ref,) = guests.find_by_identifier("CRM", "C-1004")
    guests.delete(ref)
    assert target.admin is not None
    assert first.waiting_until is not None
    target.admin.set_clock(first.waiting_until + timedelta(minutes=5))
    resumed = Pipeline(pipeline.scenario, pipeline.schema, pipeline.folder, nightly, batch_poll_seconds=0.05).run()
    assert resumed.verdict == "failed"
    assert resumed.rows is not None
    assert (resumed.rows.verified, resumed.rows.differs) == (9, 1)
    missing = [d for d in resumed.differences if d.record == "CRM:C-1004" and d.outcome.fails]
    assert missing
    assert {d.origin for d in missing} == {"row 4"}
    row = next(r for r in rows_log(pipeline.folder.path) if r["row"] == 4)
    assert row["status"] == "differs"
    assert {d["source"] for d in row["differences"]} == {"export"}


def test_the_cli_sends_only_the_valid_rows_when_asked_and_proposes_lookalike_data(tmp_path: Path) -> None:
    sample = _with_bad_rows(tmp_path)
    scenario = tmp_path / "crm.toml"
    scenario.write_text(
        (SCENARIOS / "crm_sample.toml")
        .read_text()
        .replace("../samples/crm_customers.csv", sample.name)
        .replace("../samples/crm_orders.csv", str(SCENARIOS.parent / "samples" / "crm_orders.csv"))
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cdp_poc_studio", *args], capture_output=True, text=True, timeout=300, cwd=tmp_path
        )

    refused = cli("run", str(scenario), "--sandbox-db", ":memory:", "--runs", "runs")
    assert refused.returncode == 2
    assert "2 of 12 source row(s) cannot be sent" in refused.stderr
    assert "row 12 (line 13), column 'Country', value 'Narnia'" in refused.stderr
    sent = cli("run", str(scenario), "--sandbox-db", ":memory:", "--runs", "runs", "--valid-rows-only")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "rows        12 read, 10 mapped, 10 verified, 2 invalid" in sent.stdout
    proposed = cli("lookalike", str(scenario), "--rows", "15")
    assert proposed.returncode == 0, proposed.stderr
    assert "ext.loyaltyTier: choice of 3 sample values" in proposed.stdout
    written = load_scenario(tmp_path / "crm-lookalike.toml")
    assert written.source is not None
    assert (written.source.file, written.source.synthetic_rows) == (sample.name, 15)
