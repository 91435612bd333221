"""How big and how long a run will be, before it starts: so that a mistyped guest count is caught, not run.

The figures are measured on the embedded sandbox (a retail-loyalty run with REST read-back and the audience
export, on a two-core laptop): about 26 kB of run folder per guest (most of it the request log) and about 25
guests a second end to end. A real tenant is slower; the estimate errs on the short side.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from cdp_poc_studio.roundtrip.scenario import Scenario

BYTES_PER_GUEST = 26_000
GUESTS_PER_SECOND = 25.0
# Above this a run asks first: it would take hours or most of the free disk.
CONFIRM_SECONDS = 2 * 3600
CONFIRM_DISK_SHARE = 0.5


@dataclass(frozen=True)
class RunEstimate:
    guests: int
    bytes: int
    seconds: float
    free_bytes: int

    @property
    def needs_confirmation(self) -> bool:
        return self.seconds > CONFIRM_SECONDS or self.bytes > CONFIRM_DISK_SHARE * self.free_bytes

    def describe(self) -> str:
        hours = self.seconds / 3600
        duration = f"{hours:,.0f} hours" if hours >= 2 else f"{self.seconds / 60:,.0f} minutes"
        fits = "more than the free disk" if self.bytes > self.free_bytes else "of the free disk"
        return (
            f"{self.guests:,} guests: about {_size(self.bytes)} in the run folder ({fits}: {_size(self.free_bytes)} "
            f"free) and about {duration} on the embedded sandbox"
        )


def estimate_run(scenario: Scenario, runs_root: Path) -> RunEstimate:
    guests = scenario.generator.guests
    existing = runs_root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    return RunEstimate(guests, guests * BYTES_PER_GUEST, guests / GUESTS_PER_SECOND, free)


def _size(count: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if count < 1000 or unit == "PB":
            return f"{count:,.0f} {unit}"
        count /= 1000
    return f"{count:,.0f} PB"
