"""Start-up to first image: a fresh process opens the app on the chirp demo.

Prints the wall time from interpreter start to (a) the window shown and
(b) the first time-frequency image set, each the median of a few fresh
processes (the first one also pays for cold caches, so it is printed apart).

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.benchmarks.bench_startup
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

__all__ = ["main", "measure_once"]

ROOT = Path(__file__).resolve().parents[2]

_PROBE = r"""
import time
t0 = time.perf_counter()
import json, os, sys
from app.main import _application
app = _application()
from app.main_window import MainWindow
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
          f"{first['torch_loaded']}")


if __name__ == "__main__":
    main()
