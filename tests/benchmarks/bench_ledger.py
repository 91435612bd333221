"""Run ledger inserts from 0 to 5,000,000 rows: the rate of each million, with the generator's refs (they grow with
the run) and, for comparison, random version 4 refs (the old cause of the slow-down). Target: the last million's
rate at least 0.8 times the first's.

Run: `pytest tests/benchmarks/bench_ledger.py -s` (BENCH_LEDGER_ROWS=2000000 for a shorter run).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from cdp_poc_studio.cdp.ledger import RunLedger
from cdp_poc_studio.generator.records import _uuid
from tests.helpers.figures import report

ROWS = int(os.environ.get("BENCH_LEDGER_ROWS", "5000000"))
RANDOM_ROWS = int(os.environ.get("BENCH_LEDGER_RANDOM_ROWS", "1000000"))
STEP = 1_000_000
CHUNK = 20_000  # what write_batch_files flushes at a time


def _fill(path: Path, rows: int, ref: Callable[[random.Random, int, int], str]) -> list[float]:
    """Rows a second for each million (or each fifth, for a shorter run)."""
    rng = random.Random(5)
    step = min(STEP, max(CHUNK, rows // 5))
    rates: list[float] = []
    with RunLedger(path) as ledger:
        started = time.perf_counter()
        chunk: list[tuple[str, str, int, int, str, str | None, str, int]] = []
        for n in range(rows):
            seq, position = divmod(n, 3)  # a guest and two orders
            key = f"P:run-{seq:09d}" if position == 0 else f"run-{seq:09d}-{position}"
            chunk.append((ref(rng, seq, position), "guest" if position == 0 else "order", seq, position, key,
                          None, f"batch-{n // 400_000 + 1:03d}.json.gz", n % 400_000 + 1))  # fmt: skip
            if len(chunk) == CHUNK:
                ledger.record_written(chunk)
                chunk.clear()
            if (n + 1) % step == 0:
                now = time.perf_counter()
                rates.append(step / (now - started))
                started = now
        ledger.record_written(chunk)
    return rates


def _random_v4(rng: random.Random, seq: int, position: int) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def test_ledger_inserts_stay_flat(tmp_path: Path) -> None:
    ordered = _fill(tmp_path / "ordered.sqlite", ROWS, _uuid)
    randomised = _fill(tmp_path / "random.sqlite", RANDOM_ROWS, _random_v4)
    load = os.getloadavg()[0]
    rows = [(f"generator refs, part {i + 1}", f"{rate:9,.0f} rows/s") for i, rate in enumerate(ordered)]
    rows.append(("last / first", f"{ordered[-1] / ordered[0]:9.2f} (target >= 0.8)"))
    rows += [(f"random v4 refs, part {i + 1}", f"{rate:9,.0f} rows/s") for i, rate in enumerate(randomised)]
    report(f"Run ledger inserts, {ROWS:,} rows (load {load:.1f})", rows)
    assert len(ordered) >= 2
