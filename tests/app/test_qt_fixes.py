"""app/qt_fixes.py: the work-arounds the app applies at start-up."""

from __future__ import annotations

import gc
import threading

from phasebrush.app.qt_fixes import collect_garbage_in_gui_thread
from phasebrush.app.worker import Worker


class _Cycle:
    """Garbage in a reference cycle that records the thread which collected it."""

    collected_in: list = []

    def __init__(self):
        self.me = self

    def __del__(self):
        _Cycle.collected_in.append(threading.current_thread().name)


def test_cyclic_garbage_is_collected_in_the_gui_thread_not_in_a_worker(qtbot):
    collect_garbage_in_gui_thread()            # what app/main.py does (idempotent)
    assert not gc.isenabled()
    _Cycle.collected_in.clear()
    _Cycle()                                   # unreachable now, only the collector frees it

    def churn(progress, cancel):
        # far past generation 0's threshold: with automatic collection this thread
        # would collect the cycle above
        junk = [[i] for i in range(200_000)]
        return len(junk)

    w = Worker(churn, name="churn")
    with qtbot.waitSignal(w.done, timeout=30_000):
        w.start()
    w.wait()
    assert _Cycle.collected_in == []
    # the worker's junk is gone; the collector's timer acts once allocations (kept alive
    # here) pass the threshold again, as they do all the time in a running app
    kept = [[i] for i in range(5 * gc.get_threshold()[0])]
    qtbot.waitUntil(lambda: bool(_Cycle.collected_in), timeout=10_000)   # the GUI thread's timer
    assert _Cycle.collected_in == [threading.main_thread().name]
    del kept
