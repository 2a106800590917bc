"""core.engine.display: display images of every kind equal a brute-force reduction of |C|."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from phasebrush.core import memory
from phasebrush.core.engine.display import (
    DisplaySource,
    SSQSource,
    STFTSource,
    WholeSource,
    display_source,
    resize_rows,
    row_groups,
    stream_image,
)
from phasebrush.core.engine.pyramid import MagnitudePyramid
from phasebrush.core.errors import Cancelled, OutOfMemoryError, ParameterError
from phasebrush.core.signal import Signal
from phasebrush.core.tf import transforms as T

N = 16384
CWT = T.TransformSpec(nv=8)


@pytest.fixture(autouse=True)
def _default_budget(monkeypatch):
    monkeypatch.delenv(memory.ENV_VAR, raising=False)
    memory.set_budget(None)
    yield
    memory.set_budget(None)


@pytest.fixture(scope="module")
def y():
    rng = np.random.default_rng(7)
    t = np.arange(N)
    y = 0.1 * rng.standard_normal(N) + np.sin(2 * np.pi * (0.02 * t + 0.2 * t**2 / (2 * N)))
    y[9000] += 4.0                                  # a click: neighbouring pixels differ
    return y


def _abs(y, spec):
    return np.abs(T.transform(Signal(y, dx=1.0), spec).coefficients)


def _brute(A, c0, c1, width, mode, hops=None):
    """Peak / RMS of A[r, t] over the row's samples t = j * hop in each pixel (NaN: none)."""
    hops = np.ones(A.shape[0], dtype=int) if hops is None else hops
    e = c0 + (np.arange(width + 1) * (c1 - c0)) // width
    out = np.full((A.shape[0], width), np.nan)
    for r in range(A.shape[0]):
        d = int(hops[r])
        for p in range(width):
            seg = A[r, -(-e[p] // d) * d:e[p + 1]:d]
            if len(seg):
                out[r, p] = seg.max() if mode == "peak" else np.sqrt(np.mean(seg ** 2))
    return out


def _assert_matches(im, ref):
    has = ~np.isnan(ref)
    # rows the squeeze leaves empty over the range (peak 0) must stay 0
    scale = np.broadcast_to(np.maximum(np.nanmax(ref, axis=1, keepdims=True), 1e-300), ref.shape)
    assert np.nanmax(np.abs(im - ref)[has] / scale[has]) <= 1e-6


# tile_length 1000 frames: the ranges below start, end and cross tile boundaries
@pytest.mark.parametrize("hop", [1, 3, 64])
@pytest.mark.parametrize("mode", ["peak", "rms"])
@pytest.mark.parametrize("frac0, frac1, width", [
    (0.0, 1.0, 100), (0.061, 0.5, 37), (0.25, 0.2501, 7), (0.3, 0.32, 1)])
def test_stft_image_equals_brute_force(y, hop, mode, frac0, frac1, width):
    spec = T.TransformSpec(kind="stft", n_fft=128, hop=hop)
    A = _abs(y, spec)
    src = display_source(y, spec, tile_length=1000 // hop if hop < 64 else 40)
    assert isinstance(src, STFTSource) and src.n_columns == A.shape[1]
    c0 = int(frac0 * A.shape[1])
    c1 = max(c0 + 1, int(frac1 * A.shape[1]))
    im = src.image(c0, c1, width=width, mode=mode, db=False)
    assert im.shape == (A.shape[0], width) and im.dtype == np.float32
    ref = _brute(A, c0, c1, width, mode)
    _assert_matches(im, ref)
    assert not np.isnan(im).any()        # narrower pixels repeat the nearest frame
    np.testing.assert_allclose(src.image(c0, c1, width=width, mode=mode),
                               20 * np.log10(im), rtol=1e-5, atol=1e-4)


def test_stft_pixels_narrower_than_a_frame_repeat_the_nearest(y):
    spec = T.TransformSpec(kind="stft", n_fft=128, hop=8)
    A = _abs(y, spec)
    src = STFTSource(y, spec, tile_length=100)
    c0, c1, width = 95, 105, 40                         # 4 pixels a frame, across a tile edge
    im = src.image(c0, c1, width=width, db=False)
    e = c0 + (np.arange(width + 1) * (c1 - c0)) // width
    centre = 0.5 * (e[:-1] + e[1:] - 1)
    nearest = np.where(e[1:] > e[:-1], e[:-1], np.ceil(centre - 0.5)).astype(int)
    np.testing.assert_allclose(im, A[:, nearest], rtol=1e-6, atol=1e-6 * A.max())


def test_stft_rows_subset_and_frequencies(y):
    spec = T.TransformSpec(kind="stft", n_fft=64, hop=2)
    tfr = T.transform(Signal(y, dx=0.5), spec)
    rows = [0, 3, 10, 32]
    src = STFTSource(y, spec, dx=0.5, rows=rows)
    np.testing.assert_allclose(src.frequencies, tfr.frequencies[rows])
    np.testing.assert_array_equal(src.rows, rows)
    im = src.image(0, src.n_columns, width=50, mode="rms", db=False)
    _assert_matches(im, _brute(np.abs(tfr.coefficients[rows]), 0, src.n_columns, 50, "rms"))
    np.testing.assert_allclose(src.column_times(x0=tfr.x0), tfr.times)
    np.testing.assert_allclose(src.column_times(5, 9, x0=3.0), 3.0 + 0.5 * 2 * np.arange(5, 9))


@pytest.mark.parametrize("mode", ["peak", "rms"])
def test_cwt_source_is_the_pyramid_and_streams_the_same_image(y, mode):
    A = _abs(y, CWT)
    src = display_source(y, CWT, tile_length=4096)
    assert isinstance(src, MagnitudePyramid) and src.n_columns == N
    for c0, c1, width in [(0, N, 64), (3000, 9500, 101), (4090, 4110, 20)]:
        ref = src.image(c0, c1, width=width, mode=mode, db=False)
        im = stream_image(src, c0, c1, width=width, mode=mode, db=False)
        np.testing.assert_allclose(im, ref, rtol=1e-6, atol=0)
        _assert_matches(im, _brute(A, c0, c1, width, mode, src.plan.hops))
    np.testing.assert_allclose(stream_image(src, width=30, mode=mode),
                               src.image(width=30, mode=mode), rtol=1e-6)
    tfr = T.transform(Signal(y, dx=0.25, x0=2.0), CWT)
    np.testing.assert_allclose(MagnitudePyramid(y, CWT, dx=0.25).column_times(x0=2.0), tfr.times)


def test_stream_image_of_cached_tiles_only(y):
    src = MagnitudePyramid(y, CWT, tile_length=4096)
    assert np.isnan(stream_image(src, 0, N, width=32, compute=False)).all()
    src.image(4096, 8192, width=8)                       # caches tile 1 only
    part = stream_image(src, 0, N, width=32, compute=False)
    np.testing.assert_array_equal(part, src.image(0, N, width=32, compute=False))
    assert not np.isnan(part[:, 8:16]).any()
    # rows whose hop is below half a pixel: nothing from the cached tile reaches outside it
    fine = src.plan.hops <= 256
    assert fine.sum() > 10
    assert np.isnan(part[fine][:, :8]).all() and np.isnan(part[fine][:, 16:]).all()


def test_images_hold_one_tile_at_a_time():
    n = 1 << 18
    y = np.random.default_rng(1).standard_normal(n)
    spec = T.TransformSpec(nv=4)
    pyr = MagnitudePyramid(y, spec, tile_length=8192, cache_bytes=0)
    stream_image(pyr, width=8)                                     # filters cached: not counted
    one = next(iter(pyr._cache._tiles.values())).n_bytes
    n_tiles = len(pyr.tiles(0, n))
    assert n_tiles == 32
    for image in (lambda: stream_image(pyr, width=8), lambda: pyr.image(width=8)):
        tracemalloc.start()
        image()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # one tile's work and levels beside the cached one; every tile would take 32 x one
        assert peak <= pyr.estimate_tile_bytes() + 2 * one
        assert peak < n_tiles * one / 2


SSQ = {"ssq_cwt": T.TransformSpec(kind="ssq_cwt", nv=8),
       "ssq_stft": T.TransformSpec(kind="ssq_stft", n_fft=128)}
SSQ_TILE = 3000


@pytest.fixture(scope="module")
def ssq_abs(y):
    """{kind: |C| of the whole-signal transform}."""
    return {kind: _abs(y, spec) for kind, spec in SSQ.items()}


@pytest.fixture(scope="module")
def ssq_sources(y):
    """{kind: the display source}, shared so that later images read its cache."""
    return {kind: display_source(y, spec, tile_length=SSQ_TILE) for kind, spec in SSQ.items()}


@pytest.mark.parametrize("kind", SSQ)
@pytest.mark.parametrize("mode", ["peak", "rms"])
def test_ssq_image_equals_brute_force(y, ssq_abs, ssq_sources, kind, mode):
    A, src = ssq_abs[kind], ssq_sources[kind]
    assert isinstance(src, SSQSource) and src.n_columns == A.shape[1] == N
    assert src.tile_length == SSQ_TILE
    # the whole range, one across a tile edge (narrow pixels repeat the nearest), the click
    for c0, c1, width in [(0, N, 100), (2990, 3010, 7), (2995, 3004, 40), (8800, 9301, 37)]:
        im = src.image(c0, c1, width=width, mode=mode, db=False)
        assert im.shape == (A.shape[0], width) and im.dtype == np.float32
        ref = _brute(A, c0, c1, width, mode)
        if width > c1 - c0:
            e = c0 + (np.arange(width + 1) * (c1 - c0)) // width
            centre = 0.5 * (e[:-1] + e[1:] - 1)
            ref = A[:, np.where(e[1:] > e[:-1], e[:-1], np.ceil(centre - 0.5)).astype(int)]
        _assert_matches(im, ref)
        assert not np.isnan(im).any()


def test_ssq_rows_subset_frequencies_and_times(y, ssq_abs):
    spec = SSQ["ssq_cwt"]
    tfr = T.transform(Signal(y, dx=0.5, x0=1.0), spec)
    rows = [0, 5, 30, tfr.n_rows - 1]                       # both edge rows
    src = SSQSource(y, spec, dx=0.5, rows=rows, tile_length=5000)
    np.testing.assert_allclose(src.frequencies, tfr.frequencies[rows], rtol=1e-12)
    np.testing.assert_array_equal(src.rows, rows)
    im = src.image(1000, 12000, width=50, mode="rms", db=False)
    _assert_matches(im, _brute(ssq_abs["ssq_cwt"][rows], 1000, 12000, 50, "rms"))
    np.testing.assert_allclose(src.column_times(x0=tfr.x0), tfr.times)


def test_ssq_whole_grid_rows_are_computed_once_per_source(y, ssq_sources):
    # whole-grid rows exist here (the lowest wavelets and the low edge row)
    ref_src = ssq_sources["ssq_cwt"]
    ref = ref_src.image(width=64, db=False)
    assert ref_src.whole_span == N and ref_src.engine.whole_computed == 1
    assert len(ref_src.tiles(0, N)) == 6 and ref_src.estimate_whole_bytes() > 0
    per_column = ref_src.engine._impl.whole_column_bytes()
    # a budget for two tiles' columns: spans from the tile asked for on, two tiles each
    small = SSQSource(y, SSQ["ssq_cwt"], tile_length=SSQ_TILE,
                      whole_bytes=per_column * (2 * SSQ_TILE + 100))
    none = SSQSource(y, SSQ["ssq_cwt"], tile_length=SSQ_TILE, whole_bytes=0)
    for src in (small, none):
        np.testing.assert_allclose(src.image(width=64, db=False), ref, rtol=1e-6, atol=0)
    assert small.whole_span == 2 * SSQ_TILE + 100 and small.engine.whole_computed == 3
    assert none.whole_span == 0 and none.engine.whole_computed == 0
    assert none.estimate_whole_bytes() == 0
    # the cached whole rows are counted in the tile estimate
    assert ref_src.estimate_tile_bytes() > none.estimate_tile_bytes()


def test_ssq_estimate_tile_bytes_covers_a_tile(y):
    src = SSQSource(y, SSQ["ssq_cwt"], tile_length=4096)
    src.engine._impl.groups()                     # the supports' probe (its grids freed)
    tracemalloc.start()
    src.image(0, 4096, width=3)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    est = src.estimate_tile_bytes()
    # the estimate counts the whole filter cache's limit, of which this tile used little
    assert peak <= est < peak + src.engine._impl.cache_limit + 2 * peak


def test_ssq_tile_over_budget_is_refused_before_computing(y):
    src = SSQSource(y, SSQ["ssq_stft"], tile_length=SSQ_TILE)
    memory.set_budget(src.estimate_tile_bytes() - 1)
    with pytest.raises(OutOfMemoryError, match="SSQ_STFT display tile"):
        src.image(width=10)
    assert src.missing(0, N) == list(src.tiles(0, N))


def test_ssq_source_cancel_and_bad_parameters(y):
    src = SSQSource(y, SSQ["ssq_stft"], tile_length=SSQ_TILE)
    with pytest.raises(Cancelled):
        src.image(width=10, cancel=lambda: True)
    seen = []
    src.image(0, 2 * SSQ_TILE, width=10, progress=seen.append)
    assert seen[-1] == 1.0 and np.all(np.diff(seen) >= 0) and len(seen) >= 4
    for kw in (dict(rows=[200]), dict(rows=[5, 3]), dict(tile_length=0)):
        with pytest.raises(ParameterError):
            SSQSource(y, SSQ["ssq_stft"], **kw)
    with pytest.raises(ParameterError, match="ssq_cwt"):
        SSQSource(y, T.TransformSpec(kind="stft"))


def test_whole_source_reduces_the_whole_transform():
    n = 4096
    y = np.random.default_rng(2).standard_normal(n)
    spec = T.TransformSpec(kind="ssq_stft", n_fft=64)
    tfr = T.transform(Signal(y, dx=1.0), spec)
    src = WholeSource(y, spec)
    assert src.n_columns == tfr.n_frames
    np.testing.assert_allclose(src.frequencies, tfr.frequencies)
    assert src.missing(0, n) == [0]
    assert np.isnan(src.image(0, n, width=10, compute=False)).all()
    for mode in ("peak", "rms"):
        im = src.image(100, 3001, width=77, mode=mode, db=False)
        _assert_matches(im, _brute(np.abs(tfr.coefficients), 100, 3001, 77, mode))
    assert src.missing(0, n) == []


def test_whole_source_refused_when_the_whole_transform_does_not_fit():
    y = np.zeros(1 << 16)
    memory.set_budget("8M")
    with pytest.raises(OutOfMemoryError) as info:
        WholeSource(y, T.TransformSpec(kind="ssq_cwt", nv=8))
    msg = str(info.value)
    assert "use kind 'cwt' or 'stft'" in msg and "--start/--end" in msg
    assert "MiB of memory" in msg and "budget 8.0 MiB" in msg


def test_missing_tiles_and_compute_false_give_nan(y):
    spec = T.TransformSpec(kind="stft", n_fft=128, hop=4)
    src = STFTSource(y, spec, tile_length=512)             # 4096 frames: 8 tiles
    assert src.missing(0, src.n_columns) == list(src.tiles(0, src.n_columns)) == list(range(8))
    assert np.isnan(src.image(width=64, compute=False)).all()
    part = src.image(1024, 2048, width=16)                 # tiles 2 and 3
    assert src.missing(0, src.n_columns) == [0, 1, 4, 5, 6, 7]
    whole = src.image(width=64, compute=False)
    np.testing.assert_array_equal(whole[:, 16:32], part)   # 64 frames a pixel on both
    assert np.isnan(whole[:, :16]).all() and np.isnan(whole[:, 32:]).all()


def test_partial_images_fill_tiles_middle_first_to_the_same_image(y):
    spec = T.TransformSpec(kind="stft", n_fft=128, hop=4)
    ref = STFTSource(y, spec, tile_length=512).image(width=64)
    src = STFTSource(y, spec, tile_length=512)             # 8 tiles of 8 pixels
    src.image(0, 512, width=8)                             # tile 0 cached
    steps = []
    im = src.image(width=64, partial=steps.append)
    np.testing.assert_array_equal(im, ref)
    assert len(steps) == 6                                 # 7 computed, the last not shown
    done = [sorted(np.flatnonzero(~np.isnan(s).any(axis=0)) // 8) for s in steps]
    # tile 0 from the cache, then the middle (3 and 4 tie: the lower first), outwards
    assert [sorted(set(d)) for d in done][:2] == [[0, 3], [0, 3, 4]]
    assert sorted(set(done[-1])) == [0, 1, 2, 3, 4, 5, 6]
    for s in steps:
        ok = ~np.isnan(s).any(axis=0)
        np.testing.assert_array_equal(s[:, ok], ref[:, ok])


def test_cache_is_bounded_lru(y):
    spec = T.TransformSpec(kind="stft", n_fft=128, hop=4)
    probe = STFTSource(y, spec, tile_length=512)
    probe.image(0, 512, width=4)
    one = probe._cache._tiles[0].n_bytes
    src = STFTSource(y, spec, tile_length=512, cache_bytes=int(2.5 * one))
    src.image(width=64)
    assert src.missing(0, src.n_columns) == [0, 1, 2, 3, 4, 5]    # the last two stay


def test_stft_image_memory_does_not_grow_with_the_range():
    n = 1 << 21                                    # 131072 frames at hop 16
    y = np.random.default_rng(4).standard_normal(n)
    spec = T.TransformSpec(kind="stft", n_fft=256, hop=16)
    src = STFTSource(y, spec, tile_length=2048, cache_bytes=1 << 20)
    tracemalloc.start()
    im = src.image(width=200, mode="rms")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert im.shape == (129, 200) and np.isfinite(im).all()
    full = 4 * 129 * src.n_columns                 # |S| alone as float32: 68 MB
    assert peak < full / 4                         # every tile's levels: 12 bytes a value
    assert peak < 2 * src.estimate_tile_bytes() + (1 << 20) + 8 * 129 * 200 * 4


@pytest.mark.parametrize("hop, n_fft", [(1, 256), (7, 512)])
def test_estimate_tile_bytes_covers_a_tile(y, hop, n_fft):
    src = STFTSource(y, T.TransformSpec(kind="stft", n_fft=n_fft, hop=hop))
    tracemalloc.start()
    src.image(0, min(src.tile_length, src.n_columns), width=3)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    est = src.estimate_tile_bytes()
    assert 0.5 * est < peak <= est


def test_tile_over_budget_is_refused_before_computing(y):
    src = STFTSource(y, T.TransformSpec(kind="stft", n_fft=128))
    memory.set_budget(src.estimate_tile_bytes() - 1)
    with pytest.raises(OutOfMemoryError, match="STFT display tile"):
        src.image(width=10)
    assert src.missing(0, src.n_columns) == list(src.tiles(0, src.n_columns))


def test_cancel_raises_cancelled_and_progress_ascends(y):
    src = STFTSource(y, T.TransformSpec(kind="stft", n_fft=128), tile_length=2048)
    with pytest.raises(Cancelled):
        src.image(width=10, cancel=lambda: True)
    seen = []
    src.image(width=10, progress=seen.append)
    assert seen[-1] == 1.0 and np.all(np.diff(seen) >= 0) and len(seen) >= 8


@pytest.mark.parametrize("kw", [dict(width=0), dict(width=5, mode="mean"),
                                dict(width=5, c0=5, c1=5), dict(width=5, c1=N + 1)])
def test_bad_image_parameters(y, kw):
    src = STFTSource(y, T.TransformSpec(kind="stft", n_fft=128))
    with pytest.raises(ParameterError):
        src.image(**kw)


@pytest.mark.parametrize("kw", [dict(rows=[200]), dict(rows=[5, 3]), dict(tile_length=0)])
def test_bad_source_parameters(y, kw):
    with pytest.raises(ParameterError):
        STFTSource(y, T.TransformSpec(kind="stft", n_fft=128), **kw)


def test_every_source_has_the_display_interface(y):
    for spec in (CWT, T.TransformSpec(kind="stft", n_fft=64, hop=5),
                 T.TransformSpec(kind="ssq_stft", n_fft=64), SSQ["ssq_cwt"]):
        src = display_source(y[:4096], spec)
        assert isinstance(src, DisplaySource)
        assert isinstance(src, SSQSource) == spec.is_ssq
        assert len(src.frequencies) == len(src.rows) and np.all(np.diff(src.frequencies) > 0)
        assert src.estimate_tile_bytes() > 0


# --- resize_rows ----------------------------------------------------------------------------

def test_row_groups_partition_the_rows():
    start, stop = row_groups(10, 4)
    np.testing.assert_array_equal(start, [0, 2, 5, 7])
    np.testing.assert_array_equal(stop, [2, 5, 7, 10])
    start, stop = row_groups(3, 7)
    np.testing.assert_array_equal(start, [0, 0, 1, 1, 1, 2, 2])
    np.testing.assert_array_equal(stop - start, 1)


def test_resize_rows_peak_and_rms():
    rng = np.random.default_rng(5)
    im = rng.random((10, 6)).astype(np.float32)
    start, stop = row_groups(10, 4)
    peak = resize_rows(im, 4, mode="peak")
    rms = resize_rows(im, 4, mode="rms")
    assert peak.shape == rms.shape == (4, 6) and peak.dtype == np.float32
    for h in range(4):
        g = im[start[h]:stop[h]]
        np.testing.assert_allclose(peak[h], g.max(axis=0), rtol=1e-7)
        np.testing.assert_allclose(rms[h], np.sqrt((g.astype(float) ** 2).mean(axis=0)),
                                   rtol=1e-6)
    db = resize_rows(20 * np.log10(im), 4, mode="rms", db=True)
    np.testing.assert_allclose(db, 20 * np.log10(rms), atol=1e-4)
    np.testing.assert_array_equal(resize_rows(im, 10, mode="rms"), im)
    np.testing.assert_array_equal(resize_rows(im, 20, mode="peak"), np.repeat(im, 2, axis=0))


def test_resize_rows_keeps_nan_of_uncomputed_pixels():
    im = np.ones((6, 3), dtype=np.float32)
    im[4, 1] = np.nan
    for mode in ("peak", "rms"):
        out = resize_rows(im, 3, mode=mode)
        assert np.isnan(out[2, 1]) and not np.isnan(np.delete(out.ravel(), 7)).any()


@pytest.mark.parametrize("args, kw", [((np.ones((3, 2)), 0), {}),
                                      ((np.ones(3), 2), {}),
                                      ((np.ones((3, 2)), 2), dict(mode="mean"))])
def test_resize_rows_bad_input(args, kw):
    with pytest.raises(ParameterError):
        resize_rows(*args, **kw)
