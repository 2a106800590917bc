"""Fixtures for the GUI tests: offscreen Qt, a window on a short chirp, mouse helpers."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QEvent, QPointF, QSettings, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from phasebrush.app.qt_fixes import guard_bool_refcount  # noqa: E402
from phasebrush.core.signal import Signal  # noqa: E402
from phasebrush.core.tf.transforms import TransformSpec  # noqa: E402

# Synthetic moves arrive within microseconds; pyqtgraph would drop all but one per 10 ms.
pg.setConfigOptions(imageAxisOrder="row-major", mouseRateLimit=-1)
guard_bool_refcount()  # PySide6 6.12.0 emit() reference leak (see app/qt_fixes.py)


def short_chirp(n: int = 1024, fs: float = 1024.0) -> Signal:
    """An exponential chirp 2 -> 400 Hz (+1) over n samples: small, fast to transform."""
    import scipy.signal

    t = np.arange(n) / fs
    y = scipy.signal.chirp(t, f0=2.0, t1=t[-1], f1=400.0, method="logarithmic") + 1.0
    return Signal(y, dx=1.0 / fs, unit="s", name="test chirp")


@pytest.fixture(scope="session", autouse=True)
def gc_in_gui_thread(qapp):
    """As in the app (app/main.py): cyclic garbage collection only in the GUI thread, so a
    worker never destroys a closed window's widgets (a deadlock, app/qt_fixes.py). The
    tests that follow without an event loop collect after each test (tests/conftest.py)."""
    from phasebrush.app.qt_fixes import collect_garbage_in_gui_thread

    collect_garbage_in_gui_thread()


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def deliver_posted_events() -> None:
    """Deliver every event already posted (queued signals of a thread that has ended,
    a redraw scheduled for the next pass): a deterministic "let the GUI catch up"."""
    QApplication.sendPostedEvents()
    QApplication.processEvents()


@pytest.fixture
def errors(monkeypatch):
    """The text of every QMessageBox.critical, recorded instead of a modal box."""
    from PySide6.QtWidgets import QMessageBox

    seen = []
    monkeypatch.setattr(QMessageBox, "critical",
                        staticmethod(lambda parent, title, text, *a, **k: seen.append(text)))
    return seen


def shown_window(qtbot, settings, **kw):
    """A MainWindow shown at 1280x800 without message boxes (errors go to ``last_error``)
    and without the "Save changes?" box when the test ends; ``kw`` go to MainWindow."""
    from phasebrush.app.main_window import MainWindow

    win = MainWindow(settings=settings, **kw)
    win.error_dialogs = False
    win.confirm_close = False
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def window(qtbot, settings):
    """A shown MainWindow on a short chirp (CWT, 16 voices), transform finished."""
    win = shown_window(qtbot, settings)
    win.tfr_view.scene().minDragTime = 0  # a drag starts on the first move, as in pyqtgraph's tests
    with qtbot.waitSignal(win.doc.tfr_changed, timeout=60_000):
        win.doc.set_signal(short_chirp(), TransformSpec(kind="cwt", nv=16))
    yield win
    win.close()  # closeEvent stops playback and every worker before the next test starts


def open_long_window(qtbot, settings, signal, spec, *, block_length: int | None = 6000):
    """A shown 1280x800 MainWindow whose document treats ``signal`` as a long recording
    (``long_above_bytes = 0``), its first image done. ``block_length``: the long inverse's
    blocks (small, so bands and strokes cross their boundaries). Close it when done."""
    win = shown_window(qtbot, settings)
    doc = win.doc
    doc.long_above_bytes = 0
    if block_length is not None:
        doc.long_inverse.block_length = block_length
    with qtbot.waitSignal(doc.busy_changed, timeout=120_000,
                          check_params_cb=lambda busy: not busy):
        doc.set_signal(signal, spec)
    assert doc.is_long
    return win


def send_mouse(widget, kind: str, pos, *, buttons=Qt.MouseButton.LeftButton,
               modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """Deliver one mouse event to ``widget`` with the pressed buttons set (QTest's
    mouseMove carries no buttons, so drags are sent as real QMouseEvents)."""
    types = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
             "release": QEvent.Type.MouseButtonRelease}
    p = QPointF(pos)
    button = Qt.MouseButton.NoButton if kind == "move" else Qt.MouseButton.LeftButton
    held = Qt.MouseButton.NoButton if kind == "release" else buttons
    ev = QMouseEvent(types[kind], p, widget.mapToGlobal(p), button, held, modifiers)
    QApplication.sendEvent(widget, ev)


def drag(widget, points, *, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """Press at points[0], move through the rest, release at the last one."""
    send_mouse(widget, "press", points[0], modifiers=modifiers)
    for p in points[1:]:
        send_mouse(widget, "move", p, modifiers=modifiers)
    send_mouse(widget, "release", points[-1], modifiers=modifiers)
