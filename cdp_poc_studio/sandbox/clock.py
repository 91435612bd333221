"""The sandbox clock: real time plus an offset, or frozen; tests and demos move it instead of sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


def iso(dt: datetime) -> str:
    """Format a time the way CDP writes it: `2025-05-29T07:41:51.244Z` (UTC, milliseconds)."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 date-time with a zone (`Z` or an offset); seconds are optional, as in CDP examples.

    Raises:
        ValueError: not a date-time with a time zone.
    """
    if not isinstance(value, str) or "T" not in value:
        raise ValueError("not a valid date-time")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError("not a valid date-time")
    return dt.astimezone(UTC)


def midnight_utc(dt: datetime) -> datetime:
    dt = dt.astimezone(UTC)
    return dt.replace(hour=0, minute=0, second=0, microsecond=0)


class Clock:
    """A thread-safe clock. Running by default; `set`, `advance` and `freeze` move it for tests."""

    def __init__(self, now: datetime | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None
        if now is not None:
            self.set(now, frozen=frozen)
        elif frozen:
            self.freeze()

    def now(self) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return datetime.now(UTC) + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def set(self, now: datetime, *, frozen: bool | None = None) -> None:
        if now.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        now = now.astimezone(UTC)
        with self._lock:
            stay_frozen = self._frozen_at is not None if frozen is None else frozen
            if stay_frozen:
                self._frozen_at = now
            else:
                self._frozen_at = None
                self._offset = now - datetime.now(UTC)

    def advance(self, delta: timedelta | float) -> datetime:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += delta
                return self._frozen_at
            self._offset += delta
            return datetime.now(UTC) + self._offset

    def freeze(self) -> None:
        with self._lock:
            if self._frozen_at is None:
                self._frozen_at = datetime.now(UTC) + self._offset

    def unfreeze(self) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - datetime.now(UTC)
                self._frozen_at = None

    def reset(self) -> None:
        with self._lock:
            self._frozen_at = None
            self._offset = timedelta(0)
