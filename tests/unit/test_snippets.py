"""The generated snippets, run in V8 on hand-made Personalize guests, and the SQL's shape."""

import pytest

from cdp_poc_studio.domain.flatten import flatten_group
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.decisions import SnippetEngine
from cdp_poc_studio.roundtrip.snippets import nested_fields, snippets_for, with_defaults

SCHEMA = ExtensionSchema.model_validate(
    {
        "guest": {
            "ext": {
                "home": {
                    "kind": "object",
                    "flatten": "prefix",
                    "fields": {
                        "city": {"kind": "faker", "provider": "city"},
                        "stays": {
                            "kind": "list",
                            "max_items": 3,
                            "item": {
                                "kind": "object",
                                "fields": {
                                    "nights": {"kind": "int", "min": 1, "max": 9},
                                    "at": {"kind": "date"},
                                },
                            },
                        },
                    },
                },
                "big": {"kind": "int", "min": 0, "max": 9_999_999_999},
            },
            "ext2": {
                "tags": {
                    "kind": "list",
                    "flatten": "json",
                    "item": {"kind": "object", "fields": {"score": {"kind": "float", "min": 0, "max": 1}}},
                }
            },
        }
    }
)
HOME = {"city": "Cork", "stays": [{"nights": 2, "at": "2024-05-01"}, {"nights": 7}]}
TAGS = [{"score": 0.25}, {"score": 1.5}]


def _guest(groups: dict[str, dict[str, object]]) -> dict[str, object]:
    extensions = [
        {"name": group, "key": "default", "values": flatten_group(SCHEMA, SCHEMA.guest[group], nested)}
        for group, nested in groups.items()
    ]
    return {"ref": "g-1", "email": "a@example.com", "dataExtensions": extensions, "orders": []}


def _results(guest: dict[str, object]) -> dict[str, object]:
    snippets = snippets_for(SCHEMA)
    engine = SnippetEngine(snippets)
    try:
        row = engine.run([guest])[0]
    finally:
        engine.close()
    javascript = [s for s in snippets if s.language == "javascript"]
    return {s.id: r for s, r in zip(javascript, row, strict=True)}


def test_nested_fields_are_the_top_level_objects_and_lists() -> None:
    assert [(f.group, f.name, f.strategy) for f in nested_fields(SCHEMA)] == [
        ("ext", "home", "prefix"),
        ("ext2", "tags", "json"),
    ]


def test_map_decision_accessors_template_and_export_rebuild_the_value() -> None:
    results = _results(_guest({"ext": {"home": HOME}, "ext2": {"tags": TAGS}}))
    assert results["guest_ext_home.map"] == {"v": {"home": HOME}}
    assert results["guest_ext_home.map.template"] == {"v": {"home": HOME}}
    assert results["guest_ext2_tags.map"] == {"v": {"tags": TAGS}}
    assert results["guest_ext_home_city.accessor"] == {"v": "Cork"}
    assert results["guest_ext_home_staysItemNights.accessor"] == {"v": 2}
    assert results["guest_ext_home_staysItemAt.accessor"] == {"v": "2024-05-01T00:00:00.000Z"}
    assert results["guest_ext2_tags_itemScore.accessor"] == {"v": "0.25"}
    assert results["guest_ext_home.export"] == {"v": {"guestRef": "g-1", "email": "a@example.com", "home": HOME}}


def test_absent_values_give_an_empty_map_and_null_accessors() -> None:
    results = _results(_guest({}))
    assert results["guest_ext_home.map"] == {"v": {}}
    assert results["guest_ext_home_city.accessor"] == {"v": None}
    assert results["guest_ext2_tags.export"] == {"v": {"guestRef": "g-1", "email": "a@example.com", "tags": None}}


def test_text_that_is_not_json_makes_the_snippet_throw() -> None:
    guest = _guest({})
    guest["dataExtensions"] = [{"name": "ext2", "key": "default", "values": {"tags": "[{"}}]
    results = _results(guest)
    assert str(results["guest_ext2_tags.map"]["e"]).startswith("SyntaxError")


def test_templates_have_form_placeholders_with_the_decision_as_their_defaults() -> None:
    by_id = {s.id: s for s in snippets_for(SCHEMA)}
    template = by_id["guest_ext_home_staysItemNights.accessor.template"].code
    assert "'[[Extension group | string | ext | { required: true }]]'" in template
    assert "[[List index 1 | number | 0 | { required: true }]]" in template
    assert with_defaults(template).replace("decision template", "programmable decision") == (
        by_id["guest_ext_home_staysItemNights.accessor"].code
    )


@pytest.mark.parametrize(
    ("snippet", "return_type"),
    [
        ("guest_ext_home_city.accessor", "String"),
        ("guest_ext_home_staysItemNights.accessor", "Integer"),
        ("guest_ext_home_staysItemAt.accessor", "Date"),
        ("guest_ext2_tags_itemScore.accessor", "String"),
        ("guest_ext_home.map", "Map"),
    ],
)
def test_return_types(snippet: str, return_type: str) -> None:
    found = {s.id: s for s in snippets_for(SCHEMA)}[snippet]
    assert found.return_type == return_type
    assert f"return type {return_type}" in found.code


def test_snippets_are_es5() -> None:
    for snippet in snippets_for(SCHEMA):
        if snippet.language == "javascript":
            for es6 in ("let ", "const ", "=>", "`"):
                assert es6 not in snippet.code, (snippet.id, es6)


def test_sql_reads_the_data_lake_guests_entity() -> None:
    sql = {s.id: s.code for s in snippets_for(SCHEMA)}
    home = sql["guest_ext_home.sql"]
    assert "FROM guests g" in home
    assert "g.ext['homeCity']" in home
    assert "g.ext['homeStays2Nights']" in home
    assert "TRY_CAST(g.ext['homeStays0Nights'] AS BIGINT)" in home
    tags = sql["guest_ext2_tags.sql"]
    assert "json_parse(g.ext2['tags'])" in tags
    assert "TRY_CAST(json_extract_scalar(g.ext2['tags'], '$[0].score') AS DOUBLE)" in tags
    assert home.count("(") == home.count(")")
    assert tags.count("(") == tags.count(")")


def test_decisions_source_reads_a_whole_float_as_the_float_it_was(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import gzip

    import orjson

    from cdp_poc_studio.roundtrip.decisions import compare_decisions
    from cdp_poc_studio.roundtrip.verify import SourceRules

    nested = {"ext2": {"tags": [{"score": 40.0}, {"score": 0.5}]}}
    guest = {"guestType": "customer", "identifiers": [{"provider": "P", "id": "1"}]}
    flat = flatten_group(SCHEMA, SCHEMA.guest["ext2"], nested["ext2"])
    generated = {"seq": 0, "key": "P:1", "ref": "r", "guest": guest, "nested": nested, "orders": []}
    extensions = {"ext2": {"name": "ext2", "key": "default", **flat}}
    back = {"key": "P:1", "matches": 1, "orders": [], "guest": {"ref": "g", "data": guest, "extensions": extensions}}
    for name, line in (("generated", generated), ("readback", back)):
        with gzip.open(tmp_path / f"{name}.ndjson.gz", "wb") as out:
            out.write(orjson.dumps(line) + b"\n")
    result = compare_decisions(
        SCHEMA, tmp_path / "generated.ndjson.gz", tmp_path / "readback.ndjson.gz", SourceRules("decisions"),
        rejected={}, sent_at=None,
    )  # fmt: skip
    assert result.records_found == 1
    assert result.field_pass_rate == 1.0, result.differences
    assert result.field_counts["ext2.tags[0].score"]
