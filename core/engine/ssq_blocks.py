"""Synchrosqueezed (SSQ-CWT, SSQ-STFT) coefficients of a column range, block by block.

Synchrosqueezing works column by column: once the target frequencies are
fixed, column t of ``Tx`` depends only on column t of the plain transform
``Wx`` and of its time derivative ``dWx`` (ssqueezepy's phase transform
``Im(dWx / Wx) / 2 pi``). So a column range of ``Tx`` is ssqueezepy's
``ssqueeze`` applied to the block's ``Wx`` and ``dWx``, with the frequencies,
gamma and flags of the whole-signal path (:mod:`core.tf.transforms`).

The squeeze is discontinuous in its input (a coefficient near the boundary
of two frequency bins moves wholly to one or the other), so the block ``Wx``
and ``dWx`` must match the whole path's far more closely than the 1e-6 asked
of ``Tx``: ~1e-12 relative, not the 1e-3 that :mod:`core.engine.cwt_blocks`
gives complex rows that reach Nyquist.

- STFT (hop 1): a frame reads ``n_fft`` samples, so block frames are exact
  (the derivative window likewise).
- CWT: ssqueezepy's wavelet filters are cut at Nyquist (analytic: zero on
  negative bins), and a filter cut where it is not zero has an impulse
  response decaying like 1/m. Here the filters are applied to the ANALYTIC
  signal ``xa`` of the whole padded signal (computed once, O(n_pad) memory)
  instead. On the whole grid ``fft(xp) * psi = fft(xa) * f + fft(conj xa) * n / 2``
  for ``f = psi / 2`` on ``[0, pi]`` (ssqueezepy halves the Nyquist bin, so
  ``f(pi) = psi(pi) / 2`` too) and ``n`` = psi on the negative bins (0 for
  GMW and bump, tiny for Morlet), and ``f`` is free on the negative bins, where
  ``fft(xa)`` is zero. Continuing the wavelet's formula past pi and tapering
  it to zero by 7 pi / 4 with a C-infinity step makes ``f`` smooth around the
  circle: its impulse response decays faster than any power, and a support
  of a few thousand samples reaches 1e-12. The derivative multiplies by
  ``i xi fs`` (xi the bin's radian frequency, continued the same way).
- The low edge row (a low-pass to below the lowest wavelet, support ~ the
  signal) runs on the whole padded grid; the high edge row is the analytic
  signal of a high-pass ``G = 1 - R`` (:func:`core.tf.transforms._edge_filters`)
  continued past pi the same way. It keeps the whole path's hard cut at the
  edge split frequency, where ``G`` is small but not zero (the wavelets'
  ripple, smaller as nv grows).

Rows are grouped by support (powers of 2); each group takes one FFT of its
segment per block and two inverse FFTs per row (``Wx``, ``dWx``). The
supports are probed once per engine (~1 s for the 4-s speech demo from
20 Hz), with ssqueezepy's first-order GMW in closed form
(:func:`core.engine.cwt_blocks._closed_form`, equal to its kernel to 1e-12 and
~10x faster on a loaded machine; other wavelets use ssqueezepy's formula).

Whole-grid rows (the low edge row, and the wavelets whose support is too long
for a block) cost one FFT of the whole padded grid each, whatever the block's
length. With ``whole_bytes`` the engine keeps their ``Wx`` and ``dWx`` (and
the edge row) for a span of columns: the whole signal when it fits, else
the span from the block asked for on, so a sweep computes them once per span
instead of once per block (the 4-s demo from 20 Hz: 17 wavelets and the edge
row, 36 MB for the whole signal; a warm 4096-column block then takes ~0.16 s
instead of ~0.39 s).
"""

from __future__ import annotations

import functools
import threading
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sp_fft

from phasebrush.core.engine import cwt_blocks as CB
from phasebrush.core.engine.blocks import Steps, padded_segment
from phasebrush.core.errors import ParameterError
from phasebrush.core.tf import transforms as T

__all__ = ["SSQBlocks", "ssq_blocks", "ssq_grid", "check_engine", "ssq_cwt_columns",
           "ssq_stft_columns", "SSQ_TOL", "WHOLE_ROWS_BYTES", "estimate_ssq_block_bytes"]

SSQ_TOL = 1e-12              # kernel tail beyond the support, relative to the filter's peak
_CHUNK_ELEMS = 1 << 20       # rows x M per FFT batch
_FILTER_CACHE_BYTES = 256 << 20
_GAMMA = 10 * np.finfo(np.float64).eps   # the whole path's threshold (core.tf.transforms)
_TAPER_END = 1.75 * np.pi    # f falls from its value at pi to 0 over (pi, 7 pi / 4)
_MIN_SUPPORT = 256
# cells per ssqueeze call: its result is a temporary beside Wx, dWx and Tx (8 MiB here)
_SQUEEZE_CELLS = 1 << 19


def _smooth_step(v: np.ndarray) -> np.ndarray:
    """C-infinity step: 0 for v <= 0, 1 for v >= 1, all derivatives 0 at both ends."""
    v = np.clip(np.asarray(v, dtype=np.float64), 0.0, 1.0)
    out = np.zeros_like(v)
    inner = (v > 0) & (v < 1)
    a = np.exp(-1.0 / v[inner])
    b = np.exp(-1.0 / (1.0 - v[inner]))
    out[inner] = a / (a + b)
    out[v >= 1] = 1.0
    return out


def _grid(M: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, v, taper) on the M bins: u continues [0, pi] up to 7 pi / 4 (then wraps
    to [-pi/4, 0)), v is the ordinary (-pi, pi] frequency, taper = 1 on [-pi/4, pi].
    Read-only; grids up to 2^20 bins are cached (every block of a run uses a few)."""
    return _grid_cached(M) if M <= _GRID_CACHE_MAX else _make_grid(M)


_GRID_CACHE_MAX = 1 << 20


@functools.lru_cache(maxsize=16)
def _grid_cached(M: int):
    return _make_grid(M)


def _make_grid(M: int):
    w = 2.0 * np.pi * np.arange(M) / M
    u = np.where(w < _TAPER_END, w, w - 2.0 * np.pi)
    v = np.where(np.arange(M) <= M // 2, w, w - 2.0 * np.pi)
    taper = np.where(u <= np.pi, 1.0, _smooth_step((_TAPER_END - u) / (_TAPER_END - np.pi)))
    for a in (u, v, taper):
        a.setflags(write=False)
    return u, v, taper


def _fn(wav, w: np.ndarray) -> np.ndarray:
    """ssqueezepy's wavelet formula at radian frequencies ``w`` (any sign, any size)."""
    with T._SSQ_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = np.asarray(wav.fn(np.array(w, dtype=np.float64)))   # gmw's fn zeroes w in place
    if np.iscomplexobj(p):
        p = p.real
    return np.nan_to_num(p, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass(eq=False)
class SSQBlocks:
    """Synchrosqueezed columns of one long signal (:func:`ssq_blocks` makes it).

    Attributes
    ----------
    spec : TransformSpec
        kind 'ssq_cwt' or 'ssq_stft' (hop 1).
    n_samples : int
    dx : float
    frequencies, row_weights : np.ndarray [shape=(n_rows,), float64]
        As the whole-signal TFR has them (row 0 = lowest frequency).
    offset : float
        The full inverse's offset (the mean without edge rows, else 0).
    edge_row_indices : tuple of int
    setup_bytes : int
        Memory held for the whole run (the analytic padded signal of an SSQ-CWT).

    Thread safety: :meth:`columns` may run in several threads at once (the
    filter cache, the supports' probe and the kept whole-grid rows are
    locked; ssqueezepy's squeeze runs under core's lock), so a display source
    and column inverters of one signal can share one engine.
    """

    spec: T.TransformSpec
    n_samples: int
    dx: float
    frequencies: np.ndarray
    row_weights: np.ndarray
    offset: float
    edge_row_indices: tuple
    setup_bytes: int
    _impl: object = field(repr=False)

    @property
    def n_rows(self) -> int:
        return len(self.frequencies)

    def columns(self, c0: int, c1: int, *, cancel=None, progress=None) -> np.ndarray:
        """``transform(Signal(y, dx), spec).coefficients[:, c0:c1]``.

        Returns
        -------
        np.ndarray [shape=(n_rows, c1 - c0), complex128]

        Raises
        ------
        ParameterError
            Columns outside ``[0, n_samples)``.
        Cancelled
        """
        c0, c1 = int(c0), int(c1)
        if not 0 <= c0 < c1 <= self.n_samples:
            raise ParameterError(f"columns [{c0}, {c1}) are not inside [0, {self.n_samples})")
        steps = Steps.of(cancel, progress, f"block {self.spec.kind.upper()}")
        steps.check(0.0)
        out = self._impl.columns(c0, c1, steps)
        steps.check(1.0)
        return out

    def block_bytes(self, block_length: int) -> int:
        """Estimated peak of one :meth:`columns` call of ``block_length`` columns, in bytes
        (with :meth:`whole_bytes` when the whole-grid rows are kept; an SSQ-CWT probes
        its rows' supports on the first call, seconds for a long signal)."""
        return self._impl.block_bytes(int(block_length))

    def whole_bytes(self) -> int:
        """Bytes of the kept whole-grid rows of an SSQ-CWT (the span and the peak of
        making it; 0: none kept, for an SSQ-STFT or ``whole_bytes=0``)."""
        return self._impl.whole_bytes() if isinstance(self._impl, _CWTImpl) else 0

    @property
    def whole_span(self) -> int:
        """Columns of the whole-grid rows kept at once: ``n_samples`` when they are
        computed once for the whole signal, fewer when ``whole_bytes`` holds only
        that many (they are made again for each span a block falls outside), 0
        when none are kept (each block computes them, on the whole padded grid)."""
        return self._impl.whole_span() if isinstance(self._impl, _CWTImpl) else 0

    @property
    def whole_computed(self) -> int:
        """How many spans of the whole-grid rows were made so far."""
        return getattr(self._impl, "whole_computed", 0)


def estimate_ssq_block_bytes(n_rows: int, block_length: int, *, grid: int = 0,
                             n_fft: int = 0) -> int:
    """Peak bytes of one SSQ block: ``Wx``, ``dWx``, ``Tx`` and the squeeze's
    temporaries (rows x columns complex128 each), an FFT batch and the segment
    spectra of a grid of ``grid`` points (CWT), or the frames (STFT)."""
    B, R = int(block_length), int(n_rows)
    cells = 4 * R * B * 16
    batch = 3 * max(_CHUNK_ELEMS, int(grid)) * 16 + 4 * int(grid) * 16
    frames = 3 * B * int(n_fft) * 8 if n_fft else 0
    return int(cells + batch + frames)


# --------------------------------------------------------------------------
# SSQ-STFT
# --------------------------------------------------------------------------

class _STFTImpl:
    def __init__(self, y, spec, dx):
        from ssqueezepy._stft import get_window
        from ssqueezepy.utils.fft_utils import ifftshift

        self.y, self.spec, self.fs = y, spec, 1.0 / dx
        g = T.stft_window(spec)
        self.n_fft = n = len(g)
        with T._SSQ_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            window, diff_window = get_window(np.asarray(g, dtype=np.float64), n, n,
                                             derivative=True, dtype="float64")
            self.wins = (np.asarray(ifftshift(window, astensor=True)).reshape(-1, 1),
                         np.asarray(ifftshift(diff_window, astensor=True) * self.fs
                                    ).reshape(-1, 1))
        self.half = [0] + ([n // 2] if n % 2 == 0 else [])
        self.Sfs = np.arange(n // 2 + 1) * (self.fs / n)

    def columns(self, c0, c1, steps: Steps):
        from ssqueezepy.ssqueezing import ssqueeze
        from ssqueezepy.utils import buffer
        from ssqueezepy.utils.fft_utils import rfft

        n, N = self.n_fft, len(self.y)
        B = c1 - c0
        n_rows = n // 2 + 1
        Sx = np.empty((n_rows, B), dtype=np.complex128)
        dSx = np.empty_like(Sx)
        block = max(1, (1 << 22) // n)
        for k0 in range(c0, c1, block):
            steps.check(0.6 * (k0 - c0) / B)
            k1 = min(c1, k0 + block)
            # the whole path's reflect-padded signal, xp[k .. k + n_fft) for frame k
            seg = padded_segment(self.y, k0, k1 - k0 + n - 1, N + n - 1, n // 2)
            for win, out in zip(self.wins, (Sx, dSx), strict=True):
                F = buffer(seg, n, n - 1, modulated=True)
                F *= win
                out[:, k0 - c0:k1 - c0] = rfft(F, axis=0, astensor=True)
        Sx[self.half] *= 0.5
        dSx[self.half] *= 0.5
        steps.check(0.6)
        Tx = np.empty_like(Sx)
        cols = max(1, _SQUEEZE_CELLS // n_rows)
        with T._SSQ_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k0 in range(0, B, cols):
                steps.check(0.6 + 0.4 * k0 / B)
                k1 = min(B, k0 + cols)
                Tx[:, k0:k1], _ = ssqueeze(Sx[:, k0:k1], None, ssq_freqs=self.Sfs, Sfs=self.Sfs,
                                           flipud=False, gamma=_GAMMA, dWx=dSx[:, k0:k1],
                                           maprange="maximal", transform="stft")
        return Tx

    def block_bytes(self, B):
        return estimate_ssq_block_bytes(self.n_fft // 2 + 1, B, n_fft=self.n_fft)


# --------------------------------------------------------------------------
# SSQ-CWT
# --------------------------------------------------------------------------

def _cwt_rows(spec: T.TransformSpec, n: int, dx: float) -> tuple[np.ndarray, np.ndarray]:
    """(scales ascending, ssq frequencies ascending) of the whole-signal SSQ-CWT."""
    wk = T._wavelet_key(spec)
    scales = T._selected_scales(spec, n, dx)
    freqs = T._associated_frequencies(wk, scales, n, dx)
    if not np.all(np.diff(freqs) > 0):
        raise ParameterError("ssq_cwt returned frequencies that do not ascend")
    return scales, freqs


class _CWTFilters:
    """The SSQ-CWT's rows as filters on any FFT grid, without the signal: the
    wavelets' analytic filters ``f`` (and ``n``), the edge filters, each row's
    support and the groups of rows by support."""

    def __init__(self, spec, N, dx, tol, cache_bytes: int = 0):
        self.spec, self.N, self.dx, self.fs, self.tol = spec, N, dx, 1.0 / dx, float(tol)
        self.cache_limit = int(cache_bytes or _FILTER_CACHE_BYTES)
        wk = T._wavelet_key(spec)
        self.wav = T._wavelet(wk)
        # ssqueezepy's first-order GMW in closed form (to 1e-12; ~10x faster than its kernel)
        self.cf = CB._closed_form(wk)
        self.scales, self.ssq_freqs = _cwt_rows(spec, N, dx)        # ascending scale
        self.n_pad, self.pad_left = T.cwt_padding(N)
        self.edge = bool(spec.edge_rows)
        # the edge filters' weights as cwt_filterbank gives the 'ssq_cwt' kind them
        Css = T._adm_ssq(wk)
        self.edge_weights = (2.0 / Css) * T._ssq_const(self.scales, N)   # ascending scale
        self.k_mid = float(np.sqrt(self.ssq_freqs[0] * self.ssq_freqs[-1]) * dx)
        # Morlet leaks to negative frequencies; GMW and bump are exactly zero there
        probe = self._psi(-np.linspace(0.0, np.pi, 64)[1:] * self.scales[-1])
        self.negative = bool(np.any(probe != 0))
        self._lock = threading.Lock()
        self._groups_lock = threading.Lock()
        self._cache: dict = {}
        self._cache_size = 0
        self._groups = None

    def _psi(self, w: np.ndarray) -> np.ndarray:
        """The wavelet's formula at radian frequencies ``w`` [float64, any shape]."""
        if self.cf is None:
            return _fn(self.wav, w)
        beta, gamma, c = self.cf
        w = np.asarray(w, dtype=np.float64)
        t = np.maximum(w, 1e-300)
        with np.errstate(over="ignore", under="ignore"):
            out = np.log(t)
            out *= beta
            out += c
            out -= t * t * t if gamma == 3 else t ** gamma
            np.exp(out, out=out)
        out[w <= 0] = 0.0
        return out

    def _psi_rows(self, s: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``psi(s_i u_k)`` [shape=(len(s), len(u)), float64]: for the closed-form GMW
        ``exp((c + beta log s) + beta log u - s^gamma u^gamma)``, the logs and powers
        of u computed once for all rows (one exp per value)."""
        s = np.asarray(s, dtype=np.float64).ravel()
        if self.cf is None:
            return self._psi(s[:, None] * u[None, :])
        beta, gamma, c = self.cf
        pos = u > 0
        with np.errstate(divide="ignore", over="ignore"):
            bl = np.where(pos, beta * np.log(np.where(pos, u, 1.0)), -np.inf)
            ug = np.where(pos, u, 0.0) ** gamma
            out = np.multiply.outer(-(s ** gamma), ug)
            out += bl[None, :]
            out += (c + beta * np.log(s))[:, None]
            np.exp(out, out=out)
        return out

    def _wavelet_f(self, j: np.ndarray, M: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(f, n) of the wavelets at scale indices ``j`` on the M grid, [shape=(len(j), M)]."""
        u, v, taper = _grid(M)
        s = self.scales[j][:, None]
        f = self._psi_rows(self.scales[j], u)
        f *= 0.5 * taper[None, :]
        n = None
        if self.negative:
            n = np.where(v[None, :] <= 0, self._psi(s * np.minimum(v, 0.0)[None, :]), 0.0)
        return f, n

    def _edge_R(self, M: int, u: np.ndarray) -> np.ndarray:
        """The wavelets' weighted real-part response R(u) (core.tf.transforms._edge_filters),
        continued past pi along the wavelets' formula."""
        R = np.zeros(len(u))
        step = max(1, _CHUNK_ELEMS // max(len(u), 1))
        for i in range(0, len(self.scales), step):
            s = self.scales[i:i + step]
            p = self._psi_rows(s, u)
            if self.negative:
                p = p + self._psi_rows(s, -u)
            R += self.edge_weights[i:i + step] @ (0.5 * p)
        return R

    def _edge_f(self, which: str, M: int) -> np.ndarray:
        u, _, taper = _grid(M)
        cut = 2.0 * np.pi * self.k_mid
        out = np.zeros((1, M))
        if which == "low":
            # whole grid only: f = G on [0, cut), nothing on negative bins (G where needed)
            k = np.flatnonzero((u >= 0) & (u < cut))
            out[0, k] = 1.0 - self._edge_R(len(k), u[k])
        else:
            k = np.flatnonzero(u >= cut)
            out[0, k] = (1.0 - self._edge_R(len(k), u[k])) * taper[k]
        return out

    def _filters(self, key, M: int):
        """(f, n) for one group key on the M grid, cached up to a byte limit."""
        ck = (key, M)
        with self._lock:
            hit = self._cache.get(ck)
        if hit is not None:
            return hit
        f, n = self._make_filters(key, M)
        nbytes = f.nbytes + (0 if n is None else n.nbytes)
        with self._lock:
            if self._cache_size + nbytes <= self.cache_limit:
                self._cache[ck] = (f, n)
                self._cache_size += nbytes
        return f, n

    def _make_filters(self, key, M: int):
        kind, j = key
        if kind == "wav":
            return self._wavelet_f(np.asarray(j, dtype=np.intp), M)
        return self._edge_f(kind, M), None

    def _drop_filters(self, M: int) -> None:
        """Forget the cached filters of the M grid."""
        with self._lock:
            for ck in [ck for ck in self._cache if ck[1] == M]:
                f, n = self._cache.pop(ck)
                self._cache_size -= f.nbytes + (0 if n is None else n.nbytes)

    def _probe(self, key) -> int | None:
        """Support (samples) beyond which the row's kernels (f and the derivative's)
        hold <= tol of the filter's peak; None = the whole padded grid."""
        kind, j = key
        if kind == "low":
            return None
        s = self.scales[j[0]] if kind == "wav" else self.scales[0]
        P = 1 << int(np.ceil(np.log2(max(4096.0, 8.0 * s))))
        while P < self.n_pad:
            f, n = self._make_filters(key, P)       # not cached: no block uses these grids
            u, v, _ = _grid(P)
            worst = 0
            for filt in (f[0], f[0] * u) + (() if n is None else (n[0], n[0] * v)):
                peak = float(np.abs(filt).max())
                if peak == 0:
                    continue
                h = np.abs(sp_fft.ifft(filt))
                lag = np.minimum(np.arange(P), P - np.arange(P))
                per_lag = np.bincount(lag, weights=h, minlength=P // 2 + 1)
                tail = per_lag.sum() - np.cumsum(per_lag)
                ok = np.flatnonzero(tail <= self.tol * peak)
                worst = max(worst, int(ok[0]) if len(ok) else P)
            if worst <= P // 8:
                return max(worst, 1)
            P *= 4
        return None

    def groups(self):
        """[(support or None, keys)]: rows grouped by power-of-2 support (probed once;
        a second thread asking meanwhile waits for the first's)."""
        if self._groups is not None:
            return self._groups
        with self._groups_lock:
            if self._groups is None:
                self._groups = self._probe_groups()
        return self._groups

    def _probe_groups(self):
        keys = [("wav", (int(j),)) for j in range(len(self.scales))]
        if self.edge:
            keys += [("low", ()), ("high", ())]
        by = {}
        for key in keys:
            L = self._probe(key)
            if L is not None:
                L = 1 << int(np.ceil(np.log2(max(L, _MIN_SUPPORT))))
            by.setdefault(L, []).append(key)
        return sorted(by.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))

    def whole_keys(self) -> list:
        """The keys of the rows computed on the whole padded grid (the low edge row, and
        the wavelets whose support is too long for a block)."""
        g = self.groups()
        return list(g[-1][1]) if g and g[-1][0] is None else []


class _CWTImpl(_CWTFilters):
    def __init__(self, y, spec, dx, tol, steps: Steps, whole_bytes: int, cache_bytes: int):
        super().__init__(spec, len(y), dx, tol, cache_bytes)
        steps.check()
        xp = T.reflect_pad(np.asarray(y, dtype=np.float64), self.n_pad, self.pad_left)
        Xr = sp_fft.rfft(xp)
        del xp
        # analytic signal on the padded grid: 2 on (0, pi), 1 at DC and Nyquist
        Xr[1:self.n_pad // 2] *= 2.0
        Xa = np.zeros(self.n_pad, dtype=np.complex128)
        Xa[:len(Xr)] = Xr
        del Xr
        self.xa = sp_fft.ifft(Xa, overwrite_x=True)
        del Xa
        steps.check()
        self.whole_limit = max(0, int(whole_bytes))
        self._whole = None            # the kept span of the whole-grid rows
        self._whole_lock = threading.Lock()
        self.whole_computed = 0       # spans made so far (tests and figures read it)

    # whole-grid rows, kept for a span of columns -------------------------------

    def whole_column_bytes(self) -> int:
        """Bytes per column of the kept whole-grid rows: ``Wx`` and ``dWx`` of each
        wavelet row (complex128), the edge row's coefficient."""
        keys = self.whole_keys()
        n_wav = sum(1 for k in keys if k[0] == "wav")
        return 32 * n_wav + 16 * (len(keys) - n_wav)

    def whole_span(self) -> int:
        """Columns of the whole-grid rows kept at once (0: none kept, see whole_limit)."""
        per = self.whole_column_bytes()
        return 0 if per == 0 else int(min(self.N, self.whole_limit // per))

    def whole_work_bytes(self) -> int:
        """Peak bytes of making one span beside it: the grid's spectrum (and its
        mirror), an FFT batch and its inverse and products, the batch's filters."""
        M = self.n_pad
        batch = max(_CHUNK_ELEMS, M)
        return int((1 + self.negative) * 16 * M + 4 * 16 * batch + 8 * batch)

    def _kept(self, c0: int, c1: int, steps: Steps):
        """The kept span holding columns [c0, c1) (made if needed), or None when the
        span cannot hold them."""
        S = self.whole_span()
        if S < c1 - c0 or S == 0:
            return None
        with self._whole_lock:
            w = self._whole
            if w is not None and w[0] <= c0 and c1 <= w[1]:
                return w
            # from the block asked for on: a sweep (an image, an inverse) then gets S // B
            # blocks per span; at the end, the span's last S columns
            a = min(c0, self.N - S)
            self._whole = None                  # the old span goes before the new is made
            w = self._make_whole(a, a + S, steps)
            self._whole = w
            self.whole_computed += 1
        if S >= self.N:
            # the whole rows of every column are kept: their whole-grid filters are done
            self._drop_filters(self.n_pad)
        return w

    def _make_whole(self, a: int, b: int, steps: Steps):
        keys = self.whole_keys()
        jw = np.array([k[1][0] for k in keys if k[0] == "wav"], dtype=np.intp)
        pos = np.zeros(len(self.scales), dtype=np.intp)
        pos[jw] = np.arange(len(jw))
        B, M = b - a, self.n_pad
        Wx = np.empty((len(jw), B), dtype=np.complex128)
        dWx = np.empty_like(Wx)
        edge = {}
        Z = sp_fft.fft(self.xa)
        Zc = np.conj(Z[(-np.arange(M)) % M]) if self.negative else None
        self._group_rows(keys, M, Z, Zc, self.pad_left + a, B, Wx, dWx, edge, steps, pos=pos)
        return (a, b, jw, Wx, dWx, edge)

    # blocks ----------------------------------------------------------------

    def _segment(self, p0: int, M: int) -> np.ndarray:
        if p0 == 0 and M == self.n_pad:
            return self.xa
        return self.xa[np.mod(np.arange(p0, p0 + M), self.n_pad)]

    def _group_rows(self, keys, M, Z, Zc, q0, B, Wx, dWx, out_edge, steps, pos=None):
        u, v, _ = _grid(M)
        du, dv = 1j * self.fs * u, 1j * self.fs * v
        wav = [k for k in keys if k[0] == "wav"]
        chunk = max(1, _CHUNK_ELEMS // M)
        for i in range(0, len(wav), chunk):
            steps.check()
            part = wav[i:i + chunk]
            j = np.array([k[1][0] for k in part], dtype=np.intp)
            f, n = self._filters(("wav", tuple(j.tolist())), M)
            at = j if pos is None else pos[j]
            A = Z * f
            if n is not None:
                C = Zc * (0.5 * n)
                A += C
            Wx[at] = sp_fft.ifft(A, axis=-1, overwrite_x=True)[:, q0:q0 + B]
            A = Z * f
            A *= du
            if n is not None:
                A += C * dv
            dWx[at] = sp_fft.ifft(A, axis=-1, overwrite_x=True)[:, q0:q0 + B]
            del A
        for k in keys:
            if k[0] == "wav":
                continue
            f, _ = self._filters(k, M)
            out_edge[k[0]] = sp_fft.ifft(Z * f[0])[q0:q0 + B]

    def columns(self, c0, c1, steps: Steps):
        from ssqueezepy.ssqueezing import ssqueeze

        B = c1 - c0
        nw = len(self.scales)
        Wx = np.empty((nw, B), dtype=np.complex128)
        dWx = np.empty_like(Wx)
        edge = {}
        groups = self.groups()
        for g, (L, keys) in enumerate(groups):
            steps.check(0.7 * g / len(groups))
            if L is None:
                kept = self._kept(c0, c1, steps)
                if kept is not None:
                    a, _, jw, Ww, dWw, ew = kept
                    Wx[jw] = Ww[:, c0 - a:c1 - a]
                    dWx[jw] = dWw[:, c0 - a:c1 - a]
                    for name, row in ew.items():
                        edge[name] = row[c0 - a:c1 - a]
                    continue
            if L is not None:
                M = sp_fft.next_fast_len(B + 2 * L)
            if L is None or M >= self.n_pad:
                p0, M, q0 = 0, self.n_pad, self.pad_left + c0
            else:
                p0, q0 = self.pad_left + c0 - L, L
            Z = sp_fft.fft(self._segment(p0, M))
            Zc = np.conj(Z[(-np.arange(M)) % M]) if self.negative else None
            self._group_rows(keys, M, Z, Zc, q0, B, Wx, dWx, edge, steps)
            del Z, Zc
        steps.check(0.7)
        Tx = np.empty_like(Wx)
        cols = max(1, _SQUEEZE_CELLS // nw)
        with T._SSQ_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k0 in range(0, B, cols):
                steps.check(0.7 + 0.3 * k0 / B)
                k1 = min(B, k0 + cols)
                Tx[:, k0:k1], _ = ssqueeze(
                    Wx[:, k0:k1], None, self.ssq_freqs, self.scales, fs=self.fs,
                    squeezing="sum", maprange="peak", wavelet=self.wav, gamma=_GAMMA,
                    was_padded=True, flipud=True, dWx=dWx[:, k0:k1], transform="cwt")
        del Wx, dWx
        Tx = Tx[::-1]
        if self.edge:
            Tx = np.vstack([edge["low"][None], Tx, edge["high"][None]])
        return np.ascontiguousarray(Tx)

    def block_bytes(self, B):
        kept = self.whole_span() >= B
        grids = [0]
        for L, _ in self.groups():
            if L is None and kept:
                continue
            grids.append(self.n_pad if L is None
                         else min(self.n_pad, sp_fft.next_fast_len(B + 2 * L)))
        est = estimate_ssq_block_bytes(len(self.scales) + 2 * self.edge, B,
                                       grid=max(grids)) + self.cache_limit
        if kept:
            est += self.whole_bytes()
        return est

    def whole_bytes(self) -> int:
        """The kept span of the whole-grid rows and the peak of making it."""
        S = self.whole_span()
        return 0 if S == 0 else int(S * self.whole_column_bytes() + self.whole_work_bytes())


def _setup_bytes(spec: T.TransformSpec, n: int) -> int:
    """Memory held by :func:`ssq_blocks` itself: the analytic padded signal of an
    SSQ-CWT (16 n_pad, 40 n_pad while it is made); nothing for an SSQ-STFT."""
    if spec.kind != "ssq_cwt":
        return 0
    n_pad, _ = T.cwt_padding(n)
    return 40 * n_pad


def _check_ssq(spec: T.TransformSpec, n: int, dx: float) -> None:
    T._check_spec(spec)
    if not np.isfinite(dx) or dx <= 0:
        raise ParameterError(f"dx={dx!r} must be > 0")
    if spec.kind == "ssq_stft":
        if int(spec.n_fft) > n:
            raise ParameterError(f"n_fft={spec.n_fft} is larger than the signal ({n} samples)")
        g = T.stft_window(spec)
        gc = g[len(g) // 2]
        if abs(gc) < 1e-12:
            raise ParameterError(
                f"window centre g[n_fft//2]={gc!r} is zero; the hop-1 inverse divides by it")
        return
    if spec.kind != "ssq_cwt":
        raise ParameterError(f"block synchrosqueezing needs kind 'ssq_cwt' or 'ssq_stft', "
                             f"got kind={spec.kind!r}")
    if n < T.min_samples(spec, dx):
        raise ParameterError(f"{n} samples are too few for this SSQ-CWT (at least "
                             f"{T.min_samples(spec, dx)} are needed)")


def _rows_of(spec: T.TransformSpec, n: int, dx: float, ssq_freqs=None):
    """(frequencies, row_weights, edge_row_indices) of the whole-signal SSQ transform."""
    if spec.kind == "ssq_stft":
        g = T.stft_window(spec)
        n_rows = len(g) // 2 + 1
        return (np.arange(n_rows) / (len(g) * dx), np.full(n_rows, 2.0 / (g[len(g) // 2] / dx)),
                ())
    f = _cwt_rows(spec, n, dx)[1] if ssq_freqs is None else ssq_freqs
    w = np.full(len(f), 2.0 / T._adm_ssq(T._wavelet_key(spec)))
    edge = ()
    if spec.edge_rows:
        step = 2.0 ** (1.0 / spec.nv)
        f = np.concatenate([[f[0] / step], f, [max(0.5 / dx, f[-1] * step)]])
        w = np.concatenate([[1.0], w, [1.0]])
        edge = (0, len(f) - 1)
    return np.asarray(f, dtype=np.float64), w, edge


def ssq_grid(spec: T.TransformSpec, n_samples: int, *, dx: float = 1.0):
    """The rows of ``transform(signal, spec)`` for an SSQ kind, without computing it.

    Parameters
    ----------
    spec : TransformSpec
        kind 'ssq_cwt', or 'ssq_stft' (hop 1).
    n_samples : int
    dx : float

    Returns
    -------
    frequencies, row_weights : np.ndarray [shape=(n_rows,), float64]
        As the whole-signal TFR has them (row 0 = lowest frequency; an SSQ-CWT's
        edge rows nominal).
    edge_row_indices : tuple of int
        The offset is 0 with edge rows, else the signal's mean (as ``SSQBlocks.offset``).

    Raises
    ------
    ParameterError
        Another kind, a bad spec, or too few samples.
    """
    n, dx = int(n_samples), float(dx)
    _check_ssq(spec, n, dx)
    return _rows_of(spec, n, dx)


#: Bytes an SSQ-CWT engine may keep of its whole-grid rows (:func:`ssq_blocks`).
WHOLE_ROWS_BYTES = 256 << 20


def ssq_blocks(y, spec: T.TransformSpec, *, dx: float = 1.0, tol: float = SSQ_TOL,
               cancel=None, whole_bytes: int = 0, cache_bytes: int = 0) -> SSQBlocks:
    """Prepare block-wise synchrosqueezed columns of the whole signal ``y``.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
        The WHOLE signal (scales, padding and frequencies depend on its length).
    spec : TransformSpec
        kind 'ssq_cwt', or 'ssq_stft' with hop 1.
    dx : float
        Sample spacing (frequencies in cycles per unit of dx).
    tol : float
        SSQ-CWT: kernel tail beyond a row's support, relative to its filter's peak.
    cancel : callable () -> bool, or None
    whole_bytes : int
        SSQ-CWT: bytes of its whole-grid rows (the low edge row and the wavelets
        too long for a block: their ``Wx`` and ``dWx``, 32 bytes per row and
        column) the engine may keep. They cost one FFT of the whole padded grid
        per row whatever the block; kept for a span of columns (the whole
        signal when it fits, else the span from the block asked for on), they
        are computed once per span instead of once per block. 0 = never kept
        (:data:`WHOLE_ROWS_BYTES` is the display source's and column
        inverter's choice). ``SSQBlocks.whole_bytes`` says what it takes.
    cache_bytes : int
        SSQ-CWT: limit of the filter cache (0 = 256 MiB); filters past it are
        rebuilt for each block.

    Returns
    -------
    SSQBlocks
        SSQ-CWT holds the analytic padded signal (complex128, ``n_pad``
        samples, :func:`core.tf.transforms.cwt_padding`).

    Raises
    ------
    ParameterError
        Another kind, a bad spec, or too few samples.
    Cancelled
    """
    y = np.ascontiguousarray(y, dtype=np.float64).ravel()
    n = len(y)
    dx = float(dx)
    _check_ssq(spec, n, dx)
    steps = Steps.of(cancel, None, "block SSQ setup")
    if spec.kind == "ssq_stft":
        f, w, edge = _rows_of(spec, n, dx)
        return SSQBlocks(spec=spec, n_samples=n, dx=dx, frequencies=f, row_weights=w,
                         offset=0.0, edge_row_indices=edge, setup_bytes=0,
                         _impl=_STFTImpl(y, spec, dx))
    impl = _CWTImpl(y, spec, dx, tol, steps, whole_bytes, cache_bytes)
    f, w, edge = _rows_of(spec, n, dx, impl.ssq_freqs)
    offset = 0.0 if spec.edge_rows else float(y.mean())
    return SSQBlocks(spec=spec, n_samples=n, dx=dx, frequencies=f, row_weights=w,
                     offset=offset, edge_row_indices=edge,
                     setup_bytes=16 * impl.n_pad, _impl=impl)


def check_engine(engine, spec: T.TransformSpec, n_samples: int, dx: float) -> None:
    """ParameterError unless ``engine`` is an :class:`SSQBlocks` of ``spec``, ``n_samples``
    and ``dx`` (an engine handed to a display source or column inverter to share)."""
    if not isinstance(engine, SSQBlocks):
        raise ParameterError(f"engine must be an SSQBlocks, got {type(engine).__name__}")
    if engine.spec != spec or engine.n_samples != int(n_samples) or engine.dx != float(dx):
        raise ParameterError(
            f"engine is for {engine.spec.kind} of {engine.n_samples} samples at dx "
            f"{engine.dx!r}, not {spec.kind} of {int(n_samples)} samples at dx {float(dx)!r} "
            "(or another spec)")


def ssq_cwt_columns(y, c0: int, c1: int, *, spec: T.TransformSpec | None = None,
                    dx: float = 1.0, tol: float = SSQ_TOL, cancel=None,
                    progress=None) -> np.ndarray:
    """``transform(Signal(y, dx), spec).coefficients[:, c0:c1]`` for kind 'ssq_cwt'.

    One call prepares the analytic padded signal; for many blocks keep
    :func:`ssq_blocks`' object and call its ``columns``.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
        The whole signal.
    c0, c1 : int
        Half-open column range inside ``[0, n_samples)``.
    spec : TransformSpec or None
        kind 'ssq_cwt'; None = ``TransformSpec(kind='ssq_cwt')``.

    Returns
    -------
    np.ndarray [shape=(n_rows, c1 - c0), complex128]
        Row 0 = lowest frequency, edge rows included.
    """
    spec = T.TransformSpec(kind="ssq_cwt") if spec is None else spec
    if spec.kind != "ssq_cwt":
        raise ParameterError(f"ssq_cwt_columns needs kind 'ssq_cwt', got kind={spec.kind!r}")
    return ssq_blocks(y, spec, dx=dx, tol=tol, cancel=cancel).columns(
        c0, c1, cancel=cancel, progress=progress)


def ssq_stft_columns(y, c0: int, c1: int, *, spec: T.TransformSpec, dx: float = 1.0,
                     cancel=None, progress=None) -> np.ndarray:
    """``transform(Signal(y, dx), spec).coefficients[:, c0:c1]`` for kind 'ssq_stft'.

    Exact (to FFT rounding): a frame reads ``n_fft`` samples of the padded signal.

    Returns
    -------
    np.ndarray [shape=(n_fft // 2 + 1, c1 - c0), complex128]
        Row 0 = DC.
    """
    if spec.kind != "ssq_stft":
        spec_kind = spec.kind if isinstance(spec, T.TransformSpec) else type(spec).__name__
        raise ParameterError(f"ssq_stft_columns needs kind 'ssq_stft', got kind={spec_kind!r}")
    return ssq_blocks(y, spec, dx=dx, cancel=cancel).columns(c0, c1, cancel=cancel,
                                                             progress=progress)

