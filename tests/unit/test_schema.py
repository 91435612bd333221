"""Schema files: bundled ones load and pass; bad ones fail naming the file, the key path and the fix."""

from pathlib import Path

import pytest

from cdp_poc_studio.domain.schema import ExtensionSchema, FieldSpec
from cdp_poc_studio.domain.schema_check import check_schema, serialised_fields
from cdp_poc_studio.domain.schema_file import SchemaFileError, load_schema

SCHEMAS = sorted((Path(__file__).parents[2] / "cdp_poc_studio" / "resources" / "schemas").glob("*.toml"))


@pytest.mark.parametrize("path", SCHEMAS, ids=[p.stem for p in SCHEMAS])
def test_bundled_schema_loads_and_breaks_no_rule(path: Path) -> None:
    assert check_schema(load_schema(path)) == []


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("[guest.ext.tier\nkind = 1", "", "not valid TOML"),
        ('[guest.ext.tier]\nkind = "colour"', "guest.ext.tier.kind", "Input should be"),
        ('[guest.ext9.tier]\nkind = "bool"', "top level", "guest extension group 'ext9'"),
        ('[guest.ext.Tier]\nkind = "bool"', "top level", "camelCase"),
        ('[guest.ext.tier]\nkind = "faker"', "guest.ext.tier", "needs provider"),
        ('[guest.ext.n]\nkind = "int"\nmin = 5\nmax = 1', "guest.ext.n", "greater than max"),
        ('[order.ext2.n]\nkind = "bool"', "top level", "one extension group, named 'ext'"),
        (
            '[guest.ext.t]\nkind = "choice"\nchoices = ["a"]\nweights = [1, 2]',
            "guest.ext.t",
            "one number for each",
        ),
    ],
)
def test_bad_schema_file_error_names_file_path_and_problem(tmp_path: Path, text: str, where: str, problem: str) -> None:
    path = tmp_path / "schema.toml"
    path.write_text(text)
    with pytest.raises(SchemaFileError) as caught:
        load_schema(path)
    assert caught.value.file == path
    assert caught.value.where == where
    assert problem in caught.value.problem
    assert str(path) in str(caught.value)


def test_json_schema_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    path.write_text('{\n  "guest": {\n    "ext": ,\n  }\n}')
    with pytest.raises(SchemaFileError, match="line 3"):
        load_schema(path)


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SchemaFileError, match="no such file"):
        load_schema(tmp_path / "absent.toml")


def _spec(**kw: object) -> FieldSpec:
    return FieldSpec.model_validate(kw)


def test_key_collision_is_reported_with_both_schema_paths() -> None:
    schema = ExtensionSchema(
        guest={
            "ext": {
                "address": _spec(kind="object", fields={"city": _spec(kind="const", value="x")}),
                "addressCity": _spec(kind="const", value="y"),
            }
        }
    )
    (violation,) = check_schema(schema)
    assert violation.rule == "extension-key-collision"
    assert violation.path == "guest.ext.addressCity"
    assert "guest.ext.address.city" in violation.message


def test_keys_must_be_unique_across_guest_groups() -> None:
    schema = ExtensionSchema(guest={"ext": {"tier": _spec(kind="bool")}, "ext2": {"tier": _spec(kind="bool")}})
    (violation,) = check_schema(schema)
    assert violation.path == "guest.ext2.tier"


def test_list_at_its_longest_overflowing_the_key_limit_is_reported() -> None:
    item = _spec(kind="object", fields={"a": _spec(kind="bool"), "b": _spec(kind="bool")})
    schema = ExtensionSchema(guest={"ext": {"stays": _spec(kind="list", item=item, max_items=60)}})
    (violation,) = check_schema(schema)
    assert violation.rule == "extension-key-count"
    assert "120 keys" in violation.message
    # The fix the message proposes works.
    json_schema = schema.model_copy(update={"default_flatten": "json"})
    assert check_schema(json_schema) == []
    assert serialised_fields(json_schema) == ["guest.ext.stays"]


def test_batch_order_extension_limit_is_50() -> None:
    fields = {f"k{i}": _spec(kind="bool") for i in range(51)}
    schema = ExtensionSchema(order={"ext": fields})
    assert [v.rule for v in check_schema(schema, api="batch")] == ["extension-key-count"]
    assert check_schema(schema, api="rest") == []


@pytest.mark.parametrize("name", ["name", "key", "ref", "href", "createdAt", "modifiedAt", "guest", "orderItem"])
def test_names_of_the_extension_envelope_are_refused_with_path_and_reason(name: str) -> None:
    schema = ExtensionSchema(order_item={"ext": {name: _spec(kind="bool")}})
    (violation,) = check_schema(schema)
    assert (violation.rule, violation.path) == ("extension-key-reserved", f"order_item.ext.{name}")
    assert "overwrite it or vanish on read-back" in violation.message


def test_a_flattened_key_that_becomes_reserved_is_refused_too() -> None:
    created = _spec(kind="object", fields={"at": _spec(kind="const", value="x")})
    (violation,) = check_schema(ExtensionSchema(guest={"ext": {"created": created}}))
    assert (violation.rule, violation.path) == ("extension-key-reserved", "guest.ext.created.at")


def test_a_flatten_option_is_honoured_or_refused_never_ignored() -> None:
    inner = _spec(kind="list", item=_spec(kind="bool"), flatten="json")
    nested = _spec(kind="object", fields={"tags": inner, "city": _spec(kind="const", value="x", flatten="json")})
    violations = check_schema(ExtensionSchema(guest={"ext": {"address": nested}}))
    assert {(v.rule, v.path) for v in violations} == {
        ("flatten-not-applicable", "guest.ext.address.tags"),
        ("flatten-not-applicable", "guest.ext.address.city"),
    }
    assert all("flatten" in v.message for v in violations)


def test_order_extension_limits_follow_the_api() -> None:
    fields = {f"k{i}": _spec(kind="bool") for i in range(60)}
    schema = ExtensionSchema(order={"ext": fields}, order_item={"ext": dict(fields)})
    assert check_schema(schema, api="rest") == []  # REST allows 100 (facts §5.7)
    assert [v.path for v in check_schema(schema, api="batch")] == ["order.ext", "order_item.ext"]
