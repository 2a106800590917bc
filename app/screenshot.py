"""Render the main window to a PNG, one of a few reproducible scenes.

Scenes (``phasebrush --screenshot PATH --scene NAME``):

* ``main``: the chirp demo, a band around the chirp, a short phase retrieval.
* ``spectrum``: the ethanol IR spectrum on its reversed wavenumber axis, the
  rows read as feature width, a band around the C-H stretch (2900-3000
  cm^-1) and its inversion in the signal plot.
* ``heatmap``: the chirp with a mask imported from a saliency heatmap (a
  coarse Grad-CAM-like map, thresholded), its inversion and the attribution
  curve.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEventLoop, QSettings, QTimer

__all__ = ["render_screenshot", "render_file_screenshot", "wait_for", "chirp_band", "SCENES",
           "saliency_map"]

SCENES = ("main", "spectrum", "heatmap")


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


def saliency_map(tfr, *, centre: float = 0.6, shape=(14, 14)) -> np.ndarray:
    """A coarse Grad-CAM-like heatmap over the chirp, as a CNN would give it.

    A Gaussian blob on the chirp's ridge at ``centre`` of the signal's span,
    block-averaged to ``shape`` cells (row 0 = top = highest frequency, the
    way image files store it), values in [0, 1].
    """
    from phasebrush.core.tf.masks import inner_rows

    a, b = inner_rows(tfr)
    f = np.asarray(tfr.frequencies[a:b], float)
    t = np.asarray(tfr.times, float)
    T = float(t[-1] - t[0]) or 1.0
    u = (t - t[0]) / T
    ridge = np.log2(1024.0 ** u)                     # the demo chirp: 1 -> 1024 Hz
    dlog = np.log2(np.maximum(f, 1e-12))[:, None] - ridge[None, :]
    du = (u - centre)[None, :]
    heat = np.exp(-0.5 * (dlog / 0.9) ** 2 - 0.5 * (du / 0.12) ** 2)
    heat = heat[::-1]                                 # image way up
    rows = np.array_split(np.arange(heat.shape[0]), shape[0])
    cols = np.array_split(np.arange(heat.shape[1]), shape[1])
    coarse = np.array([[heat[np.ix_(r, c)].mean() for c in cols] for r in rows])
    return coarse / coarse.max()


def _settle(win, doc) -> None:
    # Let queued paint events settle before grabbing.
    for _ in range(5):
        wait_for(doc.tfr_changed, 50)


def render_screenshot(path, *, size=(1280, 800), n_iter: int = 40,
                      timeout_ms: int = 180_000, scene: str = "main") -> Path:
    """Build the window for ``scene`` (see :data:`SCENES`), save a PNG of it at ``size``."""
    if scene not in SCENES:
        raise ValueError(f"scene {scene!r} is not one of {SCENES}")
    from phasebrush.app.audio import NullAudioSink
    from phasebrush.app.main_window import MainWindow

    tmp = tempfile.mkdtemp(prefix="phasebrush-shot-")
    win = MainWindow(settings=QSettings(str(Path(tmp) / "settings.ini"),
                                        QSettings.Format.IniFormat),
                     audio_sink=NullAudioSink())   # the Listen bar as it looks with sound
    win.error_dialogs = False
    win.confirm_close = False
    win.resize(*size)
    win.show()
    doc = win.doc
    win.open_demo("ir" if scene == "spectrum" else "chirp")
    if not wait_for(doc.tfr_changed, timeout_ms, lambda: doc.tfr is not None):
        raise RuntimeError("the transform did not finish in time")
    if scene == "main":
        _main_scene(win, n_iter, timeout_ms)
    elif scene == "spectrum":
        _spectrum_scene(win)
    else:
        _heatmap_scene(win, tmp)
    return _save(win, doc, path)


def render_file_screenshot(file, path, *, size=(1280, 800), timeout_ms: int = 600_000) -> Path:
    """Open ``file`` in the window and save a PNG once its first complete image is drawn.

    A long recording's first complete image is its whole overview (computed
    tile by tile). Raises RuntimeError when the file cannot be opened or the
    image does not come within ``timeout_ms``.
    """
    from phasebrush.app.audio import NullAudioSink
    from phasebrush.app.main_window import MainWindow

    tmp = tempfile.mkdtemp(prefix="phasebrush-shot-")
    win = MainWindow(settings=QSettings(str(Path(tmp) / "settings.ini"),
                                        QSettings.Format.IniFormat),
                     audio_sink=NullAudioSink())
    win.error_dialogs = False
    win.confirm_close = False
    win.resize(*size)
    win.show()
    doc = win.doc
    errors: list[str] = []
    doc.failed.connect(errors.append)
    if not win.open_path(str(file)):
        win.close()
        raise RuntimeError(f"{file}: could not be opened" + (f": {errors[-1]}" if errors else ""))

    def complete():
        return bool(errors) or (doc.tfr is not None and not doc.busy)

    if not wait_for(doc.busy_changed, timeout_ms, complete) or errors:
        win.close()
        raise RuntimeError(f"{file}: " + (errors[-1] if errors else
                                         "the image did not finish in time"))
    return _save(win, doc, path)


def _save(win, doc, path) -> Path:
    _settle(win, doc)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    win.grab().save(str(out))
    win.close()
    return out


def _main_scene(win, n_iter: int, timeout_ms: int) -> None:
    doc = win.doc
    upper, lower = chirp_band(doc.signal)
    doc.layers.add_band(upper, lower, name="chirp band")
    win.tfr_view.set_tool("band")
    panel = win.retrieval_panel
    panel.n_iter.setValue(n_iter)
    panel.run_button.click()
    if doc.retrieval_running:
        wait_for(doc.retrieval_ended, timeout_ms, lambda: not doc.retrieval_running)


def _spectrum_scene(win) -> None:
    from phasebrush.core.tf.feature_width import width_axis

    doc = win.doc
    # The C-H stretch of ethanol, ~2900-3000 cm^-1: peaks 5-200 cm^-1 wide (FWHM, the
    # image's calibrated width axis), over a span wide enough that the band's ends fall
    # on flat baseline (no neighbours between 2500 and 3600 cm^-1).
    to_f = width_axis(doc.tfr).to_frequency
    hi, lo = float(to_f(5.0)), float(to_f(200.0))
    doc.layers.add_band([(2450.0, hi), (3450.0, hi)], [(2450.0, lo), (3450.0, lo)],
                        name="C-H stretch")
    win.signal_view.set_visible("residual", False)
    win.player.set_sonify_rate(8000.0)
    bar = win.playback_bar
    bar.a_combo.setCurrentIndex(bar.a_combo.findData("band"))
    win.player.seek_x(2950.0)
    win.statusBar().showMessage("Band 'C-H stretch': 2450-3450 cm^-1, peaks 5-200 cm^-1 wide "
                                "(FWHM); its inverse is drawn in orange under the spectrum")


def _heatmap_scene(win, tmp: str) -> None:
    from PySide6.QtWidgets import QDialog

    doc = win.doc
    heat = saliency_map(doc.tfr)
    npy = Path(tmp) / "gradcam.npy"
    np.save(npy, heat)

    def run(dlg):
        dlg.load(npy)
        dlg.set_threshold(0.5)
        dlg.update_preview()
        return QDialog.DialogCode.Accepted

    win.exec_dialog = run
    win.import_heatmap_mask()
    win.signal_view.set_visible("residual", False)
