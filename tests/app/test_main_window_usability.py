"""The main window as a new user meets it at 1280x800: docks that fit, the Help menu,
shortcuts named in tooltips, stable toolbar, the spacing of files with no x axis."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QAction, QFontMetrics, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QScrollArea,
    QSlider,
    QTabBar,
    QToolBar,
    QWidget,
)

from phasebrush.app.shortcuts import plain_text, shortcut_clashes, shortcut_rows, shortcut_text

INPUTS = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QAbstractItemView, QSlider)


def settle():
    for _ in range(3):
        QApplication.sendPostedEvents()
        QApplication.processEvents()


def visible_area(widget: QWidget, dock: QWidget) -> QRect:
    """The part of ``widget`` (in ``dock``'s coordinates) that its ancestors up to the
    dock do not clip: a scroll area's viewport, a tab page, the dock itself."""
    area = QRect(widget.mapTo(dock, QPoint(0, 0)), widget.size())
    w = widget.parentWidget()
    while w is not None and w is not dock:
        area &= QRect(w.mapTo(dock, QPoint(0, 0)), w.size())
        w = w.parentWidget()
    return area & dock.rect()


def cut_off_inputs(dock) -> list[str]:
    """Every shown input of ``dock`` that is not wholly in its visible area."""
    bad = []
    for cls in INPUTS:
        for w in dock.findChildren(cls):
            if not w.isVisibleTo(dock) or w.objectName() == "qt_spinbox_lineedit":
                continue
            if isinstance(w.parentWidget(), QTabBar):   # a tab bar's scroll arrows
                continue
            whole = QRect(w.mapTo(dock, QPoint(0, 0)), w.size())
            if visible_area(w, dock) != whole:
                text = w.text() if hasattr(w, "text") and callable(w.text) else ""
                bad.append(f"{type(w).__name__} {text!r} at {whole} shows "
                           f"{visible_area(w, dock)}")
    return bad


def scrolling(dock) -> list[str]:
    """The dock's scroll areas (not its lists and tables) that need a scroll bar."""
    out = []
    for area in dock.findChildren(QScrollArea):
        for bar in (area.verticalScrollBar(), area.horizontalScrollBar()):
            if bar.isVisibleTo(dock) and bar.maximum() > 0:
                out.append(f"{area.widget().__class__.__name__} scrolls {bar.maximum()} px")
    return out


def _show(window, key, tab=None):
    window.docks[key].raise_()
    if tab is not None:
        window.selection_tabs.setCurrentIndex(tab)
    settle()
    return window.docks[key]


@pytest.mark.parametrize(("key", "tab"), [("layers", 0), ("layers", 1), ("transform", None),
                                          ("retrieval", None), ("coherence", None),
                                          ("listen", None)])
def test_every_control_of_every_dock_shows_without_scrolling(window, key, tab):
    assert window.size().width() == 1280 and window.size().height() == 800
    dock = _show(window, key, tab)
    assert dock.isVisible() and not dock.visibleRegion().isEmpty()
    assert cut_off_inputs(dock) == []
    assert scrolling(dock) == []


def test_the_transform_dock_shows_every_setting(window):
    dock = _show(window, "transform")
    p = window.transform_panel
    for w in (p.kind, p.wavelet, p.time_bandwidth, p.nv, p.fmin, p.fmax, p.n_fft, p.window,
              p.hop, p.apply_button, p.floor, p.ceiling, p.colormap):
        assert w.isVisible(), w
        assert visible_area(w, dock) == QRect(w.mapTo(dock, QPoint(0, 0)), w.size()), w
    # labels grey out with the settings that do not apply (STFT settings for a CWT)
    label = next(lb for lb in p.findChildren(QLabel) if lb.buddy() is p.n_fft)
    assert not p.n_fft.isEnabled() and not label.isEnabled()


def test_the_layer_list_shows_five_rows(window):
    _show(window, "layers", 0)
    layers = window.doc.layers
    for i in range(7):
        layers.add_paint_layer(name=f"mask {i}")
    settle()
    lst = window.layer_panel.list
    assert lst.count() == 7
    row = lst.visualItemRect(lst.item(4))
    assert row.bottom() <= lst.viewport().height(), "fewer than 5 rows show"


def test_dock_tab_bars_never_cover_the_status_bar(window):
    status = QRect(window.statusBar().mapTo(window, QPoint(0, 0)), window.statusBar().size())
    bars = [tb for tb in window.findChildren(QTabBar) if tb.isVisible()]
    assert bars
    for tb in bars:
        r = QRect(tb.mapTo(window, QPoint(0, 0)), tb.size())
        assert not r.intersects(status), ([tb.tabText(i) for i in range(tb.count())], r, status)
        assert r.bottom() < status.top()
    for d in window.docks.values():
        if d.isVisible():
            assert not d.geometry().intersects(status), d.windowTitle()
    # the right column's tabs are along the top of their docks, under the Selection dock
    right = [tb for tb in bars if tb.parent() is window]
    assert right and all(window.docks["layers"].geometry().bottom() < tb.geometry().top()
                         < window.docks["transform"].geometry().top() for tb in right)


def test_shortcuts_do_not_clash_and_tooltips_name_them(window):
    assert shortcut_clashes(window) == {}
    expected = {
        window.recompute_action: "F5",
        window.run_retrieval_action: "Ctrl+R",
        window.cancel_retrieval_action: "Ctrl+.",
        window.delete_layer_action: "Del",
        window.export_indices_action: "Ctrl+E",
        window.export_action: "Ctrl+Shift+E",
        window.export_sel_action: "Ctrl+Shift+B",
        window.export_res_action: "Ctrl+Shift+R",
        window.export_mask_action: "Ctrl+Shift+M",
        window.export_bands_action: "Ctrl+Shift+J",
        window.export_table_action: "Ctrl+Shift+T",
    }
    for act, keys in expected.items():
        assert act.shortcut() == QKeySequence(keys), (act.text(), act.shortcut().toString())
    for act in window.findChildren(QAction):
        keys = shortcut_text(act)
        if keys:
            assert f"({keys})" in act.toolTip(), (act.text(), act.toolTip())
    # the buttons in the docks name their keys too
    assert "(F5)" in window.transform_panel.apply_button.toolTip()
    assert "(Ctrl+R)" in window.retrieval_panel.run_button.toolTip()
    assert "(Ctrl+.)" in window.retrieval_panel.cancel_button.toolTip()
    assert "(Del)" in window.layer_panel.buttons["delete"].toolTip()
    assert "(Ctrl+E)" in window.indices_view.export_button.toolTip()


def test_shortcuts_dialog_is_read_from_the_actions(qtbot, window):
    dlg = window.show_shortcuts()
    qtbot.addWidget(dlg)
    listed = {(what, keys) for keys, what, where in dlg.rows}
    for act in window.findChildren(QAction):
        keys = shortcut_text(act)
        if keys:
            assert (plain_text(act.iconText(), keys), keys) in listed, act.text()
    assert ("Recompute transform", "F5") in listed and ("Band", "B") in listed
    assert ("Undo", "Ctrl+Z") in listed                # not "Undo Add band"
    assert any(where == "File ▸ Export" and what == "Reconstruction"
               for keys, what, where in dlg.rows)
    assert any(where == "In the image" and keys == "Shift+drag" for keys, what, where in dlg.rows)
    assert dlg.table.rowCount() == len(dlg.rows)
    # change a shortcut: the next list says so
    window.recompute_action.setShortcut(QKeySequence("Ctrl+T"))
    rows = {(what, keys) for where, what, keys in shortcut_rows(window)}
    assert ("Recompute transform", "Ctrl+T") in rows and ("Recompute transform", "F5") not in rows
    dlg.close()


def test_about_names_the_version_and_the_shipped_data_licences(qtbot, window):
    from phasebrush.app.help_dialogs import about_html, app_version

    text = about_html()
    assert app_version() in text and app_version() != ""
    for fragment in ("CMU ARCTIC", "Carnegie Mellon University", "ethanol", "Nathan Hagen",
                     "MIT", "arctic_a0007.COPYING", "jcamp-data.LICENSE"):
        assert fragment in text, fragment
    dlg = window.show_about()
    qtbot.addWidget(dlg)
    assert dlg.isVisible() and "Carnegie Mellon" in dlg.browser.toPlainText()
    assert window.show_about() is dlg                 # one box, raised again
    dlg.close()


def test_maths_dialog_says_inverse_band_mask_retrieval(qtbot, window):
    window.maths_action.trigger()
    dlg = window._help_dialogs["maths"]
    qtbot.addWidget(dlg)
    text = dlg.browser.toPlainText()
    for fragment in ("one-integral inverse", "band", "mask", "residual", "Phase retrieval",
                     "magnitudes"):
        assert fragment in text, fragment
    assert window.maths_action.shortcut() == QKeySequence(QKeySequence.StandardKey.HelpContents)
    dlg.close()


def test_help_menu_holds_about_shortcuts_and_maths(window):
    menus = {plain_text(a.text()): a.menu() for a in window.menuBar().actions() if a.menu()}
    assert "Help" in menus
    texts = [plain_text(a.text()) for a in menus["Help"].actions() if not a.isSeparator()]
    assert texts == ["Keyboard shortcuts", "The maths", "About PhaseBrush"]


def test_toolbar_buttons_stay_put_when_the_undo_text_changes(qtbot, window):
    tb = window.findChild(QToolBar, "tools")
    settle()
    after = [a for a in tb.actions() if not a.isSeparator()][-2:]    # Invert, Clear
    before = [tb.widgetForAction(a).geometry() for a in after]
    undo_button = tb.widgetForAction(window.undo_tool_action)
    T = window.doc.signal.x[-1]
    window.doc.layers.add_band([(0.2 * T, 200.0), (0.8 * T, 200.0)],
                               [(0.2 * T, 60.0), (0.8 * T, 60.0)], name="b")
    settle()
    assert window.undo_action.text() != "&Undo"               # the menu says what it undoes
    assert undo_button.text() == "Undo" and undo_button.isEnabled()
    assert "Add band" in window.undo_tool_action.toolTip()
    assert "(Ctrl+Z)" in window.undo_tool_action.toolTip()
    assert [tb.widgetForAction(a).geometry() for a in after] == before
    window.undo_tool_action.trigger()
    assert len(window.doc.layers) == 0 and window.redo_tool_action.isEnabled()
    window.redo_tool_action.trigger()
    assert len(window.doc.layers) == 1


def _glyphs_missing(window) -> list[str]:
    texts = []
    for w in window.findChildren(QLabel):
        if w.isVisible() and w.textFormat() != Qt.TextFormat.RichText:
            texts.append((w.font(), w.text()))
    for w in window.findChildren(QAbstractButton):
        if w.isVisible():
            texts.append((w.font(), w.text()))
    for m in window.findChildren(QMenu):
        for a in m.actions():
            texts.append((m.font(), a.text()))
    missing = []
    for font, text in texts:
        fm = QFontMetrics(font)
        missing += [f"U+{ord(c):04X} in {text!r}" for c in text
                    if ord(c) > 127 and not fm.inFontUcs4(ord(c))]
    return missing


def test_load_notes_use_an_icon_and_every_glyph_is_in_the_font(qtbot, window, tmp_path):
    p = tmp_path / "three.csv"
    x = np.arange(300) * 0.5
    np.savetxt(p, np.column_stack([x, np.cos(x), np.sin(x)]), delimiter=",")
    with qtbot.waitSignal(window.doc.tfr_changed, timeout=60_000):
        assert window.open_path(p)
    assert window.doc.signal.notes
    assert "\u24d8" not in window.notes_label.text() and window.notes_label.text()
    assert window.notes_icon.isVisible() and not window.notes_icon.pixmap().isNull()
    assert _glyphs_missing(window) == []


def test_tool_tooltips_and_hints_say_what_a_drag_does(window):
    for tool in ("rect", "lasso"):
        tip = window.tool_actions[tool].toolTip()
        assert "replace" in tip and "Shift+drag adds" in tip and "Alt+drag subtracts" in tip
        window.tfr_view.set_tool(tool)
        msg = window.statusBar().currentMessage()
        assert "drag = replace" in msg and "Shift+drag = add" in msg
        assert "Alt+drag = subtract" in msg
    assert "Alt+drag erases" in window.tool_actions["brush"].toolTip()


def test_the_modifiers_named_are_the_views(window):
    # TfrView._op decides: no modifier keeps the default (replace), Shift adds, Alt subtracts.
    op = window.tfr_view._op
    assert op(Qt.KeyboardModifier.NoModifier, "replace") == "replace"
    assert op(Qt.KeyboardModifier.ShiftModifier, "replace") == "add"
    assert op(Qt.KeyboardModifier.AltModifier, "replace") == "subtract"


def test_recompute_and_retrieval_actions(qtbot, window):
    window.transform_panel.kind.setCurrentIndex(window.transform_panel.kind.findData("stft"))
    with qtbot.waitSignal(window.doc.tfr_changed, timeout=60_000):
        window.recompute_action.trigger()
    assert window.doc.tfr.spec.kind == "stft"
    qtbot.waitUntil(lambda: not window.doc.busy, timeout=10_000)
    window.docks["transform"].raise_()
    window.retrieval_panel.n_iter.setValue(500)
    with qtbot.waitSignal(window.doc.retrieval_started, timeout=10_000):
        window.run_retrieval_action.trigger()
    assert window.cancel_retrieval_action.isEnabled()
    assert not window.run_retrieval_action.isEnabled()
    assert not window.docks["retrieval"].visibleRegion().isEmpty()   # raised to show it
    with qtbot.waitSignal(window.doc.retrieval_ended, timeout=60_000):
        window.cancel_retrieval_action.trigger()
    assert window.run_retrieval_action.isEnabled()
    assert not window.cancel_retrieval_action.isEnabled()


def test_delete_key_removes_the_selected_layer_but_not_while_typing(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    layers = window.doc.layers
    layers.add_paint_layer(name="a")
    layers.add_paint_layer(name="b")
    window.layer_panel.list.setCurrentRow(0)
    spin = window.transform_panel.nv
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_Delete)
    assert len(layers) == 2                           # a spin box keeps its Delete
    lst = window.layer_panel.list
    lst.setFocus()
    qtbot.keyClick(lst, Qt.Key.Key_Delete)
    assert [lay.name for lay in layers] == ["b"]
    layers.undo_stack.undo()
    assert len(layers) == 2


# -- files with no x axis ----------------------------------------------------------------

def _column(tmp_path, name="raw.txt", n=600):
    p = tmp_path / name
    p.write_text("\n".join(f"{v:.6f}" for v in np.sin(2 * np.pi * 25 * np.arange(n) / 600)))
    return p


def _answer(window, monkeypatch, seen, **choice):
    """Answer the spacing dialog with ``choice`` (or cancel when it is empty)."""

    def run(dlg):
        seen.append(dlg.state())
        if not choice:
            return QDialog.DialogCode.Rejected
        dlg.choose(**choice)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(window, "exec_dialog", run)


def test_a_single_column_asks_for_the_sample_rate(qtbot, window, tmp_path, monkeypatch):
    window.ask_spacing = True
    seen = []
    _answer(window, monkeypatch, seen, mode="rate", rate=600.0)
    with qtbot.waitSignal(window.doc.tfr_changed, timeout=60_000):
        assert window.open_path(_column(tmp_path))
    s = window.doc.signal
    assert s.unit == "s" and s.dx == pytest.approx(1 / 600.0) and s.n == 600
    assert window.load_options == {"rate": 600.0}       # a saved session reloads it so
    assert seen[0]["mode"] == "samples"                 # the first time: samples offered
    # remembered: the next such file is offered the same answer
    _answer(window, monkeypatch, seen, mode="spacing", dx=0.5, unit="cm^-1")
    with qtbot.waitSignal(window.doc.tfr_changed, timeout=60_000):
        assert window.open_path(_column(tmp_path, "other.txt"))
    assert seen[1]["mode"] == "rate" and seen[1]["rate"] == 600.0
    s = window.doc.signal
    assert (s.unit, s.dx) == ("cm^-1", 0.5)
    assert window.load_options == {"dx": 0.5, "unit": "cm^-1"}
    assert window.settings.value("raw_axis/mode") == "spacing"


def test_samples_keeps_the_old_axis(qtbot, window, tmp_path, monkeypatch):
    window.ask_spacing = True
    _answer(window, monkeypatch, [], mode="samples")
    with qtbot.waitSignal(window.doc.tfr_changed, timeout=60_000):
        assert window.open_path(_column(tmp_path))
    assert (window.doc.signal.dx, window.doc.signal.unit) == (1.0, "")
    assert window.load_options == {}


def test_cancelling_the_spacing_opens_nothing(qtbot, window, tmp_path, monkeypatch):
    window.ask_spacing = True
    before = window.doc.signal
    _answer(window, monkeypatch, [])
    assert window.open_path(_column(tmp_path)) is False
    assert window.doc.signal is before and window.recent_files() == []


def test_files_with_an_axis_and_headless_runs_are_not_asked(qtbot, window, tmp_path,
                                                            monkeypatch):
    asked = []
    monkeypatch.setattr(window, "exec_dialog", lambda dlg: asked.append(dlg) or 0)
    window.ask_spacing = True
    p = tmp_path / "xy.csv"
    x = np.arange(400) / 400.0
    np.savetxt(p, np.column_stack([x, np.cos(40 * x)]), delimiter=",", header="time (s),y",
               comments="")
    with qtbot.waitSignal(window.doc.tfr_changed, timeout=60_000):
        assert window.open_path(p)
    window.ask_spacing = None                            # default: offscreen never asks
    with qtbot.waitSignal(window.doc.tfr_changed, timeout=60_000):
        assert window.open_path(_column(tmp_path))
    assert asked == [] and window.doc.signal.unit == ""


def test_spacing_dialog_refuses_a_bad_number(qtbot):
    from PySide6.QtWidgets import QDialogButtonBox

    from phasebrush.app.spacing_dialog import SpacingDialog

    dlg = SpacingDialog("raw.txt")
    qtbot.addWidget(dlg)
    ok = dlg.box.button(QDialogButtonBox.StandardButton.Ok)
    dlg.choose("rate", rate=8000.0)
    assert ok.isEnabled() and dlg.options() == {"rate": 8000.0}
    assert not dlg.dx.isEnabled() and dlg.rate.isEnabled()
    dlg.rate.setText("0")
    assert dlg.options() is None and not ok.isEnabled()
    dlg.choose("spacing", dx=2.5, unit="nm")
    assert dlg.options() == {"dx": 2.5, "unit": "nm"} and ok.isEnabled()
    with pytest.raises(ValueError, match="mode"):
        dlg.choose("hz")


def test_a_session_reopens_a_column_file_at_its_rate(qtbot, window, tmp_path, monkeypatch,
                                                     errors):
    from PySide6.QtWidgets import QFileDialog

    window.ask_spacing = True
    _answer(window, monkeypatch, [], mode="rate", rate=600.0)
    with qtbot.waitSignal(window.doc.tfr_changed, timeout=60_000):
        assert window.open_path(_column(tmp_path))
    session = tmp_path / "raw.pbsession"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(session), "")))
    window.save_session_as_action.trigger()
    assert session.exists()
    # reopening asks nothing: the rate is in the session's load options
    monkeypatch.setattr(window, "exec_dialog", lambda dlg: pytest.fail("asked again"))
    with qtbot.waitSignal(window.doc.tfr_changed, timeout=60_000):
        assert window.open_session(session)
    s = window.doc.signal
    assert s.unit == "s" and s.dx == pytest.approx(1 / 600.0) and not errors
    assert window.load_options == {"rate": 600.0}
