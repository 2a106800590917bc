"""Painted and soft masks on a transform's (row, column) grid.

A mask is a 2-D array the shape of a transform's coefficients,
``(n_rows, n_frames)``, row 0 = lowest frequency:

* a *painted* mask is ``bool``;
* a *soft* mask is float32/float64 with values in [0, 1] (a gain).

Painting works in image index space: ``(row, column)`` coordinates, which may
be fractional (a mouse position); a cell ``(r, c)`` is the unit square
centred on the integer point ``(r, c)``. :func:`freq_to_row` and
:func:`time_to_col` turn physical positions into that space. The paint
functions change the mask in place (a GUI copies once per stroke for undo)
and return it.

The selected region is also expressed as per-column half-open row ranges
``start, end`` (int64, [n_frames]): rows ``start[t] .. end[t] - 1`` are
selected at column ``t``; ``start == end`` selects nothing there.
:func:`ranges_to_mask` and :func:`mask_to_ranges` convert.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phasebrush.core.errors import LoadError, ParameterError, ShapeError
from phasebrush.core.io.atomic import atomic_write_bytes

__all__ = [
    "Grid", "as_grid", "rows_are_log",
    "freq_to_row", "row_to_freq", "time_to_col", "col_to_time",
    "inner_rows", "valid_mask", "ranges_to_mask", "mask_to_ranges", "merge_ranges",
    "mask_to_runs", "mask_intervals", "ranges_intervals", "map_mask",
    "paint_disk", "paint_stroke", "fill_rectangle", "fill_polygon",
    "clip_soft", "threshold", "union", "subtract", "intersect", "invert",
    "MaskFile", "save_mask", "load_mask", "fit_mask",
]

_MASK_FORMAT = 1  # bumped if the NPZ layout changes


# --------------------------------------------------------------------------- grid

@dataclass(frozen=True, eq=False)
class Grid:
    """The axes of a transform, without its coefficients.

    Attributes
    ----------
    frequencies : np.ndarray [shape=(n_rows,), float64, ascending]
        Row frequencies in cycles per signal unit.
    times : np.ndarray [shape=(n_frames,), float64, ascending]
        Column times in signal units.
    edge_row_indices : tuple of int
        Rows that are a CWT's edge rows (never selected by a band).
    log_rows : bool or None
        Whether rows are log-spaced in frequency; None = decide from
        ``frequencies`` (see :func:`rows_are_log`).
    unit : str
        The signal's axis unit ("s" -> frequencies in Hz).
    """

    frequencies: np.ndarray
    times: np.ndarray
    edge_row_indices: tuple[int, ...] = ()
    log_rows: bool | None = None
    unit: str = "s"

    def __post_init__(self):
        f = _axis(self.frequencies, "frequencies")
        t = _axis(self.times, "times")
        edges = tuple(int(i) for i in self.edge_row_indices)
        for i in edges:
            if not 0 <= i < f.size:
                raise ParameterError(
                    f"edge row index {i} is outside the {f.size} rows")
        object.__setattr__(self, "frequencies", f)
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "edge_row_indices", edges)
        if self.log_rows is None:
            inner = np.delete(f, list(edges)) if edges else f
            object.__setattr__(self, "log_rows", rows_are_log(inner))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.frequencies.size, self.times.size)


def _axis(a, name: str) -> np.ndarray:
    a = np.array(a, dtype=np.float64)  # a private copy, made read-only below
    if a.ndim != 1 or a.size < 1:
        raise ParameterError(f"{name} must be a non-empty 1-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ParameterError(f"{name} holds NaN or infinite values")
    if a.size > 1 and np.any(np.diff(a) <= 0):
        i = int(np.flatnonzero(np.diff(a) <= 0)[0])
        raise ParameterError(
            f"{name} must be strictly ascending; {name}[{i}]={a[i]:g} >= "
            f"{name}[{i + 1}]={a[i + 1]:g}")
    a.setflags(write=False)
    return a


def as_grid(tfr_or_grid) -> Grid:
    """A :class:`Grid` from a TFR (or anything with ``frequencies`` and ``times``).

    A TFR's rows count as log-spaced exactly when its spec is a CWT kind.
    """
    if isinstance(tfr_or_grid, Grid):
        return tfr_or_grid
    try:
        f = tfr_or_grid.frequencies
        t = tfr_or_grid.times
    except AttributeError:
        raise ParameterError(
            f"expected a TFR or Grid, got {type(tfr_or_grid).__name__}") from None
    spec = getattr(tfr_or_grid, "spec", None)
    log_rows = bool(spec.is_cwt) if spec is not None and hasattr(spec, "is_cwt") else None
    return Grid(f, t, tuple(getattr(tfr_or_grid, "edge_row_indices", ())),
                log_rows=log_rows, unit=str(getattr(tfr_or_grid, "unit", "s")))


def rows_are_log(frequencies) -> bool:
    """Whether rows at ``frequencies`` are best treated as log-spaced.

    True when every frequency is positive and the spacing is not uniform
    (a uniform grid, like an STFT's, or a single row is linear). Pass the rows
    without a CWT's edge rows.
    """
    f = np.asarray(frequencies, dtype=np.float64)
    if f.size < 3 or np.any(f <= 0):
        return False
    d = np.diff(f)
    return not np.allclose(d, d.mean(), rtol=1e-6, atol=0)


def _fractional_index(axis: np.ndarray, x, log: bool) -> np.ndarray:
    """Fractional index of ``x`` on an ascending axis, extrapolated linearly."""
    x = np.asarray(x, dtype=np.float64)
    if axis.size == 1:
        return np.zeros_like(x)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            xp, xs = np.log(axis), np.log(x)
    else:
        xp, xs = axis, x
    idx = np.interp(xs, xp, np.arange(axis.size, dtype=np.float64))
    below, above = xs < xp[0], xs > xp[-1]
    idx = np.where(below, (xs - xp[0]) / (xp[1] - xp[0]), idx)
    idx = np.where(above, axis.size - 1 + (xs - xp[-1]) / (xp[-1] - xp[-2]), idx)
    return idx


def _axis_value(axis: np.ndarray, idx, log: bool) -> np.ndarray:
    idx = np.asarray(idx, dtype=np.float64)
    if axis.size == 1:
        return np.full_like(idx, axis[0])
    xp = np.log(axis) if log else axis
    n = axis.size
    v = np.interp(idx, np.arange(n, dtype=np.float64), xp)
    v = np.where(idx < 0, xp[0] + idx * (xp[1] - xp[0]), v)
    v = np.where(idx > n - 1, xp[-1] + (idx - (n - 1)) * (xp[-1] - xp[-2]), v)
    return np.exp(v) if log else v


def freq_to_row(frequencies, f, *, log: bool | None = None):
    """Fractional row of frequency ``f`` (for turning a mouse position into a row).

    Parameters
    ----------
    frequencies : np.ndarray [shape=(n_rows,), ascending]
        A transform's row frequencies (edge rows included: they are drawn).
    f : float or np.ndarray
        Frequencies in cycles per signal unit.
    log : bool or None
        Interpolate in log-frequency; None = :func:`rows_are_log` on the rows
        between the first and last (where a CWT's edge rows sit).

    Returns
    -------
    float or np.ndarray [float64]
        Row coordinate; piecewise linear between rows (in log-frequency when
        ``log``) and extrapolated beyond the ends with the end spacing
        (``f <= 0`` on a log axis gives -inf).
    """
    axis = _axis(frequencies, "frequencies")
    if log is None:
        log = rows_are_log(axis[1:-1]) and bool(np.all(axis > 0))
    r = _fractional_index(axis, f, log)
    return float(r) if np.ndim(r) == 0 else r


def row_to_freq(frequencies, row, *, log: bool | None = None):
    """Inverse of :func:`freq_to_row`: frequency at fractional ``row``."""
    axis = _axis(frequencies, "frequencies")
    if log is None:
        log = rows_are_log(axis[1:-1]) and bool(np.all(axis > 0))
    v = _axis_value(axis, row, log)
    return float(v) if np.ndim(v) == 0 else v


def time_to_col(times, t):
    """Fractional column of time ``t`` (linear, extrapolated beyond the ends)."""
    c = _fractional_index(_axis(times, "times"), t, False)
    return float(c) if np.ndim(c) == 0 else c


def col_to_time(times, col):
    """Inverse of :func:`time_to_col`: time at fractional column ``col``."""
    v = _axis_value(_axis(times, "times"), col, False)
    return float(v) if np.ndim(v) == 0 else v


# --------------------------------------------------------------------------- validation

def valid_mask(mask, *, shape: tuple[int, int] | None = None, name: str = "mask") -> np.ndarray:
    """Return ``mask`` as a bool or float array, or raise.

    Parameters
    ----------
    mask : array_like [shape=(n_rows, n_frames)], bool or real in [0, 1]
        Integer masks holding only 0 and 1 are accepted as bool.
    shape : tuple or None
        Required shape (the transform's).

    Raises
    ------
    ShapeError
        Not 2-D, or not ``shape``.
    ParameterError
        Not bool/real, or soft values outside [0, 1] or not finite.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ShapeError(f"{name} must be 2-D (n_rows, n_frames), got shape {m.shape}")
    if shape is not None and m.shape != tuple(shape):
        raise ShapeError(f"{name} has shape {m.shape}, the transform has {tuple(shape)}")
    if m.dtype == bool:
        return m
    if np.issubdtype(m.dtype, np.integer):
        if m.size and (m.min() < 0 or m.max() > 1):
            raise ParameterError(f"{name}: integer mask values must be 0 or 1")
        return m.astype(bool)
    if not np.issubdtype(m.dtype, np.floating):
        raise ParameterError(f"{name}: dtype {m.dtype} is neither bool nor float")
    if m.size:
        if not np.all(np.isfinite(m)):
            raise ParameterError(f"{name}: soft mask holds NaN or infinite values")
        lo, hi = float(m.min()), float(m.max())
        if lo < 0 or hi > 1:
            raise ParameterError(f"{name}: soft mask values span {lo:g}..{hi:g}, not [0, 1]")
    return m


def _pair(a, b):
    a = valid_mask(a, name="first mask")
    b = valid_mask(b, name="second mask")
    if a.shape != b.shape:
        raise ShapeError(f"mask shapes differ: {a.shape} vs {b.shape}")
    if a.dtype == bool and b.dtype == bool:
        return a, b, True
    dt = np.result_type(*(m.dtype for m in (a, b) if m.dtype != bool))
    return a.astype(dt), b.astype(dt), False


# --------------------------------------------------------------------------- ranges

def ranges_to_mask(start, end, n_rows: int) -> np.ndarray:
    """Boolean mask from per-column half-open row ranges.

    Parameters
    ----------
    start, end : np.ndarray [shape=(n_frames,), int]
        Rows ``start[t] .. end[t] - 1`` are selected at column ``t``.
    n_rows : int

    Returns
    -------
    np.ndarray [shape=(n_rows, n_frames), bool]
    """
    s = np.asarray(start)
    e = np.asarray(end)
    if s.ndim != 1 or s.shape != e.shape:
        raise ShapeError(f"start and end must be 1-D and alike, got {s.shape} and {e.shape}")
    if not (np.issubdtype(s.dtype, np.integer) and np.issubdtype(e.dtype, np.integer)):
        raise ParameterError(f"start/end must be integers, got {s.dtype} and {e.dtype}")
    n_rows = int(n_rows)
    live = e > s
    if np.any(live & ((s < 0) | (e > n_rows))):
        t = int(np.flatnonzero(live & ((s < 0) | (e > n_rows)))[0])
        raise ParameterError(
            f"range {s[t]}..{e[t]} at column {t} is outside the {n_rows} rows")
    # Compared in the narrowest integer type that holds the rows (int16: ~2x faster than
    # int64 on a band's overlay); clipping keeps an empty range (end <= start) empty.
    dtype = np.int16 if n_rows < (1 << 15) else np.int64
    rows = np.arange(n_rows, dtype=dtype)[:, None]
    out = rows >= np.clip(s, 0, n_rows).astype(dtype)[None, :]
    out &= rows < np.clip(e, 0, n_rows).astype(dtype)[None, :]
    return out


def mask_to_ranges(mask) -> tuple[np.ndarray, np.ndarray]:
    """Per-column half-open row ranges of a mask with one run per column.

    Parameters
    ----------
    mask : np.ndarray [shape=(n_rows, n_frames), bool]

    Returns
    -------
    start, end : np.ndarray [shape=(n_frames,), int64]
        Empty columns give ``start == end == 0``.

    Raises
    ------
    ParameterError
        The mask is soft, or a column holds more than one run of rows.
    """
    m = valid_mask(mask)
    if m.dtype != bool:
        raise ParameterError("mask_to_ranges needs a bool mask; threshold a soft one first")
    n_rows = m.shape[0]
    if n_rows == 0:
        z = np.zeros(m.shape[1], dtype=np.int64)
        return z, z.copy()
    any_ = m.any(axis=0)
    start = np.where(any_, np.argmax(m, axis=0), 0).astype(np.int64)
    end = np.where(any_, n_rows - np.argmax(m[::-1], axis=0), 0).astype(np.int64)
    bad = m.sum(axis=0) != end - start
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        raise ParameterError(
            f"column {t} of the mask holds more than one run of rows "
            f"({int(bad.sum())} such column(s)); ranges need one run per column")
    return start, end


def merge_ranges(start, end) -> tuple[np.ndarray, np.ndarray]:
    """Union of several per-column range sets, as disjoint ranges.

    Overlapping or touching ranges in a column are merged, so summing the
    rows of the result (as a per-range inverse does) counts every selected row
    exactly once.

    Parameters
    ----------
    start, end : np.ndarray [shape=(k, n_frames) or (n_frames,), int]
        ``k`` range sets (bands); ``start == end`` (or ``end < start``) is empty.

    Returns
    -------
    start, end : np.ndarray [shape=(k_out, n_frames), int64]
        Disjoint ranges sorted by row within each column; unused slots hold
        ``start == end == 0``. ``k_out <= k`` (at least 1).
    """
    s = np.atleast_2d(np.asarray(start))
    e = np.atleast_2d(np.asarray(end))
    if s.ndim != 2 or s.shape != e.shape:
        raise ShapeError(f"start and end must be (k, n_frames) and alike, got {s.shape} "
                         f"and {e.shape}")
    if not (np.issubdtype(s.dtype, np.integer) and np.issubdtype(e.dtype, np.integer)):
        raise ParameterError(f"start/end must be integers, got {s.dtype} and {e.dtype}")
    k, n = s.shape
    live = e > s
    big = np.iinfo(np.int64).max
    s = np.where(live, s, big).astype(np.int64)  # empties sort last and are dropped
    e = np.where(live, e, big).astype(np.int64)
    order = np.argsort(s, axis=0, kind="stable")
    s, e = np.take_along_axis(s, order, 0), np.take_along_axis(e, order, 0)
    live = np.take_along_axis(live, order, 0)
    reach = np.maximum.accumulate(e, axis=0)
    new = np.ones((k, n), dtype=bool)
    new[1:] = s[1:] > reach[:-1]
    new &= live
    run = np.cumsum(new, axis=0) - 1            # run index of each range in its column
    k_out = max(int(new.sum(axis=0).max(initial=0)), 1)
    out_s = np.zeros((k_out, n), dtype=np.int64)
    out_e = np.zeros((k_out, n), dtype=np.int64)
    cols = np.broadcast_to(np.arange(n), (k, n))
    out_s[run[new], cols[new]] = s[new]
    np.maximum.at(out_e, (run[live], cols[live]), e[live])
    return out_s, out_e


def mask_to_runs(mask) -> tuple[np.ndarray, np.ndarray]:
    """Every run of selected rows of a bool mask, as stacked half-open ranges.

    Any painted mask becomes ranges this way (one slot per run, the most any
    column has), ready for a per-range inverse.

    Parameters
    ----------
    mask : np.ndarray [shape=(n_rows, n_frames), bool]

    Returns
    -------
    start, end : np.ndarray [shape=(k, n_frames), int64]
        ``k`` = the most runs in any column (at least 1); runs sorted by row
        within each column, unused slots ``start == end == 0``.
    """
    m = valid_mask(mask)
    if m.dtype != bool:
        raise ParameterError("mask_to_runs needs a bool mask; threshold a soft one first")
    n_rows, n = m.shape
    p = np.zeros((n, n_rows + 2), dtype=np.int8)
    p[:, 1:-1] = m.T
    d = np.diff(p, axis=1)                       # column-major: runs come out sorted by column
    sc, sr = np.nonzero(d == 1)
    _, er = np.nonzero(d == -1)
    counts = np.bincount(sc, minlength=n)
    k = max(int(counts.max(initial=0)), 1)
    rank = np.arange(sc.size) - np.repeat(np.cumsum(counts) - counts, counts)
    start = np.zeros((k, n), dtype=np.int64)
    end = np.zeros((k, n), dtype=np.int64)
    start[rank, sc] = sr
    end[rank, sc] = er
    return start, end


def mask_intervals(mask, *, col0: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every run of selected rows of a bool mask, as flat per-column intervals.

    The selection as indices: in TFR column ``cols[i]``, rows
    ``starts[i] .. ends[i] - 1`` (TFR rows, row 0 = lowest frequency) are
    selected, and the runs are maximal (two runs of a column never touch).

    Parameters
    ----------
    mask : np.ndarray [shape=(n_rows, n_frames), bool]
    col0 : int
        Added to every column (the first column of a block of a longer mask).

    Returns
    -------
    cols, starts, ends : np.ndarray [shape=(n_runs,), int64]
        Half-open ``[start, end)`` row runs, sorted by column, then row.
    """
    m = valid_mask(mask)
    if m.dtype != bool:
        raise ParameterError("mask_intervals needs a bool mask; threshold a soft one first")
    n_rows, n = m.shape
    cols, starts, ends = [], [], []
    # Column blocks keep the (columns, rows + 2) temporaries small on a long mask.
    step = max(1, _CHUNK // (n_rows + 2))
    for a in range(0, n, step):
        b = min(a + step, n)
        p = np.zeros((b - a, n_rows + 2), dtype=np.int8)
        p[:, 1:-1] = m[:, a:b].T
        d = np.diff(p, axis=1)                   # column-major: runs come out sorted by column
        sc, sr = np.nonzero(d == 1)
        _, er = np.nonzero(d == -1)
        cols.append(sc.astype(np.int64) + (a + int(col0)))
        starts.append(sr.astype(np.int64))
        ends.append(er.astype(np.int64))
    if not cols:
        z = np.zeros(0, dtype=np.int64)
        return z, z.copy(), z.copy()
    return np.concatenate(cols), np.concatenate(starts), np.concatenate(ends)


def ranges_intervals(start, end) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band ranges as flat per-column intervals (the format of :func:`mask_intervals`).

    Overlapping or touching ranges of a column are merged (as
    :func:`merge_ranges` does) and empty ones skipped, so the result equals
    ``mask_intervals(ranges_to_mask(start, end, n_rows))`` for ranges within
    the rows.

    Parameters
    ----------
    start, end : np.ndarray [shape=(n_frames,) or (k, n_frames), int]
        Per-column half-open TFR row ranges (row 0 = lowest frequency), one
        or ``k`` stacked sets; ``end <= start`` is empty.

    Returns
    -------
    cols, starts, ends : np.ndarray [shape=(n_runs,), int64]
        Sorted by column, then row.
    """
    s, e = merge_ranges(start, end)
    live = e > s
    cols, slot = np.nonzero(live.T)              # column-major: sorted by column, then row
    return cols.astype(np.int64), s[slot, cols], e[slot, cols]


def map_mask(mask, src, dst) -> np.ndarray:
    """Map a mask drawn on one transform's grid onto another's.

    Each destination cell takes the value of the source cell nearest to it:
    nearest row in log-frequency when the source rows are log-spaced (CWT
    kinds), else in frequency; nearest column in time. Destination cells
    beyond the source's frequency or time range (by more than half the end
    spacing) are 0. Edge rows map to edge rows (low to low, high to high);
    ordinary rows never map to edge rows.

    Parameters
    ----------
    mask : np.ndarray [shape=src.shape], bool or soft
    src, dst : TFR or Grid

    Returns
    -------
    np.ndarray [shape=dst.shape], the dtype of ``mask``
    """
    sg, dg = as_grid(src), as_grid(dst)
    m = valid_mask(mask, shape=sg.shape)
    rows = _nearest_rows(sg, dg)
    cols = _nearest(sg.times, dg.times, log=False)
    out = np.zeros(dg.shape, dtype=m.dtype)
    r_ok, c_ok = rows >= 0, cols >= 0
    out[np.ix_(r_ok, c_ok)] = m[np.ix_(rows[r_ok], cols[c_ok])]
    return out


def _nearest(src_axis: np.ndarray, x: np.ndarray, *, log: bool) -> np.ndarray:
    """Index of the nearest ``src_axis`` point to each ``x``; -1 if out of range."""
    if src_axis.size == 0:
        return np.full(x.shape, -1, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(src_axis) if log else src_axis
        v = np.log(x) if log else x
    if a.size == 1:
        idx = np.zeros(v.shape, dtype=np.int64)
        return np.where(v == a[0], idx, -1)
    mids = 0.5 * (a[1:] + a[:-1])
    idx = np.searchsorted(mids, v).astype(np.int64)
    lo = a[0] - 0.5 * (a[1] - a[0])
    hi = a[-1] + 0.5 * (a[-1] - a[-2])
    return np.where((v >= lo) & (v <= hi), idx, -1)  # NaN (log of <= 0) -> -1


def inner_rows(tfr_or_grid) -> tuple[int, int]:
    """``(a, b)``: rows ``a .. b - 1`` are the ordinary (non-edge) rows.

    Raises ParameterError if an edge row sits between ordinary rows.
    """
    g = as_grid(tfr_or_grid)
    n = g.shape[0]
    edges = set(g.edge_row_indices)
    a = 0
    while a < n and a in edges:
        a += 1
    b = n
    while b > a and (b - 1) in edges:
        b -= 1
    if any(a <= i < b for i in edges):
        raise ParameterError(
            f"edge rows {sorted(edges)} are not all at the ends of the {n} rows")
    return a, b


def _nearest_rows(sg: Grid, dg: Grid) -> np.ndarray:
    sa, sb = inner_rows(sg)
    da, db = inner_rows(dg)
    rows = np.full(dg.shape[0], -1, dtype=np.int64)
    if sb > sa:
        near = _nearest(sg.frequencies[sa:sb], dg.frequencies[da:db], log=bool(sg.log_rows))
        rows[da:db] = np.where(near >= 0, near + sa, -1)
    # Edge rows: low to low, high to high, when both sides have them.
    if sa > 0 and da > 0:
        rows[:da] = sa - 1
    if sb < sg.shape[0] and db < dg.shape[0]:
        rows[db:] = sb
    return rows


# --------------------------------------------------------------------------- painting

def _paintable(mask, value):
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise ShapeError(
            f"mask must be a 2-D numpy array, got {getattr(mask, 'shape', type(mask).__name__)}")
    if not mask.flags.writeable:
        raise ParameterError("mask is read-only; paint on a copy")
    if mask.dtype == bool:
        return bool(value)
    if not np.issubdtype(mask.dtype, np.floating):
        raise ParameterError(f"mask dtype {mask.dtype} is neither bool nor float")
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise ParameterError(f"paint value={v:g} is outside [0, 1] for a soft mask")
    return v


def _radii(radius_rows, radius_cols) -> tuple[float, float]:
    rr, rc = float(radius_rows), float(radius_cols)
    if not (np.isfinite(rr) and np.isfinite(rc)) or rr < 0 or rc < 0:
        raise ParameterError(f"brush radii must be finite and >= 0, got {rr:g}, {rc:g}")
    # A radius under half a cell still paints the cells the centre line crosses.
    return max(rr, 0.5), max(rc, 0.5)


def _paint_segment(mask, p0, p1, rr, rc, value):
    """Paint cells whose centre is within the brush ellipse of segment p0-p1."""
    n_r, n_c = mask.shape
    (r0, c0), (r1, c1) = p0, p1
    ra = max(int(np.ceil(min(r0, r1) - rr)), 0)
    rb = min(int(np.floor(max(r0, r1) + rr)), n_r - 1)
    ca = max(int(np.ceil(min(c0, c1) - rc)), 0)
    cb = min(int(np.floor(max(c0, c1) + rc)), n_c - 1)
    if ra > rb or ca > cb:
        return
    # Distance to the segment in brush-normalised coordinates (the ellipse is a unit circle).
    y = (np.arange(ra, rb + 1, dtype=np.float64)[:, None] - r0) / rr
    x = (np.arange(ca, cb + 1, dtype=np.float64)[None, :] - c0) / rc
    dy, dx = (r1 - r0) / rr, (c1 - c0) / rc
    L2 = dy * dy + dx * dx
    u = np.clip((y * dy + x * dx) / L2, 0.0, 1.0) if L2 > 0 else 0.0
    inside = (y - u * dy) ** 2 + (x - u * dx) ** 2 <= 1.0 + 1e-12
    mask[ra:rb + 1, ca:cb + 1][inside] = value


def _paint_centre(mask, r, c, value):
    # The cell containing the brush centre is always painted, however small the brush.
    i, j = int(np.floor(r + 0.5)), int(np.floor(c + 0.5))
    if 0 <= i < mask.shape[0] and 0 <= j < mask.shape[1]:
        mask[i, j] = value


def paint_disk(mask: np.ndarray, row: float, col: float, radius_rows: float,
               radius_cols: float, value=True) -> np.ndarray:
    """Paint an elliptical brush dab in place.

    Cells whose centre ``(r, c)`` satisfies
    ``((r - row) / radius_rows)**2 + ((c - col) / radius_cols)**2 <= 1``
    are set to ``value``; radii below 0.5 count as 0.5, and the cell holding
    ``(row, col)`` is always painted. Cells outside the mask are ignored.

    Parameters
    ----------
    mask : np.ndarray [shape=(n_rows, n_frames), bool or float], writeable
    row, col : float
        Centre in index space (fractional allowed, may lie outside the mask).
    radius_rows, radius_cols : float >= 0
        Half-axes in rows and columns.
    value : bool or float in [0, 1]

    Returns
    -------
    mask (the same array)
    """
    return paint_stroke(mask, [(row, col)], radius_rows, radius_cols, value)


def paint_stroke(mask: np.ndarray, points, radius_rows: float, radius_cols: float,
                 value=True) -> np.ndarray:
    """Paint a brush stroke through ``points`` in place, with no gaps.

    Every segment between successive points is painted as the swept brush
    ellipse (a capsule), so a fast drag that reports far-apart points still
    leaves a connected stroke (8-connected for radii < 1, 4-connected above).

    Parameters
    ----------
    mask : np.ndarray [shape=(n_rows, n_frames), bool or float], writeable
    points : array_like [shape=(k, 2)]
        ``(row, col)`` positions in index space, in drawing order.
    radius_rows, radius_cols, value
        As for :func:`paint_disk`.
    """
    v = _paintable(mask, value)
    rr, rc = _radii(radius_rows, radius_cols)
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 1:
        raise ParameterError(f"stroke points must have shape (k >= 1, 2), got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ParameterError("stroke points hold NaN or infinite values")
    if p.shape[0] == 1:
        _paint_segment(mask, p[0], p[0], rr, rc, v)
    for a, b in zip(p[:-1], p[1:], strict=True):
        _paint_segment(mask, a, b, rr, rc, v)
    for r, c in p:
        _paint_centre(mask, r, c, v)
    return mask


def fill_rectangle(mask: np.ndarray, r0: float, r1: float, c0: float, c1: float,
                   value=True) -> np.ndarray:
    """Fill the cells between two corner cells, both included, in place.

    Corners may come in any order and be fractional (they are rounded to the
    cell they fall in); the part outside the mask is ignored.
    """
    v = _paintable(mask, value)
    corners = np.array([r0, r1, c0, c1], dtype=np.float64)
    if not np.all(np.isfinite(corners)):
        raise ParameterError(f"rectangle corners must be finite, got {corners.tolist()}")
    ra, rb = sorted(int(np.floor(x + 0.5)) for x in corners[:2])
    ca, cb = sorted(int(np.floor(x + 0.5)) for x in corners[2:])
    ra, ca = max(ra, 0), max(ca, 0)
    rb, cb = min(rb, mask.shape[0] - 1), min(cb, mask.shape[1] - 1)
    if ra <= rb and ca <= cb:
        mask[ra:rb + 1, ca:cb + 1] = v
    return mask


def fill_polygon(mask: np.ndarray, vertices_rowcol, value=True) -> np.ndarray:
    """Fill a closed polygon (a lasso) in place, even-odd rule on cell centres.

    Cell ``(r, c)`` is inside when a ray from its centre towards +column
    crosses the polygon's edges an odd number of times, where edge ``i``
    (from vertex ``i`` to ``i+1``, closing back to vertex 0) is crossed when
    ``(r_i > r) != (r_j > r)`` and
    ``c < c_i + (r - r_i) * (c_j - c_i) / (r_j - r_i)``. Scanline fill:
    O(rows * (edges + columns)) in numpy, no loop over cells.

    Parameters
    ----------
    mask : np.ndarray [shape=(n_rows, n_frames), bool or float], writeable
    vertices_rowcol : array_like [shape=(k, 2)]
        ``(row, col)`` vertices in index space; fewer than 3 fill nothing.
    value : bool or float in [0, 1]
    """
    v = _paintable(mask, value)
    p = np.asarray(vertices_rowcol, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ParameterError(f"polygon vertices must have shape (k, 2), got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ParameterError("polygon vertices hold NaN or infinite values")
    if p.shape[0] < 3:
        return mask
    n_r, n_c = mask.shape
    ra = max(int(np.ceil(p[:, 0].min())), 0)
    rb = min(int(np.floor(p[:, 0].max())), n_r - 1)
    if ra > rb or n_c == 0:
        return mask
    ri, ci = p[:, 0], p[:, 1]
    rj, cj = np.roll(ri, -1), np.roll(ci, -1)
    # Blocks of rows keep the (rows, edges) and (rows, columns) temporaries small.
    step = max(1, _CHUNK // max(ri.size, n_c + 1))
    for r0 in range(ra, rb + 1, step):
        r1 = min(r0 + step, rb + 1)
        inside = _even_odd_rows(r0, r1, ri, ci, rj, cj, n_c)
        mask[r0:r1][inside] = v
    return mask


_CHUNK = 1 << 22  # elements per temporary in fill_polygon


def _even_odd_rows(r0, r1, ri, ci, rj, cj, n_c) -> np.ndarray:
    """Even-odd inside test [shape=(r1 - r0, n_c), bool] for rows r0 .. r1 - 1."""
    y = np.arange(r0, r1, dtype=np.float64)[:, None]               # (n_y, 1)
    crosses = (ri[None, :] > y) != (rj[None, :] > y)               # (n_y, n_e)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = ci + (y - ri) * (cj - ci) / (rj - ri)                  # only used where crossing
    # c < x  <=>  c < ceil(x) for integer c: each crossing adds 1 to columns [0, ceil(x)).
    k = np.clip(np.ceil(np.where(crosses, x, 0.0)), 0, n_c).astype(np.int64)
    yy = np.broadcast_to(np.arange(y.shape[0])[:, None], k.shape)
    diff = np.zeros((y.shape[0], n_c + 1), dtype=np.int64)
    diff[:, 0] = crosses.sum(axis=1)
    np.add.at(diff, (yy[crosses], k[crosses]), -1)
    return (np.cumsum(diff[:, :n_c], axis=1) & 1).astype(bool)


# --------------------------------------------------------------------------- soft masks

def clip_soft(soft) -> np.ndarray:
    """``soft`` clipped to [0, 1] (float32 kept, anything else becomes float64).

    Raises ParameterError for NaN (a gain has no sensible value there).
    """
    s = np.asarray(soft)
    if s.ndim != 2:
        raise ShapeError(f"soft mask must be 2-D (n_rows, n_frames), got shape {s.shape}")
    dt = np.float32 if s.dtype == np.float32 else np.float64
    s = s.astype(dt)
    if np.isnan(s).any():
        raise ParameterError("soft mask holds NaN values")
    return np.clip(s, 0.0, 1.0)


def threshold(soft, level: float = 0.5) -> np.ndarray:
    """Bool mask of the cells where ``soft >= level``.

    ``level`` must lie in (0, 1] so that a zero gain is never selected.
    """
    s = valid_mask(soft, name="soft mask")
    lv = float(level)
    if not 0.0 < lv <= 1.0:
        raise ParameterError(f"threshold level={lv:g} is outside (0, 1]")
    return s >= lv


def union(a, b) -> np.ndarray:
    """Cells in either mask: ``a | b`` for bool masks, ``max(a, b)`` if either is soft."""
    a, b, is_bool = _pair(a, b)
    return (a | b) if is_bool else np.maximum(a, b)


def subtract(a, b) -> np.ndarray:
    """Cells of ``a`` not in ``b``: ``a & ~b`` for bool masks, ``a * (1 - b)`` if soft."""
    a, b, is_bool = _pair(a, b)
    return (a & ~b) if is_bool else a * (1 - b)


def intersect(a, b) -> np.ndarray:
    """Cells in both masks: ``a & b`` for bool masks, ``min(a, b)`` if either is soft."""
    a, b, is_bool = _pair(a, b)
    return (a & b) if is_bool else np.minimum(a, b)


def invert(a) -> np.ndarray:
    """Complement: ``~a`` for a bool mask, ``1 - a`` for a soft one."""
    a = valid_mask(a)
    return ~a if a.dtype == bool else 1 - a


# --------------------------------------------------------------------------- files

@dataclass(frozen=True, eq=False)
class MaskFile:
    """A mask read from disk, with the grid it was painted on.

    Attributes
    ----------
    mask : np.ndarray [shape=(n_rows, n_frames), bool or float]
    frequencies : np.ndarray [shape=(n_rows,), float64]
    times : np.ndarray [shape=(n_frames,), float64]
    name : str
    edge_row_indices : tuple of int
        The source transform's edge rows.
    """

    mask: np.ndarray
    frequencies: np.ndarray
    times: np.ndarray
    name: str = "mask"
    edge_row_indices: tuple[int, ...] = ()

    @property
    def grid(self) -> Grid:
        return Grid(self.frequencies, self.times, self.edge_row_indices)


def save_mask(path, mask, *, frequencies, times, name: str = "mask",
              edge_row_indices=()) -> None:
    """Save a mask and the grid it was painted on as NPZ, atomically.

    Parameters
    ----------
    path : str or Path
    mask : np.ndarray [shape=(n_rows, n_frames)], bool or soft
    frequencies : np.ndarray [shape=(n_rows,)]
        Row frequencies of the transform it was painted on.
    times : np.ndarray [shape=(n_frames,)]
    name : str
    edge_row_indices : tuple of int
        That transform's edge rows (so :func:`fit_mask` maps them right).
    """
    g = Grid(frequencies, times, tuple(edge_row_indices))
    m = valid_mask(mask, shape=g.shape)
    buf = io.BytesIO()
    np.savez_compressed(buf, mask=m, frequencies=g.frequencies, times=g.times,
                        name=np.array(str(name)),
                        edge_row_indices=np.array(g.edge_row_indices, dtype=np.int64),
                        format=np.array(_MASK_FORMAT))
    atomic_write_bytes(path, buf.getvalue())


def load_mask(path) -> MaskFile:
    """Read a mask written by :func:`save_mask`.

    Raises
    ------
    LoadError
        Missing or unreadable file, missing arrays, or arrays that disagree.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("mask", "frequencies", "times") if k not in z.files]
            if missing:
                raise LoadError(path, f"not a PhaseBrush mask: no {', '.join(missing)} array(s)")
            fmt = int(z["format"]) if "format" in z.files else _MASK_FORMAT
            if fmt > _MASK_FORMAT:
                raise LoadError(path, f"mask format {fmt} is newer than this PhaseBrush reads "
                                      f"({_MASK_FORMAT})")
            mask, f, t = z["mask"], z["frequencies"], z["times"]
            name = str(z["name"]) if "name" in z.files else Path(path).stem
            edges = (tuple(int(i) for i in z["edge_row_indices"].ravel())
                     if "edge_row_indices" in z.files else ())
    except LoadError:
        raise
    except FileNotFoundError:
        raise LoadError(path, "no such file") from None
    except Exception as exc:  # zipfile, pickle refusal, truncated data ...
        raise LoadError(path, f"not a readable NPZ mask ({exc})") from None
    try:
        g = Grid(f, t, edges)
        m = valid_mask(mask, shape=g.shape)
    except (ParameterError, ShapeError) as exc:
        raise LoadError(path, str(exc)) from None
    return MaskFile(m, g.frequencies, g.times, name, g.edge_row_indices)


def fit_mask(saved: MaskFile, tfr_or_grid) -> np.ndarray:
    """``saved.mask`` on the grid of ``tfr_or_grid``.

    Returned as is when the grids match (same shape; frequencies and times
    equal to 1e-9 relative), else mapped with :func:`map_mask`.
    """
    g = as_grid(tfr_or_grid)
    if (saved.mask.shape == g.shape
            and np.allclose(saved.frequencies, g.frequencies, rtol=1e-9, atol=0)
            and np.allclose(saved.times, g.times, rtol=1e-9, atol=1e-12)):
        return saved.mask
    return map_mask(saved.mask, saved.grid, g)
