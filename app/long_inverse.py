"""The selection's inverse of a long recording, redone only where an edit changed it.

The whole-signal document keeps row cumulative sums so every edit is
O(changed cells); a long recording cannot (rows x samples). Here the inverse
lives in two arrays (float64; float32 past :data:`FLOAT64_UP_TO` samples), and an edit marks
the columns it changed as *dirty*:

- a band edit: the time span where the old and new edge polylines differ;
- a stroke, rectangle or lasso: the columns of the flipped cells;
- a layer added, removed, shown or hidden: that layer's column span.

During a live edit (a brush stroke, a band handle drag) the dirty columns
that are on screen are redone in the GUI thread, at most ~30 times a second
and at most :data:`LIVE_MAX_COLUMNS` at a time (a few ms each with the
engine's cached filters). Every other dirty column - and, once a drag ends,
all of them - goes to one background worker that streams them with
:class:`core.engine.column_inverse.ColumnInverter` from a snapshot of the
selection (workers get copies: painting during a run cannot race it) and
writes into the arrays; edits made meanwhile queue their columns for the
next run. :attr:`LongInverse.pending` tells when the arrays are final.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject

from phasebrush.app.soon import Throttle
from phasebrush.app.worker import Worker
from phasebrush.core.errors import ParameterError
from phasebrush.core.tf.bands import band_ranges
from phasebrush.core.tf.masks import mask_to_runs

__all__ = ["LongInverse", "SelectionSnapshot", "edge_diff_span", "merge_spans",
           "LIVE_MAX_COLUMNS"]

#: The most columns a live update redoes in the GUI thread (~1.5 s of 44.1 kHz).
LIVE_MAX_COLUMNS = 1 << 16
#: What one live update may cost: the columns redone adapt to it (never fewer than
#: one block, never more than LIVE_MAX_COLUMNS).
LIVE_BUDGET_MS = 15.0
#: Live updates work in aligned blocks of this many columns (a stroke's few hundred
#: columns cost one block; equal blocks reuse the engine's cached filters).
LIVE_BLOCK = 1 << 12
_LIVE_INTERVAL_S = 0.025   # as app.document's
#: Each engine's filter cache (two engines: live and background) - the window's
#: whole budget for a 10-minute file is 2 GB.
_FILTER_CACHE_BYTES = 128 << 20


#: Up to this many samples the inverse is kept in float64 (16 bytes a sample for the
#: band and the residual: 0.4 GB at 10 minutes of 44.1 kHz); longer ones in float32.
FLOAT64_UP_TO = 1 << 25


def inverse_dtype(n_samples: int):
    """float64 up to :data:`FLOAT64_UP_TO` samples, float32 beyond (1-hour files)."""
    return np.float64 if int(n_samples) <= FLOAT64_UP_TO else np.float32


def merge_spans(spans) -> list[tuple[int, int]]:
    """Half-open column spans sorted and merged where they overlap or touch."""
    out: list[list[int]] = []
    for a, b in sorted((int(a), int(b)) for a, b in spans if b > a):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _clip_spans(spans, c0: int, c1: int) -> list[tuple[int, int]]:
    return [(max(a, c0), min(b, c1)) for a, b in spans if min(b, c1) > max(a, c0)]


def _subtract_spans(spans, a: int, b: int) -> list[tuple[int, int]]:
    out = []
    for s, e in spans:
        if e <= a or s >= b:
            out.append((s, e))
            continue
        if s < a:
            out.append((s, a))
        if e > b:
            out.append((b, e))
    return out


def edge_diff_span(old, new) -> tuple[float, float] | None:
    """The axis span where two edge polylines [(time, freq), ...] differ, or None.

    Both are piecewise linear in time over the union of their vertex times
    (in frequency or log-frequency alike), so they agree between two
    consecutive union times exactly when they agree at both; outside an
    edge's first..last vertex it is undefined, and defined vs undefined
    counts as a difference.
    """
    old, new = np.asarray(old, float), np.asarray(new, float)
    ts = np.union1d(old[:, 0], new[:, 0])

    def at(e):
        v = np.interp(ts, e[:, 0], e[:, 1])
        v[(ts < e[0, 0]) | (ts > e[-1, 0])] = np.nan
        return v

    a, b = at(old), at(new)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if same.all():
        return None
    bad = np.flatnonzero(~same)
    i0, i1 = max(int(bad[0]) - 1, 0), min(int(bad[-1]) + 1, ts.size - 1)
    return float(ts[i0]), float(ts[i1])


class SelectionSnapshot:
    """The visible selection of a long recording, frozen for a worker.

    Bands as their edges, painted layers as copies of their tiled masks
    (bytes proportional to what was painted). :meth:`intervals` is what the
    engine asks per block.
    """

    def __init__(self, layers, grid):
        self.grid = grid
        self.n_rows = int(grid.n_rows)
        self.bands = [lay.band() for lay in layers.visible_layers() if lay.is_band]
        self.masks = [lay.mask.copy() for lay in layers.visible_layers()
                      if not lay.is_band and lay.mask is not None and lay.mask.any()]

    @property
    def empty(self) -> bool:
        return not self.bands and not self.masks

    def intervals(self, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray]:
        """Stacked half-open row ranges of columns ``[c0, c1)`` [int64, (k, c1 - c0)]."""
        return selection_intervals(self.bands, self.masks, self.grid, c0, c1)


def band_block(band, grid, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray]:
    """A core Band's ranges in columns ``[c0, c1)`` of a long grid (empty outside it)."""
    s = np.zeros(c1 - c0, np.int64)
    e = np.zeros(c1 - c0, np.int64)
    t_lo = max(band.upper[0, 0], band.lower[0, 0])
    t_hi = min(band.upper[-1, 0], band.lower[-1, 0])
    a = max(int(c0), int(np.floor(float(grid.time_to_col(t_lo)))) - 1)
    b = min(int(c1), int(np.ceil(float(grid.time_to_col(t_hi)))) + 2)
    if a >= b:
        return s, e
    try:
        bs, be = band_ranges(band, grid.grid(a, b))
    except ParameterError:
        return s, e
    s[a - c0:b - c0], e[a - c0:b - c0] = bs, be
    return s, e


def selection_intervals(bands, masks, grid, c0: int, c1: int):
    """Bands' ranges and the masks' runs over ``[c0, c1)``, stacked (k, c1 - c0)."""
    parts_s, parts_e = [], []
    for band in bands:
        s, e = band_block(band, grid, c0, c1)
        if np.any(e > s):
            parts_s.append(s[None])
            parts_e.append(e[None])
    if masks:
        m = masks[0].block(c0, c1)
        for other in masks[1:]:
            m |= other.block(c0, c1)
        rows = np.flatnonzero(m.any(axis=1))
        if rows.size:
            # runs of the rows that hold cells only: a stroke touches a few of hundreds
            r0, r1 = int(rows[0]), int(rows[-1]) + 1
            s, e = mask_to_runs(m[r0:r1])
            live = e > s
            parts_s.append(np.where(live, s + r0, 0))
            parts_e.append(np.where(live, e + r0, 0))
    if not parts_s:
        z = np.zeros((1, c1 - c0), np.int64)
        return z, z
    return np.concatenate(parts_s), np.concatenate(parts_e)


class _LiveSelection:
    """The layers as they are now (GUI thread only: live updates)."""

    def __init__(self, layers, grid):
        self.layers, self.grid = layers, grid

    def intervals(self, c0, c1):
        vis = self.layers.visible_layers()
        bands = [lay.band() for lay in vis if lay.is_band]
        masks = [lay.mask for lay in vis if not lay.is_band and lay.mask is not None
                 and lay.mask.any()]
        return selection_intervals(bands, masks, self.grid, c0, c1)


class LongInverse(QObject):
    """The long-recording inversion of one :class:`~app.document.DocumentModel`.

    Writes ``doc.inversion`` / ``doc.residual`` ([shape=(n,)], :func:`inverse_dtype`; None
    while nothing is selected), sets ``doc.inversion_cols`` for live partial
    updates and emits the document's ``inversion_changed`` and
    ``inversion_progressed``.
    """

    def __init__(self, doc):
        super().__init__(doc)
        self.doc = doc
        self.grid = None
        self._state: dict[int, tuple] = {}
        self._dirty: list[tuple[int, int]] = []      # for the worker
        self._live_dirty: list[tuple[int, int]] = []  # for the next live update
        self._worker: Worker | None = None
        self._live_inv = None
        self._bg_inv = None
        self._live = Throttle(self._on_live_timer, _LIVE_INTERVAL_S, self)
        self.last_ms = 0.0
        self._live_cap = LIVE_MAX_COLUMNS
        #: Columns per block of the background inversion (None: the engine's choice
        #: for the memory budget; tests set small blocks to cross their boundaries).
        self.block_length: int | None = None

    # -- state ------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        """Columns are still to be redone (a worker runs or is queued)."""
        return bool(self._worker is not None or self._dirty or self._live_dirty)

    def reset(self, grid=None) -> None:
        """A new document or grid: forget the arrays, the engines and the history."""
        self.grid = grid if getattr(grid, "is_long", False) else None
        self._state = {}
        self._dirty, self._live_dirty = [], []
        self._live_inv = self._bg_inv = None
        self._live.cancel()
        if self._worker is not None:
            self._worker.cancel()   # its writes go to arrays nobody reads any more
            self._worker = None

    def shutdown(self) -> None:
        self.reset()

    def _engine(self, which: str):
        from phasebrush.core.engine.column_inverse import ColumnInverter

        sig = self.doc.signal
        # SSQ kinds: one block engine for the display and both inverters (its probe,
        # filters and kept whole-grid rows are the costly part, and thread-safe)
        shared = None
        if self.grid.spec.is_ssq:
            shared = getattr(getattr(self.doc.source, "exact", None), "engine", None)
            other = self._bg_inv if which == "live" else self._live_inv
            shared = shared or getattr(other, "engine", None)
        kw = {"engine": shared} if shared is not None else {}
        if which == "live":
            if self._live_inv is None:
                self._live_inv = ColumnInverter(sig.y, self.grid.spec, dx=sig.dx,
                                                block_length=LIVE_BLOCK,
                                                cache_bytes=_FILTER_CACHE_BYTES, **kw)
            return self._live_inv
        if self._bg_inv is None:
            self._bg_inv = ColumnInverter(sig.y, self.grid.spec, dx=sig.dx,
                                          block_length=self.block_length,
                                          cache_bytes=_FILTER_CACHE_BYTES, **kw)
        return self._bg_inv

    # -- what changed -------------------------------------------------------------
    def _layer_state(self, lay):
        if lay.is_band:
            return ("band", lay.upper.copy(), lay.lower.copy())
        return ("paint", lay.version)

    def _layer_span(self, lay) -> tuple[int, int] | None:
        g = self.grid
        if lay.is_band:
            t0 = min(lay.upper[0, 0], lay.lower[0, 0])
            t1 = max(lay.upper[-1, 0], lay.lower[-1, 0])
            return self._time_span(t0, t1)
        span = lay.mask.col_span() if lay.mask is not None else None
        return None if span is None else (span[0], min(span[1], int(g.n_frames)))

    def _time_span(self, t0, t1) -> tuple[int, int] | None:
        g, n = self.grid, int(self.grid.n_frames)
        lo, hi = sorted(float(v) for v in g.time_to_col(np.array([t0, t1])))
        a, b = max(int(np.floor(lo)) - 2, 0), min(int(np.ceil(hi)) + 3, n)
        return (a, b) if b > a else None

    def _changed_spans(self) -> list[tuple[int, int]]:
        layers = self.doc.layers
        now = {id(lay): (lay, self._layer_state(lay)) for lay in layers.visible_layers()}
        spans = []
        flip = layers.last_flip
        for key in set(now) | set(self._state):
            new, old = now.get(key), self._state.get(key)
            if new is not None and old is not None:
                lay, st = new
                if st[0] == "band":
                    for e_old, e_new in ((old[1][1], st[1]), (old[1][2], st[2])):
                        d = edge_diff_span(e_old, e_new)
                        if d is not None:
                            spans.append(self._time_span(*d))
                elif st[1] != old[1][1]:
                    if flip is not None and flip[0] is lay and flip[2].size:
                        cols = flip[2] % int(self.grid.n_frames)
                        spans.append((int(cols.min()), int(cols.max()) + 1))
                    else:
                        spans.append(self._layer_span(lay))
            else:
                lay = (new or old)[0]
                spans.append(self._layer_span(lay))
        self._state = {k: (lay, st) for k, (lay, st) in now.items()}
        return merge_spans(s for s in spans if s is not None)

    # -- document hooks ----------------------------------------------------------------
    def selection_changed(self) -> None:
        """The layers changed (any edit): mark its columns and schedule their update."""
        if self.grid is None or self.doc.signal is None:
            return
        spans = self._changed_spans()
        if not self._state and not self.pending:
            self._set_arrays(None)
            return
        if self.doc.inversion is None:
            n = int(self.grid.n_frames)
            dtype = inverse_dtype(n)
            # Nothing selected yet: the band is zero and the residual the signal
            # (the full inverse of a CWT with edge rows and of a hop-1 STFT).
            self.doc.inversion = np.zeros(n, dtype)
            self.doc.residual = self.doc.signal.y.astype(dtype)
            if not self.grid.edge_row_indices and self.grid.spec.is_cwt:
                spans = [(0, n)]
        if not spans:
            return
        if self.doc.layers.live:
            self._live_dirty = merge_spans(self._live_dirty + spans)
            self._live.request()
            return
        self._queue(spans)

    def live_edit_ended(self) -> None:
        self._live.cancel()
        self._queue(self._live_dirty)
        self._live_dirty = []

    def _set_arrays(self, value) -> None:
        if value is None and self.doc.inversion is None:
            return
        self.doc.inversion = self.doc.residual = None
        self.doc.inversion_cols = None
        self.doc.inversion_changed.emit()

    # -- live ---------------------------------------------------------------------------
    def _on_live_timer(self) -> None:
        doc = self.doc
        if self.grid is None or doc.inversion is None or not self._live_dirty:
            return
        vis = doc.visible_cols() or (0, int(self.grid.n_frames))
        todo = _clip_spans(self._live_dirty, *vis)
        cap = self._live_cap
        if sum(b - a for a, b in todo) > cap:
            # More than a frame's worth on screen: the middle of the view first (where
            # the eye is); the rest follows on release.
            mid = (vis[0] + vis[1]) // 2
            todo = _clip_spans(todo, mid - cap // 2, mid + cap // 2)
        if not todo:
            return   # off screen: the release does it
        t0 = time.perf_counter()
        eng = self._engine("live")
        sel = _LiveSelection(doc.layers, self.grid)
        for a, b in todo:
            eng.band_and_residual(a, b, sel.intervals, out_band=doc.inversion[a:b],
                                  out_residual=doc.residual[a:b])
            self._live_dirty = _subtract_spans(self._live_dirty, a, b)
            self._dirty = merge_spans(self._dirty + [(a, b)])   # redone from the snapshot later
        self.last_ms = 1e3 * (time.perf_counter() - t0)
        done = sum(b - a for a, b in todo)
        if done >= self._live_cap // 2:
            # Keep a frame's work near LIVE_BUDGET_MS: low rows' long filters make a
            # column cost 10x more in one band than in another.
            per_col = self.last_ms / done
            self._live_cap = int(np.clip(LIVE_BUDGET_MS / max(per_col, 1e-9) // LIVE_BLOCK
                                         * LIVE_BLOCK, LIVE_BLOCK, LIVE_MAX_COLUMNS))
        doc.inversion_ms = self.last_ms
        doc.inversion_cols = (min(a for a, _ in todo), max(b for _, b in todo))
        doc.inversion_changed.emit()

    # -- background -------------------------------------------------------------------
    def _queue(self, spans) -> None:
        self._dirty = merge_spans(self._dirty + list(spans))
        if self._worker is None:
            self._start()

    def _start(self) -> None:
        doc = self.doc
        if not self._dirty or self.grid is None or doc.inversion is None:
            return
        snap = SelectionSnapshot(doc.layers, self.grid)
        if snap.empty:
            self._dirty = []
            self._set_arrays(None)
            return
        spans, self._dirty = self._dirty, []
        eng = self._engine("background")
        band, res, key = doc.inversion, doc.residual, doc.key
        total = max(1, sum(b - a for a, b in spans))

        def task(progress, cancel):
            done = 0
            for a, b in spans:
                def part(f, a=a, b=b, done=done):
                    progress((done + f * (b - a)) / total)
                eng.band_and_residual(a, b, snap.intervals, out_band=band[a:b],
                                      out_residual=res[a:b], cancel=cancel, progress=part)
                done += b - a
            return spans

        w = Worker(task, name="inversion", interval_s=0.1)
        w.progressed.connect(lambda f, k=key: self._on_progress(f, k))
        w.succeeded.connect(lambda sp, k=key: self._on_done(sp, k))
        w.failed.connect(lambda msg, exc, k=key: self._on_failed(msg, exc, k, spans))
        w.finished.connect(lambda w=w: self._on_finished(w))
        self._worker = w
        doc._start(w)
        doc.inversion_progressed.emit(0.0)

    def _on_progress(self, f, key) -> None:
        if self.doc.is_current(key):
            self.doc.inversion_progressed.emit(float(f))

    def _on_done(self, spans, key) -> None:
        if not self.doc.is_current(key):
            return
        self.doc.inversion_cols = None
        self.doc.inversion_changed.emit()

    def _on_failed(self, message, exc, key, spans) -> None:
        from phasebrush.core.errors import Cancelled

        if not self.doc.is_current(key) or isinstance(exc, Cancelled):
            return
        # Not retried on its own (it would fail again): the next edit queues its columns.
        self.doc.failed.emit(f"The selection's inverse is not up to date: {message}")

    def _on_finished(self, w) -> None:
        self.doc._forget(w)
        if w is not self._worker:
            return
        self._worker = None
        if self._dirty and not self.doc.layers.live:
            self._start()
        if self._worker is None:
            self.doc.inversion_progressed.emit(1.0)
