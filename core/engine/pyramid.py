"""Display magnitudes of the CWT: one value per screen pixel, peak or RMS, cached.

:class:`MagnitudePyramid` computes the multirate rows of
:mod:`core.engine.multirate` tile by tile (a tile is a column range, the
whole signal when its padded grid is one exact block, else one engine
block) and keeps per tile and row a pyramid of levels: level 0 is ``|C|`` at
the row's hop ``d_r``; level k holds, per cell of ``2^k`` samples, their peak
and sum of squares. Tiles live in an LRU cache within a byte budget.

An image of columns ``[c0, c1)`` at ``width`` pixels: pixel p covers columns
``[e_p, e_p+1)``, ``e_p = c0 + floor(p (c1 - c0) / width)``. For each row,
the row's samples ``t = j d_r`` inside the pixel are reduced EXACTLY (peak:
max; RMS: sqrt(mean of squares)), the range split into O(log) aligned cells
of the levels. A pixel with no sample of the row (narrower than the hop)
REPEATS the sample nearest its centre.

So the image equals a brute-force reduction of ``|transform(...).coefficients|``
over the same samples to single precision (tests: 1e-6 of the row's peak).
Against ALL columns of the pixel it is low by what ``|C|`` does between two
samples: a few per cent for smooth signals, up to ~40 % of the row's peak at
a click in the pixels next to it (headroom=2 halves the hops and roughly
halves that, at twice the cost).

Cost: a tile costs its multirate rows (see core.engine.multirate) once; an
image then costs O(rows x width x log(tile / hop)) from the cache. Memory per tile: 4 bytes
per multirate sample for level 0, 8 per cell above (about 4 + 8 = 12 bytes per
sample in all), i.e. ~12 x ``sum_r T / d_r``; the cache holds
``budget_bytes`` of tiles (default 256 MiB).
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from core import transforms as T
from core.engine import cwt_blocks as CB
from core.engine import multirate as MR
from core.engine.blocks import Steps
from core.errors import ParameterError
from core.memory import check_fits

__all__ = ["MagnitudePyramid", "magnitude_image", "MODES"]

MODES = ("peak", "rms")
DEFAULT_CACHE_BYTES = 256 << 20
_DEFAULT_SPEC = T.TransformSpec()


class _Tile:
    """Levels of one tile: per row, lists of (peak float32, sum of squares float32)."""

    __slots__ = ("c0", "levels", "n_bytes")

    def __init__(self, c0: int, rows: list):
        self.c0 = c0
        self.levels = []
        n_bytes = 0
        for a in rows:
            mag = np.abs(a).astype(np.float32)
            lv = [(mag, mag * mag)]
            n_bytes += mag.nbytes
            while len(lv[-1][0]) > 1:
                pk, sq = lv[-1]
                if len(pk) % 2:
                    pk = np.append(pk, np.float32(0))
                    sq = np.append(sq, np.float32(0))
                lv.append((np.maximum(pk[0::2], pk[1::2]), sq[0::2] + sq[1::2]))
                n_bytes += 8 * len(lv[-1][0])
            self.levels.append(lv)
        self.n_bytes = n_bytes


class MagnitudePyramid:
    """Per-row peak and mean-square levels of the multirate CWT, built lazily per tile.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
        The whole signal (kept by reference, read as float64).
    spec : TransformSpec
        kind 'cwt'.
    dx : float
    rows : sequence of int or None
        TFR rows (row 0 = lowest frequency); None = all.
    headroom : float
        Of the hops (:func:`core.engine.multirate.plan_multirate`); 2 halves
        every hop for a smoother display, at twice the cost.
    tile_length : int or None
        Columns per tile; None = the whole signal when its padded grid is one
        exact block, else the engine's block length.
    cache_bytes : int
        LRU budget of the tiles.

    Thread safety: one image at a time (the GUI's worker); the cache is locked.
    """

    def __init__(self, y, spec: T.TransformSpec = _DEFAULT_SPEC, *, dx: float = 1.0, rows=None,
                 headroom: float = 1.0, tile_length: int | None = None,
                 cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.y = np.asarray(y, dtype=np.float64).ravel()
        self.geom = CB.cwt_geometry(spec, len(self.y), dx=dx)
        self.plan = MR.plan_multirate(self.geom, rows, headroom=headroom,
                                      block_length=tile_length)
        self.tile_length = int(self.plan.block_length)
        self.cache_bytes = int(cache_bytes)
        self._engine = MR._Rows(self.y, self.plan)
        self._tiles: collections.OrderedDict = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def rows(self) -> np.ndarray:
        """TFR rows of the image, ascending in frequency [shape=(n_rows,), intp]."""
        return self.plan.rows

    @property
    def frequencies(self) -> np.ndarray:
        return self.geom.frequencies[self.plan.rows]

    @property
    def n_columns(self) -> int:
        """Columns of the TFR: one per signal sample (the CWT's own numbering)."""
        return int(self.geom.n_samples)

    def column_times(self, c0: int = 0, c1: int | None = None, *, x0: float = 0.0) -> np.ndarray:
        """Axis values of columns [c0, c1): ``x0 + c * dx`` [shape=(c1 - c0,), float64].

        Column c is sample c (``TFR.times``); ``x0`` is the signal's first axis value.
        """
        c1 = self.n_columns if c1 is None else int(c1)
        return float(x0) + float(self.geom.dx) * np.arange(int(c0), c1, dtype=np.float64)

    def tiles(self, c0: int, c1: int) -> range:
        """Indices of the tiles covering columns [c0, c1)."""
        T_ = self.tile_length
        return range(int(c0) // T_, -(-int(c1) // T_))

    def missing(self, c0: int, c1: int) -> list:
        """Tiles of [c0, c1) not in the cache (what an image would compute)."""
        with self._lock:
            return [t for t in self.tiles(c0, c1) if t not in self._tiles]

    def estimate_tile_bytes(self) -> int:
        """Peak bytes of computing one tile: the multirate work plus its levels."""
        T_ = self.tile_length
        return MR.estimate_multirate_bytes(self.plan, T_, itemsize=16) + int(
            12 * sum(-(-T_ // int(d)) for d in self.plan.hops))

    def _tile(self, t: int, steps: Steps) -> _Tile:
        with self._lock:
            hit = self._tiles.get(t)
            if hit is not None:
                self._tiles.move_to_end(t)
                return hit
        a = t * self.tile_length
        b = min(self.geom.n_samples, a + self.tile_length)
        rows = MR._compute(self._engine, a, b, np.complex128, steps)
        tile = _Tile(a, rows)
        with self._lock:
            self._tiles[t] = tile
            self._bytes += tile.n_bytes
            while self._bytes > self.cache_bytes and len(self._tiles) > 1:
                _, old = self._tiles.popitem(last=False)
                self._bytes -= old.n_bytes
        return tile

    def image(self, c0: int = 0, c1: int | None = None, *, width: int, mode: str = "peak",
              db: bool = True, compute: bool = True, cancel=None,
              progress=None) -> np.ndarray:
        """Magnitude image of columns [c0, c1) at ``width`` pixels (see the module docstring).

        Parameters
        ----------
        c0, c1 : int
            Column range; c1 None = the end.
        width : int >= 1
        mode : {"peak", "rms"}
        db : bool
            ``20 log10(value)`` (zeros become -inf-free: float32 tiny).
        compute : bool
            False: missing tiles are not computed and their pixels are NaN
            (a GUI shows the cached part at once, then computes the visible
            tiles one by one: :meth:`missing`).
        cancel, progress
            Checked / reported per tile and row.

        Returns
        -------
        np.ndarray [shape=(n_rows, width), float32]
            Row 0 = lowest frequency (like TFR).

        Raises
        ------
        ParameterError
            Bad range, width or mode.
        OutOfMemoryError
            A tile would not fit the budget (:meth:`estimate_tile_bytes`).
        Cancelled
        """
        c0 = int(c0)
        c1 = self.geom.n_samples if c1 is None else int(c1)
        if not 0 <= c0 < c1 <= self.geom.n_samples:
            raise ParameterError(f"columns [{c0}, {c1}) are not inside "
                                 f"[0, {self.geom.n_samples})")
        width = int(width)
        if width < 1:
            raise ParameterError(f"width={width} must be >= 1")
        if mode not in MODES:
            raise ParameterError(f"mode={mode!r}: expected one of {MODES}")
        steps = Steps.of(cancel, progress, "magnitude image")
        tiles = list(self.tiles(c0, c1))
        if compute and self.missing(c0, c1):
            check_fits(f"magnitude image tile ({self.tile_length} columns, "
                       f"{len(self.rows)} rows)", self.estimate_tile_bytes(),
                       hint="choose fewer rows or a shorter tile_length")
        got = {}
        for n, t in enumerate(tiles):
            part = steps.part(n / len(tiles), (n + 1) / len(tiles))
            if compute:
                got[t] = self._tile(t, part)
            else:
                with self._lock:
                    if t in self._tiles:
                        got[t] = self._tiles[t]
        steps.check(1.0)
        out = np.full((len(self.rows), width), np.nan, dtype=np.float32)
        edges = c0 + (np.arange(width + 1, dtype=np.int64) * (c1 - c0)) // width
        for i, d in enumerate(self.plan.hops):
            steps.check(None)
            out[i] = self._row(i, int(d), got, tiles, edges, mode)
        if db:
            with np.errstate(divide="ignore", invalid="ignore"):
                np.log10(np.maximum(out, np.finfo(np.float32).tiny), out=out, where=~np.isnan(out))
            out *= 20.0
        return out

    def _row(self, i, d, got, tiles, edges, mode) -> np.ndarray:
        """Row ``i``'s pixels: the samples ``t = j d`` in ``[e_p, e_p+1)`` reduced
        exactly, each range split into O(log) aligned cells of the levels."""
        width = len(edges) - 1
        peak = np.zeros(width)
        sq = np.zeros(width)
        cnt = np.zeros(width, dtype=np.int64)
        for t in tiles:
            tile = got.get(t)
            if tile is None:
                continue
            lv = tile.levels[i]
            n0 = len(lv[0][0])
            a = np.clip(-(-(edges[:-1] - tile.c0) // d), 0, n0)
            b = np.clip(-(-(edges[1:] - tile.c0) // d), 0, n0)
            cnt += b - a
            for k, (pk, s2) in enumerate(lv):
                w = 1 << k
                # the low end: a cell where a is aligned to 2^k but not 2^(k+1)
                take = ((a & w) != 0) & (a + w <= b)
                j = a[take] >> k
                peak[take] = np.maximum(peak[take], pk[j])
                sq[take] += s2[j]
                a = a + np.where(take, w, 0)
                take = ((b & w) != 0) & (b - w >= a)
                j = (b[take] >> k) - 1
                peak[take] = np.maximum(peak[take], pk[j])
                sq[take] += s2[j]
                b = b - np.where(take, w, 0)
        res = np.full(width, np.nan, dtype=np.float32)
        has = cnt > 0
        res[has] = peak[has] if mode == "peak" else np.sqrt(sq[has] / cnt[has])
        empty = np.flatnonzero(~has)
        if len(empty) and got:
            # narrower than the hop: repeat the sample nearest the pixel's centre
            starts = np.concatenate([got[t].c0 + d * np.arange(len(got[t].levels[i][0][0]))
                                     for t in tiles if t in got])
            mags = np.concatenate([got[t].levels[i][0][0] for t in tiles if t in got])
            centre = 0.5 * (edges[empty] + edges[empty + 1] - 1)
            if len(starts) == 1:
                j = np.zeros(len(empty), dtype=np.intp)
            else:
                j = np.clip(np.searchsorted(starts, centre), 1, len(starts) - 1)
                j -= (centre - starts[j - 1]) <= (starts[j] - centre)
            ok = np.abs(starts[j] - centre) <= d          # a cached tile next to the pixel
            res[empty[ok]] = mags[j[ok]]
        return res


def magnitude_image(y, spec: T.TransformSpec = _DEFAULT_SPEC, *, dx: float = 1.0, c0: int = 0,
                    c1: int | None = None, width: int, mode: str = "peak", rows=None,
                    db: bool = True, cancel=None, progress=None) -> np.ndarray:
    """One-shot :meth:`MagnitudePyramid.image` (a GUI keeps the pyramid instead).

    Returns
    -------
    np.ndarray [shape=(n_rows, width), float32]
        Peak or RMS of ``|C[r, t]|`` per pixel column, rows ascending in
        frequency, in dB when ``db``.
    """
    pyr = MagnitudePyramid(y, spec, dx=dx, rows=rows)
    return pyr.image(c0, c1, width=width, mode=mode, db=db, cancel=cancel, progress=progress)
