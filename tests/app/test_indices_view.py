"""The Selection dock's indices table and Selection > Export indices…: thin over core.tf.indices."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QPushButton

import phasebrush.app.indices_view as iv
from phasebrush.core.tf.bands import Band
from phasebrush.core.tf.indices import (
    indices_from_bands,
    indices_from_mask,
    read_indices,
    write_indices_csv,
    write_indices_npz,
)

UPPER = [(0.2, 120.0), (0.8, 330.0)]
LOWER = [(0.2, 25.0), (0.8, 70.0)]


def show_table(qtbot, win):
    """Raise the Indices tab and wait for the table to show the current selection."""
    v = win.indices_view
    win.docks["layers"].raise_()
    win.selection_tabs.setCurrentWidget(v)
    qtbot.waitUntil(lambda: v.isVisible() and not v.busy and not v._stale, timeout=30_000)
    return v


def table_rows(v) -> list[list[str]]:
    m = v.model
    return [[m.data(m.index(r, c)) for c in range(m.columnCount())] for r in range(m.rowCount())]


def shown(ind, grid) -> list[list[str]]:
    """What the table should show for records ``ind``."""
    d = iv._time_decimals(grid)
    return [[str(c), f"{t:.{d}f}", str(s), str(e), iv._freq_text(fs), iv._freq_text(fe)]
            for c, t, s, e, fs, fe in zip(ind.column.tolist(), ind.time.tolist(),
                                          ind.start_row.tolist(), ind.end_row.tolist(),
                                          ind.start_freq.tolist(), ind.end_freq.tolist(),
                                          strict=True)]


def test_table_shows_a_bands_rows_and_follows_an_edit_and_its_undo(qtbot, window):
    doc = window.doc
    v = show_table(qtbot, window)
    assert v.model.rowCount() == 0 and "No selection" in v.summary.text()
    with qtbot.waitSignal(v.indices_updated, timeout=30_000):
        doc.layers.add_band(UPPER, LOWER, name="b")
    want = indices_from_bands(Band(UPPER, LOWER), doc.tfr)
    assert len(want) > 100
    assert table_rows(v) == shown(want, doc.tfr)
    assert f"{len(want):,} intervals" in v.summary.text()
    m = v.model
    assert m.headerData(1, Qt.Orientation.Horizontal) == "time\n(s)"
    assert "end_row - 1" in m.headerData(3, Qt.Orientation.Horizontal,
                                         Qt.ItemDataRole.ToolTipRole)
    assert "rows" in m.data(m.index(0, 0), Qt.ItemDataRole.ToolTipRole)

    new_up = [(0.1, 200.0), (0.9, 380.0)]
    with qtbot.waitSignal(v.indices_updated, timeout=30_000):
        doc.layers.set_band_edges(0, new_up, LOWER)
    assert table_rows(v) == shown(indices_from_bands(Band(new_up, LOWER), doc.tfr), doc.tfr)
    with qtbot.waitSignal(v.indices_updated, timeout=30_000):
        doc.layers.undo_stack.undo()
    assert table_rows(v) == shown(want, doc.tfr)
    with qtbot.waitSignal(v.indices_updated, timeout=30_000):
        doc.layers.set_visible(0, False)
    assert v.model.rowCount() == 0


def test_the_table_counts_only_while_shown(qtbot, window):
    doc = window.doc
    v = window.indices_view
    window.selection_tabs.setCurrentIndex(0)       # the layer list; the table is hidden
    qtbot.waitUntil(lambda: not v.isVisible())
    doc.layers.add_band(UPPER, LOWER)
    qtbot.waitUntil(lambda: not v._timer.isActive(), timeout=5_000)
    assert v._worker is None and v._stale and v.model.rowCount() == 0
    show_table(qtbot, window)
    assert v.model.rowCount() == len(indices_from_bands(Band(UPPER, LOWER), doc.tfr))


def test_a_mask_with_several_intervals_per_column(qtbot, window):
    doc = window.doc
    v = show_table(qtbot, window)
    n_rows, n_cols = doc.layers.shape
    with qtbot.waitSignal(v.indices_updated, timeout=30_000):
        doc.layers.add_band(UPPER, LOWER)
    with qtbot.waitSignal(v.indices_updated, timeout=30_000):
        doc.layers.edit_shape("add", "rect", (2, 8, 100, 900), text="rect")
    with qtbot.waitSignal(v.indices_updated, timeout=30_000):
        doc.layers.edit_shape("add", "rect", (n_rows - 10, n_rows - 4, 300, 400), text="rect")
    want = indices_from_mask(doc.layers.selection_mask(), doc.tfr)
    assert np.bincount(want.column).max() == 3
    assert table_rows(v) == shown(want, doc.tfr)


def _answer_save_dialog(monkeypatch, path, chosen=""):
    asked = []

    def fake(parent, title, start, filters):
        asked.append(filters)
        return str(path), chosen

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake))
    return asked


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_export_action_writes_the_core_functions_output(qtbot, window, tmp_path, monkeypatch,
                                                        errors, suffix):
    doc = window.doc
    doc.layers.add_band(UPPER, LOWER)
    doc.layers.edit_shape("add", "rect", (2, 8, 100, 900), text="rect")
    path = tmp_path / f"idx{suffix}"
    asked = _answer_save_dialog(monkeypatch, path)
    act = window.export_indices_action
    assert act.shortcut().toString() == "Ctrl+E" and "CSV or NPZ" in act.toolTip()
    with qtbot.waitSignal(window.indices_view.exported, timeout=30_000) as sig:
        act.trigger()
    assert sig.args == [str(path)] and asked and "*.npz" in asked[0]
    want = indices_from_mask(doc.layers.selection_mask(), doc.tfr)
    ref = tmp_path / f"ref{suffix}"
    (write_indices_csv if suffix == ".csv" else write_indices_npz)(ref, want)
    if suffix == ".csv":
        assert path.read_bytes() == ref.read_bytes()
    else:
        got = read_indices(path)
        assert got.equals(want) and got.shape == doc.layers.shape
    assert errors == [] and f"Wrote {path}" in window.statusBar().currentMessage()


def test_the_selection_menu_holds_the_action(window):
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    assert window.export_indices_action in menus["&Selection"].actions()


def test_export_without_a_selection_says_why(qtbot, window, errors, tmp_path, monkeypatch):
    _answer_save_dialog(monkeypatch, tmp_path / "x.csv")
    window.export_indices_action.trigger()
    assert "draw a band or paint a mask" in window.last_error
    assert not (tmp_path / "x.csv").exists()
    window.doc.layers.add_band(UPPER, LOWER)
    assert window.export_indices(tmp_path / "x.txt") is None
    assert ".csv or .npz" in window.last_error


def test_a_file_name_without_suffix_takes_the_chosen_filters(qtbot, window, tmp_path,
                                                             monkeypatch):
    window.doc.layers.add_band(UPPER, LOWER)
    _answer_save_dialog(monkeypatch, tmp_path / "noext", chosen=iv.INDEX_FILTER.split(";;")[1])
    with qtbot.waitSignal(window.indices_view.exported, timeout=30_000) as sig:
        window.export_indices()
    assert sig.args == [str(tmp_path / "noext.npz")]
    assert len(read_indices(tmp_path / "noext.npz")) > 0


def test_a_slow_export_shows_progress_and_cancels_without_a_file(qtbot, window, tmp_path,
                                                                 monkeypatch, errors):
    window.doc.layers.add_band(UPPER, LOWER)
    monkeypatch.setattr(iv, "PROGRESS_AFTER_MS", 0)
    go = threading.Event()
    real = iv.write_indices

    def held(path, chunks, **kw):
        go.wait(30)          # released by the test once the dialog is up
        return real(path, chunks, **kw)

    monkeypatch.setattr(iv, "write_indices", held)
    path = tmp_path / "slow.csv"
    job = window.export_indices(path)
    qtbot.waitUntil(lambda: job._dialog is not None and job._dialog.isVisible(), timeout=10_000)
    with qtbot.waitSignal(window.indices_view.export_cancelled, timeout=30_000):
        job._dialog.findChild(QPushButton).click()    # the dialog's Cancel
        go.set()
    assert not path.exists() and errors == []
    assert "cancelled" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not job.running, timeout=10_000)


def test_the_model_formats_only_the_pages_on_screen(qtbot, window):
    doc = window.doc
    v = show_table(qtbot, window)
    with qtbot.waitSignal(v.indices_updated, timeout=30_000):
        doc.layers.add_paint_layer(mask=np.ones(doc.layers.shape, bool))
    n = v.model.rowCount()
    assert n == doc.layers.shape[1]
    calls = []
    ix = v.model.intervals
    real = ix.records
    ix.records = lambda a, b: calls.append((a, b)) or real(a, b)
    v.model._pages.clear()
    v.table.scrollToBottom()
    qtbot.waitUntil(lambda: bool(calls))
    v.model.data(v.model.index(n - 1, 0))
    assert all(b - a == iv.PAGE_ROWS for a, b in calls) and len(v.model._pages) <= 16


def test_every_control_has_a_tooltip(window):
    from PySide6.QtWidgets import QAbstractButton

    v = window.indices_view
    assert v.table.toolTip() and window.export_indices_action.toolTip()
    window.selection_tabs.setCurrentWidget(v)
    shown = [b for b in v.findChildren(QAbstractButton) if b.isVisible()]
    assert v.export_button in shown and all(b.toolTip() for b in shown)


def test_headers_name_the_units_and_stay_narrow_for_spectra(qtbot):
    from phasebrush.core.tf.indices import IntervalIndex
    from phasebrush.core.tf.masks import Grid

    g = Grid(np.geomspace(1e-3, 0.1, 20), 460.0 + 0.94 * np.arange(50), unit="cm^-1")
    m = iv.IndicesTableModel()
    m.set_intervals(IntervalIndex(lambda a, b: np.ones((20, b - a), bool), g).build(), g)
    assert m.headers()[1] == "time\n(cm^-1)" and m.headers()[4] == "start\n(cycles/\ncm^-1)"
    assert m.rowCount() == 50
    assert m.row_texts(1) == ["1", "460.9", "0", "20", "0.001", "0.1"]
