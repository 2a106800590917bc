"""Streaming band and residual inversion, block by block, in bounded memory.

The one-integral inverse of a hop-1 transform reads column t alone::

    band[t] = sum_{r in [start[t], end[t])} w_r Re C[r, t]

so a band can be inverted block by block from the block coefficients of
:mod:`core.engine.cwt_blocks` / :mod:`core.engine.stft_blocks`, and nothing
of size rows x samples is ever held. Two things keep a CWT block cheap:

- only the rows the block's intervals touch are computed, real parts only
  (``irfft`` of half-spectrum filters);
- rows inside the intervals in EVERY column of the block are summed in the
  frequency domain first (``sum_r w_r psi_r`` is one filter), so a band whose
  edges stay on a few rows within a block costs one inverse FFT plus one per
  edge row.

The residual is ``full - band``, and the full inverse is the signal itself
(CWT with edge rows and hop-1 STFT: ``sum_r w_r Re C[r, t] = x[t]`` to
~1e-15, see :mod:`core.inversion`); without edge rows it is streamed as the
band of every row plus the mean.

Intervals are the representation :mod:`core.masks` and :mod:`core.bands`
produce: half-open row ranges ``[start[t], end[t])`` per column, row 0 = the
lowest frequency, several bands as ``(n_bands, n_columns)`` (their union is
inverted, overlaps counted once), or a callable giving them for a column
range so that bands are rasterised per block.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np
import scipy.fft as sp_fft

from core import transforms as T
from core.engine import cwt_blocks as CB
from core.engine.blocks import Steps, padded_segment, plan_blocks
from core.engine.stft_blocks import stft_columns
from core.errors import OutOfMemoryError, ParameterError, ShapeError
from core.inversion import check_row_ranges
from core.memory import available_bytes, budget_bytes, check_fits

__all__ = ["StreamResult", "stream_band", "estimate_stream_bytes", "choose_block_length",
           "PLAN_OVERLAP", "FFT_LENGTH"]

_DEFAULT_SPEC = T.TransformSpec()
FFT_LENGTH = 1 << 18          # target block FFT length: ~3 ms per FFT, 6 s of 44.1 kHz audio
PLAN_OVERLAP = CB.NYQUIST_OVERLAP["real"]  # the longest local support the block plan assumes
# ~250 half-spectrum rows at the default FFT length: evaluating a GMW row costs
# ~20 ms there, more than its FFT, so a band's rows are built once per run
_FILTER_CACHE_BYTES = 512 << 20
_EVAL_BYTES = 4 * 16 * CB._EVAL_ELEMS      # ssqueezepy's temporaries while filters are built


@dataclass(frozen=True)
class StreamResult:
    """What :func:`stream_band` made.

    Attributes
    ----------
    band : np.ndarray [shape=(n_samples,), float64]
    residual : np.ndarray [shape=(n_samples,), float64] or None
    block_length : int
        Columns per block.
    n_blocks : int
    estimated_bytes : int
        The estimate checked against the budget (:func:`estimate_stream_bytes`).
    """

    band: np.ndarray
    residual: np.ndarray | None
    block_length: int
    n_blocks: int
    estimated_bytes: int


def estimate_stream_bytes(n_samples: int, block_length: int, *, overlap: int = PLAN_OVERLAP,
                          n_arrays: int = 3, whole_grid: int | None = None,
                          n_rows: int | None = None) -> int:
    """Estimated peak memory of :func:`stream_band`, in bytes.

    Counts the whole-length float64 arrays (the signal, the band and the
    residual: ``n_arrays``), one block's padded segment and spectrum, an FFT
    batch (``CB._CHUNK_ELEMS`` complex and real), the filter cache and
    ssqueezepy's temporaries while filters are built.

    Parameters
    ----------
    n_samples, block_length : int
    overlap : int
        Support beyond each side of a block (samples).
    n_arrays : int
        Whole-length float64 arrays held (3: signal, band, residual; fewer
        when the outputs are memory maps).
    whole_grid : int or None
        ``n_pad`` when some rows need the whole padded grid (then a block's
        FFT is that long).
    n_rows : int or None
        Rows of the transform (bounds the filter cache); None = unknown.
    """
    M = int(whole_grid) if whole_grid else sp_fft.next_fast_len(
        int(block_length) + 2 * int(overlap), real=True)
    block = M * 8 + (M // 2 + 1) * 16 * 2 + int(block_length) * 8 * 4
    batch = max(CB._CHUNK_ELEMS, M) * (16 + 8)
    return int(n_arrays * 8 * int(n_samples) + block + batch + _cache_bytes(M, n_rows)
               + _EVAL_BYTES)


def _cache_bytes(M: int, n_rows: int | None) -> int:
    """The filter cache's limit: every row and as many run sums, at most the default."""
    if n_rows is None:
        return _FILTER_CACHE_BYTES
    return int(min(_FILTER_CACHE_BYTES, 2 * int(n_rows) * (M // 2 + 1) * 8))


def choose_block_length(n_samples: int, *, overlap: int = PLAN_OVERLAP, n_arrays: int = 3,
                        budget: int | None = None) -> int:
    """Columns per block: a block FFT near :data:`FFT_LENGTH`, smaller if the budget asks.

    Raises
    ------
    OutOfMemoryError
        Even 4096-column blocks would not fit the budget.
    """
    n = int(n_samples)
    overlap = int(overlap)
    budget = budget_bytes() if budget is None else int(budget)
    M = max(FFT_LENGTH, 1 << int(np.ceil(np.log2(8 * overlap + 1))))
    while True:
        B = M - 2 * overlap
        if B >= n:
            return n
        if budget is None or estimate_stream_bytes(n, B, overlap=overlap,
                                                   n_arrays=n_arrays) <= budget:
            return B
        if B <= 4096:
            raise OutOfMemoryError(
                f"streaming inversion of {n} samples",
                estimate_stream_bytes(n, B, overlap=overlap, n_arrays=n_arrays),
                available=budget, hint="free memory or raise the budget")
        M //= 2
        M = max(M, 2 * overlap + 4096)


def _as_ranges(start, end, n_rows: int, n_cols: int, where: str):
    """:func:`core.inversion.check_row_ranges`, plus the mask of non-empty columns."""
    s, e = check_row_ranges(n_rows, start, end, n_cols, where=where)
    return s, e, e > s


def _row_sets(s, e, live, n_rows: int):
    """(touched, core) boolean rows: touched by some interval in the block; inside one
    band's interval in every column (summable as one filter)."""
    touched = np.zeros(n_rows, dtype=bool)
    core = np.zeros(n_rows, dtype=bool)
    for sk, ek, lk in zip(s, e, live, strict=True):
        if not lk.any():
            continue
        touched[sk[lk].min():ek[lk].max()] = True
        if lk.all():
            core[sk.max():ek.min()] = True
    return touched, core


def _runs(b: np.ndarray) -> tuple:
    d = np.diff(np.concatenate([[0], b.astype(np.int8), [0]]))
    return tuple(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(),
                     strict=True))


class _FilterCache:
    """Half-spectrum filters by key, least recently used dropped past a byte limit."""

    def __init__(self, limit: int):
        self.limit, self.size, self.d = int(limit), 0, collections.OrderedDict()

    def get(self, key, make):
        f = self.d.get(key)
        if f is not None:
            self.d.move_to_end(key)
            return f
        f = make()
        self.d[key] = f
        self.size += f.nbytes
        while self.size > self.limit and len(self.d) > 1:
            _, old = self.d.popitem(last=False)
            self.size -= old.nbytes
        return f


class _CWTBlocks:
    """Weighted real parts of a CWT's rows over a column block."""

    def __init__(self, y, geom: CB.CWTGeometry, tol: float, cache_bytes: int):
        self.y, self.geom, self.tol = y, geom, tol
        self.cache = _FilterCache(cache_bytes)
        self._X = None

    def spectrum(self, p0: int, M: int) -> np.ndarray:
        if self._X is not None and self._X[0] == (p0, M):
            return self._X[1]
        X = sp_fft.rfft(padded_segment(self.y, p0, M, self.geom.n_pad, self.geom.pad_left))
        self._X = ((p0, M), X)
        return X

    def _row(self, r: int, M: int) -> np.ndarray:
        return self.cache.get(("row", r, M),
                              lambda: CB.row_filters_real(self.geom, [r], M)[0])

    def band(self, c0: int, c1: int, s, e, live, steps: Steps) -> np.ndarray:
        g = self.geom
        B = c1 - c0
        out = np.zeros(B)
        touched, core = _row_sets(s, e, live, g.n_rows)
        if not touched.any():
            return out
        support = CB.row_support(g, np.flatnonzero(touched), part="real", tol=self.tol)
        p0, M, q0 = CB.block_grid(g, c0, c1, support)
        X = self.spectrum(p0, M)
        w = g.row_weights
        core_runs = _runs(core)
        if core_runs:
            # per-row filters are cached: a band drifting across blocks only adds the
            # rows it reaches, and each run's weighted sum is kept for the next block
            phi = np.zeros(M // 2 + 1)
            for a, b in core_runs:
                phi += self.cache.get(("run", a, b, M), lambda a=a, b=b: sum(
                    w[r] * self._row(r, M) for r in range(a, b)))
            out += sp_fft.irfft(X * phi, M)[q0:q0 + B]
        edge = np.flatnonzero(touched & ~core)
        chunk = max(1, CB._CHUNK_ELEMS // M)
        for i in range(0, len(edge), chunk):
            steps.check()
            rows = edge[i:i + chunk]
            F = np.stack([self._row(int(r), M) for r in rows])
            R = sp_fft.irfft(F * X, M, axis=-1)[:, q0:q0 + B]
            inside = ((s[:, None, :] <= rows[None, :, None])
                      & (rows[None, :, None] < e[:, None, :])).any(axis=0)
            out += np.einsum("r,rt->t", w[rows], np.where(inside, R, 0.0))
        return out


class _STFTBlocks:
    def __init__(self, y, spec):
        self.y, self.spec = y, spec
        self.w = T.stft_row_weights(spec)
        self.n_rows = len(self.w)

    def band(self, c0, c1, s, e, live, steps: Steps) -> np.ndarray:
        touched, _ = _row_sets(s, e, live, self.n_rows)
        rows = np.flatnonzero(touched)
        out = np.zeros(c1 - c0)
        if not len(rows):
            return out
        S = stft_columns(self.y, c0, c1, spec=self.spec, rows=rows, cancel=steps).real
        inside = ((s[:, None, :] <= rows[None, :, None])
                  & (rows[None, :, None] < e[:, None, :])).any(axis=0)
        return np.einsum("r,rt->t", self.w[rows], np.where(inside, S, 0.0))


def stream_band(y, spec: T.TransformSpec = _DEFAULT_SPEC, *, intervals, dx: float = 1.0,
                residual: bool = True, out_band=None, out_residual=None,
                block_length: int | None = None, tol: float = CB.DEFAULT_TOL, cancel=None,
                progress=None) -> StreamResult:
    """Invert the rows ``intervals`` select, and the rest, block by block.

    Equal to ``RangeInverter(transform(Signal(y, dx), spec)).band_and_residual``
    (to ~1e-9 of the signal's peak; the top rows' real parts to ~1e-7, see
    :mod:`core.engine.cwt_blocks`) without ever holding rows x samples.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
        The whole signal.
    spec : TransformSpec
        kind 'cwt' or 'stft' with hop 1.
    intervals : (start, end) or callable (c0, c1) -> (start, end)
        Half-open row ranges, int arrays [shape=(n_samples,) or
        (n_bands, n_samples)], row 0 = lowest frequency, rows as the whole
        transform numbers them (edge rows included); or a callable giving
        those for columns ``[c0, c1)`` [shape=(c1 - c0,) or (n_bands, c1 - c0)].
    dx : float
        Sample spacing.
    residual : bool
        Also make ``full - band`` (with the offset, as core.inversion does).
    out_band, out_residual : np.ndarray [shape=(n_samples,), float64] or None
        Where to write (e.g. ``np.memmap`` of an output file); None = new arrays.
    block_length : int or None
        Columns per block; None = :func:`choose_block_length` for the budget.
    tol : float
        See :func:`core.engine.cwt_blocks.row_support`.
    cancel : callable () -> bool, or None
        Checked between blocks and FFT batches; True raises Cancelled.
    progress : callable (float) -> None, or None
        Fraction of the columns done, 0..1, after each block.

    Raises
    ------
    ParameterError, ShapeError
        A spec the engine does not stream, bad intervals or outputs.
    OutOfMemoryError
        The estimate does not fit the budget (:mod:`core.memory`).
    Cancelled
    """
    steps = Steps.of(cancel, progress, "streaming inversion")
    y = np.ascontiguousarray(y, dtype=np.float64).ravel()
    n = len(y)
    T._check_spec(spec)
    if spec.kind == "cwt":
        geom = CB.cwt_geometry(spec, n, dx=dx)
        n_rows = geom.n_rows
        engine = _CWTBlocks(y, geom, float(tol), _FILTER_CACHE_BYTES)
    elif spec.kind == "stft" and int(spec.hop) == 1:
        if int(spec.n_fft) > n:
            raise ParameterError(f"n_fft={spec.n_fft} is larger than the signal ({n} samples)")
        engine = _STFTBlocks(y, spec)
        n_rows = engine.n_rows
        geom = None
    else:
        raise ParameterError(
            f"streaming inversion supports kind 'cwt' and hop-1 'stft', got kind={spec.kind!r}"
            f" hop={spec.hop}")
    if callable(intervals):
        get = intervals
    else:
        try:
            start, end = intervals
        except (TypeError, ValueError):
            raise ParameterError("intervals must be (start, end) or a callable") from None
        s_all, e_all, _ = _as_ranges(start, end, n_rows, n, "intervals")

        def get(c0, c1):
            return s_all[:, c0:c1], e_all[:, c0:c1]
    outs = []
    for name, arr, want in (("out_band", out_band, True), ("out_residual", out_residual,
                                                           residual)):
        if not want:
            outs.append(None)
        elif arr is None:
            outs.append(None)
        else:
            if getattr(arr, "shape", None) != (n,):
                raise ShapeError(f"{name} must have shape ({n},), got "
                                 f"{getattr(arr, 'shape', None)}")
            outs.append(arr)
    n_arrays = 1 + sum(1 for o, want in zip(outs, (True, residual), strict=True)
                       if want and o is None)
    overlap = PLAN_OVERLAP
    if block_length is None:
        block_length = choose_block_length(n, overlap=overlap, n_arrays=n_arrays)
    block_length = int(block_length)
    # rows longer than the plan's overlap run on the whole padded grid
    whole = geom.n_pad if geom is not None and block_length + 2 * overlap >= geom.n_pad else None
    est = estimate_stream_bytes(n, block_length, overlap=overlap, n_arrays=n_arrays,
                                whole_grid=whole, n_rows=n_rows)
    if geom is not None:
        M = whole or sp_fft.next_fast_len(block_length + 2 * overlap, real=True)
        engine.cache.limit = _cache_bytes(M, n_rows)
    check_fits(f"streaming inversion of {n} samples", est,
               hint="use a smaller block length or free memory")
    try:
        band = outs[0] if outs[0] is not None else np.empty(n)
        res = None
        if residual:
            res = outs[1] if outs[1] is not None else np.empty(n)
        plan = plan_blocks(n, block_length)
        # without edge rows the full inverse is not the signal: stream it too
        stream_full = geom is not None and not geom.edge_row_indices
        offset = float(y.mean()) if stream_full else 0.0
        steps.check(0.0)
        for c0, c1 in plan.spans():
            s, e = get(c0, c1)
            s, e, live = _as_ranges(s, e, n_rows, c1 - c0, f"intervals of columns [{c0}, {c1})")
            b = engine.band(c0, c1, s, e, live, steps)
            band[c0:c1] = b
            if res is not None:
                if stream_full:
                    full_s = np.zeros((1, c1 - c0), dtype=np.intp)
                    full_e = np.full((1, c1 - c0), n_rows, dtype=np.intp)
                    full = engine.band(c0, c1, full_s, full_e, full_e > full_s, steps) + offset
                    res[c0:c1] = full - b
                else:
                    res[c0:c1] = y[c0:c1] - b
            steps.check(c1 / n)
    except MemoryError as exc:
        if isinstance(exc, OutOfMemoryError):
            raise
        raise OutOfMemoryError(f"streaming inversion of {n} samples", est,
                               available=available_bytes(),
                               hint="use a smaller block length or free memory") from None
    return StreamResult(band=band, residual=res, block_length=block_length,
                        n_blocks=plan.n_blocks, estimated_bytes=est)
