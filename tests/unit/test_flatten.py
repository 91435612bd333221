"""Flattening and its reverse are exact inverses, for any schema and any value that fits it."""

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cdp_poc_studio.domain.flatten import flatten_group, unflatten_group
from cdp_poc_studio.domain.schema import ExtensionSchema, FieldSpec
from cdp_poc_studio.domain.schema_check import check_schema
from cdp_poc_studio.domain.schema_file import load_schema

RESOURCES = Path(__file__).parents[2] / "cdp_poc_studio" / "resources" / "schemas"

names = st.from_regex(r"\A[a-z][a-zA-Z0-9]{0,6}\Z")
primitives = st.one_of(
    st.text(max_size=12),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
)
leaf_specs = st.builds(lambda p: FieldSpec(kind="const", value=True, probability=p), st.sampled_from([1.0, 0.5]))


def _object_spec(fields: dict[str, FieldSpec], probability: float) -> FieldSpec:
    return FieldSpec(kind="object", fields=fields, probability=probability)


def _list_spec(item: FieldSpec, max_items: int) -> FieldSpec:
    item = item.model_copy(update={"probability": 1.0})
    if item.kind == "object":
        # A list item needs one field that is always there, or it would vanish when flattened.
        first, *_ = item.fields  # type: ignore[misc]
        item.fields[first] = item.fields[first].model_copy(update={"probability": 1.0})  # type: ignore[index]
    return FieldSpec(kind="list", item=item, min_items=0, max_items=max_items)


specs = st.recursive(
    leaf_specs,
    lambda children: st.one_of(
        st.builds(
            _object_spec,
            st.dictionaries(names, children, min_size=1, max_size=3),
            st.sampled_from([1.0, 0.5]),
        ),
        st.builds(_list_spec, children, st.integers(min_value=1, max_value=3)),
    ),
    max_leaves=8,
)


def values_for(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Values that fit a spec, as the generator makes them: no empty objects or lists."""
    if spec.kind == "object":
        assert spec.fields
        required = {k: values_for(s) for k, s in spec.fields.items() if s.probability == 1.0}
        optional = {k: values_for(s) for k, s in spec.fields.items() if s.probability < 1.0}
        return st.fixed_dictionaries(required, optional=optional).filter(bool)
    if spec.kind == "list":
        assert spec.item
        return st.lists(values_for(spec.item), min_size=1, max_size=spec.max_items)
    return primitives


@st.composite
def schema_and_value(draw: st.DrawFn) -> tuple[ExtensionSchema, dict[str, Any]]:
    fields = draw(st.dictionaries(names, specs, min_size=1, max_size=4))
    strategy = draw(st.sampled_from(["prefix", "json"]))
    schema = ExtensionSchema(default_flatten=strategy, guest={"ext": fields})
    nested = draw(st.fixed_dictionaries({}, optional={k: values_for(s) for k, s in fields.items()}))
    return schema, nested


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(schema_and_value())
def test_unflatten_is_the_exact_inverse_of_flatten(case: tuple[ExtensionSchema, dict[str, Any]]) -> None:
    schema, nested = case
    # A schema whose keys collide cannot round-trip; the schema check refuses it before anything is sent.
    assume(not check_schema(schema))
    fields = schema.guest["ext"]
    flat = flatten_group(schema, fields, nested)
    assert all(isinstance(v, (str, bool, int, float)) for v in flat.values())
    assert unflatten_group(schema, fields, flat) == nested


def test_prefix_strategy_names_keys_by_path() -> None:
    schema = load_schema(RESOURCES / "retail_loyalty.toml")
    fields = schema.guest["ext"]
    nested = {"address": {"city": "Dublin", "geo": {"lat": 53.3}}, "favouriteCategories": ["shoes", "denim"]}
    flat = flatten_group(schema, fields, nested)
    assert flat == {
        "addressCity": "Dublin",
        "addressGeoLat": 53.3,
        "favouriteCategories0": "shoes",
        "favouriteCategories1": "denim",
    }
    assert unflatten_group(schema, fields, flat) == nested


def test_json_strategy_serialises_into_one_key() -> None:
    schema = load_schema(RESOURCES / "retail_loyalty.toml")
    fields = schema.guest["ext1"]
    nested = {"preferences": [{"channel": "sms", "optIn": True}], "marketingConsent": False}
    flat = flatten_group(schema, fields, nested)
    assert flat == {"preferences": '[{"channel":"sms","optIn":true}]', "marketingConsent": False}
    assert unflatten_group(schema, fields, flat) == nested


def test_unflatten_reports_a_json_key_that_holds_no_json() -> None:
    schema = load_schema(RESOURCES / "retail_loyalty.toml")
    with pytest.raises(ValueError, match="preferences"):
        unflatten_group(schema, schema.guest["ext1"], {"preferences": "{not json"})
