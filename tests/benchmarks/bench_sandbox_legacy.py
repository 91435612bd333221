"""Benchmark: what a legacy /v2 request costs next to its /v2.1 twin (same store, same rule, /v2 links).

Run: .venv/bin/python tests/benchmarks/bench_sandbox_legacy.py [rounds]   (or pytest ... -s)
The sandbox runs as its own process (as the studio runs it); one client sends each pair of twins back to back,
alternating which goes first, so that both see the same noise: guest create, guest search by email, guest
retrieve, order create, order retrieve with its items. Printed per pair: median latency of each and the ratio.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

READY = "CDP sandbox ready at "
AUTH = ("sandbox-client-key", "sandbox-api-token")
ORDER = {"pointOfSale": "shop", "currencyCode": "EUR", "price": 12, "orderedAt": "2025-01-01T00:00:00.000Z"}


def run(rounds: int = 400) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cdp_poc_studio", "sandbox", "--port", "0", "--db", str(Path(folder) / "b.db")],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base = line[len(READY) :].strip()
        try:
            return _measure(base, rounds)
        finally:
            proc.terminate()
            proc.wait(10)
            proc.stdout.close()


def _measure(base: str, rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {}
    with httpx.Client(base_url=base, auth=AUTH) as client:
        guest = client.post("/v2.1/guests", json={"guestType": "customer", "email": "g@example.com"}).json()
        order = client.post("/v2.1/orders", json={**ORDER, "referenceId": "R0"}).json()

        def pair(name: str, v21: tuple[str, str, object], v2: tuple[str, str, object], i: int) -> None:
            calls = [("v2.1", v21), ("v2", v2)]
            if i % 2:
                calls.reverse()
            for version, (method, path, body) in calls:
                started = time.perf_counter()
                resp = client.request(method, path, json=body) if body is not None else client.request(method, path)
                elapsed = time.perf_counter() - started
                assert resp.status_code < 300, resp.text
                times.setdefault(f"{name} {version}", []).append(elapsed)

        for i in range(rounds):
            email = f"u{i}@example.com"
            new_guest = {"guestType": "customer", "email": email, "firstName": "A"}
            pair("guest create", ("POST", "/v2.1/guests", new_guest), ("POST", "/v2/guests", new_guest), i)
            pair("guest search", ("GET", f"/v2.1/guests?email={email}", None),
                 ("GET", f"/v2/guests?email={email}", None), i)  # fmt: skip
            pair("guest get", ("GET", f"/v2.1/guests/{guest['ref']}", None),
                 ("GET", f"/v2/guests/{guest['ref']}", None), i)  # fmt: skip
            new_order = {**ORDER, "referenceId": str(uuid.uuid4())}
            pair("order create", ("POST", "/v2.1/orders", new_order), ("POST", "/v2/orders", new_order), i)
            pair("order get", ("GET", f"/v2.1/orders/{order['ref']}?expand=true", None),
                 ("GET", f"/v2/orders/{order['ref']}?expand=orderItems", None), i)  # fmt: skip
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    for name in ("guest create", "guest search", "guest get", "order create", "order get"):
        new, old = medians[f"{name} v2.1"], medians[f"{name} v2"]
        print(f"{name:13s} v2.1 {new:6.3f} ms   v2 {old:6.3f} ms   v2/v2.1 {old / new:5.2f}")
    return medians


def test_legacy_twins_cost() -> None:
    run(200)


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
