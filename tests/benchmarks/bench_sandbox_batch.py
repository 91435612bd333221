"""Benchmark: batch ingestion of guest records with extensions, against bare SQLite inserts of the same rows.

Run: .venv/bin/python tests/benchmarks/bench_sandbox_batch.py [records] [rounds]   (or pytest tests/benchmarks -s)
Each round measures the bare baseline and then the sandbox; medians are printed (the machine is shared).
Target (issue 3): >= 50,000 records/s processed and >= 0.3x the bare-insert rate measured in the same run.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import SandboxServer
from cdp_poc_studio.sandbox.store import BATCH_WRITER_PRAGMAS, CONNECTION_PRAGMAS, MIGRATIONS

FIRST = ["Ann", "Bob", "Cara", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jo"]
LAST = ["Byrne", "Murphy", "Kelly", "Walsh", "Smith", "Doyle", "Ryan", "Lynch"]
CITIES = ["Dublin", "Cork", "Galway", "Limerick"]


def make_records(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        email = f"guest{i}@example.com"
        out.append(
            {
                "ref": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                "schema": "guest",
                "mode": "upsert",
                "value": {
                    "guestType": "customer",
                    "firstName": rnd.choice(FIRST),
                    "lastName": rnd.choice(LAST),
                    "email": email,
                    "city": rnd.choice(CITIES),
                    "country": "IE",
                    "phoneNumbers": [f"+3538{rnd.randrange(10**7, 10**8)}"],
                    "identifiers": [{"provider": "CRM", "id": f"CRM-{i:08d}"}],
                    "extensions": [
                        {
                            "name": "ext",
                            "key": "default",
                            "loyaltyTier": rnd.choice(["gold", "silver", "bronze"]),
                            "rewardBalance": round(rnd.random() * 1000, 2),
                            "vipMember": rnd.random() < 0.1,
                            "loyaltyNumber": i,
                            "signupChannel": "WEB",
                        }
                    ],
                },
            }
        )
    return out


def bare_sqlite(records: list[dict[str, Any]], folder: Path) -> tuple[float, float]:
    """Insert the rows the sandbox stores for these records (guest with firstSeen/lastSeen, its ext group, one
    identifier row), with the sandbox's schema and the pragmas of its batch connection, executemany, one
    transaction. Returns (wall seconds, CPU seconds)."""
    now = "2026-01-01T00:00:00.000Z"
    guests, idents = [], []
    for rec in records:
        value = dict(rec["value"])
        ext = value.pop("extensions")[0]
        value.update(firstSeen=now, lastSeen=now)
        ref = str(uuid.uuid4())
        values = {k: v for k, v in ext.items() if k not in ("name", "key")}
        exts = {"ext": {"ref": str(uuid.uuid4()), "createdAt": now, "modifiedAt": now, "values": values}}
        guests.append((ref, value["email"], now, now, orjson.dumps(value), orjson.dumps(exts)))
        idents.extend((i["provider"], i["id"], ref) for i in value["identifiers"])
    conn = sqlite3.connect(folder / "bare.db", isolation_level=None)
    for pragma in (*CONNECTION_PRAGMAS, *BATCH_WRITER_PRAGMAS):  # the same pragmas as the sandbox's batch worker
        conn.execute(pragma)
    for script in MIGRATIONS:
        conn.executescript(script)
    started, cpu = time.perf_counter(), time.thread_time()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO guests(ref, email, created_at, modified_at, data, exts) VALUES (?,?,?,?,?,?)", guests)
    conn.executemany("INSERT INTO guest_identifiers(provider, id, guest_ref) VALUES (?,?,?)", idents)
    conn.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu
    conn.close()
    return elapsed, cpu


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def sandbox_ingest(data: bytes, folder: Path) -> tuple[float, float, dict[str, Any]]:
    """(wall seconds, CPU seconds of the server process and its batch helper, final batch status)."""
    config = SandboxConfig(port=0, db_path=str(folder / "sandbox.db"))
    with (
        SandboxServer(config) as server,
        httpx.Client(base_url=server.base_url, auth=("sandbox-client-key", "sandbox-api-token"), timeout=600) as client,
    ):
        ref = str(uuid.uuid4())
        batch = client.put(f"/v2/batches/{ref}", json={"checksum": hashlib.md5(data).hexdigest(), "size": len(data)})
        client.post("/_sandbox/batches/hold")
        put = httpx.put(batch.json()["location"]["href"], content=data, timeout=600)
        assert put.status_code == 200
        me = psutil.Process()
        procs = [me, *me.children(recursive=True)]
        cpu = _cpu(procs)
        started = time.perf_counter()
        assert client.post("/_sandbox/batches/drain", params={"timeout": 600}).json() == {"idle": True}
        elapsed = time.perf_counter() - started
        cpu = _cpu(procs) - cpu
        status = client.get(f"/v2/batches/{ref}").json()
    return elapsed, cpu, status


def main(n: int = 100_000, rounds: int = 3) -> dict[str, float]:
    records = make_records(n)
    data = gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in records), 6)
    print(f"records: {n:,}  gzipped file: {len(data) / 1e6:.1f} MB  rounds: {rounds}")
    rates, bare_rates, ratios, cpus, bare_cpus = [], [], [], [], []
    for round_no in range(1, rounds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            bare, bare_cpu = bare_sqlite(records, folder)
            elapsed, cpu, status = sandbox_ingest(data, folder)
        assert status["status"]["code"] == "success", status
        assert status["stats"]["successfulRecords"] == n
        rate, bare_rate = n / elapsed, n / bare
        rates.append(rate)
        bare_rates.append(bare_rate)
        ratios.append(rate / bare_rate)
        cpus.append(cpu / n * 1e6)
        bare_cpus.append(bare_cpu / n * 1e6)
        print(
            f"  round {round_no}: bare SQLite {bare:.2f} s = {bare_rate:,.0f} rec/s"
            f" ({bare_cpu / n * 1e6:.1f} us CPU/rec)"
            f" | sandbox {elapsed:.2f} s = {rate:,.0f} rec/s ({cpu / n * 1e6:.1f} us CPU/rec, server + helper;"
            f" jobRunTime {status['stats']['jobRunTime']} ms) | ratio {rate / bare_rate:.2f}"
        )
    med = statistics.median
    print(
        f"bare SQLite inserts of the same rows (median): {med(bare_rates):,.0f} records/s, {med(bare_cpus):.1f} us CPU"
    )
    print(f"sandbox batch processing, upload received -> success (median): {med(rates):,.0f} records/s,"
          f" {med(cpus):.1f} us CPU per record")  # fmt: skip
    print(f"ratio sandbox / bare (median of rounds): {med(ratios):.2f}  (target >= 0.30; absolute >= 50,000 records/s)")
    return {"rate": med(rates), "bare_rate": med(bare_rates), "ratio": med(ratios)}


def test_batch_ingestion_benchmark() -> None:
    figures = main()
    assert figures["rate"] > 0


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, int(sys.argv[2]) if len(sys.argv) > 2 else 3)
