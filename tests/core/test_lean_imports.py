"""core.lean_imports: transforms never load torch; retrieval still gets the real one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = r"""
import sys
import numpy as np
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform
y = np.random.default_rng(0).standard_normal(2048)
transform(Signal(y), TransformSpec(kind="ssq_cwt", nv=8))
import ssqueezepy
print("after transform", "torch" in sys.modules)
import torch
from phasebrush.core.retrieval.torch_transforms import STFTOperator  # noqa: F401 (real torch)
print("after import", torch.zeros(2).sum().item() == 0.0, type(torch).__name__)
"""


def test_a_transform_does_not_import_torch_and_torch_imports_afterwards():
    r = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "after transform False" in r.stdout
    assert "after import True module" in r.stdout


_LEAN = r"""
import sys
import numpy as np
import phasebrush.core.lean_imports as lean
if sys.argv[1] == "broken":     # an ssqueezepy the lean step does not fit
    lean.LEAN_SUBMODULES = ("utils", "no_such_submodule")
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform
y = np.random.default_rng(0).standard_normal(1024)
c = transform(Signal(y), TransformSpec(kind="cwt", nv=8)).coefficients
print("after cwt", "scipy.signal" in sys.modules, "ssqueezepy._stft" in sys.modules)
import ssqueezepy
from ssqueezepy import ssq_cwt, Wavelet
Tx, Wx, *_ = ssq_cwt(y, Wavelet("gmw"), nv=8)
print("full package", Wx.shape[1] == 1024, "scipy.signal" in sys.modules,
      callable(ssqueezepy.cwt), "torch" in sys.modules)
try:
    ssqueezepy.no_such_name
except AttributeError:
    print("missing names raise AttributeError")
"""


def _lean(mode: str) -> str:
    r = subprocess.run([sys.executable, "-c", _LEAN, mode], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_a_cwt_imports_only_the_submodules_it_needs_and_the_rest_follows_on_demand():
    out = _lean("lean")
    assert "after cwt False False" in out      # no scipy.signal / _stft for a CWT
    assert "full package True True True False" in out
    assert "missing names raise AttributeError" in out


def test_an_ssqueezepy_the_lean_step_does_not_fit_is_imported_whole():
    out = _lean("broken")
    assert "after cwt True True" in out        # the real __init__ ran at once
    assert "full package True True True False" in out
    assert "missing names raise AttributeError" in out
