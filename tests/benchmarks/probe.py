"""Run a benchmark probe in a fresh, offscreen Python process and collect its results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_probe(code: str, *, what: str, timeout: float) -> list[str]:
    """The ``RESULT ...`` lines ``code`` prints, without the prefix, in order.

    A fresh process: imports, caches and Qt state from earlier figures must not
    flatter later ones. Raises RuntimeError with the tail of stderr when the
    probe fails or prints no result.
    """
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    lines = [ln[len("RESULT "):] for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{what} probe failed:\n{proc.stderr[-3000:]}")
    return lines
