"""One guard for every slot: an exception that escapes one becomes a message.

Qt calls slots from its event loop; an exception raised in one reaches
``sys.excepthook`` (PySide6 prints it and carries on), so the user saw
nothing and the action silently did nothing. :func:`install` chains a hook
that, for exceptions raised in the GUI thread, also hands a one-line
description to the main window's error display (a message box and the
status bar). The traceback still goes to stderr through the previous hook,
which under pytest-qt also fails the test: a bug stays a bug.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable

__all__ = ["install", "describe_unexpected"]

_report: weakref.WeakMethod | None = None
_previous = None


def describe_unexpected(exc: BaseException) -> str:
    """What the user reads about an exception no code expected."""
    from phasebrush.core.errors import PhaseBrushError

    if isinstance(exc, PhaseBrushError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return ("Not enough memory for that action (try a shorter signal, fewer voices or "
                "a larger hop). The work already done is kept.")
    return (f"Unexpected error: {type(exc).__name__}: {exc}\n\nThe action was not completed; "
            "the work already done is kept. The details are on the console (stderr).")


def install(report: Callable[[str], None]) -> None:
    """Route exceptions escaping slots to ``report(message)`` (a bound method).

    A later call (a new main window) replaces the target, and chains to
    whatever hook is current if someone replaced ours meanwhile. Only a weak
    reference is kept, so a closed window is not.
    """
    global _report, _previous
    _report = weakref.WeakMethod(report)
    if sys.excepthook is not _hook:
        _previous = sys.excepthook
        sys.excepthook = _hook


def _hook(exc_type, exc, tb) -> None:
    prev = _previous or sys.__excepthook__
    prev(exc_type, exc, tb)   # the traceback, on stderr
    if issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
        return
    if threading.current_thread() is not threading.main_thread():
        return   # workers turn their exceptions into signals; a box needs the GUI thread
    report = _report() if _report is not None else None
    if report is None:
        return
    try:
        report(describe_unexpected(exc))
    except Exception:  # noqa: BLE001 - a failing report must not loop back into this hook
        sys.__excepthook__(*sys.exc_info())
