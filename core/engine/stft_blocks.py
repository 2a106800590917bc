"""Hop-1 STFT coefficients of a column range.

Frame k of the whole-signal STFT (:func:`core.tf.transforms.transform`, kind
'stft', hop 1) is centred on sample k of the signal reflect-padded by
``n_fft // 2`` on the left and ``(n_fft - 1) // 2`` on the right, so columns
``[c0, c1)`` need only samples ``c0 - n_fft // 2 .. c1 + (n_fft - 1) // 2``:
the block result is exact (to FFT rounding), with no truncation at all.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sp_fft

from phasebrush.core.engine.blocks import Steps, padded_segment
from phasebrush.core.errors import ParameterError
from phasebrush.core.tf import transforms as T

__all__ = ["stft_columns"]

_CHUNK_ELEMS = 1 << 22


def stft_columns(y, c0: int, c1: int, *, spec: T.TransformSpec, rows=None, cancel=None,
                 progress=None) -> np.ndarray:
    """``transform(Signal(y), spec).coefficients[rows, c0:c1]`` for kind 'stft', hop 1.

    ``S[f, k] = sum_m g[m] xp[k + m] exp(-2j pi f (m - n_fft//2) / n_fft)``.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
        The whole signal.
    c0, c1 : int
        Half-open frame range inside ``[0, n_samples)``.
    spec : TransformSpec
        kind 'stft', hop 1.
    rows : sequence of int, or None
        rfft bins (row 0 = DC); None = all ``n_fft // 2 + 1``.
    cancel, progress
        As :func:`core.engine.cwt_blocks.cwt_columns`.

    Returns
    -------
    np.ndarray [shape=(len(rows), c1 - c0), complex128]
    """
    T._check_spec(spec)
    if spec.kind != "stft" or int(spec.hop) != 1:
        raise ParameterError(
            f"stft_columns needs kind 'stft' with hop 1, got kind={spec.kind!r} hop={spec.hop}")
    steps = Steps.of(cancel, progress, "block STFT")
    y = np.asarray(y, dtype=np.float64).ravel()
    N = len(y)
    g = T.stft_window(spec)
    n_fft = len(g)
    if n_fft > N:
        raise ParameterError(f"n_fft={n_fft} is larger than the signal ({N} samples)")
    c0, c1 = int(c0), int(c1)
    if not 0 <= c0 < c1 <= N:
        raise ParameterError(f"columns [{c0}, {c1}) are not inside [0, {N})")
    n_rows = n_fft // 2 + 1
    rows = np.arange(n_rows) if rows is None else np.asarray(rows, dtype=np.intp).ravel()
    if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
        raise ParameterError(f"rows must lie in [0, {n_rows})")
    # the frame's sample order rotated so that its centre is sample 0 of the FFT
    # (ssqueezepy's modulated buffer): phases refer to the frame centre
    gs = np.roll(g, -(n_fft // 2))
    shift = np.roll(np.arange(n_fft), -(n_fft // 2))
    out = np.empty((len(rows), c1 - c0), dtype=np.complex128)
    block = max(1, _CHUNK_ELEMS // n_fft)
    n_pad = N + n_fft - 1
    for k0 in range(c0, c1, block):
        steps.check((k0 - c0) / (c1 - c0))
        k1 = min(c1, k0 + block)
        seg = padded_segment(y, k0, k1 - k0 + n_fft - 1, n_pad, n_fft // 2)
        frames = np.lib.stride_tricks.sliding_window_view(seg, n_fft)[:, shift] * gs
        S = sp_fft.rfft(frames, axis=-1)
        out[:, k0 - c0:k1 - c0] = S[:, rows].T
    steps.check(1.0)
    return out
