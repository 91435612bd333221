"""Benchmark: REST requests per second served by a sandbox running as its own process, under several client processes.

Run: .venv/bin/python tests/benchmarks/bench_sandbox_rest.py [requests per client] [client counts, e.g. 1,2,4]
The server is `python -m cdp_poc_studio sandbox --port 0 --db <tmp>` (the way the studio runs it); each client
process runs a sequential httpx.Client loop alternating a guest create (POST /v2.1/guests) and a guest search by
email (GET /v2.1/guests?email=...). Printed: aggregate requests/s, p50/p99 latency, the server's CPU time per
request (psutil on the server pid). The machine has 2 cores shared by clients and server: the figures are those
of a loaded laptop, not of the server alone.
"""

from __future__ import annotations

import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

READY = "CDP sandbox ready at "
AUTH = ("sandbox-client-key", "sandbox-api-token")


def start_server(folder: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cdp_poc_studio", "sandbox", "--port", "0", "--db", str(folder / "rest.db")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(READY), line
    return proc, line[len(READY) :].strip()


def client_loop(args: tuple[str, int, int]) -> list[float]:
    base_url, worker, count = args
    latencies = []
    with httpx.Client(base_url=base_url, auth=AUTH, timeout=30) as client:
        for i in range(count):
            email = f"w{worker}-{i // 2}@example.com"
            started = time.perf_counter()
            if i % 2 == 0:
                resp = client.post("/v2.1/guests", json={"guestType": "customer", "email": email, "firstName": "B"})
                assert resp.status_code == 201, resp.text
            else:
                resp = client.get("/v2.1/guests", params={"email": email})
                assert resp.status_code == 200, resp.text
            latencies.append(time.perf_counter() - started)
    return latencies


def measure(base_url: str, server: psutil.Process, clients: int, count: int) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(clients) as pool:
        pool.map(client_loop, [(base_url, 1000 + w, 4) for w in range(clients)])  # warm-up: imports, connections
        cpu = sum(server.cpu_times()[:2])
        started = time.perf_counter()
        results = pool.map(client_loop, [(base_url, w + clients * 10_000, count) for w in range(clients)])
        elapsed = time.perf_counter() - started
        cpu = sum(server.cpu_times()[:2]) - cpu
    latencies = sorted(x for r in results for x in r)
    total = len(latencies)
    return {
        "clients": clients,
        "rate": total / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(total - 1, int(total * 0.99))] * 1000,
        "cpu_ms": cpu / total * 1000,
    }


def main(count: int = 1000, client_counts: tuple[int, ...] = (1, 2, 4)) -> list[dict[str, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp))
        try:
            server = psutil.Process(proc.pid)
            for clients in client_counts:
                rows.append(measure(url, server, clients, count))
        finally:
            proc.terminate()
            proc.wait(30)
            if proc.stdout is not None:
                proc.stdout.close()
    print(f"sandbox server: {url} (separate process, default settings); {count} requests per client process,")
    print("half guest creates, half guest searches by email")
    for r in rows:
        print(
            f"  {r['clients']:.0f} client process(es): {r['rate']:,.0f} requests/s, p50 {r['p50_ms']:.1f} ms,"
            f" p99 {r['p99_ms']:.1f} ms, server CPU {r['cpu_ms']:.2f} ms/request"
        )
    return rows


def test_rest_benchmark() -> None:
    assert main(300)[0]["rate"] > 0


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    counts = tuple(int(c) for c in sys.argv[2].split(",")) if len(sys.argv) > 2 else (1, 2, 4)
    main(n, counts)
