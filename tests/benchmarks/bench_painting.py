"""Live painting at N = 65536: what one mouse event of a drag costs, and how often
the selection's inverse follows it.

A fresh process opens a window on a 65536-sample synthetic signal (CWT, 32
voices: 426 x 65536 cells), then drives real mouse drags through the widgets:
brush strokes over the image and a band vertex dragged by its handle. Mouse
moves arrive at 60 per second, as from a real pointer; between them the event
loop runs (timers, repaints). Printed per move event: the handling time
(median, p90) split into the mask update, the overlay redraw and the inverse
(the selection's inverse computed and handed to the signal plot), plus the
repaint that follows; the inverse updates per second during the drag; and the
cost of the release (commit: one undo step, the whole-signal inverse).

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.benchmarks.bench_painting
"""

from __future__ import annotations

from tests.benchmarks.probe import run_probe

__all__ = ["main"]


_PROBE = r"""
import os, sys, tempfile, time
import numpy as np
import pyqtgraph as pg
from phasebrush.app.main import _application
app = _application()
pg.setConfigOptions(mouseRateLimit=-1)   # every synthetic move reaches the tools
from PySide6.QtCore import QEvent, QEventLoop, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
import phasebrush.app.document as document
import phasebrush.app.tfr_view as tfr_view
import phasebrush.core.tf.masks as cmasks
from phasebrush.app.main_window import MainWindow
from phasebrush.app.screenshot import wait_for
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec

# -- instrumentation: time spent in each part, per mouse event ------------------------
# Exclusive times: a part called inside another (the overlay redraw inside the
# stroke's model update) counts only for itself.
spent = {"mask": 0.0, "overlay": 0.0, "inverse": 0.0}
n_inverse = [0]
stack = []

def timed(part, fn):
    def wrapper(*a, **k):
        stack.append([part, time.perf_counter(), 0.0])
        try:
            return fn(*a, **k)
        finally:
            _, t0, inner = stack.pop()
            dt = time.perf_counter() - t0
            spent[part] += dt - inner
            if stack:
                stack[-1][2] += dt
    return wrapper

import phasebrush.app.layers as layers
cmasks.paint_stroke = timed("mask", cmasks.paint_stroke)           # before: the view paints
if hasattr(layers.LayerModel, "extend_stroke"):                    # after: the model does
    layers.LayerModel.extend_stroke = timed("mask", layers.LayerModel.extend_stroke)
if hasattr(layers.LayerModel, "drag_band_edges"):
    layers.LayerModel.drag_band_edges = timed("mask", layers.LayerModel.drag_band_edges)
tfr_view.TfrView._draw_overlay = timed("overlay", tfr_view.TfrView._draw_overlay)
for name in ("update_inversion", "_invert"):
    if hasattr(document.DocumentModel, name):
        setattr(document.DocumentModel, name,
                timed("inverse", getattr(document.DocumentModel, name)))

n, fs = 65536, 16000.0
t = np.arange(n) / fs
y = np.sin(2 * np.pi * (200 * t + 400 * t ** 2)) + 0.3 * np.sin(2 * np.pi * 1500 * t)
win = MainWindow(settings=QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"),
                                    QSettings.Format.IniFormat))
win.error_dialogs = False
win.confirm_close = False
win.resize(1280, 800)
win.show()
win.doc.set_signal(Signal(y, dx=1 / fs, name="bench"), TransformSpec(kind="cwt", nv=32))
wait_for(win.doc.tfr_changed, 600_000, lambda: win.doc.tfr is not None)
app.processEvents()
doc, view, L = win.doc, win.tfr_view, win.doc.layers
view.scene().minDragTime = 0
T = t[-1]
doc.inversion_changed.connect(lambda: n_inverse.__setitem__(0, n_inverse[0] + 1))

def send(kind, pos):
    types = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
             "release": QEvent.Type.MouseButtonRelease}
    vp = view.viewport()
    p = QPointF(pos)
    button = Qt.MouseButton.NoButton if kind == "move" else Qt.MouseButton.LeftButton
    held = Qt.MouseButton.NoButton if kind == "release" else Qt.MouseButton.LeftButton
    QApplication.sendEvent(vp, QMouseEvent(types[kind], p, vp.mapToGlobal(p), button, held,
                                           Qt.KeyboardModifier.NoModifier))

PERIOD = 1 / 60   # a pointer reports ~60 moves a second

def run_drag(points):
    # press, moves at 60 per second, release. Per move: the handler's time and parts,
    # and what it left for the event loop until the next move (coalesced inverse, repaint)
    rows = []
    n_inverse[0] = 0
    send("press", points[0])
    app.processEvents()
    t_start = time.perf_counter()
    for p in points[1:]:
        t0 = time.perf_counter()
        for k in spent:
            spent[k] = 0.0
        send("move", p)
        handled = time.perf_counter() - t0
        parts = dict(spent)
        for k in spent:
            spent[k] = 0.0
        loop = 0.0
        deadline = t0 + PERIOD
        while True:
            t1 = time.perf_counter()
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 1)
            loop += time.perf_counter() - t1
            if time.perf_counter() >= deadline:
                break
            time.sleep(0.0005)
        rows.append((handled, parts, loop, dict(spent)))
    t_drag = time.perf_counter() - t_start
    updates = n_inverse[0]
    for k in spent:
        spent[k] = 0.0
    t0 = time.perf_counter()
    send("release", points[-1])
    app.processEvents()
    release = (time.perf_counter() - t0, dict(spent))
    return rows, updates / t_drag, release

def pct(a, q):
    return 1e3 * float(np.percentile(a, q))

def report(label, runs):
    rows = [r for rs, _, _ in runs for r in rs]
    # an event's work: its handler plus the mask / overlay / inverse work it left for
    # the loop before the next move (the coalesced inverse runs there)
    work = np.array([h + sum(later.values()) for h, _, _, later in rows])
    inv = np.array([p["inverse"] + later["inverse"] for _, p, _, later in rows])
    print(f"RESULT {label}: {len(rows)} move events in {len(runs)} drags")
    print(f"RESULT   per event (mask + overlay + inverse, handler and loop): median "
          f"{pct(work, 50):.1f} ms, p90 {pct(work, 90):.1f} ms")
    if (inv > 0).any():
        print(f"RESULT   per event that carried an inverse update: median "
              f"{pct(work[inv > 0], 50):.1f} ms, p90 {pct(work[inv > 0], 90):.1f} ms")
    for part in ("mask", "overlay", "inverse"):
        a = np.array([p[part] + later[part] for _, p, _, later in rows])
        if part == "inverse" and (a > 0).any():
            extra = (f"; per update median {pct(a[a > 0], 50):.1f} ms, "
                     f"p90 {pct(a[a > 0], 90):.1f} ms")
        else:
            extra = ""
        print(f"RESULT     {part:8s} median {pct(a, 50):5.1f} ms, p90 {pct(a, 90):5.1f} ms{extra}")
    rep = np.array([lp - sum(later.values()) for _, _, lp, later in rows])
    print(f"RESULT     repaint  median {pct(rep, 50):5.1f} ms, p90 {pct(rep, 90):5.1f} ms "
          "(offscreen, in the loop after the event; not part of the target)")
    rates = [r for _, r, _ in runs]
    print(f"RESULT   inverse updates during the drag: {np.median(rates):.1f} per second "
          f"(moves at {1 / PERIOD:.0f}/s)")
    rel = [r for _, _, r in runs]
    print(f"RESULT   release (commit, whole-signal inverse, repaint): median "
          f"{1e3 * np.median([r[0] for r in rel]):.0f} ms (inverse "
          f"{1e3 * np.median([r[1]['inverse'] for r in rel]):.0f} ms)")

def check_final():
    from phasebrush.core.tf.inversion import invert_with_residual
    mask = L.selection_mask()
    band, _ = invert_with_residual(doc.tfr, mask)
    return float(np.abs(doc.inversion - band).max() / np.abs(y).max())

# -- brush drags: 40 moves each, across 1/3 of the image, at full view -----------------
view.set_tool("brush")
view.brush_size_px = 14.0
L.add_band([(0.05 * T, 3000.0), (0.95 * T, 3000.0)], [(0.05 * T, 2200.0), (0.95 * T, 2200.0)])
app.processEvents()
brush_runs = []
for k in range(4):
    f0, f1 = 300.0 * (1.4 ** k), 900.0 * (1.3 ** k)
    tt = np.linspace((0.1 + 0.2 * k) * T, (0.1 + 0.2 * k + 0.3) * T % T, 41)
    ff = np.geomspace(f0, f1, 41)
    pts = [view.data_to_widget(a, b) for a, b in zip(tt, ff)]
    brush_runs.append(run_drag(pts))
report("brush drag, full view (65536 columns visible)", brush_runs)
print(f"RESULT   final inverse vs core's invert_with_residual: {check_final():.1e} "
      "(max abs / signal peak)")

# zoomed to a quarter: the visible range is 16384 columns
vb = win.signal_view.plot.getViewBox()
vb.setXRange(0.4 * T, 0.65 * T, padding=0)
app.processEvents()
zoom_runs = []
for k in range(3):
    tt = np.linspace(0.42 * T, 0.63 * T, 41)
    ff = np.geomspace(400.0 * (1.5 ** k), 1200.0 * (1.4 ** k), 41)
    pts = [view.data_to_widget(a, b) for a, b in zip(tt, ff)]
    zoom_runs.append(run_drag(pts))
report("brush drag, zoomed to 1/4 (16384 columns visible)", zoom_runs)
vb.setXRange(0.0, T, padding=0)
app.processEvents()

# -- band vertex drags: the middle upper vertex up and down ---------------------------
view.set_tool("pan")
L.add_band([(0.1 * T, 1500.0), (0.5 * T, 1800.0), (0.9 * T, 1500.0)],
           [(0.1 * T, 700.0), (0.5 * T, 800.0), (0.9 * T, 700.0)])
app.processEvents()
handle_runs = []
for k in range(4):
    i = len(L) - 1
    roi = view._rois[i][0]
    h = roi.getHandles()[1]
    start = view.mapFromScene(h.scenePos())
    dy = -60 if k % 2 == 0 else 60
    pts = [start + type(start)(0, int(round(dy * j / 40))) for j in range(41)]
    handle_runs.append(run_drag(pts))
report("band vertex drag (handle), full view", handle_runs)
print(f"RESULT   final inverse vs core's invert_with_residual: {check_final():.1e} "
      "(max abs / signal peak)")
print(f"RESULT   undo steps: {L.undo_stack.count()} (expected 13: 2 bands, 7 strokes - the "
      "first also makes the mask layer - and 4 vertex drags)")
win.close()
"""


def main() -> None:
    lines = run_probe(_PROBE, what="painting", timeout=600)
    print("bench_painting: live painting at N=65536 (CWT nv=32, 426 x 65536), real mouse drags,"
          " offscreen (target: <= 16 ms median per event, >= 20 inverse updates/s)")
    for line in lines:
        print(f"  {line}")


if __name__ == "__main__":
    main()
