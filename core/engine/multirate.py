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
  block, e.g. the low edge row): the whole-signal coefficients at the hops up
  to the dropped bins, ~1e-9 (interior and ends alike: the padding is the
  whole path's own);
- block rows away from Nyquist: also the block truncation of
  :mod:`core.engine.cwt_blocks` (kernel tail beyond the overlap <= ``tol``),
  ~1e-9, so block boundaries are invisible;
- block rows whose filter reaches Nyquist (GMW nv 32: the top ~25 rows and
  the high edge row) carry cwt_blocks' Nyquist-cut error: ~1e-3 complex with
  the default 65536-sample overlap (their real parts ~1e-7). Only long
  signals (``n_pad > WHOLE_GRID``) have such block rows.

Memory: the result holds ``sum_r (c1 - c0) / d_r`` coefficients (GMW nv 32:
~70 N for 520 rows, against 520 N for the whole transform); the work adds one
block's FFT (``M`` float64 + ``M/2`` complex128) and a few ``M / d`` complex
vectors, checked against the budget (:func:`estimate_multirate_bytes`) before
anything is allocated.
"""

from __future__ import annotations

import functools
import threading
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.fft as sp_fft

from core import transforms as T
from core.engine import cwt_blocks as CB
from core.engine.blocks import Steps, padded_segment
from core.errors import ParameterError
from core.memory import check_fits

__all__ = ["MultirateCWT", "MultiratePlan", "plan_multirate", "cwt_multirate",
           "estimate_multirate_bytes", "WHOLE_GRID", "DEFAULT_MAX_HOP"]

WHOLE_GRID = 1 << 21          # padded grids up to this length are one exact block (32 MiB rfft)
DEFAULT_MAX_HOP = 1 << 10     # low rows need less, but 1/1024 of N is already negligible
_FILL = 0.9                   # d * width <= 0.9: the kept bins never overlap once folded
_BLOCK_FFT = 1 << 19          # target block grid when blocks are needed
_PROBE = 1 << 16              # grid on which the edge rows' supports are located
_POLY_P = 1 << 20             # phase length of the low-bin DFT of long padded grids
_FILTER_CACHE_BYTES = 256 << 20
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
        support of its class (rows reaching Nyquist, the others), so that a
        block needs two FFT grids at most.
    block_length : int
        Columns per block, a multiple of every block row's hop.
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
        Of these rows, as :class:`core.transforms.TFR` gives them (cycles per unit of dx).
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


def _bins(f_lo: float, f_hi: float, M: int) -> np.ndarray:
    """Signed bins of an M grid inside [f_lo, f_hi] (cycles per sample) [int64]."""
    lo = max(int(np.ceil(f_lo * M)), -((M - 1) // 2))
    hi = min(int(np.floor(f_hi * M)), M // 2)
    return np.arange(lo, hi + 1, dtype=np.int64)


def _wavelet_bands(geom, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Support of every TFR row that is a wavelet (NaN elsewhere) [cycles per sample]."""
    w_lo, w_hi = _omega_support(T._wavelet_key(geom.spec), float(tol))
    s = geom.scales
    with np.errstate(invalid="ignore"):
        f_lo = np.maximum(w_lo / (2 * np.pi * s), -0.5)
        f_hi = np.minimum(w_hi / (2 * np.pi * s), 0.5)
    return f_lo, f_hi


def _edge_values(geom, which: int, k: np.ndarray, M: int, tol: float) -> np.ndarray:
    """The edge row ``which`` (0 = low, else high) at signed bins ``k`` of an M grid,
    as core.transforms._edge_filters builds it, from the wavelets that reach
    ``+-k`` only (the others are below ``tol`` there)."""
    f_lo, f_hi = _wavelet_bands(geom, tol)
    kk = np.concatenate([k, -k])
    if M % 2 == 0:
        kk[kk == -(M // 2)] = M // 2
    pos, sc, kv, wt = [], [], [], []
    if len(k):
        a, b = kk.min() / M, kk.max() / M
        for r in geom.wavelet_rows:
            if f_hi[r] < a or f_lo[r] > b:
                continue
            inside = np.flatnonzero((kk >= f_lo[r] * M) & (kk <= f_hi[r] * M))
            if len(inside):
                pos.append(inside)
                sc.append(geom.scales[r])
                kv.append(kk[inside])
                wt.append(np.full(len(inside), 0.5 * geom.row_weights[r]))
    R2 = np.zeros(2 * len(k))
    for i in range(0, len(pos), 64):
        v = _wavelet_values(geom, sc[i:i + 64], kv[i:i + 64], M)
        R2 += np.bincount(np.concatenate(pos[i:i + 64]),
                          np.concatenate(wt[i:i + 64]) * np.concatenate(v), len(R2))
    R = R2[:len(k)] + R2[len(k):]
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
    k = np.arange(-(P // 2) + 1, P // 2 + 1, dtype=np.int64)
    v = np.abs(_edge_values(geom, which, k, P, tol))
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
        2^19. Rounded up to a multiple of the block rows' largest hop.
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
        for cls in (~whole & (L >= nyq), ~whole & (L < nyq)):
            if cls.any():
                overlaps[cls] = L[cls].max()
        # a block (with its overlap) as long as the whole grid: the whole grid is exact
        whole |= B + 2 * overlaps >= geom.n_pad
        overlaps[whole] = 0
    else:
        whole[:] = True
    if not whole.all():
        D = int(hops[~whole].max())
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


def _block_M(plan: MultiratePlan, B: int, L: int) -> int:
    """Block grid: ``B + 2 L`` samples at least, a multiple of 16 times the largest hop."""
    D = max(16, int(plan.hops[~plan.whole].max()) * 16)
    m = sp_fft.next_fast_len(-(-(B + 2 * int(L)) // D), real=True)
    return int(m * D)


def estimate_multirate_bytes(plan: MultiratePlan, n_columns: int, *, itemsize: int = 8) -> int:
    """Peak bytes of :func:`cwt_multirate` on ``n_columns`` columns (result + work).

    ``itemsize``: 8 for complex64 results, 16 for complex128.
    """
    n = int(n_columns)
    out = int(sum(-(-n // int(d)) for d in plan.hops)) * int(itemsize)
    work = 0
    if plan.whole.any():
        g = plan.geom
        P = g.n_pad if g.n_pad <= 4 * _POLY_P else _POLY_P
        k_max = int(np.ceil(np.abs(np.concatenate([plan.f_lo, plan.f_hi])[
            np.concatenate([plan.whole, plan.whole])]).max() * g.n_pad)) + 1
        work = max(work, 8 * P + 16 * (P // 2 + 1) + 16 * k_max
                   + 48 * int((g.n_pad // plan.hops[plan.whole]).max()))
    if (~plan.whole).any():
        M = _block_M(plan, plan.block_length, plan.overlaps.max())
        work = max(work, 8 * M + 16 * (M // 2 + 1)
                   + 48 * int(M // plan.hops[~plan.whole].min()))
    grid = np.array([plan.geom.n_pad if w else _block_M(plan, plan.block_length, L)
                     for w, L in zip(plan.whole, plan.overlaps, strict=True)])
    cache = min(_FILTER_CACHE_BYTES, int(16 * np.sum((plan.f_hi - plan.f_lo) * grid + 2)))
    return out + work + cache


# ---------------------------------------------------------------- engine

class _Rows:
    """Filter values and the whole grid's low bins, cached for one signal
    (a pyramid reuses them across tiles)."""

    def __init__(self, y: np.ndarray, plan: MultiratePlan):
        self.y, self.plan, self.geom = y, plan, plan.geom
        self._filters: dict = {}
        self._filter_bytes = 0
        self._low = None
        self._lock = threading.Lock()

    def filters(self, idx, M: int) -> None:
        """Make sure the filters of plan rows ``idx`` on an M grid are in the cache
        (wavelet rows evaluated together). Beyond the cache's bytes, the oldest
        grid's entries go first."""
        p, g = self.plan, self.geom
        need = [int(i) for i in idx if (int(i), M) not in self._filters]
        wav = [i for i in need if np.isfinite(g.scales[p.rows[i]])]
        ks = {i: _bins(p.f_lo[i], p.f_hi[i], M) for i in need}
        step, group = 1 << 22, []
        for j, i in enumerate(wav + [None]):
            if i is not None:
                group.append(i)
            if group and (i is None or j == len(wav) - 1
                          or sum(len(ks[a]) for a in group) >= step):
                vals = _wavelet_values(g, [g.scales[p.rows[a]] for a in group],
                                       [ks[a] for a in group], M)
                for a, v in zip(group, vals, strict=True):
                    self._store((a, M), (ks[a], v))
                group = []
        for i in need:
            if not np.isfinite(g.scales[p.rows[i]]):
                r = int(p.rows[i])
                self._store((i, M), (ks[i], _edge_values(g, 0 if r == 0 else 1, ks[i], M, p.tol)))

    def _store(self, key, hit) -> None:
        with self._lock:
            self._filters[key] = hit
            self._filter_bytes += 16 * len(hit[0])
            while self._filter_bytes > _FILTER_CACHE_BYTES and len(self._filters) > 1:
                old = next(iter(self._filters))
                if old == key:
                    break
                self._filter_bytes -= 16 * len(self._filters.pop(old)[0])

    def filter(self, i: int, M: int) -> tuple[np.ndarray, np.ndarray]:
        """Signed bins and filter values of plan row ``i`` on an M grid."""
        hit = self._filters.get((i, M))
        if hit is None:
            self.filters([i], M)
            hit = self._filters[(i, M)]
        return hit

    def low_bins(self, steps: Steps) -> np.ndarray:
        """``rfft(xp)[:K + 1]`` of the whole padded signal, K = the whole rows' top bin.

        Long grids go by phases (``xp[p::D]``, D = n_pad / P): the low bins of
        an ``n_pad``-point DFT are ``sum_p exp(-2 pi i k p / n_pad) rfft_P(xp[p::D])[k]``
        for ``k <= P / 2``, so only ``P`` samples are held at a time.
        """
        if self._low is not None:
            return self._low
        g, p = self.geom, self.plan
        w = p.whole
        K = int(np.ceil(max(np.abs(p.f_lo[w]).max(), np.abs(p.f_hi[w]).max()) * g.n_pad)) + 1
        K = min(K, g.n_pad // 2)
        if g.n_pad <= 4 * _POLY_P or K > _POLY_P // 2:
            X = sp_fft.rfft(padded_segment(self.y, 0, g.n_pad, g.n_pad, g.pad_left))[:K + 1]
        else:
            P = _POLY_P
            D = g.n_pad // P
            k = np.arange(K + 1, dtype=np.int64)
            X = np.zeros(K + 1, dtype=np.complex128)
            n = g.n_samples
            period = max(1, 2 * (n - 1))
            for ph in range(D):
                steps.check(0.5 * ph / D)
                j = np.mod(ph + D * np.arange(P, dtype=np.int64) - g.pad_left, period)
                idx = np.where(j >= n, period - j, j) if n > 1 else np.zeros_like(j)
                F = sp_fft.rfft(self.y[idx])[:K + 1]
                X += F * np.exp(-2j * np.pi * (np.mod(k * ph, g.n_pad) / g.n_pad))
        self._low = X
        return X

    def row(self, i: int, X_at, M: int, q0: int, n_out: int) -> np.ndarray:
        """Plan row ``i`` at ``q0 + j * d`` (j < n_out) from the spectrum getter
        ``X_at(k)`` of signed bins on an M grid [complex128]."""
        d = int(self.plan.hops[i])
        k, v = self.filter(i, M)
        Md = M // d
        V = X_at(k) * v
        V *= np.exp(2j * np.pi * (np.mod(k * q0, M) / M))
        m = np.mod(k, Md)
        if len(k) <= Md:
            Y = np.zeros(Md, dtype=np.complex128)
            Y[m] = V
        else:                    # overlapping bins: the fold is still exact
            Y = (np.bincount(m, V.real, Md) + 1j * np.bincount(m, V.imag, Md))
        return sp_fft.ifft(Y, overwrite_x=True)[:n_out] / d


def _rfft_getter(X: np.ndarray):
    def get(k):
        out = X[np.abs(k)]
        return np.where(k < 0, np.conj(out), out)
    return get


def _check_range(geom, c0, c1):
    c0 = int(c0)
    c1 = geom.n_samples if c1 is None else int(c1)
    if not 0 <= c0 < c1 <= geom.n_samples:
        raise ParameterError(f"columns [{c0}, {c1}) are not inside [0, {geom.n_samples})")
    return c0, c1


def _groups(plan: MultiratePlan, idx, M: int, limit: int = 1 << 22):
    """``idx`` in runs whose filters hold about ``limit`` bins on an M grid."""
    group, size = [], 0
    for i in idx:
        group.append(int(i))
        size += int((plan.f_hi[i] - plan.f_lo[i]) * M) + 2
        if size >= limit:
            yield group
            group, size = [], 0
    if group:
        yield group


def _compute(eng: _Rows, c0: int, c1: int, dtype, steps: Steps) -> list:
    """Every plan row at ``c0 + j * d`` over [c0, c1), as a list of arrays."""
    p, g = eng.plan, eng.geom
    n = c1 - c0
    out = [np.empty(-(-n // int(d)), dtype=dtype) for d in p.hops]
    whole = np.flatnonzero(p.whole)
    local = np.flatnonzero(~p.whole)
    total = len(whole) + len(local) * max(1, -(-n // max(p.block_length, 1)))
    done = 0
    if len(whole):
        ws = steps.part(0.0, len(whole) / total)
        get = _rfft_getter(eng.low_bins(ws.part(0.0, 0.5)))
        a = 0
        for group in _groups(p, whole, g.n_pad):
            eng.filters(group, g.n_pad)
            for i in group:
                ws.check(0.5 + 0.5 * a / len(whole))
                out[i][:] = eng.row(i, get, g.n_pad, g.pad_left + c0, len(out[i]))
                a += 1
        done = len(whole)
    B = p.block_length
    for b0 in range(c0, c1, B) if len(local) else ():
        b1 = min(c1, b0 + B)
        for L in np.unique(p.overlaps[local]):
            cls = local[p.overlaps[local] == L]
            M = _block_M(p, b1 - b0, L)
            steps.check(done / total)
            get = _rfft_getter(sp_fft.rfft(
                padded_segment(eng.y, g.pad_left + b0 - L, M, g.n_pad, g.pad_left)))
            for group in _groups(p, cls, M):
                eng.filters(group, M)
                for i in group:
                    steps.check(done / total)
                    d = int(p.hops[i])
                    j0 = (b0 - c0) // d
                    cnt = -(-(b1 - b0) // d)
                    out[i][j0:j0 + cnt] = eng.row(i, get, M, int(L), cnt)
                    done += 1
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
