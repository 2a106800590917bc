"""Tests for core.playback (no audio device needed)."""

import numpy as np
import pytest

from phasebrush.core.errors import ParameterError
from phasebrush.core.playback import (
    ABState,
    PlaySource,
    device_rate_candidates,
    nearest_rate,
    normalise_for_playback,
    playback_peak,
    position_in,
    resample_for_device,
    sonify,
)
from phasebrush.core.signal import Signal


def test_device_rate_candidates_from_a_range():
    assert device_rate_candidates(8000, 48000) == (8000, 11025, 16000, 22050, 24000, 32000,
                                                   44100, 48000)
    assert 37800 in device_rate_candidates(8000, 48000, preferred=37800)
    assert device_rate_candidates(12000, 12500) == (12000, 12500)
    with pytest.raises(ParameterError):
        device_rate_candidates(48000, 8000)


def test_nearest_rate():
    assert nearest_rate(44100, [48000, 44100]) == 44100
    assert nearest_rate(22050, [44100, 48000]) == 44100
    assert nearest_rate(46050, [44100, 48000]) == 48000  # tie -> higher
    assert nearest_rate(8000, [44100, 48000]) == 44100


@pytest.mark.parametrize("rate,device", [(22050, 48000), (44100, 48000), (48000, 44100),
                                         (1234.5, 8000)])
def test_resample_keeps_frequency_and_duration(rate, device):
    n = int(rate * 0.5)
    f = 0.05 * rate  # well below either Nyquist
    y = np.sin(2 * np.pi * f * np.arange(n) / rate)
    y2, r2 = resample_for_device(y, rate, [device])
    assert r2 == device
    assert abs(y2.size / r2 - n / rate) < 2 / min(r2, rate)
    # Same tone at the new rate (away from the filter's edge transients)
    t2 = np.arange(y2.size) / r2
    core = slice(y2.size // 8, -y2.size // 8)
    ref = np.sin(2 * np.pi * f * t2)
    assert np.max(np.abs(y2[core] - ref[core])) < 0.02


def test_resample_is_identity_at_a_supported_rate():
    y = np.random.default_rng(0).standard_normal(100)
    y2, r2 = resample_for_device(y, 48000, [44100, 48000])
    assert r2 == 48000 and np.array_equal(y2, y) and y2 is not y


def test_normalise_for_playback_levels():
    y = np.array([0.0, 2.0, -4.0, 1.0])
    out = normalise_for_playback(y, headroom_db=6.0)
    assert out.dtype == np.float32
    assert np.isclose(np.max(np.abs(out)), 10 ** (-6 / 20), rtol=1e-6)
    assert np.allclose(out / out[2], y / y[2])
    assert not normalise_for_playback(np.zeros(5)).any()
    assert np.isclose(normalise_for_playback(y + 10, remove_mean=True).mean(), 0, atol=1e-6)


def test_shared_peak_keeps_ab_loudness_difference():
    a = np.sin(np.linspace(0, 20, 500))
    b = 0.5 * a
    peak = playback_peak(a, b)
    ga, gb = (normalise_for_playback(v, peak=peak) for v in (a, b))
    assert np.isclose(np.max(np.abs(gb)) / np.max(np.abs(ga)), 0.5, rtol=1e-5)
    louder = normalise_for_playback(3 * a, peak=peak, headroom_db=0)
    assert np.max(np.abs(louder)) <= 1.0


def test_sonify_needs_explicit_rate_for_non_audio():
    spectrum = Signal(np.linspace(0, 1, 300) ** 2 + 5, dx=2.0, x0=400, unit="cm^-1")
    with pytest.raises(ParameterError, match="rate"):
        sonify(spectrum)
    with pytest.raises(ParameterError, match="rate"):
        sonify(spectrum.y)
    with pytest.raises(ParameterError, match="rate"):
        sonify(spectrum, -5)
    y, rate = sonify(spectrum, 8000)
    assert rate == 8000 and y.dtype == np.float32 and y.size == spectrum.n
    assert np.max(np.abs(y)) <= 1 and abs(y[0]) < 1e-3 and abs(y[-1]) < 1e-3


def test_sonify_audio_uses_own_rate():
    s = Signal(np.sin(np.arange(1000) * 0.3), dx=1 / 16000)
    _, rate = sonify(s)
    assert rate == pytest.approx(16000)


def test_position_in_keeps_time_across_rates_and_offsets():
    a = PlaySource("original", 44100, 44100)
    b = PlaySource("reconstruction", 24000, 48000)  # 0.5 s only
    c = PlaySource("band", 16000, 16000, t0=0.25)
    assert position_in(22050, a, b) == 24000          # 0.5 s -> end of b
    assert position_in(11025, a, b) == 12000          # 0.25 s
    assert position_in(11025, a, c) == 0              # band starts at 0.25 s
    assert position_in(22050, a, c) == 4000
    assert position_in(40000, a, b) == b.n_samples    # past the end of the shorter one


def test_ab_state_switches_at_same_time_and_advances():
    st = ABState((PlaySource("A", 1000, 1000), PlaySource("B", 4000, 2000)))
    st = st.advance(300)
    assert st.time == pytest.approx(0.3)
    st = st.toggle()
    assert st.active == 1 and st.position == 600 and st.time == pytest.approx(0.3)
    st = st.advance(1000).toggle()
    assert st.active == 0 and st.time == pytest.approx(0.8)
    end = st.advance(10_000)
    assert end.finished and end.position == 1000
    looped = ABState(st.sources, active=0, position=900, loop=True).advance(250)
    assert looped.position == 150 and not looped.finished
    assert st.seek(0.45).position == 450
    with pytest.raises(ParameterError):
        st.switch(5)
