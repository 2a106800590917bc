"""Envelope: the min/max per pixel of any range, exact samples when they fit."""

import numpy as np
import pytest

from phasebrush.core.engine.envelope import Envelope


@pytest.fixture
def y():
    rng = np.random.default_rng(1)
    out = rng.standard_normal(200_003)
    out[123_457] = 9.0          # one spike: must survive any zoom
    return out


def reference(y, i0, i1, width):
    edges = i0 + (np.arange(width + 1) * (i1 - i0)) // width
    return (np.array([y[a:b].min() for a, b in zip(edges[:-1], edges[1:], strict=True)]),
            np.array([y[a:b].max() for a, b in zip(edges[:-1], edges[1:], strict=True)]))


@pytest.mark.parametrize("i0, i1, width", [(0, 200_003, 37), (1000, 90_000, 300), (5, 2000, 700)])
def test_pixels_hold_their_samples_min_and_max(y, i0, i1, width):
    env = Envelope(y, block=64)
    idx, val = env.curve(i0, i1, width)
    lo, hi = reference(y, i0, i1, width)
    assert len(val) == 2 * width
    if (i1 - i0) // width >= 4 * 64:
        # whole blocks per pixel: the extremes of the blocks its edges fall in (edges
        # rounded down to blocks, the last pixel up to its last block)
        B = 64
        edges = i0 + (np.arange(width + 1) * (i1 - i0)) // width
        starts = (edges[:-1] // B) * B
        ends = np.append(starts[1:], -(-edges[-1] // B) * B)
        blo = np.array([y[a:min(b, len(y))].min() for a, b in zip(starts, ends, strict=True)])
        bhi = np.array([y[a:min(b, len(y))].max() for a, b in zip(starts, ends, strict=True)])
        np.testing.assert_array_equal(val[0::2], blo.astype(np.float32))
        np.testing.assert_array_equal(val[1::2], bhi.astype(np.float32))
        assert np.all(np.abs(ends - edges[1:]) < B)   # within a block of the exact pixel
    else:
        np.testing.assert_array_equal(val[0::2], lo)
        np.testing.assert_array_equal(val[1::2], hi)
    assert np.all(np.diff(idx) >= 0) and idx[0] >= i0 and idx[-1] < i1


def test_the_spike_survives_every_zoom(y):
    env = Envelope(y, block=128)
    for width in (10, 100, 1000):
        _, val = env.curve(0, len(y), width)
        assert val.max() == 9.0


def test_narrow_ranges_are_the_samples_themselves(y):
    idx, val = Envelope(y).curve(100, 150, 400)
    np.testing.assert_array_equal(idx, np.arange(100, 150))
    np.testing.assert_array_equal(val, y[100:150])


def test_update_follows_changes_in_place(y):
    env = Envelope(y, block=64)
    y[50_000:50_010] = -20.0
    _, before = env.curve(0, len(y), 50)
    assert before.min() > -20.0          # not seen until told
    env.update(50_000, 50_010)
    _, after = env.curve(0, len(y), 50)
    assert after.min() == -20.0 and env.source is y


def test_empty_and_clipped_ranges(y):
    env = Envelope(y)
    idx, val = env.curve(10, 10, 100)
    assert idx.size == val.size == 0
    idx, _ = env.curve(-50, 10**9, 100)
    assert idx[0] >= 0 and idx[-1] < len(y)
