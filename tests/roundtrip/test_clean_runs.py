"""The inverse of the mutations: a clean run has zero unexplained differences, and every normalised or explained
outcome it shows is one the spec (docs/verification.md) allows for that field.

Besides the bundled scenarios (test_pipeline.py runs each through both loading paths and checks them with
`assert_justified`), a freshly written scenario: deep nesting, lists of objects (prefix-flattened and as JSON),
lists inside lists, all six guest extension groups near their 100-key limit, non-Latin text and locales.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdp_poc_studio.domain.flatten import possible_keys
from cdp_poc_studio.domain.limits import MAX_EXTENSION_KEYS
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.domain.schema_check import check_schema
from cdp_poc_studio.roundtrip.normalise import field_rules
from cdp_poc_studio.roundtrip.report_model import RunReport
from cdp_poc_studio.roundtrip.rules import RULES
from cdp_poc_studio.roundtrip.scenario import Scenario
from cdp_poc_studio.roundtrip.verify import field_pattern
from cdp_poc_studio.targets.target import Target
from tests.helpers.roundtrip import run

NON_LATIN = ["東京", "Москва", "القاهرة", "Αθήνα", "서울", "मुंबई"]


def assert_justified(report: RunReport) -> None:
    """No failure; each normalised pass names a rule allowed for its field; each explained outcome a rule of the
    spec's `X-` kind that fits its source."""
    failing = [d for d in report.differences if d.outcome.fails]
    assert failing == [], failing[:5]
    for example in report.normalised_examples:
        allowed = field_rules(field_pattern(example.path)) | ({"N-CSV-TEXT"} if example.source == "export" else set())
        named = set(example.rule.split(", "))
        assert named <= allowed, (example.path, example.rule)
    for difference in report.differences:
        assert difference.outcome.explained
        rule = RULES[difference.rule]
        assert rule.kind == "explained", difference
        if difference.rule == "X-ORDERS-20":
            assert difference.source == "export"
            assert difference.path.startswith("orders.")


def _fillers(prefix: str, count: int) -> dict[str, Any]:
    kinds: list[dict[str, Any]] = [
        {"kind": "int", "min": -5, "max": 10_000_000},
        {"kind": "float", "min": -1000, "max": 1000, "decimals": 4},
        {"kind": "bool"},
        {"kind": "choice", "choices": NON_LATIN},
        {"kind": "date", "start": "1990-01-01", "end": "2030-12-31"},
        {"kind": "faker", "provider": "name"},
        {"kind": "const", "value": " padded and Cased "},
    ]
    return {f"{prefix}{n}": kinds[n % len(kinds)] for n in range(count)}


def fresh_schema() -> ExtensionSchema:
    deep = {
        "kind": "object",
        "fields": {
            "name": {"kind": "faker", "provider": "name"},
            "home": {
                "kind": "object",
                "fields": {
                    "city": {"kind": "faker", "provider": "city"},
                    "geo": {
                        "kind": "object",
                        "fields": {"lat": {"kind": "float", "min": -90, "max": 90, "decimals": 5},
                                   "lng": {"kind": "float", "min": -180, "max": 180, "decimals": 5}},
                    },
                },
            },
        },
    }  # fmt: skip
    visit = {
        "kind": "object",
        "fields": {
            "place": {"kind": "choice", "choices": NON_LATIN},
            "paid": {"kind": "float", "min": 0, "max": 500},
            "tags": {"kind": "list", "item": {"kind": "choice", "choices": ["a", "ß", "ç"]}, "max_items": 2},
        },
    }
    history = {
        "kind": "list",
        "flatten": "json",
        "max_items": 6,
        "item": {"kind": "object", "fields": {"at": {"kind": "datetime"}, "where": deep, "visits": {
            "kind": "list", "item": visit, "max_items": 3}}},
    }  # fmt: skip
    guest: dict[str, Any] = {
        "ext": {"profile": deep, **_fillers("a", 90)},
        "ext1": {"visits": {"kind": "list", "item": visit, "max_items": 4}, **_fillers("b", 80)},
        "ext2": {"history": history, **_fillers("c", 95)},
        "ext3": _fillers("d", 99),
        "ext4": _fillers("e", 98),
        "ext5": {"consent": {"kind": "bool"}, **_fillers("f", 97)},
    }
    order = {"ext": {"basket": history, **_fillers("g", 40)}}
    item = {"ext": {"gift": {"kind": "bool"}, "note": {"kind": "choice", "choices": NON_LATIN}}}
    return ExtensionSchema.model_validate({"guest": guest, "order": order, "order_item": item})


def test_the_fresh_schema_is_near_every_limit_and_breaks_none() -> None:
    schema = fresh_schema()
    assert check_schema(schema, api="batch") == []
    for group, fields in schema.guest.items():
        assert MAX_EXTENSION_KEYS - 12 <= len(list(possible_keys(schema, "guest", group, fields))) <= 100


@pytest.mark.slow
@pytest.mark.parametrize("load", ["batch", "rest"])
def test_a_freshly_written_deep_scenario_comes_back_clean(load: str, target: Target, tmp_path: Path) -> None:
    scenario = Scenario.model_validate(
        {
            "name": "Fresh deep scenario",
            "integration": {"load": load, "pull_back": ["rest", "export"]},
            "generator": {"seed": 5, "guests": 8, "locales": ["ja_JP", "pl_PL", "de_DE"],
                          "orders_per_guest": "uniform:1-3", "run_tag": f"fresh{load}"},
            "extensions": fresh_schema().model_dump(),
            "export": {"friendly_id": f"fresh_{load}", "include_orders": True},
        }
    )  # fmt: skip
    _, report = run(scenario, scenario.extensions, target, tmp_path)
    assert report.verdict == "passed", [d for d in report.differences if d.outcome.fails][:5]
    assert_justified(report)
    rest = next(s for s in report.sources if s.source == "rest")
    compared = {f.path for f in rest.fields}
    # Deep paths, lists of objects, lists inside lists and JSON-serialised nesting were all compared.
    assert "ext.profile.home.geo.lat" in compared
    assert any(p.startswith("ext1.visits[0].tags[") for p in compared)
    assert any(p.startswith("ext2.history[0].visits[0].place") for p in compared)
    assert any(p.startswith("orders.*.ext.basket[0].where.home.city") for p in compared)
    assert all(group in {p.split(".")[0] for p in compared} for group in ("ext3", "ext4", "ext5"))
    for source in report.sources:
        if source.source in ("rest", "export"):
            assert source.records_found == 8
            assert source.field_pass_rate == 1.0


@pytest.mark.parametrize("load", ["batch", "rest"])
def test_order_consumers_are_sent_and_verified(load: str, target: Target, tmp_path: Path) -> None:
    from cdp_poc_studio.cdp.rest import OrderClient
    from cdp_poc_studio.generator.distribution import Distribution
    from tests.helpers.data import bundled

    one, two = Distribution.parse("fixed:1"), Distribution.parse("fixed:2")
    scenario, schema = bundled("retail_loyalty", guests=4, orders_per_guest=one, consumers_per_order=two)
    scenario = scenario.model_copy(update={"integration": scenario.integration.model_copy(update={"load": load})})
    pipeline, report = run(scenario, schema, target, tmp_path)
    assert report.verdict == "passed", [d for d in report.differences if d.outcome.fails][:5]
    assert_justified(report)
    rest = next(s for s in report.sources if s.source == "rest")
    counts = {f.path: f.counts for f in rest.fields}
    equal = [counts.get(f"orders.*.consumers.{n}.{a}", {}).get("equal", 0) for n in (0, 1) for a in ("lastName",)]
    assert sum(equal) == 8  # two consumers on each of the four orders
    assert sum(counts.get(f"orders.*.consumers.{n}.identifiers", {}).get("equal", 0) for n in (0, 1)) == 4
    # A consumer CDP lost is a difference.
    orders = OrderClient(target.connection.http)
    (order_ref,) = orders.find_by_reference_id("retail42-0000000-1")
    consumer_ref = str(orders.list_consumers(order_ref)[1]["href"]).rsplit("/", 1)[1]
    target.connection.http.send_json("DELETE", f"/v2.1/orderConsumers/{consumer_ref}", None)
    state = pipeline.folder.load_state()
    for stage in ("readback", "export", "verify", "report"):
        state.stages.pop(stage, None)
    pipeline.folder.save_state(state)
    again = type(pipeline)(pipeline.scenario, schema, pipeline.folder, target).run()
    lost = [d for d in again.differences if d.outcome.fails]
    assert lost
    assert all(d.source in ("rest", "decisions") and ".consumers." in d.path for d in lost)
    assert any(d.source == "rest" and d.outcome == "field_missing" for d in lost)
