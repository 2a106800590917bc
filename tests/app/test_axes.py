"""Tests for app.axes (labels and read-outs) and the width ticks of LogFrequencyAxis."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasebrush.app.axes import (
    freq_axis_label,
    freq_span_text,
    freq_value_text,
    width_axis_of,
    width_label,
    width_maps,
)
from phasebrush.app.tfr_view import LogFrequencyAxis, format_freq
from phasebrush.core.signal import Signal
from phasebrush.core.tf.feature_width import width_axis
from phasebrush.core.tf.transforms import TransformSpec, transform


@pytest.fixture(scope="module")
def spectrum():
    x = np.arange(500.0, 4000.0, 1.0)
    y = 1.0 - 0.6 * np.exp(-0.5 * ((x - 1700.0) / 10.0) ** 2)
    return Signal(y, dx=1.0, x0=500.0, unit="cm^-1", name="band")


@pytest.fixture(scope="module")
def spectrum_tfr(spectrum):
    return transform(spectrum, TransformSpec(nv=16))


@pytest.fixture(scope="module")
def audio():
    t = np.arange(2048) / 1000.0
    return Signal(np.sin(2 * np.pi * 50 * t), dx=1e-3, name="tone")


def test_width_axis_only_for_a_spectrums_cwt(spectrum, spectrum_tfr, audio):
    axis = width_axis_of(spectrum, spectrum_tfr)
    np.testing.assert_array_equal(axis.widths, width_axis(spectrum_tfr).widths)
    assert width_axis_of(None, spectrum_tfr) is not None            # the TFR's unit decides
    assert width_axis_of(audio, transform(audio, TransformSpec(nv=8))) is None
    stft = transform(spectrum, TransformSpec(kind="stft", n_fft=128, hop=16))
    assert width_axis_of(spectrum, stft) is None
    assert width_axis_of(spectrum, None) is None


def test_labels(spectrum, spectrum_tfr, audio):
    widths = width_axis_of(spectrum, spectrum_tfr)
    assert freq_axis_label(spectrum, "width", widths) == "peak width, FWHM (cm^-1)"
    assert width_label("ppm") == "peak width, FWHM (ppm)"
    assert freq_axis_label(spectrum, "width") == "period (cm^-1)"       # STFT rows
    assert freq_axis_label(spectrum, "frequency", widths) == "cycles per cm^-1"
    assert freq_axis_label(audio, "frequency") == "frequency (Hz)"
    assert freq_axis_label(audio, "width") == "period (s)"
    assert freq_axis_label(None, "width") == "frequency"


def test_read_out_gives_the_calibrated_width(spectrum, spectrum_tfr):
    """A band of FWHM 23.5 cm^-1: its brightest row reads ~23.5, not its period (~63)."""
    widths = width_axis_of(spectrum, spectrum_tfr)
    col = int(1700.0 - spectrum.x0)
    r = int(np.argmax(np.abs(spectrum_tfr.coefficients[1:-1, col]))) + 1
    f = float(spectrum_tfr.frequencies[r])
    text = freq_value_text(f, spectrum, "width", format_freq, widths)
    assert text.startswith("FWHM = ") and text.endswith(" cm^-1")
    assert float(text.split()[2]) == pytest.approx(10.0 * 2.3548, rel=0.05)
    period = freq_value_text(f, spectrum, "width", format_freq)
    assert period.startswith("period = ") and float(period.split()[2]) > 2 * float(text.split()[2])
    assert freq_value_text(f, spectrum, "frequency", format_freq).startswith("f = ")


def test_span_text(spectrum, spectrum_tfr):
    widths = width_axis_of(spectrum, spectrum_tfr)
    f0, f1 = (float(widths.to_frequency(w)) for w in (40.0, 10.0))
    assert freq_span_text(f0, f1, "cm^-1", format_freq, widths) == "FWHM 10–40 cm^-1"
    assert freq_span_text(180.0, 220.0, "s", format_freq) == "180–220 Hz"


def test_width_maps_without_calibration_are_the_period():
    to_w, to_f = width_maps(None)
    assert to_w(0.25) == 4.0 and to_f(4.0) == 0.25
    assert to_w(0.0) == math.inf and to_f(math.inf) == 0.0


def test_axis_ticks_sit_at_round_calibrated_widths(qtbot, spectrum, spectrum_tfr):
    widths = width_axis_of(spectrum, spectrum_tfr)
    axis = LogFrequencyAxis(orientation="left")
    axis.log, axis.period, axis.widths = True, True, widths
    lo, hi = np.log10(spectrum_tfr.frequencies[[1, -2]])
    ticks = [(s, v) for s, vals in axis.tickValues(lo, hi, 400) for v in vals]
    assert ticks
    major = [v for s, v in ticks if s == 1.0]
    labels = axis.tickStrings(major, 1.0, 1.0)
    assert "10" in labels and "100" in labels
    for v, text in zip(major, labels, strict=True):
        # each tick sits where the calibrated width is the round number it shows
        assert float(widths.to_width(10.0 ** v)) == pytest.approx(float(text), rel=1e-6)
    # without the calibration the same ticks would be periods: ~2.7x larger numbers
    axis.widths = None
    assert axis.tickStrings([major[0]], 1.0, 1.0) != [labels[0]]
