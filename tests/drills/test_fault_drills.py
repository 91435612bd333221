"""Fault drills: the REST sender through 10 % 5xx, 5 % 429 and 2 % dropped connections, against a sandbox in its
own process (the sender and the sandbox on separate cores, as in real use), and nothing lost or sent twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.ledger import RecordState, RunLedger
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.rest_sender import RestSender, RestSettings
from cdp_poc_studio.cdp.secrets import SANDBOX_CREDENTIALS
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from tests.helpers.data import FAST_RETRY, make_generator
from tests.helpers.sandbox_support import sandbox_process
from tests.helpers.verify_support import check_store


def drill_faults(seed: int = 11) -> list[dict[str, Any]]:
    """10 % 5xx, 5 % 429, 2 % dropped connections (half before the server acts, half after: lost responses).

    The sandbox applies the first rule that fires, so later rules get conditional rates that keep the
    overall shares at the figures above."""
    shares = [
        ({"status": 500}, 0.05),
        ({"status": 502}, 0.03),
        ({"status": 503, "retry_after": 1}, 0.02),
        ({"status": 429, "retry_after": 1}, 0.05),
        ({"action": "drop", "phase": "before"}, 0.01),
        ({"action": "drop", "phase": "after"}, 0.01),
    ]
    rules, left = [], 1.0
    for rule, share in shares:
        rules.append({**rule, "rate": round(share / left, 6)})
        left -= share
    return rules


def run_drill(base_url: str, admin: SandboxAdmin, schema: ExtensionSchema, guests_count: int, tmp_path: Path) -> None:
    guests = list(make_generator(guests_count, schema, seed=5).guests())
    admin.set_faults(drill_faults(), seed=11)
    ledger = RunLedger(tmp_path / "drill.sqlite")
    with CdpConnection(ConnectionProfile.sandbox(base_url), SANDBOX_CREDENTIALS, retry=FAST_RETRY) as conn:
        result = RestSender(conn.http, ledger, RestSettings(concurrency=64)).send(guests, total=len(guests))
    fired = {f"{r.get('action')}:{r.get('status')}:{r.get('phase')}": r["fired"] for r in admin.faults()}
    admin.clear_faults()
    assert (result.guests_failed, result.orders_failed, result.failures) == (0, 0, [])
    assert ledger.counts()[RecordState.DONE] == ledger.total()
    assert all(n > 0 for n in fired.values()), fired
    check_store(base_url, guests).assert_complete()


def test_fault_drill_500_guests(schema: ExtensionSchema, tmp_path: Path) -> None:
    with sandbox_process() as base_url:
        run_drill(base_url, SandboxAdmin(base_url), schema, 500, tmp_path)


def test_fault_drill_5000_guests(schema: ExtensionSchema, tmp_path: Path) -> None:
    with sandbox_process() as base_url:
        run_drill(base_url, SandboxAdmin(base_url), schema, 5000, tmp_path)
