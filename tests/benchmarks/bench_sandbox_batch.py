"""Benchmark: batch ingestion of guest records with extensions, against bare SQLite inserts of the same rows.

Run: .venv/bin/python tests/benchmarks/bench_sandbox_batch.py [records]   (or pytest tests/benchmarks -s)
Target (issue 3): >= 50,000 records/s processed and >= 0.3x the bare-insert rate measured in the same run.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import SandboxServer
from cdp_poc_studio.sandbox.store import MIGRATIONS

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


def bare_sqlite(records: list[dict[str, Any]], folder: Path) -> float:
    """Insert the same rows (guest + identifier) with executemany in one transaction; returns seconds."""
    now = "2026-01-01T00:00:00.000Z"
    guests, idents = [], []
    for rec in records:
        value = dict(rec["value"])
        ext = value.pop("extensions")[0]
        ref = str(uuid.uuid4())
        values = {k: v for k, v in ext.items() if k not in ("name", "key")}
        exts = {"ext": {"ref": ref, "createdAt": now, "modifiedAt": now, "values": values}}
        guests.append((ref, value["email"], now, now, orjson.dumps(value), orjson.dumps(exts)))
        idents.extend((i["provider"], i["id"], ref) for i in value["identifiers"])
    conn = sqlite3.connect(folder / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-65536")  # the same pragmas as the sandbox's store
    conn.executescript(MIGRATIONS[0])
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO guests(ref, email, created_at, modified_at, data, exts) VALUES (?,?,?,?,?,?)", guests)
    conn.executemany("INSERT INTO guest_identifiers(provider, id, guest_ref) VALUES (?,?,?)", idents)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def sandbox_ingest(data: bytes, folder: Path) -> tuple[float, dict[str, Any]]:
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
        started = time.perf_counter()
        assert client.post("/_sandbox/batches/drain", params={"timeout": 600}).json() == {"idle": True}
        elapsed = time.perf_counter() - started
        status = client.get(f"/v2/batches/{ref}").json()
    return elapsed, status


def main(n: int = 100_000) -> dict[str, float]:
    records = make_records(n)
    data = gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in records), 6)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bare = bare_sqlite(records, folder)
        elapsed, status = sandbox_ingest(data, folder)
    assert status["status"]["code"] == "success", status
    assert status["stats"]["successfulRecords"] == n
    rate, bare_rate = n / elapsed, n / bare
    print(f"records: {n:,}  gzipped file: {len(data) / 1e6:.1f} MB")
    print(f"bare SQLite inserts of the same rows: {bare:.2f} s = {bare_rate:,.0f} records/s")
    print(f"sandbox batch processing (upload received -> success): {elapsed:.2f} s = {rate:,.0f} records/s")
    print(f"  jobRunTime reported: {status['stats']['jobRunTime']} ms")
    print(f"ratio sandbox / bare: {rate / bare_rate:.2f}  (target >= 0.30; absolute target >= 50,000 records/s)")
    return {"rate": rate, "bare_rate": bare_rate, "ratio": rate / bare_rate}


def test_batch_ingestion_benchmark() -> None:
    figures = main()
    assert figures["rate"] > 0


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
