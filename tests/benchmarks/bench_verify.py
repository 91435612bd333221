"""Verification throughput: one million sent records against one million returned, against a bare dict compare."""

import random
import resource
import time

from cdp_poc_studio.domain.join_keys import guest_key
from cdp_poc_studio.domain.schema_file import load_schema
from cdp_poc_studio.generator.records import Generator
from cdp_poc_studio.generator.settings import GeneratorSettings
from cdp_poc_studio.resources import SCHEMAS
from cdp_poc_studio.roundtrip.normalise import Outcome
from cdp_poc_studio.roundtrip.verify import Expected, Returned, SourceRules, compare, guest_fields
from tests.helpers.figures import report

COUNT = 1_000_000
DISTINCT = 50_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_verification_of_one_million_records_against_a_bare_dict_comparison() -> None:
    schema = load_schema(SCHEMAS / "retail_loyalty.toml")
    generator = Generator(GeneratorSettings(guests=DISTINCT, orders_per_guest="fixed:0"), schema)
    designs = [(guest_key(g.guest), guest_fields(g.guest, g.nested_extensions)) for g in generator.guests()]
    rng = random.Random(5)
    expected: list[Expected] = []
    returned: dict[str, Returned] = {}
    for i in range(COUNT):
        key, fields = designs[i % DISTINCT]
        key = f"{key}-{i}"
        expected.append(Expected(key, None, dict(fields)))
        back = dict(fields)
        if rng.random() < 0.01:  # one record in a hundred differs somewhere
            back["firstName"] = back["firstName"].upper()
            back.pop("city", None)
        returned[key] = Returned(back)
    fields_per_record = sum(len(e.fields) for e in expected[:1000]) / 1000
    memory_before = _peak_mb()

    started = time.perf_counter()
    same = 0
    for record in expected:
        same += record.fields == returned[record.key].fields
    bare = COUNT / (time.perf_counter() - started)

    started = time.perf_counter()
    # Completeness both ways included: every returned key is a candidate extra record, so each found record is
    # tracked; fields that came back unsent are looked for in every record that is not equal as a whole.
    result = compare(expected, returned, SourceRules("export"), extra_keys=list(returned))
    ours = COUNT / (time.perf_counter() - started)
    assert result.records_found == COUNT
    assert result.records_extra == 0
    totals = result.outcome_totals
    report(
        f"verification, {COUNT:,} sent against {COUNT:,} returned ({fields_per_record:.0f} fields each, 1 % differing)",
        [
            ("bare dict comparison", f"{bare:,.0f} records/s ({same:,} equal)"),
            ("compare() with classification", f"{ours:,.0f} records/s ({ours / bare:.2f}x, target >= 0.5x)"),
            (
                "differences found",
                f"{len(result.differences):,} ({totals[Outcome.VALUE_CHANGED]:,} changed, "
                f"{totals[Outcome.FIELD_MISSING]:,} missing, {totals[Outcome.NORMALISED]:,} normalised passes)",
            ),
            ("peak resident size", f"{_peak_mb():,.0f} MB (records alone: {memory_before:,.0f} MB)"),
        ],
    )
