"""CLI start-up: ``phasebrush --help`` and ``phasebrush transform`` on a 4096-sample WAV,
each in a fresh process (3 runs): wall time, peak RSS (the process's own VmHWM), and
whether torch, Qt or numba were imported (target for the transform: 2 s, 300 MB).

    .venv/bin/python -m tests.benchmarks.bench_cli_startup
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["main"]

# Runs the real entry point, then reports from inside the process: ru_maxrss of a child
# would carry the parent's peak over the exec on Linux.
_CHILD = r"""
import sys, time
t0 = time.perf_counter()
from phasebrush.app.main import main
try:
    rc = main(sys.argv[1:])
except SystemExit as e:
    rc = e.code
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print("RESULT", time.perf_counter() - t0, int(hwm) / 1024,
      int("torch" in sys.modules), int("PySide6" in sys.modules), int("numba" in sys.modules),
      file=sys.stderr)
"""


def _run(args, cwd) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _CHILD, *args], cwd=cwd, capture_output=True,
                       text=True, timeout=300)
    wall = time.perf_counter() - t0
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("RESULT")]
    if r.returncode != 0 or not line:
        raise RuntimeError(f"phasebrush {' '.join(args)} failed:\n{r.stderr[-2000:]}")
    _, _t, mb, torch, qt, numba = line[-1].split()
    loaded = ", ".join(n for n, f in (("torch", torch), ("Qt", qt), ("numba", numba))
                       if f == "1") or "none of torch, Qt, numba"
    return wall, float(mb), loaded


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="phasebrush-cli-") as tmp:
        wav = Path(tmp) / "s4096.wav"
        sf.write(wav, np.sin(0.05 * np.arange(4096)).astype(np.float32), 8000)
        print("bench_cli_startup: fresh processes, 3 runs each (target for transform: 2 s, "
              "300 MB)")
        for label, args in (("--help", ["--help"]),
                            ("transform (4096 samples, CWT)", ["transform", "-q", str(wav),
                                                               str(Path(tmp) / "out.npz")])):
            runs = [_run(args, tmp) for _ in range(3)]
            walls = sorted(r[0] for r in runs)
            print(f"  phasebrush {label}: wall {walls[1]:.2f} s median ({walls[0]:.2f}-"
                  f"{walls[-1]:.2f}), peak {max(r[1] for r in runs):.0f} MB; imported: "
                  f"{runs[-1][2]}")


if __name__ == "__main__":
    main()
