"""Tests for core.tf.feature_width: CWT rows labelled with the FWHM of the peaks they see."""

import numpy as np
import pytest

from phasebrush.core.errors import ParameterError
from phasebrush.core.signal import Signal
from phasebrush.core.tf.feature_width import (
    FWHM_PER_SIGMA,
    frequency_to_width,
    has_width_axis,
    scale_width_ratio,
    width_axis,
    width_constant,
    width_to_frequency,
)
from phasebrush.core.tf.masks import inner_rows
from phasebrush.core.tf.transforms import TransformSpec, cwt_filterbank, transform

WAVELETS = {
    "gmw": TransformSpec(),
    "gmw-tb60": TransformSpec(time_bandwidth=60.0),
    "morlet": TransformSpec(wavelet="morlet"),
    "bump": TransformSpec(wavelet="bump"),
}
FWHMS = (8.0, 30.0, 120.0)
DX = 0.5                                   # x-units per sample
CENTRES = (1000.0, 2200.0, 4200.0)         # x-units; far apart for the widest wavelets


def _gaussian(x, centre, fwhm, height=1.0):
    sigma = fwhm / FWHM_PER_SIGMA
    return height * np.exp(-0.5 * ((x - centre) / sigma) ** 2)


def _three_peaks() -> Signal:
    """Peaks of FWHM 8, 30, 120 cm^-1 on a flat baseline of 2, 0..6000 cm^-1."""
    x = np.arange(0.0, 6000.0, DX)
    y = 2.0 + sum(_gaussian(x, c, w) for c, w in zip(CENTRES, FWHMS, strict=True))
    return Signal(y, dx=DX, x0=0.0, unit="cm^-1", name="three peaks")


@pytest.mark.parametrize("name", list(WAVELETS))
def test_brightest_row_at_a_peak_is_labelled_with_its_fwhm(name):
    """The issue's "done means": within 10 % (measured: 0.3-4.1 %; the widest peak
    is pulled by its neighbours under the long GMW and Morlet wavelets)."""
    sig = _three_peaks()
    tfr = transform(sig, WAVELETS[name])
    axis = width_axis(tfr)
    assert axis.from_scales
    a, b = inner_rows(tfr)                 # edge rows are not wavelets (they carry the baseline)
    for centre, fwhm in zip(CENTRES, FWHMS, strict=True):
        col = int(round((centre - sig.x0) / DX))
        r = a + int(np.argmax(np.abs(tfr.coefficients[a:b, col])))
        assert axis.widths[r] == pytest.approx(fwhm, rel=0.10), (name, fwhm, axis.widths[r])


@pytest.mark.parametrize("name", list(WAVELETS))
@pytest.mark.parametrize("fwhm", FWHMS)
def test_an_isolated_peak_is_labelled_to_a_fraction_of_a_row(name, fwhm):
    """Alone on its baseline, a peak's brightest row (interpolated between rows) has
    the peak's FWHM to 0.5 % (measured: <= 0.1 %)."""
    # 12000 x-units: the bump's slowly decaying tails (compact in frequency) reach
    # the reflect padding's mirror images of a wide peak on a shorter axis
    x = np.arange(0.0, 12000.0, DX)
    sig = Signal(2.0 + _gaussian(x, 6000.0, fwhm), dx=DX, unit="cm^-1")
    tfr = transform(sig, WAVELETS[name])
    widths = width_axis(tfr).widths
    a, b = inner_rows(tfr)
    m = np.abs(tfr.coefficients[a:b, int(6000.0 / DX)])
    r = int(np.argmax(m))
    y0, y1, y2 = np.log(m[r - 1:r + 2])
    d = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)          # parabola through the top three rows
    w = np.exp(np.log(widths[a + r]) + d * np.log(widths[a + r + 1] / widths[a + r]))
    assert w == pytest.approx(fwhm, rel=0.005)


@pytest.mark.parametrize("name", list(WAVELETS))
def test_best_row_scales_as_one_over_width_on_the_actual_filters(name):
    """The argmax row of the real filterbank, interpolated, gives w * s = const (1/w law)."""
    spec = WAVELETS[name]
    fb = cwt_filterbank(spec, 8192, dx=1.0)
    psi, s = fb.psi[1:-1], fb.scales[1:-1]
    nu = np.fft.fftfreq(fb.n_pad)
    kappas = []
    for w in np.geomspace(4.0, 120.0, 8):
        g = np.exp(-0.5 * (2 * np.pi * nu * w / FWHM_PER_SIGMA) ** 2)  # the peak's spectrum
        resp = psi @ g
        i = int(np.argmax(resp))
        y0, y1, y2 = np.log(resp[i - 1:i + 2])
        d = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
        log_s = np.log(s[i]) + d * np.log(s[i + 1] / s[i])
        kappas.append(w / np.exp(log_s))
    kappas = np.array(kappas)
    # measured spread: 2e-5 (GMW) .. 3e-3 (bump, whose widest rows have few bins)
    assert np.ptp(kappas) / kappas.mean() < 5e-3
    assert kappas.mean() == pytest.approx(scale_width_ratio(spec), rel=2e-3)


@pytest.mark.parametrize("name", list(WAVELETS))
def test_width_constant_is_near_the_narrow_band_limit(name):
    # omega_p sigma = 1  ->  w f = FWHM_PER_SIGMA / (2 pi) = 0.3748
    c = width_constant(WAVELETS[name])
    assert c == pytest.approx(FWHM_PER_SIGMA / (2 * np.pi), rel=0.02)


def test_frequency_and_width_round_trip():
    spec = TransformSpec()
    f = np.geomspace(1e-3, 0.5, 7)
    w = frequency_to_width(f, spec)
    assert w.shape == f.shape and np.all(np.diff(w) < 0)
    np.testing.assert_allclose(width_to_frequency(w, spec), f, rtol=1e-12)
    assert frequency_to_width(0.0, spec) == np.inf
    with pytest.raises(ParameterError, match="widths must be > 0"):
        width_to_frequency(-1.0, spec)


def test_width_axis_maps_rows_both_ways():
    sig = _three_peaks()
    tfr = transform(sig, TransformSpec(nv=16))
    axis = width_axis(tfr)
    assert axis.widths.shape == (tfr.n_rows,)
    assert np.all(np.isfinite(axis.widths)) and np.all(np.diff(axis.widths) < 0)
    np.testing.assert_allclose(axis.to_width(tfr.frequencies), axis.widths, rtol=1e-12)
    np.testing.assert_allclose(axis.to_frequency(axis.widths), tfr.frequencies, rtol=1e-12)
    # beyond the rows: w * f is kept
    f_out = tfr.frequencies[-1] * 2
    assert axis.to_width(f_out) * f_out == pytest.approx(axis.widths[-1] * tfr.frequencies[-1])
    assert axis.to_width(0.0) == np.inf and axis.to_frequency(np.inf) == 0.0
    # the labels drift from omega_p / (2 pi s) at the ends; c / f would be off there
    drift = axis.widths * tfr.frequencies / axis.constant
    assert 0.85 < drift.min() < 1.0 < drift.max() < 1.15


def test_ssq_cwt_falls_back_to_c_over_f():
    sig = _three_peaks()
    tfr = transform(sig, TransformSpec(kind="ssq_cwt", nv=16))
    axis = width_axis(tfr)
    assert not axis.from_scales
    np.testing.assert_allclose(axis.widths * tfr.frequencies, axis.constant, rtol=1e-12)


def test_stft_has_no_width_axis():
    sig = _three_peaks()
    tfr = transform(sig, TransformSpec(kind="stft", n_fft=256, hop=64))
    with pytest.raises(ParameterError, match="CWT kind"):
        width_axis(tfr)
    with pytest.raises(ParameterError, match="CWT kind"):
        width_constant(TransformSpec(kind="stft"))


@pytest.mark.parametrize("spec, unit, expected", [
    (TransformSpec(), "cm^-1", True), (TransformSpec(kind="ssq_cwt"), "ppm", True),
    (TransformSpec(), "", True), (TransformSpec(), "s", False),
    (TransformSpec(kind="stft"), "cm^-1", False), (None, "cm^-1", False),
])
def test_has_width_axis(spec, unit, expected):
    assert has_width_axis(spec, unit) is expected
