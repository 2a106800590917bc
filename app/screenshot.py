"""Render the main window to a PNG: the chirp demo, a band around the chirp, a short retrieval."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEventLoop, QSettings, QTimer

__all__ = ["render_screenshot", "wait_for", "chirp_band"]


def wait_for(signal, timeout_ms: int, condition=None) -> bool:
    """Run the event loop until ``signal`` fires (and ``condition()`` holds) or time is up."""
    if condition is not None and condition():
        return True
    loop = QEventLoop()
    ok = {"v": False}

    def fired(*_):
        if condition is None or condition():
            ok["v"] = True
            loop.quit()

    signal.connect(fired)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(fired)
    return ok["v"] or (condition is not None and condition())


def chirp_band(signal, *, ratio: float = 1.6, n_vertices: int = 6):
    """Upper and lower band edges around the demo's exponential chirp 1 -> 1024 Hz.

    Returns two lists of (time, frequency) vertices covering 15 %..85 % of the signal.
    """
    T = signal.x[-1]
    t = np.linspace(0.15 * T, 0.85 * T, n_vertices)
    f = 1024.0 ** (t / T)
    return (np.column_stack([t, f * ratio]).tolist(), np.column_stack([t, f / ratio]).tolist())


def render_screenshot(path, *, size=(1280, 800), n_iter: int = 40,
                      timeout_ms: int = 180_000) -> Path:
    """Build the window on the chirp demo, draw a band, run a retrieval, save a PNG."""
    from app.main_window import MainWindow

    tmp = tempfile.mkdtemp(prefix="phasebrush-shot-")
    win = MainWindow(settings=QSettings(str(Path(tmp) / "settings.ini"),
                                        QSettings.Format.IniFormat))
    win.error_dialogs = False
    win.resize(*size)
    win.show()
    doc = win.doc
    win.open_demo("chirp")
    if not wait_for(doc.tfr_changed, timeout_ms, lambda: doc.tfr is not None):
        raise RuntimeError("the transform did not finish in time")
    upper, lower = chirp_band(doc.signal)
    doc.layers.add_band(upper, lower, name="chirp band")
    win.tfr_view.set_tool("band")
    panel = win.retrieval_panel
    panel.n_iter.setValue(n_iter)
    panel.run_button.click()
    if doc.retrieval_running:
        wait_for(doc.retrieval_ended, timeout_ms, lambda: not doc.retrieval_running)
    # Let queued paint events settle before grabbing.
    for _ in range(5):
        wait_for(doc.tfr_changed, 50)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    win.grab().save(str(out))
    win.close()
    return out
