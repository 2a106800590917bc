"""Tests for core.io.demo."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from phasebrush.core.errors import LoadError, ParameterError
from phasebrush.core.io import demo
from phasebrush.core.io.demo import DEMOS, demo_signal, resource_path


def test_every_listed_demo_loads():
    assert set(DEMOS) == {"chirp", "speech", "ir"}
    for name in DEMOS:
        sig = demo_signal(name)
        assert sig.n > 1000 and np.isfinite(sig.y).all() and np.ptp(sig.y) > 0


def test_chirp_is_the_seed_signal():
    sig = demo_signal("chirp")
    assert sig.n == 2048 and sig.rate == 2048.0 and sig.unit == "s" and sig.x0 == 0.0
    assert sig.name == "Exponential chirp (demo)"
    t = np.arange(2048) / 2048
    expected = scipy.signal.chirp(t, f0=1, t1=t[-1], f1=1024, method="logarithmic") + 1
    np.testing.assert_array_equal(sig.y, expected)
    # exponential sweep: the zero crossings of y - 1 crowd together towards the end
    crossings = np.flatnonzero(np.diff(np.sign(sig.y - 1)))
    assert np.sum(crossings > 1024) > 10 * np.sum(crossings < 1024)


def test_speech_demo():
    sig = demo_signal("speech")
    assert sig.rate == 16000 and sig.unit == "s" and sig.n == 64000
    assert sig.source.name == "arctic_a0007.wav"
    assert np.max(np.abs(sig.y)) <= 1.0


def test_ir_demo():
    sig = demo_signal("ir")
    assert sig.unit == "cm^-1" and sig.n == 3570 and sig.y_unit == "transmittance"
    assert sig.source.name == "ethanol.jdx"


def test_unknown_demo_lists_the_choices():
    with pytest.raises(ParameterError, match="chirp, speech, ir"):
        demo_signal("violin")


def test_missing_resource_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "RESOURCES", tmp_path)
    with pytest.raises(LoadError, match="resource file is missing"):
        demo_signal("speech")
    with pytest.raises(LoadError, match="arctic_a0007.wav"):
        resource_path("demo", "arctic_a0007.wav")
