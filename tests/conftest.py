"""Settings shared by the whole suite."""

import os
import sys

import pytest
from hypothesis import settings

# In CI the property tests draw the same examples on every run (derandomize), so a
# submission is judged on its own change; locally they keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def no_transform(monkeypatch):
    """Every call of core.tf.transforms.transform (args), recorded; the calls still run."""
    import phasebrush.core.tf.transforms as T

    calls = []
    real = T.transform

    def spy(*a, **k):
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(T, "transform", spy)
    return calls


# -- a hung test ends the run with a report, not at CI's time limit -----------------
# A deadlocked test would otherwise hold the run until CI kills it, and CI keeps only the
# tail of the output. The watchdog prints every thread's stack, then a short summary (the
# test, and each thread's innermost frames) as the very last lines, and exits.
_HANG_S = float(os.environ.get("PHASEBRUSH_TEST_HANG_S", "300"))
_running: dict = {}
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
    import threading

    if _HANG_S <= 0:
        return
    # a copy of the real stderr, as pytest's faulthandler plugin takes one: under fd
    # capture, fd 2 is a temporary file while a test runs
    fd = os.dup(sys.stderr.fileno() if sys.stderr.fileno() >= 0 else 2)
    threading.Thread(target=_watch, args=(fd,), name="test-watchdog", daemon=True).start()


def _watch(fd: int) -> None:
    import threading
    import time

    tick = threading.Event()
    while not tick.wait(5.0):
        item = _running.get("item")
        if item is None or time.monotonic() - _running["t0"] < _HANG_S:
            continue
        import faulthandler
        import traceback

        faulthandler.dump_traceback(fd, all_threads=True)
        names = {t.ident: t.name for t in threading.enumerate()}
        lines = [f"\n==== HANG: {item} ran for more than {_HANG_S:.0f} s; threads, "
                 "innermost frames first ===="]
        for ident, frame in sys._current_frames().items():
            if ident == threading.get_ident():
                continue
            stack = traceback.extract_stack(frame)[::-1]
            # the innermost two frames, then the innermost three of the project's own
            ours = [f for f in stack[2:] if f.filename.startswith(_ROOT)
                    and ".venv" not in f.filename][:3]
            lines.append(f"-- {names.get(ident, ident)}")
            lines += [f"     {os.path.relpath(f.filename)}:{f.lineno} {f.name}"
                      for f in stack[:2] + ours]
        lines.append(f"==== HANG: {item} (exit 70) ====\n")
        os.write(fd, "\n".join(lines).encode("utf-8", "replace"))
        os._exit(70)


def pytest_runtest_logfinish(nodeid, location):
    # Once the GUI tests moved cyclic garbage collection to the GUI thread (app/qt_fixes.py),
    # the main thread collects what is due after every test, event loop or not.
    fixes = sys.modules.get("phasebrush.app.qt_fixes")
    if fixes is not None:
        fixes.collect_due_garbage()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    import time

    _running.update(item=item.nodeid, t0=time.monotonic())
    try:
        yield
    finally:
        _running["item"] = None
