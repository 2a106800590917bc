"""From a saliency heatmap on a scalogram image to the stretches of the 1-D signal it points at.

The maths
---------
A classifier that looked at a scalogram image and an explanation method
(Grad-CAM ...) give a heatmap ``h``: one weight in [0, 1] per image pixel.
Resampled onto the transform's grid (:func:`heatmap_to_mask`) it becomes a
soft mask ``h[r, t]``, and the part of the signal the heatmap highlights is
the inverse of the *weighted complex coefficients*. With the one-integral
inverse every PhaseBrush transform has (see :mod:`core.tf.transforms`)::

    x_h[t] = sum_r  rho_r * h[r, t] * Re C[r, t]

where ``C`` are the complex coefficients (row r, column t) and ``rho_r`` the
row weights (``TFR.row_weights``). For ``h = 1`` everywhere this is the
signal itself (up to the offset); for ``h`` in {0, 1} it is the ordinary band
inversion of the painted region; a soft ``h`` is a smooth gain on each cell.
Thresholding (:func:`threshold_mask`) gives the binary version.

Why not pass the heatmap (or the grayscale image) to ``issq_cwt``: the image
is a magnitude ``|C|``, resized, rescaled (often in dB) and colour-mapped. It
carries no phase, and the oscillation of a signal lives in the phase of its
coefficients: ``sum_r rho_r |C[r, t]|`` is a non-negative envelope-like curve,
not the signal, and a heatmap is not even a magnitude. The information the
heatmap points at is in the original coefficients; the heatmap can only say
*which* of them to keep.

Per-sample attribution: :func:`attribution_curve` smooths ``|x_h|`` with a
moving average and scales it to a maximum of 1, so it reads as "how much of
the highlighted energy sits at this sample".

Grid convention for resampling: the heatmap is a picture of the ordinary
(non-edge) rows of the transform and of all its columns, its pixels equal
cells laid edge to edge (pixel centres at ``(i + 1/2) / n`` of the span, as
``cv2.resize`` and ``torch`` with ``align_corners=False`` assume), and it is
interpolated bilinearly in (row, column) index space, i.e. in log-frequency
for CWT rows. Edge rows get weight 0: no external classifier saw them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from phasebrush.core.errors import ParameterError, ShapeError
from phasebrush.core.tf.masks import freq_to_row, inner_rows, threshold, time_to_col

__all__ = ["heatmap_to_mask", "threshold_mask", "attribution_curve", "smoothing_samples",
           "Attribution", "attribute"]


def _axis_weights(n_src: int, positions: np.ndarray, lo: float, hi: float):
    """Bilinear gather for ``positions`` on an axis whose span [lo, hi] holds n_src pixels.

    Returns (i0, i1, frac, inside): value = src[i0] * (1 - frac) + src[i1] * frac,
    and 0 where not ``inside``.
    """
    step = (hi - lo) / n_src
    u = (positions - lo) / step - 0.5  # fractional pixel index, pixel centres at integers
    inside = (positions >= lo - 1e-9 * abs(step)) & (positions <= hi + 1e-9 * abs(step))
    u = np.clip(u, 0.0, n_src - 1.0)
    i0 = np.floor(u).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_src - 1)
    return i0, i1, u - i0, inside


def heatmap_to_mask(heat, tfr, *, time_range=None, freq_range=None) -> np.ndarray:
    """Resample a heatmap onto a transform's grid as a soft mask.

    Parameters
    ----------
    heat : np.ndarray [shape=(h, w), float, in [0, 1]]
        Row 0 = lowest frequency (as :func:`core.analysis.heatmap.load_heatmap`
        returns it); any shape.
    tfr : TFR
        The transform whose grid the mask is for.
    time_range : (float, float) or None
        Signal-axis values of the heatmap's left and right edges. None: the
        heatmap spans all columns.
    freq_range : (float, float) or None
        Frequencies (cycles per signal unit) of the heatmap's bottom and top
        edges, placed on the row axis as the image draws it (log-frequency for
        CWT rows). None: it spans all ordinary (non-edge) rows.

    Returns
    -------
    np.ndarray [shape=(n_rows, n_frames), float32, in [0, 1]]
        Bilinear interpolation of ``heat`` at each cell centre (index space,
        pixel-centre aligned); 0 outside the heatmap's span and on edge rows.

    Raises
    ------
    ShapeError
        ``heat`` is not 2-D or smaller than 2 x 2.
    ParameterError
        ``heat`` is not finite or outside [0, 1]; a range is empty or reversed.
    """
    h = np.asarray(heat, dtype=np.float64)
    if h.ndim != 2 or min(h.shape) < 2:
        raise ShapeError(f"heatmap must be 2-D and at least 2 x 2, got shape {h.shape}")
    if not np.all(np.isfinite(h)):
        raise ParameterError("heatmap holds NaN or infinite values")
    if h.min() < 0 or h.max() > 1:
        raise ParameterError(f"heatmap values span {h.min():g}..{h.max():g}, not [0, 1]")
    n_rows, n_frames = tfr.coefficients.shape
    a, b = inner_rows(tfr)

    if freq_range is None:
        r_lo, r_hi = a - 0.5, b - 0.5
    else:
        f_lo, f_hi = (float(v) for v in freq_range)
        if not f_hi > f_lo:
            raise ParameterError(f"freq_range={tuple(freq_range)} must be (low, high) with "
                                 "low < high")
        log = bool(getattr(tfr.spec, "is_cwt", False))
        inner_f = np.asarray(tfr.frequencies)[a:b]
        r_lo, r_hi = (a + freq_to_row(inner_f, f, log=log) for f in (f_lo, f_hi))
    if time_range is None:
        c_lo, c_hi = -0.5, n_frames - 0.5
    else:
        t_lo, t_hi = (float(v) for v in time_range)
        if not t_hi > t_lo:
            raise ParameterError(f"time_range={tuple(time_range)} must be (start, end) with "
                                 "start < end")
        c_lo, c_hi = (time_to_col(tfr.times, t) for t in (t_lo, t_hi))

    rows = np.arange(n_rows, dtype=np.float64)
    cols = np.arange(n_frames, dtype=np.float64)
    i0, i1, fr, r_in = _axis_weights(h.shape[0], rows, r_lo, r_hi)
    r_in[:a] = False
    r_in[b:] = False
    j0, j1, fc, c_in = _axis_weights(h.shape[1], cols, c_lo, c_hi)
    # Separable: rows first on the small heatmap, then a gather per column.
    hr = h[i0] * (1 - fr)[:, None] + h[i1] * fr[:, None]           # (n_rows, w)
    hr[~r_in] = 0.0
    out = np.empty((n_rows, n_frames), dtype=np.float32)
    out[:] = hr[:, j0] * (1 - fc) + hr[:, j1] * fc
    out[:, ~c_in] = 0.0
    return np.clip(out, 0.0, 1.0, out=out)


def threshold_mask(soft, level: float) -> np.ndarray:
    """Binary mask of the cells where ``soft >= level``.

    Parameters
    ----------
    soft : np.ndarray [shape=(n_rows, n_frames), float, in [0, 1]]
    level : float in (0, 1]

    Returns
    -------
    np.ndarray [shape=(n_rows, n_frames), bool]
    """
    return threshold(soft, level)


def attribution_curve(band_inverse, *, smooth_samples: int) -> np.ndarray:
    """Per-sample share of the highlighted energy: ``|x_h|`` smoothed, max 1.

    Parameters
    ----------
    band_inverse : np.ndarray [shape=(n,), real]
        The inverse of the heatmap-weighted (or thresholded) coefficients.
    smooth_samples : int >= 1
        Moving-average length in samples (1 = no smoothing). About one period
        of the slowest highlighted component gives a smooth envelope.

    Returns
    -------
    np.ndarray [shape=(n,), float64, in [0, 1]]
        ``uniform_filter(|x_h|, smooth_samples) / max``; all zeros when the
        inverse is zero.
    """
    x = np.asarray(band_inverse)
    if x.ndim != 1 or x.size < 1:
        raise ShapeError(f"band inverse must be 1-D, got shape {x.shape}")
    if np.iscomplexobj(x) or not np.all(np.isfinite(x)):
        raise ParameterError("band inverse must be real and finite")
    n = int(smooth_samples)
    if n != smooth_samples or n < 1:
        raise ParameterError(f"smooth_samples={smooth_samples!r} must be an integer >= 1")
    env = np.abs(x.astype(np.float64))
    if n > 1:
        env = uniform_filter1d(env, size=min(n, 2 * env.size), mode="nearest")
    env = np.maximum(env, 0.0)  # the filter's rounding can leave -0 / -1e-17
    peak = env.max()
    return env / peak if peak > 0 else np.zeros_like(env)


def smoothing_samples(tfr, mask) -> int:
    """Moving-average length for the attribution curve: one period of the lowest
    frequency the mask keeps (at least 1, at most a quarter of the signal)."""
    rows = np.flatnonzero(np.asarray(mask).any(axis=1))
    f = np.asarray(tfr.frequencies, float)[rows] if rows.size else np.array([])
    f = f[f > 0]
    if f.size == 0:
        return 1
    n = int(round(1.0 / (float(f.min()) * float(tfr.dx))))
    return int(np.clip(n, 1, max(1, tfr.n_samples // 4)))


@dataclass(frozen=True)
class Attribution:
    """What a heatmap says about a signal (:func:`attribute`).

    Attributes
    ----------
    mask : np.ndarray [shape=tfr.shape, bool or float32]
        The thresholded binary mask, or the soft weights.
    inverse : np.ndarray [shape=(n_samples,), float64] or None
        The inverse of the masked coefficients; None when a binary mask keeps
        no cell.
    curve : np.ndarray [shape=(n_samples,), float64, in [0, 1]] or None
        :func:`attribution_curve` of ``inverse``.
    kept : int
        Cells at or above the threshold.
    smooth_samples : int
        The curve's moving-average length.
    """

    mask: np.ndarray
    inverse: np.ndarray | None
    curve: np.ndarray | None
    kept: int
    smooth_samples: int


def attribute(tfr, heat, *, level: float = 0.5, soft: bool = False) -> Attribution:
    """The heatmap-weighted inverse and attribution curve, as the GUI's heatmap dialog
    computes them (app/heatmap_dialog.py).

    Parameters
    ----------
    tfr : TFR
    heat : np.ndarray [shape=(h, w), float in [0, 1], row 0 = lowest frequency]
        As :func:`core.analysis.heatmap.load_heatmap` returns it.
    level : float in (0, 1]
        Threshold of the binary mask (also the cells counted as kept).
    soft : bool
        Invert the soft weights instead of the binary mask.
    """
    from phasebrush.core.tf.inversion import invert

    weights = heatmap_to_mask(heat, tfr)
    binary = threshold_mask(weights, level)
    kept = int(np.count_nonzero(binary))
    mask = weights if soft else binary
    if not (soft or kept):
        return Attribution(mask, None, None, 0, 1)
    n = smoothing_samples(tfr, binary if kept else weights > 0)
    inverse = invert(tfr, mask)
    return Attribution(mask, inverse, attribution_curve(inverse, smooth_samples=n), kept, n)
