"""Client tests: a session-scoped sandbox on 127.0.0.1:0 in a thread, reset through its admin API per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.retry import RetrySettings
from cdp_poc_studio.cdp.secrets import SANDBOX_CREDENTIALS
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.domain.schema_file import load_schema
from cdp_poc_studio.generator.records import Generator
from cdp_poc_studio.generator.settings import GeneratorSettings
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import SandboxServer
from tests.helpers.sandbox_support import Admin

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "cdp_poc_studio" / "resources" / "schemas" / "retail_loyalty.toml"
# Short backoffs keep fault tests quick; the policy is the same.
FAST_RETRY = RetrySettings(attempts=10, initial=0.02, maximum=0.5, jitter=0.05, max_retry_after=2.0, deadline=120)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(SandboxConfig(port=0)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin(sandbox_server: SandboxServer) -> Iterator[Admin]:
    client = Admin(sandbox_server.base_url)
    yield client
    client.close()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer, admin: Admin) -> Iterator[SandboxServer]:
    admin.reset()
    yield sandbox_server
    admin.clear_faults()


@pytest.fixture
def connection(sandbox: SandboxServer) -> Iterator[CdpConnection]:
    conn = CdpConnection(ConnectionProfile.sandbox(sandbox.base_url), SANDBOX_CREDENTIALS, retry=FAST_RETRY)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def schema() -> ExtensionSchema:
    return load_schema(SCHEMA_PATH)


def make_generator(guests: int, schema: ExtensionSchema, seed: int = 7, **settings: object) -> Generator:
    return Generator(GeneratorSettings(guests=guests, seed=seed, **settings), schema)  # type: ignore[arg-type]
