"""CWT coefficients of a column range, on a block's FFT grid.

The whole-signal CWT (:func:`core.tf.transforms.transform`, kind 'cwt') is a
circular convolution on the padded grid of ``n_pad`` samples::

    W[r] = ifft(fft(xp) * psi_r)[pad_left:pad_left + n],  psi_r(k) = Psi_r(2 pi k / n_pad)

with ``Psi_r`` a function of frequency (ssqueezepy's wavelet at scale s_r,
or an edge filter built from the wavelets' weighted sum). Here the same
functions are sampled on a block's grid of ``M`` samples and applied to the
padded signal's segment reaching ``L`` samples beyond the block on each side
(:func:`core.engine.blocks.padded_segment`, reflect padding emulated at the
true ends). The two results differ only by the part of row r's impulse
response beyond lag ``L`` (truncated on one grid, aliased on the other), so

    |W_block - W_whole| <= 2 * tail_r(L) * max|x|,  tail_r(L) = sum_{|m| > L} |h_r[m]|

and :func:`row_support` picks ``L`` with ``tail_r(L) <= tol * max|Psi_r|``.

Two kinds of row do not fit that scheme:

- rows whose support reaches a good part of the signal (the low edge row,
  wavelets within a few octaves of 1 / (N dx)): the block grid is then the
  whole padded grid itself (exact, memory O(rows x n_pad));
- rows whose filter is non-zero at Nyquist (GMW nv 32: the top ~25 rows,
  above ~0.75 Nyquist, and the high edge row): the cut there makes the
  impulse response decay like 1/m (its real part like 1/m^2), so those rows
  take ``nyquist_overlap`` samples, and their errors fall off with it.
  Measured at N = 40000 on white noise, relative to the largest coefficient:
  5e-3 (complex) and 1e-6 (real parts) at 16384 samples. Real parts use
  32768 by default (1e-7), complex rows 65536 (~1e-3): the complex
  coefficients of those rows are NOT block-invisible to 1e-6; the inverse,
  which reads real parts only, is.

Memory is O(rows x M) per call, in row chunks; ``M`` is an even fast FFT
length at least ``c1 - c0 + 2 L``.
"""

from __future__ import annotations

import functools
import threading
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sp_fft

from phasebrush.core.engine.blocks import Steps, padded_segment
from phasebrush.core.errors import ParameterError
from phasebrush.core.tf import transforms as T

__all__ = ["CWTGeometry", "cwt_geometry", "row_filters", "row_filters_real", "row_support",
           "block_grid", "cwt_columns", "DEFAULT_TOL", "NYQUIST_OVERLAP"]

DEFAULT_TOL = 1e-10          # kernel tail beyond the overlap, relative to the filter's peak
# overlap of the rows that reach Nyquist (see the module docstring): their real
# parts (all an inverse needs) decay like 1/m^2, the complex rows like 1/m
NYQUIST_OVERLAP = {"real": 1 << 15, "complex": 1 << 16}
_CHUNK_ELEMS = 1 << 20       # rows x M per FFT batch (16 MiB of complex128)
_EVAL_ELEMS = 1 << 20        # rows x M per filter evaluation (ssqueezepy's temporaries)
_DEFAULT_SPEC = T.TransformSpec()


@dataclass(frozen=True, eq=False)
class CWTGeometry:
    """Everything of a whole-signal CWT except its filters and coefficients.

    Attributes
    ----------
    spec : TransformSpec
        kind 'cwt'.
    n_samples : int
    dx : float
    n_pad, pad_left : int
        The whole-signal padded grid (:func:`core.tf.transforms.cwt_padding`).
    scales : np.ndarray [shape=(n_rows,), float64]
        Wavelet scale per TFR row (row 0 = lowest frequency); NaN for edge rows.
    frequencies, row_weights : np.ndarray [shape=(n_rows,), float64]
        As :class:`core.tf.transforms.CWTFilterbank` gives them.
    edge_row_indices : tuple of int
    k_mid : float
        Edge split frequency in cycles per sample (geometric middle of the
        wavelets' frequencies).
    """

    spec: T.TransformSpec
    n_samples: int
    dx: float
    n_pad: int
    pad_left: int
    scales: np.ndarray
    frequencies: np.ndarray
    row_weights: np.ndarray
    edge_row_indices: tuple[int, ...]
    k_mid: float
    _cache: dict = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def n_rows(self) -> int:
        return len(self.scales)

    @property
    def wavelet_rows(self) -> np.ndarray:
        """TFR rows that are wavelets [shape=(n_wavelets,), intp]."""
        return np.flatnonzero(np.isfinite(self.scales))


@functools.lru_cache(maxsize=8)
def _geometry(spec: T.TransformSpec, n_samples: int, dx: float) -> CWTGeometry:
    wk = T._wavelet_key(spec)
    scales = T._selected_scales(spec, n_samples, dx)          # ascending scale
    freqs = T._associated_frequencies(wk, scales, n_samples, dx)
    weights = T._scale_row_weights(scales, T._adm_ssq(wk))[::-1].copy()
    n_pad, pad_left = T.cwt_padding(n_samples)
    s_rows = scales[::-1].copy()
    k_mid = float(np.sqrt(freqs[0] * freqs[-1]) * dx)
    edge = ()
    if spec.edge_rows:
        step = 2.0 ** (1.0 / spec.nv)
        freqs = np.concatenate([[freqs[0] / step], freqs, [max(0.5 / dx, freqs[-1] * step)]])
        weights = np.concatenate([[1.0], weights, [1.0]])
        s_rows = np.concatenate([[np.nan], s_rows, [np.nan]])
        edge = (0, len(freqs) - 1)
    for a in (s_rows, freqs, weights):
        a.flags.writeable = False
    return CWTGeometry(spec=spec, n_samples=n_samples, dx=dx, n_pad=n_pad, pad_left=pad_left,
                       scales=s_rows, frequencies=freqs, row_weights=weights,
                       edge_row_indices=edge, k_mid=k_mid)


def cwt_geometry(spec: T.TransformSpec, n_samples: int, *, dx: float = 1.0) -> CWTGeometry:
    """The :class:`CWTGeometry` of ``spec`` for ``n_samples`` (cached).

    Costs O(n_wavelets) plus ssqueezepy's scale search, never rows x samples.

    Raises
    ------
    ParameterError
        Not kind 'cwt' (the SSQ and STFT kinds are not block-wise CWTs), a bad
        spec, or too few samples.
    """
    T._check_spec(spec)
    if spec.kind != "cwt":
        raise ParameterError(f"the block-wise CWT needs kind 'cwt', got kind={spec.kind!r}")
    n_samples, dx = int(n_samples), float(dx)
    if not np.isfinite(dx) or dx <= 0:
        raise ParameterError(f"dx={dx!r} must be > 0")
    # min_samples() searches lengths (seconds); long signals pass it anyway
    # (fmin's own limit is checked by the scale selection)
    if n_samples < max(4096, T._fmin_samples(spec, dx)) and n_samples < T.min_samples(spec, dx):
        raise ParameterError(
            f"{n_samples} samples are too few for this CWT (at least "
            f"{T.min_samples(spec, dx)} are needed)")
    tb = spec.time_bandwidth if spec.wavelet == "gmw" else None
    key = T.TransformSpec(kind="cwt", wavelet=spec.wavelet,
                          time_bandwidth=None if tb is None else float(tb), nv=int(spec.nv),
                          scales=spec.scales,
                          fmin=None if spec.fmin is None else float(spec.fmin),
                          fmax=None if spec.fmax is None else float(spec.fmax),
                          edge_rows=bool(spec.edge_rows))
    return _geometry(key, n_samples, dx)


@functools.lru_cache(maxsize=8)
def _closed_form(wavelet_key: str) -> tuple[float, float, float] | None:
    """``(beta, gamma, c)`` with ``fn(w) = exp(c + beta log w - w**gamma)`` (w > 0, else 0)
    for ssqueezepy's first-order L1 GMW; None for other wavelets, or when the closed
    form does not reproduce ``fn`` to 1e-12 on a probe.

    Why: with ``w = s k 2 pi / M`` the exponent is ``a_s + beta log k - b_s k**gamma``,
    so a row costs one exp per bin from two tables of ``k`` shared by every row,
    against ~50 ns per bin in ssqueezepy's parallel kernel on a loaded machine.
    """
    wav = T._wavelet(wavelet_key)
    cfg = getattr(wav, "config", None) or {}
    if (not str(getattr(wav, "name", "")).startswith("GMW") or cfg.get("norm") != "bandpass"
            or float(cfg.get("order", 0)) != 0 or cfg.get("centered_scale")):
        return None
    gamma, beta = float(cfg["gamma"]), float(cfg["beta"])
    wc = (beta / gamma) ** (1 / gamma)
    c = float(np.log(2.0) - beta * np.log(wc) + wc ** gamma)
    w = np.concatenate([[0.0, -1.0], np.geomspace(1e-3 * wc, 8 * wc, 4001)])
    with T._SSQ_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.asarray(wav.fn(w.copy())).real
    with np.errstate(divide="ignore"):
        mine = np.where(w > 0, np.exp(c + beta * np.log(np.maximum(w, 1e-300)) - w ** gamma), 0.0)
    ok = np.all(np.abs(mine - ref) <= 1e-12 * np.maximum(np.abs(ref), 1e-300 + 1e-14 * ref.max()))
    return (beta, gamma, c) if ok else None


class _Tables:
    """``beta log k`` and ``k**gamma`` for k = 0..n-1 (grown on demand): the
    k-dependent parts of the closed-form GMW on any grid [float64]."""

    def __init__(self, beta: float, gamma: float):
        self.beta, self.gamma = beta, gamma
        self.bl = np.zeros(0)
        self.kg = np.zeros(0)

    def upto(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.bl) < n:
            n = max(int(n), 2 * len(self.bl))
            k = np.arange(n, dtype=np.float64)
            with np.errstate(divide="ignore"):
                self.bl = self.beta * np.log(k)
            self.kg = k ** self.gamma
        return self.bl, self.kg

    @property
    def nbytes(self) -> int:
        return self.bl.nbytes + self.kg.nbytes


def _gmw_bins(cf, tables: _Tables | None, scale: float, lo: int, hi: int,
              M: int) -> np.ndarray:
    """The closed-form wavelet of ``scale`` at signed bins lo..hi of an M grid, as
    ``Wavelet(scale=s, N=M, nohalf=False)`` gives it (Nyquist halved on even grids)
    [float64]. ``tables``: None = the logs and powers of k computed here."""
    beta, gamma, c = cf
    out = np.zeros(hi - lo + 1)
    a = max(lo, 1)
    if a <= hi:
        h = scale * (2 * np.pi / M)
        t = out[a - lo:]
        if tables is not None:
            bl, kg = tables.upto(hi + 1)
            np.multiply(kg[a:hi + 1], -(h ** gamma), out=t)
            t += bl[a:hi + 1]
        else:
            k = np.arange(a, hi + 1, dtype=np.float64)
            np.power(k, gamma, out=t)
            t *= -(h ** gamma)
            np.log(k, out=k)
            k *= beta
            t += k
            del k
        t += c + beta * np.log(h)
        np.exp(t, out=t)
    if M % 2 == 0 and lo <= M // 2 <= hi:
        out[M // 2 - lo] *= 0.5
    return out


_TABLE_BINS = 1 << 21       # longer grids compute log k per row (the tables would be 32+ MiB)


def _wavelet_filters(geom: CWTGeometry, scales: np.ndarray, M: int) -> np.ndarray:
    out = np.empty((len(scales), M), dtype=np.float64)
    cf = _closed_form(T._wavelet_key(geom.spec))
    if cf is not None:
        # analytic: the negative bins are zero; one exp per positive bin
        tables = _Tables(*cf[:2]) if len(scales) > 1 and M // 2 < _TABLE_BINS else None
        for i, s in enumerate(np.asarray(scales, dtype=np.float64).ravel()):
            out[i, :M // 2 + 1] = _gmw_bins(cf, tables, float(s), 0, M // 2, M)
            out[i, M // 2 + 1:] = 0.0
        return out
    wav = T._wavelet(T._wavelet_key(geom.spec))
    step = max(1, _EVAL_ELEMS // M)
    for i in range(0, len(scales), step):
        with T._SSQ_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = np.asarray(wav(scale=scales[i:i + step, None], N=M, nohalf=False))
        out[i:i + step] = p.real if np.iscomplexobj(p) else p
    return out


def _edge_pair(geom: CWTGeometry, M: int) -> tuple[np.ndarray, np.ndarray]:
    """Low and high edge filters on the M grid (core.tf.transforms._edge_filters,
    the wavelets' weighted sum accumulated in chunks so rows x M is never held)."""
    key = ("edge", M)
    with geom._lock:
        hit = geom._cache.get(key)
    if hit is not None:
        return hit
    wr = geom.wavelet_rows
    R = np.zeros(M)
    step = max(1, _CHUNK_ELEMS // M)
    for i in range(0, len(wr), step):
        rows = wr[i:i + step]
        R += geom.row_weights[rows] @ _wavelet_filters(geom, geom.scales[rows], M)
    R = 0.5 * (R + np.roll(R[::-1], 1))
    G = 1.0 - R
    k = np.arange(M)
    k_abs = np.minimum(k, M - k)
    k_mid = geom.k_mid * M
    analytic = np.zeros(M)
    analytic[1:M // 2] = 2.0
    analytic[0] = 1.0
    analytic[M // 2] = 1.0 if M % 2 == 0 else 2.0
    low = np.where(k_abs < k_mid, G, 0.0) * analytic
    high = np.where(k_abs >= k_mid, G, 0.0) * analytic
    with geom._lock:
        # two grids at most: the edge pair is the only filter that needs every wavelet
        for old in [kk for kk in geom._cache if kk[0] == "edge"][:-1]:
            del geom._cache[old]
        geom._cache[key] = (low, high)
    return low, high


def row_filters(geom: CWTGeometry, rows, M: int) -> np.ndarray:
    """Filters of TFR ``rows`` on an M-point grid (numpy bin order).

    Returns
    -------
    np.ndarray [shape=(len(rows), M), float64]
        With ``M == geom.n_pad`` these are ``cwt_filterbank(...).psi[rows]``.
    """
    rows = np.asarray(rows, dtype=np.intp).ravel()
    out = np.empty((len(rows), M), dtype=np.float64)
    wav = np.isfinite(geom.scales[rows])
    if wav.any():
        out[wav] = _wavelet_filters(geom, geom.scales[rows[wav]], M)
    if (~wav).any():
        low, high = _edge_pair(geom, M)
        for i in np.flatnonzero(~wav):
            out[i] = low if rows[i] == 0 else high
    return out


def row_filters_real(geom: CWTGeometry, rows, M: int) -> np.ndarray:
    """Filters of ``Re W[rows]`` on the rfft bins of an M grid.

    ``Re ifft(X psi) = irfft(X * (psi(k) + psi(-k)) / 2)`` for a real signal.

    Returns
    -------
    np.ndarray [shape=(len(rows), M // 2 + 1), float64]
    """
    f = row_filters(geom, rows, M)
    k = np.arange(M // 2 + 1)
    return 0.5 * (f[:, k] + f[:, (M - k) % M])


def _probe_support(geom: CWTGeometry, r: int, part: str, tol: float,
                   nyquist_overlap: int) -> int | None:
    if r == 0 and geom.edge_row_indices:
        return None                      # low-pass to below the lowest wavelet: ~N long
    s = geom.scales[r]
    P = 1 << int(np.ceil(np.log2(max(4096.0, 4.0 * (s if np.isfinite(s) else 1.0)))))
    while True:
        if P >= geom.n_pad:
            return None
        f = row_filters(geom, [r], P)[0]
        peak = float(np.abs(f).max())
        if abs(f[P // 2]) > 1e-12 * peak:
            return int(nyquist_overlap)
        if part == "real":
            k = np.arange(P // 2 + 1)
            h = sp_fft.irfft(0.5 * (f[k] + f[(P - k) % P]), P)
        else:
            h = sp_fft.ifft(f)
        lag = np.minimum(np.arange(P), P - np.arange(P))
        per_lag = np.bincount(lag, weights=np.abs(h), minlength=P // 2 + 1)
        tail = per_lag.sum() - np.cumsum(per_lag)        # tail[L] = sum_{|m| > L}
        ok = np.flatnonzero(tail <= tol * peak)
        L = int(ok[0]) if len(ok) else P
        if L <= P // 8:
            return max(L, 1)
        P *= 4


def row_support(geom: CWTGeometry, rows, *, part: str = "complex", tol: float = DEFAULT_TOL,
                nyquist_overlap: int | None = None) -> int | None:
    """Overlap in samples that makes ``rows`` block-invisible (see module docstring).

    Parameters
    ----------
    geom : CWTGeometry
    rows : sequence of int
        TFR rows (row 0 = lowest frequency).
    part : {"complex", "real"}
        Support of the coefficients or of their real parts (all an inverse
        needs; shorter near Nyquist).
    tol : float
        Kernel tail beyond the overlap, relative to the filter's peak gain.
    nyquist_overlap : int or None
        Overlap of the rows whose filters reach Nyquist; None =
        ``NYQUIST_OVERLAP[part]``.

    Returns
    -------
    int or None
        The largest support of ``rows`` in samples, or None when some row
        needs the whole padded grid. Cached per row.
    """
    if part not in ("complex", "real"):
        raise ParameterError(f"part={part!r}: expected 'complex' or 'real'")
    if nyquist_overlap is None:
        nyquist_overlap = NYQUIST_OVERLAP[part]
    out = 0
    for r in np.unique(np.asarray(rows, dtype=np.intp)):
        key = ("support", int(r), part, float(tol), int(nyquist_overlap))
        with geom._lock:
            hit = geom._cache.get(key, False)
        if hit is False:
            hit = _probe_support(geom, int(r), part, float(tol), int(nyquist_overlap))
            with geom._lock:
                geom._cache[key] = hit
        if hit is None:
            return None
        out = max(out, hit)
    return out


def block_grid(geom: CWTGeometry, c0: int, c1: int, support: int | None) -> tuple[int, int, int]:
    """``(p0, M, q0)``: the block's segment starts at padded index ``p0``, has
    ``M`` samples, and column ``c0`` is its sample ``q0``.

    The whole padded grid (``p0 = 0, M = n_pad``: exactly the whole-signal
    path) when the support is None or the block with its overlap would not be
    smaller.
    """
    B = c1 - c0
    if support is not None:
        M = sp_fft.next_fast_len(B + 2 * support, real=True)
        M += M % 2
        if M < geom.n_pad:
            return geom.pad_left + c0 - support, M, support
    return 0, geom.n_pad, geom.pad_left + c0


def cwt_columns(y, c0: int, c1: int, *, spec: T.TransformSpec = _DEFAULT_SPEC,
                dx: float = 1.0, rows=None, tol: float = DEFAULT_TOL,
                nyquist_overlap: int | None = None, cancel=None,
                progress=None) -> np.ndarray:
    """``transform(Signal(y), spec).coefficients[rows, c0:c1]`` without the whole transform.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
        The WHOLE signal (the scales, padding and edge rows depend on its length).
    c0, c1 : int
        Half-open column range, ``0 <= c0 < c1 <= n_samples``.
    spec : TransformSpec
        kind 'cwt'.
    dx : float
        Sample spacing (frequencies in cycles per unit of dx).
    rows : sequence of int, or None
        TFR rows (row 0 = lowest frequency); None = all.
    tol, nyquist_overlap
        See :func:`row_support`.
    cancel : callable () -> bool, or None
        Checked between row batches; True raises Cancelled.
    progress : callable (float) -> None, or None
        Fraction done, 0..1.

    Returns
    -------
    np.ndarray [shape=(len(rows), c1 - c0), complex128]

    Raises
    ------
    ParameterError
        Bad range, rows or spec.
    Cancelled
    """
    steps = Steps.of(cancel, progress, "block CWT")
    y = np.asarray(y, dtype=np.float64).ravel()
    geom = cwt_geometry(spec, len(y), dx=dx)
    c0, c1 = int(c0), int(c1)
    if not 0 <= c0 < c1 <= geom.n_samples:
        raise ParameterError(f"columns [{c0}, {c1}) are not inside [0, {geom.n_samples})")
    rows = np.arange(geom.n_rows) if rows is None else np.asarray(rows, dtype=np.intp).ravel()
    if len(rows) and (rows.min() < 0 or rows.max() >= geom.n_rows):
        raise ParameterError(f"rows must lie in [0, {geom.n_rows}), got "
                             f"{int(rows.min())}..{int(rows.max())}")
    steps.check(0.0)
    out = np.empty((len(rows), c1 - c0), dtype=np.complex128)
    if not len(rows):
        return out
    support = row_support(geom, rows, part="complex", tol=tol, nyquist_overlap=nyquist_overlap)
    p0, M, q0 = block_grid(geom, c0, c1, support)
    X = sp_fft.fft(padded_segment(y, p0, M, geom.n_pad, geom.pad_left))
    chunk = max(1, _CHUNK_ELEMS // M)
    for i in range(0, len(rows), chunk):
        steps.check(i / len(rows))
        W = sp_fft.ifft(row_filters(geom, rows[i:i + chunk], M) * X, axis=-1, overwrite_x=True)
        out[i:i + chunk] = W[:, q0:q0 + c1 - c0]
    steps.check(1.0)
    return out
