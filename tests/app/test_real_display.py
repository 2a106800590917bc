"""PhaseBrush starts on a real X server (Xvfb) and takes a band from real clicks.

Offscreen tests never load Qt's xcb plugin, so a missing system library
(libxcb-cursor0 and friends) went unnoticed while the app could not start on
a stock Debian desktop. This test runs the real entry point under
``xvfb-run`` and drives it with ``xdotool`` (tests/app/real_display_driver.py).
CI installs both (.ci/run) and must run it; elsewhere it is skipped without them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.xvfb


def test_the_app_starts_on_x_and_a_band_drawn_with_real_clicks_is_inverted(tmp_path):
    missing = [t for t in ("xvfb-run", "xdotool") if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install {' and '.join(missing)} (.ci/run)")
        pytest.skip(f"needs {' and '.join(missing)}")
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path))
    env.pop("QT_QPA_PLATFORM", None)
    r = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m",
         "tests.app.real_display_driver"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert "could not load the Qt platform plugin" not in out, out
    results = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT")]
    assert any(ln.startswith("RESULT image") for ln in results), out
    assert "RESULT tool band bands 1 vertices [5] inverse True" in results, out
    assert results[-1] == "RESULT exit 0" and r.returncode == 0, out
