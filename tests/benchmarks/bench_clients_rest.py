"""REST sender throughput: latency-bound (50 ms injected) at concurrency 8/16/32 against the ideal, and on
loopback against a plain sequential httpx loop over the same requests. The sandbox runs in its own process.

Run: `pytest tests/benchmarks/bench_clients_rest.py -s`
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.rest_sender import RestSender, RestSettings, extension_body, extension_values
from cdp_poc_studio.cdp.secrets import SANDBOX_CREDENTIALS
from cdp_poc_studio.domain.schema_file import load_schema
from cdp_poc_studio.generator.records import GeneratedGuest
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from tests.helpers.data import SCHEMA_PATH, make_generator
from tests.helpers.figures import report
from tests.helpers.sandbox_support import sandbox_process

LATENCY_MS = 50


def send(base_url: str, guests: list[GeneratedGuest], concurrency: int) -> tuple[int, float, float]:
    """(requests, seconds, client CPU seconds) of one RestSender run."""
    with CdpConnection(ConnectionProfile.sandbox(base_url), SANDBOX_CREDENTIALS) as conn:
        sender = RestSender(conn.http, settings=RestSettings(concurrency=concurrency))
        wall, cpu = time.perf_counter(), time.process_time()
        result = sender.send(guests)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert (result.guests_failed, result.orders_failed) == (0, 0)
        return conn.request_log.count, wall, cpu


def test_latency_bound_rest_rates() -> None:
    schema = load_schema(SCHEMA_PATH)
    rows: list[tuple[str, str]] = []
    with sandbox_process() as base_url:
        admin = SandboxAdmin(base_url)
        for concurrency in (8, 16, 32):
            admin.reset()
            admin.set_faults([f"latency={LATENCY_MS}ms"])
            # About 12 s of work at the ideal rate, whatever the concurrency.
            guests = list(make_generator(concurrency * 40, schema, seed=concurrency).guests())
            requests, wall, cpu = send(base_url, guests, concurrency)
            rate = requests / wall
            ideal = concurrency / (LATENCY_MS / 1000)
            # The sandbox's own time per request (its journal: latency included) bounds the rate too.
            served = [e["duration_ms"] for e in admin.journal(prefix="/v2.1")]
            server_ms = statistics.mean(served) if served else float("nan")
            rows.append(
                (
                    f"concurrency {concurrency}",
                    f"{rate:6.0f} req/s = {rate / ideal:5.1%} of ideal {ideal:.0f}/s; "
                    f"client CPU {cpu / requests * 1000:.2f} ms/req ({requests} requests in {wall:.1f} s); "
                    f"sandbox time {server_ms:.1f} ms/req -> {rate / (concurrency / server_ms * 1000):5.1%} "
                    "of what the sandbox allows",
                )
            )
    report(f"REST sender, {LATENCY_MS} ms injected latency (sandbox in its own process)", rows)


def plain_sequential(client: httpx.Client, guests: list[GeneratedGuest]) -> int:
    """The same requests as the sender's first run, one after another with a bare httpx.Client."""
    count = 0

    def call(method: str, url: str, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        response = client.request(method, url, **kwargs)
        response.raise_for_status()
        return response.json()

    for guest in guests:
        value = guest.guest
        ident = guest.identifier
        call(
            "GET",
            "/v2.1/guests",
            params={"identifiers.provider": ident["provider"], "identifiers.id": ident["id"], "limit": 100},
        )
        ref = call("POST", "/v2.1/guests", json={k: v for k, v in value.items() if k != "extensions"})["ref"]
        for group in value.get("extensions") or []:
            call("POST", f"/v2.1/guests/{ref}/extensions", json=extension_body(group))
        for order in guest.orders:
            o = order.record["value"]
            call("GET", "/v2.1/orders", params={"referenceId": o["referenceId"], "limit": 100})
            body = {k: v for k, v in o.items() if k not in ("contact", "orderItems", "extensions")}
            oref = call("POST", "/v2.1/orders", json=body)["ref"]
            call("POST", f"/v2.1/orders/{oref}/contacts", json=o["contact"])
            for item in o["orderItems"]:
                iref = call(
                    "POST", f"/v2.1/orders/{oref}/orderItems", json={k: v for k, v in item.items() if k != "extensions"}
                )["ref"]
                for group in item.get("extensions") or []:
                    call("POST", f"/v2.1/orderItems/{iref}/extensions/{group['name']}", json=extension_values(group))
            for group in o.get("extensions") or []:
                call("POST", f"/v2.1/orders/{oref}/extensions/{group['name']}", json=extension_values(group))
    return count


def test_loopback_rest_against_a_sequential_httpx_loop() -> None:
    schema = load_schema(SCHEMA_PATH)
    guests = list(make_generator(300, schema, seed=3).guests())
    rows: list[tuple[str, str]] = []
    with sandbox_process() as base_url:
        admin = SandboxAdmin(base_url)
        baseline: list[float] = []
        ours: dict[int, list[float]] = {4: [], 8: [], 16: []}
        for _round in range(2):
            admin.reset()
            with httpx.Client(base_url=base_url, auth=("sandbox-client-key", "sandbox-api-token")) as client:
                wall, cpu = time.perf_counter(), time.process_time()
                plain = plain_sequential(client, guests)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            baseline.append(plain / wall)
            rows.append(
                (
                    f"sequential httpx, round {_round + 1}",
                    f"{plain / wall:5.0f} req/s, client CPU {cpu / plain * 1000:.2f} ms/req ({plain} requests)",
                )
            )
            for concurrency in ours:
                admin.reset()
                requests, wall, cpu = send(base_url, guests, concurrency)
                assert requests == plain
                ours[concurrency].append(requests / wall)
                rows.append(
                    (
                        f"sender, concurrency {concurrency}, round {_round + 1}",
                        f"{requests / wall:5.0f} req/s, client CPU {cpu / requests * 1000:.2f} ms/req",
                    )
                )
    best = max(ours, key=lambda c: sum(ours[c]))
    base = sum(baseline) / len(baseline)
    rows.append(
        (
            "best: concurrency",
            f"{best}: {sum(ours[best]) / len(ours[best]):.0f} req/s = "
            f"{sum(ours[best]) / len(ours[best]) / base:.2f} x the sequential loop ({base:.0f} req/s)",
        )
    )
    report("REST on loopback, no latency (sandbox in its own process, 2 cores)", rows)
