"""A guard against a PySide6 6.12.0 bug on Python 3.11: every `SignalInstance.emit()` made from Python takes one
reference from `True` (emit returns `True` without adding the reference it gives away).

Bools are immortal from Python 3.12, so the bug is harmless there; on 3.11 the count of `True` falls by one per
emit and the interpreter aborts ("bool_dealloc: deallocating True or False") once it reaches zero, which a long
run in the studio reaches (every progress report crosses threads as an emit). The guard measures the bug with a
probe signal and, only when it is there, gives `True` a reference count it can never lose, as Python 3.12 does.
Remove it when the project moves to Python 3.12 or to a PySide6 release with the fix.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

# Far more emits than a process makes in its life; as with 3.12's immortal objects, the count is never reached.
_RESERVE = 1 << 40
_applied = False


class _Probe(QObject):
    fired = Signal()


def emit_steals_true() -> bool:
    """Whether this PySide6 takes a reference from `True` on each emit (measured, not guessed from versions)."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.fired.emit()
    return sys.getrefcount(True) < before


def guard() -> bool:
    """Apply the guard once if the bug is present; returns whether it is applied."""
    global _applied
    if _applied or sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return _applied
    if emit_steals_true():
        # Give back what the probe took, and the reserve: ob_refcnt is the object's first field in CPython.
        ctypes.c_ssize_t.from_address(id(True)).value += _RESERVE
        _applied = True
    return _applied
