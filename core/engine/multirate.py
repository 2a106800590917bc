"""Multirate CWT: each row at the lowest rate its band allows.

A CWT row is ``W_r[q] = (1/M) sum_k X[k] psi_r(k) exp(2 pi i k q / M)`` on an
FFT grid of ``M`` samples (the whole padded grid, or a block's grid as in
:mod:`core.engine.cwt_blocks`). Sampled at ``q = q0 + j d`` (``d`` divides
``M``), the exponential is periodic in ``k`` with period ``M / d``, so::

    W_r[q0 + j d] = ifft_{M/d}(Y)[j] / d,
    Y[m] = sum_{k = m mod M/d} X[k] psi_r(k) exp(2 pi i k q0 / M)

EXACTLY, for any ``d`` (the modulation ``exp(2 pi i k q0 / M)`` brings the
bins back to the right phase). Only the bins where ``|psi_r|`` exceeds
``tol`` times its peak are kept; when they span at most ``M / d`` bins they
land in ``Y`` without overlap and the cost of a row is its support plus one
inverse FFT of ``M / d``. The hop ``d_r`` is the largest power of two with
``d_r * width_r * headroom <= 0.9`` (``width_r``: the support in cycles per
sample), at most ``max_hop``.

What holds (``|C|`` relative to the row's largest coefficient):

- rows on the whole padded grid (every row when ``n_pad <= WHOLE_GRID``, and
  the rows :func:`core.engine.cwt_blocks.row_support` finds too long for a
  block, or longer than half a block and the Nyquist overlap, e.g. the low
  edge row and, without fmin, the lowest few octaves): the whole-signal
  coefficients at the hops up to the dropped bins, ~1e-9 (interior and ends
  alike: the padding is the whole path's own). They are low and narrow: an
  inverse FFT of ``n_pad / d`` (d large) from the padded signal's low bins,
  which long grids compute by phases of a few 2^20 samples;
- block rows away from Nyquist: also the block truncation of
  :mod:`core.engine.cwt_blocks` (kernel tail beyond the overlap <= ``tol``),
  ~1e-9, so block boundaries are invisible;
- block rows whose filter reaches Nyquist (GMW nv 32: the top ~25 rows and
  the high edge row) carry cwt_blocks' Nyquist-cut error: ~1e-3 complex with
  the default 65536-sample overlap (their real parts ~1e-7). Only long
  signals (``n_pad > WHOLE_GRID``) have such block rows.

Block rows go in classes by overlap (cut at Nyquist; supports up to 1/16 of
a block; longer), one FFT grid per class, the same for every block.

Cost: the first-order L1 GMW (ssqueezepy's default) is evaluated in closed
form, ``exp(a_s + beta log k - b_s k**gamma)``, from two tables of ``k``
shared by all rows (one exp per kept bin; checked against ssqueezepy's
function once per wavelet); the edge rows reuse the wavelets' values. A grid's
spectrum is modulated once (``exp(2 pi i k q0 / M)``) for all its rows, and
rows of one hop share a batched inverse FFT.

Memory: the result holds ``sum_r (c1 - c0) / d_r`` coefficients (GMW nv 32:
~70 N for 520 rows, against 520 N for the whole transform); the work adds one
grid's spectrum, a batch of ``M / d`` complex vectors, and the cached filter
values (8 bytes per kept bin, at most ~256 MiB), checked against the budget
(:func:`estimate_multirate_bytes`) before anything is allocated.
"""

from __future__ import annotations

import collections
import functools
import os
import threading
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.fft as sp_fft

from phasebrush.core.engine import cwt_blocks as CB
from phasebrush.core.engine.blocks import Steps, padded_segment
from phasebrush.core.errors import ParameterError
from phasebrush.core.memory import check_fits
from phasebrush.core.tf import transforms as T

__all__ = ["MultirateCWT", "MultiratePlan", "plan_multirate", "cwt_multirate",
           "estimate_multirate_bytes", "WHOLE_GRID", "DEFAULT_MAX_HOP"]

WHOLE_GRID = 1 << 21          # padded grids up to this length are one exact block (32 MiB rfft)
DEFAULT_MAX_HOP = 1 << 10     # low rows need less, but 1/1024 of N is already negligible
_FILL = 0.9                   # d * width <= 0.9: the kept bins never overlap once folded
_BLOCK_FFT = 1 << 19          # target block grid when blocks are needed
_PROBE = 1 << 16              # grid on which the edge rows' supports are located
_POLY_P = 1 << 20             # phase length of the low-bin DFT of long padded grids
_FILTER_CACHE_BYTES = 256 << 20
_LOW_CHUNK = 1 << 22        # padded samples per chunk of phases in the low-bin DFT
_BATCH_ELEMS = 1 << 18      # values per batched inverse FFT (4 MiB of complex128)
_WORKERS = max(1, min(4, os.cpu_count() or 1))
_DEFAULT_SPEC = T.TransformSpec()


@dataclass(frozen=True, eq=False)
class MultiratePlan:
    """Where and at which hop each requested row is computed.

    Attributes
    ----------
    geom : CWTGeometry
    rows : np.ndarray [shape=(n,), intp]
        TFR rows (row 0 = lowest frequency), ascending.
    hops : np.ndarray [shape=(n,), int64]
        ``d_r``, powers of two.
    f_lo, f_hi : np.ndarray [shape=(n,), float64]
        Support of each row's filter in signed cycles per sample, within
        (-0.5, 0.5]: ``|psi_r| > tol * max|psi_r|`` only inside.
    whole : np.ndarray [shape=(n,), bool]
        Row computed on the whole padded grid (else block by block).
    overlaps : np.ndarray [shape=(n,), int64]
        Block overlap of each block row (0 for whole rows): the largest
        support of its class (rows reaching Nyquist; supports up to 1/16 of a
        block; longer ones), so that a block needs three FFT grids at most.
    block_length : int
        Columns per block, a multiple of every row's hop (tiles share the
        whole rows' samples).
    tol : float
    """

    geom: CB.CWTGeometry
    rows: np.ndarray
    hops: np.ndarray
    f_lo: np.ndarray
    f_hi: np.ndarray
    whole: np.ndarray
    overlaps: np.ndarray
    block_length: int
    tol: float


@dataclass(frozen=True, eq=False)
class MultirateCWT:
    """CWT rows of a column range, each at its own hop.

    ``coefficients[i][j] == transform(...).coefficients[rows[i], c0 + j * hops[i]]``
    (see the module docstring for the accuracy).

    Attributes
    ----------
    coefficients : tuple of np.ndarray [shape=(ceil((c1 - c0) / hops[i]),), complex64 or complex128]
    rows : np.ndarray [shape=(n,), intp]
        TFR rows, ascending in frequency.
    hops : np.ndarray [shape=(n,), int64]
    c0, c1 : int
        Column range.
    frequencies, row_weights : np.ndarray [shape=(n,), float64]
        Of these rows, as :class:`core.tf.transforms.TFR` gives them (cycles per unit of dx).
    n_samples : int
    dx : float
    edge_row_indices : tuple of int
        Positions in ``rows`` that are edge rows.
    estimated_bytes : int
    """

    coefficients: tuple
    rows: np.ndarray
    hops: np.ndarray
    c0: int
    c1: int
    frequencies: np.ndarray
    row_weights: np.ndarray
    n_samples: int
    dx: float
    edge_row_indices: tuple
    estimated_bytes: int

    def times(self, i: int) -> np.ndarray:
        """Column indices of ``coefficients[i]`` [shape=(len,), int64]."""
        return self.c0 + self.hops[i] * np.arange(len(self.coefficients[i]), dtype=np.int64)

    @property
    def n_values(self) -> int:
        return int(sum(len(c) for c in self.coefficients))


# ---------------------------------------------------------------- filters

def _wavelet(geom):
    return T._wavelet(T._wavelet_key(geom.spec))


@functools.lru_cache(maxsize=8)
def _omega_support(wavelet_key: str, tol: float) -> tuple[float, float]:
    """Radian frequencies (at scale 1) where ``|fn| > tol * max|fn|``: their hull,
    widened by two grid steps. Scale-free, so one search serves every row."""
    wav = T._wavelet(wavelet_key)
    wc = T._peak_radian(wavelet_key)
    w = np.linspace(-64 * wc, 64 * wc, (1 << 21) + 1)
    with T._SSQ_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = np.abs(np.asarray(wav.fn(w)))
    big = np.flatnonzero(v > tol * v.max())
    step = w[1] - w[0]
    return float(w[big[0]] - 2 * step), float(w[big[-1]] + 2 * step)


# the closed-form GMW lives with the block filters (row_filters uses it too)
_closed_form, _Tables, _gmw_bins = CB._closed_form, CB._Tables, CB._gmw_bins


def _wavelet_values(geom, scales, ks, M: int) -> list:
    """``Wavelet(scale=s, N=M, nohalf=False)`` at signed bins ``k``, for each pair of
    ``scales`` and ``ks`` (float64 arrays): ssqueezepy's ``scale * (k * 2 pi / M)``,
    Nyquist halved on even grids. One call of the wavelet function for many rows,
    because ssqueezepy's parallel numba kernel costs ~20 ms per call when the
    machine is busy, whatever the length."""
    if not len(ks):
        return []
    w = np.concatenate([s * (k * (2 * np.pi / M)) for s, k in zip(scales, ks, strict=True)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = np.asarray(_wavelet(geom).fn(w))
    p = np.array(p.real, dtype=np.float64) if np.iscomplexobj(p) else p.astype(np.float64)
    if M % 2 == 0:
        p[np.concatenate(ks) == M // 2] *= 0.5
    return np.split(p, np.cumsum([len(k) for k in ks])[:-1])


def _bin_range(f_lo: float, f_hi: float, M: int) -> tuple[int, int]:
    """First and last signed bin of an M grid inside [f_lo, f_hi] (cycles per sample)."""
    lo = max(int(np.ceil(f_lo * M)), -((M - 1) // 2))
    hi = min(int(np.floor(f_hi * M)), M // 2)
    return lo, hi


def _bins(f_lo: float, f_hi: float, M: int) -> np.ndarray:
    """Signed bins of an M grid inside [f_lo, f_hi] (cycles per sample) [int64]."""
    lo, hi = _bin_range(f_lo, f_hi, M)
    return np.arange(lo, hi + 1, dtype=np.int64)


def _wavelet_bands(geom, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Support of every TFR row that is a wavelet (NaN elsewhere) [cycles per sample]."""
    w_lo, w_hi = _omega_support(T._wavelet_key(geom.spec), float(tol))
    s = geom.scales
    with np.errstate(invalid="ignore"):
        f_lo = np.maximum(w_lo / (2 * np.pi * s), -0.5)
        f_hi = np.minimum(w_hi / (2 * np.pi * s), 0.5)
    return f_lo, f_hi


class _Evaluator:
    """Wavelet rows at contiguous signed bins of an M grid: the closed form where it
    holds, else ssqueezepy's function; ``known`` values (plan filters already
    computed on this grid, TFR row -> (lo, values)) are reused."""

    def __init__(self, geom, M: int, tables: _Tables | None = None, known=None):
        self.geom, self.M, self.known = geom, M, known or {}
        self.cf = _closed_form(T._wavelet_key(geom.spec))
        self.tables = tables if tables is not None or self.cf is None else _Tables(*self.cf[:2])

    def __call__(self, r: int, a: int, b: int) -> np.ndarray:
        hit = self.known.get(r)
        if hit is not None and hit[0] <= a and b < hit[0] + len(hit[1]):
            return hit[1][a - hit[0]:b - hit[0] + 1]
        s = float(self.geom.scales[r])
        if self.cf is not None:
            return _gmw_bins(self.cf, self.tables, s, a, b, self.M)
        return _wavelet_values(self.geom, [s], [np.arange(a, b + 1, dtype=np.int64)], self.M)[0]


def _edge_values(geom, which: int, lo: int, hi: int, M: int, tol: float,
                 psi: _Evaluator | None = None) -> np.ndarray:
    """The edge row ``which`` (0 = low, else high) at signed bins lo..hi of an M grid,
    as core.tf.transforms._edge_filters builds it (``G = 1 - R``,
    ``R(k) = sum_r w_r (psi_r(k) + psi_r(-k)) / 2``), from the wavelets that reach
    ``+-k`` only (the others are below ``tol`` there) [shape=(hi - lo + 1,), float64].

    Memory: a few vectors of ``hi - lo + 1`` (each wavelet's overlap is a slice)."""
    psi = psi if psi is not None else _Evaluator(geom, M)
    f_lo, f_hi = _wavelet_bands(geom, tol)
    wr = geom.wavelet_rows
    r_lo = np.maximum(np.ceil(f_lo[wr] * M), -((M - 1) // 2)).astype(np.int64)
    r_hi = np.minimum(np.floor(f_hi[wr] * M), M // 2).astype(np.int64)
    n = hi - lo + 1
    R = np.zeros(n)
    half = M % 2 == 0 and hi == M // 2
    # -k for k in [lo, hi] is [-hi, -lo]; on an even grid -M/2 is the bin M/2 itself
    parts = [(lo, hi, 1), (-hi + (1 if half else 0), -lo, -1)]
    if half:
        parts.append((M // 2, M // 2, 0))
    for a_s, b_s, sign in parts:
        if a_s > b_s:
            continue
        a = np.maximum(r_lo, a_s)
        b = np.minimum(r_hi, b_s)
        for j in np.flatnonzero(a <= b):
            r, aj, bj = int(wr[j]), int(a[j]), int(b[j])
            v = (0.5 * geom.row_weights[r]) * psi(r, aj, bj)
            if sign == 1:
                R[aj - lo:bj - lo + 1] += v
            elif sign == -1:          # k = -j: positions of -bj..-aj, reversed
                R[-bj - lo:-aj - lo + 1] += v[::-1]
            else:
                R[n - 1] += v[0]
    k = np.arange(lo, hi + 1, dtype=np.int64)
    G = 1.0 - R
    k_abs = np.abs(k)
    analytic = np.where(k > 0, 2.0, 0.0)
    analytic[k == 0] = 1.0
    if M % 2 == 0:
        analytic[k == M // 2] = 1.0
    part = k_abs < geom.k_mid * M if which == 0 else k_abs >= geom.k_mid * M
    return np.where(part, G, 0.0) * analytic


def _edge_band(geom, which: int, tol: float) -> tuple[float, float]:
    """Support hull of an edge row, located on a probe grid and widened by a bin."""
    P = _PROBE
    lo, hi = -(P // 2) + 1, P // 2
    k = np.arange(lo, hi + 1, dtype=np.int64)
    v = np.abs(_edge_values(geom, which, lo, hi, P, tol))
    big = np.flatnonzero(v > tol * v.max())
    lo, hi = k[big[0]] - 1, k[big[-1]] + 1
    return max(lo / P, -0.5), min(hi / P, 0.5)


def _row_bands(geom, rows, tol):
    f_lo, f_hi = _wavelet_bands(geom, tol)
    f_lo, f_hi = f_lo[rows].copy(), f_hi[rows].copy()
    for i, r in enumerate(rows):
        if not np.isfinite(geom.scales[r]):
            key = ("mr-edge-band", int(r), float(tol))
            with geom._lock:
                hit = geom._cache.get(key)
            if hit is None:
                hit = _edge_band(geom, 0 if r == 0 else 1, tol)
                with geom._lock:
                    geom._cache[key] = hit
            f_lo[i], f_hi[i] = hit
    return f_lo, f_hi


# ---------------------------------------------------------------- plan

def plan_multirate(geom: CB.CWTGeometry, rows=None, *, tol: float = CB.DEFAULT_TOL,
                   headroom: float = 1.0, max_hop: int = DEFAULT_MAX_HOP,
                   block_length: int | None = None,
                   nyquist_overlap: int | None = None) -> MultiratePlan:
    """Hops, supports and grids of ``rows`` (see the module docstring).

    Parameters
    ----------
    geom : CWTGeometry
    rows : sequence of int or None
        TFR rows; None = all.
    tol : float
        Relative filter level below which bins are dropped, and the block
        rows' kernel tail (:func:`core.engine.cwt_blocks.row_support`).
    headroom : float >= 1
        ``d_r * width_r * headroom <= 0.9``: larger = finer hops (smoother
        magnitudes for display), more memory.
    max_hop : int
        Largest hop, a power of two.
    block_length : int or None
        Columns per block; None = the whole padded grid as one block when
        ``n_pad <= WHOLE_GRID`` (exact, fastest), else blocks on grids near
        2^19. Rounded up to a multiple of the largest hop.
    nyquist_overlap : int or None
        Passed to :func:`core.engine.cwt_blocks.row_support`.
    """
    rows = np.arange(geom.n_rows) if rows is None else np.unique(np.asarray(rows, dtype=np.intp))
    if len(rows) and (rows.min() < 0 or rows.max() >= geom.n_rows):
        raise ParameterError(f"rows must lie in [0, {geom.n_rows}), got "
                             f"{int(rows.min())}..{int(rows.max())}")
    headroom, max_hop = float(headroom), int(max_hop)
    if not headroom >= 1.0:
        raise ParameterError(f"headroom={headroom!r} must be >= 1")
    if max_hop < 1 or max_hop & (max_hop - 1):
        raise ParameterError(f"max_hop={max_hop} must be a power of two")
    if block_length is not None and int(block_length) < 1:
        raise ParameterError(f"block_length={block_length} must be >= 1")
    f_lo, f_hi = _row_bands(geom, rows, tol)
    width = np.maximum(f_hi - f_lo, 1e-300)
    hops = 2 ** np.floor(np.log2(_FILL / (headroom * width)))
    hops = np.clip(hops, 1, min(max_hop, max(1, geom.n_pad // 16))).astype(np.int64)
    whole = np.zeros(len(rows), dtype=bool)
    overlaps = np.zeros(len(rows), dtype=np.int64)
    B = geom.n_samples
    if block_length is not None or geom.n_pad > WHOLE_GRID:
        nyq = CB.NYQUIST_OVERLAP["complex"] if nyquist_overlap is None else int(nyquist_overlap)
        sup = _time_supports(geom, rows, f_hi, tol, nyquist_overlap)
        whole = np.array([s is None for s in sup], dtype=bool)
        L = np.array([0 if s is None else s for s in sup], dtype=np.int64)
        B = int(block_length) if block_length is not None else _BLOCK_FFT // 2
        # rows with supports longer than half a block are low and narrow: on the whole
        # grid they cost an inverse FFT of n_pad / d (d large), where blocks would
        # need grids of several block lengths (8 M samples for 10 min at 44.1 kHz)
        whole |= (f_hi < 0.5) & (L > max(B // 2, nyq))
        blk = ~whole
        at_nyq = blk & (f_hi >= 0.5)
        short = blk & ~at_nyq & (L <= max(1, B // 16))
        # one grid per class: the rows cut at Nyquist, short and long supports, so
        # the many short rows do not pay the longest overlap
        for cls in (at_nyq, short, blk & ~at_nyq & ~short):
            if cls.any():
                overlaps[cls] = L[cls].max()
        # a block (with its overlap) as long as the whole grid: the whole grid is exact
        whole |= B + 2 * overlaps >= geom.n_pad
        overlaps[whole] = 0
    else:
        whole[:] = True
    if not whole.all():
        D = int(hops.max())         # tiles start at multiples of every hop
        B = -(-B // D) * D
    return MultiratePlan(geom=geom, rows=rows, hops=hops, f_lo=f_lo, f_hi=f_hi, whole=whole,
                         overlaps=overlaps, block_length=int(B), tol=float(tol))


def _time_supports(geom, rows, f_hi, tol, nyquist_overlap) -> list:
    """Block overlap per row (None = whole grid), as cwt_blocks.row_support finds it.

    Probing every row costs ~50 ms a row; a wavelet's impulse response is the
    reference row's dilated by the scale ratio, so wavelet rows clear of
    Nyquist take the reference's support times ``s / s_ref`` (+25 %, +16).
    Rows reaching Nyquist (``f_hi == 0.5``) and edge rows are probed (cached).
    """
    s = geom.scales
    wr = geom.wavelet_rows
    f_all_lo, f_all_hi = _wavelet_bands(geom, tol)
    clear = wr[f_all_hi[wr] < 0.5]
    ref, L_ref = None, None
    for r in clear[::-1][len(clear) // 4:]:            # from the high end, not at Nyquist
        L_ref = CB.row_support(geom, [int(r)], part="complex", tol=tol,
                               nyquist_overlap=nyquist_overlap)
        if L_ref is not None:
            ref = int(r)
            break
    out = []
    for r, fh in zip(rows, f_hi, strict=True):
        if ref is not None and np.isfinite(s[r]) and fh < 0.5:
            L = int(np.ceil(1.25 * L_ref * s[r] / s[ref])) + 16
            out.append(L if 8 * L < geom.n_pad else None)
        else:
            out.append(CB.row_support(geom, [int(r)], part="complex", tol=tol,
                                      nyquist_overlap=nyquist_overlap))
    return out


def _block_M(plan: MultiratePlan, B: int, L: int, cls=None) -> int:
    """Block grid: ``B + 2 L`` samples at least, a multiple of 16 times the largest
    hop of the class ``cls`` (plan indices; None = every block row)."""
    hops = plan.hops[~plan.whole] if cls is None else plan.hops[np.asarray(cls)]
    D = max(16, int(hops.max()) * 16)
    m = sp_fft.next_fast_len(-(-(B + 2 * int(L)) // D), real=True)
    return int(m * D)


def _classes(plan: MultiratePlan) -> list:
    """Block rows by overlap: (L, plan indices) per grid."""
    local = np.flatnonzero(~plan.whole)
    return [(int(L), local[plan.overlaps[local] == L]) for L in np.unique(plan.overlaps[local])]


def _grid_bytes(plan: MultiratePlan, idx, M: int) -> int:
    """Peak work of :func:`_grid_rows` for plan rows ``idx`` on an M grid, beside
    the filter cache: the modulated spectrum and its cached modulation (with the
    int64 bins and the phase behind them), one batch of inverse FFTs (input and
    output), one row's product, and the edge rows' temporaries."""
    idx = np.asarray(idx)
    if not len(idx):
        return 0
    spans = np.array([_bin_range(plan.f_lo[i], plan.f_hi[i], M) for i in idx])
    rng = int(spans[:, 1].max() - spans[:, 0].min() + 1)
    bins = spans[:, 1] - spans[:, 0] + 1
    batch = 0
    for d, c in zip(*np.unique(plan.hops[idx], return_counts=True), strict=True):
        Md = M // int(d)
        batch = max(batch, min(int(c), -(-_BATCH_ELEMS // Md)) * Md)
    edge = ~np.isfinite(plan.geom.scales[plan.rows[idx]])
    edge_tmp = 72 * int(bins[edge].max()) if edge.any() else 0
    return 16 * rng + 40 * rng + 2 * 16 * batch + 16 * int(bins.max()) + edge_tmp


def estimate_multirate_bytes(plan: MultiratePlan, n_columns: int, *, itemsize: int = 8,
                             whole_rows: bool = False) -> int:
    """Peak bytes of :func:`cwt_multirate` on ``n_columns`` columns (result + work).

    ``itemsize``: 8 for complex64 results, 16 for complex128. ``whole_rows``: the
    whole rows are also kept over the whole signal (complex64, a pyramid's tiles).
    """
    n = int(n_columns)
    g = plan.geom
    out = int(sum(-(-n // int(d)) for d in plan.hops)) * int(itemsize)
    work, keep, top = 0, 0, 0
    bins = 0
    if plan.whole.any():
        w = np.flatnonzero(plan.whole)
        K = _whole_top_bin(plan)
        P = _low_phase_length(g.n_pad, K)
        if P == g.n_pad:
            low = 8 * P + 16 * (P // 2 + 1) + 8 * P      # padded grid (and its indices), rfft
        else:
            C = max(1, min(g.n_pad // P, _LOW_CHUNK // P))
            # indices, samples, rfft, its kept columns, and the chunk's twiddles (+ phases)
            low = C * P * 16 + 16 * C * (P // 2 + 1) + 16 * C * (K + 1) + 40 * C * (K + 1)
        keep += 16 * (K + 1)
        work = max(work, low + 16 * (K + 1), 16 * (K + 1) + _grid_bytes(plan, w, g.n_pad))
        top = max(top, K + 1)
        bins += sum(int((plan.f_hi[i] - plan.f_lo[i]) * g.n_pad) + 2 for i in w)
        if whole_rows:
            keep += 8 * int(sum(-(-g.n_samples // int(plan.hops[i])) for i in w))
    for L, cls in _classes(plan):
        M = _block_M(plan, min(plan.block_length, n), L, cls)
        spans = np.array([_bin_range(plan.f_lo[i], plan.f_hi[i], M) for i in cls])
        keep += 16 * int(spans[:, 1].max() - spans[:, 0].min() + 1)     # cached modulation
        work = max(work, 16 * M + 16 * (M // 2 + 1) + _grid_bytes(plan, cls, M))
        top = max(top, M // 2 + 1)
        bins += sum(int((plan.f_hi[i] - plan.f_lo[i]) * M) + 2 for i in cls)
    cache = min(_FILTER_CACHE_BYTES + 8 * (top + 1), 8 * bins)
    tables = 32 * top if _closed_form(T._wavelet_key(g.spec)) is not None else 0
    return int(out + work + keep + cache + tables)


# ---------------------------------------------------------------- engine

class _Rows:
    """Filter values, the whole grid's low bins and (for a pyramid) the whole rows
    over the whole signal, cached for one signal (a pyramid reuses them across tiles)."""

    def __init__(self, y: np.ndarray, plan: MultiratePlan):
        self.y, self.plan, self.geom = y, plan, plan.geom
        self._filters: collections.OrderedDict = collections.OrderedDict()
        self._filter_bytes = 0
        self._low = None
        self._mod: dict = {}
        self._whole_rows: dict | None = None
        self._lock = threading.Lock()
        cf = _closed_form(T._wavelet_key(self.geom.spec))
        self._tables = None if cf is None else _Tables(*cf[:2])
        self._tfr_index = {int(r): i for i, r in enumerate(plan.rows)}

    def filters(self, idx, M: int) -> None:
        """Make sure the filters of plan rows ``idx`` on an M grid are in the cache
        (edge rows last: they reuse the wavelets' values). Beyond the cache's
        bytes, the oldest entries go first."""
        p, g = self.plan, self.geom
        need = [int(i) for i in idx if (int(i), M) not in self._filters]
        wav = [i for i in need if np.isfinite(g.scales[p.rows[i]])]
        rng = {i: _bin_range(p.f_lo[i], p.f_hi[i], M) for i in need}
        ev = _Evaluator(g, M, self._tables)
        if ev.cf is not None:
            for i in wav:
                self._store((i, M), (rng[i][0], ev(int(p.rows[i]), *rng[i])))
        else:
            step, group = 1 << 22, []
            for j, i in enumerate(wav):
                group.append(i)
                if j == len(wav) - 1 or sum(rng[a][1] - rng[a][0] + 1 for a in group) >= step:
                    vals = _wavelet_values(
                        g, [g.scales[p.rows[a]] for a in group],
                        [np.arange(rng[a][0], rng[a][1] + 1, dtype=np.int64) for a in group], M)
                    for a, v in zip(group, vals, strict=True):
                        self._store((a, M), (rng[a][0], v))
                    group = []
        edges = [i for i in need if not np.isfinite(g.scales[p.rows[i]])]
        if edges:
            with self._lock:
                ev.known = {int(p.rows[i]): hit for (i, m), hit in self._filters.items()
                            if m == M and np.isfinite(g.scales[p.rows[i]])}
            for i in edges:
                r = int(p.rows[i])
                lo, hi = rng[i]
                self._store((i, M), (lo, _edge_values(g, 0 if r == 0 else 1, lo, hi, M,
                                                      p.tol, ev)))

    def _store(self, key, hit) -> None:
        with self._lock:
            if key in self._filters:
                return
            self._filters[key] = hit
            self._filter_bytes += hit[1].nbytes
            while self._filter_bytes > _FILTER_CACHE_BYTES and len(self._filters) > 1:
                old = next(iter(self._filters))
                if old == key:
                    break
                self._filter_bytes -= self._filters.pop(old)[1].nbytes

    def filter(self, i: int, M: int) -> tuple[int, np.ndarray]:
        """First signed bin and filter values of plan row ``i`` on an M grid."""
        hit = self._filters.get((i, M))
        if hit is None:
            self.filters([i], M)
            hit = self._filters[(i, M)]
        return hit

    def low_bins(self, steps: Steps) -> np.ndarray:
        """``rfft(xp)[:K + 1]`` of the whole padded signal, K = the whole rows' top bin.

        Long grids go by phases (``xp[p::D]``, D = n_pad / P, P the smallest power
        of two above 2 K): the low bins of an ``n_pad``-point DFT are
        ``sum_p exp(-2 pi i k p / n_pad) rfft_P(xp[p::D])[k]`` for ``k <= P / 2``;
        phases go in chunks of about 2^20 samples, so only those are held at a time.
        """
        if self._low is not None:
            return self._low
        g = self.geom
        K = _whole_top_bin(self.plan)
        P = _low_phase_length(g.n_pad, K)
        if P == g.n_pad:
            X = sp_fft.rfft(padded_segment(self.y, 0, g.n_pad, g.n_pad, g.pad_left),
                            workers=_WORKERS)[:K + 1]
        else:
            D = g.n_pad // P
            C = max(1, min(D, _LOW_CHUNK // P))
            k = np.arange(K + 1, dtype=np.int64)
            # twiddles of the phases inside a chunk, shared by every chunk
            Tj = np.exp(-2j * np.pi * (np.mod(np.arange(C)[:, None] * k, g.n_pad) / g.n_pad))
            X = np.zeros(K + 1, dtype=np.complex128)
            buf = np.empty((P, C))
            TjT = np.ascontiguousarray(Tj.T)
            for p0 in range(0, D, C):
                steps.check(p0 / D)
                c = min(C, D - p0)
                _phases(self.y, g, D, p0, buf[:, :c])
                # along the rows' axis: the buffer keeps the signal's layout (no transpose)
                F = sp_fft.rfft(buf[:, :c], axis=0, workers=_WORKERS)[:K + 1]
                F *= TjT[:, :c]
                s = F.sum(axis=1)
                s *= np.exp(-2j * np.pi * (np.mod(k * p0, g.n_pad) / g.n_pad))
                X += s
                del F
        self._low = X
        return X

    def spectrum(self, X: np.ndarray, M: int, q0: int, lo: int, hi: int,
                 key=None) -> np.ndarray:
        """``X(k) exp(2 pi i k q0 / M)`` at signed bins lo..hi from rfft bins ``X``
        (``X(-k) = conj X(k)``) [shape=(hi - lo + 1,), complex128]. ``key`` caches
        the modulation (block grids: the same for every block)."""
        k = np.arange(lo, hi + 1, dtype=np.int64)
        mod = None if key is None else self._mod.get(key)
        if mod is None:
            mod = np.exp(2j * np.pi * (np.mod(k * int(q0), M) / M))
            if key is not None:
                with self._lock:
                    if len(self._mod) > 8:
                        self._mod.clear()
                    self._mod[key] = mod
        out = np.empty(hi - lo + 1, dtype=np.complex128)
        neg = min(0, hi + 1) - lo          # bins lo..-1
        if neg > 0:
            np.conjugate(X[-lo:-lo - neg:-1] if lo + neg < 0 else X[-lo:0:-1], out=out[:neg])
        if hi >= 0:
            a = max(lo, 0)
            out[a - lo:] = X[a:hi + 1]
        out *= mod
        return out

    def whole_rows(self, steps: Steps) -> dict:
        """Every whole row over the whole signal, at columns ``j d`` [complex64]:
        plan index -> array of ``ceil(n_samples / d)`` values (one inverse FFT
        each serves every tile)."""
        if self._whole_rows is None:
            g = self.geom
            idx = np.flatnonzero(self.plan.whole)
            res = {int(i): np.empty(-(-g.n_samples // int(self.plan.hops[i])), np.complex64)
                   for i in idx}
            _grid_rows(self, idx, self.low_bins(steps.part(0.0, 0.5)), g.n_pad, g.pad_left,
                       [(res[int(i)], 0) for i in idx], steps.part(0.5, 1.0), None)
            # never needed again (~150 MB for 10 min at nv 32): room for the block filters
            with self._lock:
                for key in [key for key in self._filters if key[1] == g.n_pad]:
                    self._filter_bytes -= self._filters.pop(key)[1].nbytes
                self._low = None
            self._whole_rows = res
        return self._whole_rows


def _phases(y: np.ndarray, g, D: int, p0: int, out: np.ndarray) -> None:
    """``out[i, j] = xp[D i + p0 + j]`` (the padded signal's phases p0.., columns of
    ``P = out.shape[0]`` samples) [out: shape=(P, c), float64, written in place].

    Runs of rows inside the signal, or inside one reflection of it, are strided
    views of ``y`` (or ``y[::-1]``): a fancy gather of n_pad samples at stride D
    costs ~seconds (a cache line per sample), these copies a tenth of that."""
    n, P, c = g.n_samples, out.shape[0], out.shape[1]
    first = D * np.arange(P, dtype=np.int64) + (p0 - g.pad_left)     # u of each row's j = 0
    last = first + (c - 1)
    done = np.zeros(P, dtype=bool)
    single = g.pad_left < n and g.n_pad - n - g.pad_left < n and n > 1
    if single:
        z = y[::-1]
        # u in [0, n-1]: y[u]; u in [-(n-1), 0]: y[-u] = z[n-1+u]; u in [n-1, 2(n-1)]: z[u-(n-1)]
        for src, ok, start in ((y, (first >= 0) & (last <= n - 1), 0),
                               (z, (first >= -(n - 1)) & (last <= 0), n - 1),
                               (z, (first >= n - 1) & (last <= 2 * (n - 1)), -(n - 1))):
            rows = np.flatnonzero(ok & ~done)
            if not len(rows):
                continue
            ia, ib = int(rows[0]), int(rows[-1]) + 1            # contiguous in i
            s0 = int(first[ia]) + start
            view = np.lib.stride_tricks.as_strided(
                src[s0:], shape=(ib - ia, c), strides=(D * src.strides[0], src.strides[0]),
                writeable=False)
            out[ia:ib] = view
            done[ia:ib] = True
    rest = np.flatnonzero(~done)
    if len(rest):
        j = first[rest][:, None] + np.arange(c)[None, :] + g.pad_left
        out[rest] = y[_padded_index(j, g)]


def _padded_index(j: np.ndarray, g) -> np.ndarray:
    """Signal indices of padded positions ``j`` (any shape) of the whole grid."""
    n = g.n_samples
    u = np.mod(j, g.n_pad) - g.pad_left
    if n == 1:
        return np.zeros(u.shape, dtype=np.intp)
    period = 2 * (n - 1)
    u = np.mod(u, period)
    return np.where(u >= n, period - u, u).astype(np.intp)


def _whole_top_bin(plan: MultiratePlan) -> int:
    g, w = plan.geom, plan.whole
    K = int(np.ceil(max(np.abs(plan.f_lo[w]).max(), np.abs(plan.f_hi[w]).max()) * g.n_pad)) + 1
    return min(K, g.n_pad // 2)


def _low_phase_length(n_pad: int, K: int) -> int:
    """Phase length of the low-bin DFT (n_pad itself for short grids)."""
    if n_pad <= 4 * _POLY_P:
        return n_pad
    P = max(4096, 1 << int(np.ceil(np.log2(2 * (K + 1)))))
    return n_pad if P >= n_pad // 4 else P


def _grid_rows(eng: _Rows, idx, X: np.ndarray, M: int, q0: int, dst: list, steps: Steps,
               mod_key) -> None:
    """Plan rows ``idx`` on one M grid whose rfft bins are ``X``, sampled at
    ``q0 + j d``: row ``idx[n]`` goes to ``dst[n] = (array, j0)`` from position j0
    on, ``len(array) - j0`` values at most and ``M / d`` at most.

    Rows of one hop share a batched inverse FFT of ``M / d``; the modulated
    spectrum over the rows' bins is built once. (complex64 inverse FFTs would be
    three times faster, but miss the display's 1e-6 of a row's peak: ~3e-6.)"""
    p = eng.plan
    idx = [int(i) for i in idx]
    if not idx:
        return
    # edge rows last: their filters reuse the wavelets' values on this grid
    is_wav = [bool(np.isfinite(eng.geom.scales[p.rows[i]])) for i in idx]
    order = [n for n in range(len(idx)) if is_wav[n]] + [n for n in range(len(idx))
                                                           if not is_wav[n]]
    eng.filters([idx[n] for n in order], M)
    spans = [_bin_range(p.f_lo[i], p.f_hi[i], M) for i in idx]
    lo = min(s[0] for s in spans)
    hi = max(s[1] for s in spans)
    Xm = eng.spectrum(X, M, q0, lo, hi, None if mod_key is None else mod_key + (lo, hi))
    runs = []
    for n in order:
        d = int(p.hops[idx[n]])
        if runs and runs[-1][0] == d and len(runs[-1][1]) * (M // d) < _BATCH_ELEMS:
            runs[-1][1].append(n)
        else:
            runs.append((d, [n]))
    done = 0
    for d, members in runs:
        steps.check(done / len(idx))
        Md = M // d
        Y = np.zeros((len(members), Md), dtype=np.complex128)
        for row, n in enumerate(members):
            k0, v = eng.filter(idx[n], M)
            V = Xm[k0 - lo:k0 - lo + len(v)] * v
            m0 = k0 % Md
            a = 0
            while a < len(V):                  # the fold: bins k land at k mod (M / d)
                b = min(len(V), a + Md - m0)
                Y[row, m0:m0 + b - a] += V[a:b]
                a, m0 = b, 0
            del V
        W = sp_fft.ifft(Y, axis=-1, overwrite_x=True, workers=_WORKERS)
        del Y
        for row, n in enumerate(members):
            arr, j0 = dst[n]
            cnt = min(len(arr) - j0, Md)
            np.multiply(W[row, :cnt], 1.0 / d, out=arr[j0:j0 + cnt], casting="same_kind")
        del W
        done += len(members)


def _check_range(geom, c0, c1):
    c0 = int(c0)
    c1 = geom.n_samples if c1 is None else int(c1)
    if not 0 <= c0 < c1 <= geom.n_samples:
        raise ParameterError(f"columns [{c0}, {c1}) are not inside [0, {geom.n_samples})")
    return c0, c1


def _compute(eng: _Rows, c0: int, c1: int, dtype, steps: Steps, *,
             cached_whole: bool = False) -> list:
    """Every plan row at ``c0 + j * d`` over [c0, c1), as a list of arrays.

    ``cached_whole``: take the whole rows from :meth:`_Rows.whole_rows` (a pyramid's
    tiles; ``c0`` must be a multiple of every hop)."""
    p, g = eng.plan, eng.geom
    n = c1 - c0
    out = [np.empty(-(-n // int(d)), dtype=dtype) for d in p.hops]
    whole = np.flatnonzero(p.whole)
    local = np.flatnonzero(~p.whole)
    B = p.block_length
    n_blocks = max(1, -(-n // max(B, 1))) if len(local) else 0
    total = max(1, len(whole) + len(local) * n_blocks)
    done = 0
    if len(whole):
        ws = steps.part(0.0, len(whole) / total)
        if cached_whole:
            rows = eng.whole_rows(ws)
            for i in whole:
                d = int(p.hops[i])
                out[i][:] = rows[int(i)][c0 // d:c0 // d + len(out[i])]
        else:
            X = eng.low_bins(ws.part(0.0, 0.5))
            _grid_rows(eng, whole, X, g.n_pad, g.pad_left + c0, [(out[i], 0) for i in whole],
                       ws.part(0.5, 1.0), None)
        done = len(whole)
    # one grid per class for every block, the last one too, so filters are reused
    span = min(B, n)
    for b0 in range(c0, c1, B) if len(local) else ():
        b1 = min(c1, b0 + B)
        for L in np.unique(p.overlaps[local]):
            cls = local[p.overlaps[local] == L]
            M = _block_M(p, span, L, cls)
            part = steps.part(done / total, (done + len(cls)) / total)
            part.check(0.0)
            X = sp_fft.rfft(padded_segment(eng.y, g.pad_left + b0 - int(L), M, g.n_pad,
                                           g.pad_left), workers=_WORKERS)
            dst = []
            for i in cls:
                d = int(p.hops[i])
                j0 = (b0 - c0) // d
                dst.append((out[i][:j0 + -(-(b1 - b0) // d)], j0))
            _grid_rows(eng, cls, X, M, int(L), dst, part, ("block", M, int(L)))
            del X
            done += len(cls)
    steps.check(1.0)
    return out


def cwt_multirate(y, spec: T.TransformSpec = _DEFAULT_SPEC, *, dx: float = 1.0, c0: int = 0,
                  c1: int | None = None, rows=None, dtype=np.complex64,
                  tol: float = CB.DEFAULT_TOL, headroom: float = 1.0,
                  max_hop: int = DEFAULT_MAX_HOP, block_length: int | None = None,
                  nyquist_overlap: int | None = None, cancel=None,
                  progress=None) -> MultirateCWT:
    """CWT rows of columns ``[c0, c1)``, row r at hop ``d_r`` (see the module docstring).

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
        The WHOLE signal (scales, padding and edge rows depend on its length).
    spec : TransformSpec
        kind 'cwt'.
    dx : float
        Sample spacing (frequencies in cycles per unit of dx).
    c0, c1 : int
        Column range; c1 None = the end.
    rows : sequence of int or None
        TFR rows (row 0 = lowest frequency); None = all.
    dtype : complex64 or complex128
        Of the result (the computation is float64 either way).
    tol, headroom, max_hop, block_length, nyquist_overlap
        See :func:`plan_multirate`.
    cancel : callable () -> bool, or None
        Checked between rows; True raises Cancelled.
    progress : callable (float) -> None, or None
        Fraction done, 0..1.

    Returns
    -------
    MultirateCWT

    Raises
    ------
    ParameterError
        Bad spec, range, rows or dtype.
    OutOfMemoryError
        The estimate (:func:`estimate_multirate_bytes`) exceeds the budget.
    Cancelled
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.complex64, np.complex128):
        raise ParameterError(f"dtype={dtype}: expected complex64 or complex128")
    steps = Steps.of(cancel, progress, "multirate CWT")
    y = np.asarray(y, dtype=np.float64).ravel()
    geom = CB.cwt_geometry(spec, len(y), dx=dx)
    c0, c1 = _check_range(geom, c0, c1)
    steps.check(0.0)
    plan = plan_multirate(geom, rows, tol=tol, headroom=headroom, max_hop=max_hop,
                          block_length=block_length, nyquist_overlap=nyquist_overlap)
    est = estimate_multirate_bytes(plan, c1 - c0, itemsize=dtype.itemsize)
    check_fits(f"multirate CWT of columns [{c0}, {c1}) ({len(plan.rows)} rows)", est,
               hint="choose a shorter range or fewer rows")
    coeffs = _compute(_Rows(y, plan), c0, c1, dtype, steps)
    edge = tuple(int(i) for i, r in enumerate(plan.rows) if r in geom.edge_row_indices)
    return MultirateCWT(coefficients=tuple(coeffs), rows=plan.rows, hops=plan.hops, c0=c0, c1=c1,
                        frequencies=geom.frequencies[plan.rows].copy(),
                        row_weights=geom.row_weights[plan.rows].copy(),
                        n_samples=geom.n_samples, dx=geom.dx, edge_row_indices=edge,
                        estimated_bytes=int(est))
