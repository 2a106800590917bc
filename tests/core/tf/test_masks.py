import numpy as np
import pytest
from scipy import ndimage

from phasebrush.core.errors import LoadError, ParameterError, ShapeError
from phasebrush.core.tf.bands import Band, band_mask
from phasebrush.core.tf.masks import (
    Grid,
    as_grid,
    clip_soft,
    col_to_time,
    fill_polygon,
    fill_rectangle,
    fit_mask,
    freq_to_row,
    inner_rows,
    intersect,
    invert,
    load_mask,
    map_mask,
    mask_intervals,
    mask_to_ranges,
    mask_to_runs,
    merge_ranges,
    paint_disk,
    paint_stroke,
    ranges_intervals,
    ranges_to_mask,
    row_to_freq,
    rows_are_log,
    save_mask,
    subtract,
    threshold,
    time_to_col,
    union,
    valid_mask,
)


def cwt_grid(n_inner=40, n_frames=50, f0=20.0, f1=2000.0):
    f = np.geomspace(f0, f1, n_inner)
    f = np.r_[f0 / 2, f, f1 * 1.5]
    return Grid(f, np.linspace(0.0, 1.0, n_frames), (0, f.size - 1))


def stft_grid(n_rows=33, n_frames=40, fs=4000.0):
    return Grid(np.linspace(0, fs / 2, n_rows), np.linspace(0.0, 1.0, n_frames))


# ------------------------------------------------------------------ grid and coordinates

def test_grid_validation():
    with pytest.raises(ParameterError, match="strictly ascending"):
        Grid([1.0, 3.0, 2.0], [0.0, 1.0])
    with pytest.raises(ParameterError, match="times"):
        Grid([1.0, 2.0], [[0.0, 1.0]])
    with pytest.raises(ParameterError, match="edge row index 5"):
        Grid([1.0, 2.0], [0.0, 1.0], (5,))
    with pytest.raises(ParameterError, match="TFR or Grid"):
        as_grid(3)


def test_rows_are_log():
    assert rows_are_log(np.geomspace(1, 100, 20))
    assert not rows_are_log(np.linspace(0, 100, 20))
    assert not rows_are_log(np.linspace(5, 100, 20))
    assert cwt_grid().log_rows and not stft_grid().log_rows


def test_inner_rows():
    assert inner_rows(cwt_grid(n_inner=10)) == (1, 11)
    assert inner_rows(stft_grid(n_rows=9)) == (0, 9)
    with pytest.raises(ParameterError, match="not all at the ends"):
        inner_rows(Grid(np.arange(1.0, 6.0), [0.0, 1.0], (0, 2)))


def test_freq_to_row_log_and_linear():
    f = np.geomspace(10, 1000, 21)
    np.testing.assert_allclose(freq_to_row(f, f), np.arange(21), atol=1e-12)
    assert freq_to_row(f, np.sqrt(f[3] * f[4])) == pytest.approx(3.5)  # midway in log
    lin = np.linspace(0, 500, 11)
    assert freq_to_row(lin, 125.0) == pytest.approx(2.5)                 # midway in Hz
    # Extrapolated beyond the ends with the end spacing.
    assert freq_to_row(f, f[0] / (f[1] / f[0])) == pytest.approx(-1.0)
    assert freq_to_row(lin, 600.0) == pytest.approx(12.0)


@pytest.mark.parametrize("axis", [np.geomspace(5, 5000, 31), np.linspace(0, 500, 17)])
def test_row_to_freq_inverts_freq_to_row(axis):
    rows = np.linspace(-2, axis.size + 1, 57)
    np.testing.assert_allclose(freq_to_row(axis, row_to_freq(axis, rows)), rows, atol=1e-9)


def test_time_to_col_and_back():
    t = 0.25 + np.arange(100) * 0.01
    assert time_to_col(t, 0.25) == 0.0
    assert time_to_col(t, 0.305) == pytest.approx(5.5)
    assert time_to_col(t, 0.20) == pytest.approx(-5.0)
    cols = np.array([-3.0, 0.0, 17.25, 120.0])
    np.testing.assert_allclose(time_to_col(t, col_to_time(t, cols)), cols, atol=1e-9)


# ------------------------------------------------------------------ ranges

@pytest.mark.parametrize("seed", range(5))
def test_ranges_round_trip(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_frames = 17, 30
    a = rng.integers(0, n_rows + 1, n_frames)
    b = rng.integers(0, n_rows + 1, n_frames)
    start, end = np.minimum(a, b), np.maximum(a, b)
    m = ranges_to_mask(start, end, n_rows)
    assert m.shape == (n_rows, n_frames) and m.dtype == bool
    np.testing.assert_array_equal(m.sum(axis=0), end - start)
    s2, e2 = mask_to_ranges(m)
    live = end > start
    np.testing.assert_array_equal(s2[live], start[live])
    np.testing.assert_array_equal(e2[live], end[live])
    assert np.all(s2[~live] == e2[~live])


@pytest.mark.parametrize("n_rows", [17, 40000])   # (compared as int16 / as int64)
def test_ranges_to_mask_is_the_row_comparison_and_empty_ranges_stay_empty(n_rows):
    rng = np.random.default_rng(1)
    n = 50
    start = rng.integers(0, n_rows + 1, n)
    end = rng.integers(0, n_rows + 1, n)
    # empty ranges whose ends lie outside the rows (allowed: end <= start selects nothing)
    start[:5], end[:5] = [70000, 40001, n_rows, 3, 0], [-5, 40000, 0, -70000, 0]
    rows = np.arange(n_rows)[:, None]
    want = (rows >= start) & (rows < end)
    np.testing.assert_array_equal(ranges_to_mask(start, end, n_rows), want)
    assert not ranges_to_mask(start, end, n_rows)[:, :5].any()


def test_mask_to_ranges_rejects_two_runs_and_soft_masks():
    m = np.zeros((6, 4), bool)
    m[1:3, 2] = m[4, 2] = True
    with pytest.raises(ParameterError, match="column 2 .* more than one run"):
        mask_to_ranges(m)
    with pytest.raises(ParameterError, match="bool mask"):
        mask_to_ranges(m.astype(float) * 0.5)


def test_ranges_to_mask_errors():
    with pytest.raises(ParameterError, match="range 2..9 at column 1 is outside the 8 rows"):
        ranges_to_mask(np.array([0, 2]), np.array([1, 9]), 8)
    with pytest.raises(ShapeError):
        ranges_to_mask(np.array([0, 2]), np.array([1]), 8)
    with pytest.raises(ParameterError, match="integers"):
        ranges_to_mask(np.array([0.0]), np.array([1.0]), 8)


def _stack_mask(start, end, n_rows):
    """Per-slot masks [shape=(k, n_rows, n_frames)] of stacked ranges."""
    return np.stack([ranges_to_mask(s, e, n_rows) for s, e in zip(start, end, strict=True)])


@pytest.mark.parametrize("seed", range(6))
def test_merge_ranges_is_a_disjoint_union(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_frames, k = 20, 25, int(rng.integers(1, 6))
    a = rng.integers(0, n_rows + 1, (k, n_frames))
    b = rng.integers(0, n_rows + 1, (k, n_frames))
    start, end = np.minimum(a, b), np.maximum(a, b)
    start[0, :3] = end[0, :3]  # some empty ranges
    union_mask = _stack_mask(start, end, n_rows).any(axis=0)
    s2, e2 = merge_ranges(start, end)
    assert s2.dtype == np.int64 and s2.shape[1] == n_frames and s2.shape[0] <= k
    slots = _stack_mask(s2, e2, n_rows)
    np.testing.assert_array_equal(slots.sum(axis=0), union_mask)  # each row counted once
    # Sorted within a column, and no two runs touch (they would have merged).
    live = e2 > s2
    assert np.all(s2[1:][live[1:]] > e2[:-1][live[1:]])


def test_merge_ranges_one_band_and_errors():
    s, e = merge_ranges(np.array([2, 0, 5]), np.array([4, 0, 9]))
    np.testing.assert_array_equal(s, [[2, 0, 5]])
    np.testing.assert_array_equal(e, [[4, 0, 9]])
    with pytest.raises(ShapeError):
        merge_ranges(np.zeros((2, 3), int), np.zeros((3, 3), int))


@pytest.mark.parametrize("seed", range(4))
def test_mask_to_runs_covers_the_mask_exactly(seed):
    m = np.random.default_rng(seed).random((15, 20)) > 0.6
    m[:, 0] = False
    s, e = mask_to_runs(m)
    slots = _stack_mask(s, e, 15)
    np.testing.assert_array_equal(slots.sum(axis=0), m)
    assert s.shape[0] == max(int((np.diff(np.r_[np.zeros((1, 20)), m], axis=0) == 1)
                                 .sum(axis=0).max()), 1)
    assert np.all(s[:, 0] == e[:, 0])
    with pytest.raises(ParameterError, match="bool mask"):
        mask_to_runs(m * 0.5)


# ------------------------------------------------------------------ map_mask

def test_map_mask_identity():
    g = cwt_grid()
    m = np.random.default_rng(0).random(g.shape) > 0.5
    np.testing.assert_array_equal(map_mask(m, g, g), m)


@pytest.mark.parametrize("src, dst", [
    (cwt_grid(), stft_grid()), (stft_grid(), cwt_grid()),
    (cwt_grid(n_inner=60, n_frames=80), cwt_grid(n_inner=25, n_frames=33, f0=15, f1=2500)),
])
def test_map_mask_follows_frequency_and_time(src, dst):
    b = Band([[0.2, 900.0], [0.8, 400.0]], [[0.2, 150.0], [0.8, 100.0]])
    mapped = map_mask(band_mask(b, src, interp="log"), src, dst)
    want = band_mask(b, dst, interp="log")
    assert mapped.sum() > 0.5 * want.sum()
    # Cells may disagree only within a source row (plus a destination row) of
    # the band's edges, and only at columns inside the band's time span.
    bad_r, bad_c = np.nonzero(mapped != want)
    t = dst.times[bad_c]
    assert np.all((t >= 0.2 - 1 / 30) & (t <= 0.8 + 1 / 30))
    inner = ((t > 0.2 + 1 / 30) & (t < 0.8 - 1 / 30))
    bad_r, t = bad_r[inner], t[inner]
    lf = np.log(dst.frequencies[bad_r])
    edges = [np.interp(t, e[:, 0], np.log(e[:, 1])) for e in (b.upper, b.lower)]
    dist = np.minimum(abs(lf - edges[0]), abs(lf - edges[1]))
    ls = np.log(src.frequencies[src.frequencies > 0])
    d = np.diff(ls)
    i = np.clip(np.searchsorted(ls, lf), 1, d.size)
    step_src = np.maximum(d[i - 1], d[np.minimum(i, d.size - 1)])
    step_dst = np.max(np.diff(np.log(dst.frequencies[dst.frequencies > 0])))
    assert np.all(dist <= step_src + step_dst)


def test_map_mask_outside_source_range_is_zero_and_edges_map_to_edges():
    src = cwt_grid(f0=100, f1=1000)
    dst = cwt_grid(f0=10, f1=5000, n_frames=80)
    dst = Grid(dst.frequencies, np.linspace(-1, 2, 80), dst.edge_row_indices)
    soft = np.ones(src.shape, np.float32)
    soft[0] = 0.25
    soft[-1] = 0.75
    out = map_mask(soft, src, dst)
    assert out.dtype == np.float32 and out.shape == dst.shape
    in_f = (dst.frequencies >= 95) & (dst.frequencies <= 1050)
    in_t = (dst.times >= 0) & (dst.times <= 1)
    inner = np.zeros(dst.shape[0], bool)
    inner[1:-1] = True
    np.testing.assert_array_equal(out[np.ix_(inner & ~in_f, in_t)], 0)
    np.testing.assert_array_equal(out[:, ~in_t], 0)
    assert np.all(out[np.ix_(inner & in_f, in_t)] == 1)
    assert np.all(out[0, in_t] == 0.25) and np.all(out[-1, in_t] == 0.75)
    # An STFT (no edge rows) gets nothing from the CWT's edge rows.
    st = map_mask(soft, src, stft_grid(fs=500.0))
    assert np.all(st[stft_grid(fs=500.0).frequencies < 90] == 0)


def test_map_mask_shape_error():
    with pytest.raises(ShapeError, match=r"\(3, 3\).*\(42, 50\)"):
        map_mask(np.zeros((3, 3), bool), cwt_grid(), stft_grid())


# ------------------------------------------------------------------ painting

def _brute_disk(shape, row, col, rr, rc):
    r, c = np.indices(shape)
    rr, rc = max(rr, 0.5), max(rc, 0.5)
    return ((r - row) / rr) ** 2 + ((c - col) / rc) ** 2 <= 1


@pytest.mark.parametrize("row, col, rr, rc", [
    (10, 12, 3, 5), (10.3, 12.7, 2.5, 1.2), (0, 0, 4, 4), (-2, 30, 4, 6), (5, 5, 0, 0),
])
def test_paint_disk_matches_ellipse(row, col, rr, rc):
    m = np.zeros((20, 32), bool)
    out = paint_disk(m, row, col, rr, rc)
    assert out is m
    want = _brute_disk(m.shape, row, col, rr, rc)
    i, j = int(np.floor(row + 0.5)), int(np.floor(col + 0.5))
    if 0 <= i < 20 and 0 <= j < 32:
        want[i, j] = True
    np.testing.assert_array_equal(m, want)


def test_tiny_brush_paints_its_cell():
    m = np.zeros((5, 5), bool)
    paint_disk(m, 2.5, 1.5, 0, 0)  # between cells: rounds half up
    assert m.sum() >= 1 and m[3, 2]


def test_paint_soft_value_and_erase():
    m = np.zeros((10, 10))
    paint_disk(m, 5, 5, 2, 2, 0.4)
    assert set(np.unique(m)) == {0.0, 0.4}
    paint_disk(m, 5, 5, 1, 1, 0.0)
    assert m[5, 5] == 0 and m[3, 5] == 0.4


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("radius", [0, 0.4, 1, 2.5])
def test_stroke_has_no_gaps(seed, radius):
    rng = np.random.default_rng(seed)
    pts = np.c_[rng.uniform(0, 39.4, 5), rng.uniform(0, 59.4, 5)]  # far apart: a fast drag
    m = np.zeros((40, 60), bool)
    paint_stroke(m, pts, radius, radius)
    structure = np.ones((3, 3)) if radius < 1 else None  # 8- vs 4-connected
    _, n = ndimage.label(m, structure=structure)
    assert n == 1
    for r, c in pts:  # every vertex's cell is painted
        assert m[int(np.floor(r + 0.5)), int(np.floor(c + 0.5))]
    # Every cell within the brush of a segment is painted.
    r, c = np.indices(m.shape)
    rr = max(radius, 0.5)
    for (r0, c0), (r1, c1) in zip(pts[:-1], pts[1:], strict=True):
        for u in np.linspace(0, 1, 200):
            near = (r - (r0 + u * (r1 - r0))) ** 2 + (c - (c0 + u * (c1 - c0))) ** 2 <= rr ** 2
            assert m[near].all()


def test_stroke_is_one_disk_for_one_point_and_clips_at_borders():
    a = paint_stroke(np.zeros((12, 12), bool), [(0, 11)], 3, 2)
    b = paint_disk(np.zeros((12, 12), bool), 0, 11, 3, 2)
    np.testing.assert_array_equal(a, b)
    m = paint_stroke(np.zeros((12, 12), bool), [(-20, -20), (30, 30)], 1, 1)
    assert np.all(np.diag(m))


@pytest.mark.parametrize("call, exc, match", [
    (lambda m: paint_disk(m, 1, 1, -1, 2), ParameterError, "radii"),
    (lambda m: paint_stroke(m, [(1, 2, 3)], 1, 1), ParameterError, "shape"),
    (lambda m: paint_stroke(m, [(1, np.nan)], 1, 1), ParameterError, "NaN"),
    (lambda m: paint_disk(m.astype(float), 1, 1, 1, 1, 1.5), ParameterError, "value=1.5"),
    (lambda m: paint_disk(m.astype(int), 1, 1, 1, 1), ParameterError, "int"),
    (lambda m: paint_disk(m[0], 1, 1, 1, 1), ShapeError, "2-D"),
    (lambda m: fill_rectangle(m, 0, np.inf, 0, 1), ParameterError, "finite"),
    (lambda m: fill_polygon(m, [1, 2, 3]), ParameterError, "shape"),
])
def test_paint_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(np.zeros((5, 5), bool))


def test_paint_read_only_mask_raises():
    m = np.zeros((5, 5), bool)
    m.setflags(write=False)
    with pytest.raises(ParameterError, match="read-only"):
        paint_disk(m, 1, 1, 1, 1)


def test_fill_rectangle_inclusive_any_order_clipped():
    m = fill_rectangle(np.zeros((10, 12), bool), 7, 2, 3.4, 5.6)
    want = np.zeros((10, 12), bool)
    want[2:8, 3:7] = True
    np.testing.assert_array_equal(m, want)
    m = fill_rectangle(np.zeros((10, 12), bool), -5, 3, 10, 50)
    assert m[:4, 10:].all() and m.sum() == 4 * 2


def _pnpoly(shape, poly):
    out = np.zeros(shape, bool)
    n = len(poly)
    for r in range(shape[0]):
        for c in range(shape[1]):
            inside = False
            for i in range(n):
                ri, ci = poly[i]
                rj, cj = poly[(i + 1) % n]
                if (ri > r) != (rj > r) and c < ci + (r - ri) * (cj - ci) / (rj - ri):
                    inside = not inside
            out[r, c] = inside
    return out


@pytest.mark.parametrize("seed", range(10))
def test_fill_polygon_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    k = rng.integers(3, 12)
    # Random (often self-intersecting) polygons, partly outside the 18 x 25 mask.
    poly = np.c_[rng.uniform(-4, 22, k), rng.uniform(-4, 29, k)]
    if seed == 0:
        poly = np.array([[2.0, 3.0], [2.0, 10.0], [9.0, 10.0], [9.0, 3.0]])  # on cell centres
    m = fill_polygon(np.zeros((18, 25), bool), poly)
    np.testing.assert_array_equal(m, _pnpoly((18, 25), poly))


def test_fill_polygon_in_row_blocks_gives_the_same(monkeypatch):
    import phasebrush.core.tf.masks  # noqa: F401 (loaded for the name below)
    from phasebrush import core

    poly = np.c_[np.random.default_rng(7).uniform(-3, 40, 9),
                 np.random.default_rng(8).uniform(-3, 50, 9)]
    whole = fill_polygon(np.zeros((40, 50), bool), poly)
    monkeypatch.setattr(core.tf.masks, "_CHUNK", 30)  # 1 row per block
    np.testing.assert_array_equal(fill_polygon(np.zeros((40, 50), bool), poly), whole)
    assert whole.any()


def test_fill_polygon_square_and_degenerate():
    m = fill_polygon(np.zeros((10, 10), bool), [(1.5, 1.5), (1.5, 5.5), (4.5, 5.5), (4.5, 1.5)])
    want = np.zeros((10, 10), bool)
    want[2:5, 2:6] = True
    np.testing.assert_array_equal(m, want)
    m = fill_polygon(np.zeros((10, 10)), [(1, 1), (5, 5)], 0.5)
    assert not m.any()


# ------------------------------------------------------------------ soft masks and combining

def test_clip_soft_and_threshold():
    s = clip_soft(np.array([[-1.0, 0.2], [0.7, 3.0]], np.float32))
    assert s.dtype == np.float32
    np.testing.assert_array_equal(s, np.array([[0, 0.2], [0.7, 1]], np.float32))
    np.testing.assert_array_equal(threshold(s, 0.5), [[False, False], [True, True]])
    np.testing.assert_array_equal(threshold(s, 0.2), [[False, True], [True, True]])
    with pytest.raises(ParameterError, match="level=0"):
        threshold(s, 0)
    with pytest.raises(ParameterError, match="NaN"):
        clip_soft(np.array([[np.nan]]))


def test_bool_combine_truth_tables():
    a = np.array([[True, True, False, False]])
    b = np.array([[True, False, True, False]])
    np.testing.assert_array_equal(union(a, b), [[1, 1, 1, 0]])
    np.testing.assert_array_equal(intersect(a, b), [[1, 0, 0, 0]])
    np.testing.assert_array_equal(subtract(a, b), [[0, 1, 0, 0]])
    np.testing.assert_array_equal(invert(a), [[0, 0, 1, 1]])
    assert union(a, b).dtype == bool


@pytest.mark.parametrize("seed", range(3))
def test_soft_combine_formulas_and_laws(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.random((6, 7)), rng.random((6, 7)).astype(np.float32)
    np.testing.assert_allclose(union(a, b), np.maximum(a, b))
    np.testing.assert_allclose(intersect(a, b), np.minimum(a, b))
    np.testing.assert_allclose(subtract(a, b), a * (1 - b))
    np.testing.assert_allclose(invert(invert(a)), a)
    np.testing.assert_allclose(invert(union(a, b)), intersect(invert(a), invert(b)))
    # Bool masks agree with their soft versions.
    x, y = a > 0.5, b > 0.5
    for op in (union, intersect, subtract):
        np.testing.assert_array_equal(op(x, y), op(x.astype(float), y.astype(float)) > 0.5)
    # Mixed bool and soft gives soft.
    mixed = union(x, b)
    assert mixed.dtype == np.float32
    np.testing.assert_allclose(mixed, np.maximum(x, b))


def test_combine_shape_mismatch_names_both_shapes():
    with pytest.raises(ShapeError, match=r"\(3, 4\) vs \(3, 5\)"):
        union(np.zeros((3, 4), bool), np.zeros((3, 5), bool))


@pytest.mark.parametrize("mask, exc, match", [
    (np.zeros(5), ShapeError, "2-D"),
    (np.full((2, 2), 1.5), ParameterError, r"1.5..1.5, not \[0, 1\]"),
    (np.full((2, 2), np.nan), ParameterError, "NaN"),
    (np.full((2, 2), 2), ParameterError, "0 or 1"),
    (np.full((2, 2), "a"), ParameterError, "neither bool nor float"),
])
def test_valid_mask_errors(mask, exc, match):
    with pytest.raises(exc, match=match):
        valid_mask(mask)


def test_valid_mask_shape():
    with pytest.raises(ShapeError, match=r"\(2, 2\), the transform has \(3, 2\)"):
        valid_mask(np.zeros((2, 2), bool), shape=(3, 2))
    assert valid_mask(np.eye(2, dtype=int)).dtype == bool


# ------------------------------------------------------------------ NPZ files

@pytest.mark.parametrize("dtype", [bool, np.float32, np.float64])
def test_mask_npz_round_trip_exact(tmp_path, dtype):
    g = cwt_grid()
    rng = np.random.default_rng(1)
    m = rng.random(g.shape).astype(dtype) if dtype is not bool else rng.random(g.shape) > 0.5
    p = tmp_path / "m.npz"
    save_mask(p, m, frequencies=g.frequencies, times=g.times, name="my mask",
              edge_row_indices=g.edge_row_indices)
    mf = load_mask(p)
    assert mf.mask.dtype == m.dtype
    np.testing.assert_array_equal(mf.mask, m)
    np.testing.assert_array_equal(mf.frequencies, g.frequencies)
    np.testing.assert_array_equal(mf.times, g.times)
    assert mf.name == "my mask" and mf.edge_row_indices == g.edge_row_indices
    assert sorted(x.name for x in tmp_path.iterdir()) == ["m.npz"]


def test_fit_mask_same_grid_and_other_grid(tmp_path):
    g = cwt_grid()
    b = Band([[0.2, 900.0], [0.8, 400.0]], [[0.2, 150.0], [0.8, 100.0]])
    m = band_mask(b, g)
    p = tmp_path / "m.npz"
    save_mask(p, m, frequencies=g.frequencies, times=g.times, edge_row_indices=(0, 41))
    mf = load_mask(p)
    np.testing.assert_array_equal(fit_mask(mf, g), m)
    other = stft_grid()
    np.testing.assert_array_equal(fit_mask(mf, other), map_mask(m, g, other))


def test_save_mask_checks_shape(tmp_path):
    g = stft_grid()
    with pytest.raises(ShapeError):
        save_mask(tmp_path / "m.npz", np.zeros((2, 2), bool), frequencies=g.frequencies,
                  times=g.times)
    assert not list(tmp_path.iterdir())


def test_load_mask_errors(tmp_path):
    with pytest.raises(LoadError, match="no such file"):
        load_mask(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    with pytest.raises(LoadError, match="bad.npz: not a readable NPZ mask"):
        load_mask(bad)
    p = tmp_path / "partial.npz"
    np.savez(p, mask=np.zeros((2, 2), bool))
    with pytest.raises(LoadError, match="no frequencies, times"):
        load_mask(p)
    p = tmp_path / "mismatch.npz"
    np.savez(p, mask=np.zeros((2, 2), bool), frequencies=[1.0, 2.0, 3.0], times=[0.0, 1.0])
    with pytest.raises(LoadError, match=r"mismatch.npz: mask has shape \(2, 2\)"):
        load_mask(p)
    p = tmp_path / "obj.npz"
    np.savez(p, mask=np.array([None, 1], dtype=object), frequencies=[1.0], times=[0.0])
    with pytest.raises(LoadError, match="obj.npz"):
        load_mask(p)


# --------------------------------------------------------------------------- intervals

def _brute_intervals(m, col0=0):
    """Runs of rows per column, by walking every cell."""
    out = []
    for c in range(m.shape[1]):
        r = 0
        while r < m.shape[0]:
            if m[r, c]:
                s = r
                while r < m.shape[0] and m[r, c]:
                    r += 1
                out.append((c + col0, s, r))
            r += 1
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [0.0, 0.3, 0.8, 1.0])
def test_mask_intervals_lists_every_run_sorted(seed, p):
    m = np.random.default_rng(seed).random((13, 21)) < p
    cols, starts, ends = mask_intervals(m, col0=100)
    assert cols.dtype == starts.dtype == ends.dtype == np.int64
    assert list(zip(cols.tolist(), starts.tolist(), ends.tolist(), strict=True)) == \
        _brute_intervals(m, 100)


def test_mask_intervals_in_column_blocks_gives_the_same(monkeypatch):
    import phasebrush.core.tf.masks as cm

    m = np.random.default_rng(3).random((9, 40)) < 0.5
    want = mask_intervals(m)
    monkeypatch.setattr(cm, "_CHUNK", 7 * 11)   # 7 columns a block
    for g, w in zip(mask_intervals(m), want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_mask_intervals_empty_and_errors():
    for shape in [(0, 5), (5, 0), (4, 4)]:
        cols, starts, ends = mask_intervals(np.zeros(shape, bool))
        assert cols.size == starts.size == ends.size == 0 and cols.dtype == np.int64
    with pytest.raises(ParameterError, match="bool mask"):
        mask_intervals(np.full((3, 3), 0.5))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [None, 1, 3])
def test_ranges_intervals_are_the_intervals_of_the_range_mask(seed, k):
    rng = np.random.default_rng(seed)
    n_rows, n = 16, 30
    shape = (n,) if k is None else (k, n)
    a, b = rng.integers(0, n_rows + 1, shape), rng.integers(0, n_rows + 1, shape)
    start, end = np.minimum(a, b), np.maximum(a, b)
    start.reshape(-1)[:4] = end.reshape(-1)[:4]            # some empty ranges
    got = ranges_intervals(start, end)
    m = _stack_mask(np.atleast_2d(start), np.atleast_2d(end), n_rows).any(axis=0)
    for g, w in zip(got, mask_intervals(m), strict=True):
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g, w)


def test_ranges_intervals_skip_empty_and_check_shapes():
    cols, starts, ends = ranges_intervals(np.array([2, 5, 0]), np.array([4, 5, 3]))
    assert (cols.tolist(), starts.tolist(), ends.tolist()) == ([0, 2], [2, 0], [4, 3])
    with pytest.raises(ShapeError):
        ranges_intervals(np.zeros(3, int), np.zeros(4, int))
