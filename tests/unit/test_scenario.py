"""Scenario files: round trip without loss, stable and minimal on disk, errors that point at the line."""

from pathlib import Path

import pytest

from cdp_poc_studio.roundtrip.scenario import (
    MappingRule,
    Scenario,
    ScenarioError,
    dump_scenario,
    load_scenario,
    parse_scenario,
    save_scenario,
)

BUNDLED = sorted((Path(__file__).parents[2] / "cdp_poc_studio" / "resources" / "scenarios").glob("*.toml"))


def test_save_and_load_lose_nothing(tmp_path: Path) -> None:
    scenario = Scenario.model_validate(
        {
            "name": "Retail",
            "target": {"snapshot": "nightly"},
            "integration": {"load": "rest", "pull_back": ["export"]},
            "generator": {"seed": 9, "guests": 20, "locales": ["en_GB", "de_DE"], "orders_per_guest": "fixed:1"},
            "extensions": {"guest": {"ext": {"tier": {"kind": "choice", "choices": ["a", "b"], "weights": [1, 2]}}}},
            "mapping": [{"source": "ext.tier", "target": "ext.loyaltyTier"}],
            "export": {"format": "csv", "csv": {"separator": "|"}},
            "verify": {"ignore": ["phoneNumbers"], "thresholds": {"min_field_pass_rate": 0.99}},
        }
    )
    path = tmp_path / "s.toml"
    save_scenario(scenario, path)
    assert load_scenario(path) == scenario


def test_file_holds_only_what_was_changed_in_a_stable_order() -> None:
    text = dump_scenario(Scenario(name="Minimal"))
    assert text == 'scenario_version = 1\nname = "Minimal"\n'
    scenario = Scenario(name="M", mapping=[MappingRule(source="firstName", target="lastName")])
    assert dump_scenario(scenario) == dump_scenario(parse_scenario(dump_scenario(scenario)))


@pytest.mark.parametrize(
    ("text", "line", "where", "problem"),
    [
        ('name = "x"\n', None, "scenario_version", "add scenario_version = 1"),
        ('scenario_version = 2\nname = "x"\n', 1, "scenario_version", "reads version 1"),
        (
            'scenario_version = 1\nname = "x"\n\n[generator]\nseed = 1\nguests = -5\n',
            6,
            "generator.guests",
            "greater than or equal to 0",
        ),
        ('scenario_version = 1\nname = "x"\n[integration]\nload = "stream"\n', 4, "integration.load", "'batch' or"),
        ('scenario_version = 1\nname = "x"\n[target]\nkind = "profile"\n', 3, "target", "needs profile"),
        (
            'scenario_version = 1\nname = "x"\n[[mapping]]\nsource = "ext9.a"\ntarget = "ext.b"\n',
            4,
            "mapping.0.source",
            "is not a guest field",
        ),
        ('scenario_version = 1\nname = "x"\n[verify]\nthreshold = 1\n', 4, "verify.threshold", "unknown key"),
        ('scenario_version = 1\nname = "x"\n[generator\n', 3, "", "not valid TOML"),
    ],
)
def test_errors_name_line_key_path_and_fix(text: str, line: int | None, where: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, Path("s.toml"))
    error = caught.value
    assert (error.line, error.where) == (line, where)
    assert problem in error.problem
    assert str(error).startswith(f"s.toml, line {line}" if line else "s.toml: ")


def test_missing_schema_file_is_reported_against_the_scenario(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('scenario_version = 1\nname = "x"\nschema_file = "nope.toml"\n')
    with pytest.raises(ScenarioError, match=r"line 3: schema_file: .*nope.toml: no such file"):
        load_scenario(path)


def test_a_failed_save_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    save_scenario(Scenario(name="old"), path)
    (tmp_path / ".s.toml.tmp").mkdir()  # the temporary file cannot be written
    with pytest.raises(IsADirectoryError):
        save_scenario(Scenario(name="new"), path)
    assert load_scenario(path).name == "old"


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.resolved_schema(path.parent) is not None


@pytest.mark.parametrize(
    ("target", "problem"),
    [("ext.name", "envelope"), ("ext2.createdAt", "envelope"), ("ref", "read-only"), ("modifiedAt", "read-only")],
)
def test_mapping_to_reserved_names_is_refused(target: str, problem: str) -> None:
    text = f'scenario_version = 1\nname = "x"\n[[mapping]]\nsource = "firstName"\ntarget = "{target}"\n'
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text)
    assert problem in str(caught.value)
    assert "mapping" in str(caught.value)
