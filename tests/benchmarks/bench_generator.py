"""Generator and batch-file throughput against their naive baselines, and memory over one million guests."""

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
from faker import Faker

from cdp_poc_studio.cdp.batchfile import BatchFileWriter
from cdp_poc_studio.domain.schema_file import load_schema
from cdp_poc_studio.generator.records import Generator
from cdp_poc_studio.generator.settings import GeneratorSettings
from tests.helpers.figures import report

SCHEMA = Path(__file__).parents[2] / "cdp_poc_studio" / "resources" / "schemas" / "retail_loyalty.toml"


def _naive_guests(count: int) -> float:
    """The loop people write by hand: one Faker call per field of every guest."""
    fake = Faker("en_US")
    fake.seed_instance(1)
    started = time.perf_counter()
    for _ in range(count):
        {
            "firstName": fake.first_name(),
            "lastName": fake.last_name(),
            "email": fake.email(),
            "phoneNumbers": [fake.phone_number()],
            "street": [fake.street_address()],
            "city": fake.city(),
            "state": fake.state(),
            "postCode": fake.postcode(),
            "dateOfBirth": fake.date_of_birth().isoformat(),
        }
    return count / (time.perf_counter() - started)


def _generator_guests(count: int) -> float:
    """This generator on the same guest fields (and a few more): no orders, no extensions."""
    started = time.perf_counter()
    generator = Generator(GeneratorSettings(guests=count, orders_per_guest="fixed:0"))
    for _ in generator.guests():
        pass
    return count / (time.perf_counter() - started)


def test_generation_throughput_against_a_naive_faker_loop() -> None:
    naive = _naive_guests(3000)
    ours = _generator_guests(200_000)
    full_count = 50_000
    started = time.perf_counter()
    generator = Generator(GeneratorSettings(guests=full_count), load_schema(SCHEMA))
    records = sum(1 for guest in generator.guests() for _ in guest.records())
    full = full_count / (time.perf_counter() - started)
    report(
        "generation (guests per second, pool set-up included)",
        [
            ("naive Faker loop, 9 fields", f"{naive:,.0f}"),
            ("this generator, same guest fields", f"{ours:,.0f}  ({ours / naive:.1f}x, target >= 20x)"),
            (
                "with orders, items and retail extensions",
                f"{full:,.0f} guests ({records / full_count:.2f} records each)",
            ),
        ],
    )


def test_batch_file_writing_against_bare_orjson_and_gzip(tmp_path: Path) -> None:
    generator = Generator(GeneratorSettings(guests=40_000), load_schema(SCHEMA))
    records = [record for guest in generator.guests() for record in guest.records()]
    level = 6
    started = time.perf_counter()
    with gzip.open(tmp_path / "bare.json.gz", "wb", compresslevel=level) as stream:
        for record in records:
            stream.write(orjson.dumps(record) + b"\n")
    bare = len(records) / (time.perf_counter() - started)
    started = time.perf_counter()
    with BatchFileWriter(tmp_path / "ours", compresslevel=level) as writer:
        for record in records:
            writer.write(record)
    ours = len(records) / (time.perf_counter() - started)
    report(
        f"batch file writing (records per second, gzip level {level})",
        [
            ("bare orjson + gzip", f"{bare:,.0f}"),
            ("BatchFileWriter (md5, size, split)", f"{ours:,.0f}  ({ours / bare:.2f}x, target >= 0.8x)"),
        ],
    )


def test_one_million_guests_stream_to_disk_in_flat_memory(tmp_path: Path) -> None:
    out = tmp_path / "million.json.gz"
    started = time.perf_counter()
    command = [sys.executable, "-m", "cdp_poc_studio", "generate", "--guests", "1000000", "--schema", str(SCHEMA),
               "--no-lint", "--out", str(out)]  # fmt: skip
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # This child's own peak (wait4), not RUSAGE_CHILDREN: that is the largest of every child the test session
    # ever waited for, a sandbox process of another benchmark included.
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, child.stderr.read() if child.stderr else ""
    if child.stderr is not None:
        child.stderr.close()
    elapsed = time.perf_counter() - started
    peak = usage.ru_maxrss / 1024
    size = sum(p.stat().st_size for p in tmp_path.glob("million*.json.gz"))
    report(
        "one million guests with orders and extensions, `generate` in a child process",
        [
            ("wall time", f"{elapsed:,.1f} s ({1_000_000 / elapsed:,.0f} guests/s)"),
            ("files written", f"{len(list(tmp_path.glob('million*.json.gz')))} ({size / 1e6:,.0f} MB)"),
            ("peak resident size", f"{peak:,.0f} MB (target < 300 MB)"),
        ],
    )
