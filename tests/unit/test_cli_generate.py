"""`cdp-poc-studio generate`: what it writes, and its errors for bad input."""

import gzip
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from cdp_poc_studio.cli.main import cli
from cdp_poc_studio.domain.lint import lint_record

SCHEMA = Path(__file__).parents[2] / "cdp_poc_studio" / "resources" / "schemas" / "retail_loyalty.toml"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["generate", *args])
    return result.exit_code, result.output


def test_generate_writes_a_valid_batch_file_and_says_what_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "guests.json.gz"
    code, output = _run(
        "--guests",
        "50",
        "--seed",
        "5",
        "--schema",
        str(SCHEMA),
        "--locale",
        "en_GB",
        "--locale",
        "nl_NL",
        "--out",
        str(out),
    )
    assert code == 0, output
    assert str(out) in output
    assert "md5" in output
    assert "guest.ext1.preferences reaches CDP as one JSON string" in output
    with gzip.open(out) as stream:
        records = [orjson.loads(line) for line in stream]
    assert sum(r["schema"] == "guest" for r in records) == 50
    assert all(lint_record(r, "batch") == [] for r in records)


def test_flatten_option_changes_how_nested_fields_reach_cdp(tmp_path: Path) -> None:
    out = tmp_path / "b.json.gz"
    code, _ = _run("--guests", "3", "--schema", str(SCHEMA), "--flatten", "json", "--out", str(out))
    assert code == 0
    with gzip.open(out) as stream:
        guest = orjson.loads(stream.readline())
    ext = guest["value"]["extensions"][0]
    # Fields without a strategy of their own follow --flatten; `address` chose prefix in the schema.
    assert isinstance(ext["favouriteCategories"], str)
    assert "favouriteCategories0" not in ext
    assert "addressCity" in ext


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--locale", "xx_XX"], "unsupported locale xx_XX"),
        (["--orders", "normal:2"], "not a distribution"),
        (["--items", "uniform:5-1"], "wrong way round"),
        (["--run-tag", "has space"], "run_tag"),
        (["--guests", "-1"], "Invalid value for '--guests'"),
    ],
)
def test_impossible_settings_exit_2_with_the_reason(tmp_path: Path, args: list[str], message: str) -> None:
    code, output = _run(*args, "--out", str(tmp_path / "b.json.gz"))
    assert code == 2
    assert message in output


def test_bad_schema_file_names_file_and_key_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[guest.ext.tier]\nkind = "choice"\n')
    code, output = _run("--schema", str(bad), "--out", str(tmp_path / "b.json.gz"))
    assert code == 2
    assert str(bad) in output
    assert "guest.ext.tier" in output
    assert "needs choices" in output


def test_schema_that_breaks_cdp_rules_is_refused_before_writing(tmp_path: Path) -> None:
    bad = tmp_path / "collide.toml"
    bad.write_text('[guest.ext.a]\nkind = "bool"\n[guest.ext1.a]\nkind = "bool"\n')
    out = tmp_path / "b.json.gz"
    code, output = _run("--schema", str(bad), "--out", str(out))
    assert code == 2
    assert ("guest.ext1.a" in output and "unique" not in output) or "also produces" in output
    assert not out.exists()


def test_unknown_faker_provider_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text('[guest.ext.pet]\nkind = "faker"\nprovider = "unicorn_name"\n')
    code, output = _run("--schema", str(bad), "--out", str(tmp_path / "b.json.gz"))
    assert code == 2
    assert "guest.ext.pet" in output
    assert "unicorn_name" in output


def test_unwritable_path_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, output = _run("--guests", "2", "--out", str(blocker / "sub" / "b.json.gz"))
    assert code == 1
    assert "cannot write" in output
    assert "--out" in output


def test_split_files_are_numbered(tmp_path: Path) -> None:
    code, output = _run(
        "--guests",
        "6000",
        "--orders",
        "fixed:2",
        "--schema",
        str(SCHEMA),
        "--max-file-mb",
        "2",
        "--compresslevel",
        "1",
        "--no-lint",
        "--out",
        str(tmp_path / "big.json.gz"),
    )
    assert code == 0, output
    files = sorted(tmp_path.glob("big-*.json.gz"))
    assert len(files) >= 2
    assert all(f.stat().st_size <= 2 * 1024 * 1024 for f in files)
