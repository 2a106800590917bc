"""Tests for core/tf/inversion.py: masked inverses, band separation, range inverter."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import ssqueezepy

from phasebrush.core.errors import ParameterError, ShapeError
from phasebrush.core.signal import Signal
from phasebrush.core.tf.inversion import RangeInverter, invert, invert_with_residual
from phasebrush.core.tf.masks import ranges_to_mask
from phasebrush.core.tf.transforms import TransformSpec, transform

SPECS = {
    "cwt": TransformSpec(kind="cwt", nv=16),
    "ssq_cwt": TransformSpec(kind="ssq_cwt", nv=16),
    "stft": TransformSpec(kind="stft", n_fft=256),
    "stft_hop32": TransformSpec(kind="stft", n_fft=256, hop=32),
    "ssq_stft": TransformSpec(kind="ssq_stft", n_fft=256),
}


def rows_between(freqs: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Half-open row ranges of the rows whose frequency lies in [lo[t], hi[t])."""
    return np.searchsorted(freqs, lo), np.searchsorted(freqs, hi)


def frame_samples(tfr, values: np.ndarray) -> np.ndarray:
    """Per-sample values at the transform's frames."""
    return values[::tfr.spec.hop] if not tfr.spec.is_cwt else values


@pytest.mark.parametrize("name", list(SPECS))
def test_full_inverse_is_the_signal(name, two_components, rel_error):
    sig, _ = two_components
    tfr = transform(sig, SPECS[name])
    assert rel_error(invert(tfr), sig.y, trim=0.0) < 1e-8
    ones = np.ones(tfr.shape, dtype=bool)
    # a full boolean mask is the band "everything", which carries no offset
    np.testing.assert_allclose(invert(tfr, ones) + tfr.offset, invert(tfr), atol=1e-12)


@pytest.mark.parametrize("name", list(SPECS))
def test_band_separation_recovers_each_component(name, two_components, rel_error):
    sig, parts = two_components
    tfr = transform(sig, SPECS[name])
    f_split = np.sqrt(parts["chirp_f"] * parts["tone_f"])  # geometric middle, per sample
    split = frame_samples(tfr, f_split)
    zero = np.zeros_like(split)
    top = np.full_like(split, np.inf)
    full = invert(tfr)
    for comp, (lo, hi) in {"chirp": (zero, split), "tone": (split, top)}.items():
        start, end = rows_between(tfr.frequencies, lo, hi)
        mask = ranges_to_mask(start, end, tfr.n_rows)
        band, residual = invert_with_residual(tfr, mask)
        assert rel_error(band, parts[comp]) <= 0.02, comp
        assert np.max(np.abs(band + residual - full)) <= 1e-9 * np.max(np.abs(full))
        other = "tone" if comp == "chirp" else "chirp"
        assert rel_error(residual, parts[other]) <= 0.02
        # fast path for hop 1, overlap-add fallback for hop > 1: same band
        fast = RangeInverter(tfr)
        np.testing.assert_allclose(fast.band(start, end), band, atol=1e-10)


def test_soft_mask_is_linear(chirp_signal):
    tfr = transform(chirp_signal, SPECS["cwt"])
    half = np.full(tfr.shape, 0.5)
    np.testing.assert_allclose(invert(tfr, half), 0.5 * (invert(tfr) - tfr.offset), atol=1e-12)
    rng = np.random.default_rng(3)
    soft = rng.random(tfr.shape)
    band, residual = invert_with_residual(tfr, soft)
    np.testing.assert_allclose(band + residual, invert(tfr), atol=1e-12)


def test_offset_goes_to_the_residual(chirp_signal):
    tfr = transform(chirp_signal, TransformSpec(kind="cwt", nv=16, edge_rows=False))
    assert tfr.offset == pytest.approx(0.3, abs=0.02)
    nothing = np.zeros(tfr.shape, dtype=bool)
    band, residual = invert_with_residual(tfr, nothing)
    assert np.all(band == 0)
    np.testing.assert_allclose(residual, invert(tfr), atol=1e-12)


def test_range_inverter_matches_masks_for_random_and_multiple_bands(voice_like):
    tfr = transform(voice_like, SPECS["ssq_cwt"])
    fast = RangeInverter(tfr)
    assert fast.cumsum.shape == (tfr.n_rows + 1, tfr.n_frames)
    rng = np.random.default_rng(0)
    n, r = tfr.n_frames, tfr.n_rows
    start = rng.integers(0, r // 2, n)
    end = start + rng.integers(0, r // 2, n)
    np.testing.assert_allclose(fast.band(start, end),
                               invert(tfr, ranges_to_mask(start, end, r)), atol=1e-10)
    # several bands invert to their union, whether they overlap or not
    for gap in (rng.integers(0, 3, n), -rng.integers(1, 5, n)):
        s2 = np.clip(end + gap, 0, r)
        e2 = np.minimum(s2 + rng.integers(0, 10, n), r)
        union = ranges_to_mask(start, end, r) | ranges_to_mask(s2, e2, r)
        both = fast.band(np.stack([start, s2]), np.stack([end, e2]))
        np.testing.assert_allclose(both, invert(tfr, union), atol=1e-10)
        b, res = fast.invert_ranges_with_residual([(start, end), (s2, e2)])
        np.testing.assert_allclose(b, both, atol=1e-12)
        np.testing.assert_allclose(b + res, invert(tfr), atol=1e-10)
    # empty everywhere, and everything
    np.testing.assert_array_equal(fast.band(start, start), np.zeros(n))
    b, res = fast.band_and_residual(np.zeros(n, int), np.full(n, r))
    np.testing.assert_allclose(b + tfr.offset, invert(tfr), atol=1e-10)
    np.testing.assert_allclose(res, np.full(n, tfr.offset), atol=1e-10)


def test_ranges_are_half_open_rows_from_the_lowest_frequency(chirp_signal):
    tfr = transform(chirp_signal, TransformSpec(kind="stft", n_fft=8))
    fast = RangeInverter(tfr)
    n = tfr.n_frames
    w_re = tfr.row_weights[:, None] * tfr.coefficients.real
    np.testing.assert_allclose(fast.band(np.zeros(n, int), np.ones(n, int)), w_re[0])
    np.testing.assert_allclose(fast.band(np.full(n, 2), np.full(n, 4)), w_re[2] + w_re[3])
    # end <= start is empty, as in core.tf.masks.ranges_to_mask
    np.testing.assert_array_equal(fast.band(np.full(n, 3), np.full(n, 1)), np.zeros(n))


# -- bad inputs --------------------------------------------------------------------

def test_mask_shape_mismatch_names_both_shapes(chirp_signal):
    tfr = transform(chirp_signal, SPECS["stft"])
    with pytest.raises(ShapeError, match=r"\(3, 4\).*\(129, 2048\)"):
        invert(tfr, np.ones((3, 4), dtype=bool))


@pytest.mark.parametrize("bad, match", [
    (1.5, r"\[0, 1\]"), (-0.1, r"\[0, 1\]"), (np.nan, "NaN"), (1j, "dtype complex"),
])
def test_bad_soft_masks(bad, match, chirp_signal):
    tfr = transform(chirp_signal, SPECS["stft"])
    with pytest.raises(ParameterError, match=match):
        invert(tfr, np.full(tfr.shape, bad))


def test_bad_ranges_and_missing_mask(chirp_signal):
    tfr = transform(chirp_signal, SPECS["stft"])
    fast = RangeInverter(tfr)
    n = tfr.n_frames
    with pytest.raises(ParameterError, match="0..130 at column 0 is outside the 129 rows"):
        fast.band(np.zeros(n, int), np.full(n, 130))
    with pytest.raises(ShapeError, match="2047 frames; the transform has 2048"):
        fast.band(np.zeros(n - 1, int), np.ones(n - 1, int))
    with pytest.raises(ParameterError, match="integers"):
        fast.band(np.zeros(n), np.ones(n))
    with pytest.raises(ParameterError, match="needs a mask"):
        invert_with_residual(tfr, None)


# -- ssqueezepy's issq_stft and fs ---------------------------------------------------

def test_issq_stft_is_fs_times_too_large_where_our_inverse_is_right(rel_error):
    fs = 1000.0
    t = np.arange(2048) / fs
    x = np.cos(2 * np.pi * (40 * t + 30 * t**2)) + 0.5 * np.cos(2 * np.pi * 300 * t)
    tfr = transform(Signal(x, dx=1 / fs), TransformSpec(kind="ssq_stft", n_fft=256))
    assert rel_error(invert(tfr), x) < 1e-6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Tx, *_ = ssqueezepy.ssq_stft(x, "hann", n_fft=256, fs=fs, dtype="float64")
        theirs = ssqueezepy.issq_stft(Tx, "hann", n_fft=256)
    ratio = np.linalg.norm(theirs) / np.linalg.norm(x)
    assert ratio == pytest.approx(fs, rel=0.05)
    assert rel_error(theirs / fs, x) < 0.05
