"""The incremental selection inverse equals core's inverse of the union mask, edit by edit."""

from __future__ import annotations

import numpy as np
import pytest

from phasebrush.app import selection_inverse
from phasebrush.app.document import DocumentModel
from phasebrush.core.tf import masks as cmasks
from phasebrush.core.tf.inversion import invert_with_residual
from phasebrush.core.tf.transforms import TransformSpec
from tests.app.conftest import short_chirp


@pytest.fixture
def doc(qtbot):
    d = DocumentModel()
    with qtbot.waitSignal(d.tfr_changed, timeout=60_000):
        d.set_signal(short_chirp(512, 512.0), TransformSpec(kind="cwt", nv=8))
    yield d
    d.shutdown()


def _random_band(rng, sig):
    T = sig.x[-1]
    t = np.sort(rng.uniform(0.0, T, 3))
    f_lo = np.exp(rng.uniform(np.log(3.0), np.log(60.0), 3))
    return np.column_stack([t, f_lo * rng.uniform(1.5, 4.0, 3)]), np.column_stack([t, f_lo])


def _stroke(rng, L, erase: bool) -> None:
    n_rows, n_cols = L.shape
    i = L.paint_target()
    live = L[i].mask.copy()
    pts = np.column_stack([rng.uniform(0, n_rows, 4), rng.uniform(0, n_cols, 4)])
    cmasks.paint_stroke(live, pts, rng.uniform(1, 6), rng.uniform(2, 40), not erase)
    L.commit_mask(i, live, "Erase stroke" if erase else "Brush stroke")


def _check(doc):
    mask = doc.layers.selection_mask()
    if mask is None or not mask.any():
        assert doc.inversion is None or not np.any(doc.inversion)
        return
    band, resid = invert_with_residual(doc.tfr, mask)
    scale = np.abs(doc.signal.y).max()
    np.testing.assert_allclose(doc.inversion, band, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(doc.residual, resid, rtol=0, atol=1e-9 * scale)


@pytest.mark.parametrize("big_layer", [selection_inverse._BIG_LAYER, 50])
def test_random_edits_match_full_recompute(doc, monkeypatch, big_layer):
    # big_layer=50: layers above 50 cells take the whole-array recount path.
    monkeypatch.setattr(selection_inverse, "_BIG_LAYER", big_layer)
    rng = np.random.default_rng(7)
    L, sig = doc.layers, doc.signal
    kinds = ["band", "move", "stroke", "stroke", "erase", "rect", "layer", "toggle",
             "undo", "undo", "redo", "remove", "active", "invert"]
    seen = set()
    for step in range(120):
        kind = kinds[rng.integers(len(kinds))]
        bands = [i for i in range(len(L)) if L[i].is_band]
        if kind == "band" or (kind == "move" and not bands):
            L.add_band(*_random_band(rng, sig))
        elif kind == "move":
            L.set_band_edges(int(rng.choice(bands)), *_random_band(rng, sig))
        elif kind in ("stroke", "erase"):
            _stroke(rng, L, kind == "erase")
        elif kind == "rect":
            region = np.zeros(L.shape, bool)
            r0, c0 = rng.integers(0, L.shape[0] - 5), rng.integers(0, L.shape[1] - 50)
            region[r0:r0 + rng.integers(1, 8), c0:c0 + rng.integers(5, 60)] = True
            L.edit_mask(str(rng.choice(["add", "subtract", "replace"])), region, text="Rect")
        elif kind == "layer":
            L.add_paint_layer()
        elif kind == "toggle" and len(L):
            i = int(rng.integers(len(L)))
            L.set_visible(i, not L[i].visible)
        elif kind == "undo":
            L.undo_stack.undo()
        elif kind == "redo":
            L.undo_stack.redo()
        elif kind == "remove" and len(L) > 2:
            L.remove(int(rng.integers(len(L))))
        elif kind == "active" and len(L):
            L.set_active(int(rng.integers(len(L))))
        elif kind == "invert" and step % 40 == 39:
            L.invert_selection()
        seen.add(kind)
        _check(doc)
    # The sequence really mixed bands and several painted layers.
    assert sum(lay.is_band for lay in L) >= 1 and sum(not lay.is_band for lay in L) >= 2
    assert {"band", "stroke", "erase", "toggle", "undo", "redo"} <= seen
    # Undoing everything empties the selection again.
    while L.undo_stack.canUndo():
        L.undo_stack.undo()
        _check(doc)
    assert doc.inversion is None


def test_stroke_counts_cells_under_a_band_once(doc):
    L = doc.layers
    sig = doc.signal
    T = sig.x[-1]
    L.add_band([(0.1 * T, 200.0), (0.9 * T, 200.0)], [(0.1 * T, 3.0), (0.9 * T, 3.0)])
    band_only = doc.inversion.copy()
    # Paint cells that all lie inside the band: the union, hence the inverse, is unchanged.
    i = L.paint_target()
    live = L[i].mask.copy()
    s, e = L[0].ranges
    c = int(np.flatnonzero(e - s > 4)[len(s) // 4])
    live[s[c]:e[c], c] = True
    assert L.commit_mask(i, live, "Brush stroke")
    np.testing.assert_allclose(doc.inversion, band_only, rtol=0, atol=1e-12)
    # Hiding the band leaves exactly that column's painted cells.
    L.set_visible(0, False)
    _check(doc)
    assert np.count_nonzero(doc.inversion) == 1


def test_layer_cell_count_follows_flips(doc):
    L = doc.layers
    L.add_paint_layer()
    rng = np.random.default_rng(3)
    for _ in range(5):
        _stroke(rng, L, bool(rng.integers(2)))
        assert L[0].n_cells() == int(L[0].mask.sum())
    v = L[0].version
    L.undo_stack.undo()
    assert L[0].version == v + 1 and L[0].n_cells() == int(L[0].mask.sum())


@pytest.mark.parametrize("prefix_bytes", [selection_inverse._PREFIX_MAX_BYTES, 0])
def test_live_band_moves_over_paint_match_full_recompute(doc, monkeypatch, prefix_bytes):
    # A handle drag: many live updates that only move bands, strokes now and then.
    # prefix_bytes=0: the painted prefix sums are refused and rows are visited instead.
    monkeypatch.setattr(selection_inverse, "_PREFIX_MAX_BYTES", prefix_bytes)
    rng = np.random.default_rng(5)
    L, sig = doc.layers, doc.signal
    for _ in range(3):
        _stroke(rng, L, erase=False)
    L.add_band(*_random_band(rng, sig))
    L.add_band(*_random_band(rng, sig))
    si = selection_inverse.SelectionInverse(doc._range_inverter)
    scale = np.abs(sig.y).max()

    def check(x):
        band, _ = invert_with_residual(doc.tfr, L.selection_mask())
        np.testing.assert_allclose(x, band, rtol=0, atol=1e-9 * scale)

    def painted():
        return np.logical_or.reduce([lay.mask for lay in L if not lay.is_band])

    check(si.update(L.visible_layers()))
    used = 0
    for step in range(40):
        if step % 10 == 9:
            before = painted()
            _stroke(rng, L, erase=bool(rng.integers(2)))
            x = si.update(L.visible_layers(), L.last_flip, live=True)
            if not np.array_equal(painted(), before):
                assert si._prefix is None      # painted cells changed: the sums are stale
        else:
            i = int(rng.choice([k for k in range(len(L)) if L[k].is_band]))
            up, lo = L[i].upper.copy(), L[i].lower.copy()
            j = int(rng.integers(len(up)))
            f = rng.uniform(0.8, 1.25)          # one vertex up or down, as a handle moves
            up[j, 1] *= f
            lo[j, 1] = min(lo[j, 1] * f, up[j, 1] * 0.9)
            L.set_band_edges(i, up, lo)
            x = si.update(L.visible_layers(), live=True)
            used += si._prefix is not None
        check(x)
    assert used > 0 if prefix_bytes else used == 0
    check(si.update(L.visible_layers()))
    assert si._prefix is None                  # a non-live update frees them
