"""Start-up to first image: a fresh process opens the app on the chirp demo.

Prints the wall time from interpreter start to (a) the window shown and
(b) the first time-frequency image set, each the median of a few fresh
processes (the first one also pays for cold caches, so it is printed apart).

Then the GUI's edit latency at N = 65536 (CWT, 32 voices: 426 x 65536 cells):
from an edit reaching the layer model (what a mouse release does) to the
index masks, the band inversion + residual and the repaint being done, for a
band drawn, a band vertex moved, a brush stroke, and their undo.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.benchmarks.bench_startup
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from tests.benchmarks.probe import run_probe

__all__ = ["main", "measure_once", "edit_latency"]

ROOT = Path(__file__).resolve().parents[2]

_PROBE = r"""
import time
t0 = time.perf_counter()
import json, os, sys
from phasebrush.app.main import _application
app = _application()
from phasebrush.app.main_window import MainWindow
from PySide6.QtCore import QSettings, QTimer
import tempfile
win = MainWindow(settings=QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"),
                                    QSettings.Format.IniFormat))
win.resize(1280, 800)
win.show()
app.processEvents()
t_shown = time.perf_counter() - t0
out = {"shown_s": t_shown, "torch_loaded": None}

def first_image():
    app.processEvents()   # the image is painted
    out["image_s"] = time.perf_counter() - t0
    out["torch_loaded"] = "torch" in sys.modules
    out["shape"] = list(win.doc.tfr.shape)
    win.close()
    app.quit()

win.doc.tfr_changed.connect(first_image)
win.open_demo("chirp")
QTimer.singleShot(120_000, app.quit)
app.exec()
print("RESULT " + json.dumps(out))
"""


def measure_once() -> dict:
    """One fresh process: seconds to window shown and to first image."""
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Counted from before the interpreter starts: python + imports + window + transform.
    import time

    t_launch = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t_launch
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"start-up probe failed:\n{proc.stderr[-2000:]}")
    res = json.loads(line[0][len("RESULT "):])
    res["process_wall_s"] = wall
    return res


_EDITS = r"""
import time
import numpy as np
from phasebrush.app.main import _application
app = _application()
from phasebrush.app.main_window import MainWindow
from phasebrush.app.screenshot import wait_for
from phasebrush.core.tf import masks as cmasks
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec
from PySide6.QtCore import QSettings
import os, tempfile
n, fs = 65536, 16000.0
t = np.arange(n) / fs
y = np.sin(2 * np.pi * (200 * t + 400 * t ** 2)) + 0.3 * np.sin(2 * np.pi * 1500 * t)
win = MainWindow(settings=QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"),
                                    QSettings.Format.IniFormat))
win.error_dialogs = False
win.resize(1280, 800)
win.show()
t0 = time.perf_counter()
win.doc.set_signal(Signal(y, dx=1 / fs, name="bench"), TransformSpec(kind="cwt", nv=32))
wait_for(win.doc.tfr_changed, 600_000, lambda: win.doc.tfr is not None)
print(f"RESULT transform {time.perf_counter() - t0:.2f} s, shape {win.doc.tfr.shape}")
app.processEvents()
L, T = win.doc.layers, t[-1]
stroke_rows = np.linspace(150, 170, 40)
stroke_cols = np.linspace(20000, 24000, 40)

shift = [0]

def stroke(erase=False):
    # each stroke somewhere new: 40 points over 4000 columns, brush 7 rows x 81 columns;
    # an erasure goes over the last stroke, a little lower
    shift[0] += 0 if erase else 5000
    i = L.paint_target()
    live = L[i].mask.copy()
    cmasks.paint_stroke(live, np.column_stack([stroke_rows - 3 * erase, stroke_cols + shift[0]]),
                        3.0, 40.0, not erase)
    L.commit_mask(i, live, "Erase stroke" if erase else "Brush stroke")

def rectangle():
    # what the rectangle tool commits: a region the size of the image, added to the mask
    region = np.zeros(L.shape, bool)
    cmasks.fill_rectangle(region, 60, 160, 10000, 40000)
    L.edit_mask("add", region, text="Rectangle")

edits = [
    ("band drawn", lambda: L.add_band([(0.2 * T, 900), (0.8 * T, 1500)],
                                      [(0.2 * T, 400), (0.8 * T, 700)])),
    ("band vertex moved", lambda: L.set_band_edges(0, [(0.2 * T, 1000), (0.5 * T, 1300),
                                                       (0.8 * T, 1600)],
                                                   [(0.2 * T, 400), (0.8 * T, 700)])),
    ("undo", L.undo_stack.undo),
    ("redo", L.undo_stack.redo),
    ("new mask layer", lambda: L.add_paint_layer()),
    ("brush stroke (40 points), first mixed with the band", stroke),
    ("undo stroke", L.undo_stack.undo),
    ("redo stroke", L.undo_stack.redo),
    ("second brush stroke", stroke),
    ("band hidden", lambda: L.set_visible(0, False)),
    ("brush stroke on the mask alone", stroke),
    ("another brush stroke", stroke),
    ("erase stroke", lambda: stroke(erase=True)),
    ("band shown again", lambda: L.set_visible(0, True)),
    ("undo band shown", L.undo_stack.undo),
    ("rectangle, 3M cells (add)", rectangle),
    ("undo rectangle", L.undo_stack.undo),
    ("invert selection (28M-cell mask)", L.invert_selection),
    ("erase stroke on the inverted selection", lambda: stroke(erase=True)),
    ("undo erase", L.undo_stack.undo),
    ("undo invert selection", L.undo_stack.undo),
]
for label, edit in edits:
    t0 = time.perf_counter()
    edit()
    app.processEvents()   # repaint of image overlay and signal curves
    dt = time.perf_counter() - t0
    print(f"RESULT {label}: {1e3 * dt:.0f} ms (inversion {win.doc.inversion_ms:.0f} ms)")
win.close()
"""


def edit_latency() -> list[str]:
    """Lines 'edit: ms' from a fresh process (N = 65536)."""
    return run_probe(_EDITS, what="edit-latency", timeout=900)


def main(repeats: int = 3) -> None:
    runs = [measure_once() for _ in range(repeats)]
    first, rest = runs[0], runs[1:] or runs
    med = lambda k: statistics.median(r[k] for r in rest)  # noqa: E731
    print("bench_startup: chirp demo (N=2048, CWT gmw nv=32), fresh process, offscreen")
    print(f"  first run : window shown {first['shown_s']:.2f} s, first image "
          f"{first['image_s']:.2f} s (in-process), process wall {first['process_wall_s']:.2f} s")
    print(f"  median of {len(rest)}: window shown {med('shown_s'):.2f} s, first image "
          f"{med('image_s'):.2f} s (in-process), process wall {med('process_wall_s'):.2f} s")
    print(f"  image {first['shape'][0]} x {first['shape'][1]}; torch loaded at first image: "
          f"{first['torch_loaded']} (ssqueezepy imports it, in the transform worker thread)")
    print("bench_startup: edit -> masks + inversion + repaint at N=65536 (target < 100 ms)")
    for line in edit_latency():
        print(f"  {line}")


if __name__ == "__main__":
    main()
