"""Every transform of a mapping rule: what it converts, and the reason it gives when it cannot."""

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from cdp_poc_studio.roundtrip.source.transforms import Transform, TransformError, compile_steps

STEPS = TypeAdapter(list[Transform])


def apply(ops: list[dict[str, Any]], value: Any) -> Any:
    return compile_steps(STEPS.validate_python(ops))(value)


PASSING = [
    ([{"op": "trim"}], "  Aoife  ", "Aoife"),
    ([{"op": "trim"}], "   ", None),
    ([{"op": "trim", "collapse": True}], " Mary   Ann  Kelly ", "Mary Ann Kelly"),
    ([{"op": "case", "to": "lower"}], "ZOE@EXAMPLE.COM", "zoe@example.com"),
    ([{"op": "case", "to": "upper"}], "ie", "IE"),
    ([{"op": "case", "to": "title"}], "seán o'neill", "Seán O'Neill"),
    ([{"op": "date", "formats": ["%d/%m/%Y"]}], "14/03/1985", "1985-03-14T00:00Z"),
    ([{"op": "date", "formats": ["%d/%m/%Y", "%Y-%m-%d"]}], "1985-03-14", "1985-03-14T00:00Z"),
    ([{"op": "date", "formats": "%d.%m.%Y", "output": "date"}], "14.03.1985", "1985-03-14"),
    (
        [{"op": "datetime", "formats": ["%d/%m/%Y %H:%M"], "timezone": "Europe/Dublin"}],
        "01/05/2024 14:30",
        "2024-05-01T13:30:00.000Z",
    ),
    ([{"op": "datetime", "formats": ["%Y-%m-%dT%H:%M:%S%z"]}], "2024-01-15T08:00:00+01:00", "2024-01-15T07:00:00.000Z"),
    *[([{"op": "boolean"}], word, True) for word in ("yes", "Y", "TRUE", "true", "1", "t")],
    *[([{"op": "boolean"}], word, False) for word in ("no", "N", "False", "0", "f")],
    ([{"op": "boolean", "true": ["oui"], "false": ["non"]}], "Oui", True),
    ([{"op": "number", "decimal": ","}], "1.234,50", 1234.5),
    ([{"op": "number", "decimal": ","}], "87,00", 87.0),
    ([{"op": "number"}], "1,234.5", 1234.5),
    ([{"op": "number"}], "12 500", 12500),
    ([{"op": "number"}], "-42", -42),
    ([{"op": "number", "integer": True}], "1'000", 1000),
    ([{"op": "country"}], "Ireland", "IE"),
    ([{"op": "country"}], "GBR", "GB"),
    ([{"op": "country"}], "united kingdom", "GB"),
    ([{"op": "country"}], "FR", "FR"),
    ([{"op": "language"}], "English", "EN"),
    ([{"op": "language"}], "en", "EN"),
    ([{"op": "language"}], "fra", "FR"),
    ([{"op": "language"}], "Irish", "GA"),
    ([{"op": "split", "separator": ";"}], "golf; wine;;", ["golf", "wine"]),
    ([{"op": "split", "separator": ";"}, {"op": "case", "to": "upper"}], "a;b", ["A", "B"]),
    ([{"op": "join", "separator": "|"}], ["a", "b"], "a|b"),
    ([{"op": "split"}, {"op": "join", "separator": " / "}], "x, y", "x / y"),
    ([{"op": "constant", "value": "crm"}], None, "crm"),
    ([{"op": "constant", "value": 3}], "anything", 3),
    ([{"op": "lookup", "table": {"G": "gold", "s": "silver"}}], " g ", "gold"),
    ([{"op": "lookup", "table": {"G": "gold"}, "otherwise": "keep"}], "platinum", "platinum"),
    ([{"op": "default", "value": "online"}], None, "online"),
    ([{"op": "trim"}, {"op": "default", "value": "online"}], "   ", "online"),
    ([{"op": "default", "value": "online"}], "Dublin", "Dublin"),
    ([{"op": "concat", "separator": " "}], ["Aoife", None, "Byrne"], "Aoife Byrne"),
    ([{"op": "trim"}, {"op": "concat", "separator": "-"}], [" a ", " b "], "a-b"),
    ([{"op": "date", "formats": ["%d/%m/%Y"]}], None, None),  # empty stays empty
]


@pytest.mark.parametrize(("ops", "value", "expected"), PASSING)
def test_a_transform_converts_what_it_should(ops: list[dict[str, Any]], value: Any, expected: Any) -> None:
    result = apply(ops, value)
    assert result == expected
    assert type(result) is type(expected)


FAILING = [
    ([{"op": "date", "formats": ["%d/%m/%Y"]}], "1969-13-45", "not a date in the form %d/%m/%Y"),
    ([{"op": "date", "formats": ["%d/%m/%Y"]}], "31/02/1990", "not a date"),
    ([{"op": "datetime", "formats": ["%d/%m/%Y %H:%M"]}], "01/05/2024", "not a date-time"),
    ([{"op": "boolean"}], "maybe", "not a yes/no value"),
    ([{"op": "number"}], "1,5", "set decimal = ','"),
    ([{"op": "number", "decimal": ","}], "12.5.3", "not a number"),
    ([{"op": "number"}], "n/a", "not a number"),
    ([{"op": "number", "integer": True}], "1.5", "whole numbers"),
    ([{"op": "country"}], "Narnia", "not a country"),
    ([{"op": "language"}], "Elvish", "not a language"),
    ([{"op": "lookup", "table": {"g": "gold"}}], "platinum", "not in the lookup table"),
    ([{"op": "date"}], 19850314, "not text"),
]


@pytest.mark.parametrize(("ops", "value", "reason"), FAILING)
def test_a_transform_that_cannot_convert_says_why(ops: list[dict[str, Any]], value: Any, reason: str) -> None:
    with pytest.raises(TransformError, match=reason.replace("(", r"\(")):
        apply(ops, value)


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ({"op": "case", "to": "shout"}, "lower"),
        ({"op": "date", "formats": ["dd/mm/yyyy"]}, "strptime format"),
        ({"op": "datetime", "timezone": "Mars/Olympus"}, "not a time zone"),
        ({"op": "lookup", "table": {}}, "at least 1"),
        ({"op": "reverse"}, "does not match any of the expected tags"),
        ({"op": "trim", "strip": True}, "Extra inputs"),
        ({"op": "split", "separator": ""}, "at least 1 character"),
        ({"op": "join", "separator": 3}, "valid string"),
        ({"op": "concat", "separator": None}, "valid string"),
        ({"op": "constant"}, "Field required"),
        ({"op": "default", "value": [1]}, "valid string"),
        ({"op": "number", "decimal": ";"}, "Input should be '.' or ','"),
        ({"op": "boolean", "true": "oui"}, "valid list"),
        ({"op": "country", "code": "alpha3"}, "Extra inputs"),
        ({"op": "language", "to": "alpha3"}, "Extra inputs"),
    ],
)
def test_a_badly_written_transform_is_refused_with_the_fix(op: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        STEPS.validate_python([op])


def test_every_rule_of_the_bundled_sample_survives_the_map_pages_text_form() -> None:
    from cdp_poc_studio.resources import SCENARIOS
    from cdp_poc_studio.roundtrip.scenario import load_scenario
    from cdp_poc_studio.roundtrip.source.steps_text import format_steps, parse_steps

    scenario = load_scenario(SCENARIOS / "crm_sample.toml")
    for rule in scenario.mapping:
        text = format_steps(rule.transforms)
        assert parse_steps(text) == rule.transforms, text
    assert parse_steps("trim | concat:  | case:title")[1].separator == " "
    assert parse_steps("split:; | join:, ")[1].separator == ", "


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "lookup", "table": {"g": "gold"}, "otherwise": "keep"}],
        [{"op": "boolean", "true": ["oui", "si"], "false": ["non"]}],
        [{"op": "datetime", "formats": ["%d/%m/%Y %H:%M"], "timezone": "Europe/Dublin"}],
        [{"op": "trim", "collapse": True}, {"op": "number", "decimal": ","}, {"op": "default", "value": "0"}],
        [{"op": "constant", "value": 3}],
        [{"op": "constant", "value": True}],
        [{"op": "default", "value": "online"}],
        [{"op": "default", "value": '"quoted"'}],
    ],
)
def test_options_survive_the_text_form(ops: list[dict[str, Any]]) -> None:
    from cdp_poc_studio.roundtrip.source.steps_text import format_steps, parse_steps

    steps = STEPS.validate_python(ops)
    assert parse_steps(format_steps(steps)) == steps
