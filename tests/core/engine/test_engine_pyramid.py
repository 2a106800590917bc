"""core.engine.pyramid: the display image equals a brute-force reduction of |C|."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from phasebrush.core import memory
from phasebrush.core.engine.pyramid import MagnitudePyramid, magnitude_image
from phasebrush.core.errors import Cancelled, OutOfMemoryError, ParameterError
from phasebrush.core.signal import Signal
from phasebrush.core.tf import transforms as T

N = 32768
SPEC = T.TransformSpec(nv=12)


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(3)
    t = np.arange(N)
    y = 0.1 * rng.standard_normal(N) + np.sin(2 * np.pi * (0.01 * t + 0.3 * t**2 / (2 * N)))
    y[20000] += 5.0                                   # a click: pixels differ sharply
    return y, np.abs(T.transform(Signal(y, dx=1.0), SPEC).coefficients)


def _brute(A, c0, c1, width, mode, hops):
    """Peak / RMS of |C[r, t]| over the row's samples t = j * hop in each pixel."""
    e = c0 + (np.arange(width + 1) * (c1 - c0)) // width
    out = np.full((A.shape[0], width), np.nan)
    for r in range(A.shape[0]):
        d = int(hops[r])
        for p in range(width):
            seg = A[r, -(-e[p] // d) * d:e[p + 1]:d]
            if len(seg):
                out[r, p] = seg.max() if mode == "peak" else np.sqrt(np.mean(seg ** 2))
    return out


@pytest.mark.parametrize("tile_length, c0, c1, width, mode", [
    (None, 0, N, 100, "peak"), (None, 1000, 9001, 333, "rms"),
    (4096, 0, N, 100, "rms"), (4096, 1000, 9001, 333, "peak")])
def test_image_equals_brute_force(case, tile_length, c0, c1, width, mode):
    y, A = case
    pyr = MagnitudePyramid(y, SPEC, tile_length=tile_length)
    im = pyr.image(c0, c1, width=width, mode=mode, db=False)
    assert im.shape == (A.shape[0], width) and im.dtype == np.float32
    ref = _brute(A, c0, c1, width, mode, pyr.plan.hops)
    has = ~np.isnan(ref)
    # float32 storage of |C| (6e-8) and the multirate error (1e-9): 1e-6 of the row's peak
    scale = np.nanmax(ref, axis=1, keepdims=True)
    assert np.nanmax(np.abs(im - ref)[has] / np.broadcast_to(scale, ref.shape)[has]) <= 1e-6
    assert not np.isnan(im).any()        # pixels without a sample repeat the nearest one
    db = pyr.image(c0, c1, width=width, mode=mode, db=True)
    np.testing.assert_allclose(db, 20 * np.log10(im), rtol=1e-5, atol=1e-4)


def test_narrow_pixels_repeat_the_nearest_sample(case):
    y, A = case
    pyr = MagnitudePyramid(y, SPEC)
    i = int(np.flatnonzero(pyr.plan.hops == 64)[0])
    im = pyr.image(6400, 6400 + 256, width=256, mode="peak", db=False)   # one column a pixel
    t = 6400 + np.arange(256)
    nearest = np.round(t / 64).astype(int) * 64
    # ties (t = 32 mod 64) may go either way; the rest is the nearest sample
    ok = np.abs(t - nearest) != 32
    np.testing.assert_allclose(im[i][ok], A[pyr.rows[i], nearest[ok]], rtol=1e-6)


def test_cache_is_used_and_bounded(case):
    y, _ = case
    pyr = MagnitudePyramid(y, SPEC, tile_length=4096)
    assert len(pyr.missing(0, N)) == len(pyr.tiles(0, N)) == 8
    part = pyr.image(0, 8192, width=50, compute=False)
    assert np.isnan(part).all()                         # nothing cached yet
    full = pyr.image(0, 8192, width=50)
    assert pyr.missing(0, 8192) == [] and len(pyr.missing(0, N)) == 6
    np.testing.assert_array_equal(pyr.image(0, 8192, width=50, compute=False), full)
    one = pyr._cache._tiles[0].n_bytes
    small = MagnitudePyramid(y, SPEC, tile_length=4096, cache_bytes=int(1.5 * one))
    small.image(0, 3 * 4096, width=30)
    # LRU: the last one
    assert list(small._cache._tiles) == [2] and small._cache._bytes <= 1.5 * one


@pytest.mark.parametrize("mode", ["peak", "rms"])
def test_partial_images_come_middle_first_and_end_in_the_same_image(case, mode):
    y, _ = case
    c0, c1 = 3000, 30000                    # tiles 0..7 of 4096; tiles 2 and 3 cached
    ref = MagnitudePyramid(y, SPEC, tile_length=4096).image(c0, c1, width=400, mode=mode)
    pyr = MagnitudePyramid(y, SPEC, tile_length=4096)
    pyr.image(8192, 16384, width=10)
    steps = []
    im = pyr.image(c0, c1, width=400, mode=mode, partial=steps.append)
    assert len(steps) == 5                  # after each of the 6 computed tiles but the last
    edges = c0 + (np.arange(401) * (c1 - c0)) // 400
    tile_of = np.minimum(edges[:-1], c1 - 1) // 4096
    done, holes = {2, 3}, np.inf
    for k, step in enumerate(steps):
        # the missing tile nearest the middle (16500, tile 4) each time
        nxt = min(set(range(8)) - done, key=lambda t: abs(t + 0.5 - 0.5 * (c0 + c1) / 4096))
        done.add(nxt)
        assert step.shape == im.shape
        # pixels wholly inside the tiles done so far are final, in rows with samples in
        # every pixel (a wider hop takes its nearest sample, maybe from a later tile)
        last = np.minimum(edges[1:] - 1, c1 - 1) // 4096
        final = np.isin(tile_of, sorted(done)) & np.isin(last, sorted(done))
        rows = pyr.plan.hops <= 32
        np.testing.assert_allclose(step[np.ix_(rows, final)], im[np.ix_(rows, final)],
                                   rtol=0, atol=0 if mode == "peak" else 1e-5)
        assert 0 < np.isnan(step).sum() < holes, k
        holes = np.isnan(step).sum()
    # the same pixels whatever order the tiles came in (sums may round differently)
    if mode == "peak":
        np.testing.assert_array_equal(im, ref)
    else:
        np.testing.assert_allclose(im, ref, rtol=0, atol=1e-5)


def test_narrow_pixel_ties_go_to_the_earlier_sample_in_any_tile_order(case):
    y, _ = case
    # one column a pixel across a tile boundary: hop-64 rows tie at t = 32 mod 64
    ref = MagnitudePyramid(y, SPEC, tile_length=4096).image(8000, 8400, width=400,
                                                            mode="peak", db=False)
    pyr = MagnitudePyramid(y, SPEC, tile_length=4096)
    pyr.image(8192, 8400, width=1)          # the later tile first
    im = pyr.image(8000, 8400, width=400, mode="peak", db=False, partial=lambda im: None)
    np.testing.assert_array_equal(im, ref)


def test_one_shot_matches_the_pyramid(case):
    y, _ = case
    a = magnitude_image(y, SPEC, c0=100, c1=20000, width=64, mode="rms")
    b = MagnitudePyramid(y, SPEC).image(100, 20000, width=64, mode="rms")
    np.testing.assert_array_equal(a, b)


def test_cancel_raises_cancelled(case):
    y, _ = case
    with pytest.raises(Cancelled):
        magnitude_image(y, SPEC, width=10, cancel=lambda: True)


def test_small_budget_is_refused(case):
    y, _ = case
    memory.set_budget(1 << 20)
    try:
        with pytest.raises(OutOfMemoryError, match="magnitude image"):
            magnitude_image(y, SPEC, width=10)
    finally:
        memory.set_budget(None)


@pytest.mark.parametrize("kw", [dict(width=0), dict(width=5, mode="mean"),
                                dict(width=5, c0=5, c1=5), dict(width=5, c1=N + 1)])
def test_bad_parameters(case, kw):
    y, _ = case
    with pytest.raises(ParameterError):
        magnitude_image(y, SPEC, **kw)


def test_estimate_covers_the_peak_with_rows_spanning_the_signal():
    # the default spec (no fmin): the lowest rows' supports span the whole signal,
    # so they run on the whole padded grid, once for every tile
    n = 1 << 18
    y = np.random.default_rng(5).standard_normal(n)
    spec = T.TransformSpec(nv=8)
    pyr = MagnitudePyramid(y, spec, tile_length=8192)
    plan = pyr.plan
    assert plan.whole[0] and plan.whole.sum() >= 3 and (~plan.whole).sum() >= 40
    assert len(np.unique(plan.overlaps[~plan.whole])) >= 2        # classes by overlap
    est = pyr.estimate_tile_bytes()
    tracemalloc.start()
    im = pyr.image(8192, 2 * 8192, width=16)                      # one tile and the whole rows
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert np.isfinite(im).all()
    assert peak <= est < 4 * peak
    fresh = MagnitudePyramid(y, spec, tile_length=8192)
    memory.set_budget(est // 2)
    try:
        with pytest.raises(OutOfMemoryError, match="magnitude image tile"):
            fresh.image(0, 8192, width=16)
    finally:
        memory.set_budget(None)
    assert fresh.missing(0, 8192) == [0] and fresh._engine._whole_rows is None   # nothing done
