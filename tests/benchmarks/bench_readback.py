"""REST read-back against REST send: guests a second of each pipeline stage at 50 ms injected latency, both at the
sender's default concurrency, the sandbox in its own process. The target: read-back at least 0.8 times send.

Run: `pytest tests/benchmarks/bench_readback.py -s`
"""

from __future__ import annotations

import os
from pathlib import Path

from cdp_poc_studio.cdp.rest_sender import RestSettings
from cdp_poc_studio.roundtrip.pipeline import READBACK_WORKERS, Pipeline
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from cdp_poc_studio.targets.target import sandbox_plan
from tests.helpers.data import bundled
from tests.helpers.figures import report
from tests.helpers.sandbox_support import sandbox_process

LATENCY_MS = 50
GUESTS = 400


def test_readback_keeps_up_with_send(tmp_path: Path) -> None:
    scenario, schema = bundled("travel_bookings", guests=GUESTS)
    integration = scenario.integration.model_copy(update={"load": "rest", "pull_back": ["rest"]})
    scenario = scenario.model_copy(update={"integration": integration})
    with sandbox_process() as url:
        SandboxAdmin(url).set_faults([f"latency={LATENCY_MS}ms"])
        with sandbox_plan(url, db=":memory:").open() as target:
            run = Pipeline.start(scenario, schema, tmp_path, target).run()
    stages = {s.name: s for s in run.stages}
    send = GUESTS / stages["send"].seconds
    readback = GUESTS / stages["readback"].seconds
    report(
        f"REST read-back and send, {GUESTS} guests, {LATENCY_MS} ms injected latency (load {os.getloadavg()[0]:.1f})",
        [
            ("send", f"{send:6.1f} guests/s at concurrency {RestSettings().concurrency}"),
            ("read-back", f"{readback:6.1f} guests/s at concurrency {READBACK_WORKERS}"),
            ("ratio", f"{readback / send:5.2f} (target >= 0.8)"),
        ],
    )
    assert run.verdict == "passed"
