"""core.tf.indices: the selection as per-column row intervals, their files and block streams."""

import math
import os

import numpy as np
import pytest
from scipy import ndimage

from phasebrush.core.errors import Cancelled, LoadError, ParameterError, ShapeError
from phasebrush.core.io.atomic import SaveError
from phasebrush.core.tf.bands import Band
from phasebrush.core.tf.indices import (
    FIELDS,
    IntervalIndex,
    SelectionIndices,
    csv_header,
    indices_from_bands,
    indices_from_intervals,
    indices_from_mask,
    indices_from_ranges,
    iter_indices,
    read_indices,
    union_intervals,
    write_indices,
    write_indices_csv,
    write_indices_npz,
)
from phasebrush.core.tf.masks import Grid


def log_grid(n_rows=60, n_cols=300, f0=20.0, f1=4000.0, fs=1000.0):
    return Grid(np.geomspace(f0, f1, n_rows), np.arange(n_cols) / fs)


def blob_mask(shape=(64, 400), seed=0):
    """Random smooth blobs plus stripes: many columns hold several intervals."""
    rng = np.random.default_rng(seed)
    m = ndimage.gaussian_filter(rng.standard_normal(shape), 3.0) > 0.15
    r, c = shape[0] // 6, shape[1] // 8
    m[r:r + 3, ::3] = True          # a dashed line: more runs per column
    m[4 * r, c:6 * c] = True
    m[-1, :c] = True                # runs that end at the top row
    m[0, 2 * c:3 * c] = True        # and start at the bottom row
    return m


def _hand_rows(freqs, lo, hi):
    """Rows whose frequency lies in [lo, hi], by looking at every row."""
    rows = [r for r in range(len(freqs)) if lo <= freqs[r] <= hi]
    if not rows:
        return None
    assert rows == list(range(rows[0], rows[-1] + 1))
    return rows[0], rows[-1] + 1


# ------------------------------------------------------------------ band = hand computation

def _straight_log_band_expectation(freqs, times, t0, t1, up, low):
    """Expected CSV lines of a band whose edges run straight in log-frequency from
    (t0, up[0]) to (t1, up[1]) and (t0, low[0]) to (t1, low[1])."""
    lines = []
    margin = math.inf
    for j, t in enumerate(times):
        if not t0 <= t <= t1:
            continue
        u = (t - t0) / (t1 - t0)
        hi = math.exp(math.log(up[0]) + u * (math.log(up[1]) - math.log(up[0])))
        lo = math.exp(math.log(low[0]) + u * (math.log(low[1]) - math.log(low[0])))
        margin = min(margin, *(abs(math.log(f) - math.log(e)) for f in freqs for e in (lo, hi)))
        got = _hand_rows(freqs, lo, hi)
        if got is None:
            continue
        s, e = got
        lines.append(f"{j},{float(t)!r},{s},{e},{float(freqs[s])!r},{float(freqs[e - 1])!r}")
    # the edges must not sit (to rounding) on a row, or the two computations could differ
    assert margin > 1e-9
    return lines


@pytest.mark.parametrize("source", ["grid", "cwt"])
def test_band_csv_equals_a_hand_computation(source, tmp_path):
    if source == "grid":
        g = log_grid()
        freqs, times = g.frequencies, g.times
        t0, t1, up, low = 0.05, 0.27, (700.0, 2900.0), (90.0, 410.0)
    else:
        from phasebrush.core.signal import Signal
        from phasebrush.core.tf.transforms import TransformSpec, transform

        n, fs = 512, 1000.0
        g = transform(Signal(np.random.default_rng(1).standard_normal(n), dx=1 / fs),
                      TransformSpec(kind="cwt", nv=8))
        freqs, times = g.frequencies, g.times
        t0, t1, up, low = 0.1, 0.4, (170.0, 330.0), (23.0, 61.0)
    band = Band(upper=[[t0, up[0]], [t1, up[1]]], lower=[[t0, low[0]], [t1, low[1]]])
    path = tmp_path / "band.csv"
    write_indices_csv(path, indices_from_bands(band, g, interp="log"))
    want = _straight_log_band_expectation(list(map(float, freqs)), list(map(float, times)),
                                          t0, t1, up, low)
    text = path.read_text().splitlines()
    assert text[0] == ("column,time (s),start_row,end_row (exclusive),start_freq (Hz),"
                       "end_freq (Hz; row end_row-1)")
    assert len(want) > 50
    assert text[1:] == want


def test_band_ranges_and_mask_give_the_same_records():
    g = log_grid()
    band = Band(upper=[[0.02, 900.0], [0.2, 2000.0]], lower=[[0.02, 50.0], [0.2, 300.0]])
    a = indices_from_bands(band, g)
    b = indices_from_mask(a.to_mask(*g.shape), g)
    assert a.equals(b) and len(a) > 0
    assert np.all(a.end_row > a.start_row)
    np.testing.assert_array_equal(a.start_freq, g.frequencies[a.start_row])
    np.testing.assert_array_equal(a.end_freq, g.frequencies[a.end_row - 1])
    np.testing.assert_array_equal(a.time, g.times[a.column])


# ------------------------------------------------------------------ arbitrary masks

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_exported_mask_intervals_rasterise_back_to_the_mask(seed, suffix, tmp_path):
    m = blob_mask(seed=seed)
    g = Grid(np.linspace(0, 500, m.shape[0]), np.arange(m.shape[1]) * 0.01)
    ind = indices_from_mask(m, g)
    per_col = np.bincount(ind.column, minlength=m.shape[1])
    assert per_col.max() >= 3           # several intervals in some columns
    path = tmp_path / f"idx{suffix}"
    write_indices(path, ind)
    back = read_indices(path)
    assert back.equals(ind)
    np.testing.assert_array_equal(back.to_mask(*m.shape), m)


def test_streamed_blocks_give_the_whole_mask_records(tmp_path):
    m = blob_mask()
    g = Grid(np.geomspace(10, 1e4, m.shape[0]), np.arange(m.shape[1]) / 8000)
    whole = indices_from_mask(m, g)
    for block_cols in (1, 7, 64, 1000):
        chunks = list(iter_indices(lambda a, b: m[:, a:b], g, block_cols=block_cols))
        assert SelectionIndices.concatenate(chunks).equals(whole)
    write_indices_csv(tmp_path / "a.csv", whole)
    write_indices_csv(tmp_path / "b.csv", iter_indices(lambda a, b: m[:, a:b], g, block_cols=9))
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    write_indices_npz(tmp_path / "b.npz", iter_indices(lambda a, b: m[:, a:b], g, block_cols=9))
    assert read_indices(tmp_path / "b.npz").equals(whole)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]   # no temp files left


@pytest.mark.parametrize("kind", ["mask", "ranges", "intervals", "records", "none"])
def test_iter_indices_takes_every_block_form(kind):
    m = blob_mask(shape=(20, 90))
    g = Grid(np.arange(1.0, 21.0), np.arange(90.0))
    whole = indices_from_mask(m, g)
    if kind == "none":
        m[:, 30:60] = False
        whole = indices_from_mask(m, g)

    def blocks(a, b):
        blk = m[:, a:b]
        if kind == "mask":
            return blk
        if kind == "none":
            return None if not blk.any() else blk
        ind = indices_from_mask(blk, g, col0=a)
        if kind == "intervals":
            return ind.column, ind.start_row, ind.end_row
        if kind == "records":
            return ind
        return ind.to_ranges(b - a, col0=a)

    got = SelectionIndices.concatenate(iter_indices(blocks, g, block_cols=16))
    assert got.equals(whole)


def test_iter_indices_reports_progress_and_cancels():
    g = Grid(np.arange(1.0, 5.0), np.arange(100.0))
    seen = []
    list(iter_indices(lambda a, b: None, g, block_cols=30, progress=seen.append))
    assert seen == pytest.approx([0.3, 0.6, 0.9, 1.0])
    calls = []
    with pytest.raises(Cancelled):
        list(iter_indices(lambda a, b: calls.append(a), g, block_cols=30,
                          cancel=lambda: len(calls) >= 2))
    assert calls == [0, 30]
    got = list(iter_indices(lambda a, b: np.ones((4, b - a), bool), g, c0=10, c1=20))
    assert SelectionIndices.concatenate(got).column.tolist() == list(range(10, 20))


def test_ranges_merge_overlapping_bands_into_one_record():
    g = Grid(np.arange(1.0, 31.0), np.arange(4.0))
    start = np.array([[2, 2, 2, 0], [5, 9, 0, 0]])
    end = np.array([[6, 6, 6, 0], [8, 12, 0, 0]])
    ind = indices_from_ranges(start, end, g, col0=0)
    assert ind.column.tolist() == [0, 1, 1, 2]
    assert ind.start_row.tolist() == [2, 2, 9, 2]
    assert ind.end_row.tolist() == [8, 6, 12, 6]


def test_union_intervals_is_the_union_of_the_masks():
    a, b = blob_mask(shape=(30, 50), seed=3), blob_mask(shape=(30, 50), seed=4)
    g = Grid(np.arange(1.0, 31.0), np.arange(50.0))
    ia = indices_from_mask(a[:, 10:40], g, col0=10)
    ib = indices_from_mask(b[:, 10:40], g, col0=10)
    got = union_intervals([(ia.column, ia.start_row, ia.end_row), ib.to_ranges(30, col0=10)],
                          10, 40)
    want = indices_from_mask((a | b)[:, 10:40], g, col0=10)
    for x, y in zip(got, (want.column, want.start_row, want.end_row), strict=True):
        np.testing.assert_array_equal(x, y)
    z = union_intervals([], 0, 5)
    assert all(v.size == 0 for v in z)


# ------------------------------------------------------------------ random access

def test_interval_index_random_access_equals_the_records():
    m = blob_mask(shape=(40, 700), seed=5)
    g = Grid(np.arange(1.0, 41.0), np.arange(700.0))
    whole = indices_from_mask(m, g)
    calls = []

    def blocks(a, b):
        calls.append((a, b))
        return m[:, a:b]

    ix = IntervalIndex(blocks, g, block_cols=64, cache_blocks=2).build()
    assert len(ix) == len(whole) and ix.n_columns == whole.n_columns
    assert ix.shape == (40, 700) and ix.n_blocks == 11
    rng = np.random.default_rng(0)
    for _ in range(20):
        i0 = int(rng.integers(0, len(whole)))
        i1 = i0 + int(rng.integers(0, 300))
        assert ix.records(i0, i1).equals(whole[i0:min(i1, len(whole))])
    for col in (0, 1, 63, 64, 65, 333, 699, 700, 5000):
        assert ix.first_at(col) == int(np.searchsorted(whole.column, col))
    assert len(ix.records(len(whole), len(whole) + 5)) == 0


def test_interval_index_needs_a_build_and_a_frozen_snapshot():
    g = Grid(np.arange(1.0, 5.0), np.arange(10.0))
    ix = IntervalIndex(lambda a, b: np.ones((4, b - a), bool), g, block_cols=3)
    with pytest.raises(RuntimeError, match="build"):
        len(ix)
    state = {"rows": [0]}

    def blocks(a, b):
        m = np.zeros((4, b - a), bool)
        m[state["rows"]] = True
        return m

    changing = IntervalIndex(blocks, g, block_cols=3, cache_blocks=1).build()
    assert len(changing) == 10
    state["rows"] = [0, 2]
    with pytest.raises(RuntimeError, match="frozen snapshot"):
        changing.records(0, len(changing))


def test_long_grid_times_are_its_column_times():
    from phasebrush.core.engine.long_tfr import long_tfr
    from phasebrush.core.signal import Signal
    from phasebrush.core.tf.transforms import TransformSpec

    sig = Signal(np.zeros(3000), dx=1 / 8000, x0=2.5)
    grid = long_tfr(sig, TransformSpec(kind="stft", n_fft=64, hop=1))
    s = np.full(500, 3)
    ind = indices_from_ranges(s, s + 4, grid, col0=1200)
    np.testing.assert_array_equal(ind.time, grid.column_times(1200, 1700))
    assert ind.shape == (33, 3000)


# ------------------------------------------------------------------ files

def test_npz_round_trip_keeps_every_field_dtype_and_the_grid(tmp_path):
    m = blob_mask(shape=(30, 80), seed=7)
    g = Grid(np.geomspace(1, 100, 30), np.arange(80) * 0.5, unit="cm^-1")
    ind = indices_from_mask(m, g)
    path = write_indices_npz(tmp_path / "i.npz", ind)
    with np.load(path) as z:
        for f in FIELDS:
            assert z[f].dtype == (np.int64 if f in ("column", "start_row", "end_row")
                                  else np.float64)
            np.testing.assert_array_equal(z[f], getattr(ind, f))
        assert str(z["unit"]) == "cm^-1" and int(z["n_rows"]) == 30 and int(z["n_cols"]) == 80
        assert "exclusive" in str(z["description"])
    back = read_indices(path)
    assert back.equals(ind) and back.shape == (30, 80) and back.unit == "cm^-1"
    np.testing.assert_array_equal(back.to_mask(), m)
    write_indices_npz(tmp_path / "u.npz", ind, compress=False)
    assert read_indices(tmp_path / "u.npz").equals(ind)


@pytest.mark.parametrize("unit, time_col, freq_col", [
    ("s", "time (s)", "start_freq (Hz)"),
    ("cm^-1", "time (cm^-1)", "start_freq (cycles/cm^-1)"),
    ("", "time (samples)", "start_freq (cycles/sample)"),
])
def test_csv_header_names_the_units_and_reads_back(unit, time_col, freq_col, tmp_path):
    head = csv_header(unit).split(",")
    assert head[1] == time_col and head[4] == freq_col and head[3] == "end_row (exclusive)"
    g = Grid(np.arange(1.0, 9.0), np.arange(5.0) * 0.1, unit=unit)
    ind = indices_from_mask(np.ones((8, 5), bool), g)
    write_indices_csv(tmp_path / "i.csv", ind)
    back = read_indices(tmp_path / "i.csv")
    assert back.unit == unit and back.equals(ind) and back.shape is None


def test_empty_selection_writes_a_header_only(tmp_path):
    g = Grid(np.arange(1.0, 4.0), np.arange(6.0))
    ind = indices_from_mask(np.zeros((3, 6), bool), g)
    assert len(ind) == 0 and ind.n_columns == 0
    write_indices_csv(tmp_path / "e.csv", ind)
    assert (tmp_path / "e.csv").read_text() == csv_header("s") + "\n"
    assert len(read_indices(tmp_path / "e.csv")) == 0
    write_indices_npz(tmp_path / "e.npz", iter([]))
    assert len(read_indices(tmp_path / "e.npz")) == 0
    assert not read_indices(tmp_path / "e.npz").to_mask(3, 6).any()


def test_a_cancelled_stream_leaves_the_old_file_and_no_temporaries(tmp_path):
    g = Grid(np.arange(1.0, 5.0), np.arange(100.0))
    for suffix in (".csv", ".npz"):
        path = tmp_path / f"old{suffix}"
        path.write_bytes(b"old")
        calls = []
        chunks = iter_indices(lambda a, b, calls=calls: calls.append(a) or np.ones((4, b - a),
                                                                                   bool),
                              g, block_cols=10, cancel=lambda calls=calls: len(calls) >= 3)
        with pytest.raises(Cancelled):
            write_indices(path, chunks)
        assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["old.csv", "old.npz"]


def test_write_errors(tmp_path):
    ind = SelectionIndices.empty()
    with pytest.raises(ParameterError, match=r"\.csv or \.npz"):
        write_indices(tmp_path / "x.txt", ind)
    with pytest.raises(SaveError, match="does not exist"):
        write_indices_csv(tmp_path / "missing" / "x.csv", ind)
    with pytest.raises(ParameterError, match="SelectionIndices chunks"):
        write_indices_csv(tmp_path / "x.csv", [np.zeros(3)])


def test_read_errors(tmp_path):
    with pytest.raises(LoadError, match="no such file"):
        read_indices(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(LoadError, match="line 1"):
        read_indices(bad)
    bad.write_text(csv_header("s") + "\n1,0.5,2,x,3,4\n")
    with pytest.raises(LoadError, match="not a readable indices CSV"):
        read_indices(bad)
    npz = tmp_path / "bad.npz"
    np.savez(npz, column=np.zeros(2, np.int64))
    with pytest.raises(LoadError, match="no time"):
        read_indices(npz)
    npz.write_bytes(b"not a zip")
    with pytest.raises(LoadError, match="not a readable NPZ"):
        read_indices(npz)


def test_records_validation():
    g = Grid(np.arange(1.0, 5.0), np.arange(10.0))
    with pytest.raises(ParameterError, match="columns"):
        indices_from_intervals([10], [0], [1], g)
    with pytest.raises(ParameterError, match="rows 2..2"):
        indices_from_intervals([1], [2], [2], g)
    with pytest.raises(ParameterError, match="rows 3..5"):
        indices_from_intervals([1], [3], [5], g)
    with pytest.raises(ShapeError, match="4 rows"):
        indices_from_mask(np.zeros((3, 10), bool), g)
    with pytest.raises(ShapeError, match="records"):
        SelectionIndices([1, 2], [0.0], [0], [1], [1.0], [1.0])
    with pytest.raises(ParameterError, match="integers"):
        SelectionIndices([1.5], [0.0], [0], [1], [1.0], [1.0])
    ind = indices_from_intervals([1, 3], [0, 1], [2, 4], g)
    assert ind.column.flags.writeable is False
    with pytest.raises(ParameterError, match="n_rows is needed"):
        SelectionIndices(*(getattr(ind, f) for f in FIELDS)).to_mask()
    with pytest.raises(ParameterError, match="outside the 2 columns"):
        ind.to_mask(4, 2)
    with pytest.raises(ParameterError, match="not within the 3 rows"):
        ind.to_mask(3, 10)
    assert ind[1].column.tolist() == [3] and ind.n_columns == 2
