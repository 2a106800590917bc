"""The image's mouse tools, driven with real mouse events on the real widgets."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor

from phasebrush.core.tf import masks as cmasks
from phasebrush.core.tf.bands import Band, band_ranges
from phasebrush.core.tf.inversion import RangeInverter, invert_with_residual
from tests.app.conftest import drag, send_mouse

LEFT = Qt.MouseButton.LeftButton


def _band_vertices(sig):
    T = sig.x[-1]
    t = np.array([0.2, 0.45, 0.7]) * T
    f = 2.0 * 200.0 ** (t / T)          # the test chirp's instantaneous frequency
    return np.column_stack([t, f * 1.8]), np.column_stack([t, f / 1.8])


def _click_band(qtbot, view, upper, lower):
    vp = view.viewport()
    for edge in (upper, lower):
        for t, f in edge:
            qtbot.mouseClick(vp, LEFT, pos=view.data_to_widget(t, f))
        qtbot.keyClick(view, Qt.Key.Key_Return)


def test_band_from_clicks_gives_core_index_arrays(qtbot, window):
    view, doc = window.tfr_view, window.doc
    view.set_tool("band")
    upper, lower = _band_vertices(doc.signal)
    with qtbot.waitSignal(doc.inversion_changed):
        _click_band(qtbot, view, upper, lower)

    assert len(doc.layers) == 1 and doc.layers[0].is_band
    lay = doc.layers[0]
    # The clicked vertices are the intended ones to within a screen pixel.
    px_t, px_y = view.vb.viewPixelSize()
    assert np.allclose(lay.upper[:, 0], upper[:, 0], atol=1.5 * px_t)
    assert np.allclose(np.log10(lay.upper[:, 1]), np.log10(upper[:, 1]), atol=1.5 * px_y)
    assert np.allclose(np.log10(lay.lower[:, 1]), np.log10(lower[:, 1]), atol=1.5 * px_y)

    # Exactly what core computes for those vertices ...
    start, end = band_ranges(Band(upper=lay.upper, lower=lay.lower), doc.tfr)
    assert np.array_equal(lay.ranges[0], start) and np.array_equal(lay.ranges[1], end)
    assert np.array_equal(lay.mask.sum(axis=0), end - start)
    # ... and, up to the pixel rounding, for the intended vertices.
    s2, e2 = band_ranges(Band(upper=upper, lower=lower), doc.tfr)
    both = (end > start) & (e2 > s2)      # a pixel may move the first / last live column
    assert both.sum() >= (e2 > s2).sum() - 4
    assert np.abs(start - s2)[both].max() <= 1 and np.abs(end - e2)[both].max() <= 1
    assert (end > start).sum() > 0.4 * doc.tfr.n_frames

    band, resid = RangeInverter(doc.tfr).band_and_residual(start, end)
    assert np.allclose(doc.inversion, band) and np.allclose(doc.residual, resid)
    curve = window.signal_view.curves["inversion"]
    assert np.allclose(curve.yData, band)


def test_band_vertices_clicked_off_the_image_go_on_its_edge(qtbot, window):
    view, doc = window.tfr_view, window.doc
    view.set_tool("band")
    x, y, w, h = view.grid.rect()
    view.vb.setRange(QRectF(x - 0.1 * w, y - 0.1 * h, 1.2 * w, 1.2 * h), padding=0)
    T = doc.signal.x[-1]
    t_first, t_last = doc.tfr.times[0], doc.tfr.times[-1]
    f_top = float(view.grid.y_to_freq(y + h))
    vp = view.viewport()
    upper = [(-0.05 * T, 200.0), (0.5 * T, 10 ** (np.log10(f_top) + 0.05 * h)), (1.05 * T, 200.0)]
    lower = [(-0.05 * T, 20.0), (1.05 * T, 20.0)]
    with qtbot.waitSignal(doc.inversion_changed):
        for edge in (upper, lower):
            for t, f in edge:
                pos = view.mapFromScene(view.vb.mapViewToScene(
                    QPointF(t, float(view.grid.freq_to_y(f)))))
                qtbot.mouseClick(vp, LEFT, pos=pos)
            qtbot.keyClick(view, Qt.Key.Key_Return)
    lay = doc.layers[0]
    assert len(lay.upper) == 3 and len(lay.lower) == 2         # none dropped
    assert lay.upper[0, 0] == t_first and lay.upper[-1, 0] == t_last
    assert lay.lower[0, 0] == t_first and lay.lower[-1, 0] == t_last
    assert lay.upper[1, 1] > f_top          # above the rows it stays: the ranges clip
    s, e = lay.ranges
    assert (e > s).all()                 # the band covers every column, edge to edge


def test_no_hover_search_in_the_middle_of_a_drag(qtbot, window, monkeypatch):
    # pyqtgraph would look for hoverable items near the pointer on every move of a drag
    # (no item may accept a hover then): skipped mid-drag, done again on release.
    doc, view = window.doc, window.tfr_view
    doc.layers.add_band(*_band_vertices(doc.signal))
    scene = view.scene()
    searches = []
    near = scene.itemsNearEvent

    def spy(event, *args, hoverable=False, **kwargs):
        if hoverable:
            searches.append(event)
        return near(event, *args, hoverable=hoverable, **kwargs)

    monkeypatch.setattr(scene, "itemsNearEvent", spy)
    handle = view._rois[0][0].getHandles()[1]
    start = view.mapFromScene(handle.scenePos())
    vp = view.viewport()
    send_mouse(vp, "move", start + type(start)(5, 5), buttons=Qt.MouseButton.NoButton)
    assert len(searches) == 1                 # an ordinary move: hover as usual
    send_mouse(vp, "press", start)
    send_mouse(vp, "move", start + type(start)(0, -10))    # the drag starts here
    n = len(searches)
    for dy in (-20, -30, -40):
        send_mouse(vp, "move", start + type(start)(0, dy))
    assert doc.layers.live and len(searches) == n          # mid-drag: no search
    send_mouse(vp, "release", start + type(start)(0, -40))
    assert not doc.layers.live and len(searches) == n + 1  # the release: hover again
    assert doc.layers[0].upper[1, 1] > _band_vertices(doc.signal)[0][1, 1] * 1.05


def test_band_vertex_drag_is_one_undo_step(qtbot, window):
    doc, view = window.doc, window.tfr_view
    upper, lower = _band_vertices(doc.signal)
    doc.layers.add_band(upper, lower)
    before = doc.layers[0].ranges[1].copy()
    roi = view._rois[0][0]
    handle = roi.getHandles()[1]
    start = view.mapFromScene(handle.scenePos())
    end = start + type(start)(0, -40)     # drag the middle upper vertex up 40 px
    n_steps = doc.layers.undo_stack.count()
    with qtbot.waitSignal(doc.inversion_changed):
        drag(view.viewport(), [start, start + type(start)(0, -20), end])
    assert doc.layers.undo_stack.count() == n_steps + 1
    lay = doc.layers[0]
    assert lay.upper[1, 1] > upper[1, 1] * 1.05
    assert (lay.ranges[1] >= before).all() and (lay.ranges[1] > before).any()
    doc.layers.undo_stack.undo()
    assert np.allclose(doc.layers[0].upper, upper)
    assert np.array_equal(doc.layers[0].ranges[1], before)
    # the handles, made anew for the restored edge, keep the band's colour
    colour = QColor(doc.layers[0].color)
    for roi in view._rois[0]:
        assert all(h.currentPen.color() == colour for h in roi.getHandles())


def _widget_points(view, ts, fs):
    return [view.data_to_widget(t, f) for t, f in zip(ts, fs, strict=False)]


def test_brush_stroke_changes_mask_and_inversion_and_undo_redo_restore(qtbot, window):
    doc, view = window.doc, window.tfr_view
    view.set_tool("brush")
    T = doc.signal.x[-1]
    ts = np.linspace(0.3, 0.6, 8) * T
    fs = 2.0 * 200.0 ** (ts / T)
    assert doc.inversion is None
    with qtbot.waitSignal(doc.inversion_changed):
        drag(view.viewport(), _widget_points(view, ts, fs))

    assert len(doc.layers) == 1 and not doc.layers[0].is_band
    mask = doc.layers[0].mask.copy()
    assert mask.any()
    # The stroke runs along the chirp: painted cells sit in the columns it crossed.
    cols = np.flatnonzero(mask.any(axis=0))
    c0, c1 = np.searchsorted(doc.tfr.times, [ts[0], ts[-1]])
    assert cols.min() >= c0 - 30 and cols.max() <= c1 + 30
    inv = doc.inversion.copy()
    band, _ = invert_with_residual(doc.tfr, mask)
    assert np.allclose(inv, band)
    assert np.abs(inv).max() > 0.05
    assert np.allclose(window.signal_view.curves["inversion"].yData, inv)

    # One stroke is one step (the layer it created included).
    window.undo_action.trigger()
    assert len(doc.layers) == 0 and doc.inversion is None
    assert window.signal_view.curves["inversion"].yData is None or \
        len(window.signal_view.curves["inversion"].yData) == 0
    window.redo_action.trigger()
    assert np.array_equal(doc.layers[0].mask, mask)
    assert np.allclose(doc.inversion, inv)


def test_second_stroke_undo_restores_first(qtbot, window):
    doc, view = window.doc, window.tfr_view
    view.set_tool("brush")
    T = doc.signal.x[-1]
    drag(view.viewport(), _widget_points(view, [0.2 * T, 0.3 * T], [20, 20]))
    first, inv1 = doc.layers[0].mask.copy(), doc.inversion.copy()
    drag(view.viewport(), _widget_points(view, [0.6 * T, 0.7 * T], [100, 100]))
    assert len(doc.layers) == 1 and doc.layers[0].mask.sum() > first.sum()
    assert not np.allclose(doc.inversion, inv1)
    doc.layers.undo_stack.undo()
    assert np.array_equal(doc.layers[0].mask, first)
    assert np.allclose(doc.inversion, inv1)


def test_rectangle_replace_add_subtract(qtbot, window):
    doc, view = window.doc, window.tfr_view
    view.set_tool("rect")
    T = doc.signal.x[-1]
    vp = view.viewport()
    drag(vp, _widget_points(view, [0.2 * T, 0.25 * T, 0.4 * T], [10, 20, 50]))
    m1 = doc.layers[0].mask.copy()
    rows, cols = np.nonzero(m1)
    # A filled axis-aligned rectangle: every cell of its bounding box.
    assert m1[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
    assert m1.sum() == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)

    shift, alt = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.AltModifier
    drag(vp, _widget_points(view, [0.6 * T, 0.65 * T, 0.8 * T], [10, 20, 50]), modifiers=shift)
    m2 = doc.layers[0].mask.copy()
    assert (m2 & m1).sum() == m1.sum() and m2.sum() > m1.sum()
    drag(vp, _widget_points(view, [0.1 * T, 0.2 * T, 0.9 * T], [25, 30, 35]), modifiers=alt)
    m3 = doc.layers[0].mask
    assert m3.sum() < m2.sum() and not (m3 & ~m2).any()
    drag(vp, _widget_points(view, [0.45 * T, 0.5 * T, 0.55 * T], [100, 120, 150]))
    m4 = doc.layers[0].mask
    assert not (m4 & m1).any() and m4.any()          # plain drag replaces
    assert doc.layers.undo_stack.count() >= 4


def test_lasso_fills_the_outline(qtbot, window):
    doc, view = window.doc, window.tfr_view
    view.set_tool("lasso")
    T = doc.signal.x[-1]
    ts = np.array([0.3, 0.5, 0.7, 0.5]) * T
    fs = np.array([50.0, 150.0, 50.0, 15.0])
    drag(view.viewport(), _widget_points(view, ts, fs))
    m = doc.layers[0].mask
    assert m.any()
    r, c = view.grid.cell_at(0.5 * T, float(view.grid.freq_to_y(50.0)))
    assert m[r, c]                                   # the centre is inside
    r, c = view.grid.cell_at(0.9 * T, float(view.grid.freq_to_y(50.0)))
    assert not m[r, c]
    assert doc.inversion is not None


def test_layer_visibility_and_invert_selection(qtbot, window):
    doc = window.doc
    upper, lower = _band_vertices(doc.signal)
    doc.layers.add_band(upper, lower)
    band_mask = doc.layers[0].mask.copy()
    doc.layers.invert_selection()
    assert not doc.layers[0].visible
    assert np.array_equal(doc.layers[1].mask, ~band_mask)
    band, resid = invert_with_residual(doc.tfr, ~band_mask)
    assert np.allclose(doc.inversion, band)
    doc.layers.undo_stack.undo()                     # one step
    assert len(doc.layers) == 1 and doc.layers[0].visible
    # Hiding the only layer empties the selection; the panel's checkbox does the same.
    item = window.layer_panel.list.item(0)
    item.setCheckState(Qt.CheckState.Unchecked)
    assert not doc.layers[0].visible and doc.inversion is None
    doc.layers.undo_stack.undo()
    assert doc.layers[0].visible and doc.inversion is not None


def test_cursor_readout(qtbot, window):
    view = window.tfr_view
    T = window.doc.signal.x[-1]
    pos = view.data_to_widget(0.5 * T, 40.0)
    with qtbot.waitSignal(view.cursor_read) as blocker:
        qtbot.mouseMove(view.viewport(), pos)
    text = blocker.args[0]
    assert "f = " in text and "dB" in text and "Hz" in text


def test_tool_shortcuts(qtbot, window):
    for key, tool in ((Qt.Key.Key_B, "band"), (Qt.Key.Key_P, "brush"), (Qt.Key.Key_R, "rect"),
                      (Qt.Key.Key_L, "lasso"), (Qt.Key.Key_H, "pan")):
        qtbot.keyClick(window, key)
        assert window.tfr_view.tool == tool


def test_changed_cells_matches_plain_compare():
    from phasebrush.app.layers import changed_cells

    rng = np.random.default_rng(0)
    for shape in ((7, 13), (16, 64), (3, 5)):
        a = rng.random(shape) < 0.3
        b = a.copy()
        flat = rng.choice(a.size, size=min(9, a.size), replace=False)
        b.reshape(-1)[flat] ^= True
        assert np.array_equal(changed_cells(a, b), np.flatnonzero(a.ravel() != b.ravel()))
        c = rng.random(shape) < 0.5                       # most cells differ
        assert np.array_equal(changed_cells(a, c), np.flatnonzero(a.ravel() != c.ravel()))


def test_ctrl_z_and_ctrl_shift_z_shortcuts(qtbot, window):
    doc = window.doc
    upper, lower = _band_vertices(doc.signal)
    doc.layers.add_band(upper, lower)
    window.activateWindow()
    window.tfr_view.setFocus()
    qtbot.keyClick(window.tfr_view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(doc.layers) == 0 and doc.inversion is None
    qtbot.keyClick(window.tfr_view, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(doc.layers) == 1 and doc.inversion is not None


def test_band_plus_stroke_inverts_the_union_like_core(qtbot, window):
    doc, view = window.doc, window.tfr_view
    upper, lower = _band_vertices(doc.signal)
    doc.layers.add_band(upper, lower)
    view.set_tool("brush")
    T = doc.signal.x[-1]
    for f in (15.0, 150.0):               # two strokes: the second one is incremental
        drag(view.viewport(), _widget_points(view, [0.3 * T, 0.5 * T, 0.7 * T], [f, f, f]))
    union = doc.layers[0].mask | doc.layers[1].mask
    band, resid = invert_with_residual(doc.tfr, union)
    scale = np.abs(doc.signal.y).max()
    assert np.allclose(doc.inversion, band, atol=1e-9 * scale)
    assert np.allclose(doc.residual, resid, atol=1e-9 * scale)
    doc.layers.set_visible(0, False)      # the band leaves the union
    band2, _ = invert_with_residual(doc.tfr, doc.layers[1].mask)
    assert np.allclose(doc.inversion, band2, atol=1e-9 * scale)


def test_or_pool_matches_reduceat():
    from phasebrush.app.tfr_view import _or_pool

    rng = np.random.default_rng(0)
    for shape, k in [((5, 64), 16), ((7, 96), 8), ((3, 100), 7), ((4, 128), 32), ((4, 130), 16)]:
        m = rng.random(shape) < 0.05
        ref = np.logical_or.reduceat(m, np.arange(0, shape[1], k), axis=1)
        assert np.array_equal(_or_pool(m, k), ref), (shape, k)


def test_pooled_overlays_follow_every_edit(qtbot, window, monkeypatch):
    # Long-signal pooling (and its cache) on the small test grid: 16 columns per block.
    import phasebrush.app.tfr_view as tv

    monkeypatch.setattr(tv, "_OVERLAY_COLS", 64)
    doc, view = window.doc, window.tfr_view
    L = doc.layers
    rng = np.random.default_rng(5)

    def stroke(i):
        live = L[i].mask.copy()
        n_rows, n_cols = live.shape
        pts = np.column_stack([rng.uniform(0, n_rows, 3), rng.uniform(0, n_cols, 3)])
        cmasks.paint_stroke(live, pts, 2.0, 20.0, bool(rng.integers(3)))
        L.commit_mask(i, live, "Brush stroke")

    def check():
        for i, lay in enumerate(L):
            if lay.visible:
                k = -(-lay.mask.shape[1] // 64)
                ref = np.logical_or.reduceat(lay.mask, np.arange(0, lay.mask.shape[1], k), axis=1)
                assert np.array_equal(view._overlays[i].image.astype(bool), ref), i

    L.add_paint_layer()
    for _ in range(3):
        stroke(0)
        check()
    L.add_paint_layer()                    # re-listing keeps layer 0's pooled image
    stroke(1)
    check()
    L.set_visible(0, False)
    stroke(0)                              # edited while hidden ...
    L.set_visible(0, True)                 # ... is drawn afresh when shown
    check()
    for _ in range(4):
        L.undo_stack.undo()
        check()
    for _ in range(4):
        L.undo_stack.redo()
        check()


# -- the STFT on a log-frequency axis -----------------------------------------------
def _stft_window(qtbot, settings, *, kind="stft"):
    from phasebrush.core.signal import Signal
    from phasebrush.core.tf.transforms import TransformSpec
    from tests.app.conftest import shown_window

    fs = 1024.0
    t = np.arange(4096) / fs
    y = np.sin(2 * np.pi * 32.0 * t) + np.sin(2 * np.pi * 304.0 * t)   # on bins (8 Hz)
    win = shown_window(qtbot, settings)
    win.tfr_view.scene().minDragTime = 0
    with qtbot.waitSignal(win.doc.tfr_changed, timeout=60_000):
        win.doc.set_signal(Signal(y, dx=1 / fs, unit="s", name="two tones"),
                           TransformSpec(kind=kind, n_fft=128, hop=16))
    return win


def test_log_frequency_stft_draws_each_bin_at_its_frequency(qtbot, settings):
    win = _stft_window(qtbot, settings)
    doc, view = win.doc, win.tfr_view
    assert not view.grid.log_y
    win.log_freq_action.trigger()                  # View > Log-frequency axis (STFT)
    g = view.grid
    assert view.log_frequency and g.rows_linear and view._axis.log
    shown = view.image.image
    assert shown.shape == (g.display_rows(doc.image_db.shape[1]), doc.image_db.shape[1])
    # the drawn row at each tone's frequency is as bright as that tone's STFT bin
    f = np.asarray(doc.tfr.frequencies)
    x0, y0, w, h = g.rect()
    for tone in (32.0, 304.0):
        i = int((np.log10(tone) - y0) / h * shown.shape[0])
        r = int(np.argmin(np.abs(f - tone)))
        np.testing.assert_allclose(shown[i], doc.image_db[r], atol=1e-4)
    # the read-out names the bin under the pointer
    assert g.cell_at(float(doc.tfr.times[5]), float(g.freq_to_y(290.0)))[0] == \
        int(np.argmin(np.abs(f - 290.0)))
    win.log_freq_action.trigger()
    assert not view.grid.log_y and view.image.image.shape == doc.image_db.shape


def test_log_frequency_stft_rectangle_selects_the_bins_between_its_frequencies(qtbot, settings):
    win = _stft_window(qtbot, settings)
    doc, view = win.doc, win.tfr_view
    win.log_freq_action.setChecked(True)
    view.set_tool("rect")
    T = doc.signal.x[-1]
    drag(view.viewport(), _widget_points(view, [0.3 * T, 0.6 * T], [22.0, 50.0]))
    m = doc.layers[0].mask
    f = np.asarray(doc.tfr.frequencies)
    rows = set(np.flatnonzero(m.any(axis=1)).tolist())
    # (a pixel's worth of slack at each edge)
    inside = set(np.flatnonzero((f > 23.0) & (f < 49.0)).tolist())
    near = set(np.flatnonzero((f > 21.0) & (f < 51.0)).tolist())
    assert inside <= rows <= near and doc.inversion is not None


def test_log_frequency_stft_brush_paints_what_its_ring_covers_at_every_height(qtbot, settings):
    win = _stft_window(qtbot, settings)
    doc, view = win.doc, win.tfr_view
    win.log_freq_action.setChecked(True)
    view.set_tool("brush")
    view.brush_size_px = 20.0
    T = doc.signal.x[-1]
    spans = {}
    for i, freq in enumerate((40.0, 400.0)):
        t = (0.25 + 0.4 * i) * T
        qtbot.mouseClick(view.viewport(), LEFT, pos=view.data_to_widget(t, freq))
        m = doc.layers[0].mask
        c = int(np.argmin(np.abs(doc.tfr.times - t)))
        painted = np.flatnonzero(m[:, c])
        r = view.grid.cell_at(t, float(view.grid.freq_to_y(freq)))[0]
        assert r in painted
        # the painted rows span what the ring spans on screen (20 px), in frequency
        top = view.widget_to_data(view.data_to_widget(t, freq) + QPoint(0, -10))[1]
        bottom = view.widget_to_data(view.data_to_widget(t, freq) + QPoint(0, 10))[1]
        f = np.asarray(doc.tfr.frequencies)
        expect = np.flatnonzero((f >= bottom) & (f <= top))
        assert abs(painted.size - expect.size) <= 2
        spans[freq] = painted.size
    assert spans[400.0] > 3 * spans[40.0]          # rows are thinner higher up


def test_log_frequency_choice_is_remembered_and_leaves_the_cwt_alone(qtbot, settings):
    from phasebrush.core.tf.transforms import TransformSpec
    from tests.app.conftest import shown_window

    win = _stft_window(qtbot, settings)
    win.log_freq_action.setChecked(True)
    assert str(settings.value("stft_log_frequency")).lower() == "true"
    with qtbot.waitSignal(win.doc.tfr_changed, timeout=60_000):
        win.doc.set_spec(TransformSpec(kind="cwt", nv=8))
    g = win.tfr_view.grid
    assert g.log_y and not g.rows_linear
    assert win.tfr_view.image.image.shape == win.doc.image_db.shape
    win.close()
    again = shown_window(qtbot, settings)
    assert again.log_freq_action.isChecked() and again.tfr_view.log_frequency
    again.close()
