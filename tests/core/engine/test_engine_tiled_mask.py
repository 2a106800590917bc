"""TiledMask against the dense functions of core.tf.masks, and its memory behaviour."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phasebrush.core import memory
from phasebrush.core.engine.tiled_mask import OPS, TiledMask
from phasebrush.core.errors import OutOfMemoryError, ParameterError, ShapeError
from phasebrush.core.tf.masks import fill_polygon, fill_rectangle, mask_intervals, paint_stroke

LONG = (300, 26_000_000)   # 10 min at 44.1 kHz, 300 rows: 7.8 GB dense

PROPS = settings(max_examples=60, deadline=None)


@pytest.fixture
def budget():
    """``budget(n)`` sets the memory budget for one test; the default comes back after."""
    yield memory.set_budget
    memory.set_budget(None)


def coord(lo, hi):
    """Index-space coordinates, often on or half-way between cell centres (the edges
    of the inside tests), sometimes outside the mask."""
    return st.one_of(
        st.floats(lo, hi, allow_nan=False, allow_infinity=False),
        st.integers(int(lo), int(hi)).map(float),
        st.integers(int(lo), int(hi)).map(lambda i: i + 0.5),
    )


@st.composite
def shapes(draw):
    n_rows = draw(st.integers(1, 24))
    n_cols = draw(st.integers(1, 70))
    tile = draw(st.one_of(st.integers(1, 17), st.just(4096)))
    return n_rows, n_cols, tile


@st.composite
def strokes(draw, n_rows, n_cols):
    k = draw(st.integers(1, 4))
    pts = [(draw(coord(-4, n_rows + 4)), draw(coord(-4, n_cols + 4))) for _ in range(k)]
    radii = st.sampled_from([0.0, 0.3, 0.5, 1.0, 2.5, 7.0])
    return pts, draw(radii), draw(radii), draw(st.booleans())


def changed(before, after):
    return np.flatnonzero(before != after)


def assert_same(tm, dense):
    np.testing.assert_array_equal(tm.to_dense(), dense)
    assert tm.count() == int(dense.sum())
    assert tm.any() == bool(dense.any())
    # Memory follows the paint: a tile is allocated exactly when it holds a cell.
    per_tile = [dense[:, c:c + tm.tile].any() for c in range(0, dense.shape[1], tm.tile)]
    assert tm.n_tiles == sum(per_tile)


def random_dense(rng, n_rows, n_cols, p=0.3):
    return rng.random((n_rows, n_cols)) < p


# --------------------------------------------------------------------------- strokes

@PROPS
@given(data=st.data(), shape=shapes())
def test_stroke_paints_the_dense_cells_and_returns_the_changed_ones(data, shape):
    n_rows, n_cols, tile = shape
    tm, dense = TiledMask(n_rows, n_cols, tile=tile), np.zeros((n_rows, n_cols), bool)
    for _ in range(data.draw(st.integers(1, 4))):
        pts, rr, rc, value = data.draw(strokes(n_rows, n_cols))
        before = dense.copy()
        paint_stroke(dense, pts, rr, rc, value)
        flat = tm.paint_stroke(pts, rr, rc, value)
        assert flat.dtype == np.int64
        np.testing.assert_array_equal(flat, changed(before, dense))
        assert_same(tm, dense)


@pytest.mark.parametrize("pts", [
    [(0, 0)], [(-0.6, -0.6)], [(-3, 5), (3, -5)],          # corner, just outside, crossing in
    [(9, 39), (9.4, 39.4)], [(-2, 20), (12, 20)],           # far corner; a vertical segment
    [(4, -50), (5, 90)],                                    # across every tile and past both ends
])
@pytest.mark.parametrize("radius", [0, 0.4, 1, 3])
def test_stroke_at_the_mask_edges(pts, radius):
    dense = np.zeros((10, 40), bool)
    paint_stroke(dense, pts, radius, radius * 2)
    tm = TiledMask(10, 40, tile=7)
    np.testing.assert_array_equal(tm.paint_stroke(pts, radius, radius * 2),
                                  np.flatnonzero(dense))
    assert_same(tm, dense)


def test_long_diagonal_segment_over_many_tiles():
    # A zoomed-out drag: one segment spans ~50 tiles and most of the rows.
    shape, pts = (50, 200_000), [(2.3, 100.7), (47.9, 199_000.2)]
    dense = np.zeros(shape, bool)
    paint_stroke(dense, pts, 1.5, 300)
    tm = TiledMask(*shape)
    np.testing.assert_array_equal(tm.paint_stroke(pts, 1.5, 300), np.flatnonzero(dense))
    assert_same(tm, dense)


def test_erase_frees_emptied_tiles():
    tm, dense = TiledMask(20, 100, tile=10), np.zeros((20, 100), bool)
    tm.paint_stroke([(10, 5), (10, 45)], 2, 2)
    paint_stroke(dense, [(10, 5), (10, 45)], 2, 2)
    assert tm.n_tiles == 5
    flat = tm.paint_stroke([(10, 25), (10, 60)], 30, 3, value=False)   # columns 22..63
    paint_stroke(dense, [(10, 25), (10, 60)], 30, 3, value=False)
    assert_same(tm, dense)
    assert tm.n_tiles == 3 and tm.col_span() == (3, 23)   # row 10, column 22 is the rim
    assert flat.size > 0
    assert tm.paint_stroke([(10, 90)], 3, 3, value=False).size == 0   # nothing there
    assert tm.n_tiles == 3


# --------------------------------------------------------------------------- regions

def _combine(op, dense, region):
    if op == "replace":
        return region
    return dense | region if op == "add" else dense & ~region


@PROPS
@given(data=st.data(), shape=shapes(), op=st.sampled_from(OPS))
def test_rectangle_matches_fill_rectangle(data, shape, op):
    n_rows, n_cols, tile = shape
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    dense = random_dense(rng, n_rows, n_cols)
    tm = TiledMask.from_dense(dense, tile=tile)
    r0, r1 = data.draw(coord(-3, n_rows + 3)), data.draw(coord(-3, n_rows + 3))
    c0, c1 = data.draw(coord(-3, n_cols + 3)), data.draw(coord(-3, n_cols + 3))
    new = _combine(op, dense, fill_rectangle(np.zeros_like(dense), r0, r1, c0, c1))
    np.testing.assert_array_equal(tm.apply_rectangle(op, r0, r1, c0, c1), changed(dense, new))
    assert_same(tm, new)


@PROPS
@given(data=st.data(), shape=shapes(), op=st.sampled_from(OPS))
def test_polygon_matches_fill_polygon(data, shape, op):
    n_rows, n_cols, tile = shape
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    dense = random_dense(rng, n_rows, n_cols)
    tm = TiledMask.from_dense(dense, tile=tile)
    k = data.draw(st.integers(0, 9))
    verts = [(data.draw(coord(-3, n_rows + 3)), data.draw(coord(-3, n_cols + 3)))
             for _ in range(k)]
    verts = np.array(verts, dtype=float).reshape(k, 2)
    new = _combine(op, dense, fill_polygon(np.zeros_like(dense), verts))
    np.testing.assert_array_equal(tm.apply_polygon(op, verts), changed(dense, new))
    assert_same(tm, new)


@PROPS
@given(data=st.data(), shape=shapes(), op=st.sampled_from(OPS))
def test_apply_matches_the_dense_op(data, shape, op):
    n_rows, n_cols, tile = shape
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    dense = random_dense(rng, n_rows, n_cols, data.draw(st.sampled_from([0.0, 0.3, 1.0])))
    tm = TiledMask.from_dense(dense, tile=tile)
    c0 = data.draw(st.integers(0, n_cols))
    c1 = data.draw(st.integers(c0, n_cols))
    part = random_dense(rng, n_rows, c1 - c0, data.draw(st.sampled_from([0.0, 0.4, 1.0])))
    region = np.zeros_like(dense)
    region[:, c0:c1] = part
    new = _combine(op, dense, region)
    np.testing.assert_array_equal(tm.apply(op, part, c0, c1), changed(dense, new))
    assert_same(tm, new)


def test_lasso_over_a_long_mask_touches_only_its_tiles():
    tm = TiledMask(*LONG)
    verts = [(10, 13_000_000), (250, 13_001_000), (120, 13_009_000)]
    flat = tm.apply_polygon("add", verts)
    # Columns 13.000 M .. 13.009 M lie in tiles 3173 .. 3176 (4096 columns each).
    assert tm.n_tiles == 4 and tm.nbytes == 4 * 300 * 4096
    a = 3173 * 4096
    dense = fill_polygon(np.zeros((300, 4 * 4096), bool), np.subtract(verts, (0, a)))
    assert flat.size == tm.count() == int(dense.sum())
    np.testing.assert_array_equal(tm.block(a, a + 4 * 4096), dense)


# --------------------------------------------------------------------------- flips

@PROPS
@given(data=st.data(), shape=shapes())
def test_flip_undoes_and_redoes_an_edit(data, shape):
    n_rows, n_cols, tile = shape
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    start = random_dense(rng, n_rows, n_cols, 0.2)
    tm = TiledMask.from_dense(start, tile=tile)
    pts, rr, rc, value = data.draw(strokes(n_rows, n_cols))
    op = data.draw(st.sampled_from(OPS))
    flips = [tm.paint_stroke(pts, rr, rc, value),
             tm.apply(op, random_dense(rng, n_rows, n_cols), 0, n_cols)]
    after = tm.to_dense()
    for f in reversed(flips):
        n0 = tm.count()
        assert tm.flip(rng.permutation(f)) == tm.count() - n0   # any order
    assert_same(tm, start)
    for f in flips:
        tm.flip(f)
    assert_same(tm, after)


def test_flip_allocates_and_frees_tiles_and_counts():
    tm = TiledMask(4, 30, tile=8)
    flat = np.array([0 * 30 + 1, 3 * 30 + 29, 2 * 30 + 17])
    assert tm.flip(flat) == 3
    assert tm.n_tiles == 3 and tm.count() == 3 and tm.col_span() == (1, 30)
    assert tm.flip(flat[:2]) == -2
    assert tm.n_tiles == 1 and tm.col_span() == (17, 18)
    assert tm.flip([]) == 0


@pytest.mark.parametrize("flat, match", [
    ([120], "outside"), ([-1], "outside"), ([3, 5, 3], "twice"), ([1.5], "integers"),
])
def test_flip_errors(flat, match):
    tm = TiledMask(4, 30, tile=8)
    with pytest.raises(ParameterError, match=match):
        tm.flip(np.array(flat))
    assert tm.count() == 0 and tm.n_tiles == 0


# --------------------------------------------------------------------------- reading

def test_count_any_col_span_of_an_empty_and_a_painted_mask():
    tm = TiledMask(10, 100, tile=16)
    assert (tm.count(), tm.any(), tm.col_span(), tm.n_tiles, tm.nbytes) == (0, False, None, 0, 0)
    tm.apply_rectangle("add", 2, 4, 30, 40)
    tm.apply_rectangle("add", 0, 0, 95, 99)
    assert (tm.count(), tm.any(), tm.col_span()) == (3 * 11 + 5, True, (30, 100))
    assert tm.shape == (10, 100) and tm.tile == 16
    # Tiles of 16 columns: 16..31 and 32..47 (the first rectangle), 80..95 and 96..99
    # (the second; the last tile is narrow).
    assert tm.n_tiles == 4 and tm.nbytes == 10 * (16 + 16 + 16 + 4)


def test_block_from_dense_round_trip_and_copy():
    dense = np.zeros((9, 50), bool)
    dense[[0, 3, 8, 8, 4], [0, 9, 15, 30, 49]] = True
    tm = TiledMask.from_dense(dense, tile=8)
    assert tm.n_tiles == 4                   # columns 0..7, 8..15, 24..31, 48..49
    for c0, c1 in [(0, 50), (3, 17), (16, 24), (49, 50), (7, 7)]:
        np.testing.assert_array_equal(tm.block(c0, c1), dense[:, c0:c1])
    twin = tm.copy()
    tm.apply_rectangle("replace", 0, 0, 0, 0)
    np.testing.assert_array_equal(twin.to_dense(), dense)
    with pytest.raises(ParameterError, match="bool mask"):
        TiledMask.from_dense(dense * 0.5)


def test_tiles_are_read_only_views():
    tm = TiledMask(3, 20, tile=8)
    tm.apply_rectangle("add", 0, 2, 5, 9)
    parts = list(tm.tiles(6, 20))
    assert [(c, v.shape) for c, v in parts] == [(6, (3, 2)), (8, (3, 8))]   # clipped to c0
    with pytest.raises(ValueError):
        parts[0][1][0, 0] = False


@pytest.mark.parametrize("k", [1, 3, 8, 16, 100])
@pytest.mark.parametrize("c0, c1", [(0, None), (48, 61), (96, 97)])
def test_pooled_is_the_or_of_aligned_groups(k, c0, c1):
    c0 = (c0 // k) * k
    dense = random_dense(np.random.default_rng(k), 6, 130, 0.01)
    tm = TiledMask.from_dense(dense, tile=16)
    c1_ = 130 if c1 is None else c1
    want = np.stack([dense[:, a:min(a + k, c1_)].any(axis=1) for a in range(c0, c1_, k)], 1)
    np.testing.assert_array_equal(tm.pooled(k, c0, c1), want)


def test_pooled_overview_of_the_long_mask_reads_only_painted_tiles():
    # (speed is a benchmark's business; here: the one painted tile is all there is)
    tm = TiledMask(*LONG)
    tm.paint_stroke([(100, 5_000_123), (140, 5_000_400)], 4, 30)
    assert tm.n_tiles == 1
    img = tm.pooled(26_000)
    assert img.shape == (300, 1000)
    cols = np.flatnonzero(img.any(axis=0))
    np.testing.assert_array_equal(cols, [5_000_123 // 26_000])
    with pytest.raises(ParameterError, match="multiple"):
        tm.pooled(26_000, 5)


@PROPS
@given(data=st.data(), shape=shapes())
def test_intervals_equal_mask_intervals_of_the_dense_mask(data, shape):
    n_rows, n_cols, tile = shape
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    dense = random_dense(rng, n_rows, n_cols, data.draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])))
    tm = TiledMask.from_dense(dense, tile=tile)
    c0 = data.draw(st.integers(0, n_cols))
    c1 = data.draw(st.integers(c0, n_cols))
    got, want = tm.intervals(c0, c1), mask_intervals(dense[:, c0:c1], col0=c0)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g, w)


# --------------------------------------------------------------------------- memory

def test_stroke_on_a_long_mask_allocates_a_tile_or_two():
    tm = TiledMask(*LONG)
    flat = tm.paint_stroke([(150.2, 13_000_000.5), (158.7, 13_000_040.1)], 6, 25)
    assert tm.n_tiles == 1 and tm.nbytes == 300 * 4096    # 1.2 MB of the 7.8 GB
    assert flat.size == tm.count() > 0
    assert int(flat.min()) // LONG[1] >= 144 and int(flat.max()) % LONG[1] <= 13_000_066
    # A stroke over a tile boundary takes the tile next door too, and no more.
    tm.paint_stroke([(20, 13_000_650), (20, 13_000_750)], 2, 10)   # boundary at 13_000_704
    assert tm.n_tiles == 2 and tm.nbytes == 2 * 300 * 4096


def test_whole_mask_rectangle_refused_under_a_small_budget(budget):
    budget("64M")
    tm = TiledMask(*LONG)
    tm.paint_stroke([(10, 100)], 2, 2)
    before = (tm.count(), tm.n_tiles)
    with pytest.raises(OutOfMemoryError, match="rectangle") as info:
        tm.apply_rectangle("add", 0, LONG[0], 0, LONG[1])
    assert info.value.n_bytes >= LONG[0] * LONG[1]        # the tiles alone are 7.8 GB
    with pytest.raises(OutOfMemoryError, match="polygon"):
        tm.apply_polygon("replace", [(0, 0), (299, 0), (299, 25_999_999), (0, 25_999_999)])
    with pytest.raises(OutOfMemoryError, match="dense"):
        tm.to_dense()
    with pytest.raises(OutOfMemoryError, match="brush stroke"):
        tm.paint_stroke([(150, 0), (150, LONG[1])], 3, 3)
    assert (tm.count(), tm.n_tiles) == before              # refused before anything changed
    tm.apply_rectangle("subtract", 0, LONG[0], 0, LONG[1])  # erasing allocates nothing
    assert tm.count() == 0 and tm.n_tiles == 0


def test_wide_region_refused_under_a_small_budget(budget):
    tm = TiledMask(100, 1_000_000)
    region = np.ones((100, 200_000), bool)                 # 20 MB of region -> 20 MB of tiles
    budget("4M")
    with pytest.raises(OutOfMemoryError, match="region"):
        tm.apply("add", region, 0, 200_000)
    assert tm.n_tiles == 0


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, exc, match", [
    (lambda tm: tm.apply("xor", np.zeros((4, 3), bool), 0, 3), ParameterError, "xor"),
    (lambda tm: tm.apply("add", np.zeros((4, 2), bool), 0, 3), ShapeError, r"\(4, 3\)"),
    (lambda tm: tm.apply("add", np.zeros((4, 3)), 0, 3), ParameterError, "bool"),
    (lambda tm: tm.block(5, 31), ParameterError, r"\[5, 31\)"),
    (lambda tm: tm.block(6, 5), ParameterError, r"\[6, 5\)"),
    (lambda tm: tm.pooled(0), ParameterError, "k=0"),
    (lambda tm: tm.paint_stroke([(1, np.nan)], 1, 1), ParameterError, "NaN"),
    (lambda tm: tm.paint_stroke(np.zeros((0, 2)), 1, 1), ParameterError, "shape"),
    (lambda tm: tm.paint_stroke([(1, 1)], -1, 1), ParameterError, "radii"),
    (lambda tm: tm.apply_rectangle("add", 0, np.inf, 0, 1), ParameterError, "finite"),
    (lambda tm: tm.apply_polygon("add", [(0, 0, 0)]), ParameterError, "shape"),
])
def test_bad_input_raises(call, exc, match):
    with pytest.raises(exc, match=match):
        call(TiledMask(4, 30, tile=8))


@pytest.mark.parametrize("args, kw, match", [
    ((-1, 5), {}, "non-negative"), ((3, 5), {"tile": 0}, "tile=0"), ((3.5, 5), {}, "n_rows"),
])
def test_bad_construction_raises(args, kw, match):
    with pytest.raises(ParameterError, match=match):
        TiledMask(*args, **kw)


def test_from_intervals_rebuilds_the_mask():
    rng = np.random.default_rng(4)
    dense = random_dense(rng, 30, 100, 0.2)
    tm = TiledMask.from_dense(dense, tile=16)
    back = TiledMask.from_intervals(30, 100, *tm.intervals(), tile=16)
    np.testing.assert_array_equal(back.to_dense(), dense)
    assert back.count() == tm.count() and back.n_tiles == tm.n_tiles
    with pytest.raises(ParameterError, match="do not fit"):
        TiledMask.from_intervals(30, 100, [5], [0], [31])
    with pytest.raises(ParameterError, match="one length"):
        TiledMask.from_intervals(30, 100, [5, 6], [0], [3])
