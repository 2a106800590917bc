"""The one worker class: any core task in a QThread, relayed as Qt signals.

A *task* is a plain callable ``task(progress, cancel) -> result``: ``progress``
takes whatever the task reports (a tuple, a dict ...) and ``cancel()`` returns
True once the user asked to stop. The same callables run in scripts and tests
without Qt; here they only gain a thread and signals.

Progress is throttled in the worker thread (at most one ``progressed`` per
``interval_s``, the last report always delivered) so a task that reports every
millisecond cannot flood the GUI event loop.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QThread, Signal

__all__ = ["Worker", "describe_error", "stop_all", "running_workers"]

# Running workers are referenced here until their thread ends: Qt aborts the process when a
# QThread object is destroyed while it runs (a view closed mid-task, a shutdown that timed
# out), so neither Python's garbage collector nor a deleted Qt parent may free one early.
_RUNNING: set = set()


class Worker(QThread):
    """Run ``task(progress, cancel)`` in its own thread.

    Signals (all delivered in the GUI thread through queued connections)
    -------
    progressed(object)
        The latest progress payload, at most every ``interval_s`` seconds.
    succeeded(object)
        The task's return value.
    failed(str, object)
        A readable one-line message and the exception; the app shows the message.
    done()
        Emitted after ``succeeded`` or ``failed``, exactly once.
    """

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, object)
    done = Signal()

    def __init__(self, task: Callable[[Callable[[Any], None], Callable[[], bool]], Any], *,
                 name: str = "task", interval_s: float = 0.05, parent=None):
        super().__init__(parent)
        self._task = task
        self.name = name
        self.interval_s = float(interval_s)
        self._cancel = threading.Event()
        self._last_emit = 0.0
        self._pending: Any = None
        self._has_pending = False
        self._lock = threading.Lock()
        self.setObjectName(f"phasebrush-{name}")

    # -- called from the GUI thread -------------------------------------------
    def start(self, *args) -> None:
        _RUNNING.add(self)
        self.finished.connect(self._on_thread_finished)
        super().start(*args)

    def _on_thread_finished(self) -> None:
        _RUNNING.discard(self)

    def cancel(self) -> None:
        """Ask the task to stop; it returns at its next cancel check."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def stop(self, timeout_ms: int = 10_000) -> bool:
        """Cancel and wait for the thread to end (window close). True if it ended."""
        return stop_all([self], timeout_ms)

    # -- called in the worker thread ------------------------------------------
    def _progress(self, payload: Any) -> None:
        now = time.monotonic()
        if now - self._last_emit >= self.interval_s:
            self._last_emit = now
            self._has_pending = False
            self.progressed.emit(payload)
        else:
            # Kept so the final state is never lost to throttling.
            self._pending, self._has_pending = payload, True

    def _cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:  # noqa: D401 - QThread API
        try:
            result = self._task(self._progress, self._cancelled)
        except BaseException as exc:  # every failure becomes a signal, never a crash
            if _is_bug(exc) and not isinstance(exc, MemoryError):
                traceback.print_exception(exc, file=sys.stderr)  # the message is one line
            self._flush()
            self.failed.emit(describe_error(exc, self.name), exc)
        else:
            self._flush()
            self.succeeded.emit(result)
        self.done.emit()

    def _flush(self) -> None:
        if self._has_pending:
            self._has_pending = False
            self.progressed.emit(self._pending)


def running_workers() -> list[Worker]:
    """Every worker whose thread has started and not yet finished."""
    return [w for w in list(_RUNNING) if shiboken6.isValid(w) and w.isRunning()]


def stop_all(workers, timeout_ms: int = 1_000) -> bool:
    """Cancel every worker, then wait for them all within one shared ``timeout_ms``.

    Cancelling all first lets them stop in parallel, so closing a window with
    three tasks running costs the slowest one's cancel latency, not the sum.
    True if every thread ended in time.
    """
    workers = list(workers)
    for w in workers:
        w.cancel()
    deadline = time.monotonic() + timeout_ms / 1e3
    ok = True
    for w in workers:
        left_ms = max(0, int(1e3 * (deadline - time.monotonic())))
        if w.isRunning() and not w.wait(left_ms):
            ok = False
    return ok


@atexit.register
def _wait_at_exit() -> None:
    # A thread still in an uncancellable call (torch's import, one FFT) when the app
    # quits: Python's teardown would destroy its QThread and Qt would abort the process
    # ("QThread: Destroyed while thread is still running"). Waiting is the lesser evil.
    late = running_workers()
    for w in late:
        w.cancel()
    for w in late:
        if w.isRunning():
            print(f"phasebrush: waiting for the {w.name} to stop", file=sys.stderr)
            w.wait()


def _is_bug(exc: BaseException) -> bool:
    try:
        from phasebrush.core.errors import PhaseBrushError
    except ImportError:  # pragma: no cover
        return True
    return not isinstance(exc, PhaseBrushError)


def describe_error(exc: BaseException, name: str) -> str:
    """One readable line: the project's errors verbatim, anything else with its type."""
    if isinstance(exc, MemoryError) and _is_bug(exc):  # core's OutOfMemoryError says more
        return f"{name}: not enough memory (try a shorter signal or fewer voices)"
    if _is_bug(exc):
        return f"{name} failed: {type(exc).__name__}: {exc}"
    return f"{name} failed: {exc}"
