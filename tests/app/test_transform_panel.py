"""Recomputing the transform from the settings dock, in the background."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer

from phasebrush.core.tf.transforms import TransformSpec


def test_switch_to_stft_recomputes_in_background_and_keeps_bands(qtbot, window):
    doc, panel, view = window.doc, window.transform_panel, window.tfr_view
    T = doc.signal.x[-1]
    doc.layers.add_band([(0.2 * T, 60.0), (0.8 * T, 200.0)], [(0.2 * T, 20.0), (0.8 * T, 80.0)])
    assert view.grid.log_y
    panel.kind.setCurrentIndex(panel.kind.findData("stft"))
    panel.n_fft.setValue(128)
    assert not panel.nv.isEnabled() and panel.n_fft.isEnabled()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
        panel.apply_button.click()
        assert panel.busy.isVisibleTo(panel) and doc.busy
    timer.stop()
    assert doc.tfr.spec.kind == "stft" and doc.tfr.n_rows == 65
    assert not view.grid.log_y                      # linear frequency axis for STFT
    qtbot.waitUntil(lambda: not doc.busy)
    assert not panel.busy.isVisibleTo(panel)
    # The band is physical: re-evaluated on the new grid, and inverted there.
    lay = doc.layers[0]
    assert lay.ranges[0].shape == (doc.tfr.n_frames,)
    assert (lay.ranges[1] > lay.ranges[0]).any()
    assert doc.inversion is not None and np.all(np.isfinite(doc.inversion))
    # the history moved with it: undo removes the band, redo brings it back
    assert doc.layers.undo_stack.count() == 1
    doc.layers.undo_stack.undo()
    assert len(doc.layers) == 0 and doc.inversion is None
    doc.layers.undo_stack.redo()
    assert len(doc.layers) == 1 and doc.layers[0].ranges[0].shape == (doc.tfr.n_frames,)


def test_levels_and_colormap_follow_the_panel(window):
    panel, view = window.transform_panel, window.tfr_view
    panel.floor.setValue(-50)
    panel.ceiling.setValue(-10)
    assert view.levels() == (-50.0, -10.0)
    view.set_levels(-70, -5)
    assert (panel.floor.value(), panel.ceiling.value()) == (-70, -5)
    panel.colormap.setCurrentText("inferno")
    assert view.colorbar.colorMap().name == "inferno"


def test_colour_bar_handles_mark_the_floor_and_ceiling(window):
    panel, view = window.transform_panel, window.tfr_view
    bar = view.colorbar
    view.set_levels(-70, -10)
    lo, hi = bar.region.getRegion()
    # the handles sit at the bar's ends, which the axis labels floor and ceiling
    assert (bar._value_at(lo), bar._value_at(hi)) == (-70.0, -10.0)
    a, b = bar.axis.range
    assert (a, b) == (-70.0, -10.0)
    # the ceiling handle dragged to the middle: the ceiling becomes the middle's value
    bar.region.setRegion((lo, 0.5 * (lo + hi)))
    assert view.levels() == (-70.0, -40.0)
    assert (panel.floor.value(), panel.ceiling.value()) == (-70, -40)
    bar.region.sigRegionChangeFinished.emit(bar.region)     # the release
    lo2, hi2 = bar.region.getRegion()
    assert (lo2, hi2) == (lo, hi)                            # back at the ends
    assert (bar._value_at(lo2), bar._value_at(hi2)) == (-70.0, -40.0)


def test_time_bandwidth_reaches_the_transform(qtbot, window):
    doc, panel = window.doc, window.transform_panel
    tb = panel.time_bandwidth
    assert tb.isEnabled()                            # the fixture's CWT uses gmw
    assert tb.text() == "default (180)" and panel.spec().time_bandwidth is None
    tb.setValue(60)
    assert panel.spec().time_bandwidth == 60.0
    with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
        panel.apply_button.click()
    assert doc.tfr.spec.time_bandwidth == 60.0
    # Reloading the panel from the finished transform must not reset it to the default.
    assert tb.value() == 60 and panel.spec().time_bandwidth == 60.0
    tb.setValue(tb.minimum())
    assert panel.spec().time_bandwidth is None


def test_time_bandwidth_only_for_gmw_cwt(window):
    panel = window.transform_panel
    tb = panel.time_bandwidth
    tb.setValue(60)
    panel.wavelet.setCurrentText("morlet")
    assert not tb.isEnabled()
    assert panel.spec().time_bandwidth is None       # morlet never reads it
    panel.wavelet.setCurrentText("gmw")
    assert tb.isEnabled() and panel.spec().time_bandwidth == 60.0
    for kind in ("stft", "ssq_stft"):
        panel.kind.setCurrentIndex(panel.kind.findData(kind))
        assert not tb.isEnabled()
    panel.wavelet.setCurrentText("morlet")
    panel.wavelet.setCurrentText("gmw")              # wavelet edits must not wake it for STFT
    assert not tb.isEnabled()
    panel.kind.setCurrentIndex(panel.kind.findData("ssq_cwt"))
    assert tb.isEnabled()


def test_time_bandwidth_shown_from_a_spec(window):
    panel = window.transform_panel
    tb = panel.time_bandwidth
    panel.show_spec(TransformSpec(kind="ssq_cwt", time_bandwidth=60.0))
    assert tb.value() == 60 and tb.text() == "60" and tb.isEnabled()
    assert panel.spec().time_bandwidth == 60.0
    panel.show_spec(TransformSpec(kind="cwt"))
    assert tb.text() == "default (180)" and panel.spec().time_bandwidth is None
    panel.show_spec(TransformSpec(kind="cwt", wavelet="bump", time_bandwidth=60.0))
    assert not tb.isEnabled()
