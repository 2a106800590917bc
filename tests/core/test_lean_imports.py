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
