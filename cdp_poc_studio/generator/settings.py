"""What to generate: counts, distributions, locales, seed, identifiers and the run tag."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cdp_poc_studio.generator.distribution import Distribution
from cdp_poc_studio.generator.locales import LOCALES

RUN_TAG = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class GeneratorSettings(BaseModel):
    """Everything that decides the output. The same settings give byte-identical output on every run."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(default=42, ge=0)
    guests: int = Field(default=100, ge=0)
    locales: list[str] = ["en_US"]
    orders_per_guest: Distribution = Distribution.parse("poisson:1.5")
    items_per_order: Distribution = Distribution.parse("uniform:1-3")
    # Order consumers (facts §5.5): the first is the guest, the others travelling companions known by name only
    # (CDP makes them guests of type traveller). None by default.
    consumers_per_order: Distribution = Distribution.parse("fixed:0")
    identifier_provider: str = Field(default="POC_STUDIO", min_length=1)
    # Part of every identifier and order referenceId, so that what a run created can be found and cleaned up.
    run_tag: str | None = None
    # Dates (birth dates, orders in the two years before) are drawn relative to this day. None: the run's clock
    # (a round trip fixes it to the target's day when it starts; elsewhere it is today, UTC), so that a scenario
    # means the same next year. Set it to make output identical from one day to the next.
    anchor_date: date | None = None
    point_of_sale: str = "poc-studio.example.com"
    item_type: str = "PRODUCT"
    email_domain: str = "example.com"
    pool_size: int = Field(default=500, ge=10, le=100_000)

    @field_validator("orders_per_guest", "items_per_order", "consumers_per_order", mode="before")
    @classmethod
    def _parse_distribution(cls, value: object) -> object:
        return Distribution.parse(value) if isinstance(value, str) else value

    @field_validator("locales")
    @classmethod
    def _check_locales(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one locale")
        unknown = [locale for locale in value if locale not in LOCALES]
        if unknown:
            raise ValueError(f"unsupported locale {', '.join(unknown)}; choose from {', '.join(LOCALES)}")
        return value

    @field_validator("item_type")
    @classmethod
    def _upper_item_type(cls, value: str) -> str:
        # CDP wants order item types uppercase and predefined for the tenant.
        return value.upper()

    @model_validator(mode="after")
    def _check_run_tag(self) -> Self:
        if self.run_tag is not None and not RUN_TAG.match(self.run_tag):
            raise ValueError("run_tag must be 1 to 32 letters, digits, '-' or '_'")
        return self

    @property
    def effective_anchor(self) -> date:
        return self.anchor_date or datetime.now(UTC).date()

    @property
    def effective_run_tag(self) -> str:
        return self.run_tag or f"poc{self.seed}"
