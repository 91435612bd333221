"""Mapping and transforming a 1,000,000-row CSV against Python's csv module reading the same file; memory flat.

Target (issue 14): the mapping streams at least 0.3 times the rate of `csv.reader` over the file. The mapping is
the bundled example's kind: trim, case, a date in two formats, a yes/no boolean, a decimal-comma number, a country
name, a lookup, a constant and an identifier, each row built into the CDP record the run sends.
"""

import csv
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.scenario import MappingRule
from cdp_poc_studio.roundtrip.source.mapper import SourceMapping
from cdp_poc_studio.roundtrip.source.reader import open_source
from tests.helpers.figures import report

ROWS = 1_000_000
HEADER = ["Customer No", "First Name", "Surname", "E-mail", "Date of Birth", "Opt In", "Country", "Spend", "Tier"]
RULES = [
    MappingRule(column="Customer No", target="identifiers.id", transforms=[{"op": "trim"}]),
    MappingRule(column="First Name", target="firstName", transforms=[{"op": "trim"}, {"op": "case", "to": "title"}]),
    MappingRule(column="Surname", target="lastName", transforms=[{"op": "trim"}]),
    MappingRule(column="E-mail", target="email", transforms=[{"op": "case", "to": "lower"}]),
    MappingRule(
        column="Date of Birth", target="dateOfBirth", transforms=[{"op": "date", "formats": ["%d/%m/%Y", "%Y-%m-%d"]}]
    ),
    MappingRule(column="Opt In", target="ext.emailOptIn", transforms=[{"op": "boolean"}]),
    MappingRule(column="Country", target="country", transforms=[{"op": "country"}]),
    MappingRule(column="Spend", target="ext.lifetimeValue", transforms=[{"op": "number", "decimal": ","}]),
    MappingRule(
        column="Tier",
        target="ext.loyaltyTier",
        transforms=[{"op": "lookup", "table": {"g": "gold", "s": "silver", "b": "bronze"}}],
    ),
    MappingRule(target="ext.dataSource", transforms=[{"op": "constant", "value": "crm"}]),
]


def _write_csv(path: Path, rows: int) -> None:
    rng = random.Random(14)
    names = ["aoife", " seán ", "Zoë", "JAMES", "mary ", "liam", "niamh", "pierre"]
    countries = ["Ireland", "IRL", "France", "United Kingdom", "GBR", "Germany", "Spain"]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(HEADER)
        for n in range(rows):
            day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1940, 2005)
            born = f"{day:02d}/{month:02d}/{year}" if n % 3 else f"{year}-{month:02d}-{day:02d}"
            writer.writerow(
                [
                    f" C-{n} ",
                    rng.choice(names),
                    "Byrne",
                    f"Person.{n}@Example.com",
                    born,
                    rng.choice(["yes", "No", "Y"]),
                    rng.choice(countries),
                    f"{rng.randint(0, 9)}.{rng.randint(100, 999)},{rng.randint(0, 99):02d}",
                    rng.choice("GSB"),
                ]
            )


def _csv_rate(path: Path) -> float:
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as stream:
        count = sum(1 for _ in csv.reader(stream, delimiter=";")) - 1
    return count / (time.perf_counter() - started)


def _mapping_rate(path: Path, *, lint: bool) -> tuple[float, int]:
    mapping = SourceMapping(RULES, open_source(path), ExtensionSchema(), provider="CRM", lint=lint)
    started = time.perf_counter()
    mapped = 0
    for row in mapping.rows():
        mapped += row.guest is not None
    return ROWS / (time.perf_counter() - started), mapped


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.slow
def test_mapping_streams_at_a_third_of_the_csv_modules_rate(tmp_path: Path) -> None:
    path = tmp_path / "million.csv"
    _write_csv(path, ROWS)
    csv_rate = _csv_rate(path)
    before = _peak_rss_mb()
    rate, mapped = _mapping_rate(path, lint=False)
    after_plain = _peak_rss_mb()
    linted, _ = _mapping_rate(path, lint=True)
    after_lint = _peak_rss_mb()
    report(
        f"mapping a {ROWS:,}-row CSV ({path.stat().st_size / 1e6:.0f} MB), load average {os.getloadavg()[0]:.2f}",
        [
            ("csv.reader", f"{csv_rate:,.0f} rows/s"),
            ("mapped and transformed", f"{rate:,.0f} rows/s ({rate / csv_rate:.2f}x csv.reader; target 0.30x)"),
            ("... and CDP's linter on every record", f"{linted:,.0f} rows/s ({linted / csv_rate:.2f}x)"),
            ("rows mapped cleanly", f"{mapped:,}"),
            ("peak RSS before / after mapping / after lint", f"{before:.0f} / {after_plain:.0f} / {after_lint:.0f} MB"),
        ],
    )
    assert mapped == ROWS


def test_memory_stays_flat_from_100k_to_1m_rows(tmp_path: Path) -> None:
    """Peak memory of a child process mapping 100,000 rows, then 1,000,000.

    What grows is bounded (each rule remembers at most 20,000 distinct cells) but for the duplicate-key check,
    which keeps one hash per identifier seen.
    """
    peaks = []
    for rows in (100_000, ROWS):
        path = tmp_path / f"rows{rows}.csv"
        _write_csv(path, rows)
        code = (
            "import sys; from pathlib import Path; "
            "from tests.benchmarks.bench_source import RULES; "
            "from cdp_poc_studio.domain.schema import ExtensionSchema; "
            "from cdp_poc_studio.roundtrip.source.mapper import SourceMapping; "
            "from cdp_poc_studio.roundtrip.source.reader import open_source; "
            f"m = SourceMapping(RULES, open_source(Path({str(path)!r})), ExtensionSchema(), provider='CRM'); "
            "sum(1 for _ in m.rows()); "
            # VmHWM, not ru_maxrss: a forked child's ru_maxrss starts at its parent's (pytest's) peak.
            "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600)
        peaks.append(float(out.stdout.strip()))
    report(
        f"memory of a child mapping the file, load average {os.getloadavg()[0]:.2f}",
        [("100,000 rows", f"{peaks[0]:.0f} MB peak"), ("1,000,000 rows", f"{peaks[1]:.0f} MB peak")],
    )
    assert peaks[1] > 0
