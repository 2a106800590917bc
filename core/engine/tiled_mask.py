"""A painted selection of a long recording, stored as column tiles.

A dense bool mask of the time-frequency plane costs rows x columns bytes: 300
rows x 26.5 M samples (10 min at 44.1 kHz) is 7.8 GB, though a user paints a
few strokes. :class:`TiledMask` holds the same [n_rows, n_cols] bool mask as
column tiles (``tile`` columns each, bool [n_rows, tile]), allocated on the
first write that sets a cell and freed when they become empty, so its memory
follows what was painted.

Rows are TFR rows (row 0 = lowest frequency), columns TFR columns, as in
:mod:`core.tf.masks`. Every edit paints exactly the cells the dense function of
:mod:`core.tf.masks` would (:func:`~core.tf.masks.paint_stroke`,
:func:`~core.tf.masks.fill_rectangle`, :func:`~core.tf.masks.fill_polygon`) and
returns the flat indices ``row * n_cols + col`` (int64, ascending) of the
cells it changed, which :meth:`TiledMask.flip` undoes and redoes (what the
GUI's LayerModel keeps per undo step). Edits that could allocate much (a
rectangle or lasso over many tiles, a wide region) ask
:func:`core.memory.check_fits` first and raise
:class:`~core.errors.OutOfMemoryError` with the estimate instead.

Not thread-safe: a worker gets a :meth:`TiledMask.copy`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from phasebrush.core.errors import ParameterError, ShapeError
from phasebrush.core.memory import check_fits
from phasebrush.core.tf.masks import _radii, mask_intervals, valid_mask

__all__ = ["TiledMask", "DEFAULT_TILE", "OPS"]

DEFAULT_TILE = 4096          # columns per tile: 1.2 MB at 300 rows
OPS = ("replace", "add", "subtract")
_CHUNK = 1 << 22             # elements per temporary (polygon rows), as core.tf.masks
_INDEX_BYTES = 16            # per changed cell: its int64 index, and the copy sorting makes


class TiledMask:
    """A bool mask [n_rows, n_cols] whose column tiles exist only where cells are set.

    Parameters
    ----------
    n_rows, n_cols : int >= 0
        The TFR's shape (rows: row 0 = lowest frequency; columns: time).
    tile : int >= 1
        Columns per tile; tile ``t`` holds columns ``[t * tile, (t + 1) * tile)``
        (the last one is narrower when ``tile`` does not divide ``n_cols``).

    Attributes
    ----------
    shape : tuple (n_rows, n_cols)
    tile : int
    nbytes : int
        Bytes held by the allocated tiles.
    n_tiles : int
        Number of allocated tiles.
    """

    def __init__(self, n_rows: int, n_cols: int, *, tile: int = DEFAULT_TILE):
        n_rows, n_cols, tile = _int(n_rows, "n_rows"), _int(n_cols, "n_cols"), _int(tile, "tile")
        if n_rows < 0 or n_cols < 0:
            raise ParameterError(f"mask shape ({n_rows}, {n_cols}) must be non-negative")
        if tile < 1:
            raise ParameterError(f"tile={tile} < 1")
        self._shape = (n_rows, n_cols)
        self._tile = tile
        self._tiles: dict[int, np.ndarray] = {}
        self._counts: dict[int, int] = {}
        self._count = 0

    # -- read ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self._shape

    @property
    def tile(self) -> int:
        return self._tile

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._tiles.values())

    @property
    def n_tiles(self) -> int:
        return len(self._tiles)

    def __repr__(self) -> str:
        return (f"TiledMask(shape={self._shape}, tile={self._tile}, n_tiles={self.n_tiles}, "
                f"count={self._count})")

    def count(self) -> int:
        """Number of selected cells (kept up to date by every edit, O(1))."""
        return self._count

    def any(self) -> bool:
        """Whether any cell is selected."""
        return self._count > 0

    def col_span(self) -> tuple[int, int] | None:
        """``(c0, c1)``: columns ``c0 .. c1 - 1`` hold every selected cell (the
        tightest such range); None when the mask is empty."""
        if not self._tiles:
            return None
        t_lo, t_hi = min(self._tiles), max(self._tiles)
        lo = np.flatnonzero(self._tiles[t_lo].any(axis=0))
        hi = np.flatnonzero(self._tiles[t_hi].any(axis=0))
        return t_lo * self._tile + int(lo[0]), t_hi * self._tile + int(hi[-1]) + 1

    def tiles(self, c0: int = 0, c1: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """The allocated tiles overlapping columns ``[c0, c1)``, by column.

        Yields
        ------
        col : int
            The first column of the yielded part.
        cells : np.ndarray [shape=(n_rows, w), bool], read-only view
            Columns ``col .. col + w - 1`` (clipped to ``[c0, c1)``); columns of
            unallocated tiles are all False and not yielded.
        """
        c0, c1 = self._cols(c0, c1)
        for t in self._tile_ids(c0, c1):
            a, b, t0 = max(c0, t * self._tile), min(c1, (t + 1) * self._tile), t * self._tile
            v = self._tiles[t][:, a - t0:b - t0]
            v.setflags(write=False)
            yield a, v

    def block(self, c0: int, c1: int) -> np.ndarray:
        """Columns ``[c0, c1)`` as a dense copy.

        Returns
        -------
        np.ndarray [shape=(n_rows, c1 - c0), bool]
            False where no tile is allocated.

        Raises
        ------
        OutOfMemoryError
            The block does not fit the memory budget.
        """
        c0, c1 = self._cols(c0, c1)
        n_rows = self._shape[0]
        check_fits(f"dense block of {c1 - c0} columns x {n_rows} rows of a mask",
                   n_rows * (c1 - c0), hint="ask for fewer columns")
        out = np.zeros((n_rows, c1 - c0), dtype=bool)
        for a, v in self.tiles(c0, c1):
            out[:, a - c0:a - c0 + v.shape[1]] = v
        return out

    def pooled(self, k: int, c0: int = 0, c1: int | None = None) -> np.ndarray:
        """OR of each group of ``k`` columns (an overview to draw).

        Group ``g`` covers columns ``[c0 + g k, c0 + (g + 1) k)`` clipped to
        ``c1``; ``c0`` must be a multiple of ``k`` so groups fall on multiples
        of ``k`` from column 0 whatever range is asked (a pan does not shift
        them). Cost: O(allocated tiles in the range), however wide the range.

        Parameters
        ----------
        k : int >= 1
        c0 : int, a multiple of ``k``
        c1 : int or None
            End column (exclusive); None = ``n_cols``.

        Returns
        -------
        np.ndarray [shape=(n_rows, ceil((c1 - c0) / k)), bool]
        """
        k = _int(k, "k")
        if k < 1:
            raise ParameterError(f"pooling factor k={k} < 1")
        c0, c1 = self._cols(c0, c1)
        if c0 % k:
            raise ParameterError(f"c0={c0} is not a multiple of k={k}; pass (c0 // k) * k")
        n_rows, n_g = self._shape[0], -(-(c1 - c0) // k)
        check_fits(f"mask overview of {n_g} columns x {n_rows} rows", n_rows * n_g,
                   hint="pool more columns per pixel")
        out = np.zeros((n_rows, n_g), dtype=bool)
        for a, v in self.tiles(c0, c1):
            b = a + v.shape[1]
            ga, gb = (a - c0) // k, (b - 1 - c0) // k
            starts = np.maximum(np.arange(ga, gb + 1, dtype=np.int64) * k + c0, a) - a
            out[:, ga:gb + 1] |= np.logical_or.reduceat(v, starts, axis=1)
        return out

    def intervals(self, c0: int = 0, c1: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every run of selected rows in columns ``[c0, c1)``, tile by tile.

        The same as :func:`core.tf.masks.mask_intervals` of the dense mask's
        columns ``[c0, c1)`` with ``col0=c0``.

        Returns
        -------
        cols, starts, ends : np.ndarray [shape=(n_runs,), int64]
            Rows ``starts[i] .. ends[i] - 1`` of TFR column ``cols[i]`` are
            selected (row 0 = lowest frequency); sorted by column, then row.
        """
        c0, c1 = self._cols(c0, c1)
        parts = []
        for a, v in self.tiles(c0, c1):
            # A tile is mostly empty columns: transposing only the live ones is ~20x faster.
            live = np.flatnonzero(v.any(axis=0))
            cols, starts, ends = mask_intervals(v[:, live])
            parts.append((live[cols] + a, starts, ends))
        if not parts:
            z = np.zeros(0, dtype=np.int64)
            return z, z.copy(), z.copy()
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))

    def to_dense(self) -> np.ndarray:
        """The whole mask as a dense array [shape=(n_rows, n_cols), bool].

        Raises
        ------
        OutOfMemoryError
            ``n_rows * n_cols`` bytes do not fit the memory budget.
        """
        n_rows, n_cols = self._shape
        check_fits(f"dense {n_rows} x {n_cols} mask", n_rows * n_cols,
                   hint="work tile by tile (block, tiles, intervals) instead")
        return self.block(0, n_cols)

    @classmethod
    def from_dense(cls, mask, *, tile: int = DEFAULT_TILE) -> TiledMask:
        """A TiledMask holding ``mask`` [shape=(n_rows, n_cols), bool] (copied;
        all-False tiles are not allocated)."""
        m = valid_mask(mask)
        if m.dtype != bool:
            raise ParameterError("TiledMask.from_dense needs a bool mask; threshold a soft one")
        out = cls(*m.shape, tile=tile)
        for t in range(out._n_tile_ids()):
            part = m[:, t * out._tile:(t + 1) * out._tile]
            n = int(np.count_nonzero(part))
            if n:
                out._tiles[t] = np.array(part, dtype=bool, order="C")
                out._counts[t] = n
                out._count += n
        return out

    @classmethod
    def from_intervals(cls, n_rows: int, n_cols: int, cols, starts, ends, *,
                       tile: int = DEFAULT_TILE) -> TiledMask:
        """The mask whose runs are ``(cols, starts, ends)`` (:meth:`intervals`' format:
        rows ``starts[i] .. ends[i] - 1`` of column ``cols[i]``, int arrays of one
        length), built tile by tile."""
        cols, starts, ends = (np.asarray(a, dtype=np.int64).ravel() for a in (cols, starts, ends))
        if not (cols.size == starts.size == ends.size):
            raise ParameterError("intervals: cols, starts and ends must have one length, got "
                                 f"{cols.size}, {starts.size}, {ends.size}")
        if cols.size and (cols.min() < 0 or cols.max() >= n_cols or starts.min() < 0
                          or ends.max() > n_rows or np.any(ends < starts)):
            raise ParameterError(f"intervals do not fit a {n_rows} x {n_cols} mask")
        out = cls(n_rows, n_cols, tile=tile)
        order = np.argsort(cols, kind="stable")
        cols, starts, ends = cols[order], starts[order], ends[order]
        tid = cols // out._tile
        for t in np.unique(tid):
            sel = tid == t
            a = int(t) * out._tile
            blk = np.zeros((n_rows, out._width(int(t))), dtype=bool)
            d = np.zeros((n_rows + 1, blk.shape[1]), dtype=np.int16)
            np.add.at(d, (starts[sel], cols[sel] - a), 1)
            np.add.at(d, (ends[sel], cols[sel] - a), -1)
            blk[:] = np.cumsum(d, axis=0)[:-1] > 0
            n = int(np.count_nonzero(blk))
            if n:
                out._tiles[int(t)] = blk
                out._counts[int(t)] = n
                out._count += n
        return out

    def copy(self) -> TiledMask:
        """An independent copy (for a worker, so painting cannot race it)."""
        out = TiledMask(*self._shape, tile=self._tile)
        out._tiles = {t: a.copy() for t, a in self._tiles.items()}
        out._counts = dict(self._counts)
        out._count = self._count
        return out

    # -- edits ----------------------------------------------------------------------
    def paint_stroke(self, points, radius_rows: float, radius_cols: float,
                     value=True) -> np.ndarray:
        """Paint a brush stroke through ``points``: the cells of
        :func:`core.tf.masks.paint_stroke` on the dense mask.

        Parameters
        ----------
        points : array_like [shape=(k >= 1, 2), float]
            ``(row, col)`` positions in index space, in drawing order (may lie
            outside the mask).
        radius_rows, radius_cols : float >= 0
            Brush half-axes in rows and columns (below 0.5 count as 0.5).
        value : bool
            True paints, False erases.

        Returns
        -------
        np.ndarray [shape=(n_changed,), int64]
            Flat indices ``row * n_cols + col`` of the cells that changed, ascending.

        Raises
        ------
        OutOfMemoryError
            The tiles the stroke would allocate do not fit the budget (a very
            long segment).
        """
        v = bool(value)
        rr, rc = _radii(radius_rows, radius_cols)
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 1:
            raise ParameterError(f"stroke points must have shape (k >= 1, 2), got {p.shape}")
        if not np.all(np.isfinite(p)):
            raise ParameterError("stroke points hold NaN or infinite values")
        segs = [(p[0], p[0])] if p.shape[0] == 1 else list(zip(p[:-1], p[1:], strict=True))
        if v:
            self._check_stroke(segs, rr, rc)
        out: list[np.ndarray] = []
        for a, b in segs:
            self._paint_segment(a, b, rr, rc, v, out)
        n_rows, n_cols = self._shape
        for r, c in p:
            # The cell holding the brush centre is painted however small the brush.
            i, j = int(np.floor(r + 0.5)), int(np.floor(c + 0.5))
            if 0 <= i < n_rows and 0 <= j < n_cols:
                t, lc = divmod(j, self._tile)
                arr = self._tiles.get(t)
                if (False if arr is None else bool(arr[i, lc])) != v:
                    if arr is None:
                        arr = self._alloc(t)
                    arr[i, lc] = v
                    self._add_count(t, 1 if v else -1)
                    out.append(np.array([i * n_cols + j], dtype=np.int64))
        return _sorted_flat(out)

    def flip(self, flat) -> int:
        """XOR the cells at ``flat`` (undo / redo of an edit's returned indices).

        Parameters
        ----------
        flat : array_like [shape=(n,), int]
            Distinct flat indices ``row * n_cols + col``, any order.

        Returns
        -------
        int
            The net change of :meth:`count` (cells set minus cells cleared).

        Raises
        ------
        ParameterError
            An index outside the mask, or one given twice.
        OutOfMemoryError
            The tiles it would allocate do not fit the budget.
        """
        f = np.asarray(flat)
        if f.size and not np.issubdtype(f.dtype, np.integer):
            raise ParameterError(f"flat indices must be integers, got {f.dtype}")
        f = f.astype(np.int64, copy=False).reshape(-1)
        if f.size == 0:
            return 0
        n_rows, n_cols = self._shape
        lo, hi = int(f.min()), int(f.max())
        if lo < 0 or hi >= n_rows * n_cols:
            bad = lo if lo < 0 else hi
            raise ParameterError(
                f"flat index {bad} is outside the {n_rows} x {n_cols} mask")
        rows, cols = np.divmod(f, n_cols)
        tid, lc = np.divmod(cols, self._tile)
        # One sort gives both the groups by tile and the duplicate check.
        key = (tid * n_rows + rows) * self._tile + lc
        order = np.argsort(key, kind="stable")
        key = key[order]
        if np.any(key[1:] == key[:-1]):
            i = int(np.flatnonzero(key[1:] == key[:-1])[0])
            raise ParameterError(f"flat index {int(f[order[i]])} is given twice")
        tid, rows, lc = tid[order], rows[order], lc[order]
        cuts = np.flatnonzero(np.diff(tid)) + 1
        groups = np.split(np.arange(f.size), cuts)
        new = {int(tid[g[0]]) for g in groups} - self._tiles.keys()
        self._check(f"flipping {f.size} cells of a {n_rows} x {n_cols} mask",
                    len(new) * n_rows * self._tile)
        net = 0
        for g in groups:
            t = int(tid[g[0]])
            arr = self._tiles.get(t)
            if arr is None:
                arr = self._alloc(t)
            r, c = rows[g], lc[g]
            now = ~arr[r, c]
            arr[r, c] = now
            n_on = int(np.count_nonzero(now))
            d = n_on - (now.size - n_on)
            net += d
            self._add_count(t, d)
        return net

    def apply(self, op: str, region, c0: int, c1: int) -> np.ndarray:
        """Combine a region over columns ``[c0, c1)`` with the mask.

        Parameters
        ----------
        op : {"replace", "add", "subtract"}
            "replace": the mask becomes ``region`` (every cell outside
            ``[c0, c1)`` is cleared); "add": OR; "subtract": AND NOT.
        region : np.ndarray [shape=(n_rows, c1 - c0), bool]
        c0, c1 : int, 0 <= c0 <= c1 <= n_cols

        Returns
        -------
        np.ndarray [shape=(n_changed,), int64]
            Flat indices of the cells that changed, ascending.

        Raises
        ------
        OutOfMemoryError
            The tiles it would allocate and the indices it would return do
            not fit the budget.
        """
        self._op(op)
        c0, c1 = self._cols(c0, c1)
        reg = np.asarray(region)
        if reg.shape != (self._shape[0], c1 - c0):
            raise ShapeError(f"region has shape {reg.shape}, columns [{c0}, {c1}) of the mask "
                             f"need {(self._shape[0], c1 - c0)}")
        if reg.dtype != bool:
            raise ParameterError(f"region must be bool, got {reg.dtype}")
        true = {}
        for t in self._tile_range(c0, c1):
            a, b = max(c0, t * self._tile), min(c1, (t + 1) * self._tile)
            n = int(np.count_nonzero(reg[:, a - c0:b - c0]))
            if n:
                true[t] = n
        return self._edit(op, true, lambda a, b: reg[:, a - c0:b - c0], c0, c1,
                          f"'{op}' of a region of {c1 - c0} columns")

    def apply_rectangle(self, op: str, r0: float, r1: float, c0: float, c1: float
                        ) -> np.ndarray:
        """Combine a rectangle with the mask: the cells of
        :func:`core.tf.masks.fill_rectangle` (corner cells included, any order,
        fractional corners rounded to their cell, clipped to the mask).

        Parameters
        ----------
        op : {"replace", "add", "subtract"}
            As for :meth:`apply`.
        r0, r1 : float
            Corner rows (index space).
        c0, c1 : float
            Corner columns (index space).

        Returns
        -------
        np.ndarray [shape=(n_changed,), int64]
            Flat indices of the cells that changed, ascending.
        """
        self._op(op)
        corners = np.array([r0, r1, c0, c1], dtype=np.float64)
        if not np.all(np.isfinite(corners)):
            raise ParameterError(f"rectangle corners must be finite, got {corners.tolist()}")
        n_rows, n_cols = self._shape
        ra, rb = sorted(int(np.floor(x + 0.5)) for x in corners[:2])
        ca, cb = sorted(int(np.floor(x + 0.5)) for x in corners[2:])
        ra, ca = max(ra, 0), max(ca, 0)
        rb, cb = min(rb, n_rows - 1), min(cb, n_cols - 1)
        true = {}
        if ra <= rb and ca <= cb:
            for t in self._tile_range(ca, cb + 1):
                w = min(cb + 1, (t + 1) * self._tile) - max(ca, t * self._tile)
                true[t] = (rb - ra + 1) * w

        def region(a, b):
            out = np.zeros((n_rows, b - a), dtype=bool)
            out[ra:rb + 1] = True
            return out

        return self._edit(op, true, region, ca, cb + 1,
                          f"'{op}' of a {rb - ra + 1} x {cb - ca + 1} rectangle")

    def apply_polygon(self, op: str, vertices_rowcol) -> np.ndarray:
        """Combine a closed polygon (a lasso) with the mask: the cells of
        :func:`core.tf.masks.fill_polygon` (even-odd rule on cell centres).

        The polygon becomes per-row column runs (O(rows x edges)), which each
        tile rasterises for itself; no dense mask is built.

        Parameters
        ----------
        op : {"replace", "add", "subtract"}
            As for :meth:`apply`.
        vertices_rowcol : array_like [shape=(k, 2), float]
            ``(row, col)`` vertices in index space; fewer than 3 select nothing.

        Returns
        -------
        np.ndarray [shape=(n_changed,), int64]
            Flat indices of the cells that changed, ascending.
        """
        self._op(op)
        p = np.asarray(vertices_rowcol, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ParameterError(f"polygon vertices must have shape (k, 2), got {p.shape}")
        if not np.all(np.isfinite(p)):
            raise ParameterError("polygon vertices hold NaN or infinite values")
        n_rows = self._shape[0]
        rows, s, e = self._polygon_runs(p)
        true = {}
        if rows.size:
            for t in self._tile_range(int(s.min()), int(e.max())):
                a, b = t * self._tile, (t + 1) * self._tile
                n = int((np.clip(e, a, b) - np.clip(s, a, b)).sum())
                if n:
                    true[t] = n

        def region(a, b):
            sel = (s < b) & (e > a)
            w = b - a
            diff = np.zeros((n_rows, w + 1), dtype=np.int32)
            # Runs of one row are disjoint, so the running sum is 0 or 1.
            np.add.at(diff, (rows[sel], np.clip(s[sel], a, b) - a), 1)
            np.add.at(diff, (rows[sel], np.clip(e[sel], a, b) - a), -1)
            return np.cumsum(diff[:, :w], axis=1) > 0

        return self._edit(op, true, region, 0, self._shape[1],
                          f"'{op}' of a {p.shape[0]}-vertex polygon")

    # -- internals -------------------------------------------------------------------
    def _n_tile_ids(self) -> int:
        return -(-self._shape[1] // self._tile)

    def _width(self, t: int) -> int:
        return min(self._tile, self._shape[1] - t * self._tile)

    def _tile_range(self, c0: int, c1: int) -> range:
        """Ids of every tile (allocated or not) overlapping columns [c0, c1)."""
        return range(c0 // self._tile, -(-c1 // self._tile)) if c1 > c0 else range(0)

    def _tile_ids(self, c0: int, c1: int) -> list[int]:
        """Allocated tiles overlapping [c0, c1), ascending."""
        r = self._tile_range(c0, c1)
        if len(r) < len(self._tiles):
            return [t for t in r if t in self._tiles]
        return sorted(t for t in self._tiles if t in r)

    def _cols(self, c0, c1) -> tuple[int, int]:
        n_cols = self._shape[1]
        c0 = _int(c0, "c0")
        c1 = n_cols if c1 is None else _int(c1, "c1")
        if not 0 <= c0 <= c1 <= n_cols:
            raise ParameterError(f"columns [{c0}, {c1}) are not within the mask's {n_cols}")
        return c0, c1

    @staticmethod
    def _op(op) -> None:
        if op not in OPS:
            raise ParameterError(f"mask operation {op!r} is not one of {', '.join(OPS)}")

    def _alloc(self, t: int) -> np.ndarray:
        arr = np.zeros((self._shape[0], self._width(t)), dtype=bool)
        self._tiles[t] = arr
        self._counts[t] = 0
        return arr

    def _add_count(self, t: int, d: int) -> None:
        n = self._counts[t] + d
        self._count += d
        if n:
            self._counts[t] = n
        else:
            # Memory follows what is painted: an emptied tile goes.
            del self._counts[t], self._tiles[t]

    def _check(self, what: str, n_bytes: float) -> None:
        if n_bytes > 0:
            check_fits(what, n_bytes,
                       hint="select fewer columns, or a smaller region at a time")

    def _check_stroke(self, segs, rr: float, rc: float) -> None:
        n_rows, n_cols = self._shape
        new: set[int] = set()
        cells = 0.0
        for (r0, c0), (r1, c1) in segs:
            ca = max(int(np.ceil(min(c0, c1) - rc)), 0)
            cb = min(int(np.floor(max(c0, c1) + rc)), n_cols - 1)
            if ca > cb:
                continue
            span = self._tile_range(ca, cb + 1)
            if len(span) > 2:   # short segments (the GUI's) skip the set work
                new.update(t for t in span if t not in self._tiles)
            # The capsule's area in cells (normalised area pi + 2 L), with a cell of slack.
            L = math.hypot((r1 - r0) / rr, (c1 - c0) / rc)
            cells += (math.pi + 2 * L) * (rr + 1) * (rc + 1)
        self._check(f"brush stroke over {len(new)} new tiles of a {n_rows} x {n_cols} mask",
                    len(new) * n_rows * self._tile + _INDEX_BYTES * cells
                    if new else 0)

    def _paint_segment(self, p0, p1, rr, rc, value: bool, out: list) -> None:
        """Paint the capsule of segment p0-p1 tile by tile.

        The bounding box and the inside test are core.tf.masks._paint_segment's,
        expression for expression (absolute coordinates, the same float
        operations), so each cell's verdict is bit for bit the dense one.
        """
        n_r, n_c = self._shape
        (r0, c0), (r1, c1) = p0, p1
        ra = max(int(np.ceil(min(r0, r1) - rr)), 0)
        rb = min(int(np.floor(max(r0, r1) + rr)), n_r - 1)
        ca = max(int(np.ceil(min(c0, c1) - rc)), 0)
        cb = min(int(np.floor(max(c0, c1) + rc)), n_c - 1)
        if ra > rb or ca > cb:
            return
        dy, dx = (r1 - r0) / rr, (c1 - c0) / rc
        L2 = dy * dy + dx * dx
        for t in self._tile_range(ca, cb + 1):
            arr = self._tiles.get(t)
            if arr is None and not value:
                continue
            t0 = t * self._tile
            a, b = max(ca, t0), min(cb, t0 + self._tile - 1)
            wa, wb = ra, rb
            if c1 != c0:
                # Rows the capsule can reach over columns a..b: the centre line where its
                # column is within rc (+1 cell of slack) of them, widened by rr (+1).
                u = sorted(((a - rc - 1 - c0) / (c1 - c0), (b + rc + 1 - c0) / (c1 - c0)))
                u0, u1 = min(max(u[0], 0.0), 1.0), min(max(u[1], 0.0), 1.0)
                ry = sorted((r0 + u0 * (r1 - r0), r0 + u1 * (r1 - r0)))
                wa = max(ra, int(np.floor(ry[0] - rr)) - 1)
                wb = min(rb, int(np.ceil(ry[1] + rr)) + 1)
                if wa > wb:
                    continue
            y = (np.arange(wa, wb + 1, dtype=np.float64)[:, None] - r0) / rr
            x = (np.arange(a, b + 1, dtype=np.float64)[None, :] - c0) / rc
            u = np.clip((y * dy + x * dx) / L2, 0.0, 1.0) if L2 > 0 else 0.0
            inside = (y - u * dy) ** 2 + (x - u * dx) ** 2 <= 1.0 + 1e-12
            if arr is None:
                if not inside.any():
                    continue
                arr = self._alloc(t)
            sub = arr[wa:wb + 1, a - t0:b - t0 + 1]
            chg = inside & ~sub if value else inside & sub
            n = int(np.count_nonzero(chg))
            if n == 0:
                continue
            sub[chg] = value
            rr_i, cc_i = np.nonzero(chg)
            out.append((rr_i + wa).astype(np.int64) * n_c + (cc_i + a))
            self._add_count(t, n if value else -n)

    def _polygon_runs(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cells of core.tf.masks.fill_polygon as column runs: (row, start, end) int64.

        fill_polygon's cell (r, c) is inside when an odd number of edge
        crossings k = clip(ceil(x), 0, n_cols) of row r have k > c; a row's
        crossings are even in number, so with k sorted that is
        c in [k1, k2) u [k3, k4) ... (the same x, k expressions as there).
        """
        n_r, n_c = self._shape
        z = np.zeros(0, dtype=np.int64)
        if p.shape[0] < 3:
            return z, z, z
        ra = max(int(np.ceil(p[:, 0].min())), 0)
        rb = min(int(np.floor(p[:, 0].max())), n_r - 1)
        if ra > rb or n_c == 0:
            return z, z, z
        ri, ci = p[:, 0], p[:, 1]
        rj, cj = np.roll(ri, -1), np.roll(ci, -1)
        step = max(1, _CHUNK // ri.size)
        parts = []
        for r0 in range(ra, rb + 1, step):
            r1 = min(r0 + step, rb + 1)
            y = np.arange(r0, r1, dtype=np.float64)[:, None]
            crosses = (ri[None, :] > y) != (rj[None, :] > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                x = ci + (y - ri) * (cj - ci) / (rj - ri)
            k = np.clip(np.ceil(np.where(crosses, x, 0.0)), 0, n_c).astype(np.int64)
            k = np.sort(np.where(crosses, k, n_c + 1), axis=1)  # non-crossings sort last
            m = crosses.sum(axis=1)
            n_pairs = ri.size // 2
            st, en = k[:, 0:2 * n_pairs:2], k[:, 1:2 * n_pairs:2]
            live = (2 * np.arange(n_pairs)[None, :] < m[:, None]) & (en > st)
            rr_i, _ = np.nonzero(live)
            parts.append((rr_i.astype(np.int64) + r0, st[live], en[live]))
        return tuple(np.concatenate(q) for q in zip(*parts, strict=True))

    def _edit(self, op: str, true: dict[int, int], region_of, rc0: int, rc1: int,
              what: str) -> np.ndarray:
        """Apply ``op`` with a region over columns [rc0, rc1) given tile by tile.

        ``true[t]``: the region's cells in tile ``t`` (tiles with none left
        out); ``region_of(a, b)``: the region [n_rows, b - a] over columns
        [a, b) within [rc0, rc1).
        """
        n_rows, n_cols = self._shape
        if op == "subtract":
            new_tiles = 0
            max_chg = sum(min(n, self._counts.get(t, 0)) for t, n in true.items())
            visit = sorted(t for t in true if t in self._tiles)
        else:
            new_tiles = sum(1 for t in true if t not in self._tiles)
            max_chg = sum(true.values()) + (self._count if op == "replace" else 0)
            visit = sorted(true.keys() | self._tiles.keys()) if op == "replace" else sorted(true)
        self._check(f"{what} on a {n_rows} x {n_cols} mask ({new_tiles} new tiles, "
                    f"up to {max_chg} changed cells)",
                    new_tiles * n_rows * self._tile + _INDEX_BYTES * max_chg)
        out: list[np.ndarray] = []
        for t in visit:
            t0, w = t * self._tile, self._width(t)
            arr = self._tiles.get(t)
            if op == "replace":
                reg = None
                if t in true:
                    lo, hi = max(rc0, t0) - t0, min(rc1, t0 + w) - t0
                    reg = np.zeros((n_rows, w), dtype=bool)
                    reg[:, lo:hi] = region_of(t0 + lo, t0 + hi)
                if arr is None:
                    chg = reg
                    arr = self._alloc(t)
                else:
                    chg = arr ^ reg if reg is not None else arr.copy()
                n_new = int(np.count_nonzero(reg)) if reg is not None else 0
                n_before = self._counts[t]
                if reg is not None:
                    arr[...] = reg
                else:
                    arr[...] = False
                self._add_count(t, n_new - n_before)
                lc0 = t0
            else:
                lo, hi = max(rc0, t0) - t0, min(rc1, t0 + w) - t0
                reg = region_of(t0 + lo, t0 + hi)
                if arr is None:
                    arr = self._alloc(t)
                sub = arr[:, lo:hi]
                chg = reg & ~sub if op == "add" else reg & sub
                n = int(np.count_nonzero(chg))
                if op == "add":
                    sub |= reg
                else:
                    sub &= ~reg
                self._add_count(t, n if op == "add" else -n)
                lc0 = t0 + lo
            r, c = np.nonzero(chg)
            if r.size:
                out.append(r.astype(np.int64) * n_cols + (c + lc0))
        return _sorted_flat(out)


def _sorted_flat(parts: list[np.ndarray]) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype=np.int64)
    flat = np.concatenate(parts).astype(np.int64, copy=False)
    flat.sort()
    return flat


def _int(x, name: str) -> int:
    if isinstance(x, bool | np.bool_) or not isinstance(x, int | np.integer):
        raise ParameterError(f"{name}={x!r} must be an integer")
    return int(x)
