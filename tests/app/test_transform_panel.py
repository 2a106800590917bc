"""Recomputing the transform from the settings dock, in the background."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer


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
    assert doc.layers.undo_stack.count() == 0       # history was for the old grid


def test_levels_and_colormap_follow_the_panel(window):
    panel, view = window.transform_panel, window.tfr_view
    panel.floor.setValue(-50)
    panel.ceiling.setValue(-10)
    assert view.levels() == (-50.0, -10.0)
    view.set_levels(-70, -5)
    assert (panel.floor.value(), panel.ceiling.value()) == (-70, -5)
    panel.colormap.setCurrentText("inferno")
    assert view.colorbar.colorMap().name == "inferno"
