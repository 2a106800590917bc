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
~1e-15, see :mod:`core.tf.inversion`); without edge rows it is streamed as the
band of every row plus the mean.

Intervals are the representation :mod:`core.tf.masks` and :mod:`core.tf.bands`
produce: half-open row ranges ``[start[t], end[t])`` per column, row 0 = the
lowest frequency, several bands as ``(n_bands, n_columns)`` (their union is
inverted, overlaps counted once), or a callable giving them for a column
range so that bands are rasterised per block. Arbitrary selections (lasso,
brush) come as ``mask=``: a callable giving the boolean cells of a column
range; for the plain kinds each column's runs of rows become intervals.

The synchrosqueezed kinds ('ssq_cwt', hop-1 'ssq_stft') stream the same
one-integral sums over the block's squeezed columns
(:mod:`core.engine.ssq_blocks`); squeezing moves energy between rows, so
their full inverse is not the signal and the residual is streamed as the sum
over the unselected cells plus the offset.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np
import scipy.fft as sp_fft

from phasebrush.core.engine import cwt_blocks as CB
from phasebrush.core.engine import ssq_blocks as SB
from phasebrush.core.engine.blocks import Steps, padded_segment, plan_blocks
from phasebrush.core.engine.stft_blocks import stft_columns
from phasebrush.core.errors import OutOfMemoryError, ParameterError, ShapeError
from phasebrush.core.memory import available_bytes, budget_bytes, check_fits
from phasebrush.core.tf import transforms as T
from phasebrush.core.tf.inversion import check_row_ranges

__all__ = ["StreamResult", "stream_band", "ssq_band", "estimate_stream_bytes",
           "choose_block_length", "estimate_ssq_stream_bytes", "choose_ssq_block_length",
           "PLAN_OVERLAP", "FFT_LENGTH"]

_DEFAULT_SPEC = T.TransformSpec()
FFT_LENGTH = 1 << 18          # target block FFT length: ~3 ms per FFT, 6 s of 44.1 kHz audio
PLAN_OVERLAP = CB.NYQUIST_OVERLAP["real"]  # the longest local support the block plan assumes
# ~250 half-spectrum rows at the default FFT length: evaluating a GMW row costs
# ~20 ms there, more than its FFT, so a band's rows are built once per run
_FILTER_CACHE_BYTES = 512 << 20
_EVAL_BYTES = 4 * 16 * CB._EVAL_ELEMS      # ssqueezepy's temporaries while filters are built
# an SSQ block holds ~4 rows x columns complex arrays (Wx, dWx, Tx, the squeeze's):
# 64 MiB each at this many cells
_SSQ_BLOCK_CELLS = 1 << 22


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


def _ssq_rows(spec: T.TransformSpec, n_samples: int, dx: float) -> int:
    if spec.kind == "ssq_stft":
        return int(spec.n_fft) // 2 + 1
    return len(T._selected_scales(spec, int(n_samples), float(dx))) + 2 * bool(spec.edge_rows)


def estimate_ssq_stream_bytes(n_samples: int, block_length: int, spec: T.TransformSpec, *,
                              dx: float = 1.0, n_arrays: int = 3) -> int:
    """Estimated peak memory of :func:`stream_band` for kind 'ssq_cwt' or 'ssq_stft', bytes.

    The whole-length float64 arrays (``n_arrays``), what
    :func:`core.engine.ssq_blocks.ssq_blocks` holds (an SSQ-CWT's analytic
    padded signal, counted as while it is made: 40 bytes x ``n_pad``), one
    block (:func:`core.engine.ssq_blocks.estimate_ssq_block_bytes`, an
    SSQ-CWT at the whole padded grid, where its low edge row runs, plus its
    filter cache and the span of whole-grid rows it keeps, at most
    :data:`core.engine.ssq_blocks.WHOLE_ROWS_BYTES`) and the block's mask and sums.
    """
    n, B = int(n_samples), int(block_length)
    rows = _ssq_rows(spec, n, dx)
    if spec.kind == "ssq_cwt":
        n_pad, _ = T.cwt_padding(n)
        block = SB.estimate_ssq_block_bytes(rows, B, grid=n_pad) + SB._FILTER_CACHE_BYTES
        block += min(SB.WHOLE_ROWS_BYTES, (32 * rows + 16) * n)
    else:
        block = SB.estimate_ssq_block_bytes(rows, B, n_fft=int(spec.n_fft))
    sums = rows * B * (1 + 8)
    return int(int(n_arrays) * 8 * n + SB._setup_bytes(spec, n) + block + sums)


def choose_ssq_block_length(n_samples: int, spec: T.TransformSpec, *, dx: float = 1.0,
                            n_arrays: int = 3, budget: int | None = None) -> int:
    """Columns per SSQ block: ~4 Mi cells (rows x columns), fewer if the budget asks.

    Raises
    ------
    OutOfMemoryError
        Even 256-column blocks would not fit the budget.
    """
    n = int(n_samples)
    budget = budget_bytes() if budget is None else int(budget)
    B = min(n, max(256, _SSQ_BLOCK_CELLS // _ssq_rows(spec, n, dx)))
    while True:
        est = estimate_ssq_stream_bytes(n, B, spec, dx=dx, n_arrays=n_arrays)
        if budget is None or est <= budget:
            return B
        if B <= 256:
            raise OutOfMemoryError(f"streaming {spec.kind.upper()} inversion of {n} samples",
                                   est, available=budget, hint="free memory or raise the budget")
        B = max(256, B // 2)


def _mask_intervals(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's runs of True rows as (n_runs, n_cols) half-open ranges (empty: 0, 0)."""
    n_rows, n_cols = m.shape
    d = np.diff(m.astype(np.int8), axis=0, prepend=0, append=0)   # (n_rows + 1, n_cols)
    cs, rs = np.nonzero(d.T == 1)            # column-major: runs in row order per column
    ce, re_ = np.nonzero(d.T == -1)
    K = int(np.bincount(cs, minlength=n_cols).max()) if len(cs) else 0
    S = np.zeros((max(K, 1), n_cols), dtype=np.intp)
    E = np.zeros_like(S)
    if K:
        first = np.searchsorted(cs, np.arange(n_cols))
        rank = np.arange(len(cs)) - first[cs]
        S[rank, cs] = rs
        E[rank, ce] = re_
    return S, E


def _ranges_cells(n_rows: int, s, e) -> np.ndarray:
    """Union of validated (n_bands, n_cols) ranges as a (n_rows, n_cols) bool mask."""
    r = np.arange(n_rows)[:, None]
    m = np.zeros((n_rows, s.shape[1]), dtype=bool)
    for sk, ek in zip(s, e, strict=True):
        m |= (r >= sk[None, :]) & (r < ek[None, :])
    return m


def _check_cells(m, n_rows: int, n_cols: int, where: str) -> np.ndarray:
    m = np.asarray(m)
    if m.shape != (n_rows, n_cols):
        raise ShapeError(f"{where}: mask shape {m.shape}, expected ({n_rows}, {n_cols}) "
                         "(rows of the whole transform, the block's columns)")
    if m.dtype != bool:
        raise ParameterError(f"{where}: mask must be boolean, got dtype {m.dtype}")
    return m


def _as_ranges(start, end, n_rows: int, n_cols: int, where: str):
    """:func:`core.tf.inversion.check_row_ranges`, plus the mask of non-empty columns."""
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
        if support is not None:
            # a power of two: blocks touching other rows then share an FFT length, and
            # so the cached filters (evaluating a row costs more than its FFT)
            support = 1 << int(np.ceil(np.log2(max(int(support), 1))))
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


def ssq_band(sq: SB.SSQBlocks, c0: int, c1: int, cells: np.ndarray, steps: Steps, *,
             residual: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Band and residual of columns ``[c0, c1)`` from an SSQ block engine.

    ``band[t] = sum_r w_r Re Tx[r, t]`` over the selected cells; squeezing
    moves energy between rows, so the full inverse is not the signal and the
    residual is the same sum over the unselected cells plus the offset.

    Parameters
    ----------
    sq : SSQBlocks
    cells : np.ndarray [shape=(n_rows, c1 - c0), bool]
    steps : Steps
        Cancel and progress of the block.

    Returns
    -------
    band, residual : np.ndarray [shape=(c1 - c0,), float64]; residual None if not asked
    """
    Tx = sq.columns(c0, c1, cancel=steps)
    re = Tx.real
    del Tx
    band = np.einsum("r,rt->t", sq.row_weights, np.where(cells, re, 0.0))
    res = None
    if residual:
        res = np.einsum("r,rt->t", sq.row_weights, np.where(cells, 0.0, re)) + sq.offset
    return band, res


def stream_band(y, spec: T.TransformSpec = _DEFAULT_SPEC, *, intervals=None, mask=None,
                dx: float = 1.0,
                residual: bool = True, out_band=None, out_residual=None,
                block_length: int | None = None, tol: float = CB.DEFAULT_TOL, cancel=None,
                progress=None) -> StreamResult:
    """Invert the rows ``intervals`` select, and the rest, block by block.

    Equal to ``RangeInverter(transform(Signal(y, dx), spec)).band_and_residual``
    (to ~1e-9 of the signal's peak; the top rows' real parts to ~1e-7, see
    :mod:`core.engine.cwt_blocks`), or with ``mask=`` to
    ``core.tf.inversion.invert_with_residual(tfr, mask)``, without ever holding
    rows x samples.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
        The whole signal.
    spec : TransformSpec
        kind 'cwt', 'ssq_cwt', or 'stft' / 'ssq_stft' with hop 1.
    intervals : (start, end) or callable (c0, c1) -> (start, end), or None
        Half-open row ranges, int arrays [shape=(n_samples,) or
        (n_bands, n_samples)], row 0 = lowest frequency, rows as the whole
        transform numbers them (edge rows included); or a callable giving
        those for columns ``[c0, c1)`` [shape=(c1 - c0,) or (n_bands, c1 - c0)].
    mask : callable (c0, c1) -> np.ndarray [shape=(n_rows, c1 - c0), bool], or None
        The selected cells of columns ``[c0, c1)`` (rows as the whole
        transform numbers them): any selection, e.g. a lasso or brush mask's
        columns. Exactly one of ``intervals`` and ``mask`` is given.
    dx : float
        Sample spacing.
    residual : bool
        Also make ``full - band`` (with the offset, as core.tf.inversion does).
    out_band, out_residual : np.ndarray [shape=(n_samples,), float64] or None
        Where to write (e.g. ``np.memmap`` of an output file); None = new arrays.
    block_length : int or None
        Columns per block; None = :func:`choose_block_length` for the budget.
    tol : float
        See :func:`core.engine.cwt_blocks.row_support` (kind 'cwt'); for
        'ssq_cwt' the tail tolerance of :func:`core.engine.ssq_blocks.ssq_blocks`
        is used, at most ``tol`` and at most 1e-12.
    cancel : callable () -> bool, or None
        Checked between blocks and FFT batches; True raises Cancelled.
    progress : callable (float) -> None, or None
        Fraction of the columns done, 0..1, after each block.

    Raises
    ------
    ParameterError, ShapeError
        A spec the engine does not stream, bad intervals, masks or outputs,
        both or neither of ``intervals`` and ``mask``.
    OutOfMemoryError
        The estimate does not fit the budget (:mod:`core.memory`).
    Cancelled
    """
    steps = Steps.of(cancel, progress, "streaming inversion")
    y = np.ascontiguousarray(y, dtype=np.float64).ravel()
    n = len(y)
    T._check_spec(spec)
    if (intervals is None) == (mask is None):
        raise ParameterError("stream_band needs exactly one of intervals= and mask=, got "
                             + ("both" if mask is not None else "neither"))
    if mask is not None and not callable(mask):
        raise ParameterError("mask must be a callable (c0, c1) -> bool array "
                             f"[shape=(n_rows, c1 - c0)], got {type(mask).__name__}")
    ssq = spec.kind in ("ssq_cwt", "ssq_stft")
    engine = geom = None
    if spec.kind == "cwt":
        geom = CB.cwt_geometry(spec, n, dx=dx)
        n_rows = geom.n_rows
        engine = _CWTBlocks(y, geom, float(tol), _FILTER_CACHE_BYTES)
    elif spec.kind in ("stft", "ssq_stft") and int(spec.hop) == 1:
        if int(spec.n_fft) > n:
            raise ParameterError(f"n_fft={spec.n_fft} is larger than the signal ({n} samples)")
        if spec.kind == "stft":
            engine = _STFTBlocks(y, spec)
        n_rows = int(spec.n_fft) // 2 + 1
    elif spec.kind == "ssq_cwt":
        if n < T.min_samples(spec, dx):
            raise ParameterError(f"{n} samples are too few for this SSQ-CWT (at least "
                                 f"{T.min_samples(spec, dx)} are needed)")
        n_rows = _ssq_rows(spec, n, dx)
    else:
        raise ParameterError(
            "streaming inversion supports kind 'cwt', 'ssq_cwt' and hop-1 'stft' / 'ssq_stft',"
            f" got kind={spec.kind!r} hop={spec.hop}")
    if mask is not None:
        def get_cells(c0, c1):
            return _check_cells(mask(c0, c1), n_rows, c1 - c0, f"mask of columns [{c0}, {c1})")

        def get(c0, c1):
            return _mask_intervals(get_cells(c0, c1))
    else:
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

        def get_cells(c0, c1):
            s, e = get(c0, c1)
            s, e, _ = _as_ranges(s, e, n_rows, c1 - c0, f"intervals of columns [{c0}, {c1})")
            return _ranges_cells(n_rows, s, e)
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
    what = f"streaming {spec.kind.upper()} inversion of {n} samples" if ssq else \
        f"streaming inversion of {n} samples"
    if ssq:
        if block_length is None:
            block_length = choose_ssq_block_length(n, spec, dx=dx, n_arrays=n_arrays)
        block_length = int(block_length)
        est = estimate_ssq_stream_bytes(n, block_length, spec, dx=dx, n_arrays=n_arrays)
    else:
        if block_length is None:
            block_length = choose_block_length(n, overlap=overlap, n_arrays=n_arrays)
        block_length = int(block_length)
        # rows longer than the plan's overlap run on the whole padded grid
        whole = (geom.n_pad if geom is not None and block_length + 2 * overlap >= geom.n_pad
                 else None)
        est = estimate_stream_bytes(n, block_length, overlap=overlap, n_arrays=n_arrays,
                                    whole_grid=whole, n_rows=n_rows)
        if geom is not None:
            M = whole or sp_fft.next_fast_len(block_length + 2 * overlap, real=True)
            engine.cache.limit = _cache_bytes(M, n_rows)
    check_fits(what, est, hint="use a smaller block length or free memory")
    try:
        plan = plan_blocks(n, block_length)
        if ssq:
            # whole-grid rows kept for a span of blocks: once per span, not once per block
            sq = SB.ssq_blocks(y, spec, dx=dx, tol=min(float(tol), SB.SSQ_TOL),
                               cancel=steps.part(0.0, 0.0), whole_bytes=SB.WHOLE_ROWS_BYTES)
        band = outs[0] if outs[0] is not None else np.empty(n)
        res = None
        if residual:
            res = outs[1] if outs[1] is not None else np.empty(n)
        # without edge rows the full inverse is not the signal: stream it too
        stream_full = geom is not None and not geom.edge_row_indices
        offset = float(y.mean()) if stream_full else 0.0
        steps.check(0.0)
        for c0, c1 in plan.spans():
            if ssq:
                b, r = ssq_band(sq, c0, c1, get_cells(c0, c1), steps.part(c0 / n, c1 / n),
                                residual=res is not None)
                band[c0:c1] = b
                if res is not None:
                    res[c0:c1] = r
                del b, r
                steps.check(c1 / n)
                continue
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
        raise OutOfMemoryError(what, est, available=available_bytes(),
                               hint="use a smaller block length or free memory") from None
    return StreamResult(band=band, residual=res, block_length=block_length,
                        n_blocks=plan.n_blocks, estimated_bytes=est)
