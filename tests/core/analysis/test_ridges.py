"""Tests for core.analysis.ridges: bands proposed around ridges contain the true frequency."""

import numpy as np
import pytest

from phasebrush.core.analysis.ridges import propose_bands, ridge_rows
from phasebrush.core.errors import ParameterError
from phasebrush.core.signal import Signal
from phasebrush.core.tf.bands import Band, band_ranges
from phasebrush.core.tf.masks import inner_rows
from phasebrush.core.tf.transforms import TransformSpec, transform

RATE = 1000.0
N = 2048


def _two_chirps():
    t = np.arange(N) / RATE
    f_low = 40 + 20 * t            # 40 -> 81 Hz
    f_high = 300 - 30 * t          # 300 -> 239 Hz
    y = (np.sin(2 * np.pi * np.cumsum(f_low) / RATE)
         + 0.6 * np.sin(2 * np.pi * np.cumsum(f_high) / RATE))
    return Signal(y, dx=1 / RATE), f_low, f_high


def _fraction_inside(band, tfr, f_true):
    start, end = band_ranges(band, tfr)
    r = np.argmin(np.abs(tfr.frequencies[:, None] - f_true[None, :]), axis=0)
    interior = slice(N // 10, -N // 10)
    return np.mean(((r >= start) & (r < end))[interior])


@pytest.mark.parametrize("kind", ["cwt", "ssq_cwt", "stft"])
def test_each_band_contains_its_component(kind):
    sig, f_low, f_high = _two_chirps()
    tfr = transform(sig, TransformSpec(kind=kind, nv=16, n_fft=256))
    bands = propose_bands(tfr, k=2, max_vertices=40)
    assert len(bands) == 2 and all(isinstance(b, Band) for b in bands)
    assert [b.name for b in bands] == ["ridge 1", "ridge 2"]
    for b in bands:
        assert b.upper.shape[0] <= 40 and b.lower.shape[0] <= 40
        assert np.all(b.upper[:, 1] >= b.lower[:, 1])
    # the stronger component first; each band holds its own component, not the other
    assert _fraction_inside(bands[0], tfr, f_low) > 0.95
    assert _fraction_inside(bands[1], tfr, f_high) > 0.95
    assert _fraction_inside(bands[0], tfr, f_high) < 0.05
    assert _fraction_inside(bands[1], tfr, f_low) < 0.05


def test_bands_are_narrow_around_the_ridge():
    sig, f_low, _ = _two_chirps()
    tfr = transform(sig, TransformSpec(kind="cwt", nv=16))
    band = propose_bands(tfr, k=1, bandwidth_rows=3)[0]
    start, end = band_ranges(band, tfr)
    width = (end - start)[N // 10:-N // 10]
    # simplified edges may widen a band by a segment's frequency change, not more
    assert width.max() <= 2 * 3 + 1 + 4


def test_ridges_never_use_edge_rows():
    sig, _, _ = _two_chirps()
    tfr = transform(Signal(sig.y[:512], dx=sig.dx), TransformSpec(kind="cwt", nv=8))
    a, b = inner_rows(tfr)
    rows = ridge_rows(tfr, k=3, bandwidth_rows=2)
    assert rows.shape == (3, 512) and rows.min() >= a and rows.max() < b
    for band in propose_bands(tfr, k=3, bandwidth_rows=40):  # wider than the grid: clipped
        assert band.lower[:, 1].min() >= tfr.frequencies[a]
        assert band.upper[:, 1].max() <= tfr.frequencies[b - 1]


def test_block_averaged_tracking_for_long_inputs():
    sig, f_low, _ = _two_chirps()
    tfr = transform(sig, TransformSpec(kind="cwt", nv=16))
    band = propose_bands(tfr, k=1, max_frames=256)[0]
    assert _fraction_inside(band, tfr, f_low) > 0.95


def test_bad_parameters():
    sig, _, _ = _two_chirps()
    tfr = transform(Signal(sig.y[:256], dx=sig.dx), TransformSpec(kind="cwt", nv=8))
    for kw in ({"k": 0}, {"penalty": -1}, {"bandwidth_rows": 0}, {"max_vertices": 1}):
        with pytest.raises(ParameterError):
            propose_bands(tfr, **kw)
