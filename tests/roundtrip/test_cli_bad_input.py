"""The command line on bad input: it says what is wrong and what to do, exits 2, and leaves no half-made run folder;
a tenant profile needs only the credentials of the APIs the scenario uses."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdp_poc_studio.resources import SCHEMAS

SCENARIO = """scenario_version = 1
name = "Bad input"
schema_file = "{schema}"
{target}
[integration]
load = "batch"
pull_back = {pull_back}

[generator]
seed = 3
guests = 6
run_tag = "bad3"

[export]
friendly_id = "bad_input"
"""


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cdp_poc_studio", *args],
        cwd=cwd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def _scenario(folder: Path, *, schema: Path | None = None, target: str = "", pull_back: str = '["rest"]') -> Path:
    path = folder / "scenario.toml"
    schema = schema or SCHEMAS / "retail_loyalty.toml"
    path.write_text(SCENARIO.format(schema=schema, target=target, pull_back=pull_back))
    return path


def test_an_unknown_faker_provider_is_bad_usage_and_makes_no_run_folder(tmp_path: Path) -> None:
    schema = tmp_path / "schema.toml"
    schema.write_text('schema_version = 1\n[guest.ext.tier]\nkind = "faker"\nprovider = "no_such_provider"\n')
    result = _cli("run", str(_scenario(tmp_path, schema=schema)), "--runs", "runs", "--sandbox-db", ":memory:",
                  cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no_such_provider" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_huge_guest_count_is_estimated_and_refused_without_yes(tmp_path: Path) -> None:
    result = _cli("run", str(_scenario(tmp_path)), "--guests", str(10**12), "--runs", "runs", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "1,000,000,000,000 guests: about" in result.stderr
    assert "free" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_resume_of_a_run_folder_with_a_truncated_file_says_which_run_and_why(tmp_path: Path) -> None:
    done = _cli("run", str(_scenario(tmp_path)), "--runs", "runs", "--sandbox-db", str(tmp_path / "s.db"),
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = (tmp_path / "runs").iterdir()
    generated = run / "generated.ndjson.gz"
    generated.write_bytes(generated.read_bytes()[:-40])  # cut short, as by a full disk
    state = json.loads((run / "run.json").read_text())
    del state["stages"]["readback"]  # so that resume reads the generated file again
    (run / "run.json").write_text(json.dumps(state))
    result = _cli("resume", str(run), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "damaged or truncated" in result.stderr
    assert str(run) in result.stderr
    assert "Traceback" not in result.stderr
    assert "Aborted" not in result.stderr + result.stdout


def _profile_env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "config" / "cdp-poc-studio"
    config.mkdir(parents=True)
    profile = {"name": "acme", "kind": "custom", "region": None, "base_url": "http://127.0.0.1:9"}
    (config / "settings.json").write_text(json.dumps({"profiles": [profile]}))
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    env |= {
        "CDP_CLIENT_KEY": "ck-1",
        "CDP_API_TOKEN": "token-1",
        "CDP_OAUTH_CLIENT_ID": "",
        "CDP_OAUTH_CLIENT_SECRET": "",
    }
    return env


def test_an_export_scenario_names_exactly_the_missing_oauth_credentials(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, target='[target]\nkind = "profile"\nprofile = "acme"\n', pull_back='["export"]')
    result = _cli("run", str(scenario), "--runs", "runs", cwd=tmp_path, env=_profile_env(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "CDP_OAUTH_CLIENT_ID" in result.stderr
    assert "CDP_OAUTH_CLIENT_SECRET" in result.stderr
    assert "CDP_API_TOKEN" not in result.stderr
    assert "CDP_CLIENT_KEY" not in result.stderr


def test_a_rest_only_scenario_needs_no_oauth_credentials(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, target='[target]\nkind = "profile"\nprofile = "acme"\n', pull_back='["rest"]')
    result = _cli("run", str(scenario), "--runs", "runs", cwd=tmp_path, env=_profile_env(tmp_path))
    # Past the credentials: it fails at once reaching the (unreachable) tenant, and says which host and why.
    assert "OAUTH" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stdout + result.stderr
    assert "127.0.0.1:9" in result.stderr
    assert "Connection refused" in result.stderr
    assert not (tmp_path / "runs").exists(), "found unreachable before any run folder was made"
    assert "token-1" not in result.stdout + result.stderr
