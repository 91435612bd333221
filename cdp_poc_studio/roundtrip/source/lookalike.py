"""Look-alike data: from a mapped sample, an extension schema and generator settings for more records of its shape.

Each extension target of the mapping is profiled over the sample's mapped values (type, share of empty cells,
distinct values, number and length ranges) and proposed as a schema field: a low-cardinality column becomes a
`choice` of its values with their weights (the only way sample values reach synthetic rows, and only while the
user keeps that value set), numbers a range, dates a span, yes/no a boolean, and other text a Faker provider
guessed from the column's name, in the sample's locales. Guest attributes come from the generator, which draws
names, emails, phones and addresses by locale; synthetic guests keep only the attributes the sample maps.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cdp_poc_studio.domain.schema import ExtensionSchema, FieldSpec
from cdp_poc_studio.generator.distribution import Distribution
from cdp_poc_studio.generator.locales import LOCALES
from cdp_poc_studio.generator.records import GeneratedGuest, Generator
from cdp_poc_studio.roundtrip.scenario import Scenario
from cdp_poc_studio.roundtrip.source.mapper import SourceMapping
from cdp_poc_studio.roundtrip.source.spec import Target

# A sample maps guests only: synthetic guests have no orders either.
_NO_ORDERS = Distribution.parse("fixed:0")
# A column is a value set when it has at most this many distinct values, each seen about twice or more.
MAX_CHOICES = 25
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CDP_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})T")
# Faker providers by words in a column's name; the first match wins.
_PROVIDERS = (
    ("email", "email"),
    ("phone", "phone_number"),
    ("mobile", "phone_number"),
    ("city", "city"),
    ("town", "city"),
    ("street", "street_address"),
    ("address", "street_address"),
    ("postcode", "postcode"),
    ("zip", "postcode"),
    ("country", "country"),
    ("company", "company"),
    ("store", "city"),
    ("name", "name"),
    ("url", "url"),
    ("job", "job"),
)
# Locales by the ISO country codes a sample's guests live in.
_LOCALE_OF = {locale.split("_")[1]: locale for locale in LOCALES}
_LOCALE_OF["IE"] = "en_IE"
_LOCALE_OF["GB"] = "en_GB"
_LOCALE_OF["US"] = "en_US"


@dataclass
class ColumnProfile:
    """What a target's values look like in the sample."""

    target: Target
    label: str
    rows: int = 0
    empty: int = 0
    values: Counter[Any] = field(default_factory=Counter)
    list_lengths: list[int] = field(default_factory=list)

    @property
    def null_rate(self) -> float:
        return self.empty / self.rows if self.rows else 0.0

    def kinds(self) -> set[str]:
        return {type(v).__name__ for v in self.values}


def profile(mapping: SourceMapping, limit: int | None = None) -> tuple[list[ColumnProfile], Counter[str]]:
    """Each mapped target's profile over the sample's rows (the first `limit`), and the guests' countries."""
    profiles = [ColumnProfile(parse, rule.label) for rule, parse in _targets(mapping)]
    countries: Counter[str] = Counter()
    for count, row in enumerate(mapping.source.rows(), start=1):
        for profile_, (_raw, after, error) in zip(profiles, mapping.trace(row), strict=True):
            profile_.rows += 1
            if error is not None or after is None:
                profile_.empty += 1
            elif isinstance(after, list):
                profile_.list_lengths.append(len(after))
                profile_.values.update(after)
            else:
                profile_.values[after] += 1
            if profile_.target.name == "country" and isinstance(after, str):
                countries[after] += 1
        if limit is not None and count >= limit:
            break
    return profiles, countries


def _targets(mapping: SourceMapping) -> Iterator[tuple[Any, Target]]:
    from cdp_poc_studio.roundtrip.source.spec import parse_target

    for rule in mapping.rules:
        yield rule, parse_target(rule.target)


def propose_field(profile_: ColumnProfile) -> FieldSpec:
    """A schema field producing values of this profile's shape."""
    probability = round(1.0 - profile_.null_rate, 3)
    values = profile_.values
    item = _scalar(profile_, values)
    if profile_.list_lengths:
        return FieldSpec(
            kind="list", item=item, min_items=max(1, min(profile_.list_lengths)), max_items=max(profile_.list_lengths),
            probability=probability,
        )  # fmt: skip
    return item.model_copy(update={"probability": probability})


def _scalar(profile_: ColumnProfile, values: Counter[Any]) -> FieldSpec:
    kinds = profile_.kinds()
    present = sum(values.values())
    if not values:
        return FieldSpec(kind="faker", provider="word")
    if kinds == {"bool"}:
        return FieldSpec(kind="bool")
    if kinds <= {"int", "float"}:
        low, high = min(values), max(values)
        if kinds == {"int"}:
            return FieldSpec(kind="int", min=low, max=max(high, low))
        decimals = max(len(str(v).split(".")[1]) if "." in str(v) else 0 for v in values)
        return FieldSpec(kind="float", min=low, max=high, decimals=min(6, max(decimals, 0)))
    if len(values) <= MAX_CHOICES and present >= 2 * len(values):
        ordered = sorted(values.items(), key=lambda item: (-item[1], str(item[0])))
        return FieldSpec(kind="choice", choices=[v for v, _ in ordered], weights=[float(n) for _, n in ordered])
    texts = [str(v) for v in values]
    days = [m.group(1) for m in map(_CDP_DATE.match, texts) if m] or [t for t in texts if _DATE.match(t)]
    if len(days) == len(texts):
        with_time = any("T" in t and not t.endswith("T00:00Z") for t in texts)
        return FieldSpec(kind="datetime" if with_time else "date", start=min(days), end=max(days))
    name = profile_.target.path[-1] if profile_.target.path else profile_.target.name
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", f"{name} {profile_.label}").lower()
    provider = next((p for word, p in _PROVIDERS if word in words), None)
    if provider is not None:
        return FieldSpec(kind="faker", provider=provider)
    longest = max(len(t) for t in texts)
    return FieldSpec(
        kind="faker", provider="pystr", args={"min_chars": min(len(t) for t in texts), "max_chars": max(1, longest)}
    )


def propose_schema(schema: ExtensionSchema, profiles: Iterable[ColumnProfile]) -> ExtensionSchema:
    """The schema with each extension target's field proposed from the sample; fields it defines are kept."""
    guest = {group: dict(fields) for group, fields in schema.guest.items()}
    for profile_ in profiles:
        target = profile_.target
        if target.kind != "extension" or target.group is None:
            continue
        fields = guest.setdefault(target.group, {})
        _place(fields, target.path, propose_field(profile_), schema)
    return schema.model_copy(update={"guest": guest})


def _place(fields: dict[str, FieldSpec], path: tuple[str, ...], spec: FieldSpec, schema: ExtensionSchema) -> None:
    head = path[0]
    if len(path) == 1:
        existing = fields.get(head)
        if existing is None or (existing.provider == "pystr" and existing.kind == "faker" and not existing.args):
            fields[head] = spec  # a placeholder of the mapping's own, or nothing yet
        return
    parent = fields.get(head)
    if parent is None:
        parent = FieldSpec(kind="object", fields={})
    if parent.kind != "object" or parent.fields is None:
        return  # the schema says otherwise; it wins
    inner = dict(parent.fields)
    _place(inner, path[1:], spec, schema)
    fields[head] = parent.model_copy(update={"fields": inner})


def propose_locales(countries: Counter[str], current: list[str]) -> list[str]:
    """The generator's locales for the sample's countries (most frequent first), else the current ones."""
    locales = [_LOCALE_OF[c] for c, _ in countries.most_common() if c in _LOCALE_OF]
    return list(dict.fromkeys(locales))[:5] or current


def propose(
    scenario: Scenario, schema: ExtensionSchema, mapping: SourceMapping, synthetic_rows: int, limit: int | None = 10_000
) -> Scenario:
    """The scenario with a proposed inline schema, locales, and `synthetic_rows` look-alike guests after the sample.

    `schema` is the scenario's own (the fields it defines are kept); `mapping` reads the sample.
    """
    assert scenario.source is not None
    profiles, countries = profile(mapping, limit)
    schema = propose_schema(schema, profiles)
    # A nested value of the sample's own keeps the schema's default flattening; a field with no values is left out.
    generator = scenario.generator.model_copy(
        update={"locales": propose_locales(countries, scenario.generator.locales), "orders_per_guest": _NO_ORDERS}
    )
    source = scenario.source.model_copy(update={"synthetic_rows": synthetic_rows})
    return scenario.model_copy(
        update={"extensions": schema, "schema_file": None, "generator": generator, "source": source}
    )


def synthetic_guests(scenario: Scenario, schema: ExtensionSchema, first_seq: int) -> Iterator[GeneratedGuest]:
    """`[source] synthetic_rows` generated guests of the sample's shape, numbered on from the sample's rows.

    Only the attributes the mapping targets are kept (a sample without passports gets no synthetic passports);
    extension groups come from the schema, whose fields the proposal drew from the sample's profile.
    """
    assert scenario.source is not None
    count = scenario.source.synthetic_rows
    if count <= 0:
        return
    kept = {rule.target for rule in scenario.mapping if "." not in rule.target}
    settings = scenario.generator.model_copy(update={"guests": count, "orders_per_guest": _NO_ORDERS})
    only_mapped = ExtensionSchema(
        default_flatten=schema.default_flatten,
        guest={g: f for g, f in schema.guest.items() if any(r.target.startswith(f"{g}.") for r in scenario.mapping)},
    )
    for seq, guest in enumerate(Generator(settings, only_mapped).guests(), start=first_seq):
        value = guest.guest
        for key in list(value):
            if key not in kept and key not in ("guestType", "identifiers", "extensions"):
                del value[key]
        guest.seq = seq
        yield guest
