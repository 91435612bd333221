"""The decisions source: the generated Personalize JavaScript runs in V8 on every guest read back from the sandbox."""

from pathlib import Path

import httpx
import orjson
import pytest

from cdp_poc_studio.roundtrip.normalise import Outcome
from cdp_poc_studio.roundtrip.snippets import snippets_for
from cdp_poc_studio.targets.target import Target
from tests.helpers.data import bundled
from tests.helpers.roundtrip import run

SCENARIOS = ["retail_loyalty", "travel_bookings", "hospitality_stays"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_snippet_passes_on_every_bundled_scenario(name: str, target: Target, tmp_path: Path) -> None:
    scenario, schema = bundled(name, guests=20)
    pipeline, report = run(scenario, schema, target, tmp_path)
    assert report.verdict == "passed", [d for d in report.differences if d.outcome.fails][:5]
    decisions = next(s for s in report.sources if s.source == "decisions")
    assert decisions.records_expected == decisions.records_found == 20
    assert decisions.field_pass_rate == 1.0
    paths = {f.path for f in decisions.fields}
    # Every kind of JavaScript snippet answered: Map decisions, accessors, templates, export snippets.
    for marker in ("@accessor", "@accessor@template", "@export"):
        assert any(p.endswith(marker) for p in paths), marker
    assert any("@" not in p for p in paths)
    snippets = pipeline.folder.path / "snippets"
    index = orjson.loads((snippets / "index.json").read_bytes())
    assert {entry["file"] for entry in index} == {s.file for s in snippets_for(schema)}
    for entry in index:
        assert (snippets / entry["file"]).read_text().strip()
    assert list((snippets / "sql").glob("*.sql"))
    # The report carries the capacity plan measured from this run.
    assert report.capacity is not None
    assert report.capacity.figure("orders_per_guest").source == "measured"
    assert "Capacity plan" in (pipeline.folder.report / "report.html").read_text()


def test_a_broken_nested_value_in_cdp_is_a_finding_with_guest_path_and_snippet(
    target: Target, sandbox_url: str, tmp_path: Path
) -> None:
    scenario, schema = bundled("retail_loyalty", guests=6)
    pipeline, report = run(scenario, schema, target, tmp_path)
    assert report.verdict == "passed"
    # Break two guests in CDP: one JSON-serialised value that no longer parses, one prefixed key changed.
    readback = [orjson.loads(line) for line in _gunzip(pipeline.folder.readback)]
    first, second = readback[0], readback[1]
    auth = ("sandbox-client-key", "sandbox-api-token")
    with httpx.Client(base_url=sandbox_url, auth=auth, timeout=30) as http:
        http.patch(
            f"/v2.1/guests/{first['guest']['ref']}/extensions/ext1", json={"preferences": "[{"}
        ).raise_for_status()
        http.patch(
            f"/v2.1/guests/{second['guest']['ref']}/extensions/ext", json={"addressCity": "Elsewhere"}
        ).raise_for_status()
    state = pipeline.folder.load_state()
    del state.stages["readback"]
    pipeline.folder.save_state(state)
    report = pipeline.run()
    assert report.verdict == "failed"
    found = [d for d in report.differences if d.source == "decisions"]
    broken = [d for d in found if d.record == first["key"] and d.path.startswith("ext1.preferences")]
    assert broken
    assert all("threw SyntaxError" in d.explanation for d in broken)
    assert {d.explanation.split(":")[0] for d in broken} >= {"decisions/guest_ext1_preferences.js"}
    changed = [d for d in found if d.record == second["key"] and d.path == "ext.address.city"]
    assert len(changed) == 1
    assert changed[0].outcome is Outcome.VALUE_CHANGED
    assert changed[0].actual == "Elsewhere"
    assert changed[0].explanation.startswith("decisions/guest_ext_address.js")
    accessor = [d for d in found if d.record == second["key"] and d.path == "ext.address.city@accessor"]
    assert accessor[0].explanation.startswith("decisions/guest_ext_address_city.js")
    # The other guests still pass.
    assert {d.record for d in found if d.outcome.fails} == {first["key"], second["key"]}


def _gunzip(path: Path) -> list[bytes]:
    import gzip

    with gzip.open(path) as stream:
        return stream.read().splitlines()
