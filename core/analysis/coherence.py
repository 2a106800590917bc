"""Wavelet coherence and phase difference between two signals on the CWT grid.

Used to compare an original with a reconstruction (phase retrieval,
resynthesis): where the coherence is near 1 the reconstruction's phase
follows the original's, up to a constant offset the phase map shows.

For CWTs ``W_x``, ``W_y`` (rows = scales, row 0 = lowest frequency)::

    R^2[r, t] = |S(W_x conj(W_y))|^2 / (S(|W_x|^2) * S(|W_y|^2))      in [0, 1]
    phase[r, t] = angle(S(W_x conj(W_y)))                            in (-pi, pi]

(Torrence & Webster 1999; Grinsted et al. 2004). ``S`` smooths in time with
a Gaussian whose width grows with the scale, ``sigma = time_cycles`` periods
of the row's frequency, then across scales with a boxcar of ``scale_rows``
rows (about 0.6 octave by default, the decorrelation length of a Morlet
wavelet). Both kernels are non-negative, so by Cauchy-Schwarz ``R^2 <= 1``.
Without smoothing ``R^2`` would be 1 everywhere.

Sign convention: the coefficients are analytic (``~ A exp(+2 pi i f t)``),
so when ``y`` is ``x`` delayed by ``d`` (x leads), ``phase = +2 pi f d``:
positive, growing with frequency.

Edges: the Gaussian is applied with zero padding (no wrap-around); near the
ends fewer samples enter the average, which the ratio tolerates.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.fft as sp_fft
from scipy.ndimage import uniform_filter1d

from phasebrush.core.errors import ParameterError, ShapeError
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TFR, TransformSpec, transform

__all__ = ["default_scale_rows", "coherence_from_tfrs", "wavelet_coherence"]

_CHUNK_ELEMENTS = 1 << 22  # rows x padded length per FFT batch: bounded memory


def default_scale_rows(spec: TransformSpec) -> int:
    """Boxcar length across scales: 0.6 octave in rows, made odd (centred)."""
    n = max(1, int(round(0.6 * spec.nv)))
    return n if n % 2 else n + 1


def _smooth_time(a: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Gaussian smoothing along axis 1, one ``sigma`` (samples) per row, zero padded."""
    n_rows, n = a.shape
    pad = int(min(np.ceil(4 * sigma.max()), 4 * n))
    nfft = sp_fft.next_fast_len(n + pad, real=not np.iscomplexobj(a))
    k = sp_fft.fftfreq(nfft)  # cycles per sample
    out = np.empty_like(a)
    step = max(1, _CHUNK_ELEMENTS // nfft)
    for r0 in range(0, n_rows, step):
        sl = slice(r0, min(r0 + step, n_rows))
        # Fourier transform of a unit-area Gaussian of std sigma: exp(-2 pi^2 sigma^2 k^2)
        g = np.exp(-2.0 * np.pi ** 2 * (sigma[sl, None] * k[None, :]) ** 2)
        spec = sp_fft.fft(a[sl], n=nfft, axis=1) * g
        res = sp_fft.ifft(spec, axis=1)[:, :n]
        out[sl] = res if np.iscomplexobj(a) else res.real
    return out


def _smooth_scale(a: np.ndarray, n_rows: int) -> np.ndarray:
    if n_rows <= 1:
        return a
    if np.iscomplexobj(a):
        return (uniform_filter1d(a.real, n_rows, axis=0, mode="nearest")
                + 1j * uniform_filter1d(a.imag, n_rows, axis=0, mode="nearest"))
    return uniform_filter1d(a, n_rows, axis=0, mode="nearest")


def coherence_from_tfrs(wx: TFR, wy: TFR, *, time_cycles: float = 1.0,
                        scale_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Coherence and phase difference of two CWTs on the same grid.

    Parameters
    ----------
    wx, wy : TFR
        Same shape, frequencies and sample spacing (transform both signals
        with one spec).
    time_cycles : float > 0
        Gaussian time smoothing, std in periods of each row's frequency.
    scale_rows : int >= 1 or None
        Boxcar across rows. None = :func:`default_scale_rows`.

    Returns
    -------
    coherence : np.ndarray [shape=(n_rows, n_frames), float64, in [0, 1]]
        0 where either signal has no energy.
    phase : np.ndarray [shape=(n_rows, n_frames), float64, radians in (-pi, pi]]
        ``angle(S(W_x conj W_y))``; positive where ``x`` leads ``y``.
    """
    if wx.shape != wy.shape:
        raise ShapeError(f"the two transforms differ in shape: {wx.shape} vs {wy.shape}")
    if not np.allclose(wx.frequencies, wy.frequencies, rtol=1e-9) or not np.isclose(wx.dx,
                                                                                     wy.dx):
        raise ParameterError("the two transforms are on different grids; use one spec and "
                             "the same sample spacing for both")
    time_cycles = float(time_cycles)
    if not np.isfinite(time_cycles) or time_cycles <= 0:
        raise ParameterError(f"time_cycles={time_cycles!r} must be > 0")
    n_scale = default_scale_rows(wx.spec) if scale_rows is None else int(scale_rows)
    if n_scale < 1:
        raise ParameterError(f"scale_rows={scale_rows!r} must be >= 1")
    f = np.asarray(wx.frequencies, dtype=np.float64)
    if np.any(f <= 0):
        raise ParameterError("coherence needs positive row frequencies (a CWT)")
    sigma = time_cycles / (f * float(wx.dx))  # samples

    cx, cy = wx.coefficients, wy.coefficients
    sxy = _smooth_scale(_smooth_time(cx * np.conj(cy), sigma), n_scale)
    sxx = _smooth_scale(_smooth_time(np.abs(cx) ** 2, sigma), n_scale)
    syy = _smooth_scale(_smooth_time(np.abs(cy) ** 2, sigma), n_scale)
    den = sxx * syy
    # Energies below this are FFT round-off of zero, not signal.
    floor = 1e-24 * max(float(sxx.max()), float(syy.max()), np.finfo(float).tiny) ** 2
    ok = den > floor
    coh = np.zeros(den.shape)
    coh[ok] = np.abs(sxy[ok]) ** 2 / den[ok]
    return np.clip(coh, 0.0, 1.0), np.angle(sxy)


def _as_signal(v, dx, name) -> Signal:
    if isinstance(v, Signal):
        return v
    return Signal(v, dx=1.0 if dx is None else dx, name=name)


def wavelet_coherence(x, y, spec: TransformSpec | None = None, *, dx: float | None = None,
                      time_cycles: float = 1.0, scale_rows: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Wavelet coherence of two signals (an original and a reconstruction).

    Parameters
    ----------
    x, y : Signal or np.ndarray [shape=(n,)]
        Same length and sample spacing.
    spec : TransformSpec or None
        None = ``TransformSpec()`` (GMW CWT). Any CWT kind; the plain CWT
        with its wavelet, ``nv``, scales and limits is used (synchrosqueezed
        rows are not smoothable scales).
    dx : float or None
        Sample spacing for array inputs (default 1).
    time_cycles, scale_rows
        As for :func:`coherence_from_tfrs`.

    Returns
    -------
    coherence, phase : np.ndarray [shape=(n_rows, n_frames), float64]
        On the grid of ``transform(x, replace(spec, kind="cwt"))``.
    """
    spec = TransformSpec() if spec is None else spec
    if not spec.is_cwt:
        raise ParameterError(f"coherence needs a CWT; the spec is kind={spec.kind!r}")
    sx, sy = _as_signal(x, dx, "x"), _as_signal(y, dx, "y")
    if sx.n != sy.n:
        raise ShapeError(f"the signals differ in length: {sx.n} vs {sy.n} samples")
    if not np.isclose(sx.dx, sy.dx, rtol=1e-9):
        raise ParameterError(f"the signals differ in sample spacing: {sx.dx:g} vs {sy.dx:g}")
    cwt = replace(spec, kind="cwt")
    return coherence_from_tfrs(transform(sx, cwt), transform(sy, cwt),
                               time_cycles=time_cycles, scale_rows=scale_rows)
