"""Tests for core.analysis.coherence."""

import numpy as np
import pytest

from phasebrush.core.analysis.coherence import (
    coherence_from_tfrs,
    default_scale_rows,
    wavelet_coherence,
)
from phasebrush.core.errors import ParameterError, ShapeError
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform

RATE = 1000.0
N = 1024
SPEC = TransformSpec(kind="cwt", nv=12)


@pytest.fixture(scope="module")
def noise():
    rng = np.random.default_rng(3)
    return rng.standard_normal(N), rng.standard_normal(N)


def test_identical_signals_are_fully_coherent_in_phase(noise):
    x, _ = noise
    coh, phase = wavelet_coherence(x, x, SPEC, dx=1 / RATE)
    tfr = transform(Signal(x, dx=1 / RATE), SPEC)
    assert coh.shape == phase.shape == tfr.shape
    assert coh.min() > 1 - 1e-9 and coh.max() <= 1
    assert np.abs(phase).max() < 1e-9


def test_independent_noise_is_incoherent(noise):
    x, z = noise
    coh, _ = wavelet_coherence(Signal(x, dx=1 / RATE), Signal(z, dx=1 / RATE), SPEC)
    assert 0 <= coh.min() and coh.max() <= 1
    assert coh.mean() < 0.4
    # more smoothing, less chance agreement
    coh_wide, _ = wavelet_coherence(x, z, SPEC, dx=1 / RATE, time_cycles=4)
    assert coh_wide.mean() < coh.mean()


def test_delayed_copy_phase_grows_with_frequency(noise):
    x, _ = noise
    d = 2  # samples: y lags x
    y = np.r_[np.zeros(d), x[:-d]]
    coh, phase = wavelet_coherence(x, y, SPEC, dx=1 / RATE)
    tfr = transform(Signal(x, dx=1 / RATE), SPEC)
    f = tfr.frequencies
    interior = slice(N // 5, -N // 5)
    rows = (f > 5) & (f < 120)  # 2 pi f d / RATE well inside (0, pi)
    med = np.median(phase[rows][:, interior], axis=1)
    assert np.all(med > 0)
    assert np.polyfit(f[rows], med, 1)[0] > 0  # x leads: positive slope
    # the row frequency is nominal: the wavelet-weighted noise sits a little off it
    np.testing.assert_allclose(med, 2 * np.pi * f[rows] * d / RATE, rtol=0.2, atol=0.05)
    assert np.median(coh[rows][:, interior]) > 0.95
    # swapping the roles flips the sign
    _, back = wavelet_coherence(y, x, SPEC, dx=1 / RATE)
    assert np.all(np.median(back[rows][:, interior], axis=1) < 0)


def test_silence_gives_zero_coherence_not_nan(noise):
    x, _ = noise
    coh, phase = wavelet_coherence(x, np.zeros(N), SPEC, dx=1 / RATE)
    assert np.all(np.isfinite(coh)) and not coh.any() and np.all(np.isfinite(phase))


def test_bad_inputs(noise):
    x, z = noise
    with pytest.raises(ShapeError):
        wavelet_coherence(x, z[:-1], SPEC)
    with pytest.raises(ParameterError, match="CWT"):
        wavelet_coherence(x, z, TransformSpec(kind="stft", n_fft=64))
    with pytest.raises(ParameterError, match="spacing"):
        wavelet_coherence(Signal(x, dx=1.0), Signal(z, dx=0.5), SPEC)
    a = transform(Signal(x[:256]), SPEC)
    b = transform(Signal(z[:256]), TransformSpec(kind="cwt", nv=16))
    with pytest.raises((ShapeError, ParameterError)):
        coherence_from_tfrs(a, b)
    with pytest.raises(ParameterError):
        coherence_from_tfrs(a, a, time_cycles=0)
    assert default_scale_rows(SPEC) % 2 == 1
