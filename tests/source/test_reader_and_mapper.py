"""Reading samples (CSV, JSON, NDJSON) and mapping their rows: every bad row a finding with its place and fix."""

import json
from pathlib import Path
from typing import Any

import pytest

from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.scenario import MappingRule, ScenarioError, parse_scenario
from cdp_poc_studio.roundtrip.source.mapper import MappingError, SourceMapping
from cdp_poc_studio.roundtrip.source.reader import SourceError, open_source

RULES = [
    MappingRule(column="id", target="identifiers.id", transforms=[{"op": "trim"}]),
    MappingRule(column="name", target="firstName", transforms=[{"op": "trim"}]),
    MappingRule(column="dob", target="dateOfBirth", transforms=[{"op": "date", "formats": ["%d/%m/%Y"]}]),
    MappingRule(column="optin", target="ext.emailOptIn", transforms=[{"op": "boolean"}]),
]


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def mapped(path: Path, rules: list[MappingRule] = RULES, schema: ExtensionSchema | None = None) -> list[Any]:
    mapping = SourceMapping(rules, open_source(path), schema or ExtensionSchema(), provider="CRM")
    return list(mapping.rows())


def test_csv_delimiter_and_bom_are_detected(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "\ufeffid;name;dob;optin\r\nC1; Ann ;14/03/1985;yes\r\n")
    source = open_source(path)
    assert (source.delimiter, source.encoding, source.columns) == (";", "utf-8-sig", ["id", "name", "dob", "optin"])
    [row] = mapped(path)
    assert row.ok
    assert row.guest.guest == {
        "guestType": "customer", "firstName": "Ann", "dateOfBirth": "1985-03-14T00:00Z",
        "identifiers": [{"provider": "CRM", "id": "C1"}],
        "extensions": [{"name": "ext", "key": "default", "emailOptIn": True}],
    }  # fmt: skip


def test_a_failing_transform_makes_the_row_a_finding_with_row_column_value_and_reason(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "id,name,dob,optin\nC1,Ann,14/03/1985,yes\nC2,Bob,1969-13-45,maybe\n")
    first, second = mapped(path)
    assert first.ok
    assert second.guest is None
    assert [(f.row, f.line, f.column, f.value) for f in second.findings] == [
        (2, 3, "dob", "1969-13-45"),
        (2, 3, "optin", "maybe"),
    ]
    assert "not a date in the form %d/%m/%Y" in str(second.findings[0])


def test_a_row_breaking_a_cdp_rule_is_a_lint_finding_pointing_at_its_column(tmp_path: Path) -> None:
    rules = [*RULES, MappingRule(column="country", target="country")]
    path = write(tmp_path, "s.csv", "id,name,dob,optin,country\nC1,Ann,14/03/2185,yes,Ireland\n")
    [row] = mapped(path, rules)
    assert row.guest is None
    assert {(f.kind, f.column) for f in row.findings} == {("lint", "dob"), ("lint", "country")}
    assert any("ISO 3166-1" in f.reason for f in row.findings)


def test_duplicate_key_and_wrong_width_rows_are_findings(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "id,name,dob,optin\nC1,Ann,14/03/1985,yes\nC1,Ann,14/03/1985,yes\nC3,Cy\n")
    rows = mapped(path)
    assert "the same identifier as row 1" in str(rows[1].findings[0])
    assert "2 cells where the header has 4" in str(rows[2].findings[0])
    assert [r.ok for r in rows] == [True, False, False]


def test_a_missing_column_names_the_file_column_and_a_close_match(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "id,name,date_of_birth,optin\nC1,Ann,14/03/1985,yes\n")
    rules = [*RULES[:2], MappingRule(column="date of birth", target="dateOfBirth")]
    with pytest.raises(SourceError, match=r"s.csv \(line 1\), column 'date of birth': no such column.*did you mean"):
        mapped(path, rules)


def test_no_identifier_rule_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "id,name\nC1,Ann\n")
    with pytest.raises(MappingError, match=r"identifiers\.id"):
        mapped(path, [MappingRule(column="name", target="firstName")])


def test_a_mis_encoded_file_names_the_line_and_the_fix(tmp_path: Path) -> None:
    head = "id,name,dob,optin\n" + "C0,Ann,14/03/1985,yes\n" * 4000
    path = tmp_path / "s.csv"
    path.write_bytes(head.encode() + "C9,Zo\u00eb,14/03/1985,yes\n".encode("cp1252"))
    with pytest.raises(
        SourceError, match=r"s.csv \(line 4002\): is not valid utf-8 text here \(byte 0xeb\).*encoding = \"cp1252\""
    ):
        mapped(path)


def test_a_cp1252_file_is_detected_and_said(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "id,name,dob,optin\nC1,Zo\u00eb,14/03/1985,yes\n", "cp1252")
    source = open_source(path)
    assert source.encoding == "cp1252"
    assert "Windows-1252" in source.notes[0]
    assert mapped(path)[0].guest.guest["firstName"] == "Zo\u00eb"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.csv", "", "is empty"),
        ("dup.csv", "id,name,id\n1,a,2\n", "two columns are called 'id'"),
        ("broken.json", '[{"id": "C1"}, {"id": ', "not valid JSON"),
        ("lines.ndjson", '{"id": "C1"}\n[1, 2]\n', r"row 2 \(line 2\).*not an object"),
    ],
)
def test_unreadable_samples_say_where_and_what_to_do(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(SourceError, match=message):
        list(open_source(path).rows())


def test_nested_json_paths_map_to_nested_extension_targets_flattened_by_the_schema(tmp_path: Path) -> None:
    records = [{"customer": {"id": "C1"}, "home": {"city": "Cork", "zip": "T12"}, "tags": ["a", "b"]}]
    path = write(tmp_path, "s.json", json.dumps(records))
    schema = ExtensionSchema.model_validate(
        {"guest": {"ext": {"address": {"kind": "object", "flatten": "json", "fields": {
            "city": {"kind": "faker", "provider": "city"}, "postCode": {"kind": "faker", "provider": "postcode"}}}}}}
    )  # fmt: skip
    rules = [
        MappingRule(column="customer.id", target="identifiers.id"),
        MappingRule(column="home.city", target="ext.address.city"),
        MappingRule(column="home.zip", target="ext.address.postCode"),
        MappingRule(column="tags", target="ext.tags"),
    ]
    [row] = mapped(path, rules, schema)
    assert row.ok, row.findings
    assert row.guest.guest["extensions"] == [
        {"name": "ext", "key": "default", "address": '{"city":"Cork","postCode":"T12"}', "tags0": "a", "tags1": "b"}
    ]
    assert row.guest.nested_extensions == {"ext": {"address": {"city": "Cork", "postCode": "T12"}, "tags": ["a", "b"]}}


def test_a_target_missing_from_the_schemas_nested_field_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "s.ndjson", '{"id": "C1", "town": "Cork"}\n')
    schema = ExtensionSchema.model_validate(
        {"guest": {"ext": {"address": {"kind": "object", "fields": {"city": {"kind": "faker", "provider": "city"}}}}}}
    )
    rules = [MappingRule(column="id", target="identifiers.id"), MappingRule(column="town", target="ext.address.town")]
    with pytest.raises(MappingError, match=r"ext\.address has no field 'town'"):
        mapped(path, rules, schema)


def test_scenario_rules_fit_their_source() -> None:
    base = 'scenario_version = 1\nname = "x"\n'
    with pytest.raises(ScenarioError, match=r"no \[source\] table"):
        parse_scenario(base + '[[mapping]]\ncolumn = "a"\ntarget = "firstName"\n')
    with pytest.raises(ScenarioError, match="write column"):
        parse_scenario(base + '[source]\nfile = "a.csv"\n[[mapping]]\nsource = "firstName"\ntarget = "lastName"\n')
    with pytest.raises(ScenarioError, match="not a CDP target"):
        parse_scenario(base + '[source]\nfile = "a.csv"\n[[mapping]]\ncolumn = "a"\ntarget = "shoeSize"\n')
    scenario = parse_scenario(
        base + '[source]\nfile = "a.csv"\n[[mapping]]\ncolumn = "a"\ntarget = "ext.tier"\n'
        'transforms = [{ op = "lookup", table = { g = "gold" } }]\n'
    )
    assert scenario.mapping[0].transforms[0].op == "lookup"


def test_the_compiled_fast_path_maps_exactly_as_the_step_by_step_one() -> None:
    from cdp_poc_studio.resources import SCENARIOS
    from cdp_poc_studio.roundtrip.scenario import load_scenario
    from cdp_poc_studio.roundtrip.source.rows import open_mapping, resolve_source

    path = SCENARIOS / "crm_sample.toml"
    scenario = resolve_source(load_scenario(path), path.parent)
    # A list in an extension is nested (flattened by the schema): such mappings are mapped step by step.
    flat = [rule for rule in scenario.mapping if rule.target != "ext.interests"]
    assert open_mapping(scenario, ExtensionSchema())._compile_fast_or_none() is None
    mapping = open_mapping(scenario.model_copy(update={"mapping": flat}), ExtensionSchema())
    for row in mapping.source.rows():
        fast, slow = mapping.map_row(row), mapping._map_row_slowly(row)
        assert fast.ok
        assert slow.ok
        assert fast.record == slow.record
        assert fast.guest is not None
        assert slow.guest is not None
        assert fast.guest.nested_extensions == slow.guest.nested_extensions
    assert mapping._compile_fast_or_none() is not None


def test_a_bad_row_leaves_the_fast_path_and_gets_its_findings(tmp_path: Path) -> None:
    path = write(
        tmp_path, "s.csv", "id,name,dob,optin\nC1,Ann,14/03/1985,yes\nC2,Bob,31/02/1990,yes\n,Cy,01/01/1990,no\n"
    )
    rows = mapped(path)
    assert rows[0].ok
    assert "'31/02/1990' is not a date" in str(rows[1].findings[0])
    assert "has no identifier" in str(rows[2].findings[0])
