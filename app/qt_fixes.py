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

Python's cyclic garbage collector runs in whichever thread allocates when a
threshold is crossed. When that is a worker thread (a retrieval importing
torch) and the garbage holds a Qt object (a closed window's widgets in a
reference cycle), the worker destroys it: ``QObject::~QObject`` takes Qt's
connection mutex and then waits for the GIL, while the GUI thread, holding the
GIL, destroys a neighbouring object and waits for that mutex - a deadlock seen
in the test suite (a window's retrieval test hung until CI's time limit).
:func:`collect_garbage_in_gui_thread` turns automatic collection off and
collects on a timer in the GUI thread instead (pyqtgraph's GarbageCollector).
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["guard_bool_refcount", "collect_garbage_in_gui_thread", "collect_due_garbage"]

_LENT = 1 << 40
_applied = False
_collector = None


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


def collect_garbage_in_gui_thread(interval_s: float = 1.0) -> None:
    """Cyclic garbage collection only in the GUI thread, every ``interval_s`` (idempotent;
    needs a QCoreApplication; the thresholds stay Python's)."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=interval_s)


def collect_due_garbage() -> None:
    """What the collector's timer does, now, in the calling (GUI) thread: collect the
    generations past their thresholds. A no-op unless collection was moved here."""
    if _collector is not None:
        _collector.check()
