"""Quality measures of a retrieved or reconstructed signal.

All accept numpy arrays or torch tensors (converted to float64 numpy).
"""

from __future__ import annotations

import numpy as np

from phasebrush.core.errors import ShapeError

__all__ = ["inconsistency", "spectral_convergence_db", "rel_l2", "snr_db"]


def _np(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _same_shape(a, b, what):
    if a.shape != b.shape:
        raise ShapeError(f"{what}: shapes {a.shape} and {b.shape} differ")


def inconsistency(S, S_hat) -> float:
    """Normalized inconsistency ``||S_hat - S||_F / ||S||_F``.

    Parameters
    ----------
    S : array [shape=(n_rows, n_frames), float, non-negative]
        Target magnitude.
    S_hat : array [same shape]
        Magnitude of the transform of the estimate, ``|T(y)|``.

    Returns
    -------
    float
        0 for a perfect fit; ``inf`` when ``S`` is all zero and ``S_hat`` not.
    """
    S, S_hat = _np(S).astype(np.float64), _np(S_hat).astype(np.float64)
    _same_shape(S, S_hat, "inconsistency")
    num = np.linalg.norm(S_hat - S)
    den = np.linalg.norm(S)
    if den == 0:
        return 0.0 if num == 0 else float("inf")
    return float(num / den)


def spectral_convergence_db(S, S_hat) -> float:
    """Spectral convergence in dB: ``20 log10(inconsistency(S, S_hat))`` (lower is better)."""
    v = inconsistency(S, S_hat)
    return float(-np.inf) if v == 0 else float(20 * np.log10(v))


def rel_l2(x, y) -> float:
    """Sign-aware relative L2 error ``min(||x - y||, ||x + y||) / ||x||``.

    Parameters
    ----------
    x : array [shape=(N,)] reference signal
    y : array [shape=(N,)] estimate (magnitudes cannot tell ``y`` from ``-y``)
    """
    x, y = _np(x).astype(np.float64), _np(y).astype(np.float64)
    _same_shape(x, y, "rel_l2")
    nx = np.linalg.norm(x)
    err = min(np.linalg.norm(x - y), np.linalg.norm(x + y))
    if nx == 0:
        return 0.0 if err == 0 else float("inf")
    return float(err / nx)


def snr_db(x, y) -> float:
    """Signal-to-noise ratio of estimate ``y`` against reference ``x`` in dB.

    ``20 log10(||x|| / ||x - y||)``; ``inf`` for an exact match. Not
    sign-aware (use :func:`rel_l2` for magnitude-only retrieval).
    """
    x, y = _np(x).astype(np.float64), _np(y).astype(np.float64)
    _same_shape(x, y, "snr_db")
    err = np.linalg.norm(x - y)
    if err == 0:
        return float("inf")
    nx = np.linalg.norm(x)
    return float(-np.inf) if nx == 0 else float(20 * np.log10(nx / err))
