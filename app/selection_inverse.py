"""The inverse of the visible layers' union, kept up to date edit by edit.

The selection is the union of the visible band layers (per-column row ranges)
and the visible painted masks. Its inverse is linear in the selected cells,
``x[t] = sum over selected rows r of w_r Re C[r, t]``, and every column is
independent, so an edit only has to redo the columns it touched:

* a brush stroke / erasure / undo of one: the columns of the flipped cells;
* a band drawn, moved, shown or hidden: the band part is O(n_frames) from the
  range inverter's cumulative sums; the painted part only changes in the
  columns where the band union moved AND something is painted;
* a painted layer shown, hidden, added or removed: the columns of its cells.

The painted part of a column is the painted cells outside every band, summed
run by run from the cumulative sums (``cumsum[end] - cumsum[start]``), so no
cell is counted twice and no (n_rows, n_frames) float array is ever built.

During a drag the document asks for a window of columns (the visible ones):
the counts follow every edit, but the painted part is redone only inside the
window; the columns outside are remembered as stale and redone by the next
update without a window (the release). A band handle drag over painted cells
also keeps, for the drag's length, prefix sums of the painted cells down each
column, so each move redoes a changed column in O(bands) instead of visiting
the rows its edges crossed.
No Qt here: the document calls :meth:`SelectionInverse.update` after each edit.
"""

from __future__ import annotations

import numpy as np

from phasebrush.core.tf.inversion import range_sums
from phasebrush.core.tf.masks import merge_ranges

__all__ = ["SelectionInverse"]

# A layer with more cells than this is (re)counted by whole-array sums: cheaper
# than listing its cells one by one (e.g. "invert selection").
_BIG_LAYER = 1 << 20

# The painted prefix sums of a live band drag are float64 over the painted rows x
# columns span; above this size a drag moves the painted part row by row instead.
_PREFIX_MAX_BYTES = 256 << 20


class SelectionInverse:
    """Per-column inverse of a layer union, updated incrementally.

    Parameters
    ----------
    inverter : core.tf.inversion.RangeInverter
        Of the current transform; must have ``cumsum`` (hop-1 transforms).

    Attributes
    ----------
    band_part, paint_part : np.ndarray [shape=(n_frames,), float64]
        The inverse of the band union and of the painted cells outside it.
    """

    def __init__(self, inverter):
        if inverter.cumsum is None:
            raise ValueError("SelectionInverse needs a hop-1 range inverter (cumsum)")
        self.ri = inverter
        self.cs = inverter.cumsum
        self.n_rows = self.cs.shape[0] - 1
        self.n_cols = self.cs.shape[1]
        self._cnt: np.ndarray | None = None      # visible painted layers per cell, uint8
        self._col_cnt = np.zeros(self.n_cols, np.int64)   # painted-union cells per column
        self._row_cnt = np.zeros(self.n_rows, np.int64)   # ... and per row (its row span)
        self._counted: dict[int, tuple[object, int]] = {}  # id -> (layer, version)
        self._band_src: list = []                 # (layer, start, end) counted in band_part
        self._bs = self._be = None                # merged band ranges [(k, n_cols)]
        self.band_part = np.zeros(self.n_cols)
        self.paint_part = np.zeros(self.n_cols)
        self._stale: np.ndarray | None = None      # columns whose paint_part lags, bool
        # (r0, c0, P): P[i, c - c0] = painted cells' values in rows [r0, r0 + i) of column
        # c; kept during a live drag while no count changes
        self._prefix: tuple[int, int, np.ndarray] | None = None

    # -- public ------------------------------------------------------------------
    def update(self, layers, last_flip=None, cols=None, *, live: bool = False
               ) -> np.ndarray | None:
        """The inverse of the union of ``layers`` (the visible ones), or None if empty.

        Parameters
        ----------
        layers : sequence of app.layers.Layer
            The visible layers.
        last_flip : (Layer, version, np.ndarray), a list of them, or None
            ``LayerModel.last_flip`` (or every flip since the last update, when
            a drag's updates were coalesced): lets mask edits be applied from
            their flipped cells.
        cols : (int, int) or None
            Only the columns [c0, c1) need be exact (a live drag): the painted
            part elsewhere may lag until an update with ``cols=None``.
        live : bool
            A drag is under way: more updates like this one follow, so
            structures that speed them up are worth building and keeping
            (they are dropped by the next update with ``live=False``).

        Returns
        -------
        np.ndarray [shape=(n_frames,), float64] or None
            A new array (no offset), or None when no cell is selected.
        """
        bands = [lay for lay in layers if lay.is_band and lay.ranges is not None]
        paints = [lay for lay in layers if not lay.is_band and lay.mask is not None
                  and lay.mask.shape == (self.n_rows, self.n_cols)]
        dirty: list[np.ndarray] = []
        if last_flip is None:
            flips = []
        elif isinstance(last_flip, tuple):
            flips = [last_flip]
        else:
            flips = list(last_flip)
        if not live:
            self._prefix = None
        rebuild = not self._update_counts(paints, flips, dirty)
        self._update_bands(bands, dirty, live)
        if rebuild:
            self._rebuild(paints)
            self._stale = None
        else:
            todo = self._due(dirty, cols)
            if todo.size:
                self._redo_columns(todo)
        if not self._col_cnt.any() and (self._bs is None or not (self._be > self._bs).any()):
            return None
        return self.band_part + self.paint_part

    def _due(self, dirty, cols) -> np.ndarray:
        """The dirty columns to redo now; those outside ``cols`` are kept as stale."""
        todo = np.unique(np.concatenate(dirty)) if dirty else np.zeros(0, np.int64)
        if cols is None:
            if self._stale is not None:
                todo = np.union1d(todo, np.flatnonzero(self._stale))
                self._stale = None
            return todo
        c0, c1 = int(cols[0]), int(cols[1])
        inside = (todo >= c0) & (todo < c1)
        if not inside.all():
            if self._stale is None:
                self._stale = np.zeros(self.n_cols, bool)
            self._stale[todo[~inside]] = True
        todo = todo[inside]
        if self._stale is not None and self._stale[c0:c1].any():   # the window moved
            todo = np.union1d(todo, c0 + np.flatnonzero(self._stale[c0:c1]))
            self._stale[c0:c1] = False
        return todo

    # -- painted layers ----------------------------------------------------------
    def _update_counts(self, paints, flips, dirty) -> bool:
        """Apply the painted layers' changes to the counts; False = must rebuild."""
        current = {id(lay): lay for lay in paints}
        for key, (lay, ver) in list(self._counted.items()):
            if current.get(key) is lay:
                continue
            # Hidden or removed: take away the cells it had when counted.
            if lay.version != ver or lay.n_cells() > _BIG_LAYER:
                return False
            if lay.n_cells():
                flat = np.flatnonzero(lay.mask)
                self._apply(flat, np.full(flat.size, -1, np.int16), dirty)
            del self._counted[key]
        for lay in paints:
            seen = self._counted.get(id(lay))
            if seen is None:
                if lay.n_cells() > _BIG_LAYER:
                    return False
                if lay.n_cells():
                    flat = np.flatnonzero(lay.mask)
                    self._apply(flat, np.ones(flat.size, np.int16), dirty)
            elif seen[1] != lay.version:
                flat = _flipped_since(flips, lay, seen[1])
                if flat is None or flat.size > _BIG_LAYER:   # (a huge rectangle: recount)
                    return False
                sign = np.where(lay.mask.reshape(-1)[flat], 1, -1).astype(np.int16)
                self._apply(flat, sign, dirty)
            self._counted[id(lay)] = (lay, lay.version)
        return True

    def _counts(self) -> np.ndarray:
        if self._cnt is None:
            self._cnt = np.zeros((self.n_rows, self.n_cols), np.uint8)
        return self._cnt

    def _apply(self, flat: np.ndarray, sign: np.ndarray, dirty) -> None:
        """Add ``sign`` (+1 / -1) to the count of each flat cell (distinct cells)."""
        if flat.size == 0:
            return
        cnt = self._counts().reshape(-1)
        old = cnt[flat].astype(np.int16)
        new = old + sign
        cnt[flat] = new
        rows, cols = np.divmod(flat, self.n_cols)
        came = (old == 0) & (new > 0)
        went = (old > 0) & (new == 0)
        if came.any() or went.any():
            self._prefix = None
            self._col_cnt += (np.bincount(cols[came], minlength=self.n_cols)
                              - np.bincount(cols[went], minlength=self.n_cols))
            self._row_cnt += (np.bincount(rows[came], minlength=self.n_rows)
                              - np.bincount(rows[went], minlength=self.n_rows))
            dirty.append(cols[came | went])

    def _rebuild(self, paints) -> None:
        """Count every visible painted layer afresh and redo every column."""
        self._prefix = None
        self._counted = {id(lay): (lay, lay.version) for lay in paints}
        if not paints:
            self._cnt = None
            self._col_cnt[:] = 0
            self._row_cnt[:] = 0
            self.paint_part[:] = 0.0
            return
        cnt = self._counts()
        np.copyto(cnt, paints[0].mask, casting="unsafe")
        for lay in paints[1:]:
            np.add(cnt, lay.mask, out=cnt, casting="unsafe")
        nz = paints[0].mask if len(paints) == 1 else cnt != 0   # read only below
        # uint16 sums down the rows run ~4x faster than int64 (n_rows < 65536)
        acc = np.uint16 if self.n_rows < 65536 else np.int64
        self._col_cnt = np.add.reduce(nz.view(np.uint8), axis=0, dtype=acc).astype(np.int64)
        # count_nonzero per row is ~5x faster than count_nonzero(axis=1)
        self._row_cnt = np.array([np.count_nonzero(row) for row in nz], np.int64)
        self._redo_columns(None, nz)

    # -- bands ---------------------------------------------------------------------
    def _update_bands(self, bands, dirty, live: bool = False) -> None:
        src = [(lay, lay.ranges[0], lay.ranges[1]) for lay in bands]
        same = len(src) == len(self._band_src) and all(
            a[0] is b[0] and a[1] is b[1] and a[2] is b[2]
            for a, b in zip(src, self._band_src, strict=True))
        if same:
            return
        self._band_src = src
        old_s, old_e = self._bs, self._be
        if src:
            self._bs, self._be = _union_ranges([x[1] for x in src], [x[2] for x in src])
        else:
            self._bs = self._be = None
        changed = _ranges_differ(old_s, old_e, self._bs, self._be, self.n_cols)
        if self._bs is None:
            self.band_part = np.zeros(self.n_cols)
        elif old_s is None:
            self.band_part = np.asarray(self.ri.band(self._bs, self._be), float)
        else:
            # a handle drag moves a band in some columns: redo only those
            c = np.flatnonzero(changed)
            self.band_part[c] = range_sums(self.cs, self._bs[:, c], self._be[:, c], c)
        # The painted part changes where the band union moved over painted columns.
        if not self._col_cnt.any():
            return
        cols = np.flatnonzero(changed & (self._col_cnt > 0))
        if cols.size == 0:
            return
        if live and self._prefix_sums() is not None:
            self._redo_from_prefix(cols)
        elif not self._shift_paint_part(cols, old_s, old_e):
            dirty.append(cols)

    def _prefix_sums(self) -> tuple[int, int, np.ndarray] | None:
        """The painted cells' prefix sums down each column, over the span of painted
        rows and columns (built once per drag), or None when that is too big."""
        if self._prefix is None:
            rows, cols = np.flatnonzero(self._row_cnt), np.flatnonzero(self._col_cnt)
            r0, r1 = int(rows[0]), int(rows[-1]) + 1
            c0, c1 = int(cols[0]), int(cols[-1]) + 1
            if (r1 - r0 + 1) * (c1 - c0) * 8 > _PREFIX_MAX_BYTES:
                return None
            p = np.empty((r1 - r0 + 1, c1 - c0))
            p[0] = 0.0
            np.subtract(self.cs[r0 + 1:r1 + 1, c0:c1], self.cs[r0:r1, c0:c1], out=p[1:])
            p[1:] *= self._cnt[r0:r1, c0:c1] != 0
            np.cumsum(p[1:], axis=0, out=p[1:])
            self._prefix = (r0, c0, p)
        return self._prefix

    def _redo_from_prefix(self, cols: np.ndarray) -> None:
        """``paint_part`` in ``cols`` (painted columns) from the prefix sums: the
        column's painted total less what lies inside each (disjoint) band range."""
        r0, c0, p = self._prefix
        top = p.shape[0] - 1
        pc = cols - c0
        out = p[top, pc].copy()
        for s, e in zip(self._bs[:, cols], self._be[:, cols], strict=True):
            out -= (p[np.clip(e - r0, 0, top), pc] - p[np.clip(s - r0, 0, top), pc])
        self.paint_part[cols] = out

    def _shift_paint_part(self, cols, old_s, old_e) -> bool:
        """Move ``paint_part`` in ``cols`` from the band union (old_s, old_e) to the
        current one by visiting only the rows whose membership changed.

        A dragged band edge moves a row or two per column, while a redo sums
        every painted row of the column: this is what keeps a handle drag over
        a painted layer cheap. False (nothing done) when it would visit more
        cells than a redo.
        """
        if old_s is None or self._bs is None:
            return False
        k = max(len(old_s), len(self._bs))

        def slots(a):
            a = a[:, cols]
            if len(a) < k:
                a = np.concatenate([a, np.zeros((k - len(a), cols.size), a.dtype)])
            return a

        s0, e0, s1, e1 = slots(old_s), slots(old_e), slots(self._bs), slots(self._be)
        live0, live1 = e0 > s0, e1 > s1
        # Per slot, the rows that may have changed: between the two starts and
        # between the two ends (the whole old / new range where one is empty).
        a1 = np.where(live0 & live1, np.minimum(s0, s1), np.where(live0, s0, s1))
        b1 = np.where(live0 & live1, np.maximum(s0, s1), np.where(live0, e0, e1))
        a2 = np.where(live0 & live1, np.minimum(e0, e1), 0)
        b2 = np.where(live0 & live1, np.maximum(e0, e1), 0)
        same = np.concatenate([(s0 == s1) & (e0 == e1)] * 2)
        lo, hi = np.concatenate([a1, a2]), np.concatenate([b1, b2])
        some = ~same & (hi > lo)
        # One span per column, the hull of those rows: no cell is visited twice.
        lo = np.where(some, lo, self.n_rows).min(axis=0)
        n = np.maximum(np.where(some, hi, 0).max(axis=0) - lo, 0)
        total = int(n.sum())
        live_rows = np.flatnonzero(self._row_cnt)
        if total == 0:
            return True
        if total > (int(live_rows[-1]) + 1 - int(live_rows[0])) * cols.size:
            return False
        j = np.repeat(np.arange(cols.size), n)     # index into cols
        rows = lo[j] + (np.arange(total) - (np.cumsum(n) - n)[j])
        c = cols[j]
        painted = self._cnt[rows, c] != 0
        rows, j, c = rows[painted], j[painted], c[painted]
        if rows.size == 0:
            return True
        r = rows[None, :]
        in_old = ((s0[:, j] <= r) & (r < e0[:, j])).any(axis=0)
        in_new = ((s1[:, j] <= r) & (r < e1[:, j])).any(axis=0)
        moved = in_old != in_new
        rows, j, c, in_old = rows[moved], j[moved], c[moved], in_old[moved]
        # a cell that left the bands joins the painted part, one that entered leaves it
        v = self.cs[rows + 1, c] - self.cs[rows, c]
        self.paint_part[cols] += np.bincount(j, weights=np.where(in_old, v, -v),
                                             minlength=cols.size)
        return True

    # -- the painted part, column by column -------------------------------------------
    def _redo_columns(self, cols: np.ndarray | None, nz: np.ndarray | None = None) -> None:
        """Recompute ``paint_part`` in ``cols`` (None: all columns; ``nz``: ``cnt != 0``)."""
        if cols is None:
            self.paint_part = np.zeros(self.n_cols)
            cols = np.flatnonzero(self._col_cnt)
        else:
            empty = cols[self._col_cnt[cols] == 0]
            self.paint_part[empty] = 0.0
            cols = cols[self._col_cnt[cols] > 0]
        if cols.size == 0:
            return
        # Only the rows anything is painted in (a stroke spans a few dozen of 400+).
        live = np.flatnonzero(self._row_cnt)
        r0, r1 = int(live[0]), int(live[-1]) + 1
        whole = cols.size > self.n_cols // 2   # cheaper to redo them all than to gather
        if whole:
            cols = np.arange(self.n_cols)
            sub = nz[r0:r1] if nz is not None else (self._cnt[r0:r1] != 0)
        else:
            sub = self._cnt[r0:r1, cols] != 0
        if self._bs is not None:
            r = np.arange(r0, r1)[:, None]
            for s, e in zip(self._bs, self._be, strict=True):
                sc, ec = (s, e) if whole else (s[cols], e[cols])
                if (ec > sc).any():
                    sub = sub & ((r < sc) | (r >= ec))   # not in place: sub may be a mask
        # Runs of painted rows, each summed as cumsum[end] - cumsum[start]. A run
        # edge lies between flat cells i and i + m (one row down, same column).
        m = sub.shape[1]
        x = sub.reshape(-1)
        edge = np.flatnonzero(x[m:] != x[:-m])
        first, last = np.flatnonzero(sub[0]), np.flatnonzero(sub[-1])
        k, cc = np.divmod(edge, m)
        k += 1                                    # the row just past the edge
        sign = np.where(x[edge + m], -1.0, 1.0)   # a run starts there: -, ends there: +
        cs = self.cs
        vals = np.concatenate([sign * cs[k + r0, cols[cc]], -cs[r0, cols[first]],
                               cs[r1, cols[last]]])
        idx = np.concatenate([cc, first, last])
        self.paint_part[cols] = np.bincount(idx, weights=vals, minlength=m)


def _flipped_since(flips, lay, version: int) -> np.ndarray | None:
    """The cells of ``lay`` that flipped an odd number of times since ``version``
    (distinct flat indices), or None when ``flips`` misses one of its steps."""
    chain = sorted((f for f in flips if f[0] is lay and f[1] > version), key=lambda f: f[1])
    if [f[1] for f in chain] != list(range(version + 1, lay.version + 1)):
        return None
    if len(chain) == 1:
        return chain[0][2]
    # a cell flipped twice (on, then off again) is unchanged
    cells, n = np.unique(np.concatenate([f[2] for f in chain]), return_counts=True)
    return cells[n % 2 == 1]


def _union_ranges(starts, ends) -> tuple[np.ndarray, np.ndarray]:
    """The bands' ranges as one set of disjoint ranges [shape=(k, n_cols), int64].

    Bands that overlap nowhere are kept as they are (empty ranges as 0, 0),
    and two bands are merged in place: ``merge_ranges`` sorts every column,
    ~10 ms for two bands at 65536 columns, which a handle drag would pay on
    every move.
    """
    s, e = np.stack(starts).astype(np.int64), np.stack(ends).astype(np.int64)
    live = e > s
    # (arithmetic, not np.where or boolean indexing: ~2x faster on these mixed masks)
    s *= live
    e *= live
    if len(s) == 2:
        # two bands (the common case): where they overlap, slot 0 takes the union
        ov = np.maximum(s[0], s[1]) < np.minimum(e[0], e[1])   # (false where one is empty)
        if ov.any():
            ovi = ov.astype(np.int64)
            lo, hi = np.minimum(s[0], s[1]), np.maximum(e[0], e[1])
            lo -= s[0]
            lo *= ovi
            s[0] += lo
            hi -= e[0]
            hi *= ovi
            e[0] += hi
            ovi ^= 1
            s[1] *= ovi
            e[1] *= ovi
    elif len(s) > 2:
        for i in range(len(s)):
            for j in range(i + 1, len(s)):
                if (live[i] & live[j] & (np.maximum(s[i], s[j]) < np.minimum(e[i], e[j]))).any():
                    return merge_ranges(s, e)
    return s, e


def _ranges_differ(s0, e0, s1, e1, n_cols: int) -> np.ndarray:
    """Columns where two merged range sets differ [shape=(n_cols,), bool]."""
    if s0 is None and s1 is None:
        return np.zeros(n_cols, bool)
    if s0 is None or s1 is None:
        s, e = (s1, e1) if s0 is None else (s0, e0)
        return (e > s).any(axis=0)
    k = max(len(s0), len(s1))

    def pad(a):
        return np.concatenate([a, np.zeros((k - len(a), n_cols), a.dtype)]) if len(a) < k else a

    # Ranges are disjoint with empty = 0, 0: comparing slots finds every column that
    # changed (and, when bands started or stopped overlapping, maybe a few more).
    return ((pad(s0) != pad(s1)) | (pad(e0) != pad(e1))).any(axis=0)
