"""Batch end to end: guests generated, written to gzipped batch files (with the run ledger), uploaded and
processed by the sandbox (in its own process), with the time of each stage and peak memory.

Run: `pytest tests/benchmarks/bench_clients_batch.py -s` (BENCH_BATCH_GUESTS=100000 for a shorter run).
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import psutil

from cdp_poc_studio.cdp.batch import BatchSender, PollSettings, write_batch_files
from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.ledger import RecordState, RunLedger
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.secrets import SANDBOX_CREDENTIALS
from cdp_poc_studio.domain.progress import StageEvent
from cdp_poc_studio.domain.schema_file import load_schema
from tests.helpers.data import SCHEMA_PATH, make_generator
from tests.helpers.figures import report
from tests.helpers.sandbox_support import sandbox_process

GUESTS = int(os.environ.get("BENCH_BATCH_GUESTS", "1000000"))


def rss_mb(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 1024 / 1024


def test_batch_end_to_end(tmp_path: Path) -> None:
    schema = load_schema(SCHEMA_PATH)
    me = psutil.Process()
    rows: list[tuple[str, str]] = []
    start_rss = rss_mb(me)

    generator = make_generator(GUESTS, schema, seed=1)
    t = time.perf_counter()
    records = sum(1 + len(g.orders) for g in generator.guests())
    generate = time.perf_counter() - t
    rows.append(("generate only", f"{generate:7.1f} s  ({GUESTS / generate:,.0f} guests/s, {records:,} records)"))

    samples: list[tuple[int, float]] = []
    step = max(1, GUESTS // 10)

    def on_write(progress: StageEvent) -> None:
        if not samples or progress.done - samples[-1][0] >= step:
            samples.append((progress.done, rss_mb(me)))

    ledger = RunLedger(tmp_path / "ledger.sqlite")
    t = time.perf_counter()
    files = write_batch_files(generator.guests(), tmp_path / "files", ledger, total=GUESTS, progress=on_write)
    write = time.perf_counter() - t
    size = sum(f.size for f in files)
    rows.append(
        (
            "generate + write + ledger",
            f"{write:7.1f} s  ({records / write:,.0f} records/s; {len(files)} file(s), {size / 1e6:,.1f} MB gz)",
        )
    )
    rows.append(("client RSS while writing", ", ".join(f"{done // 1000}k: {mb:.0f} MB" for done, mb in samples)))

    with sandbox_process() as base_url:
        sandbox = next(p for p in me.children() if "serve" in " ".join(p.cmdline()))
        sandbox_peak = rss_mb(sandbox)
        with CdpConnection(ConnectionProfile.sandbox(base_url), SANDBOX_CREDENTIALS) as conn:
            sender = BatchSender(conn.http, ledger, poll=PollSettings(initial=0.5, maximum=2.0, timeout=3 * 3600))
            t = time.perf_counter()
            results = []
            for file in files:
                results.append(sender.send(file))
                sandbox_peak = max(sandbox_peak, rss_mb(sandbox))
            send = time.perf_counter() - t
            uploads = [e for e in conn.request_log.entries() if e.method == "PUT" and "/_s3/" in e.url]
        upload = sum(e.duration_ms for e in uploads) / 1000
        rows.append(("upload (PUT to pre-signed URLs)", f"{upload:7.1f} s  ({size / 1e6 / upload:,.0f} MB/s)"))
        rows.append(
            (
                "processing by the sandbox",
                f"{send - upload:7.1f} s  ({records / (send - upload):,.0f} records/s, polled; one file at a time)",
            )
        )
        rows.append(("upload + processing", f"{send:7.1f} s"))
    assert all(r.status == "success" for r in results), [(r.file, r.status, r.failed_count) for r in results]
    assert ledger.counts()[RecordState.DONE] == records
    peak_client = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("client peak RSS", f"{peak_client:7.0f} MB (started at {start_rss:.0f} MB)"))
    rows.append(("sandbox RSS (sampled between files)", f"{sandbox_peak:7.0f} MB"))
    rows.append(("end to end", f"{generate + write + send:7.1f} s (generation counted twice: alone, then streamed)"))
    report(f"Batch end to end, {GUESTS:,} guests", rows)
