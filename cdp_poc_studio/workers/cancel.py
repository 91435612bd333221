"""Qt-free job plumbing: the cancel token and the progress report a job body receives."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


class Cancelled(Exception):  # noqa: N818 - a state, not an error
    """Raised inside a job body by `CancelToken.raise_if_cancelled` when the user cancelled it."""


class CancelToken:
    """Set from the UI thread, checked by the job body between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a job is: `done` of `total` units (total None when unknown), and what it is doing."""

    done: int = 0
    total: int | None = None
    message: str = ""


Report = Callable[[Progress], None]
