"""The selection's inverse follows a brush drag and a band handle drag before the release.

During a drag the document updates the inverse (coalesced, at most ~30 a second) in
the visible columns; the release makes it the whole signal's. Checked against core's
inverse of the union mask (``core.tf.inversion.invert_with_residual``).
"""

from __future__ import annotations

import numpy as np
import pytest

from phasebrush.app.document import DocumentModel
from phasebrush.core.tf import masks as cmasks
from phasebrush.core.tf.inversion import invert_with_residual
from phasebrush.core.tf.transforms import TransformSpec
from tests.app.conftest import send_mouse, short_chirp


def _core_inverse(doc):
    mask = doc.layers.selection_mask()
    if mask is None or not mask.any():
        return None
    band, _ = invert_with_residual(doc.tfr, mask)
    return band


def _assert_matches_core(doc, *, visible_only: bool = False) -> None:
    ref = _core_inverse(doc)
    if ref is None:
        assert doc.inversion is None or not np.any(doc.inversion)
        return
    assert doc.inversion is not None
    c0, c1 = (0, ref.size)
    if visible_only and doc.inversion_cols is not None:
        c0, c1 = doc.inversion_cols
    else:
        assert doc.inversion_cols is None
    scale = np.abs(doc.signal.y).max()
    np.testing.assert_allclose(doc.inversion[c0:c1], ref[c0:c1], rtol=0, atol=1e-9 * scale)
    full = doc._range_inverter.full
    np.testing.assert_allclose(doc.residual[c0:c1], (full - ref)[c0:c1], rtol=0,
                               atol=1e-9 * scale)


def _zoom(window, lo: float, hi: float) -> None:
    T = window.doc.signal.x[-1]
    window.signal_view.plot.getViewBox().setXRange(lo * T, hi * T, padding=0)


def test_brush_drag_updates_the_visible_inverse_before_release(qtbot, window):
    doc, view = window.doc, window.tfr_view
    _zoom(window, 0.3, 0.7)
    view.set_tool("brush")
    T = doc.signal.x[-1]
    ts = np.linspace(0.35, 0.65, 8) * T
    fs = np.geomspace(20.0, 80.0, 8)
    pts = [view.data_to_widget(t, f) for t, f in zip(ts, fs, strict=True)]
    vp = view.viewport()
    n_steps = doc.layers.undo_stack.count()

    send_mouse(vp, "press", pts[0])
    live = lambda *_: doc.layers.live  # noqa: E731  (an update made during the drag)
    seen = []
    for p in pts[1:]:
        # (the first move also makes the mask layer, an edit of its own: skip that one)
        with qtbot.waitSignal(doc.inversion_changed, timeout=5_000, check_params_cb=live):
            send_mouse(vp, "move", p)
        # live: before the release, the inverse already holds the cells painted so far
        assert doc.layers.live and doc.inversion is not None
        c0, c1 = doc.inversion_cols           # only the visible columns are promised
        assert 0 < c0 < c1 < doc.tfr.n_frames
        _assert_matches_core(doc, visible_only=True)
        seen.append(doc.inversion[c0:c1].copy())
        # the stroke's step is open (a macro) from the first move; moves add nothing to it
        assert doc.layers.undo_stack.count() == n_steps + 1
    assert any(not np.array_equal(a, b) for a, b in zip(seen, seen[1:], strict=False))

    with qtbot.waitSignal(doc.inversion_changed, timeout=5_000):
        send_mouse(vp, "release", pts[-1])
    assert not doc.layers.live
    _assert_matches_core(doc)                  # the whole signal now
    # one stroke (with the mask layer it made) = one undo step
    assert doc.layers.undo_stack.count() == n_steps + 1
    doc.layers.undo_stack.undo()
    assert doc.inversion is None and len(doc.layers) == 0
    doc.layers.undo_stack.redo()
    _assert_matches_core(doc)


def test_band_handle_drag_updates_the_inverse_live(qtbot, window):
    doc, view = window.doc, window.tfr_view
    T = doc.signal.x[-1]
    L = doc.layers
    t = np.array([0.2, 0.45, 0.7]) * T
    L.add_band(np.column_stack([t, [30.0, 60.0, 120.0]]), np.column_stack([t, [8, 15, 30.0]]))
    # a painted stroke under the band's path: the drag changes what the band covers of it
    i = L.begin_stroke(erase=False, radius_rows=3.0, radius_cols=30.0)
    n_rows, n_cols = L.shape
    for c in np.linspace(0.3 * n_cols, 0.6 * n_cols, 6):
        L.extend_stroke(0.6 * n_rows, c)
    L.end_stroke()
    assert not L[i].is_band
    before = doc.inversion.copy()
    n_steps = L.undo_stack.count()
    handle = view._rois[0][0].getHandles()[1]
    start = view.mapFromScene(handle.scenePos())
    vp = view.viewport()

    send_mouse(vp, "press", start)
    live = lambda *_: L.live  # noqa: E731
    for dy in (-10, -20, -30, -40):
        with qtbot.waitSignal(doc.inversion_changed, timeout=5_000, check_params_cb=live):
            send_mouse(vp, "move", start + type(start)(0, dy))
        assert L.live and L.undo_stack.count() == n_steps
        _assert_matches_core(doc, visible_only=True)
    assert not np.allclose(doc.inversion, before)      # followed the handle already
    with qtbot.waitSignal(doc.inversion_changed, timeout=5_000):
        send_mouse(vp, "release", start + type(start)(0, -40))
    assert not L.live
    _assert_matches_core(doc)
    assert L.undo_stack.count() == n_steps + 1         # the drag is one step
    assert L[0].upper[1, 1] > 60.0 * 1.05
    L.undo_stack.undo()
    np.testing.assert_allclose(L[0].upper[:, 1], [30.0, 60.0, 120.0])
    np.testing.assert_allclose(doc.inversion, before, rtol=0, atol=1e-12)


@pytest.fixture
def doc(qtbot):
    d = DocumentModel()
    with qtbot.waitSignal(d.tfr_changed, timeout=60_000):
        d.set_signal(short_chirp(1024, 1024.0), TransformSpec(kind="cwt", nv=8))
    yield d
    d.shutdown()


def _random_edges(rng, T):
    t = np.sort(rng.uniform(0.0, T, 3))
    f_lo = np.exp(rng.uniform(np.log(3.0), np.log(60.0), 3))
    return np.column_stack([t, f_lo * rng.uniform(1.5, 4.0, 3)]), np.column_stack([t, f_lo])


def test_final_inverse_equals_core_after_100_random_live_edits(qtbot, doc):
    rng = np.random.default_rng(11)
    L, T = doc.layers, doc.signal.x[-1]
    n_rows, n_cols = L.shape
    # a zoomed view: live updates are partial, the columns outside wait for the release
    doc.set_view_range(0.25 * T, 0.6 * T)
    kinds = ["stroke", "stroke", "erase", "rect", "band", "move", "move", "undo", "redo"]
    partial = 0
    for _ in range(100):
        kind = kinds[rng.integers(len(kinds))]
        bands = [i for i in range(len(L)) if L[i].is_band]
        if kind == "band" or (kind == "move" and not bands):
            L.add_band(*_random_edges(rng, T))
        elif kind == "move":
            i = int(rng.choice(bands))
            for _ in range(int(rng.integers(1, 5))):
                if rng.random() < 0.5:      # let the coalesced live update run
                    with qtbot.waitSignal(doc.inversion_changed, timeout=5_000):
                        L.drag_band_edges(i, *_random_edges(rng, T))
                    partial += doc.inversion_cols is not None
                    _assert_matches_core(doc, visible_only=True)
                else:
                    L.drag_band_edges(i, *_random_edges(rng, T))
            L.set_band_edges(i, *_random_edges(rng, T))
        elif kind in ("stroke", "erase"):
            L.begin_stroke(erase=kind == "erase", radius_rows=rng.uniform(0.5, 5),
                           radius_cols=rng.uniform(1, 40))
            lay = L[L.active_index]
            for r, c in zip(rng.uniform(0, n_rows, 5), rng.uniform(0, n_cols, 5), strict=True):
                v = lay.version
                L.extend_stroke(r, c)
                if lay.version != v and rng.random() < 0.4:   # cells changed: wait for it
                    qtbot.waitSignal(doc.inversion_changed, timeout=5_000).wait()
                    partial += doc.inversion_cols is not None
                    _assert_matches_core(doc, visible_only=True)
            L.end_stroke()
        elif kind == "rect":
            region = np.zeros(L.shape, bool)
            cmasks.fill_rectangle(region, *rng.uniform(0, n_rows, 2), *rng.uniform(0, n_cols, 2))
            L.edit_mask(str(rng.choice(["add", "subtract"])), region, text="Rectangle")
        elif kind == "undo":
            L.undo_stack.undo()
        else:
            L.undo_stack.redo()
        assert not L.live
        _assert_matches_core(doc)
    assert partial > 0        # live updates really were partial ones
    assert sum(lay.is_band for lay in L) >= 1 and sum(not lay.is_band for lay in L) >= 1


def test_a_stroke_is_one_undo_step_and_changes_exactly_its_cells(doc):
    L = doc.layers
    L.add_paint_layer()
    L.begin_stroke(erase=False, radius_rows=2.0, radius_cols=10.0)
    pts = [(10.0, 100.0), (14.0, 300.0), (12.0, 600.0)]
    for r, c in pts:
        L.extend_stroke(r, c)
    L.end_stroke()
    expected = cmasks.paint_stroke(np.zeros(L.shape, bool), pts, 2.0, 10.0, True)
    assert np.array_equal(L[0].mask, expected) and L[0].n_cells() == expected.sum()
    assert L.undo_stack.count() == 2 and L.undo_stack.undoText() == "Brush stroke"
    L.undo_stack.undo()
    assert not L[0].mask.any() and L[0].n_cells() == 0 and doc.inversion is None
    L.undo_stack.redo()
    assert np.array_equal(L[0].mask, expected)
    _assert_matches_core(doc)


def test_a_drag_released_where_it_began_pushes_nothing(qtbot, doc):
    L, T = doc.layers, doc.signal.x[-1]
    up, lo = _random_edges(np.random.default_rng(2), T)
    L.add_band(up, lo)
    before, n = doc.inversion.copy(), L.undo_stack.count()
    L.drag_band_edges(0, up * [1.0, 1.3], lo)
    qtbot.waitUntil(lambda: not np.allclose(doc.inversion, before), timeout=5_000)
    L.set_band_edges(0, up, lo)
    assert not L.live and L.undo_stack.count() == n
    np.testing.assert_allclose(doc.inversion, before, rtol=0, atol=1e-12)
