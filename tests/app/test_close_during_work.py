"""Closing the window during background work (issue 9): every worker is cancelled, the
window goes within 1 s, and no thread outlives it (Qt would abort the process)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from phasebrush.app.document import RetrievalParams
from phasebrush.app.worker import running_workers
from phasebrush.core.io.signals import save_signal
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform
from tests.app.conftest import deliver_posted_events

#: Long enough that its CWT (8 voices) takes seconds: really running when the window closes.
N_LONG = 2**17
EXIT_MS = 1_000


def long_noise(n: int = N_LONG) -> Signal:
    y = np.random.default_rng(1).standard_normal(n)
    return Signal(y, dx=1 / 8000.0, unit="s", name="long noise")


def warm_up() -> None:
    # ssqueezepy compiles its wavelet code on first use (seconds, in one call no cancel
    # check can split); what is measured here is the cancel, not that one-off cost.
    transform(long_noise(1024), TransformSpec(kind="cwt", nv=8))


@pytest.fixture
def bare_window(qtbot, settings):
    from phasebrush.app.main_window import MainWindow

    warm_up()

    win = MainWindow(settings=settings)
    win.error_dialogs = False
    win.confirm_close = False
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def close_and_wait(qtbot, win) -> None:
    """Close ``win``; every worker must be gone within EXIT_MS of the close."""
    assert running_workers()   # the test means nothing if the work already ended
    t0 = time.monotonic()
    win.close()
    left_ms = EXIT_MS - 1e3 * (time.monotonic() - t0)
    assert left_ms > 0, "close() itself waited too long"
    qtbot.waitUntil(lambda: not running_workers(), timeout=int(left_ms))


def test_close_during_a_transform(qtbot, bare_window):
    doc = bare_window.doc
    doc.set_signal(long_noise(), TransformSpec(kind="cwt", nv=8))
    qtbot.waitUntil(lambda: doc.busy and any(w.isRunning() for w in doc.workers()),
                    timeout=5_000)
    shown = []
    doc.tfr_changed.connect(lambda: shown.append(True))
    close_and_wait(qtbot, bare_window)
    deliver_posted_events()
    assert not shown   # the cancelled transform is never shown


def test_close_during_a_retrieval(qtbot, window):
    doc = window.doc
    with qtbot.waitSignal(doc.retrieval_progressed, timeout=60_000):
        doc.start_retrieval(RetrievalParams(method="gla", n_iter=100_000, init="zeros"))
    close_and_wait(qtbot, window)


def test_close_during_a_coherence(qtbot, window):
    view = window.coherence_view
    warm_up()
    sig = long_noise(2**16)
    view.compare(sig, sig.y[::-1].copy(), TransformSpec(kind="cwt", nv=8))
    qtbot.waitUntil(lambda: any(w.name == "coherence" for w in running_workers()),
                    timeout=5_000)
    close_and_wait(qtbot, window)
    assert view.result is None


DRIVER = '''
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import phasebrush.app.main as m
import numpy as np
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform

# ssqueezepy's one-off compile (seconds, uncancellable) is not what is measured.
transform(Signal(np.ones(1024), dx=1 / 8000.0), TransformSpec())

def close_when_busy():
    for w in QApplication.topLevelWidgets():
        if type(w).__name__ == "MainWindow" and w.doc.busy:
            from phasebrush.app.worker import running_workers
            if running_workers():
                # wall-clock time: the test compares it with the moment the process ended
                print(f"closing at {time.time():.6f}", flush=True)
                w.close()
                return
    QTimer.singleShot(20, close_when_busy)

make_app = m._application
def _application():
    app = make_app()
    QTimer.singleShot(0, close_when_busy)
    return app
m._application = _application
# argv=None, as the `phasebrush` command calls it: the process ends inside main()
sys.argv = ["phasebrush", sys.argv[1]]
sys.exit(m.main())
'''


def test_the_real_app_closed_during_a_transform_exits_cleanly(tmp_path):
    wav = tmp_path / "long.wav"
    save_signal(long_noise(2**18), wav)   # the default CWT of this takes many seconds
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    root = Path(__file__).resolve().parents[2]
    env = {"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(root), "PHASEBRUSH_AUDIO": "null",
           "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, str(driver), str(wav)], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=60)
        ended = time.time()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "QThread: Destroyed" not in err and "waiting for" not in err, err
    # From close() to the end of the process, as the user sees it.
    match = re.search(r"closing at ([0-9.]+)", out)
    assert match, out + err
    assert ended - float(match.group(1)) < EXIT_MS / 1e3
