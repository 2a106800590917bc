"""The indices table and export on a long recording: block-wise, equal to core's whole grid.

As in test_long_mode, a short recording (5 s at 8 kHz) is made long with
``long_above_bytes = 0`` so that core's whole transform is the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog

import phasebrush.app.indices_view as iv
from phasebrush.core.signal import Signal
from phasebrush.core.tf.bands import Band, band_mask
from phasebrush.core.tf.indices import (
    FIELDS,
    SelectionIndices,
    indices_from_mask,
    iter_indices,
    read_indices,
)
from phasebrush.core.tf.transforms import TransformSpec, transform
from tests.app.conftest import open_long_window

FS = 8000.0
N = 40_000
SPEC = TransformSpec(kind="cwt", nv=8, fmin=100.0)
UPPER = [(0.5, 700.0), (2.5, 900.0), (4.5, 700.0)]
LOWER = [(0.5, 300.0), (2.5, 250.0), (4.5, 300.0)]


def recording() -> Signal:
    t = np.arange(N) / FS
    return Signal(0.5 * np.sin(2 * np.pi * 440 * t), dx=1 / FS, unit="s", name="long indices")


@pytest.fixture
def long_window(qtbot, settings, monkeypatch):
    monkeypatch.setattr(iv.IndicesView, "block_cols", 6000)   # blocks cross the band's edges
    win = open_long_window(qtbot, settings, recording(), SPEC, block_length=None)
    yield win
    win.close()


def _reference(doc, rect):
    """The selection's records on core's whole transform (band | rectangle)."""
    from phasebrush.core.tf import masks as cmasks

    tfr = transform(recording(), SPEC)
    m = band_mask(Band(UPPER, LOWER), tfr)
    cmasks.fill_rectangle(m, *rect)
    return tfr, indices_from_mask(m, tfr)


def _same(got, want):
    for f in FIELDS:
        a, b = getattr(got, f), getattr(want, f)
        if f in ("column", "start_row", "end_row"):
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_long_table_and_export_equal_the_whole_grids_indices(qtbot, long_window, tmp_path,
                                                            monkeypatch):
    win = long_window
    doc, v = win.doc, win.indices_view
    win.selection_tabs.setCurrentWidget(v)
    rect = (1, 3, 14_000, 26_500)          # crosses blocks; two intervals where the band is
    with qtbot.waitSignal(v.indices_updated, timeout=60_000):
        doc.layers.add_band(UPPER, LOWER, name="b")
    with qtbot.waitSignal(v.indices_updated, timeout=60_000):
        doc.layers.edit_shape("add", "rect", rect, text="rect")
    assert doc.layers[1].tiled
    _, want = _reference(doc, rect)
    assert np.bincount(want.column).max() == 2
    ix = v.model.intervals
    assert ix.n_blocks == 7 and len(ix) == len(want) == v.model.rowCount()
    for r0 in (0, 123, len(want) // 2, len(want) - 300):
        _same(ix.records(r0, r0 + 300), want[r0:r0 + 300])
    row = len(want) // 2
    assert v.model.data(v.model.index(row, 0)) == str(want.column[row])

    chunks = []
    real = iv.iter_indices
    monkeypatch.setattr(iv, "iter_indices",
                        lambda *a, **k: (chunks.append(1), real(*a, **k))[1])
    for suffix in (".csv", ".npz"):
        path = tmp_path / f"long{suffix}"
        monkeypatch.setattr(QFileDialog, "getSaveFileName",
                            staticmethod(lambda *a, p=path: (str(p), "")))
        with qtbot.waitSignal(v.exported, timeout=60_000):
            win.export_indices_action.trigger()
        _same(read_indices(path), want)
    assert chunks == [1, 1]                        # streamed through iter_indices
    assert read_indices(tmp_path / "long.npz").shape == doc.layers.shape


def test_long_selection_snapshot_is_frozen(qtbot, long_window):
    doc = long_window.doc
    doc.layers.add_band(UPPER, LOWER)
    doc.layers.edit_shape("add", "rect", (5, 12, 100, 900), text="rect")
    snap = iv.SelectionBlocks(doc.layers)

    def records(blocks):
        return SelectionIndices.concatenate(iter_indices(blocks, doc.tfr, c0=0, c1=6000))

    before = records(snap)
    doc.layers.edit_shape("subtract", "rect", (0, 60, 0, 2000), text="clear")
    assert records(snap).equals(before) and before.column.min() < 2000
    assert records(iv.SelectionBlocks(doc.layers)).column.min() >= 2000
