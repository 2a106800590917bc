"""Tests for app.coherence_view: the computation, the images, failures, queued requests."""

from __future__ import annotations

import numpy as np
import pytest

from phasebrush.app.coherence_view import CoherenceView, compute_coherence, energy_opacity
from phasebrush.core.signal import Signal
from phasebrush.core.tf.masks import inner_rows
from phasebrush.core.tf.transforms import TransformSpec

RATE = 1000.0
SPEC = TransformSpec(kind="cwt", nv=12)


@pytest.fixture(scope="module")
def signal():
    t = np.arange(512) / RATE
    return Signal(np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 180 * t), dx=1 / RATE)


def scrambled(signal, seed=0):
    """The same tones with randomly wandering phases: a bad reconstruction.

    (A constant phase error would not do: coherence ignores constant offsets.)
    """
    rng = np.random.default_rng(seed)
    t = np.arange(signal.n) / RATE
    walk = np.cumsum(rng.normal(0.0, 0.6, (2, signal.n)), axis=1)
    return np.sin(2 * np.pi * 50 * t + walk[0]) + 0.5 * np.sin(2 * np.pi * 180 * t + walk[1])


def test_identical_signals_are_coherent(signal):
    r = compute_coherence(signal, signal.y, SPEC)
    assert r.coherence.shape == r.tfr.shape == r.phase.shape
    assert r.mean_coherence > 0.99
    a, b = inner_rows(r.tfr)
    strong = energy_opacity(r.tfr) == 1.0
    strong[:a] = strong[b:] = False
    assert np.all(np.abs(r.phase[strong]) < 1e-6)


def test_scrambled_phase_lowers_the_coherence(signal):
    good = compute_coherence(signal, signal.y, SPEC).mean_coherence
    bad = compute_coherence(signal, scrambled(signal), SPEC).mean_coherence
    assert bad < good - 0.2


def test_a_delay_shows_as_phase(signal):
    d = 2  # samples: y is x delayed, so x leads and the phase is positive
    y = np.r_[np.zeros(d), signal.y[:-d]]
    r = compute_coherence(signal, y, SPEC)
    row = int(np.argmin(np.abs(r.tfr.frequencies - 50)))
    mid = slice(150, 350)
    np.testing.assert_allclose(r.phase[row, mid], 2 * np.pi * r.tfr.frequencies[row] * d / RATE,
                               atol=0.05)


def test_stft_spec_falls_back_to_a_cwt(signal):
    r = compute_coherence(signal, signal.y, TransformSpec(kind="stft", n_fft=64))
    assert r.tfr.spec.kind == "cwt"


def test_view_computes_in_a_worker_and_shows_the_result(qtbot, signal):
    v = CoherenceView()
    qtbot.addWidget(v)
    v.show()
    with qtbot.waitSignal(v.computed, timeout=30_000):
        v.compare(signal, scrambled(signal), SPEC, label="retrieval")
    qtbot.waitUntil(lambda: not v.busy, timeout=5000)
    assert f"{v.result.mean_coherence:.3f}" in v.summary.text()
    assert "retrieval" in v.summary.text()
    img = v.coh_image.image
    assert img.shape == v.result.tfr.shape + (4,)
    # Hidden where the original has no energy, opaque where it has.
    shown = energy_opacity(v.result.tfr)
    assert np.all(img[..., 3][shown == 0] == 0) and np.all(img[..., 3][shown == 1] == 255)
    assert (shown == 0).any() and (shown == 1).any()
    assert v.coh_plot.getAxis("left").labelText.startswith("frequency")


def test_a_second_request_waits_and_wins(qtbot, signal):
    v = CoherenceView()
    qtbot.addWidget(v)
    v.compare(signal, signal.y, SPEC, label="first")
    v.compare(signal, scrambled(signal), SPEC, label="second")
    qtbot.waitUntil(lambda: v.result is not None and v.result.label == "second" and not v.busy,
                    timeout=30_000)
    assert v.result.mean_coherence < 0.9


def test_failure_is_reported(qtbot, signal):
    v = CoherenceView()
    qtbot.addWidget(v)
    with qtbot.waitSignal(v.failed, timeout=30_000) as blocker:
        v.compare(signal, np.zeros(10), SPEC)
    assert "10 samples" in blocker.args[0]
    assert "10 samples" in v.summary.text()
    qtbot.waitUntil(lambda: not v.busy, timeout=5000)
    assert v.result is None
