"""The round trip over real loopback HTTP: an in-thread sandbox, reset before each test, and a target for it."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.secrets import SANDBOX_CREDENTIALS
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.roundtrip.pipeline import Pipeline, Target
from cdp_poc_studio.roundtrip.report_model import RunReport
from cdp_poc_studio.roundtrip.scenario import Scenario, load_scenario
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import SandboxServer
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin


@pytest.fixture(scope="session")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("sandbox") / "sandbox.db"
    server = SandboxServer(SandboxConfig(port=0, db_path=str(db))).start()
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
def admin(sandbox_url: str) -> SandboxAdmin:
    httpx.post(f"{sandbox_url}/_sandbox/reset", timeout=30).raise_for_status()
    return SandboxAdmin(sandbox_url)


@pytest.fixture
def target(sandbox_url: str, admin: SandboxAdmin) -> Iterator[Target]:
    with CdpConnection(ConnectionProfile.sandbox(sandbox_url), SANDBOX_CREDENTIALS) as connection:
        yield Target(connection, f"sandbox at {sandbox_url}", "sandbox", admin=admin, nightly_snapshot=False)


def bundled(name: str, **generator: object) -> tuple[Scenario, ExtensionSchema]:
    path = SCENARIOS / f"{name}.toml"
    scenario = load_scenario(path)
    if generator:
        scenario = scenario.model_copy(update={"generator": scenario.generator.model_copy(update=generator)})
    return scenario, scenario.resolved_schema(path.parent)


def run(scenario: Scenario, schema: ExtensionSchema, target: Target, runs: Path) -> tuple[Pipeline, RunReport]:
    # Batch status is polled quickly here: the sandbox processes a small file in milliseconds.
    pipeline = Pipeline.start(scenario, schema, runs, target, batch_poll_seconds=0.05)
    return pipeline, pipeline.run()
