"""LongTFR: the grid of a transform without its coefficients, and when to use it."""

from dataclasses import replace

import numpy as np
import pytest

from phasebrush.core.engine.long_tfr import (
    LongTFR,
    document_bytes,
    long_spec,
    long_tfr,
    needs_long_mode,
)
from phasebrush.core.errors import ParameterError
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform


@pytest.mark.parametrize("spec", [TransformSpec(kind="cwt", nv=8, fmin=50.0),
                                  TransformSpec(kind="cwt", nv=8, edge_rows=False),
                                  TransformSpec(kind="stft", n_fft=128)])
def test_the_grid_is_the_whole_transforms(spec):
    rng = np.random.default_rng(0)
    sig = Signal(rng.standard_normal(6000), dx=1 / 4000, x0=2.5, unit="s")
    tfr = transform(sig, spec)
    g = long_tfr(sig, spec)
    assert isinstance(g, LongTFR) and g.is_long and g.shape == tfr.shape
    np.testing.assert_allclose(g.frequencies, tfr.frequencies, rtol=1e-12)
    np.testing.assert_allclose(g.row_weights, tfr.row_weights, rtol=1e-12)
    assert g.offset == pytest.approx(tfr.offset) and g.edge_row_indices == tfr.edge_row_indices
    np.testing.assert_allclose(g.column_times(100, 110), tfr.times[100:110])
    np.testing.assert_allclose(g.time_to_col(tfr.times[[0, 77]]), [0, 77])
    grid = g.grid(10, 20, 3)
    np.testing.assert_allclose(grid.times, tfr.times[10:20:3])


@pytest.mark.parametrize("spec", [TransformSpec(kind="ssq_cwt", nv=8),
                                  TransformSpec(kind="ssq_cwt", nv=8, fmin=50.0,
                                                edge_rows=False),
                                  TransformSpec(kind="ssq_stft", n_fft=128)])
def test_the_ssq_grid_is_the_whole_transforms(spec):
    # the squeezed rows' frequencies and weights, not the plain transform's
    rng = np.random.default_rng(1)
    sig = Signal(rng.standard_normal(6000) + 0.5, dx=1 / 4000, x0=1.0, unit="s")
    tfr = transform(sig, spec)
    g = long_tfr(sig, spec)
    assert g.shape == tfr.shape and g.hop == 1
    np.testing.assert_allclose(g.frequencies, tfr.frequencies, rtol=1e-12)
    np.testing.assert_allclose(g.row_weights, tfr.row_weights, rtol=1e-12)
    assert g.offset == pytest.approx(tfr.offset) and g.edge_row_indices == tfr.edge_row_indices
    np.testing.assert_allclose(g.column_times(0, 5), tfr.times[:5])
    if spec.kind == "ssq_cwt":
        # the squeezed rows' weights are not the plain CWT's
        plain = long_tfr(sig, replace(spec, kind="cwt"))
        assert not np.allclose(plain.row_weights, g.row_weights)


def test_kinds_without_a_block_path_are_refused():
    sig = Signal(np.zeros(5000), dx=1.0)
    with pytest.raises(ParameterError, match="block by block"):
        long_tfr(sig, TransformSpec(kind="stft", hop=4))
    with pytest.raises(ParameterError, match="larger than the signal"):
        long_tfr(Signal(np.zeros(100), dx=1.0), TransformSpec(kind="ssq_stft", n_fft=256))


def test_when_a_document_goes_long():
    fs = 44100.0
    assert document_bytes(65536, TransformSpec(), 1 / 16000) < 3 << 30
    assert not needs_long_mode(65536, TransformSpec(), 1 / 16000)
    assert needs_long_mode(int(600 * fs), TransformSpec(), 1 / fs)
    assert needs_long_mode(int(60 * fs), TransformSpec(kind="stft"), 1 / fs)
    assert not needs_long_mode(int(600 * fs), TransformSpec(kind="stft", hop=64), 1 / fs)
    assert not needs_long_mode(int(600 * fs), TransformSpec(), 1 / fs, above_bytes=1 << 50)
    assert not needs_long_mode(3, TransformSpec(), 1.0)   # the transform will say why
    assert long_spec(TransformSpec(), "s", 1 / fs).fmin == 20.0
    assert long_spec(TransformSpec(kind="ssq_cwt"), "s", 1 / fs).fmin == 20.0
    assert needs_long_mode(int(600 * fs), TransformSpec(kind="ssq_cwt"), 1 / fs)
    assert long_spec(TransformSpec(), "s", 1 / 100.0).fmin is None    # 50 Hz Nyquist
    assert long_spec(TransformSpec(kind="stft"), "s", 1 / fs).fmin is None


def test_the_speech_demo_goes_long_in_ssq_cwt_only():
    # issue 10: the 4-s speech demo (16 kHz, 64000 samples) in SSQ-CWT goes long, before
    # and after long_spec's 20 Hz; its plain CWT / STFT and a default SSQ-STFT stay whole
    n, dx = 64000, 1 / 16000
    ssq = TransformSpec(kind="ssq_cwt")
    assert needs_long_mode(n, ssq, dx)
    assert needs_long_mode(n, long_spec(ssq, "s", dx), dx)
    for spec in (TransformSpec(), TransformSpec(kind="stft"), TransformSpec(kind="ssq_stft")):
        assert not needs_long_mode(n, spec, dx)
    assert needs_long_mode(n, TransformSpec(kind="ssq_stft", n_fft=1024), dx)
    # the rule: a third of the limit for the SSQ kinds, whose whole path holds Wx, dWx, Tx
    b = document_bytes(n, ssq, dx)
    assert needs_long_mode(n, ssq, dx, above_bytes=3 * b - 3)
    assert not needs_long_mode(n, ssq, dx, above_bytes=3 * b + 3)
    assert needs_long_mode(n, ssq, dx, above_bytes=0)
    assert not needs_long_mode(n, ssq, dx, above_bytes=1 << 50)
    # the document's estimate holds the squeeze's transients: ~3x the coefficients
    rows = long_tfr(Signal(np.zeros(n), dx=dx), ssq).n_rows
    assert 3 * 16 * rows * n < b < 2.5 * (1 << 30)
    assert needs_long_mode(int(20 * 16000), TransformSpec(kind="ssq_stft"), 1 / 16000)
