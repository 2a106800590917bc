"""Tests for app.ridge_dialog: proposals in a worker, checking, accepting as editable bands."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QDialogButtonBox

from phasebrush.app.ridge_dialog import RidgeDialog, describe_band
from phasebrush.core.signal import Signal
from phasebrush.core.tf.bands import Band, band_mask
from phasebrush.core.tf.transforms import TransformSpec, transform

RATE = 1000.0


@pytest.fixture(scope="module")
def tfr():
    t = np.arange(1024) / RATE
    y = np.sin(2 * np.pi * 40 * t) + 0.8 * np.sin(2 * np.pi * 200 * t)
    return transform(Signal(y, dx=1 / RATE), TransformSpec(kind="cwt", nv=16))


def open_dialog(qtbot, tfr, **kw):
    d = RidgeDialog(tfr, **kw)
    qtbot.addWidget(d)
    with qtbot.waitSignal(d.proposals_ready, timeout=30_000):
        d.show()
    qtbot.waitUntil(lambda: not d.busy, timeout=5000)
    return d


def ok_button(d):
    return d.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_proposes_one_band_per_tone(qtbot, tfr):
    d = open_dialog(qtbot, tfr, k=2)
    assert len(d.bands) == 2 and d.list.count() == 2
    # Away from the ends, each tone's row lies in exactly one band.
    masks = [band_mask(b, tfr)[:, 200:824] for b in d.bands]
    for f in (40.0, 200.0):
        r = int(np.argmin(np.abs(tfr.frequencies - f)))
        assert sum(bool(m[r].all()) for m in masks) == 1, f"no single band around {f} Hz"
    assert "Hz" in d.list.item(0).text() and d.list.item(0).text().startswith("ridge 1")
    assert ok_button(d).isEnabled()
    assert [b.name for b in d.accepted_bands()] == ["ridge 1", "ridge 2"]


def test_unchecking_removes_a_band_and_ok_needs_one(qtbot, tfr):
    d = open_dialog(qtbot, tfr, k=2)
    d.set_checked(0, False)
    assert [b.name for b in d.accepted_bands()] == ["ridge 2"]
    assert ok_button(d).isEnabled()
    d.set_checked(1, False)
    assert d.accepted_bands() == [] and not ok_button(d).isEnabled()
    assert len(d._curves) == 0


def test_settings_are_used(qtbot, tfr):
    d = open_dialog(qtbot, tfr, k=2, bandwidth_rows=3)
    d.k_spin.setValue(1)
    d.bw_spin.setValue(6)
    with qtbot.waitSignal(d.proposals_ready, timeout=30_000):
        d.propose_button.click()
    qtbot.waitUntil(lambda: not d.busy, timeout=5000)
    assert len(d.bands) == 1
    # 6 rows either side at 16 voices: about 2 x 6/16 octave wide where the ridge is flat.
    lo, hi = d.bands[0].freq_span
    assert np.log2(hi / lo) >= 2 * 6 / 16 - 1e-9
    assert "octave" in d.bw_label.text()


def test_accepted_band_is_an_ordinary_editable_band(qtbot, tfr):
    from phasebrush.app.layers import LayerModel

    d = open_dialog(qtbot, tfr, k=1)
    (band,) = d.accepted_bands()
    model = LayerModel()
    model.set_tfr(tfr)
    lay = model.add_band(band.upper, band.lower, name=band.name, color=band.color)
    assert lay.is_band and lay.name == "ridge 1"
    np.testing.assert_array_equal(lay.mask, band_mask(band, tfr))
    upper = lay.upper.copy()
    upper[:, 1] *= 1.1
    model.set_band_edges(0, upper, lay.lower)  # edit it like any band
    assert model[0].upper[0, 1] == pytest.approx(band.upper[0, 1] * 1.1)


def test_describe_band_for_a_spectrum():
    b = Band.rectangle(1000.0, 1200.0, 0.01, 0.02, name="ridge 1")
    text = describe_band(b, "cm^-1")
    assert "cycles/cm^-1" in text and "1000–1200 cm^-1" in text


# -- spectra: rows are peak widths, ridges sit on peaks -------------------------------
@pytest.fixture(scope="module")
def spectrum_tfr():
    from phasebrush.core.io.demo import demo_signal

    return transform(demo_signal("ir"), TransformSpec())


def test_a_spectrum_dialog_speaks_in_peak_widths(qtbot, spectrum_tfr):
    from phasebrush.app.axes import width_axis_of
    from phasebrush.app.tfr_view import format_freq
    from phasebrush.core.analysis.ridges import DEFAULT_MAX_WIDTH_FRACTION

    d = open_dialog(qtbot, spectrum_tfr, k=2)
    assert d.widths is not None
    assert d.plot.getAxis("left").labelText == "peak width, FWHM (cm^-1)"
    assert d._axis.period and d._axis.widths is d.widths
    # detected: the ethanol file holds transmittance, its peaks point down
    assert d.polarity_combo.currentText() == "detect (down)"
    span = spectrum_tfr.n_samples * spectrum_tfr.dx
    assert d.max_width_spin.value() == pytest.approx(DEFAULT_MAX_WIDTH_FRACTION * span, rel=1e-3)
    assert d.max_width_spin.suffix() == " cm^-1" and d.baseline_check.isChecked()
    assert "in peak width each side" in d.bw_label.text()
    text = d.list.item(0).text()
    assert text.startswith("ridge 1: FWHM ") and "cycles" not in text and "cm^-1" in text
    assert "pointing down" in d.status.text() and "baseline removed" in d.status.text()
    # the list's widths are the band's rows' calibrated widths
    band = d.bands[0]
    widths = width_axis_of(None, spectrum_tfr)
    lo_w, hi_w = sorted(float(widths.to_width(f)) for f in band.freq_span)
    assert f"FWHM {format_freq(lo_w)}–{format_freq(hi_w)} cm^-1" in text
    assert hi_w <= 2 * d.max_width_spin.value()


def test_spectrum_proposals_follow_the_controls(qtbot, spectrum_tfr):
    from phasebrush.core.tf.feature_width import width_axis

    d = open_dialog(qtbot, spectrum_tfr, k=1)
    d.max_width_spin.setValue(60.0)
    d.baseline_check.setChecked(False)
    d.polarity_combo.setCurrentIndex(2)                      # down
    search = d.peak_search()
    assert (search.polarity, search.max_width, search.baseline) == ("down", 60.0, False)
    with qtbot.waitSignal(d.proposals_ready, timeout=30_000):
        d.propose_button.click()
    qtbot.waitUntil(lambda: not d.busy, timeout=5000)
    assert "FWHM up to 60 cm^-1" in d.status.text() and "baseline" not in d.status.text()
    # the ridge stays on rows no wider than 60 (the band adds its half-width around it)
    widths = width_axis(spectrum_tfr)
    f_mid = np.sqrt(np.prod(d.bands[0].freq_span))
    assert float(widths.to_width(f_mid)) < 60.0 * 2 ** (d.bw_spin.value() / 32)


def test_audio_dialog_keeps_frequency_and_no_peak_controls(qtbot, tfr):
    d = open_dialog(qtbot, tfr, k=1)
    assert d.widths is None and d.peak_search() is None
    assert d.plot.getAxis("left").labelText == "frequency (Hz)"
    assert "octave" in d.bw_label.text()


def test_describe_band_in_peak_widths(spectrum_tfr):
    from phasebrush.app.axes import width_axis_of

    widths = width_axis_of(None, spectrum_tfr)
    f_hi, f_lo = float(widths.to_frequency(10.0)), float(widths.to_frequency(40.0))
    b = Band.rectangle(1000.0, 1200.0, f_lo, f_hi, name="ridge 1")
    assert describe_band(b, "cm^-1", widths) == "ridge 1: FWHM 10–40 cm^-1, 1000–1200 cm^-1"
