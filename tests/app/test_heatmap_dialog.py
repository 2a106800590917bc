"""Tests for app.heatmap_dialog: load, resample, threshold, preview, bad files."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialogButtonBox

from phasebrush.app.heatmap_dialog import HeatmapDialog, smoothing_samples
from phasebrush.core.analysis.attribution import heatmap_to_mask, threshold_mask
from phasebrush.core.analysis.heatmap import colormap_table, load_heatmap
from phasebrush.core.signal import Signal
from phasebrush.core.tf.inversion import invert
from phasebrush.core.tf.masks import fill_polygon, inner_rows
from phasebrush.core.tf.transforms import TransformSpec, transform

RATE = 1000.0


@pytest.fixture(scope="module")
def signal():
    t = np.arange(1024) / RATE
    return Signal(np.sin(2 * np.pi * 40 * t) + np.sin(2 * np.pi * 200 * t), dx=1 / RATE)


@pytest.fixture(scope="module")
def tfr(signal):
    return transform(signal, TransformSpec(kind="cwt", nv=16))


@pytest.fixture
def hand(tfr):
    """A lasso painted by hand over the 200 Hz tone, on the transform's grid."""
    r200 = int(np.argmin(np.abs(tfr.frequencies - 200)))
    return fill_polygon(np.zeros(tfr.shape, bool),
                        [(r200 - 9, 300), (r200 + 7, 340), (r200 + 10, 700), (r200 - 6, 650)])


@pytest.fixture
def dialog(qtbot, tfr, signal):
    d = HeatmapDialog(tfr, signal=signal, allow_soft=True)
    qtbot.addWidget(d)
    d.show()
    return d


def ok_button(d):
    return d.buttons.button(QDialogButtonBox.StandardButton.Ok)


def save_gray_png(path, img):
    """An 8-bit grayscale PNG of ``img`` in [0, 1] (row 0 = top), written by Qt."""
    a = np.ascontiguousarray(np.round(img * 255).astype(np.uint8))
    q = QImage(a.data, a.shape[1], a.shape[0], a.shape[1], QImage.Format.Format_Grayscale8)
    assert q.copy().save(str(path), "PNG")


def test_heatmap_of_other_shape_inverts_like_the_hand_painted_mask(qtbot, dialog, tfr, hand,
                                                                   tmp_path):
    a, b = inner_rows(tfr)
    # The same picture as a saliency map of another shape and scale, saved the image way up.
    heat = np.repeat(np.repeat(hand[a:b].astype(float), 2, axis=0), 3, axis=1)
    np.save(tmp_path / "gradcam.npy", 5.0 * heat[::-1])
    assert dialog.load(tmp_path / "gradcam.npy")
    assert dialog.heatmap.shape == (2 * (b - a), 3 * tfr.n_frames)
    dialog.set_threshold(0.5)
    dialog.update_preview()
    m = dialog.mask()
    assert m.dtype == bool and m.shape == tfr.shape
    np.testing.assert_array_equal(m, hand)
    np.testing.assert_array_equal(invert(tfr, m), invert(tfr, hand))
    np.testing.assert_array_equal(dialog.inversion, invert(tfr, hand))
    assert ok_button(dialog).isEnabled()
    assert "gradcam" in dialog.layer_name() and "0.50" in dialog.layer_name()


def test_threshold_slider_rethresholds_the_preview(qtbot, dialog, tfr, tmp_path):
    # A smooth ramp in time: the threshold decides how much of the signal is kept.
    ramp = np.tile(np.linspace(0, 1, 50), (20, 1))
    np.save(tmp_path / "ramp.npy", ramp)
    assert dialog.load(tmp_path / "ramp.npy")
    counts = []
    for v in (20, 60, 90):
        with qtbot.waitSignal(dialog.preview_updated, timeout=3000):
            dialog.slider.setValue(v)
        assert dialog.threshold == pytest.approx(v / 100)
        expected = threshold_mask(heatmap_to_mask(load_heatmap(tmp_path / "ramp.npy"), tfr),
                                  v / 100)
        np.testing.assert_array_equal(dialog.binary_mask(), expected)
        counts.append(int(dialog.binary_mask().sum()))
    assert counts[0] > counts[1] > counts[2] > 0
    # The attribution curve sits where the kept cells are: the end of the signal.
    att = dialog.attribution
    assert att.max() == pytest.approx(1.0) and att.min() >= 0
    assert att[-100:].mean() > 5 * att[:300].mean()


def test_soft_weights_option(qtbot, dialog, tfr, tmp_path):
    np.save(tmp_path / "ramp.npy", np.tile(np.linspace(0, 1, 50), (20, 1)))
    dialog.load(tmp_path / "ramp.npy")
    dialog.soft_radio.setChecked(True)
    dialog.update_preview()
    m = dialog.mask()
    assert m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1
    np.testing.assert_allclose(dialog.inversion, invert(tfr, m))
    assert "soft" in dialog.layer_name()


def test_origin_flips_the_rows(qtbot, dialog, tfr, tmp_path):
    img = np.zeros((40, 60))
    img[:10] = 1.0  # top rows of the picture
    save_gray_png(tmp_path / "top.png", img)
    assert dialog.load(tmp_path / "top.png")
    a, b = inner_rows(tfr)
    upper = dialog.binary_mask()
    assert upper[b - 3].all() and not upper[a + 2].any()  # image top = high frequency
    dialog.origin_combo.setCurrentIndex(1)  # reloads: row 0 = lowest frequency
    lower = dialog.binary_mask()
    assert lower[a + 2].all() and not lower[b - 3].any()


def test_colour_mapped_png_reads_back_its_values(qtbot, dialog, tfr, tmp_path):
    ramp = np.tile(np.linspace(0, 1, 64), (16, 1))
    rgb = colormap_table("jet")[np.round(ramp * 255).astype(int)]
    a = np.ascontiguousarray(np.round(rgb * 255).astype(np.uint8))
    q = QImage(a.data, a.shape[1], a.shape[0], 3 * a.shape[1], QImage.Format.Format_RGB888)
    assert q.copy().save(str(tmp_path / "jet.png"), "PNG")
    dialog.colormap_combo.setCurrentIndex(dialog.colormap_combo.findData("jet"))
    assert dialog.load(tmp_path / "jet.png")
    # jet repeats some 8-bit colours, so a value can come back a table step or two off.
    np.testing.assert_allclose(dialog.heatmap[0], np.linspace(0, 1, 64), atol=3 / 255)
    assert np.all(np.diff(dialog.heatmap[0]) >= 0)


@pytest.mark.parametrize("content, expect", [
    (b"hello, not an image", "not a heatmap file"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 10, "PNG"),
])
def test_bad_files_are_reported_in_the_dialog(qtbot, dialog, tmp_path, content, expect):
    p = tmp_path / "broken.png"
    p.write_bytes(content)
    assert not dialog.load(p)
    assert expect in dialog.error_label.text() and str(p) in dialog.error_label.text()
    assert not ok_button(dialog).isEnabled()
    assert dialog.mask() is None
    assert not dialog.load(tmp_path / "missing.npy")
    assert "missing.npy" in dialog.error_label.text()


def test_recovers_after_a_bad_file(qtbot, dialog, hand, tfr, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"nope")
    dialog.load(tmp_path / "bad.png")
    a, b = inner_rows(tfr)
    np.save(tmp_path / "good.npy", hand[a:b][::-1].astype(float))
    assert dialog.load(tmp_path / "good.npy")
    assert not dialog.error_label.isVisible() and ok_button(dialog).isEnabled()


def test_smoothing_is_one_period_of_the_lowest_kept_frequency(tfr):
    m = np.zeros(tfr.shape, bool)
    r = int(np.argmin(np.abs(tfr.frequencies - 40)))
    m[r:r + 3] = True
    n = smoothing_samples(tfr, m)
    assert n == round(RATE / tfr.frequencies[r])
    assert smoothing_samples(tfr, np.zeros(tfr.shape, bool)) == 1


def test_the_file_picker_offers_every_format_the_loader_reads(tmp_path):
    import numpy as np
    from PIL import Image

    from phasebrush.app.heatmap_dialog import HEATMAP_FILTER
    from phasebrush.core.analysis.heatmap import load_heatmap

    first = HEATMAP_FILTER.split(";;")[0]
    for ext in (".npy", ".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp"):
        assert f"*{ext}" in first
        path = tmp_path / f"h{ext}"
        a = (np.arange(64, dtype=np.uint8).reshape(8, 8) * 4)
        if ext == ".npy":
            np.save(path, a.astype(float))
        else:
            Image.fromarray(a).save(path)
        assert load_heatmap(path).shape[:2] == (8, 8)    # what the filter offers loads
