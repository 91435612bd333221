"""Exports read exactly as their definition says: the sandbox's writer against the client's reader, every option.

JSON lines; CSV with comma or pipe, with and without a header row, with and without quote wrapping, with values
holding the separator, quotes, line breaks, lists and non-Latin text; an absent optional value reads as absent.
Delta exports are verified with delta semantics on a fresh and on a reused database.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import pytest

from cdp_poc_studio.cdp.exports import AudienceExportClient, ExportFormat, iter_export_file
from cdp_poc_studio.cdp.rest import GuestClient
from cdp_poc_studio.roundtrip.normalise import Outcome
from cdp_poc_studio.targets.target import Target
from tests.helpers.data import bundled
from tests.helpers.roundtrip import run

ATTRIBUTES = ["email", "firstName", "street", "city"]
EXT_COLUMNS = ["ext.note", "ext.vip", "ext.points", "ext.ratio"]
GUESTS = [
    {
        "guest": {
            "guestType": "customer",
            "email": "ann@example.com",
            "firstName": 'Ann, "Jr" | Ó',
            "street": ["1, Main St", 'Flat "B" | 2'],
            "city": "Line one\nline two",
            "identifiers": [{"provider": "FMT", "id": "1"}],
        },
        "ext": {"note": 'a,b|c"d\ne', "vip": True, "points": 3, "ratio": 0.25},
    },
    {
        # No city, no extension: absent optional values.
        "guest": {
            "guestType": "customer",
            "email": "ken@example.com",
            "firstName": "健太",
            "street": ["東京都"],
            "identifiers": [{"provider": "FMT", "id": "2"}],
        },
        "ext": None,
    },
]
CSV_OPTIONS = list(product([",", "|"], [True, False], [True, False]))


def _load(target: Target) -> None:
    guests = GuestClient(target.connection.http)
    for entry in GUESTS:
        created = guests.create(entry["guest"])
        if entry["ext"]:
            guests.create_extension(created["ref"], {"name": "ext", **entry["ext"]})


def _pull(target: Target, tmp_path: Path, definition: dict[str, Any]) -> list[Path]:
    assert target.admin is not None
    target.admin.put_export({"friendlyId": "formats", "attributes": ATTRIBUTES, **definition})
    target.admin.run_export("formats")
    client = AudienceExportClient(target.connection.http)
    return [path for _, path in client.download_all(client.latest_export("formats"), tmp_path)]


def _rows(paths: list[Path], fmt: ExportFormat) -> dict[str, dict[str, Any]]:
    rows = [row for path in paths for row in iter_export_file(path, fmt)]
    return {row["email"]: row for row in rows}


def test_json_export_reads_every_value_with_its_type_and_absent_values_absent(target: Target, tmp_path: Path) -> None:
    _load(target)
    rows = _rows(_pull(target, tmp_path, {"format": "JSON"}), ExportFormat())
    ann, ken = rows["ann@example.com"], rows["ken@example.com"]
    assert {k: ann[k] for k in ("firstName", "street", "city")} == {
        k: GUESTS[0]["guest"][k] for k in ("firstName", "street", "city")
    }
    assert (ann["ext.note"], ann["ext.vip"], ann["ext.points"], ann["ext.ratio"]) == ('a,b|c"d\ne', True, 3, 0.25)
    assert "city" not in ken
    assert not any(key.startswith("ext.") for key in ken)


@pytest.mark.parametrize(("separator", "header", "quote"), CSV_OPTIONS)
def test_csv_export_reads_back_cell_for_cell(
    target: Target, tmp_path: Path, separator: str, header: bool, quote: bool
) -> None:
    _load(target)
    definition = {
        "format": "CSV",
        "csv": {"separator": "pipe" if separator == "|" else "comma", "header": header, "quote": quote},
        # Without a header the columns are the definition's: name the extension columns.
        "extensionAttributes": EXT_COLUMNS,
    }
    names = None if header else ("guestRef", *ATTRIBUTES, *EXT_COLUMNS)
    fmt = ExportFormat.csv(delimiter=separator, header=header, quoting=quote, fieldnames=names)
    rows = _rows(_pull(target, tmp_path, definition), fmt)
    assert set(rows) == {"ann@example.com", "ken@example.com"}
    ann, ken = rows["ann@example.com"], rows["ken@example.com"]
    assert ann["firstName"] == 'Ann, "Jr" | Ó'
    assert ann["street"] == '["1, Main St","Flat \\"B\\" | 2"]'  # a list is JSON text in its cell
    assert ann["city"] == "Line one\nline two"
    assert (ann["ext.note"], ann["ext.vip"], ann["ext.points"], ann["ext.ratio"]) == ('a,b|c"d\ne', "true", "3", "0.25")
    assert ken["firstName"] == "健太"
    assert ken["city"] == ""  # absent: an empty cell, read as absent by the verifier (N-CSV-TEXT)
    assert all(ken[column] == "" for column in EXT_COLUMNS)
    assert list(ann) == ["guestRef", *ATTRIBUTES, *EXT_COLUMNS]


@pytest.mark.parametrize(("separator", "header", "quote"), [("|", False, False), (",", True, False)])
def test_a_csv_round_trip_passes_with_every_option(
    target: Target, tmp_path: Path, separator: str, header: bool, quote: bool
) -> None:
    scenario, schema = bundled("retail_loyalty", guests=6)
    export = scenario.export.model_copy(
        update={
            "format": "csv",
            "csv": scenario.export.csv.model_copy(update={"separator": separator, "header": header, "quote": quote}),
        }
    )
    scenario = scenario.model_copy(update={"export": export})
    _, report = run(scenario, schema, target, tmp_path)
    assert report.verdict == "passed", [d for d in report.differences if d.outcome.fails][:5]
    (source,) = [s for s in report.sources if s.source == "export"]
    assert source.records_found == 6
    assert source.outcome_totals.get(Outcome.NORMALISED, 0) > 0  # typed values read from text, N-CSV-TEXT


@pytest.mark.slow
def test_delta_exports_are_verified_with_delta_semantics_on_a_fresh_and_a_reused_database(
    target: Target, tmp_path: Path
) -> None:
    scenario, schema = bundled("retail_loyalty", guests=6)
    scenario = scenario.model_copy(
        update={"export": scenario.export.model_copy(update={"definition_type": "DELTA", "friendly_id": "delta"})}
    )
    # Fresh database: the first delta run is a full export.
    _, first = run(scenario, schema, target, tmp_path / "one")
    assert first.verdict == "passed", [d for d in first.differences if d.outcome.fails][:5]
    (export,) = [s for s in first.sources if s.source == "export"]
    assert export.records_found == 6
    # The same database again: the same guests are already in the audience, so the delta holds none of them.
    _, second = run(scenario, schema, target, tmp_path / "two")
    assert second.verdict == "passed", [d for d in second.differences if d.outcome.fails][:5]
    (export,) = [s for s in second.sources if s.source == "export"]
    assert (export.records_found, export.records_missing, export.records_unchanged) == (0, 0, 6)
    assert {d.rule for d in second.differences if d.source == "export"} == {"X-DELTA"}
    # Four more guests of the same run tag: they are added, the six others still unchanged.
    more = scenario.model_copy(update={"generator": scenario.generator.model_copy(update={"guests": 10})})
    _, third = run(more, schema, target, tmp_path / "three")
    assert third.verdict == "passed", [d for d in third.differences if d.outcome.fails][:5]
    (export,) = [s for s in third.sources if s.source == "export"]
    assert (export.records_found, export.records_missing, export.records_unchanged) == (4, 0, 6)
    # A guest that left the audience since (deleted in CDP) is not excused: it is missing from the delta.
    guests = GuestClient(target.connection.http)
    (ref,) = guests.find_by_identifier("POC_STUDIO", "retail42-0000002")
    guests.delete(ref)
    _, fourth = run(more, schema, target, tmp_path / "four")
    (export,) = [s for s in fourth.sources if s.source == "export"]
    assert export.records_missing == 0  # re-sent by this run: upserted again, so added back
    assert export.records_found == 1
