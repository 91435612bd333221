"""Counts drawn from a distribution: `fixed:2`, `uniform:0-3` or `poisson:1.5`."""

from __future__ import annotations

import math
import random
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

_NUMBERS = {
    "fixed": "write a whole number after fixed:, for example fixed:2",
    "uniform": "write two whole numbers after uniform:, for example uniform:1-3",
    "poisson": "write a number after poisson:, for example poisson:1.5",
}


class Distribution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["fixed", "uniform", "poisson"]
    low: int = Field(default=0, ge=0)
    high: int = Field(default=0, ge=0)
    mean: float = Field(default=0.0, ge=0.0, le=100.0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kind == "uniform" and self.low > self.high:
            raise ValueError(f"uniform:{self.low}-{self.high} has its bounds the wrong way round")
        return self

    @classmethod
    def parse(cls, text: str) -> Distribution:
        """Parse the compact form used on the command line and in scenario files."""
        kind, _, arg = text.strip().partition(":")
        try:
            if kind == "fixed":
                return cls(kind="fixed", low=int(arg), high=int(arg))
            if kind == "uniform":
                low, _, high = arg.partition("-")
                return cls(kind="uniform", low=int(low), high=int(high))
            if kind == "poisson":
                return cls(kind="poisson", mean=float(arg))
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ValueError(f"{text!r} is not a distribution: {problem}") from None
        except ValueError:
            # int() and float() say "invalid literal for int() with base 10": say it as a person would.
            raise ValueError(f"{text!r} is not a distribution: {_NUMBERS[kind]}") from None
        raise ValueError(f"{text!r} is not a distribution; write fixed:N, uniform:LOW-HIGH or poisson:MEAN")

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"fixed:{self.low}"
        if self.kind == "uniform":
            return f"uniform:{self.low}-{self.high}"
        return f"poisson:{self.mean:g}"

    def sample(self, rng: random.Random) -> int:
        if self.kind == "fixed":
            return self.low
        if self.kind == "uniform":
            return rng.randint(self.low, self.high)
        # Knuth's method: exact, and fast for the small means used for orders and items.
        limit, count, product = math.exp(-self.mean), 0, rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
        return count
