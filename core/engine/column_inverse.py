"""The band and residual of a column range of a long signal, for edits that touch a few.

:func:`core.engine.stream.stream_band` inverts a selection over the whole
signal; an editor that changed the selection in columns ``[c0, c1)`` only
needs those columns again. :class:`ColumnInverter` keeps the engine (the CWT
geometry, its filter cache; the SSQ block engine with its filters and its
whole-grid rows) between calls, so a stroke after a stroke costs the blocks
it touched.

Equal to ``stream_band`` on the same columns (same block engine; the blocks
here start at multiples of ``block_length``, and the block results do not
depend on where a block starts beyond rounding, see
:mod:`core.engine.cwt_blocks` and :mod:`core.engine.ssq_blocks`). The SSQ
kinds ('ssq_cwt', 'ssq_stft') invert their squeezed columns as
:func:`core.engine.stream.ssq_band` does: the selected cells' weighted real
parts, the residual over the unselected cells plus the offset.
"""

from __future__ import annotations

import numpy as np

from phasebrush.core.engine import cwt_blocks as CB
from phasebrush.core.engine import stream as ST
from phasebrush.core.engine.blocks import Steps
from phasebrush.core.engine.ssq_blocks import (
    SSQ_TOL,
    WHOLE_ROWS_BYTES,
    SSQBlocks,
    check_engine,
    ssq_blocks,
)
from phasebrush.core.errors import ParameterError
from phasebrush.core.tf import transforms as T

__all__ = ["ColumnInverter"]

_SSQ_BLOCK_CELLS = 1 << 20


class ColumnInverter:
    """Band and residual inversion of column ranges of one signal.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
        The whole signal (kept by reference, read as float64; the SSQ kinds copy it
        into their engine).
    spec : TransformSpec
        kind 'cwt', 'ssq_cwt', or hop-1 'stft' / 'ssq_stft'.
    dx : float
    block_length : int or None
        Columns per block; None = :func:`core.engine.stream.choose_block_length`
        (SSQ kinds: about 1 Mi cells, rows x columns, ~3700 columns at 283 rows,
        at most :func:`core.engine.stream.choose_ssq_block_length`).
    tol : float
        Kernel tail tolerance ('ssq_cwt': at most
        :data:`core.engine.ssq_blocks.SSQ_TOL`, as stream_band takes it).
    cache_bytes : int
        The filter cache's limit (least recently used filters dropped past it).
    whole_bytes : int
        SSQ-CWT: what the engine may keep of its whole-grid rows
        (:func:`core.engine.ssq_blocks.ssq_blocks`); they are then computed once
        per span (the whole signal when it fits) instead of once per block.
    engine : SSQBlocks or None
        SSQ kinds: an engine of this signal and spec to share (another
        inverter's ``engine``, or the display source's: one probe and one set of
        whole-grid rows for all; engines are thread-safe); None = a new one.

    Thread safety: one call at a time (the app's inversion worker).
    """

    def __init__(self, y, spec: T.TransformSpec, *, dx: float = 1.0,
                 block_length: int | None = None, tol: float = CB.DEFAULT_TOL,
                 cache_bytes: int = ST._FILTER_CACHE_BYTES,
                 whole_bytes: int = WHOLE_ROWS_BYTES, engine: SSQBlocks | None = None):
        self.y = np.ascontiguousarray(y, dtype=np.float64).ravel()
        self.spec = spec
        n = len(self.y)
        T._check_spec(spec)
        self._ssq = None
        self._stream_full = False
        if engine is not None and not spec.is_ssq:
            raise ParameterError(f"engine= is an SSQ block engine; kind {spec.kind!r} has none")
        if spec.kind == "cwt":
            self.geom = CB.cwt_geometry(spec, n, dx=dx)
            self.n_rows = self.geom.n_rows
            self._engine = ST._CWTBlocks(self.y, self.geom, float(tol), int(cache_bytes))
            self._stream_full = not self.geom.edge_row_indices
        elif spec.kind == "stft" and int(spec.hop) == 1:
            self.geom = None
            self._engine = ST._STFTBlocks(self.y, spec)
            self.n_rows = self._engine.n_rows
        elif spec.kind in ("ssq_cwt", "ssq_stft"):
            self.geom = self._engine = None
            if engine is None:
                engine = ssq_blocks(self.y, spec, dx=dx, tol=min(float(tol), SSQ_TOL),
                                    whole_bytes=int(whole_bytes), cache_bytes=int(cache_bytes))
            else:
                check_engine(engine, spec, n, dx)
            self._ssq = engine
            self.n_rows = self._ssq.n_rows
        else:
            raise ParameterError(f"column inversion supports kind 'cwt', 'ssq_cwt' and hop-1 "
                                 f"'stft' / 'ssq_stft', got kind={spec.kind!r} hop={spec.hop}")
        if block_length is None and self._ssq is not None:
            # ~1 Mi cells a block (~60 MB of squeeze work), as the display's tiles; fewer
            # if the budget asks (stream_band's 4 Mi cells suit one pass, not an editor)
            block_length = min(ST.choose_ssq_block_length(n, spec, dx=dx, n_arrays=3),
                               max(1024, _SSQ_BLOCK_CELLS // self.n_rows))
        elif block_length is None:
            block_length = ST.choose_block_length(n, n_arrays=3)
        self.block_length = int(block_length)
        self.offset = float(self.y.mean()) if self._stream_full else 0.0

    @property
    def n_samples(self) -> int:
        return len(self.y)

    @property
    def engine(self):
        """The SSQ block engine (:class:`core.engine.ssq_blocks.SSQBlocks`), None for the
        plain kinds."""
        return self._ssq

    def band_and_residual(self, c0: int, c1: int, intervals, *, out_band=None,
                          out_residual=None, cancel=None, progress=None):
        """Invert the selected rows of columns ``[c0, c1)``, and the rest.

        Parameters
        ----------
        c0, c1 : int
            Half-open column range inside ``[0, n_samples)``.
        intervals : callable (a, b) -> (start, end)
            Half-open row ranges of columns ``[a, b)`` [int, shape=(b - a,) or
            (k, b - a)], as :func:`core.engine.stream.stream_band` takes them.
        out_band, out_residual : np.ndarray [shape=(c1 - c0,)] or None
            Where to write (any float dtype, e.g. views of the document's
            float32 arrays); None = new float64 arrays.
        cancel, progress
            Checked between blocks; progress gets the fraction done.

        Returns
        -------
        band, residual : np.ndarray [shape=(c1 - c0,)]
        """
        c0, c1 = int(c0), int(c1)
        if not 0 <= c0 <= c1 <= self.n_samples:
            raise ParameterError(f"columns [{c0}, {c1}) are not inside [0, {self.n_samples})")
        steps = Steps.of(cancel, progress, "inversion")
        band = np.empty(c1 - c0) if out_band is None else out_band
        res = np.empty(c1 - c0) if out_residual is None else out_residual
        B, n = self.block_length, self.n_samples
        # Whole blocks on a fixed grid (multiples of B): every call then uses the same
        # FFT lengths, so the engine's cached filters serve the next edit too.
        for a in range((c0 // B) * B, c1, B):
            b = min(a + B, n)
            s, e = intervals(a, b)
            where = f"intervals of columns [{a}, {b})"
            s, e, live = ST._as_ranges(s, e, self.n_rows, b - a, where)
            i, j = max(a, c0), min(b, c1)
            if self._ssq is not None:
                x, r = ST.ssq_band(self._ssq, a, b, ST._ranges_cells(self.n_rows, s, e),
                                   steps.part((i - c0) / max(c1 - c0, 1),
                                              (j - c0) / max(c1 - c0, 1)))
            else:
                x = self._engine.band(a, b, s, e, live, steps)
                if self._stream_full:
                    fs = np.zeros((1, b - a), dtype=np.intp)
                    fe = np.full((1, b - a), self.n_rows, dtype=np.intp)
                    r = self._engine.band(a, b, fs, fe, fe > fs, steps) + self.offset - x
                else:
                    r = self.y[a:b] - x
            band[i - c0:j - c0] = x[i - a:j - a]
            res[i - c0:j - c0] = r[i - a:j - a]
            steps.check((j - c0) / max(c1 - c0, 1))
        return band, res
