"""Warnings for requests the sandbox accepts on an inferred rule: recorded in the request journal (the studio's
request console shows them) because a real tenant may answer such a request differently.

The journal middleware opens a list per request (`collecting`); code anywhere below it calls `warn`. A context
variable carries the list, so it reaches the route functions that FastAPI runs in its thread pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_WARNINGS: ContextVar[list[str] | None] = ContextVar("sandbox_warnings", default=None)
REAL_TENANT_MAY_DIFFER = "a real tenant may answer this differently"


def warn(message: str) -> None:
    """Record that the current request was accepted on an inferred rule (no-op outside a request)."""
    found = _WARNINGS.get()
    if found is not None and message not in found and len(found) < 20:
        found.append(f"{message} ({REAL_TENANT_MAY_DIFFER})")


@contextmanager
def collecting() -> Iterator[list[str]]:
    found: list[str] = []
    token = _WARNINGS.set(found)
    try:
        yield found
    finally:
        _WARNINGS.reset(token)
