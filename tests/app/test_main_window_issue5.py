"""The analyst workflow wired into the main window: listen, reversed spectra, sessions,
export, heatmap masks, ridge bands, coherence, the close prompt."""

from __future__ import annotations

import gc
import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from phasebrush.app.audio import NullAudioSink
from phasebrush.app.playback_bar import PlaybackBar
from phasebrush.core.io.signals import save_signal
from phasebrush.core.signal import Signal
from phasebrush.core.tf.feature_width import width_axis
from phasebrush.core.tf.inversion import invert
from phasebrush.core.tf.masks import fill_polygon, inner_rows
from phasebrush.core.tf.transforms import TransformSpec
from tests.app.conftest import short_chirp, shown_window

SPEC = TransformSpec(kind="cwt", nv=16)


@pytest.fixture
def make_window(qtbot, settings):
    """make(signal=None, **MainWindow kwargs) -> a shown window, transform finished."""
    made = []

    def make(signal=None, *, spec=SPEC, **kw):
        kw.setdefault("audio_sink", NullAudioSink(speed=4.0))
        win = shown_window(qtbot, settings, **kw)
        made.append(win)
        if signal is not None:
            with qtbot.waitSignal(win.doc.tfr_changed, timeout=60_000):
                win.doc.set_signal(signal, spec)
        return win

    yield make
    for win in made:
        win.player.stop()
        win.coherence_view.shutdown()
        win.doc.shutdown()
    # Collect now: a Qt object freed by the cycle collector at a random later moment
    # once crashed the interpreter (see app.tfr_view._dispose_roi).
    gc.collect()


def chirp_band(win, lo=(20.0, 60.0), hi=(80.0, 200.0)):
    T = win.doc.signal.x[-1]
    return win.doc.layers.add_band([(0.2 * T, hi[0]), (0.8 * T, hi[1])],
                                   [(0.2 * T, lo[0]), (0.8 * T, lo[1])], name="chirp band")


def hand_mask(tfr):
    """A lasso over the chirp's middle, painted by hand on the transform's grid."""
    a, b = inner_rows(tfr)
    r0, r1 = a + (b - a) // 3, a + 2 * (b - a) // 3
    n = tfr.n_frames
    return fill_polygon(np.zeros(tfr.shape, bool),
                        [(r0, n // 4), (r1, n // 3), (r1 + 4, 3 * n // 4), (r0 - 3, 2 * n // 3)])


# -- listening ---------------------------------------------------------------------

def test_listen_dock_plays_and_moves_the_playheads(qtbot, make_window):
    win = make_window(short_chirp())
    dock = win.docks["listen"]
    assert dock.windowTitle() == "Listen" and isinstance(dock.widget(), PlaybackBar)
    bar = win.playback_bar
    assert bar.play_action.shortcut() == QKeySequence("Space")
    assert bar.ab_action.shortcut() == QKeySequence("Shift+Space")
    play_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Play")
    assert bar.play_action in play_menu.actions() and bar.ab_action in play_menu.actions()
    assert bar.play_button.isEnabled()
    sig_line, img_line = win.playheads
    assert sig_line in win.signal_view.plot.items and img_line in win.tfr_view.plot.items

    bar.play_action.trigger()
    assert win.player.status == "playing"
    qtbot.waitUntil(lambda: sig_line.value() > 0.1 and sig_line.isVisible(), timeout=10_000)
    assert img_line.value() == pytest.approx(sig_line.value())
    first = sig_line.value()
    qtbot.waitUntil(lambda: sig_line.value() > first, timeout=10_000)
    # A/B: the band (selection inverse) plays from the same time.
    chirp_band(win)
    qtbot.waitUntil(lambda: win.player.has_source("band"), timeout=5000)
    win.player.set_ab("original", "band")
    t = win.player.time
    win.player.toggle_ab()
    assert win.player.active == "band" and win.player.time >= t
    win.close()
    assert win.player.status == "stopped"


def test_space_and_shift_space_work_over_the_image(qtbot, make_window):
    from PySide6.QtCore import Qt

    win = make_window(short_chirp())
    chirp_band(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=2000)
    win.tfr_view.setFocus()
    qtbot.keyClick(win.tfr_view, Qt.Key.Key_Space)
    assert win.player.status == "playing"
    a, b = win.player.ab_pair
    qtbot.keyClick(win.tfr_view, Qt.Key.Key_Space, Qt.KeyboardModifier.ShiftModifier)
    assert win.player.active == b != a
    qtbot.keyClick(win.tfr_view, Qt.Key.Key_Space)
    assert win.player.status == "paused"


def test_without_audio_play_is_disabled_and_the_rest_works(qtbot, make_window, tmp_path, errors):
    reason = "Playback unavailable: QtMultimedia could not load (libpulse.so.0 missing)"
    win = make_window(short_chirp(), audio_sink=None, audio_unavailable_reason=reason)
    bar = win.playback_bar
    assert not bar.play_button.isEnabled() and not bar.play_action.isEnabled()
    assert reason in bar.play_button.toolTip()
    bar.play_action.trigger()  # nothing happens, nothing crashes
    assert win.player.status == "stopped"
    chirp_band(win)
    assert win.doc.inversion is not None
    out = win.export_selection(path=tmp_path / "band.wav")
    assert out is not None and out.exists() and not errors


# -- spectra: reversed axes, feature width ---------------------------------------------

def spectrum(unit="cm^-1", descending=False, n=512):
    x = np.arange(n)
    y = (1.0 - 0.6 * np.exp(-0.5 * ((x - 200) / 6.0) ** 2)
         - 0.4 * np.exp(-0.5 * ((x - 380) / 15.0) ** 2))
    return Signal(y, dx=4.0, x0=500.0, unit=unit, name="test spectrum", descending=descending)


@pytest.mark.parametrize("sig, inverted", [
    (spectrum("cm^-1"), True),            # IR: 4000 -> 500 even when the file ascends
    (spectrum("ppm"), True),              # NMR
    (spectrum("nm", descending=True), True),
    (spectrum("nm"), False),
    (short_chirp(), False),               # audio
])
def test_x_axis_is_reversed_for_spectra_only(qtbot, make_window, sig, inverted):
    win = make_window(sig)
    assert win.signal_view.plot.getViewBox().xInverted() is inverted
    assert win.tfr_view.plot.getViewBox().xInverted() is inverted


def test_shipped_ethanol_spectrum_is_shown_high_to_low():
    from phasebrush.app.axes import display_reversed, x_axis_label
    from phasebrush.core.io.demo import demo_signal

    sig = demo_signal("ir")
    assert not sig.descending and sig.unit == "cm^-1"   # ascending in the file ...
    assert display_reversed(sig)                          # ... shown 4000 -> 500
    assert x_axis_label(sig.unit) == "wavenumber (cm^-1)"


def test_spectrum_rows_read_as_feature_width_with_a_toggle(qtbot, make_window):
    win = make_window(spectrum())
    tv = win.tfr_view
    assert tv.freq_mode == "width" and win.freq_mode_actions["width"].isChecked()
    assert tv.plot.getAxis("left").labelText == "peak width, FWHM (cm^-1)"
    # The read-out under the mouse says the same thing as the axis.
    tfr = win.doc.tfr
    r = (inner_rows(tfr)[0] + inner_rows(tfr)[1]) // 2
    c = tfr.n_frames // 2
    x, y = tv.grid.to_display(r, c)
    scene = tv.vb.mapViewToScene(QPointF(float(x), float(y)))
    with qtbot.waitSignal(tv.cursor_read) as got:
        tv._on_mouse_moved(scene)
    text = got.args[0]
    row, col = tv.grid.cell_at(float(x), float(y))
    # the calibrated width: the FWHM of the Gaussian peak this row answers most
    width = float(width_axis(tfr).widths[row])
    assert "FWHM = " in text and "cm^-1" in text
    value = float(text.split("FWHM = ")[1].split()[0].rstrip("k"))
    assert value == pytest.approx(width, rel=5e-3)
    # Tick labels are widths too, at round values.
    axis = tv.plot.getAxis("left")
    ticks = [v for _s, vals in axis.tickValues(*tv.vb.viewRange()[1], 400) for v in vals]
    labels = axis.tickStrings(ticks, 1.0, 1.0)
    assert any(lbl == "10" for lbl in labels) or any(lbl == "100" for lbl in labels)

    win.freq_mode_actions["frequency"].trigger()
    assert tv.freq_mode == "frequency"
    assert tv.plot.getAxis("left").labelText == "cycles per cm^-1"
    with qtbot.waitSignal(tv.cursor_read) as got:
        tv._on_mouse_moved(scene)
    assert "f = " in got.args[0]


def test_audio_rows_read_as_frequency(qtbot, make_window):
    win = make_window(short_chirp())
    assert win.tfr_view.freq_mode == "frequency"
    assert win.tfr_view.plot.getAxis("left").labelText == "frequency (Hz)"


def test_load_notes_are_shown(qtbot, make_window, tmp_path):
    win = make_window()
    win.error_dialogs = True   # the notes box is non-modal: no test hang
    x = np.sort(np.r_[np.linspace(4000, 3000, 60), np.linspace(2990, 500, 120)])[::-1]
    p = tmp_path / "nonuniform.csv"
    np.savetxt(p, np.column_stack([x, np.cos(x / 50.0)]), delimiter=",",
               header="wavenumber (cm^-1),absorbance", comments="")
    with qtbot.waitSignal(win.doc.tfr_changed, timeout=60_000):
        assert win.open_path(p)
    notes = win.doc.signal.notes
    assert notes and any("spacing" in n or "resampl" in n for n in notes)
    assert notes[0] in win.notes_label.toolTip()        # stays in the status bar
    assert win.notes_label.text() and win.notes_label.isVisible()
    assert win._notes_box is not None and win._notes_box.isVisible()
    assert not win._notes_box.isModal()
    assert win.signal_view.plot.getViewBox().xInverted()
    win._notes_box.close()


def test_multi_block_jcamp_asks_which_block(qtbot, make_window, monkeypatch):
    import phasebrush.app.jcamp_block_dialog as jbd
    from phasebrush.core.io.demo import resource_path

    asked = []

    def choose(parent, path, *, blocks=None):
        asked.append(path)
        return 1

    monkeypatch.setattr(jbd, "choose_jcamp_block", choose)
    win = make_window()
    with qtbot.waitSignal(win.doc.tfr_changed, timeout=60_000):
        assert win.open_path(resource_path("spectra", "synthetic_link.jdx"))
    assert asked and win.load_options == {"block": 1}
    assert win.doc.signal.n > 0


# -- sessions ----------------------------------------------------------------------

def file_window(make_window, tmp_path):
    wav = tmp_path / "chirp.wav"
    save_signal(short_chirp(), wav)
    win = make_window()
    return win, wav


def open_file(qtbot, win, path):
    with qtbot.waitSignal(win.doc.tfr_changed, timeout=60_000):
        assert win.open_path(path, ask=False)


def paint_state(win):
    layers = win.doc.layers
    return ([(lay.name, lay.upper.copy(), lay.lower.copy()) for lay in layers if lay.is_band],
            [(lay.name, lay.mask.copy()) for lay in layers if not lay.is_band])


def assert_same_layers(a, b):
    (bands_a, masks_a), (bands_b, masks_b) = a, b
    assert [n for n, *_ in bands_a] == [n for n, *_ in bands_b]
    for (_, ua, la), (_, ub, lb) in zip(bands_a, bands_b, strict=True):
        np.testing.assert_array_equal(ua, ub)
        np.testing.assert_array_equal(la, lb)
    assert [n for n, _ in masks_a] == [n for n, _ in masks_b]
    for (_, ma), (_, mb) in zip(masks_a, masks_b, strict=True):
        np.testing.assert_array_equal(ma, mb)


def test_session_save_and_open_through_the_actions(qtbot, make_window, tmp_path, monkeypatch,
                                                   errors):
    win, wav = file_window(make_window, tmp_path)
    open_file(qtbot, win, wav)
    win.confirm_close = True   # unsaved work is offered a save below
    assert not win.isWindowModified()
    chirp_band(win)
    win.doc.layers.add_paint_layer(name="lasso", mask=hand_mask(win.doc.tfr))
    assert win.isWindowModified() and "[*]" in win.windowTitle()
    saved = paint_state(win)
    inversion = win.doc.inversion.copy()

    session = tmp_path / "work.pbsession"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(session), "")))
    win.save_session_as_action.trigger()
    assert session.exists() and not win.isWindowModified()

    win.doc.layers.clear()
    assert win.isWindowModified()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Discard))
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(session), "")))
    with qtbot.waitSignal(win.doc.tfr_changed, timeout=60_000):
        win.open_session_action.trigger()
    assert asked and "Save the changes" in asked[0]   # unsaved work was offered a save
    qtbot.waitUntil(lambda: len(win.doc.layers) == 2, timeout=5000)
    assert_same_layers(paint_state(win), saved)
    np.testing.assert_allclose(win.doc.inversion, inversion, atol=1e-12)
    assert not win.isWindowModified() and not errors
    # Ctrl+S now writes to the same file without asking.
    chirp_band(win, lo=(5.0, 10.0), hi=(10.0, 20.0))
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: pytest.fail("Save asked for a name")))
    before = session.stat().st_mtime_ns
    win.save_session_action.trigger()
    assert session.stat().st_mtime_ns != before and not win.isWindowModified()


def test_session_with_a_moved_signal_asks_where_it_is(qtbot, make_window, tmp_path, monkeypatch,
                                                      errors):
    win, wav = file_window(make_window, tmp_path)
    open_file(qtbot, win, wav)
    chirp_band(win)
    saved = paint_state(win)
    session = tmp_path / "s.pbsession"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(session), "")))
    assert win.save_session_as() is not None
    moved = tmp_path / "elsewhere" / "renamed.wav"
    moved.parent.mkdir()
    shutil.move(wav, moved)

    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes))
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(moved), "")))
    win.doc.layers.clear()
    win.session.mark_saved(session)  # nothing unsaved: the only question is "locate it?"
    with qtbot.waitSignal(win.doc.tfr_changed, timeout=60_000):
        assert win.open_session(session)
    assert len(asked) == 1 and "chirp.wav" in asked[0] and "Locate" in asked[0]
    assert win.doc.signal.source == moved
    qtbot.waitUntil(lambda: len(win.doc.layers) == 1, timeout=5000)
    assert_same_layers(paint_state(win), saved)
    assert not errors


# -- export ----------------------------------------------------------------------------

def test_export_to_a_missing_folder_reports_and_asks_again(qtbot, make_window, tmp_path,
                                                           monkeypatch, errors):
    win = make_window(short_chirp())
    chirp_band(win)
    inversion = win.doc.inversion.copy()
    bad = tmp_path / "no such folder" / "band.wav"
    good = tmp_path / "band.flac"
    answers = iter([(str(bad), "WAV audio (*.wav)"), (str(good), "FLAC audio (*.flac)")])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: next(answers)))
    out = win.export_selection()
    assert len(errors) == 1 and str(bad) in errors[0] and "Nothing was lost" in errors[0]
    assert out == good and good.exists() and not bad.parent.exists()
    np.testing.assert_array_equal(win.doc.inversion, inversion)
    assert len(win.doc.layers) == 1
    # With an explicit path: one message, None, the work still there.
    errors.clear()
    assert win.export_residual(path=bad) is None and len(errors) == 1
    assert win.doc.residual is not None


def test_export_actions_ask_for_a_file(qtbot, make_window, tmp_path, monkeypatch, errors):
    from phasebrush.core.io.signals import load_signal

    win = make_window(short_chirp())
    chirp_band(win)
    out = tmp_path / "band"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(out), "WAV audio (*.wav)")))
    assert win.export_sel_action.isEnabled()
    win.export_sel_action.trigger()
    assert not errors
    back = load_signal(tmp_path / "band.wav")   # the chosen filter's extension was added
    assert back.n == win.doc.signal.n
    np.testing.assert_allclose(back.y, win.doc.inversion, atol=1e-4 * np.abs(back.y).max())


def test_export_menu_writes_every_format(qtbot, make_window, tmp_path, errors):
    from phasebrush.core.tf.bands import load_bands
    from phasebrush.core.tf.masks import load_mask

    win = make_window(short_chirp())
    chirp_band(win)
    win.doc.layers.add_paint_layer(name="lasso", mask=hand_mask(win.doc.tfr))
    assert win.export_residual(path=tmp_path / "res.csv").exists()
    m = win.export_mask(path=tmp_path / "m.npz")
    np.testing.assert_array_equal(load_mask(m).mask, win.doc.layers.selection_mask())
    assert len(load_bands(win.export_bands(path=tmp_path / "b.json"))) == 1
    table = win.export_selection_table(path=tmp_path / "sel.txt")
    assert table.read_text().count("\n") >= 2
    assert win.import_selection_table(path=table) == 1
    assert sum(lay.is_band for lay in win.doc.layers) == 2
    win.doc.layers.undo_stack.undo()   # the import is one undo step
    assert sum(lay.is_band for lay in win.doc.layers) == 1
    assert not errors


# -- heatmap masks and ridges ------------------------------------------------------------

def test_heatmap_import_inverts_like_the_hand_painted_mask(qtbot, make_window, tmp_path):
    win = make_window(short_chirp())
    tfr = win.doc.tfr
    hand = hand_mask(tfr)
    a, b = inner_rows(tfr)
    heat = np.repeat(np.repeat(hand[a:b].astype(float), 2, axis=0), 3, axis=1)
    np.save(tmp_path / "gradcam.npy", 7.0 * heat[::-1])   # image way up, other scale

    def run(dlg):
        assert dlg.load(tmp_path / "gradcam.npy")
        dlg.set_threshold(0.5)
        dlg.update_preview()
        return QDialog.DialogCode.Accepted

    win.exec_dialog = run
    assert win.import_heatmap_mask()
    (lay,) = list(win.doc.layers)
    assert not lay.is_band and "gradcam" in lay.name
    np.testing.assert_array_equal(lay.mask, hand)
    from_heatmap = win.doc.inversion.copy()
    np.testing.assert_allclose(from_heatmap, invert(tfr, hand), atol=1e-9)
    attribution = win.signal_view.attribution
    assert attribution is not None and attribution.max() == pytest.approx(1.0)
    assert win.signal_view.curves["attribution"].isVisible()

    win.doc.layers.undo_stack.undo()
    assert win.doc.inversion is None
    win.doc.layers.add_paint_layer(name="by hand", mask=hand)
    np.testing.assert_allclose(win.doc.inversion, from_heatmap, atol=1e-9)


def test_cancelled_heatmap_adds_nothing(qtbot, make_window):
    win = make_window(short_chirp())
    win.exec_dialog = lambda dlg: QDialog.DialogCode.Rejected
    assert not win.import_heatmap_mask()
    assert len(win.doc.layers) == 0


def test_ridge_proposals_become_editable_bands(qtbot, make_window):
    win = make_window(short_chirp())

    def run(dlg):
        qtbot.waitUntil(lambda: bool(dlg.bands) and not dlg.busy, timeout=30_000)
        return QDialog.DialogCode.Accepted

    win.exec_dialog = run
    n = win.propose_ridge_bands()
    bands = [lay for lay in win.doc.layers if lay.is_band]
    assert n >= 1 and len(bands) == n
    assert win.doc.inversion is not None and np.any(win.doc.inversion)
    # An ordinary band: its edges can be dragged (edited) and the edit undone.
    lay = bands[0]
    i = win.doc.layers.index_of(lay)
    upper, lower = lay.upper.copy(), lay.lower.copy()
    before = win.doc.inversion.copy()
    win.doc.layers.set_band_edges(i, upper * [1.0, 1.2], lower)
    assert not np.array_equal(win.doc.inversion, before)
    win.doc.layers.undo_stack.undo()
    np.testing.assert_array_equal(win.doc.layers[i].upper, upper)


# -- coherence, closing -----------------------------------------------------------------

def test_coherence_dock_refreshes_when_a_retrieval_finishes(qtbot, make_window):
    from phasebrush.app.session_io import RestoredRetrieval

    win = make_window(short_chirp())
    assert win.docks["coherence"].windowTitle() == "Coherence"
    doc = win.doc
    y = np.asarray(doc.signal.y) * -1.0   # a sign flip: coherence 1, phase pi
    doc.retrieval = RestoredRetrieval(y)
    with qtbot.waitSignal(win.coherence_view.computed, timeout=60_000):
        doc.retrieval_finished.emit(doc.retrieval)
    assert win.coherence_view.result.mean_coherence > 0.95
    assert win.export_action.isEnabled()


def test_headless_close_does_not_wait_for_an_answer(qtbot, make_window, monkeypatch):
    win = make_window(short_chirp())
    win.confirm_close = None          # the default: ask, unless no one can answer
    chirp_band(win)
    assert win.isWindowModified()
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: pytest.fail("asked while headless")))
    assert win.close()


def test_close_with_unsaved_work_asks(qtbot, make_window, monkeypatch):
    win = make_window(short_chirp())
    win.confirm_close = True
    chirp_band(win)
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Discard]
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: answers.pop(0)))
    assert not win.close() and win.isVisible()
    assert win.close() and not answers
    assert not win.doc.workers() and not win.coherence_view.busy


def test_a_band_from_0_hz_is_clamped_with_a_note_in_the_status_bar(qtbot, window):
    # Raven tables and hand-typed bands start at 0 Hz: "everything from the bottom"
    doc = window.doc
    with qtbot.waitSignal(doc.layers.noted, timeout=5_000) as noted:
        lay = doc.layers.add_band([(0.1, 300.0), (0.9, 300.0)], [(0.1, 0.0), (0.9, 0.0)])
    assert "clamped" in noted.args[0]
    assert "clamped" in window.statusBar().currentMessage()
    start, end = lay.ranges
    assert int(np.min(start)) == 0 and int(np.max(end)) > 0   # from the bottom row up
    assert doc.inversion is not None and np.any(doc.inversion)
