"""The wheel as a user installs it: built with `python -m build`, installed into a fresh virtual environment outside
the checkout, its `cdp-poc-studio demo` ends PASSED (scripts/check_wheel.sh; about a minute with a warm pip cache)."""

import subprocess
from pathlib import Path

from tests.helpers.data import ROOT


def test_the_built_wheel_installed_elsewhere_runs_the_demo_to_passed(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "check_wheel.sh"), str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Retail loyalty: PASSED" in result.stdout
    demo = (tmp_path / "demo.txt").read_text()
    assert "records found, 100.00 % of fields pass" in demo
    assert list((tmp_path / "run" / "runs").glob("*/report/report.html"))
