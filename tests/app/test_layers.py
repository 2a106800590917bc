"""app.layers: a recompute keeps the layers (mapped onto the new grid) and their history."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from phasebrush.app.layers import _map_flips, _resample_layer_mask, _resample_mask
from phasebrush.core.engine.tiled_mask import TiledMask
from phasebrush.core.tf.bands import band_ranges
from phasebrush.core.tf.inversion import invert_with_residual
from tests.app.conftest import short_chirp


@pytest.fixture
def doc(qtbot):
    from phasebrush.app.document import DocumentModel
    from phasebrush.core.tf.transforms import TransformSpec

    d = DocumentModel()
    with qtbot.waitSignal(d.tfr_changed, timeout=60_000):
        d.set_signal(short_chirp(), TransformSpec(kind="cwt", nv=16))
    yield d
    d.shutdown()


def _recompute(qtbot, doc, **changes):
    with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
        doc.set_spec(replace(doc.spec, **changes))


def _union(doc):
    m = doc.layers.selection_mask()
    return invert_with_residual(doc.tfr, m)[0]


def test_recompute_keeps_band_and_masks_mapped_and_undo_still_works(qtbot, doc):
    L = doc.layers
    T = doc.signal.x[-1]
    L.add_band([(0.1 * T, 120.0), (0.9 * T, 250.0)], [(0.1 * T, 40.0), (0.9 * T, 90.0)])
    R, C = L.shape
    assert L.edit_shape("add", "rect", (0.2 * R, 0.4 * R, 0.1 * C, 0.3 * C), text="Rect")
    a = L[len(L) - 1]
    b = L.add_paint_layer(name="B")
    b_index = L.index_of(b)
    L.set_active(b_index)
    assert L.edit_shape("add", "polygon", [(0.5 * R, 0.5 * C), (0.9 * R, 0.6 * C),
                                           (0.6 * R, 0.9 * C)], text="Lasso")
    assert L[b_index] is b and b.mask.any()
    b_before = b.mask.copy()
    assert L.edit_shape("add", "rect", (0.1 * R, 0.3 * R, 0.7 * C, 0.95 * C), text="Last")
    a_old, b_old, old = a.mask.copy(), b.mask.copy(), doc.tfr
    n_steps = L.undo_stack.count()

    _recompute(qtbot, doc, nv=24)
    new = doc.tfr
    assert new.n_rows != old.n_rows and len(L) == 3
    np.testing.assert_array_equal(a.mask, _resample_mask(a_old, old, new))
    np.testing.assert_array_equal(b.mask, _resample_mask(b_old, old, new))
    s, e = band_ranges(L[0].band(), new)
    np.testing.assert_array_equal(L[0].ranges[0], s)
    assert L.undo_stack.count() == n_steps and L.undo_stack.canUndo()
    scale = np.abs(doc.signal.y).max()
    np.testing.assert_allclose(doc.inversion, _union(doc), atol=1e-9 * scale)

    L.undo_stack.undo()       # the last edit, on the new grid
    np.testing.assert_array_equal(b.mask, _resample_mask(b_before, old, new))
    np.testing.assert_allclose(doc.inversion, _union(doc), atol=1e-9 * scale)
    L.undo_stack.undo()       # the lasso: B empty again
    assert not b.mask.any()
    L.undo_stack.redo()
    L.undo_stack.redo()
    np.testing.assert_array_equal(b.mask, _resample_mask(b_old, old, new))
    np.testing.assert_allclose(doc.inversion, _union(doc), atol=1e-9 * scale)


def test_a_removed_layer_comes_back_on_the_new_grid(qtbot, doc):
    L = doc.layers
    R, C = L.shape
    L.edit_shape("add", "rect", (0.2 * R, 0.6 * R, 0.2 * C, 0.5 * C), text="Rect")
    lay = L[0]
    old_mask, old = lay.mask.copy(), doc.tfr
    L.remove(0)
    assert len(L) == 0
    _recompute(qtbot, doc, kind="stft", n_fft=128)
    L.undo_stack.undo()       # the removal
    assert len(L) == 1 and L[0] is lay
    assert lay.mask.shape == doc.tfr.shape
    np.testing.assert_array_equal(lay.mask, _resample_mask(old_mask, old, doc.tfr))
    L.undo_stack.undo()       # the rectangle (and the layer it made)
    assert len(L) == 0


@pytest.mark.parametrize("tiled", [False, True])
def test_resampled_flips_are_the_flips_of_the_resampled_mask(tiled):
    from types import SimpleNamespace as Grid

    rng = np.random.default_rng(0)
    R, C = 30, 700
    old = Grid(frequencies=np.geomspace(1, 100, R), times=np.arange(C) / 50.0,
               n_rows=R, n_frames=C)
    nc = C if tiled else 450
    new = Grid(frequencies=np.geomspace(0.8, 120, 41), times=np.arange(nc) / (50.0 * nc / C),
               n_rows=41, n_frames=nc, is_long=tiled)
    m = rng.random((R, C)) < 0.2
    f = np.zeros((R, C), bool)
    f[3:19, 250:520] = rng.random((16, 270)) < 0.5
    flat = np.flatnonzero(f)
    got = _map_flips(flat, (R, C), old, new, tiled)
    assert np.all(np.diff(got) > 0)

    def R_(x):
        out = _resample_layer_mask(TiledMask.from_dense(x) if tiled else x, old, new)
        return out.to_dense() if tiled else out

    want = R_(m ^ f) ^ R_(m)
    assert want.any()
    np.testing.assert_array_equal(got, np.flatnonzero(want))


def test_long_recording_masks_and_history_follow_a_recompute(qtbot):
    from phasebrush.app.document import DocumentModel
    from phasebrush.core.tf.transforms import TransformSpec

    doc = DocumentModel()
    doc.long_above_bytes = 0            # tiled masks, the engine's grid
    with qtbot.waitSignal(doc.busy_changed, timeout=60_000, check_params_cb=lambda b: not b):
        doc.set_signal(short_chirp(4096, 4096.0), TransformSpec(kind="cwt", nv=8))
    L = doc.layers
    assert doc.is_long
    R, C = L.shape
    L.edit_shape("add", "rect", (0.2 * R, 0.6 * R, 0.1 * C, 0.4 * C), text="Rect")
    L.edit_shape("add", "polygon", [(0.5 * R, 0.5 * C), (0.9 * R, 0.6 * C),
                                    (0.6 * R, 0.9 * C)], text="Lasso")
    lay, old = L[0], doc.tfr
    first = lay.mask.copy()
    L.undo_stack.undo()
    first_only = lay.mask.copy()
    L.undo_stack.redo()
    assert lay.tiled and first.count() > first_only.count() > 0
    with qtbot.waitSignal(doc.busy_changed, timeout=60_000, check_params_cb=lambda b: not b):
        doc.set_spec(replace(doc.spec, nv=12))
    new = doc.tfr
    assert new.n_rows != old.n_rows and lay.tiled
    np.testing.assert_array_equal(lay.mask.to_dense(),
                                  _resample_layer_mask(first, old, new).to_dense())
    L.undo_stack.undo()
    np.testing.assert_array_equal(lay.mask.to_dense(),
                                  _resample_layer_mask(first_only, old, new).to_dense())
    doc.shutdown()
