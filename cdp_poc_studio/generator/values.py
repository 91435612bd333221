"""Nested extension values from a declarative schema: Faker providers, choices, ranges, objects and lists."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from faker import Faker

from cdp_poc_studio.domain.schema import FieldSpec, GroupFields
from cdp_poc_studio.generator.sampling import Weighted, between, pick

FAKER_POOL_SIZE = 500


class SchemaValueError(ValueError):
    """A schema field that cannot produce values, named by its schema path."""


class ValueFactory:
    """Draws the nested value of one extension group. Faker providers are pooled once per locale and field."""

    def __init__(self, fakers: dict[str, Faker], anchor: date) -> None:
        self._fakers = fakers
        self._anchor = anchor
        self._pools: dict[tuple[int, str], list[Any]] = {}
        self._weights: dict[int, Weighted] = {}

    def prepare(self, fields: GroupFields, path: str) -> None:
        """Fill every Faker pool up front, so a bad provider fails before anything is written."""
        for name, spec in fields.items():
            self._prepare_field(spec, f"{path}.{name}")

    def _prepare_field(self, spec: FieldSpec, path: str) -> None:
        if spec.kind == "faker":
            for locale in self._fakers:
                self._pool(spec, locale, path)
        elif spec.kind == "object" and spec.fields:
            self.prepare(spec.fields, path)
        elif spec.kind == "list" and spec.item is not None:
            self._prepare_field(spec.item, f"{path}[]")

    def _pool(self, spec: FieldSpec, locale: str, path: str) -> list[Any]:
        key = (id(spec), locale)
        pool = self._pools.get(key)
        if pool is None:
            faker = self._fakers[locale]
            assert spec.provider is not None
            provider = getattr(faker, spec.provider, None)
            if provider is None or not callable(provider):
                raise SchemaValueError(f"{path}: Faker has no provider {spec.provider!r}; see faker.readthedocs.io")
            try:
                pool = [_primitive(provider(**spec.args)) for _ in range(FAKER_POOL_SIZE)]
            except (TypeError, ValueError, AttributeError) as exc:
                raise SchemaValueError(
                    f"{path}: provider {spec.provider!r} failed with args {spec.args}: {exc}"
                ) from None
            self._pools[key] = pool
        return pool

    def group(self, fields: GroupFields, rng: random.Random, locale: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, spec in fields.items():
            if spec.probability < 1.0 and rng.random() >= spec.probability:
                continue
            value = self.value(spec, rng, locale)
            if value is not None:
                out[name] = value
        return out

    def value(self, spec: FieldSpec, rng: random.Random, locale: str) -> Any:
        kind = spec.kind
        if kind == "faker":
            return pick(rng, self._pool(spec, locale, spec.provider or ""))
        if kind == "choice":
            assert spec.choices is not None
            if spec.weights:
                return self._weighted(spec).pick(rng)
            return pick(rng, spec.choices)
        if kind == "int":
            assert spec.min is not None
            assert spec.max is not None
            return between(rng, int(spec.min), int(spec.max))
        if kind == "float":
            assert spec.min is not None
            assert spec.max is not None
            return round(rng.uniform(spec.min, spec.max), spec.decimals)
        if kind == "bool":
            return rng.random() < 0.5
        if kind == "const":
            return spec.value
        if kind in ("date", "datetime"):
            return self._date(spec, rng, with_time=kind == "datetime")
        if kind == "object":
            assert spec.fields is not None
            return self.group(spec.fields, rng, locale) or None
        assert spec.item is not None
        count = between(rng, spec.min_items, spec.max_items)
        items = [self.value(spec.item, rng, locale) for _ in range(count)]
        items = [item for item in items if item is not None]
        # An empty list has no flat form in CDP, so it is left out rather than sent.
        return items or None

    def _weighted(self, spec: FieldSpec) -> Weighted:
        weighted = self._weights.get(id(spec))
        if weighted is None:
            assert spec.choices is not None
            assert spec.weights is not None
            weighted = self._weights[id(spec)] = Weighted(spec.choices, spec.weights)
        return weighted

    def _date(self, spec: FieldSpec, rng: random.Random, *, with_time: bool) -> str:
        start = date.fromisoformat(spec.start) if spec.start else self._anchor - timedelta(days=3650)
        end = date.fromisoformat(spec.end) if spec.end else self._anchor
        day = start + timedelta(days=between(rng, 0, max(0, (end - start).days)))
        if not with_time:
            return day.isoformat()
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=between(rng, 0, 86_399))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _primitive(value: Any) -> Any:
    """Faker sometimes returns dates or Decimals; CDP takes strings, numbers and booleans."""
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)
