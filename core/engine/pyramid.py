"""Display magnitudes of the CWT: one value per screen pixel, peak or RMS, cached.

:class:`MagnitudePyramid` computes the multirate rows of
:mod:`core.engine.multirate` tile by tile (a tile is a column range, the
whole signal when its padded grid is one exact block, else one engine
block) and keeps per tile, for each run of rows of one hop, a pyramid of 2-D
levels: level 0 is ``|C|`` at the row's hop ``d_r``; level k holds, per cell
of ``2^k`` samples, their peak and sum of squares. Tiles live in an LRU cache
within a byte budget. The whole-grid rows (the lowest, whose supports span the
signal) are computed once over the whole signal and sliced per tile.

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

Cost: a tile costs its multirate rows (see core.engine.multirate) once
(~0.3 s for 2^18 columns at nv 32 from 20 Hz, 44.1 kHz, on a loaded 2-core
machine); an image then costs O(rows x width x log(tile / hop)) from the
cache, tiles reduced one at a time, the rows of one hop together. Memory per
tile: 4 bytes per multirate sample for level 0, 8 per cell above (about
4 + 8 = 12 bytes per sample in all), i.e. ~12 x ``sum_r T / d_r`` (~120 MB
for that tile); the cache holds ``cache_bytes`` of tiles (default 1 GiB, so
a 10-s view and its neighbours stay). :meth:`MagnitudePyramid.estimate_tile_bytes`
bounds the peak of computing a tile (checked before anything is allocated).
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from phasebrush.core.engine import cwt_blocks as CB
from phasebrush.core.engine import multirate as MR
from phasebrush.core.engine.blocks import Steps
from phasebrush.core.errors import ParameterError
from phasebrush.core.memory import check_fits
from phasebrush.core.tf import transforms as T

__all__ = ["MagnitudePyramid", "magnitude_image", "MODES"]

#: What to change when a tile does not fit (the user's terms: the app's settings, the
#: CLI's options).
_TILE_HINT = ("use fewer rows (fewer voices per octave, a higher f min or a lower f max; "
              "--nv / --fmin / --fmax) or free memory")

MODES = ("peak", "rms")
_F32 = np.float32
# ~8 tiles of 2^18 columns at nv 32 (~120 MB each): a 10-s view and its neighbours
DEFAULT_CACHE_BYTES = 1 << 30
_DEFAULT_SPEC = T.TransformSpec()


# --- levels and their reduction -------------------------------------------------------------

class _Levels:
    """One tile: level 0 is ``|C|`` [g, n0] float32 (its squares are taken when read);
    level k >= 1 holds, per cell of ``2^k`` values, their peak and sum of squares."""

    __slots__ = ("c0", "c1", "levels", "n_bytes")

    def __init__(self, c0: int, c1: int, mag: np.ndarray):
        self.c0, self.c1 = int(c0), int(c1)
        self.levels = [(mag, None)]
        n_bytes = mag.nbytes
        pk, sq = mag, None
        while pk.shape[-1] > 1:
            n = pk.shape[-1]
            h, m = n // 2, -(-n // 2)
            npk = np.empty(pk.shape[:-1] + (m,), dtype=_F32)
            nsq = np.empty_like(npk)
            lo, hi = pk[..., 0:2 * h:2], pk[..., 1:2 * h:2]
            np.maximum(lo, hi, out=npk[..., :h])
            if sq is None:
                np.multiply(lo, lo, out=nsq[..., :h])
                nsq[..., :h] += hi * hi
            else:
                np.add(sq[..., 0:2 * h:2], sq[..., 1:2 * h:2], out=nsq[..., :h])
            if n % 2:       # the odd last value is a cell of its own (pyramid.py pads with 0)
                npk[..., h] = pk[..., n - 1]
                nsq[..., h] = pk[..., n - 1] ** 2 if sq is None else sq[..., n - 1]
            self.levels.append((npk, nsq))
            n_bytes += npk.nbytes + nsq.nbytes
            pk, sq = npk, nsq
        self.n_bytes = n_bytes


def _cells(a: np.ndarray, b: np.ndarray, n_levels: int) -> list:
    """Split each value range [a, b) into aligned cells, at most two per level.

    Returns, per level k, ``(i_lo, j_lo, i_hi, j_hi)``: the pixels taking cell
    ``j_lo`` at the range's low end and ``j_hi`` at its high end.
    """
    out = []
    for k in range(n_levels):
        w = 1 << k
        # the low end: a cell where a is aligned to 2^k but not 2^(k+1)
        take = ((a & w) != 0) & (a + w <= b)
        i_lo = np.flatnonzero(take)
        j_lo = a[i_lo] >> k
        a = a + np.where(take, w, 0)
        take = ((b & w) != 0) & (b - w >= a)
        i_hi = np.flatnonzero(take)
        j_hi = (b[i_hi] >> k) - 1
        b = b - np.where(take, w, 0)
        out.append((i_lo, j_lo, i_hi, j_hi))
    return out


class _Accumulator:
    """Per-pixel peak or sum of squares of an image, filled tile by tile.

    ``val`` [n_rows, width] float64; counts per hop (rows of one hop share
    them); the nearest-sample fill of pixels narrower than two hops.
    """

    def __init__(self, n_rows: int, edges: np.ndarray, hops: np.ndarray, mode: str):
        self.edges = edges
        self.width = len(edges) - 1
        self.hops = np.asarray(hops, dtype=np.int64)
        self.peak = mode == "peak"
        self.val = np.zeros((n_rows, self.width))
        self.cnt: dict = {}
        self._near: dict = {}
        self.fill: np.ndarray | None = None

    def _narrow(self, d: int):
        """(pixels, centres, best distance) of the pixels a neighbour sample may fill."""
        if d not in self._near:
            e = self.edges
            idx = np.flatnonzero(e[1:] - e[:-1] < 2 * d)
            self._near[d] = None if not len(idx) else (
                idx, 0.5 * (e[idx] + e[idx + 1] - 1), np.full(len(idx), np.inf),
                np.zeros(len(idx), np.int64))
            if len(idx) and self.fill is None:
                self.fill = np.full(self.val.shape, np.nan, dtype=_F32)
        return self._near[d]

    def add(self, d: int, c0: int, c1: int, members) -> None:
        """Add one tile's rows of hop ``d``: their samples lie at ``c0 + j d`` in [c0, c1).

        members : list of (sel, levels)
            ``sel`` indexes ``val``'s rows (an int or a slice), ``levels`` the
            matching :class:`_Levels` lists (arrays [..., n_k]).
        """
        e = self.edges
        cnt = self.cnt.setdefault(d, np.zeros(self.width, dtype=np.int64))
        n0 = members[0][1][0][0].shape[-1]
        plo = int(np.searchsorted(e[1:], c0, side="right"))
        phi = int(np.searchsorted(e[:-1], c1, side="left"))
        if phi > plo:
            a = np.clip(-(-(e[plo:phi] - c0) // d), 0, n0)
            b = np.clip(-(-(e[plo + 1:phi + 1] - c0) // d), 0, n0)
            cnt[plo:phi] += b - a
            cells = _cells(a, b, len(members[0][1]))
            for sel, levels in members:
                V = self.val[sel, plo:phi]
                for (i_lo, j_lo, i_hi, j_hi), (pk, sq) in zip(cells, levels, strict=True):
                    for i, j in ((i_lo, j_lo), (i_hi, j_hi)):
                        if not len(i):
                            continue
                        if self.peak:
                            V[..., i] = np.maximum(V[..., i], pk[..., j])
                        elif sq is None:
                            v = pk[..., j]
                            V[..., i] += v * v
                        else:
                            V[..., i] += sq[..., j]
        near = self._narrow(d)
        if near is not None:
            idx, centre, best, at = near
            jl = np.clip(np.floor((centre - c0) / d).astype(np.int64), 0, n0 - 1)
            # a tie goes to the earlier sample, whatever order the tiles come in
            for j in (jl, np.minimum(jl + 1, n0 - 1)):
                pos = c0 + j * d
                dist = np.abs(pos - centre)
                upd = np.flatnonzero((dist < best) | ((dist == best) & (pos < at)))
                if len(upd):
                    for sel, levels in members:
                        self.fill[sel, idx[upd]] = levels[0][0][..., j[upd]]
                    best[upd] = dist[upd]
                    at[upd] = pos[upd]

    def result(self) -> np.ndarray:
        """The image in linear units [shape=(n_rows, width), float32], NaN where unknown."""
        out = np.full(self.val.shape, np.nan, dtype=_F32)
        for d in np.unique(self.hops):
            d = int(d)
            rows = np.flatnonzero(self.hops == d)
            cnt = self.cnt.get(d, np.zeros(self.width, dtype=np.int64))
            has = np.flatnonzero(cnt > 0)
            v = self.val[np.ix_(rows, has)]
            out[np.ix_(rows, has)] = v if self.peak else np.sqrt(v / cnt[has])
            near = self._near.get(d)
            if near is not None:
                idx, _, best, _ = near
                ok = idx[(cnt[idx] == 0) & (best <= d)]
                out[np.ix_(rows, ok)] = self.fill[np.ix_(rows, ok)]
        return out


def _check_image(c0, c1, n_columns: int, width, mode) -> tuple[int, int, int, np.ndarray]:
    c0 = int(c0)
    c1 = n_columns if c1 is None else int(c1)
    if not 0 <= c0 < c1 <= n_columns:
        raise ParameterError(f"columns [{c0}, {c1}) are not inside [0, {n_columns})")
    width = int(width)
    if width < 1:
        raise ParameterError(f"width={width} must be >= 1")
    if mode not in MODES:
        raise ParameterError(f"mode={mode!r}: expected one of {MODES}")
    edges = c0 + (np.arange(width + 1, dtype=np.int64) * (c1 - c0)) // width
    return c0, c1, width, edges


def tile_order(tiles, missing, c0: int, c1: int, tile_length: int) -> list:
    """The order an image with ``partial`` visits ``tiles``: the cached ones first
    (free), then the ``missing`` ones from the middle of [c0, c1) outwards, so the
    part of a zoom the user looks at is complete before its margins."""
    gone = set(missing)
    mid = 0.5 * (int(c0) + int(c1)) / int(tile_length)
    return [t for t in tiles if t not in gone] + sorted(gone, key=lambda t: abs(t + 0.5 - mid))


def _to_db(out: np.ndarray) -> np.ndarray:
    """``20 log10`` in place, NaN kept, zeros floored at float32's tiny (as pyramid.py)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        np.log10(np.maximum(out, np.finfo(_F32).tiny), out=out, where=~np.isnan(out))
    out *= 20.0
    return out



class _Tile:
    """Levels of one tile, per run of rows of one hop: ``groups`` holds
    ``(rows, d, levels)`` with ``rows`` a slice of the plan's rows and ``levels`` a
    :class:`_Levels` of their ``|C|`` [len(rows), n0] float32."""

    __slots__ = ("c0", "groups", "n_bytes")

    def __init__(self, c0: int, c1: int, rows: list, hops: np.ndarray):
        self.c0 = int(c0)
        self.groups = []
        n_bytes = 0
        for sl, d in _hop_runs(hops):
            n0 = len(rows[sl.start])
            mag = np.empty((sl.stop - sl.start, n0), dtype=_F32)
            for j, i in enumerate(range(sl.start, sl.stop)):
                np.abs(rows[i], out=mag[j], casting="same_kind")
                rows[i] = None                  # freed as it goes: the tile replaces them
            lv = _Levels(c0, c1, mag)
            self.groups.append((sl, d, lv))
            n_bytes += lv.n_bytes
        self.n_bytes = n_bytes


def _hop_runs(hops: np.ndarray) -> list:
    """Runs of consecutive plan rows of one hop: [(slice, d)]."""
    hops = np.asarray(hops, dtype=np.int64)
    cut = np.flatnonzero(np.diff(hops)) + 1
    starts = np.concatenate([[0], cut])
    stops = np.concatenate([cut, [len(hops)]])
    return [(slice(int(a), int(b)), int(hops[a])) for a, b in zip(starts, stops, strict=True)]


class TileCache:
    """Tiles by index, least recently used dropped once their ``n_bytes`` pass ``limit``
    (the last one put is always kept). Thread-safe: a GUI worker computes while
    another thread asks what is cached."""

    def __init__(self, limit: float):
        self.limit = limit
        self._tiles: collections.OrderedDict = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, t: int):
        """Tile ``t`` (now the most recently used), or None."""
        with self._lock:
            hit = self._tiles.get(t)
            if hit is not None:
                self._tiles.move_to_end(t)
            return hit

    def put(self, t: int, tile) -> None:
        with self._lock:
            self._tiles[t] = tile
            self._bytes += tile.n_bytes
            while self._bytes > self.limit and len(self._tiles) > 1:
                _, old = self._tiles.popitem(last=False)
                self._bytes -= old.n_bytes

    def missing(self, ids) -> list:
        """The indices of ``ids`` not cached."""
        with self._lock:
            return [t for t in ids if t not in self._tiles]


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
        LRU budget of the tiles (the tile being computed comes on top; the
        whole rows over the whole signal too, 8 bytes per sample of them).

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
        self._cache = TileCache(int(cache_bytes))
        self._engine = MR._Rows(self.y, self.plan)

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
        return self._cache.missing(self.tiles(c0, c1))

    def _cached_whole(self) -> bool:
        """Whole rows are computed once over the whole signal when there are tiles
        to share them (else the one tile computes them itself)."""
        return bool(self.plan.whole.any()) and self.geom.n_samples > self.tile_length

    def estimate_tile_bytes(self) -> int:
        """Peak bytes of computing one tile: the multirate work (complex64 rows, and
        the whole rows over the whole signal when tiles share them), then the
        tile's levels beside the rows still to convert (12 bytes a value)."""
        T_ = self.tile_length
        return MR.estimate_multirate_bytes(self.plan, T_, itemsize=8,
                                           whole_rows=self._cached_whole()) + int(
            12 * sum(-(-T_ // int(d)) for d in self.plan.hops))

    @property
    def cache_bytes(self) -> int:
        return self._cache.limit

    def _tile(self, t: int, steps: Steps) -> _Tile:
        hit = self._cache.get(t)
        if hit is not None:
            return hit
        a = t * self.tile_length
        b = min(self.geom.n_samples, a + self.tile_length)
        rows = MR._compute(self._engine, a, b, np.complex64, steps,
                           cached_whole=self._cached_whole())
        tile = _Tile(a, b, rows, self.plan.hops)
        del rows
        self._cache.put(t, tile)
        return tile

    def image(self, c0: int = 0, c1: int | None = None, *, width: int, mode: str = "peak",
              db: bool = True, compute: bool = True, cancel=None,
              progress=None, partial=None) -> np.ndarray:
        """Magnitude image of columns [c0, c1) at ``width`` pixels (see the module docstring).

        Tiles are reduced one at a time (only the cache keeps them), rows of one
        hop together.

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
        partial : callable or None
            ``partial(img)`` after each computed tile but the last: the image so
            far (as returned, NaN where tiles are still missing); the tiles are
            then visited in :func:`tile_order`. The pixels do not depend on the order.

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
        n = self.geom.n_samples
        c0, c1, width, edges = _check_image(c0, c1, n, width, mode)
        steps = Steps.of(cancel, progress, "magnitude image")
        tiles = list(self.tiles(c0, c1))
        missing = self.missing(c0, c1) if compute else []
        if missing:
            check_fits(f"magnitude image tile ({self.tile_length} columns, "
                       f"{len(self.rows)} rows)", self.estimate_tile_bytes(),
                       hint=_TILE_HINT)
        if partial is not None:
            tiles = tile_order(tiles, missing, c0, c1, self.tile_length)
        left = len(missing)
        hops = np.asarray(self.plan.hops, dtype=np.int64)
        acc = _Accumulator(len(hops), edges, hops, mode)
        for k, t in enumerate(tiles):
            computed = t in missing
            if compute:
                tile = self._tile(t, steps.part(k / len(tiles), (k + 1) / len(tiles)))
            else:
                tile = self._cache.get(t)
            if tile is None:
                continue
            t1 = min(n, tile.c0 + self.tile_length)
            # one add per hop: the accumulator counts a hop's samples once per call
            by_hop: dict = {}
            for sl, d, lv in tile.groups:
                by_hop.setdefault(d, []).append((sl, lv.levels))
            for d, members in by_hop.items():
                steps.check(None)
                acc.add(d, tile.c0, t1, members)
            del tile
            left -= computed
            if partial is not None and computed and left:
                partial(_to_db(acc.result()) if db else acc.result())
        steps.check(1.0)
        out = acc.result()
        return _to_db(out) if db else out


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
