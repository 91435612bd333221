"""Fast sampling with the seeded random generator: a few times quicker than `random`'s own helpers."""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate
from typing import Any


def pick(rng: random.Random, pool: list[Any]) -> Any:
    # random() scaled beats choice() and randrange(); its bias is nil for pools of this size.
    return pool[int(rng.random() * len(pool))]


def between(rng: random.Random, low: int, high: int) -> int:
    """Like randint(low, high)."""
    return low + int(rng.random() * (high - low + 1))


class Weighted:
    """A fixed choice with weights, sampled by bisecting precomputed cumulative weights."""

    def __init__(self, values: list[Any], weights: list[float]) -> None:
        self.values = values
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    @classmethod
    def of(cls, weights: dict[str, int]) -> Weighted:
        return cls(list(weights), list(weights.values()))

    def pick(self, rng: random.Random) -> Any:
        return self.values[bisect(self.cumulative, rng.random() * self.total)]
