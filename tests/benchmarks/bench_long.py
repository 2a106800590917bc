"""Long recordings in the app: a 10-minute and a 1-hour 44.1 kHz recording.

Synthesised here (speech-like harmonics with a syllable envelope, tones, noise)
into a temporary folder, then, each in a fresh offscreen process:

1. ``phasebrush FILE --screenshot P.png`` on the 10-minute file: wall time and
   peak RSS of the whole command (targets: 60 s, 2 GB).
2. The 10-minute file in the window: a zoom to a 10-s range (time until its
   middle tile is shown and until the full-resolution detail with its margins
   arrives, target 1 s), a brush stroke of 60 moves at
   60 per second over that view (handling time per move, median and max,
   target 33 ms; live inverse updates per second, target 20), a band over the
   whole recording (time until its inverse is complete), a band handle drag
   (updates per second).
3. The 1-hour file opened in the window: time to the first overview part and
   to the complete overview, peak RSS against the target 1.5 GB + 16 bytes per
   sample.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.benchmarks.bench_long [--ten-minutes]
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.benchmarks.probe import ROOT, run_probe

__all__ = ["main", "write_recording"]

FS = 44100


def write_recording(path: Path, seconds: float, *, seed: int = 0) -> int:
    """A speech-like test recording, written block by block (PCM16 WAV); its length."""
    import soundfile as sf

    n = int(seconds * FS)
    rng = np.random.default_rng(seed)
    block = 1 << 22
    with sf.SoundFile(str(path), "w", samplerate=FS, channels=1, subtype="PCM_16") as f:
        for a in range(0, n, block):
            t = np.arange(a, min(a + block, n)) / FS
            f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)           # a gliding voice
            phase = 2 * np.pi * np.cumsum(f0) / FS
            syll = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 2
            voice = sum(np.sin(k * phase) / k for k in range(1, 12)) * syll
            tones = 0.2 * np.sin(2 * np.pi * 1000 * t) * (np.sin(2 * np.pi * 0.05 * t) > 0)
            y = 0.25 * voice + tones + 0.01 * rng.standard_normal(len(t))
            f.write(np.clip(y, -1, 1))
    return n


_WINDOW = r"""
import os, sys, time, tempfile, resource
import numpy as np
from phasebrush.app.main import _application
app = _application()
from PySide6.QtCore import QEventLoop, QRectF, QSettings, QTimer
from phasebrush.app.audio import NullAudioSink
from phasebrush.app.main_window import MainWindow
from phasebrush.app.screenshot import wait_for
win = MainWindow(settings=QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"),
                                    QSettings.Format.IniFormat), audio_sink=NullAudioSink())
win.error_dialogs = False
win.confirm_close = False
win.resize(1280, 800)
win.show()
doc, view, L = win.doc, win.tfr_view, win.doc.layers

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def run_for(ms):
    loop = QEventLoop()
    QTimer.singleShot(int(ms), loop.quit)
    loop.exec()

first = []
doc.overview_progressed.connect(lambda f: first.append(time.perf_counter()) if not first else None)
t0 = time.perf_counter()
assert win.open_path(sys.argv[1], ask=False)
wait_for(doc.busy_changed, 900_000, lambda: doc.tfr is not None and not doc.busy)
t_open = time.perf_counter() - t0
print(f"RESULT open {t_open:.1f} {first[0] - t0 if first else float('nan'):.1f} "
      f"{rss_mb():.0f} {doc.signal.n} {doc.tfr.n_rows}", flush=True)
if sys.argv[2] == "open":
    os._exit(0)

T = doc.signal.n * doc.signal.dx
x, y, w, h = view.grid.rect()
t0 = time.perf_counter()
while doc._detail_worker is not None:    # the warm-up that follows the overview
    run_for(20)
print(f"RESULT warm {time.perf_counter() - t0:.2f}", flush=True)
t0 = time.perf_counter()
got, part, seen = [], [], []

def visible_done(d):
    # every pixel over the visible columns computed (the margins may still be missing)
    v0, v1, _ = view.long.visible_columns()
    p0 = int((v0 - d.c0) * d.width / (d.c1 - d.c0))
    p1 = -(-(v1 - d.c0) * d.width // (d.c1 - d.c0))
    if not seen and np.isfinite(d.image[:, max(p0, 0):p1]).all():
        seen.append(time.perf_counter())

def on_step(d):
    if not got:
        part.append(time.perf_counter())
        visible_done(d)

doc.detail_ready.connect(lambda d: (visible_done(d), got.append(time.perf_counter())))
doc.detail_progressed.connect(on_step)
view.vb.setRange(QRectF(0.5 * T, y, 10.0, h), padding=0)
win.signal_view.plot.getViewBox().setXRange(0.5 * T, 0.5 * T + 10.0, padding=0)
wait_for(doc.detail_ready, 120_000)
t1 = time.perf_counter()
view.vb.setRange(QRectF(0.5 * T + 3.0, y, 10.0, h), padding=0)   # a pan: one new tile
wait_for(doc.detail_ready, 120_000, lambda: len(got) > 1)
print(f"RESULT zoom {got[0] - t0 if got else float('nan'):.2f} "
      f"{got[1] - t1 if len(got) > 1 else float('nan'):.2f} "
      f"{part[0] - t0 if part else float('nan'):.2f} "
      f"{seen[0] - t0 if seen else float('nan'):.2f} "
      f"{view.long.visible_columns()[1] - view.long.visible_columns()[0]}", flush=True)
view.vb.setRange(QRectF(0.5 * T, y, 10.0, h), padding=0)

live = [0]
doc.inversion_changed.connect(lambda: live.__setitem__(0, live[0] + 1)
                              if doc.inversion_cols is not None else None)
row = float(np.searchsorted(doc.tfr.frequencies, 1000.0))
c = int((0.5 * T + 2.0) / doc.signal.dx)
L.begin_stroke(erase=False, radius_rows=3.0, radius_cols=300.0)
times = []
t_start = time.perf_counter()
for i in range(60):
    t = time.perf_counter()
    L.extend_stroke(row, c + 2000 * i)
    app.processEvents()
    times.append(time.perf_counter() - t)
    run_for(max(0.0, 16.7 - 1e3 * (time.perf_counter() - t)))
span = time.perf_counter() - t_start
L.end_stroke()
t0 = time.perf_counter()
wait_for(doc.inversion_progressed, 600_000, lambda: not doc.long_inverse.pending)
t_release = time.perf_counter() - t0
print(f"RESULT brush {1e3 * np.median(times):.1f} {1e3 * max(times):.1f} {live[0] / span:.1f} "
      f"{t_release:.2f}", flush=True)

t0 = time.perf_counter()
L.add_band([(0.01 * T, 400.0), (0.99 * T, 400.0)], [(0.01 * T, 80.0), (0.99 * T, 80.0)])
wait_for(doc.inversion_progressed, 900_000, lambda: not doc.long_inverse.pending)
print(f"RESULT band {time.perf_counter() - t0:.1f} {rss_mb():.0f}", flush=True)

live[0] = 0
lay = L[len(L) - 1]
up, lo = lay.upper.copy(), lay.lower.copy()
view._dragging_band = len(L) - 1   # as during a handle drag: the handles are the source
times = []
t_start = time.perf_counter()
for i in range(60):
    # the vertex at 50 % of the recording moves: only the columns near it change
    u = np.vstack([up[:1], [[0.5 * T + 5.0, 400.0 + 5 * i]], up[1:]])
    t = time.perf_counter()
    L.drag_band_edges(len(L) - 1, u, lo)
    app.processEvents()
    times.append(time.perf_counter() - t)
    run_for(max(0.0, 16.7 - 1e3 * (time.perf_counter() - t)))
span = time.perf_counter() - t_start
print(f"RESULT drag {1e3 * np.median(times):.1f} {1e3 * max(times):.1f} {live[0] / span:.1f} "
      f"{rss_mb():.0f}", flush=True)
os._exit(0)
"""


def _screenshot(path: Path, out: Path) -> tuple[float, float]:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "phasebrush.app.main", str(path), "--screenshot",
                    str(out)],
                   cwd=ROOT, check=True, capture_output=True, timeout=900,
                   env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    return time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main(hour: bool = True) -> None:
    with tempfile.TemporaryDirectory(prefix="phasebrush-long-") as tmp:
        ten = Path(tmp) / "ten_minutes.wav"
        n10 = write_recording(ten, 600.0)
        s, mb = _screenshot(ten, Path(tmp) / "ten.png")
        print(f"10-minute recording ({n10} samples): phasebrush FILE --screenshot "
              f"{s:.1f} s, peak {mb:.0f} MB (targets 60 s, 2048 MB)")
        lines = run_probe(_WINDOW.replace("sys.argv[1]", repr(str(ten)))
                          .replace("sys.argv[2]", "'all'"), what="10-minute window",
                          timeout=1800)
        for ln in lines:
            k, *v = ln.split()
            if k == "open":
                print(f"  open in the window: {v[0]} s (first overview part {v[1]} s), "
                      f"peak {v[2]} MB, {v[4]} rows")
            elif k == "warm":
                print(f"  the exact source's warm-up after the overview: {v[0]} s")
            elif k == "zoom":
                print(f"  then a zoom to a 10-s range ({v[4]} columns): its middle tile "
                      f"shown after {v[2]} s, every visible column at full resolution after "
                      f"{v[3]} s (target 1 s), with the margins after {v[0]} s; {v[1]} s "
                      f"for a 3-s pan")
            elif k == "brush":
                print(f"  brush stroke, 60 moves at 60/s: {v[0]} ms median, {v[1]} ms max "
                      f"per move (target 33 ms); live inverse {v[2]} updates/s (target 20); "
                      f"whole inverse after the release {v[3]} s")
            elif k == "band":
                print(f"  a band over the whole recording: inverse complete after {v[0]} s, "
                      f"peak {v[1]} MB")
            elif k == "drag":
                print(f"  band handle drag, 60 moves at 60/s: {v[0]} ms median, {v[1]} ms max "
                      f"per move; live inverse {v[2]} updates/s; peak {v[3]} MB")
        ten.unlink()
        if not hour:
            return
        hour = Path(tmp) / "one_hour.wav"
        n60 = write_recording(hour, 3600.0, seed=1)
        (ln,) = run_probe(_WINDOW.replace("sys.argv[1]", repr(str(hour)))
                          .replace("sys.argv[2]", "'open'"), what="1-hour window", timeout=1800)
        _, t_open, t_first, mb, _n, rows = ln.split()
        target = 1.5 * 1024 + 16 * n60 / 2 ** 20
        print(f"1-hour recording ({n60} samples, {rows} rows): overview complete after "
              f"{t_open} s (first part {t_first} s), peak {float(mb):.0f} MB "
              f"(target {target:.0f} MB = 1.5 GB + 16 B/sample)")


if __name__ == "__main__":
    main(hour="--ten-minutes" not in sys.argv)
