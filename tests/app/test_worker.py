"""The one worker class: results, throttled progress, errors, cancel, no GUI freeze."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QTimer

from phasebrush.app.worker import Worker
from phasebrush.core.errors import Cancelled, ParameterError


def _wait_done(qtbot, w, timeout=10_000):
    with qtbot.waitSignal(w.finished, timeout=timeout):
        w.start()


def test_result_is_delivered_in_gui_thread(qtbot):
    got = []
    w = Worker(lambda progress, cancel: threading.current_thread().name)
    w.succeeded.connect(lambda r: got.append((r, threading.current_thread().name)))
    _wait_done(qtbot, w)
    assert got and got[0][0] != got[0][1] == threading.main_thread().name


def test_progress_is_throttled_and_last_report_kept(qtbot):
    seen = []

    def task(progress, cancel):
        for i in range(20_000):
            progress(i)
        return "ok"

    w = Worker(task, interval_s=0.05)
    w.progressed.connect(seen.append)
    _wait_done(qtbot, w)
    qtbot.waitUntil(lambda: len(seen) > 0 and seen[-1] == 19_999)
    assert len(seen) < 200          # 20 000 reports -> a handful of signals
    assert seen == sorted(seen)


def test_error_becomes_a_signal_with_the_message(qtbot):
    def task(progress, cancel):
        raise ParameterError("n_iter=-3 must be >= 1")

    w = Worker(task, name="retrieval")
    with qtbot.waitSignal(w.failed) as blocker:
        w.start()
    msg, exc = blocker.args
    assert "n_iter=-3" in msg and isinstance(exc, ParameterError)
    w.wait()


def test_unexpected_exception_names_its_type(qtbot):
    w = Worker(lambda progress, cancel: {}["missing"], name="transform")
    with qtbot.waitSignal(w.failed) as blocker:
        w.start()
    assert "KeyError" in blocker.args[0]
    w.wait()


def test_cancel_stops_a_long_task_while_event_loop_runs(qtbot):
    ticks = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    started = threading.Event()

    def task(progress, cancel):
        started.set()
        i = 0
        while not cancel():
            i += 1
            progress(i)
        raise Cancelled("stopped")

    w = Worker(task)
    failures = []
    w.failed.connect(lambda m, e: failures.append(e))
    w.start()
    qtbot.waitUntil(started.is_set)
    qtbot.waitUntil(lambda: len(ticks) > 3)     # the GUI thread keeps running
    w.cancel()
    qtbot.waitUntil(w.isFinished, timeout=5000)
    timer.stop()
    qtbot.waitUntil(lambda: len(failures) > 0)
    assert isinstance(failures[0], Cancelled)


@pytest.mark.parametrize("running", [True, False])
def test_stop_waits_for_the_thread(qtbot, running):
    gate = threading.Event()

    def task(progress, cancel):
        gate.set()
        while running and not cancel():
            pass
        return 1

    w = Worker(task)
    w.start()
    qtbot.waitUntil(gate.is_set)
    assert w.stop(5000)
    assert w.isFinished()


def test_running_worker_outlives_its_last_python_reference(qtbot):
    """Qt aborts if a running QThread is destroyed: a worker nobody holds must live on."""
    import gc
    import threading
    import weakref

    from phasebrush.app import worker as worker_module

    gate = threading.Event()
    w = worker_module.Worker(lambda progress, cancel: gate.wait(10), name="orphan")
    w.start()
    ref = weakref.ref(w)
    del w
    gc.collect()
    assert ref() is not None and ref().isRunning()
    gate.set()
    qtbot.waitUntil(lambda: ref() is None or ref() not in worker_module._RUNNING, timeout=10_000)
