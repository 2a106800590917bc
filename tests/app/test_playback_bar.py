"""Tests for app.playback_bar: buttons, Space, A/B, availability, playhead, document."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMainWindow

from phasebrush.app.audio import NullAudioSink, PlaybackController
from phasebrush.app.playback_bar import PlaybackBar, attach_playhead, follow_document, format_time
from phasebrush.core.signal import Signal as CoreSignal

RATE = 8000


def tone(n, amp=1.0):
    return amp * np.sin(2 * np.pi * 300 * np.arange(n) / RATE)


@pytest.fixture
def sink():
    return NullAudioSink(speed=4.0)


@pytest.fixture
def bar(qtbot, sink):
    c = PlaybackController(sink)
    c.set_source("original", tone(RATE), rate=RATE)
    c.set_source("band", tone(RATE, 0.3), rate=RATE)
    win = QMainWindow()
    b = PlaybackBar(c)
    win.setCentralWidget(b)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield b
    c.stop()


def test_format_time():
    assert format_time(65.25) == "1:05.250"
    assert format_time(0) == "0:00.000"


def test_play_button_plays_and_shows_the_position(qtbot, bar):
    assert bar.play_button.isEnabled()
    qtbot.mouseClick(bar.play_button, Qt.MouseButton.LeftButton)
    assert bar.controller.status == "playing"
    assert "Pause" in bar.play_action.text()
    qtbot.waitUntil(lambda: not bar.position_label.text().startswith("0:00.000"), timeout=5000)
    assert bar.position_label.text().endswith("/ 0:01.000")
    qtbot.mouseClick(bar.play_button, Qt.MouseButton.LeftButton)
    assert bar.controller.status == "paused" and "Play" in bar.play_action.text()


def test_space_toggles_play(qtbot, bar):
    win = bar.window()
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=2000)
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert bar.controller.status == "playing"
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert bar.controller.status == "paused"
    assert bar.play_action.shortcut().toString() == "Space"


def test_b_picks_a_source_that_exists_and_ab_switches_at_the_same_time(qtbot, bar, sink):
    c = bar.controller
    assert bar.b_combo.currentData() == "band"  # reconstruction does not exist yet
    assert bar.ab_button.isEnabled()
    c.play()
    qtbot.waitUntil(lambda: c.time > 0.1, timeout=5000)
    before = c.time
    qtbot.mouseClick(bar.ab_button, Qt.MouseButton.LeftButton)
    assert c.active == "band" and bar.ab_action.isChecked()
    assert sink.starts[-1][2] / RATE == pytest.approx(c.time, abs=1 / RATE)
    assert before <= c.time < before + 0.3
    qtbot.mouseClick(bar.ab_button, Qt.MouseButton.LeftButton)
    assert c.active == "original" and not bar.ab_action.isChecked()


def test_missing_sources_are_disabled_in_the_combos(bar):
    model = bar.a_combo.model()
    enabled = {bar.a_combo.itemData(i): model.item(i).isEnabled()
               for i in range(bar.a_combo.count())}
    assert enabled == {"original": True, "reconstruction": False, "band": True,
                       "residual": False}


def test_loop_button_sets_the_loop(qtbot, bar):
    qtbot.mouseClick(bar.loop_button, Qt.MouseButton.LeftButton)
    assert bar.controller.loop


def test_unavailable_audio_disables_buttons_with_the_reason(qtbot):
    reason = ("Playback unavailable: QtMultimedia could not load "
              "(libpulse.so.0 missing: install libpulse0)")
    c = PlaybackController(None, unavailable_reason=reason)
    c.set_source("original", tone(RATE), rate=RATE)
    b = PlaybackBar(c)
    qtbot.addWidget(b)
    b.show()
    for button in (b.play_button, b.stop_button, b.ab_button, b.loop_button):
        assert not button.isEnabled()
        assert button.toolTip().startswith(reason)
    assert b.play_button.toolTip() == f"{reason} (Space)"     # the key, even when it is idle
    # The reason is in the bar itself, in words, not only in a tooltip.
    assert b.reason_label.isVisible() and b.reason_label.text() == reason
    assert b.reason_label.wordWrap()                          # never wider than the window
    # Space and clicks on a disabled action do nothing and raise nothing.
    b.play_action.trigger()
    qtbot.mouseClick(b.play_button, Qt.MouseButton.LeftButton)
    assert c.status == "stopped"
    # The rest of the bar still works.
    b.a_combo.setCurrentIndex(2)
    assert b.a_combo.currentData() == "band"


def test_reason_line_goes_when_audio_comes(qtbot, sink):
    c = PlaybackController(None, unavailable_reason="Playback unavailable: no audio output "
                                                    "device")
    b = PlaybackBar(c)
    qtbot.addWidget(b)
    b.show()
    assert b.reason_label.isVisible()
    c.set_sink(sink)
    assert not b.reason_label.isVisible() and b.reason_label.text() == ""


def test_spectrum_needs_sonify_first(qtbot, sink, monkeypatch):
    c = PlaybackController(sink)
    c.set_signal(CoreSignal(np.cos(np.arange(500) / 3.0), dx=2.0, x0=600.0, unit="cm^-1"))
    b = PlaybackBar(c)
    qtbot.addWidget(b)
    b.show()
    assert not b.play_button.isEnabled() and "Sonify" in b.play_button.toolTip()
    assert b.sonify_button.isVisible()
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setattr(QInputDialog, "getDouble", staticmethod(lambda *a, **k: (4000.0, True)))
    b.sonify_action.trigger()
    assert c.sonify_rate == 4000.0 and b.play_button.isEnabled()
    assert "4000" in b.status_label.text()


def test_playhead_lines_follow_and_seek(qtbot, sink):
    c = PlaybackController(sink)
    c.set_signal(CoreSignal(tone(RATE), dx=1 / RATE, x0=2.0, unit="s"))
    pw1, pw2 = pg.PlotWidget(), pg.PlotWidget()
    for w in (pw1, pw2):
        qtbot.addWidget(w)
    lines = attach_playhead(c, pw1.getPlotItem(), pw2.getPlotItem())
    assert not any(ln.isVisible() for ln in lines)
    c.play()
    qtbot.waitUntil(lambda: lines[0].value() > 2.05, timeout=5000)
    assert all(ln.isVisible() for ln in lines)
    assert lines[0].value() == pytest.approx(lines[1].value())
    c.pause()
    lines[1].setValue(2.5)
    lines[1].sigDragged.emit(lines[1])
    assert c.time == pytest.approx(0.5, abs=1 / RATE)


class FakeDocument(QObject):
    signal_changed = Signal()
    inversion_changed = Signal()
    retrieval_finished = Signal(object)

    def __init__(self):
        super().__init__()
        self.signal = None
        self.inversion = self.residual = None
        self._retrieval = None

    def retrieval_y(self):
        return self._retrieval


def test_follow_document_updates_the_sources(qtbot, sink):
    c = PlaybackController(sink)
    doc = FakeDocument()
    follow_document(c, doc)
    assert c.sources() == []
    doc.signal = CoreSignal(tone(RATE), dx=1 / RATE)
    doc.signal_changed.emit()
    assert c.sources() == ["original"]
    doc.inversion, doc.residual = tone(RATE, 0.5), tone(RATE, 0.5)
    doc.inversion_changed.emit()
    doc._retrieval = tone(RATE, 0.9)
    doc.retrieval_finished.emit(object())
    assert c.sources() == ["original", "reconstruction", "band", "residual"]
    doc.inversion = doc.residual = None
    doc.inversion_changed.emit()
    assert c.sources() == ["original", "reconstruction"]


def test_choosing_b_as_a_moves_b_and_plays_a(qtbot, bar):
    c = bar.controller
    bar.a_combo.setCurrentIndex(bar.a_combo.findData("band"))  # B was "band"
    assert bar.a_combo.currentData() == "band" and bar.b_combo.currentData() == "original"
    assert c.active == "band" and not bar.ab_action.isChecked()
    assert c.ab_pair == ("band", "original")
    bar.ab_action.trigger()
    assert c.active == "original" and bar.ab_action.isChecked()


def test_choosing_in_b_plays_b(qtbot, bar):
    c = bar.controller
    c.set_source("residual", tone(RATE, 0.1), rate=RATE)
    bar.b_combo.setCurrentIndex(bar.b_combo.findData("residual"))
    assert c.active == "residual" and bar.ab_action.isChecked()
    bar.a_combo.setCurrentIndex(bar.a_combo.findData("band"))
    assert c.active == "band" and not bar.ab_action.isChecked()
