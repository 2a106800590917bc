"""Retrieval quality measures."""

import numpy as np
import pytest
import torch

from phasebrush.core.errors import ShapeError
from phasebrush.core.retrieval.metrics import inconsistency, rel_l2, snr_db, spectral_convergence_db


def test_inconsistency_is_relative_frobenius_error():
    S = np.array([[3.0, 4.0], [0.0, 0.0]])
    S_hat = S + np.array([[0.0, 0.0], [0.5, 0.0]])
    assert inconsistency(S, S_hat) == pytest.approx(0.5 / 5.0)
    assert inconsistency(S, S) == 0.0
    assert spectral_convergence_db(S, S_hat) == pytest.approx(20 * np.log10(0.1))
    assert spectral_convergence_db(S, S) == -np.inf


def test_inconsistency_accepts_tensors_and_checks_shape():
    S = torch.ones(3, 4, dtype=torch.float64)
    assert inconsistency(S, 2 * S) == pytest.approx(1.0)
    with pytest.raises(ShapeError):
        inconsistency(np.ones((3, 4)), np.ones((4, 3)))


def test_rel_l2_is_sign_aware():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(100)
    assert rel_l2(x, x) == 0.0
    assert rel_l2(x, -x) == 0.0
    y = x + 0.1 * rng.standard_normal(100)
    assert rel_l2(x, y) == pytest.approx(np.linalg.norm(x - y) / np.linalg.norm(x))
    assert rel_l2(x, -y) == rel_l2(x, y)
    assert rel_l2(x, np.zeros(100)) == pytest.approx(1.0)


def test_snr_db():
    x = np.ones(10)
    assert snr_db(x, x) == np.inf
    assert snr_db(x, 1.1 * x) == pytest.approx(20.0)
    with pytest.raises(ShapeError):
        snr_db(x, np.ones(9))
