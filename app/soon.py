"""A call at the end of the event being handled, before the repaint it caused.

A zero-millisecond ``QTimer`` runs after the posted events, and the repaint an
edit asks for is one of them: a live update started that way reached the
screen one frame late, in a second repaint. :class:`Soon` posts a
high-priority event instead, which Qt delivers before normal-priority ones
(``QCoreApplication.postEvent``), so the edits of one mouse move are
coalesced into one call that the move's own repaint shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer

__all__ = ["Soon", "Throttle"]

_TYPE = QEvent.Type(QEvent.registerEventType())
_HIGH = Qt.EventPriority.HighEventPriority.value


class Soon(QObject):
    """``request()`` any number of times in one event; ``fn()`` runs once after it."""

    def __init__(self, fn: Callable[[], None], parent: QObject | None = None):
        super().__init__(parent)
        self._fn = fn
        self._posted = False
        self._wanted = False

    @property
    def pending(self) -> bool:
        return self._wanted

    def request(self) -> None:
        self._wanted = True
        if not self._posted:
            self._posted = True
            QCoreApplication.postEvent(self, QEvent(_TYPE), _HIGH)

    def cancel(self) -> None:
        """The call is no longer wanted (an event already posted does nothing)."""
        self._wanted = False

    def event(self, e: QEvent) -> bool:
        if e.type() == _TYPE:
            self._posted = False
            if self._wanted:
                self._wanted = False
                self._fn()
            return True
        return super().event(e)


class Throttle(QObject):
    """``fn()`` at most once per ``interval_s`` while ``request()`` keeps coming: at
    once (via :class:`Soon`, before the repaint) when the interval has passed since
    the last call, else when it will have (a timer). The live inverse of a drag."""

    def __init__(self, fn: Callable[[], None], interval_s: float,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._fn = fn
        self.interval_s = float(interval_s)
        self._last = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._fire)
        self._soon = Soon(self._fire, self)

    def request(self) -> None:
        wait = self.interval_s - (time.perf_counter() - self._last)
        if wait <= 0:
            self._timer.stop()
            self._soon.request()
        elif not self._timer.isActive() and not self._soon.pending:
            self._timer.start(int(1e3 * wait))

    def cancel(self) -> None:
        self._timer.stop()
        self._soon.cancel()

    def _fire(self) -> None:
        self._last = time.perf_counter()
        self._fn()
