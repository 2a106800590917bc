"""Tests for app.ridge_dialog: proposals in a worker, checking, accepting as editable bands."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QDialogButtonBox

from app.ridge_dialog import RidgeDialog, describe_band
from core.bands import Band, band_mask
from core.signal import Signal
from core.transforms import TransformSpec, transform

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
    from app.layers import LayerModel

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
