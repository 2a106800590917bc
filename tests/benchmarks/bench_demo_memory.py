"""Peak memory of the 4-s speech demo in the window, per transform kind.

Each kind in a fresh offscreen process: the window opens the speech demo (16 kHz,
64000 samples) with that kind as the user's setting, the first image is drawn (a
long-path document also its warm-up detail), then a band is added and its inverse
completed. Printed: whether the document went long, the rows, the times and the
process's peak RSS (VmHWM). Issue 10's target: SSQ-CWT at most 1 GB.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.benchmarks.bench_demo_memory
"""

from __future__ import annotations

from tests.benchmarks.probe import run_probe

__all__ = ["main"]

KINDS = ("cwt", "ssq_cwt", "stft", "ssq_stft")

_PROBE = r"""
import os, sys, tempfile, time
from dataclasses import replace
from phasebrush.app.main import _application
app = _application()
from PySide6.QtCore import QEventLoop, QSettings, QTimer
from phasebrush.app.audio import NullAudioSink
from phasebrush.app.main_window import MainWindow
from phasebrush.core.io.demo import demo_signal

def hwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024

def until(cond, timeout_s):
    end = time.perf_counter() + timeout_s
    while not cond() and time.perf_counter() < end:
        loop = QEventLoop()
        QTimer.singleShot(10, loop.quit)
        loop.exec()
    return cond()

win = MainWindow(settings=QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"),
                                    QSettings.Format.IniFormat), audio_sink=NullAudioSink())
win.error_dialogs = False
win.confirm_close = False
win.resize(1280, 800)
win.show()
doc = win.doc
base = hwm_mb()
doc.spec = replace(doc.spec, kind=KIND)
t0 = time.perf_counter()
doc.set_signal(demo_signal("speech"))          # as File > Open gives it the settings
until(lambda: doc.tfr is not None and doc.image_db is not None and not doc.busy
      and doc._detail_worker is None, 300)
t_open = time.perf_counter() - t0
doc.layers.add_band([(0.3, 3000.0), (3.5, 3000.0)], [(0.3, 300.0), (3.5, 300.0)])
t0 = time.perf_counter()
until(lambda: doc.inversion is not None and not doc.long_inverse.pending, 300)
print(f"RESULT {doc.is_long} {doc.tfr.n_rows} {t_open:.1f} {time.perf_counter() - t0:.1f} "
      f"{base:.0f} {hwm_mb():.0f}", flush=True)
os._exit(0)
"""


def main() -> None:
    print("bench_demo_memory: 4-s speech demo (16 kHz) in the window, offscreen; peak RSS "
          "(target for SSQ-CWT: 1000 MB)")
    for kind in KINDS:
        (line,) = run_probe(_PROBE.replace("KIND", repr(kind)), what=f"speech demo {kind}",
                            timeout=900)
        long, rows, t_open, t_inv, base, peak = line.split()
        path = "long (engine)" if long == "True" else "whole"
        print(f"  {kind:9s} {path:13s} {rows} rows: image {t_open} s, band inverse {t_inv} s, "
              f"peak {peak} MB (window alone {base} MB)")


if __name__ == "__main__":
    main()
