"""The one sandbox fixture of the test suite (a pytest plugin, loaded by tests/conftest.py).

One in-thread sandbox on 127.0.0.1:0 for the whole session, its data reset before each test that asks for it,
driven through the product's admin client. Drills and benchmarks that need the sandbox on its own core start
one in a child process (`tests.helpers.sandbox_support.sandbox_process`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.secrets import SANDBOX_CREDENTIALS
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.domain.schema_file import load_schema
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import SandboxServer
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from cdp_poc_studio.targets.target import Target
from tests.helpers.data import FAST_RETRY, SCHEMA_PATH


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """The session's sandbox, started on first use. Tests that change its data ask for `sandbox` or `admin`."""
    server = SandboxServer(SandboxConfig(port=0, db_path=":memory:")).start()
    yield server
    server.stop()


@pytest.fixture
def admin(sandbox_server: SandboxServer) -> Iterator[SandboxAdmin]:
    """The sandbox's admin API, on a sandbox reset for this test; the test's fault rules are cleared after it."""
    client = SandboxAdmin(sandbox_server.base_url)
    client.reset()
    yield client
    client.clear_faults()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer, admin: SandboxAdmin) -> SandboxServer:
    """The session's sandbox, reset for this test."""
    return sandbox_server


@pytest.fixture
def sandbox_url(sandbox: SandboxServer) -> str:
    return sandbox.base_url


@pytest.fixture
def connection(sandbox: SandboxServer) -> Iterator[CdpConnection]:
    """A client connection to the reset sandbox, with quick retries."""
    conn = CdpConnection(ConnectionProfile.sandbox(sandbox.base_url), SANDBOX_CREDENTIALS, retry=FAST_RETRY)
    yield conn
    conn.close()


@pytest.fixture
def target(sandbox: SandboxServer, admin: SandboxAdmin) -> Iterator[Target]:
    """The reset sandbox as a run's target, its export snapshot immediate."""
    url = sandbox.base_url
    with CdpConnection(ConnectionProfile.sandbox(url), SANDBOX_CREDENTIALS) as conn:
        yield Target(conn, f"sandbox at {url}", "sandbox", admin=admin, nightly_snapshot=False)


@pytest.fixture(scope="session")
def schema() -> ExtensionSchema:
    """The retail loyalty extension schema."""
    return load_schema(SCHEMA_PATH)
