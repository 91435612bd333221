"""Issue 11: the studio starts its sandbox over HTTPS (the Connect page's checkbox) and trusts its self-signed
certificate everywhere it talks to it: the connection test, the admin API (faults), and a whole run."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.targets.sandbox_process import SandboxOptions
from tests.helpers.studio import click, send

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox_options(tmp_path: Path) -> SandboxOptions:
    # On disk, so that the certificate is made beside the database, not in the user's data folder.
    return SandboxOptions(db_path=str(tmp_path / "sandbox" / "sandbox.db"))


def test_the_connect_pages_https_sandbox_is_trusted_by_the_test_the_faults_and_a_run(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.open_template(SCENARIOS / "retail_loyalty.toml")
    current = window.document.scenario
    window.document.replace(
        current.model_copy(update={"generator": current.generator.model_copy(update={"guests": 10})})
    )
    page = window.connect_page
    sandbox = window.context.sandbox
    page.https_check.setChecked(True)
    click(qtbot, page.start_button)
    assert sandbox.state == "running", sandbox.detail
    assert sandbox.base_url is not None
    assert sandbox.base_url.startswith("https://127.0.0.1:")
    assert sandbox.certificate is not None
    assert Path(sandbox.certificate).is_file()
    # The scenario records the choice, as `[target] tls = true` for the command line.
    assert page.store(window.document.scenario).target.tls

    # The admin API over HTTPS: a fault set and read back.
    page.apply_faults(["latency=1ms"])
    assert sandbox.fault_specs == ["latency=1ms"]
    assert "latency" in page.faults_list.item(0).text()
    page.apply_faults([])

    # The connection test and a whole batch run with export, certificate verified.
    page.test_connection()
    results = page.results
    assert results is not None
    assert all(check.ok for check in results), [(c.name, c.message) for c in results]
    report = send(qtbot, window)
    assert report.verdict == "passed"
    assert report.target.startswith("embedded sandbox at https://")
