"""Pools of realistic values drawn once from Faker, then sampled with the seeded random generator.

Faker's weighted lists cost about 70 µs a call; sampling a pool costs well under 1 µs. The values are still
Faker's, in Faker's proportions, and the same seed gives the same pools.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faker import Faker

_STATE_PROVIDERS = ("state", "administrative_unit", "region")


def ascii_slug(text: str) -> str:
    """`José-María` -> `josemaria`, for email local parts."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@dataclass(slots=True)
class PooledName:
    name: str
    slug: str


@dataclass(slots=True)
class LocalePool:
    male_names: list[PooledName]
    female_names: list[PooledName]
    last_names: list[PooledName]
    streets: list[str]
    secondary: list[str]
    cities: list[str]
    states: list[str]
    post_codes: list[str]
    phones: list[str]
    passports: list[str]


def faker_for(locale: str, seed: int) -> Faker:
    faker = Faker(locale)
    faker.seed_instance(seed)
    return faker


def build_locale_pool(faker: Faker, size: int) -> LocalePool:
    def draw(provider: Callable[[], Any]) -> list[Any]:
        return [provider() for _ in range(size)]

    def people(provider: Callable[[], str]) -> list[PooledName]:
        return [PooledName(name, ascii_slug(name)) for name in draw(provider)]

    state = next((getattr(faker, name) for name in _STATE_PROVIDERS if _has(faker, name)), None)
    passport = faker.passport_number if _has(faker, "passport_number") else lambda: faker.bothify("??#######")
    return LocalePool(
        male_names=people(faker.first_name_male),
        female_names=people(faker.first_name_female),
        last_names=people(faker.last_name),
        streets=draw(faker.street_address),
        secondary=draw(faker.secondary_address) if _has(faker, "secondary_address") else [],
        cities=draw(faker.city),
        states=draw(state) if state else [],
        post_codes=[str(code).upper() for code in draw(faker.postcode)],
        phones=draw(faker.phone_number),
        passports=[str(p).upper() for p in draw(passport)],
    )


def _has(faker: Faker, provider: str) -> bool:
    try:
        getattr(faker, provider)()
    except AttributeError:
        return False
    return True


@dataclass(slots=True)
class ProductPool:
    names: list[str]
    descriptions: list[str]
    vendors: list[str]


def build_product_pool(faker: Faker, size: int, rng: random.Random) -> ProductPool:
    colours = [faker.color_name() for _ in range(50)]
    nouns = [faker.word() for _ in range(200)]
    names = [f"{rng.choice(colours)} {rng.choice(nouns).title()}" for _ in range(size)]
    return ProductPool(
        names=names,
        descriptions=[faker.sentence(nb_words=8) for _ in range(size)],
        vendors=[faker.company() for _ in range(max(10, size // 20))],
    )
