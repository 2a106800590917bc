"""Calibrated peak widths of CWT rows: the FWHM a spectroscopist would read.

For a spectrum (x in cm^-1, ppm, nm ...) a CWT row's "frequency" is in cycles
per x-unit, and its reciprocal (a period) is not the width of the peaks that
light the row up: a Gaussian absorption band of FWHM 24 cm^-1 is brightest in
the row of period ~63 cm^-1. This module labels each row with the FWHM ``w``
(in x-units) of the Gaussian peak whose scalogram response is strongest there.

Derivation
----------
A Gaussian peak of height ``A`` and FWHM ``w`` (``sigma = w / FWHM_PER_SIGMA``,
``FWHM_PER_SIGMA = 2 sqrt(2 ln 2) = 2.3548``) has the spectrum
``A sigma sqrt(2 pi) exp(-(omega sigma)^2 / 2)`` (``omega`` in radians per
x-unit). The row of scale ``s`` (x-units: ssqueezepy's scale times ``dx``)
filters with ``psi_hat(s omega)`` (ssqueezepy's wavelet, L1-normalised: the
same peak gain at every scale), so at the peak's
centre its coefficient is the overlap

    W(s; sigma) = A sigma / sqrt(2 pi) * int_0^inf psi_hat(s omega) exp(-(omega sigma)^2 / 2)
                  d omega  =  A / sqrt(2 pi) * b h(b),     b = sigma / s,
    h(b) = int_0^inf psi_hat(u) exp(-(u b)^2 / 2) du.

It depends on ``sigma`` and ``s`` only through ``b``, so one maximisation of
``b h(b)`` per wavelet (:func:`scale_width_ratio`) answers both questions at
once: the row that responds most to a peak of width ``w`` (fixed ``w``, best
``s``) and the peak width a row responds to most (fixed ``s``, best ``w`` at a
fixed height) are the same pair ``w = kappa s`` with ``kappa = 2.3548 b*``.
For a narrow-band wavelet peaking at ``omega_p`` the optimum is
``omega_p sigma = 1``, so ``w ~ 0.375 / f`` with ``f = omega_p / (2 pi s)``;
each wavelet's bandwidth moves the constant slightly
(:func:`width_constant`, e.g. 0.3757 for the default GMW).

Rows are labelled from their scales, not from their frequency labels:
ssqueezepy's row frequencies ('peak' convention) are log-spaced between the
discrete peaks of the largest and smallest scale, which drift up to ~10 %
from ``omega_p / (2 pi s)`` at the ends (the top row is clipped at Nyquist).
:func:`width_axis` therefore recomputes the rows' scales; ``c / f`` is the
fallback where they cannot be recomputed.

Synchrosqueezed CWT rows hold energy reassigned to the instantaneous
frequency; for them the widths are ``c / f`` (an approximation: the
reassigned peak of a broad, non-oscillating band is not well defined).
STFT kinds have no width axis (a peak's STFT is strongest at frequency 0).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from phasebrush.core.errors import ParameterError

__all__ = ["FWHM_PER_SIGMA", "scale_width_ratio", "width_constant", "frequency_to_width",
           "width_to_frequency", "WidthAxis", "width_axis", "has_width_axis"]

#: FWHM of a Gaussian in units of its standard deviation, ``2 sqrt(2 ln 2)``.
FWHM_PER_SIGMA = float(2.0 * np.sqrt(2.0 * np.log(2.0)))


def _cwt_spec(spec):
    from phasebrush.core.tf.transforms import _check_spec

    _check_spec(spec)
    if not spec.is_cwt:
        raise ParameterError(f"feature widths need a CWT kind, got kind={spec.kind!r}")
    from phasebrush.core.tf.transforms import _wavelet_key

    return _wavelet_key(spec)


def _overlap(wk: str):
    """``b -> b h(b)`` (see the module docstring) for wavelet key ``wk``, and ``omega_p``."""
    from phasebrush.core.tf.transforms import _SSQ_LOCK, _peak_radian, _wavelet

    wav = _wavelet(wk)
    wp = _peak_radian(wk)

    def fn(w):
        with _SSQ_LOCK:
            return np.real(np.asarray(wav.fn(w)))

    # where psi_hat is above 1e-14 of its peak: a coarse log grid, then a fine linear one
    coarse = wp * np.geomspace(1e-4, 1e3, 20001)
    v = np.abs(fn(coarse))
    live = np.flatnonzero(v > 1e-14 * v.max())
    lo = coarse[max(live[0] - 1, 0)]
    hi = coarse[min(live[-1] + 1, coarse.size - 1)]
    u = np.linspace(lo, hi, 100001)
    psih = fn(u)
    du = u[1] - u[0]

    def bh(b: float) -> float:
        g = psih * np.exp(-0.5 * (u * b) ** 2)
        return float(b * du * (g.sum() - 0.5 * (g[0] + g[-1])))   # trapezoid rule

    return bh, wp


@functools.lru_cache(maxsize=16)
def _ratio(wk: str) -> float:
    from scipy.optimize import minimize_scalar

    bh, wp = _overlap(wk)
    # b* is ~1 / omega_p for any reasonable wavelet; search a factor 20 either side
    res = minimize_scalar(lambda lb: -bh(np.exp(lb)),
                          bounds=(np.log(0.05 / wp), np.log(20.0 / wp)), method="bounded",
                          options={"xatol": 1e-9})
    b_star = float(np.exp(res.x))
    if not (0.05 / wp * 1.01 < b_star < 20.0 / wp / 1.01):
        raise ParameterError(f"wavelet {wk!r}: no interior maximum of the Gaussian-peak "
                             f"response (b* = {b_star:.4g})")
    return FWHM_PER_SIGMA * b_star


def scale_width_ratio(spec) -> float:
    """``kappa``: FWHM of the best-matched Gaussian peak per unit of wavelet scale.

    A row of scale ``s`` (samples, ssqueezepy's scales) is brightest for a
    Gaussian peak of FWHM ``kappa * s * dx`` x-units. Computed once per
    wavelet by maximising the overlap of the peak's spectrum with the
    wavelet's frequency response (module docstring); cached.

    Parameters
    ----------
    spec : TransformSpec
        A CWT kind; its wavelet (and GMW time-bandwidth) decide ``kappa``.

    Returns
    -------
    float > 0
        Dimensionless (x-units per (scale * dx)). Default GMW: 0.8698;
        GMW time-bandwidth 60: 1.261; morlet: 0.1762; bump: 0.4724.

    Raises
    ------
    ParameterError
        Not a CWT kind, or a bad spec.
    """
    return _ratio(_cwt_spec(spec))


def width_constant(spec) -> float:
    """``c`` in ``w = c / f``: FWHM (x-units) times row frequency (cycles per x-unit).

    ``f`` is the continuous peak frequency ``omega_p / (2 pi s dx)`` of the
    row's wavelet; ``c = kappa omega_p / (2 pi)`` (:func:`scale_width_ratio`).
    About 0.376 for every wavelet here (the default GMW: 0.3757).

    Raises
    ------
    ParameterError
        Not a CWT kind, or a bad spec.
    """
    from phasebrush.core.tf.transforms import _peak_radian

    wk = _cwt_spec(spec)
    return _ratio(wk) * _peak_radian(wk) / (2.0 * np.pi)


def frequency_to_width(f, spec) -> np.ndarray:
    """FWHM (x-units) of the Gaussian peak brightest at frequency ``f`` (cycles per x-unit).

    ``c / f`` (:func:`width_constant`); ``inf`` at ``f <= 0``. For a
    transform's own rows prefer :func:`width_axis`, which uses their scales.

    Parameters
    ----------
    f : float or np.ndarray [any shape, float64]
    spec : TransformSpec (a CWT kind)

    Returns
    -------
    np.ndarray [shape of ``f``, float64, > 0]
    """
    f = np.asarray(f, dtype=np.float64)
    c = width_constant(spec)
    with np.errstate(divide="ignore"):
        return np.where(f > 0, c / np.where(f > 0, f, 1.0), np.inf)


def width_to_frequency(w, spec) -> np.ndarray:
    """Inverse of :func:`frequency_to_width`: ``c / w`` cycles per x-unit (0 at ``inf``).

    Parameters
    ----------
    w : float or np.ndarray [any shape, float64, > 0]
    spec : TransformSpec (a CWT kind)

    Returns
    -------
    np.ndarray [shape of ``w``, float64]

    Raises
    ------
    ParameterError
        A width <= 0 or NaN.
    """
    w = np.asarray(w, dtype=np.float64)
    if np.any(~(w > 0)):
        raise ParameterError(f"widths must be > 0, got min {np.nanmin(w) if w.size else w!r}")
    return width_constant(spec) / w


@dataclass(frozen=True, eq=False)
class WidthAxis:
    """Calibrated peak widths of a transform's rows, and the map between them.

    Attributes
    ----------
    frequencies : np.ndarray [shape=(n_rows,), float64, ascending, > 0]
        The rows' frequencies (cycles per x-unit), as the transform labels them.
    widths : np.ndarray [shape=(n_rows,), float64, descending, > 0]
        FWHM (x-units) of the Gaussian peak brightest in each row. Edge rows
        (nominal frequencies) continue their neighbour's ratio ``w f``.
    constant : float
        :func:`width_constant` of the wavelet (beyond the rows, ``w = c' / f``
        with the end row's own ``c' = w f``).
    from_scales : bool
        True when the widths come from the rows' recomputed scales (exact);
        False for ``c / f`` (synchrosqueezed kinds, or scales not recoverable).
    """

    frequencies: np.ndarray
    widths: np.ndarray
    constant: float
    from_scales: bool

    def to_width(self, f) -> np.ndarray:
        """Width (x-units) at frequency ``f`` (cycles per x-unit), interpolated
        log-log between rows; ``inf`` at ``f <= 0``.

        Parameters
        ----------
        f : float or np.ndarray [any shape]

        Returns
        -------
        np.ndarray [shape of ``f``, float64]
        """
        f = np.asarray(f, dtype=np.float64)
        pos = f > 0
        lf = np.log(np.where(pos, f, 1.0))
        lw = self._interp(lf, np.log(self.frequencies), np.log(self.widths))
        return np.where(pos, np.exp(lw), np.inf)

    def to_frequency(self, w) -> np.ndarray:
        """Frequency (cycles per x-unit) whose row is brightest for a peak of FWHM ``w``;
        0 at ``w = inf``, ``inf`` at ``w <= 0``.

        Parameters
        ----------
        w : float or np.ndarray [any shape]

        Returns
        -------
        np.ndarray [shape of ``w``, float64]
        """
        w = np.asarray(w, dtype=np.float64)
        ok = (w > 0) & np.isfinite(w)
        lw = np.log(np.where(ok, w, 1.0))
        # widths descend: interpolate on the reversed arrays
        lf = self._interp(lw, np.log(self.widths[::-1]), np.log(self.frequencies[::-1]))
        return np.where(ok, np.exp(lf), np.where(w > 0, 0.0, np.inf))

    @staticmethod
    def _interp(x, xp, fp):
        """Linear interpolation with slope -1 (``w f`` constant) beyond the ends."""
        x = np.asarray(x, dtype=np.float64)
        y = np.interp(x, xp, fp)
        y = np.where(x < xp[0], fp[0] - (x - xp[0]), y)
        return np.where(x > xp[-1], fp[-1] - (x - xp[-1]), y)


def has_width_axis(spec, unit: str) -> bool:
    """Whether rows of ``spec`` on an axis in ``unit`` get calibrated peak widths:
    CWT kinds of signals whose axis is not time in seconds."""
    return bool(getattr(spec, "is_cwt", False)) and (unit or "") != "s"


def width_axis(tfr) -> WidthAxis:
    """The calibrated width of every row of ``tfr`` (a TFR or a long-mode TFR).

    Wavelet rows: ``kappa * s * dx`` from the scales the transform used
    (recomputed from ``spec``, ``n_samples`` and ``dx``; cheap, O(rows));
    edge rows and synchrosqueezed kinds: see :class:`WidthAxis`.

    Parameters
    ----------
    tfr : TFR
        A CWT kind ("cwt" or "ssq_cwt").

    Returns
    -------
    WidthAxis

    Raises
    ------
    ParameterError
        An STFT kind, or a row frequency <= 0.
    """
    from phasebrush.core.tf.transforms import _selected_scales

    spec = tfr.spec
    c = width_constant(spec)
    f = np.asarray(tfr.frequencies, dtype=np.float64)
    if f.size == 0 or np.any(~(f > 0)) or np.any(~np.isfinite(f)):
        raise ParameterError("feature widths need finite row frequencies > 0")
    widths = c / f
    edges = sorted(int(i) for i in getattr(tfr, "edge_row_indices", ()))
    wavelet_rows = np.setdiff1d(np.arange(f.size), edges)
    from_scales = False
    if spec.kind == "cwt" and wavelet_rows.size:
        try:
            s = np.asarray(_selected_scales(spec, int(tfr.n_samples), float(tfr.dx)))
        except (ParameterError, MemoryError, ValueError):
            s = None
        if s is not None and s.size == wavelet_rows.size:
            widths[wavelet_rows] = scale_width_ratio(spec) * s[::-1] * float(tfr.dx)
            from_scales = True
    if from_scales:   # an edge row continues its neighbour's w * f
        for e in edges:
            near = wavelet_rows[np.argmin(np.abs(wavelet_rows - e))]
            widths[e] = widths[near] * f[near] / f[e]
    widths.flags.writeable = False
    f = f.copy()
    f.flags.writeable = False
    return WidthAxis(frequencies=f, widths=widths, constant=c, from_scales=from_scales)
