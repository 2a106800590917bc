"""Invert a time-frequency representation, whole or through a mask.

Every transform in :mod:`core.tf.transforms` is inverted by the one-integral
formula (hop 1)::

    x[t] = sum_r row_weights[r] * Re(C[r, t]) + offset

with the constants (all in ``TFR.row_weights``, verified by the tests):

- 'cwt': wavelet rows ``(2 / Css) * ln(2) / nv`` (Css: ssqueezepy's
  ``adm_ssq``, the synchrosqueezing admissibility constant
  ``int_0^inf conj(psi(w)) / w dw``; per piece for 'log-piecewise'), edge
  rows 1;
- 'ssq_cwt': ``2 / Css`` (the ``ln2 / nv`` is already inside the
  synchrosqueezed coefficients), edge rows 1;
- 'stft': ``c_r / (n_fft * g[n_fft // 2])``, ``c_r = 1`` for DC and (even
  n_fft) Nyquist, 2 otherwise: the inverse DFT of frame t at its centre
  sample, folded onto the rfft rows;
- 'ssq_stft': ``2 / (g[n_fft // 2] * fs)`` for every row (``fs / n_fft`` is
  inside the synchrosqueezed coefficients; DC and Nyquist were halved
  before squeezing).

A mask multiplies the coefficients before the sum: ``mask[r, t]`` boolean or
a soft weight in [0, 1]. The OFFSET (the mean, where the transform dropped
it; 0 with edge rows) goes wholly to the residual, never to the band, so that
``band + residual == invert(tfr)`` exactly (to rounding).

STFT with hop > 1 is inverted by least-squares overlap-add (``istft``),
linear in the coefficients, so band + residual = full still holds.

:class:`RangeInverter` is the interactive path: bands given as per-frame
half-open row ranges ``[start[t], end[t])`` (row 0 = lowest frequency, the
representation ``core.tf.masks`` produces) invert in O(n_frames) from a
precomputed cumulative sum over rows.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sp_fft

from phasebrush.core.errors import ParameterError, ShapeError
from phasebrush.core.tf.transforms import TFR, stft_window

__all__ = ["invert", "invert_with_residual", "RangeInverter", "check_row_ranges", "range_sums"]


def _check_mask(tfr: TFR, mask) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.shape != tfr.shape:
        raise ShapeError(
            f"mask shape {m.shape} does not match the transform's shape {tfr.shape} "
            "(rows, frames)")
    if m.dtype == bool:
        return m
    if not np.issubdtype(m.dtype, np.number) or np.iscomplexobj(m):
        raise ParameterError(f"mask must be boolean or real weights, got dtype {m.dtype}")
    m = m.astype(np.float64, copy=False)
    if not np.all(np.isfinite(m)):
        raise ParameterError("mask holds NaN or infinite weights")
    lo, hi = float(m.min()), float(m.max())
    if lo < 0 or hi > 1:
        raise ParameterError(f"soft mask weights must lie in [0, 1], got [{lo:.6g}, {hi:.6g}]")
    return m


def _weighted_real(tfr: TFR, mask: np.ndarray | None) -> np.ndarray:
    """``sum_r w_r * mask[r, t] * Re C[r, t]`` [shape=(n_frames,)]."""
    re = tfr.coefficients.real
    if mask is None:
        return tfr.row_weights @ re
    if mask.dtype == bool:
        return np.einsum("r,rt->t", tfr.row_weights, np.where(mask, re, 0.0))
    return np.einsum("r,rt,rt->t", tfr.row_weights, mask, re)


def _is_overlap_add(tfr: TFR) -> bool:
    return tfr.spec.kind == "stft" and tfr.spec.hop > 1


def _istft(tfr: TFR, C: np.ndarray) -> np.ndarray:
    """Least-squares inverse of the ssqueezepy-convention STFT (any hop).

    ``x[n] = sum_k g[n - k hop] y_k[n] / sum_k g[n - k hop]^2`` with ``y_k``
    the inverse DFT of column k, un-modulated (fftshift) back to the frame's
    sample order. Linear in ``C``.
    """
    spec = tfr.spec
    g = stft_window(spec)
    n_fft, hop, N = len(g), int(spec.hop), tfr.n_samples
    frames = sp_fft.irfft(C, n=n_fft, axis=0)
    frames = np.fft.fftshift(frames, axes=0) * g[:, None]
    n_buf = N + n_fft - 1
    y = np.zeros(n_buf + hop)
    wn = np.zeros(n_buf + hop)
    g2 = g * g
    # loop over the n_fft offsets inside a frame, not over the frames
    n_frames = C.shape[1]
    starts = np.arange(n_frames) * hop
    for m in range(n_fft):
        y[starts + m] += frames[m]  # indices distinct for one m
        wn[starts + m] += g2[m]
    pad_left = n_fft // 2
    y = y[pad_left:pad_left + N]
    wn = wn[pad_left:pad_left + N]
    ok = wn > np.finfo(np.float64).tiny
    y[ok] /= wn[ok]
    return y


def invert(tfr: TFR, mask=None) -> np.ndarray:
    """The signal a (masked) transform represents.

    Parameters
    ----------
    tfr : TFR
    mask : None or np.ndarray [shape=tfr.shape, bool or float in [0, 1]]
        None = the full inverse (with the offset). A mask gives the band only:
        no offset (see module docstring).

    Returns
    -------
    np.ndarray [shape=(tfr.n_samples,), float64]

    Raises
    ------
    ShapeError
        ``mask`` does not have the transform's shape.
    ParameterError
        Soft weights outside [0, 1], NaN, or a non-numeric mask.
    """
    m = _check_mask(tfr, mask)
    if _is_overlap_add(tfr):
        C = tfr.coefficients if m is None else tfr.coefficients * m
        x = _istft(tfr, C)
    else:
        x = _weighted_real(tfr, m)
    if m is None:
        x = x + tfr.offset
    return np.ascontiguousarray(x, dtype=np.float64)


def invert_with_residual(tfr: TFR, mask) -> tuple[np.ndarray, np.ndarray]:
    """Split the full inverse into the masked band and what is left.

    Returns
    -------
    band, residual : np.ndarray [shape=(tfr.n_samples,), float64]
        ``band = invert(tfr, mask)``; ``residual = invert(tfr) - band``
        computed as the inverse of the complement mask plus the offset, so
        ``band + residual == invert(tfr)`` to rounding (~1e-15 relative).
    """
    m = _check_mask(tfr, mask)
    if m is None:
        raise ParameterError("invert_with_residual needs a mask (None would be the full band)")
    comp = ~m if m.dtype == bool else 1.0 - m
    band = invert(tfr, m)
    residual = invert(tfr, comp) + tfr.offset
    return band, residual


def check_row_ranges(n_rows: int, start, end, n_frames: int, *, where: str = ""):
    """Validated half-open row ranges as (n_bands, n_frames) intp arrays.

    Columns with ``end <= start`` are empty (set to 0, 0), as in
    ``core.tf.masks.ranges_to_mask``; non-empty ranges must lie in [0, n_rows].
    ``where`` (e.g. "intervals of columns [0, 4096)") starts every message.
    """
    at = f"{where}: " if where else ""
    s = np.asarray(start)
    e = np.asarray(end)
    if s.shape != e.shape:
        raise ShapeError(f"{at}start shape {s.shape} does not match end shape {e.shape}")
    if s.ndim == 1:
        s, e = s[None], e[None]
    if s.ndim != 2:
        raise ShapeError(f"{at}row ranges must be (n_frames,) or (n_bands, n_frames), "
                         f"got {s.shape}")
    if s.shape[1] != n_frames:
        raise ShapeError(f"{at}row ranges have {s.shape[1]} frames; the transform has "
                         f"{n_frames}")
    if not (np.issubdtype(s.dtype, np.integer) and np.issubdtype(e.dtype, np.integer)):
        raise ParameterError(f"{at}row ranges must be integers, got {s.dtype} and {e.dtype}")
    live = e > s
    s = np.where(live, s, 0).astype(np.intp, copy=False)
    e = np.where(live, e, 0).astype(np.intp, copy=False)
    bad = (s < 0) | (e > n_rows)
    if bad.any():
        b, t = (int(i[0]) for i in np.nonzero(bad))
        raise ParameterError(
            f"{at}row range {s[b, t]}..{e[b, t]} at column {t} is outside the {n_rows} rows "
            f"(ranges must lie in [0, {n_rows}])")
    return s, e


def _ranges_mask(n_rows: int, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Union of validated (n_bands, n_frames) ranges as a (n_rows, n_frames) mask."""
    r = np.arange(n_rows)[:, None]
    m = np.zeros((n_rows, s.shape[1]), dtype=bool)
    for sk, ek in zip(s, e, strict=True):
        m |= (r >= sk[None, :]) & (r < ek[None, :])
    return m


def _any_overlap(s: np.ndarray, e: np.ndarray) -> bool:
    for i in range(len(s)):
        for j in range(i + 1, len(s)):
            if np.any(np.maximum(s[i], s[j]) < np.minimum(e[i], e[j])):
                return True
    return False


def range_sums(cumsum: np.ndarray, start: np.ndarray, end: np.ndarray,
               cols: np.ndarray) -> np.ndarray:
    """``sum_k cumsum[end[k], cols] - cumsum[start[k], cols]``: the inverse of disjoint
    row ranges in columns ``cols`` from :attr:`RangeInverter.cumsum`.

    Parameters
    ----------
    cumsum : np.ndarray [shape=(n_rows + 1, n_frames), float64]
    start, end : np.ndarray [shape=(n_bands, cols.size), int]
        Valid half-open row ranges, no two overlapping in a column.
    cols : np.ndarray [shape=(m,), int]

    Returns
    -------
    np.ndarray [shape=(m,), float64]
    """
    out = cumsum[end[0], cols] - cumsum[start[0], cols]
    for k in range(1, len(start)):
        out += cumsum[end[k], cols] - cumsum[start[k], cols]
    return out


class RangeInverter:
    """Fast band inverse for per-frame row ranges (interactive painting).

    Precomputes ``cumsum[k, t] = sum_{r < k} w_r Re C[r, t]`` (float64,
    ``(n_rows + 1, n_frames)``, one pass over the transform), after which the
    band of rows ``[start[t], end[t])`` in every column is
    ``cumsum[end[t], t] - cumsum[start[t], t]``: O(n_frames) per edit,
    independent of the number of rows.

    An STFT with hop > 1 has no per-sample formula: there every call builds
    the mask and inverts by overlap-add (slow path, same results as
    :func:`invert`); ``cumsum`` is then None.

    Parameters
    ----------
    tfr : TFR
    """

    def __init__(self, tfr: TFR):
        self.tfr = tfr
        self._cols = np.arange(tfr.n_frames)
        self.cumsum = None
        if _is_overlap_add(tfr):
            self._full = invert(tfr)
            return
        n_rows, n_frames = tfr.shape
        cs = np.empty((n_rows + 1, n_frames), dtype=np.float64)
        cs[0] = 0.0
        np.multiply(tfr.row_weights[:, None], tfr.coefficients.real, out=cs[1:])
        np.cumsum(cs[1:], axis=0, out=cs[1:])
        cs.flags.writeable = False
        self.cumsum = cs
        self._full = cs[-1] + tfr.offset

    @property
    def full(self) -> np.ndarray:
        """The full inverse, offset included [shape=(n_samples,)]."""
        return self._full

    def band(self, start, end) -> np.ndarray:
        """Inverse of the rows ``[start[t], end[t])`` of each column (no offset).

        Parameters
        ----------
        start, end : np.ndarray [shape=(n_frames,) or (n_bands, n_frames), int]
            Half-open row ranges into TFR rows (row 0 = lowest frequency);
            ``end <= start`` is empty. Several bands give the inverse of their
            UNION: the fast sum when no two overlap, else via the union mask.

        Returns
        -------
        np.ndarray [shape=(n_samples,), float64]

        Raises
        ------
        ShapeError, ParameterError
            Shapes that do not fit the transform; non-integer or out-of-range rows.
        """
        tfr = self.tfr
        s, e = check_row_ranges(tfr.n_rows, start, end, tfr.n_frames)
        if self.cumsum is None or (len(s) > 1 and _any_overlap(s, e)):
            return invert(tfr, _ranges_mask(tfr.n_rows, s, e))
        return range_sums(self.cumsum, s, e, self._cols)

    def band_and_residual(self, start, end) -> tuple[np.ndarray, np.ndarray]:
        """``(band, full - band)``; the residual carries the offset."""
        b = self.band(start, end)
        return b, self.full - b

    def invert_ranges_with_residual(self, ranges) -> tuple[np.ndarray, np.ndarray]:
        """Union of several bands and the rest.

        Parameters
        ----------
        ranges : sequence of (start, end)
            One pair of int arrays [shape=(n_frames,)] per band.

        Returns
        -------
        band, residual : np.ndarray [shape=(n_samples,), float64]
            An empty sequence gives a zero band and the full inverse.
        """
        ranges = list(ranges)
        if not ranges:
            return np.zeros(self.tfr.n_samples), self.full.copy()
        start = np.stack([np.asarray(r[0]) for r in ranges])
        end = np.stack([np.asarray(r[1]) for r in ranges])
        return self.band_and_residual(start, end)
