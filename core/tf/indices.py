"""A selection as indices: for every time column, the selected row intervals.

The form a user asked for ("convert such red bands into code, as indices"):
one record per maximal run of selected rows in one column of the
time-frequency grid,

======================  ========  ===============================================
field                   dtype     meaning
======================  ========  ===============================================
``column``              int64     TFR column (0 = first time column)
``time``                float64   that column's time, in the signal's unit
``start_row``           int64     first selected row (row 0 = lowest frequency)
``end_row``             int64     one past the last selected row (**exclusive**)
``start_freq``          float64   frequency of row ``start_row``
``end_freq``            float64   frequency of row ``end_row - 1`` (the last one)
======================  ========  ===============================================

so column ``column`` of the coefficients has rows ``S[start_row:end_row,
column]`` selected, and their (row-centre) frequencies lie in
``[start_freq, end_freq]``, both included, in cycles per signal unit (Hz for
audio; see :func:`core.tf.bands.freq_unit`). The frequencies are the grid's
``frequencies`` at those rows, nominal for a CWT's edge rows. The rows are
half-open everywhere: in the CSV and NPZ files, in :class:`SelectionIndices`
and in the GUI's table, as in :mod:`core.tf.masks`. Records are sorted by
column, then row; a column may hold several (an arbitrary mask), and two
records of one column never touch.

Sources: a bool mask (:func:`indices_from_mask`), per-column band ranges
(:func:`indices_from_ranges`, :func:`indices_from_bands`) or flat intervals
(:func:`indices_from_intervals`); a long recording's selection given block
by block streams through :func:`iter_indices`, and :class:`IntervalIndex`
gives random access to it (the GUI's table) without holding it.

Files (written atomically, streamed chunk by chunk when given an iterable):

* CSV, one header line naming the units, e.g. for audio::

      column,time (s),start_row,end_row (exclusive),start_freq (Hz),end_freq (Hz; row end_row-1)
      1234,0.0771250,37,52,204.1,311.7

  (numbers are written exactly: ``float(text)`` gives the value back).
* NPZ with one array per field (``np.load(path)["start_row"]``) plus
  ``unit``, ``n_rows``, ``n_cols`` (-1 when unknown), ``format`` and a
  one-line ``description``.
"""

from __future__ import annotations

import collections
import io
import re
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phasebrush.core.errors import Cancelled, LoadError, ParameterError, ShapeError
from phasebrush.core.io.atomic import atomic_write
from phasebrush.core.tf.bands import freq_unit
from phasebrush.core.tf.masks import mask_intervals, merge_ranges, ranges_intervals, ranges_to_mask

__all__ = [
    "SelectionIndices", "FIELDS", "indices_from_intervals", "indices_from_mask",
    "indices_from_ranges", "indices_from_bands", "union_intervals", "iter_indices",
    "IntervalIndex", "block_columns", "csv_header", "write_indices_csv",
    "write_indices_npz", "write_indices", "read_indices", "INDEX_SUFFIXES",
]

#: The fields of every record, in file order.
FIELDS = ("column", "time", "start_row", "end_row", "start_freq", "end_freq")
_INT_FIELDS = ("column", "start_row", "end_row")
#: What :func:`write_indices` and the GUI / CLI write.
INDEX_SUFFIXES = (".csv", ".npz")
_FORMAT = 1  # bumped if the NPZ layout changes
_DESCRIPTION = ("selected row intervals per TFR column: rows start_row..end_row-1 "
                "(end_row exclusive, row 0 = lowest frequency) of column 'column' at time "
                "'time'; start_freq / end_freq = frequencies of rows start_row and "
                "end_row-1")
#: Cells (rows x columns) per block of :func:`iter_indices` / :class:`IntervalIndex`.
_BLOCK_CELLS = 1 << 22


def _time_unit(unit: str) -> str:
    return unit or "samples"


# --------------------------------------------------------------------------- records

@dataclass(frozen=True, eq=False)
class SelectionIndices:
    """Selected row intervals, one record per run of rows in one column.

    Attributes
    ----------
    column : np.ndarray [shape=(n,), int64]
        TFR column of each record, ascending (ties: by row).
    time : np.ndarray [shape=(n,), float64]
        The column's time, signal unit.
    start_row, end_row : np.ndarray [shape=(n,), int64]
        Rows ``start_row .. end_row - 1`` are selected (``end_row`` exclusive;
        row 0 = lowest frequency); ``end_row > start_row``.
    start_freq, end_freq : np.ndarray [shape=(n,), float64]
        Frequencies of rows ``start_row`` and ``end_row - 1``, cycles per
        signal unit.
    unit : str
        The signal's axis unit ("s": times in s, frequencies in Hz).
    shape : tuple (n_rows, n_cols) or None
        The grid the records index, when known (files from CSV do not say).

    Arrays are read-only; an empty selection has ``n = 0``.
    """

    column: np.ndarray
    time: np.ndarray
    start_row: np.ndarray
    end_row: np.ndarray
    start_freq: np.ndarray
    end_freq: np.ndarray
    unit: str = "s"
    shape: tuple[int, int] | None = None

    def __post_init__(self):
        n = None
        for name in FIELDS:
            dt = np.int64 if name in _INT_FIELDS else np.float64
            a = np.asarray(getattr(self, name))
            if a.ndim != 1:
                raise ShapeError(f"{name} must be 1-D, got shape {a.shape}")
            if name in _INT_FIELDS and a.size and not np.issubdtype(a.dtype, np.integer):
                raise ParameterError(f"{name} must hold integers, got {a.dtype}")
            a = a.astype(dt, copy=False)
            if a.flags.writeable:
                a = a.view()
                a.setflags(write=False)
            if n is None:
                n = a.size
            elif a.size != n:
                raise ShapeError(f"{name} has {a.size} records, column has {n}")
            object.__setattr__(self, name, a)
        object.__setattr__(self, "unit", str(self.unit))
        if self.shape is not None:
            object.__setattr__(self, "shape", (int(self.shape[0]), int(self.shape[1])))

    def __len__(self) -> int:
        return int(self.column.size)

    def __getitem__(self, key) -> SelectionIndices:
        """Records ``key`` (a slice or index array) as a SelectionIndices."""
        if isinstance(key, (int, np.integer)):
            key = np.array([int(key)])
        return SelectionIndices(*(getattr(self, f)[key] for f in FIELDS),
                                unit=self.unit, shape=self.shape)

    @classmethod
    def empty(cls, *, unit: str = "s", shape=None) -> SelectionIndices:
        i, f = np.zeros(0, np.int64), np.zeros(0, np.float64)
        return cls(i, f, i, i, f, f, unit=unit, shape=shape)

    @classmethod
    def concatenate(cls, parts, *, unit: str | None = None, shape=None) -> SelectionIndices:
        """One SelectionIndices of ``parts`` in order (unit and shape of the first
        unless given)."""
        parts = list(parts)
        if not parts:
            return cls.empty(unit="s" if unit is None else unit, shape=shape)
        unit = parts[0].unit if unit is None else unit
        shape = parts[0].shape if shape is None else shape
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS),
                   unit=unit, shape=shape)

    def equals(self, other: SelectionIndices) -> bool:
        """Same records (every field exactly equal) and unit."""
        return (isinstance(other, SelectionIndices) and len(self) == len(other)
                and self.unit == other.unit
                and all(np.array_equal(getattr(self, f), getattr(other, f)) for f in FIELDS))

    @property
    def n_columns(self) -> int:
        """Number of distinct columns holding a record."""
        c = self.column
        return int(c.size and 1 + np.count_nonzero(np.diff(c)))

    def to_ranges(self, n_cols: int | None = None, *, col0: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
        """The records as stacked per-column ranges (the format of
        :func:`core.tf.masks.merge_ranges`).

        Parameters
        ----------
        n_cols : int or None
            Columns of the result (default ``shape[1]``).
        col0 : int
            The result's first column (a block of a longer grid); records
            outside ``[col0, col0 + n_cols)`` are dropped.

        Returns
        -------
        start, end : np.ndarray [shape=(k, n_cols), int64]
            ``k`` = the most records in any column (at least 1); unused slots
            ``start == end == 0``.
        """
        return _flat_to_ranges(self.column, self.start_row, self.end_row,
                               self._n(n_cols, 1, "n_cols"), int(col0))

    def to_mask(self, n_rows: int | None = None, n_cols: int | None = None) -> np.ndarray:
        """Re-rasterise the records: the bool mask [shape=(n_rows, n_cols)] they select.

        ``n_rows`` / ``n_cols`` default to :attr:`shape`.

        Raises
        ------
        ParameterError
            A record outside the rows or columns, or no shape to default to.
        """
        n_rows, n_cols = self._n(n_rows, 0, "n_rows"), self._n(n_cols, 1, "n_cols")
        bad = (self.column < 0) | (self.column >= n_cols)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ParameterError(f"record {i}: column {self.column[i]} is outside the "
                                 f"{n_cols} columns")
        bad = (self.start_row < 0) | (self.end_row > n_rows) | (self.end_row < self.start_row)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ParameterError(f"record {i}: rows {self.start_row[i]}..{self.end_row[i]} "
                                 f"are not within the {n_rows} rows")
        start, end = self.to_ranges(n_cols)
        out = np.zeros((n_rows, n_cols), dtype=bool)
        for s, e in zip(start, end, strict=True):
            out |= ranges_to_mask(s, e, n_rows)
        return out

    def _n(self, value, axis: int, name: str) -> int:
        if value is None:
            if self.shape is None:
                raise ParameterError(f"{name} is needed: these indices do not know their grid")
            return self.shape[axis]
        value = int(value)
        if value < 0:
            raise ParameterError(f"{name}={value} < 0")
        return value


def _flat_to_ranges(cols, starts, ends, n_cols: int, col0: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Flat intervals as stacked ranges [shape=(k, n_cols)] of columns col0.. (one slot per
    interval of a column, in row order; intervals outside are dropped)."""
    c = np.asarray(cols, np.int64) - col0
    keep = (c >= 0) & (c < n_cols)
    c, s, e = c[keep], np.asarray(starts, np.int64)[keep], np.asarray(ends, np.int64)[keep]
    order = np.lexsort((s, c))
    c, s, e = c[order], s[order], e[order]
    counts = np.bincount(c, minlength=n_cols) if c.size else np.zeros(n_cols, np.int64)
    k = max(int(counts.max(initial=0)), 1)
    rank = np.arange(c.size) - np.repeat(np.cumsum(counts) - counts, counts)
    start = np.zeros((k, n_cols), np.int64)
    end = np.zeros((k, n_cols), np.int64)
    start[rank, c], end[rank, c] = s, e
    return start, end


# --------------------------------------------------------------------------- axes

class _Axes:
    """What the records need of a grid: row frequencies, column times, unit, shape.

    Takes a :class:`core.tf.masks.Grid`, a TFR, or a long recording's grid
    (:class:`core.engine.long_tfr.LongTFR`: column times from ``x0`` and
    ``col_dx``, never a whole times array).
    """

    def __init__(self, grid):
        if isinstance(grid, _Axes):
            self.__dict__.update(grid.__dict__)
            return
        try:
            f = np.asarray(grid.frequencies, dtype=np.float64)
        except AttributeError:
            raise ParameterError(
                f"expected a TFR, Grid or long grid, got {type(grid).__name__}") from None
        if f.ndim != 1 or f.size < 1:
            raise ParameterError(f"frequencies must be a non-empty 1-D array, got {f.shape}")
        self.frequencies = f
        self.unit = str(getattr(grid, "unit", "s"))
        if getattr(grid, "is_long", False) or not hasattr(grid, "times"):
            self._times = None
            self.x0, self.col_dx = float(grid.x0), float(grid.col_dx)
            self.n_cols = int(grid.n_frames)
        else:
            self._times = np.asarray(grid.times, dtype=np.float64)
            self.n_cols = int(self._times.size)
        self.n_rows = int(f.size)

    def times(self, cols: np.ndarray) -> np.ndarray:
        if self._times is None:
            # as LongTFR.column_times computes them: x0 + col_dx * column
            return self.x0 + self.col_dx * cols.astype(np.float64)
        return self._times[cols]


def indices_from_intervals(cols, starts, ends, grid) -> SelectionIndices:
    """Records from flat intervals (the format of :func:`core.tf.masks.mask_intervals`).

    Parameters
    ----------
    cols, starts, ends : np.ndarray [shape=(n,), int]
        Column ``cols[i]`` has rows ``starts[i] .. ends[i] - 1`` selected;
        sorted by column, then row, with ``ends > starts``.
    grid : Grid, TFR or LongTFR
        Gives the row frequencies, the column times and the unit.

    Raises
    ------
    ParameterError
        A column or row outside the grid, or an empty interval.
    """
    ax = _Axes(grid)
    c = np.asarray(cols, dtype=np.int64)
    s = np.asarray(starts, dtype=np.int64)
    e = np.asarray(ends, dtype=np.int64)
    if not c.shape == s.shape == e.shape or c.ndim != 1:
        raise ShapeError(f"cols, starts and ends must be 1-D and alike, got {c.shape}, "
                         f"{s.shape} and {e.shape}")
    if c.size:
        if c.min() < 0 or c.max() >= ax.n_cols:
            raise ParameterError(f"columns {c.min()}..{c.max()} are not within the grid's "
                                 f"{ax.n_cols} columns")
        if s.min() < 0 or e.max() > ax.n_rows or np.any(e <= s):
            i = int(np.flatnonzero((s < 0) | (e > ax.n_rows) | (e <= s))[0])
            raise ParameterError(f"interval {i}: rows {s[i]}..{e[i]} are empty or not "
                                 f"within the grid's {ax.n_rows} rows")
    f = ax.frequencies
    return SelectionIndices(c, ax.times(c), s, e, f[s], f[e - 1], unit=ax.unit,
                            shape=(ax.n_rows, ax.n_cols))


def indices_from_mask(mask, grid, *, col0: int = 0) -> SelectionIndices:
    """Records of a bool mask: every maximal run of selected rows of every column.

    Parameters
    ----------
    mask : np.ndarray [shape=(n_rows, w), bool]
        The whole grid's mask, or columns ``col0 .. col0 + w - 1`` of it.
    grid : Grid, TFR or LongTFR
        The whole grid (``n_rows`` rows).
    col0 : int
        The mask's first column on the grid.
    """
    ax = _Axes(grid)
    m = np.asarray(mask)
    if m.ndim != 2 or m.shape[0] != ax.n_rows:
        raise ShapeError(f"mask has shape {m.shape}; the grid has {ax.n_rows} rows")
    return indices_from_intervals(*mask_intervals(m, col0=int(col0)), ax)


def indices_from_ranges(start, end, grid, *, col0: int = 0) -> SelectionIndices:
    """Records of per-column half-open row ranges (:func:`core.tf.bands.band_ranges`).

    Parameters
    ----------
    start, end : np.ndarray [shape=(w,) or (k, w), int]
        One or ``k`` stacked range sets (several bands); overlapping or
        touching ranges of a column become one record, empty ones none.
    grid : Grid, TFR or LongTFR
    col0 : int
        Column of ``start[..., 0]`` on the grid.
    """
    start, end = np.asarray(start), np.asarray(end)
    if start.ndim == 1 and start.shape == end.shape:
        # one range per column: nothing to merge (the common case, one band)
        cols = np.flatnonzero(end > start)
        s, e = start[cols], end[cols]
    else:
        cols, s, e = ranges_intervals(start, end)
    return indices_from_intervals(cols + int(col0), s, e, grid)


def indices_from_bands(bands, grid, *, interp: str | None = None,
                       notes: list | None = None) -> SelectionIndices:
    """Records of the union of ``bands`` (one :class:`core.tf.bands.Band` or a list) on a
    whole grid (Grid or TFR); ``interp`` and ``notes`` as in :func:`core.tf.bands.band_ranges`."""
    from phasebrush.core.tf.bands import Band, band_ranges

    if isinstance(bands, Band):
        bands = [bands]
    ranges = [band_ranges(b, grid, interp=interp, notes=notes) for b in bands]
    if not ranges:
        return SelectionIndices.empty(unit=_Axes(grid).unit)
    return indices_from_ranges(np.stack([r[0] for r in ranges]),
                               np.stack([r[1] for r in ranges]), grid)


def union_intervals(parts, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The union of several selections of columns ``[c0, c1)``, as flat intervals.

    Parameters
    ----------
    parts : list
        Each is per-column ranges ``(start, end)`` [shape=(c1 - c0,) or (k, c1 - c0)]
        of the block, or flat intervals ``(cols, starts, ends)`` with absolute
        columns in ``[c0, c1)``.

    Returns
    -------
    cols, starts, ends : np.ndarray [shape=(n,), int64]
        Absolute columns; sorted, merged where they overlap or touch.
    """
    w = int(c1) - int(c0)
    ss, ee = [], []
    for p in parts:
        if len(p) == 3:
            s, e = _flat_to_ranges(*p, w, int(c0))
        else:
            s, e = np.atleast_2d(np.asarray(p[0])), np.atleast_2d(np.asarray(p[1]))
        ss.append(s)
        ee.append(e)
    if not ss:
        z = np.zeros(0, np.int64)
        return z, z.copy(), z.copy()
    s, e = merge_ranges(np.concatenate(ss), np.concatenate(ee))
    cols, starts, ends = ranges_intervals(s, e)
    return cols + int(c0), starts, ends


# --------------------------------------------------------------------------- blocks

Blocks = Callable[[int, int], object]


def block_columns(n_rows: int, *, cells: int = _BLOCK_CELLS) -> int:
    """Columns per block for a grid of ``n_rows`` rows: ~``cells`` cells, at least 256."""
    return max(256, int(cells) // max(int(n_rows), 1))


def _block_records(blocks: Blocks, ax: _Axes, c0: int, c1: int) -> SelectionIndices:
    got = blocks(c0, c1)
    if got is None:
        return SelectionIndices.empty(unit=ax.unit, shape=(ax.n_rows, ax.n_cols))
    if isinstance(got, SelectionIndices):
        return got
    if isinstance(got, np.ndarray):
        if got.ndim != 2 or got.shape[1] != c1 - c0:
            raise ShapeError(f"the block of columns {c0}..{c1} is a mask of shape "
                             f"{got.shape}; expected ({ax.n_rows}, {c1 - c0})")
        return indices_from_mask(got, ax, col0=c0)
    got = tuple(got)
    if len(got) == 2:
        return indices_from_ranges(got[0], got[1], ax, col0=c0)
    if len(got) == 3:
        return indices_from_intervals(*got, ax)
    raise ParameterError(f"a block must be a bool mask, (start, end) ranges or (cols, starts, "
                         f"ends) intervals, got a {len(got)}-tuple")


def iter_indices(blocks: Blocks, grid, *, c0: int = 0, c1: int | None = None,
                 block_cols: int | None = None, progress=None, cancel=None
                 ) -> Iterator[SelectionIndices]:
    """The records of a selection given block by block, one chunk per block.

    Holds one block at a time, so a 26 M-column recording streams to a file
    in bounded memory (see :func:`write_indices_csv`).

    Parameters
    ----------
    blocks : callable (a, b) -> block
        The selection in columns ``[a, b)``, as any of: a bool mask
        [shape=(n_rows, b - a)]; per-column ranges ``(start, end)``
        [shape=(b - a,) or (k, b - a), relative to ``a``]; flat intervals
        ``(cols, starts, ends)`` with absolute columns; a SelectionIndices;
        or None (nothing selected there).
    grid : Grid, TFR or LongTFR
    c0, c1 : int
        The columns to cover (default: all of the grid's).
    block_cols : int or None
        Columns per block (default :func:`block_columns` of the row count).
    progress : callable (float) -> None, optional
        Called with the fraction of columns done after each block.
    cancel : callable () -> bool, optional
        Checked before each block; True raises :class:`~core.errors.Cancelled`.

    Yields
    ------
    SelectionIndices
        Each block's records (possibly none), in column order.
    """
    ax = _Axes(grid)
    c1 = ax.n_cols if c1 is None else int(c1)
    c0 = int(c0)
    if not 0 <= c0 <= c1 <= ax.n_cols:
        raise ParameterError(f"columns {c0}..{c1} are not within the grid's {ax.n_cols}")
    step = block_columns(ax.n_rows) if block_cols is None else int(block_cols)
    if step < 1:
        raise ParameterError(f"block_cols={step} < 1")
    for a in range(c0, c1, step):
        if cancel is not None and cancel():
            raise Cancelled("writing the indices was cancelled")
        b = min(a + step, c1)
        yield _block_records(blocks, ax, a, b)
        if progress is not None:
            progress((b - c0) / max(c1 - c0, 1))


class IntervalIndex:
    """Random access, by record number, to the records of a selection given block-wise.

    :meth:`build` makes one pass over the blocks and keeps only each block's
    record count (a 26 M-column recording: a few thousand numbers);
    :meth:`records` then recomputes the few blocks a range of records lies
    in, keeping the last ``cache_blocks`` of them. What a table view of
    millions of rows needs. ``blocks`` must give the same selection on every
    call (a frozen snapshot).

    Parameters
    ----------
    blocks, grid, block_cols
        As for :func:`iter_indices` (over all the grid's columns).
    cache_blocks : int
        Blocks' records kept for :meth:`records`.
    """

    def __init__(self, blocks: Blocks, grid, *, block_cols: int | None = None,
                 cache_blocks: int = 4):
        self._blocks = blocks
        self._ax = _Axes(grid)
        self.block_cols = (block_columns(self._ax.n_rows) if block_cols is None
                           else int(block_cols))
        if self.block_cols < 1:
            raise ParameterError(f"block_cols={self.block_cols} < 1")
        self._offsets: np.ndarray | None = None     # (n_blocks + 1,) record offsets
        self._col_counts: np.ndarray | None = None  # distinct columns per block
        self._cache: collections.OrderedDict[int, SelectionIndices] = collections.OrderedDict()
        self._cache_blocks = max(int(cache_blocks), 1)
        self._lock = threading.Lock()

    @property
    def unit(self) -> str:
        return self._ax.unit

    @property
    def shape(self) -> tuple[int, int]:
        return (self._ax.n_rows, self._ax.n_cols)

    @property
    def frequencies(self) -> np.ndarray:
        return self._ax.frequencies

    @property
    def built(self) -> bool:
        return self._offsets is not None

    @property
    def n_blocks(self) -> int:
        return -(-self._ax.n_cols // self.block_cols)

    def build(self, progress=None, cancel=None) -> IntervalIndex:
        """Count every block's records (one pass; ``progress``/``cancel`` as for
        :func:`iter_indices`). Returns self."""
        counts = np.zeros(self.n_blocks, np.int64)
        cols = np.zeros(self.n_blocks, np.int64)
        chunks = iter_indices(self._blocks, self._ax, block_cols=self.block_cols,
                              progress=progress, cancel=cancel)
        for i, chunk in enumerate(chunks):
            counts[i], cols[i] = len(chunk), chunk.n_columns
            if len(chunk):
                self._keep(i, chunk)
        self._offsets = np.concatenate([[0], np.cumsum(counts)])
        self._col_counts = cols
        return self

    def __len__(self) -> int:
        self._need()
        return int(self._offsets[-1])

    @property
    def n_columns(self) -> int:
        """Number of columns holding at least one record."""
        self._need()
        return int(self._col_counts.sum())

    def records(self, i0: int, i1: int) -> SelectionIndices:
        """Records ``i0 .. i1 - 1`` (clipped to ``[0, len(self)]``)."""
        self._need()
        n = len(self)
        i0, i1 = max(int(i0), 0), min(int(i1), n)
        if i1 <= i0:
            return SelectionIndices.empty(unit=self.unit, shape=self.shape)
        off = self._offsets
        b0 = int(np.searchsorted(off, i0, side="right")) - 1
        b1 = int(np.searchsorted(off, i1 - 1, side="right")) - 1
        parts = []
        for b in range(b0, b1 + 1):
            chunk = self._block(b)
            parts.append(chunk[max(i0 - off[b], 0):min(i1, off[b + 1]) - off[b]])
        return SelectionIndices.concatenate(parts, unit=self.unit, shape=self.shape)

    def first_at(self, column: int) -> int:
        """Number of the first record at or after ``column`` (``len(self)`` if none)."""
        self._need()
        column = int(column)
        b = min(max(column // self.block_cols, 0), self.n_blocks - 1)
        if column < 0 or self.n_blocks == 0:
            return 0
        if self._offsets[b + 1] == self._offsets[b]:
            return int(self._offsets[b + 1])
        chunk = self._block(b)
        return int(self._offsets[b] + np.searchsorted(chunk.column, column, side="left"))

    def _block(self, b: int) -> SelectionIndices:
        with self._lock:
            if b in self._cache:
                self._cache.move_to_end(b)
                return self._cache[b]
        a = b * self.block_cols
        chunk = _block_records(self._blocks, self._ax, a, min(a + self.block_cols,
                                                               self._ax.n_cols))
        want = int(self._offsets[b + 1] - self._offsets[b])
        if len(chunk) != want:
            raise RuntimeError(f"block {b} gave {len(chunk)} records, {want} when counted: "
                               "the blocks callable must be a frozen snapshot")
        self._keep(b, chunk)
        return chunk

    def _keep(self, b: int, chunk: SelectionIndices) -> None:
        with self._lock:
            self._cache[b] = chunk
            self._cache.move_to_end(b)
            while len(self._cache) > self._cache_blocks:
                self._cache.popitem(last=False)

    def _need(self) -> None:
        if self._offsets is None:
            raise RuntimeError("IntervalIndex.build() has not run yet")


# --------------------------------------------------------------------------- files

def csv_header(unit: str) -> str:
    """The CSV's header line (no newline), naming the units of ``unit``'s axis."""
    fu, tu = freq_unit(unit), _time_unit(unit)
    return (f"column,time ({tu}),start_row,end_row (exclusive),start_freq ({fu}),"
            f"end_freq ({fu}; row end_row-1)")


def _chunks(indices) -> Iterator[SelectionIndices]:
    if isinstance(indices, SelectionIndices):
        yield indices
        return
    for chunk in indices:
        if not isinstance(chunk, SelectionIndices):
            raise ParameterError(f"expected SelectionIndices chunks, got "
                                 f"{type(chunk).__name__}")
        yield chunk


def _peek(indices, unit):
    """(first chunk or None, the chunk iterator including it, the unit)."""
    it = _chunks(indices)
    first = next(it, None)
    if unit is None:
        unit = first.unit if first is not None else "s"

    def again():
        if first is not None:
            yield first
        yield from it

    return again(), str(unit)


def _repr_strings(x: np.ndarray) -> list[str]:
    """``repr`` of each float (round-trips exactly), each distinct value formatted once."""
    if x.size == 0:
        return []
    u, inv = np.unique(x, return_inverse=True)
    if u.size * 4 > x.size:
        return list(map(repr, x.tolist()))
    table = np.array(list(map(repr, u.tolist())), dtype=object)
    return table[inv].tolist()


def _csv_lines(chunk: SelectionIndices) -> str:
    cols = [list(map(str, chunk.column.tolist())), _repr_strings(chunk.time),
            list(map(str, chunk.start_row.tolist())), list(map(str, chunk.end_row.tolist())),
            _repr_strings(chunk.start_freq), _repr_strings(chunk.end_freq)]
    return "".join(line + "\n" for line in map(",".join, zip(*cols, strict=True)))


_CSV_ROWS = 1 << 18  # records formatted at a time


def write_indices_csv(path, indices, *, unit: str | None = None) -> Path:
    """Write records as CSV (header naming the units, one line per record), atomically.

    Parameters
    ----------
    path : str or Path
    indices : SelectionIndices or iterable of SelectionIndices
        The records, or chunks of them in order (from :func:`iter_indices`:
        written as they come, so memory stays at one chunk).
    unit : str or None
        The signal's axis unit for the header (default: the first chunk's).

    Returns
    -------
    Path

    Raises
    ------
    SaveError
        The file cannot be written; an existing file is then unchanged.
    Cancelled
        From the chunks' ``cancel`` check; nothing is written.
    """
    chunks, unit = _peek(indices, unit)

    def writer(fh):
        fh.write((csv_header(unit) + "\n").encode("utf-8"))
        for chunk in chunks:
            for a in range(0, len(chunk), _CSV_ROWS):
                fh.write(_csv_lines(chunk[a:a + _CSV_ROWS]).encode("ascii"))

    return atomic_write(path, writer, binary=True)


def _npy_header(dtype, n: int) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
              "fortran_order": False, "shape": (int(n),)})
    return buf.getvalue()


def _zip_array(zf: zipfile.ZipFile, name: str, a: np.ndarray) -> None:
    a = np.asarray(a)   # (ascontiguousarray would make a 0-d array 1-d)
    with zf.open(f"{name}.npy", "w", force_zip64=True) as m:
        if a.ndim == 1:
            m.write(_npy_header(a.dtype, a.size))
            m.write(np.ascontiguousarray(a).tobytes())
        else:
            np.lib.format.write_array(m, a, allow_pickle=False)


def write_indices_npz(path, indices, *, unit: str | None = None, shape=None,
                      compress: bool = True) -> Path:
    """Write records as NPZ (one array per field, see the module notes), atomically.

    Parameters
    ----------
    path : str or Path
    indices : SelectionIndices or iterable of SelectionIndices
        As for :func:`write_indices_csv`. Chunks are spooled to anonymous
        temporary files in ``path``'s folder (memory: one chunk; disk: the
        records once more until the archive is complete).
    unit : str or None
        Default: the first chunk's.
    shape : (n_rows, n_cols) or None
        The grid's shape (default: the first chunk's, if it knows it).
    compress : bool
        Deflate the arrays (level 1: sorted columns shrink several-fold).

    Raises
    ------
    SaveError, Cancelled
        As for :func:`write_indices_csv`.
    """
    path = Path(path)
    first_shape = indices.shape if isinstance(indices, SelectionIndices) else None
    chunks, unit = _peek(indices, unit)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED

    def writer(fh):
        nonlocal shape
        if isinstance(indices, SelectionIndices):
            data = {f: getattr(indices, f) for f in FIELDS}
            n = len(indices)
            spools = None
        else:
            spools = {f: tempfile.TemporaryFile(dir=path.parent or ".") for f in FIELDS}
            n = 0
        try:
            if spools is not None:
                for chunk in chunks:
                    if shape is None and chunk.shape is not None:
                        shape = chunk.shape
                    for f in FIELDS:
                        spools[f].write(getattr(chunk, f).tobytes())
                    n += len(chunk)
            elif shape is None:
                shape = first_shape
            with zipfile.ZipFile(fh, "w", method, allowZip64=True, compresslevel=1) as zf:
                for f in FIELDS:
                    dt = np.int64 if f in _INT_FIELDS else np.float64
                    if spools is None:
                        _zip_array(zf, f, data[f])
                        continue
                    sp = spools[f]
                    sp.seek(0)
                    with zf.open(f"{f}.npy", "w", force_zip64=True) as m:
                        m.write(_npy_header(dt, n))
                        while True:
                            buf = sp.read(1 << 24)
                            if not buf:
                                break
                            m.write(buf)
                rows, cols = shape if shape is not None else (-1, -1)
                for name, value in (("unit", np.array(unit)), ("n_rows", np.array(rows)),
                                    ("n_cols", np.array(cols)),
                                    ("format", np.array(_FORMAT)),
                                    ("description", np.array(_DESCRIPTION))):
                    _zip_array(zf, name, value)
        finally:
            if spools is not None:
                for sp in spools.values():
                    sp.close()

    return atomic_write(path, writer, binary=True)


def write_indices(path, indices, **kw) -> Path:
    """:func:`write_indices_csv` or :func:`write_indices_npz` by ``path``'s suffix.

    Raises ParameterError for a suffix that is neither .csv nor .npz.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        kw.pop("shape", None)
        kw.pop("compress", None)
        return write_indices_csv(path, indices, **kw)
    if suffix == ".npz":
        return write_indices_npz(path, indices, **kw)
    raise ParameterError(f"{path}: indices are written as .csv or .npz, not "
                         f"{suffix or 'a file without an extension'}")


_UNIT = re.compile(r"^time \((.*)\)$")


def read_indices(path) -> SelectionIndices:
    """Read records written by :func:`write_indices_csv` or :func:`write_indices_npz`.

    Returns
    -------
    SelectionIndices
        With the grid's ``shape`` from an NPZ (None from a CSV).

    Raises
    ------
    LoadError
        A missing or unreadable file, a missing field, or a malformed line.
    """
    p = Path(path)
    if not p.is_file():
        raise LoadError(p, "no such file")
    if p.suffix.lower() == ".npz":
        return _read_npz(p)
    return _read_csv(p)


def _read_npz(p: Path) -> SelectionIndices:
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [f for f in FIELDS if f not in z.files]
            if missing:
                raise LoadError(p, f"not a PhaseBrush indices file: no {', '.join(missing)}")
            fmt = int(z["format"]) if "format" in z.files else _FORMAT
            if fmt > _FORMAT:
                raise LoadError(p, f"indices format {fmt} is newer than this PhaseBrush "
                                   f"reads ({_FORMAT})")
            arrays = [z[f] for f in FIELDS]
            unit = str(z["unit"]) if "unit" in z.files else "s"
            rows = int(z["n_rows"]) if "n_rows" in z.files else -1
            cols = int(z["n_cols"]) if "n_cols" in z.files else -1
    except LoadError:
        raise
    except Exception as exc:  # zipfile, truncated data, pickled objects ...
        raise LoadError(p, f"not a readable NPZ ({exc})") from None
    try:
        return SelectionIndices(*arrays, unit=unit,
                                shape=(rows, cols) if rows >= 0 and cols >= 0 else None)
    except (ParameterError, ShapeError) as exc:
        raise LoadError(p, str(exc)) from None


def _read_csv(p: Path) -> SelectionIndices:
    try:
        with open(p, encoding="utf-8") as fh:
            head = fh.readline().rstrip("\r\n").split(",")
            if len(head) != len(FIELDS) or [h.split(" ")[0] for h in head] != list(FIELDS):
                raise LoadError(p, f"line 1: expected the header {csv_header('s')!r}, got "
                                   f"{','.join(head)!r}")
            m = _UNIT.match(head[1])
            unit = "" if m is None or m.group(1) == "samples" else m.group(1)
            dt = [(f, "i8" if f in _INT_FIELDS else "f8") for f in FIELDS]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)   # a header-only file: no records
                data = np.loadtxt(fh, delimiter=",", dtype=dt, ndmin=1)
    except LoadError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise LoadError(p, f"not a readable indices CSV ({exc})") from None
    try:
        return SelectionIndices(*(data[f] for f in FIELDS), unit=unit)
    except (ParameterError, ShapeError) as exc:
        raise LoadError(p, str(exc)) from None
