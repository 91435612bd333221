"""The headless command line: run, demo, resume, report and cleanup, with a real sandbox child process."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cdp_poc_studio.resources import SCHEMAS

SCENARIO = """scenario_version = 1
name = "CLI check"
schema_file = "{schema}"
{mapping}
[generator]
seed = 3
guests = 8
run_tag = "cli3"

[export]
friendly_id = "cli_check"
"""


def _cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cdp_poc_studio", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
    )


def _scenario(folder: Path, mapping: str = "") -> Path:
    path = folder / "scenario.toml"
    path.write_text(SCENARIO.format(schema=SCHEMAS / "retail_loyalty.toml", mapping=mapping))
    return path


@pytest.fixture(scope="module")
def passing_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("cli")
    result = _cli(
        "run",
        str(_scenario(folder)),
        "--sandbox-db",
        str(folder / "sandbox.db"),
        "--runs",
        str(folder / "runs"),
        cwd=folder,
    )
    return folder, result


def test_run_passes_with_exit_0_and_a_summary(passing_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    _, result = passing_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CLI check: PASSED" in result.stdout
    assert "report.html" in result.stdout
    assert "sandbox-api-token" not in result.stdout + result.stderr


def test_report_re_renders_and_bundles(passing_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder, _ = passing_run
    (run_folder,) = [p for p in (folder / "runs").iterdir() if p.is_dir()]
    (run_folder / "report" / "report.html").unlink()
    result = _cli("report", str(run_folder), "--bundle", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert (run_folder / "report" / "report.html").is_file()
    assert run_folder.with_suffix(".zip").is_file()


def test_cleanup_lists_then_deletes_what_the_run_created(
    passing_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, _ = passing_run
    (run_folder,) = [p for p in (folder / "runs").iterdir() if p.is_dir()]
    declined = _cli("cleanup", str(run_folder), cwd=folder, stdin="n\n")
    assert "left 8 guest(s)" in declined.stdout
    assert "POC_STUDIO:cli3-0000000" in declined.stdout
    assert "Nothing was deleted" in declined.stdout
    deleted = _cli("cleanup", str(run_folder), "--yes", cwd=folder)
    assert "Deleted 8 guest(s)" in deleted.stdout, deleted.stdout + deleted.stderr
    again = _cli("cleanup", str(run_folder), "--yes", cwd=folder)
    assert "Nothing of run" in again.stdout


def test_failing_verification_exits_1_with_the_differences(tmp_path: Path) -> None:
    mapping = '[[mapping]]\nsource = "ext.loyaltyTier"\ntarget = "ext.loyaltyTeir"\n'
    result = _cli(
        "run",
        str(_scenario(tmp_path, mapping)),
        "--sandbox-db",
        ":memory:",
        "--runs",
        str(tmp_path / "runs"),
        "--output",
        "json",
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "failed"
    assert any("mapping error" in d["explanation"] for d in report["differences"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.toml"], "no such file"),
        (["run", "bad.toml"], "generator.guests"),
        (["run", "good.toml", "--target", "nowhere"], "use sandbox or profile:NAME"),
        (["run", "good.toml", "--target", "profile:acme"], "no connection profile named 'acme'"),
        (["resume", "."], "not a run folder"),
        (["demo", "--scenario", "nope"], "choose one of crm_sample, frequent_buyers, hospitality_stays"),
    ],
)
def test_bad_usage_exits_2_saying_what_to_do(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bad.toml").write_text('scenario_version = 1\nname = "x"\n[generator]\nguests = -1\n')
    _scenario(tmp_path).rename(tmp_path / "good.toml")
    result = _cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr


def test_demo_runs_a_bundled_scenario_end_to_end(tmp_path: Path) -> None:
    result = _cli("demo", "--guests", "10", "--runs", str(tmp_path), "--output", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "passed"
    assert report["scenario_name"] == "Retail loyalty"
    # rest and export read back every guest; the decisions snippets run on every guest read back.
    assert {s["source"]: s["records_found"] for s in report["sources"]} == {"rest": 10, "export": 10, "decisions": 10}
