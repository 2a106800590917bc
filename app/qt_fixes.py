"""Work-arounds for bugs in the installed Qt binding, applied once at start-up.

PySide6 6.12.0 on Python < 3.12: ``SignalInstance.emit()`` returns ``True``
without taking a reference, so every emit of a Python-declared signal drops
one reference to ``True``; delivering Qt signals to Python slots similarly
drops references to ``None`` (the slot's return value). After a few thousand
emits (a cursor read-out emits on every mouse move) the interpreter frees
``True`` or ``None`` and aborts with "Fatal Python error: bool_dealloc" /
"none_dealloc". Python 3.12+ makes these singletons immortal, so there the
bug is harmless; :func:`guard_bool_refcount` gives 3.11 the same protection
by lending ``True``, ``False`` and ``None`` a huge reference count, and does
nothing when a probe shows the binding behaves. The real fix is a PySide6
without the bug (pin ``PySide6-Essentials != 6.12.0``).
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["guard_bool_refcount"]

_LENT = 1 << 40
_applied = False


def guard_bool_refcount() -> bool:
    """Detect the emit() reference leak and neutralise it. True if applied (idempotent)."""
    global _applied
    if _applied or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _applied
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        pinged = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(16):
        probe.pinged.emit()
    leaked = before - sys.getrefcount(True)
    if leaked >= 16:
        for obj in (True, False, None):
            # ob_refcnt is the first field of every CPython object.
            ctypes.c_ssize_t.from_address(id(obj)).value += _LENT
        _applied = True
    return _applied
