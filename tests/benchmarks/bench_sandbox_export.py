"""Benchmark: an audience export of N guests (default 1,000,000) against bare orjson + gzip of the same records.

Run: .venv/bin/python tests/benchmarks/bench_sandbox_export.py [guests]
Targets (issue 3): < 20 s for one million guests, >= 0.5x the bare orjson+gzip throughput, flat memory.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import orjson
import psutil

from cdp_poc_studio.sandbox.clock import Clock
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.context import Sandbox
from cdp_poc_studio.sandbox.exports import DEFAULT_ATTRIBUTES

NOW = "2026-01-01T00:00:00.000Z"


def populate(sandbox: Sandbox, n: int) -> None:
    rows = []
    with sandbox.store.write() as conn:
        for i in range(n):
            data = {
                "guestType": "customer", "firstName": f"First{i % 997}", "lastName": f"Last{i % 991}",
                "email": f"guest{i}@example.com", "city": "Dublin", "country": "IE", "phoneNumbers": ["+35312345"],
                "identifiers": [{"provider": "CRM", "id": f"CRM-{i}"}], "firstSeen": NOW, "lastSeen": NOW,
            }  # fmt: skip
            values = {"loyaltyTier": "gold", "rewardBalance": i / 7, "vipMember": i % 2 == 0}
            exts = {"ext": {"ref": f"e{i}", "createdAt": NOW, "modifiedAt": NOW, "values": values}}
            rows.append((f"{i:08d}-0000-4000-8000-000000000000", data["email"], NOW, NOW, orjson.dumps(data),
                         orjson.dumps(exts)))  # fmt: skip
            if len(rows) == 50_000:
                conn.executemany("INSERT INTO guests VALUES (?, ?, ?, ?, ?, ?)", rows)
                rows.clear()
        conn.executemany("INSERT INTO guests VALUES (?, ?, ?, ?, ?, ?)", rows)


def bare(sandbox: Sandbox, folder: Path, level: int) -> tuple[float, int]:
    """The same records (built from the same rows), serialised with orjson and gzipped at the same level."""
    records = []
    for ref, data_json, exts_json in sandbox.store.read().execute("SELECT ref, data, exts FROM guests"):
        data, exts = orjson.loads(data_json), orjson.loads(exts_json)
        record = {"guestRef": ref, **{k: data[k] for k in DEFAULT_ATTRIBUTES if k in data}}
        record.update({f"ext.{k}": v for k, v in exts["ext"]["values"].items()})
        records.append(record)
    gc.collect()
    gc.freeze()  # the prebuilt records are not the baseline's work: keep the collector off them
    started = time.perf_counter()
    with (folder / "bare.json.gz").open("wb") as out:
        z = zlib.compressobj(level, zlib.DEFLATED, 31)
        buf = []
        for record in records:
            buf.append(orjson.dumps(record) + b"\n")
            if len(buf) == 2000:
                out.write(z.compress(b"".join(buf)))
                buf.clear()
        out.write(z.compress(b"".join(buf)) + z.flush())
    elapsed = time.perf_counter() - started
    gc.unfreeze()
    return elapsed, len(records)


def _content_digest(paths: list[Path]) -> str:
    """MD5 of the decompressed content of gzip files, in order (streamed: memory stays small)."""
    digest = hashlib.md5()
    for path in paths:
        with gzip.open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def main(n: int = 1_000_000) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sandbox = Sandbox(SandboxConfig(db_path=str(folder / "export.db")), Clock())
        populate(sandbox, n)
        sandbox.exports.create_definition({"friendlyId": "bench"})
        proc = psutil.Process()
        before = proc.memory_info().rss
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], proc.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        report = sandbox.exports.run("bench")
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        assert report is not None
        assert report["total"] == n
        bare_s, count = bare(sandbox, folder, sandbox.config.export_gzip_level)
        # Honesty check: the baseline wrote exactly the sandbox's records (same bytes once decompressed).
        parts = sorted(folder.rglob("part-*.json.gz"))
        assert _content_digest(parts) == _content_digest([folder / "bare.json.gz"]), "baseline records differ"
        sandbox.close()
    rate, bare_rate = n / elapsed, count / bare_s
    print(f"guests: {n:,}  gzip level: {SandboxConfig().export_gzip_level}  split: 500,000 per file")
    print(f"sandbox export: {elapsed:.2f} s = {rate:,.0f} records/s (target < 20 s for 1,000,000)")
    print(f"bare orjson+gzip of the same records: {bare_s:.2f} s = {bare_rate:,.0f} records/s")
    print(f"ratio sandbox / bare: {rate / bare_rate:.2f} (target >= 0.5)")
    print(f"RSS before export {before / 1e6:.0f} MB, peak during export {peak[0] / 1e6:.0f} MB "
          f"(+{(peak[0] - before) / 1e6:.0f} MB)")  # fmt: skip
    return {"seconds": elapsed, "ratio": rate / bare_rate, "rss_growth_mb": (peak[0] - before) / 1e6}


def test_export_benchmark() -> None:
    assert main()["seconds"] > 0


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
