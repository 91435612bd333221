"""The generator: reproducible by seed, CDP-valid, consistent, and streaming."""

import gzip
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from cdp_poc_studio.cdp.batchfile import BatchFileWriter
from cdp_poc_studio.domain.flatten import unflatten_group
from cdp_poc_studio.domain.lint import lint_record
from cdp_poc_studio.domain.schema_file import load_schema
from cdp_poc_studio.generator.distribution import Distribution
from cdp_poc_studio.generator.records import Generator
from cdp_poc_studio.generator.settings import GeneratorSettings

SCHEMA = load_schema(Path(__file__).parents[2] / "cdp_poc_studio" / "resources" / "schemas" / "retail_loyalty.toml")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def generator() -> Generator:
    settings = GeneratorSettings(guests=300, seed=7, locales=["en_US", "de_DE", "ja_JP"], anchor_date=NOW.date())
    return Generator(settings, SCHEMA)


def _write(generator: Generator, folder: Path) -> bytes:
    with BatchFileWriter(folder) as writer:
        for guest in generator.guests():
            writer.write_all(guest.records())
    return b"".join(f.path.read_bytes() for f in writer.files)


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    settings = GeneratorSettings(guests=200, seed=11, locales=["en_GB", "fr_FR"])
    first = _write(Generator(settings, SCHEMA), tmp_path / "a")
    second = _write(Generator(settings, SCHEMA), tmp_path / "b")
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()


def test_another_seed_gives_other_guests() -> None:
    a = next(Generator(GeneratorSettings(guests=5, seed=1)).guests()).guest
    b = next(Generator(GeneratorSettings(guests=5, seed=2)).guests()).guest
    assert (a["firstName"], a["email"], a["city"]) != (b["firstName"], b["email"], b["city"])


def test_any_slice_equals_the_same_guests_of_a_full_run(generator: Generator) -> None:
    full = [g.record for g in generator.guests()]
    assert [g.record for g in generator.guests(120, 125)] == full[120:125]


def test_every_record_passes_the_linter_for_both_apis(generator: Generator) -> None:
    for guest in generator.guests():
        for record in guest.records():
            assert lint_record(record, "batch", now=NOW) == []
            assert lint_record(record, "rest", now=NOW) == []


def test_guests_are_realistic_and_unique(generator: Generator) -> None:
    guests = [g for g in generator.guests()]
    emails = [g.guest["email"] for g in guests]
    assert len(set(emails)) == len(emails)
    ids = [g.identifier["id"] for g in guests]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("poc7-") for i in ids)
    assert {g.guest["country"] for g in guests} == {"US", "DE", "JP"}
    for g in guests:
        value = g.guest
        assert value["gender"] in ("male", "female", "unknown")
        assert value["dateOfBirth"] < "2008-01-01"
        assert value["postCode"] == value["postCode"].upper()
        assert isinstance(value["street"], list)
        if value["gender"] == "male":
            assert value["title"] in ("Mr", "Dr")


def test_orders_are_consistent_and_linked_to_their_guest(generator: Generator) -> None:
    references = []
    for guest in generator.guests():
        for order in guest.orders:
            value = order.record["value"]
            references.append(value["referenceId"])
            items_total = sum(round(i["price"] * 100) * i["quantity"] for i in value["orderItems"])
            assert round(value["price"] * 100) == items_total
            assert value["contact"]["identifiers"] == guest.guest["identifiers"]
            assert {i["currencyCode"] for i in value["orderItems"]} == {value["currencyCode"]}
            assert (value["paymentType"] == "Card") == ("cardType" in value)
    assert len(references) == len(set(references)) > 100


def test_nested_values_are_kept_and_match_the_flat_wire_form(generator: Generator) -> None:
    for guest in generator.guests(0, 50):
        for extension in guest.guest.get("extensions", []):
            group = extension["name"]
            flat = {k: v for k, v in extension.items() if k not in ("name", "key")}
            assert unflatten_group(SCHEMA, SCHEMA.guest[group], flat) == guest.nested_extensions[group]


def test_optional_fields_are_sometimes_absent(generator: Generator) -> None:
    present = [("homeStore" in g.nested_extensions["ext"]) for g in generator.guests()]
    assert 0.6 < sum(present) / len(present) < 0.95


@pytest.mark.parametrize(("text", "low", "high"), [("fixed:2", 2, 2), ("uniform:1-4", 1, 4), ("poisson:1.5", 0, 20)])
def test_distributions_stay_in_bounds(text: str, low: int, high: int) -> None:
    import random

    rng = random.Random(3)
    draws = [Distribution.parse(text).sample(rng) for _ in range(2000)]
    assert low <= min(draws)
    assert max(draws) <= high
    if text.startswith("poisson"):
        assert 1.3 < sum(draws) / len(draws) < 1.7


@pytest.mark.parametrize("text", ["normal:3", "uniform:4-1", "fixed:x", "poisson"])
def test_bad_distribution_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=text.split(":")[0]):
        Distribution.parse(text)


def test_batch_file_splits_before_the_size_limit_and_checksums_match(tmp_path: Path) -> None:
    generator = Generator(GeneratorSettings(guests=6000, seed=3, orders_per_guest="fixed:2"), SCHEMA)
    limit = 2 * 1024 * 1024
    with BatchFileWriter(tmp_path, max_bytes=limit, compresslevel=1) as writer:
        for guest in generator.guests():
            writer.write_all(guest.records())
    assert len(writer.files) >= 2
    lines = 0
    for file in writer.files:
        data = file.path.read_bytes()
        assert len(data) == file.size <= limit
        assert hashlib.md5(data).hexdigest() == file.md5_hex
        with gzip.open(file.path) as stream:
            records = [orjson.loads(line) for line in stream]
        assert len(records) == file.records
        lines += len(records)
    assert lines == 6000 * 3


def test_content_md5_is_base64_of_the_raw_digest(tmp_path: Path) -> None:
    with BatchFileWriter(tmp_path) as writer:
        writer.write({"ref": "x"})
    import base64

    assert base64.b64decode(writer.files[0].content_md5).hex() == writer.files[0].md5_hex


def test_seeded_uuids_are_valid_version_4() -> None:
    import random
    import uuid

    from cdp_poc_studio.generator.records import _uuid

    rng = random.Random(1)
    refs = [_uuid(rng, seq, position) for seq in range(70) for position in range(3)]
    for text in refs:
        assert str(uuid.UUID(text)) == text
        assert uuid.UUID(text).version == 4
    # They grow in generation order (indexes on them stay append-only) and never repeat.
    assert refs == sorted(refs)
    assert len(set(refs)) == len(refs)
    other = random.Random(2)
    assert not set(refs) & {_uuid(other, seq, position) for seq in range(70) for position in range(3)}


def test_dates_follow_the_run_clock_unless_anchored() -> None:
    from datetime import date

    from cdp_poc_studio.domain.lint import parse_timestamp

    today = datetime.now(UTC).date()
    unanchored = GeneratorSettings(guests=30, seed=3, orders_per_guest="fixed:2")
    assert unanchored.effective_anchor == today
    for settings, anchor in ((unanchored, today), (unanchored.model_copy(update={"anchor_date": date(2031, 5, 1)}),
                                                    date(2031, 5, 1))):  # fmt: skip
        moments = [
            parse_timestamp(order.record["value"]["orderedAt"])
            for guest in Generator(settings).guests()
            for order in guest.orders
        ]
        start = datetime(anchor.year, anchor.month, anchor.day, tzinfo=UTC)
        assert all(m is not None and start - timedelta(days=731) <= m < start for m in moments)
