"""The playback bar: what to play (A and B), play/pause, A/B, loop, where it is.

:class:`PlaybackBar` is a view over a :class:`~app.audio.PlaybackController`:
it forwards clicks and shows the controller's state; it plays nothing itself.
Its actions (:attr:`PlaybackBar.play_action` with the Space shortcut, A/B,
loop, stop, "Sonify at rate…") can be put in a window's menus as they are.

:func:`attach_playhead` draws the play position as a vertical line on any
number of plots (signal plot, time-frequency image) and lets the user drag it
to seek. :func:`follow_document` keeps the controller's sources equal to a
document's signal, selection inverse, residual and retrieval result.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from phasebrush.app.audio import SOURCE_NAMES, PlaybackController
from phasebrush.app.shortcuts import tip_with_shortcut

__all__ = ["PlaybackBar", "attach_playhead", "follow_document", "format_time"]

_PLAY, _PAUSE = "\u25b6 Play", "\u275a\u275a Pause"
_LABELS = {"original": "original", "reconstruction": "reconstruction",
           "band": "band (selection)", "residual": "residual"}


def format_time(seconds: float) -> str:
    """``m:ss.mmm`` (``65.25`` -> ``1:05.250``)."""
    seconds = max(0.0, float(seconds))
    m, s = divmod(seconds, 60.0)
    return f"{int(m)}:{s:06.3f}"


class PlaybackBar(QWidget):
    """Play/pause, stop, A and B sources, A/B toggle, loop, position read-out.

    Parameters
    ----------
    controller : PlaybackController
    """

    def __init__(self, controller: PlaybackController, parent=None):
        super().__init__(parent)
        self.controller = c = controller

        self.play_action = QAction(_PLAY, self)
        self.play_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.play_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.play_action.triggered.connect(c.toggle_play)
        self.stop_action = QAction("\u25a0 Stop", self)
        self.stop_action.setToolTip("Stop and go back to the start")
        self.stop_action.triggered.connect(c.stop)
        self.ab_action = QAction("A/B", self)
        self.ab_action.setCheckable(True)
        self.ab_action.setShortcut(QKeySequence("Shift+Space"))
        self.ab_action.triggered.connect(self._on_ab_clicked)
        self.loop_action = QAction("Loop", self)
        self.loop_action.setCheckable(True)
        self.loop_action.setToolTip("Start again at the end")
        self.loop_action.toggled.connect(c.set_loop)
        self.sonify_action = QAction("Sonify at rate…", self)
        self.sonify_action.setToolTip("Listen to a signal whose axis is not time (a spectrum): "
                                      "choose how many samples to play per second")
        self.sonify_action.triggered.connect(self.ask_sonify_rate)
        for a in (self.play_action, self.ab_action):
            self.addAction(a)  # shortcuts work wherever focus is in this window

        def button(action, width=None):
            b = QToolButton(self)
            b.setDefaultAction(action)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setAutoRaise(True)
            if width:
                b.setMinimumWidth(width)
            return b

        self.play_button = button(self.play_action, 70)
        self.stop_button = button(self.stop_action)
        self.ab_button = button(self.ab_action, 40)
        self.loop_button = button(self.loop_action)
        self.sonify_button = button(self.sonify_action)
        self.a_combo, self.b_combo = QComboBox(self), QComboBox(self)
        self.a_combo.setToolTip("A: the source that plays")
        self.b_combo.setToolTip("B: the source A/B switches to, at the same time position")
        for combo in (self.a_combo, self.b_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            for name in SOURCE_NAMES:
                combo.addItem(_LABELS[name], name)
        self.b_combo.setCurrentIndex(1)
        self.a_combo.currentIndexChanged.connect(self._on_combo_changed)
        self.b_combo.currentIndexChanged.connect(self._on_combo_changed)
        self.position_label = QLabel(format_time(0) + " / " + format_time(0), self)
        self.position_label.setToolTip("Play position / length of the playing source")
        self.position_label.setMinimumWidth(
            self.position_label.fontMetrics().horizontalAdvance("0:00.000 / 0:00.000  at "
                                                                "1234.56 cm^-1") + 8)
        self.status_label = QLabel("", self)
        self.status_label.setStyleSheet("QLabel { color: #ff9f0a; }")
        # Why nothing plays (no audio device, no libpulse ...), in words under the controls:
        # a greyed-out bar with the reason only in a tooltip leaves the user guessing.
        self.reason_label = QLabel("", self)
        self.reason_label.setStyleSheet("QLabel { color: #ff9f0a; }")
        self.reason_label.setWordWrap(True)
        self.reason_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason_label.hide()

        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 2, 4, 2)
        outer.setSpacing(2)
        lay = QHBoxLayout()
        lay.setSpacing(4)
        outer.addLayout(lay)
        outer.addWidget(self.reason_label)
        lay.addWidget(self.play_button)
        lay.addWidget(self.stop_button)
        lay.addSpacing(6)
        lay.addWidget(QLabel("A", self))
        lay.addWidget(self.a_combo)
        lay.addWidget(self.ab_button)
        lay.addWidget(QLabel("B", self))
        lay.addWidget(self.b_combo)
        lay.addWidget(self.loop_button)
        lay.addSpacing(6)
        lay.addWidget(self.position_label)
        lay.addWidget(self.sonify_button)
        lay.addWidget(self.status_label)
        lay.addStretch(1)

        c.state_changed.connect(self._on_state_changed)
        c.position_changed.connect(self._on_position_changed)
        c.availability_changed.connect(self._refresh)
        c.sources_changed.connect(self._refresh)
        c.active_changed.connect(self._on_active_changed)
        self._on_combo_changed()
        self._refresh()

    # -- actions -------------------------------------------------------------------
    def ask_sonify_rate(self) -> None:
        """Ask for a sonification rate (samples per second) and set it."""
        current = self.controller.sonify_rate or 8000.0
        rate, ok = QInputDialog.getDouble(
            self, "Sonify at rate",
            "This signal's axis is not time. Play it as sound, one sample every\n"
            "1/rate seconds. Rate (samples per second):", current, 100.0, 384000.0, 0)
        if ok:
            self.controller.set_sonify_rate(rate)

    def _on_ab_clicked(self) -> None:
        self.controller.toggle_ab()
        self._sync_ab_checked()

    def _on_combo_changed(self, *_):
        # Choosing a source in a combo plays it: A's combo -> A, B's combo -> B.
        b_chosen = self.sender() is self.b_combo
        self._pick_available_b()
        a, b = self.a_combo.currentData(), self.b_combo.currentData()
        c = self.controller
        c.set_ab(a, b)
        target = b if b_chosen else a
        if c.has_source(target) and c.active != target:
            c.set_active(target)
        self._sync_ab_checked()
        self._refresh()

    def _pick_available_b(self) -> None:
        """B names a source that exists and differs from A, when there is one."""
        c, a = self.controller, self.a_combo.currentData()
        b = self.b_combo.currentData()
        if c.has_source(b) and b != a:
            return
        for i in range(self.b_combo.count()):
            name = self.b_combo.itemData(i)
            if c.has_source(name) and name != a:
                self.b_combo.blockSignals(True)
                self.b_combo.setCurrentIndex(i)
                self.b_combo.blockSignals(False)
                c.set_ab(a, name)
                return

    def _on_active_changed(self, name: str) -> None:
        self._sync_ab_checked()
        self._refresh()

    def _sync_ab_checked(self) -> None:
        b = self.b_combo.currentData()
        on = self.controller.active == b and self.controller.active != self.a_combo.currentData()
        if self.ab_action.isChecked() != on:
            self.ab_action.setChecked(on)

    # -- state -> widgets ------------------------------------------------------------
    def _on_state_changed(self, state: str) -> None:
        self.play_action.setText(_PAUSE if state == "playing" else _PLAY)
        self._refresh()

    def _on_position_changed(self, seconds: float) -> None:
        c = self.controller
        text = f"{format_time(seconds)} / {format_time(c.duration())}"
        if c.has_source(c.active) and not c.is_audio() and c.sonify_rate is not None:
            text += f"  at {c.x_at(seconds):.6g} {c.axis_unit}".rstrip()
        self.position_label.setText(text)

    def _refresh(self, *_):
        c = self.controller
        self._pick_available_b()
        for combo in (self.a_combo, self.b_combo):
            model = combo.model()
            for i in range(combo.count()):
                name = combo.itemData(i)
                item = model.item(i)
                item.setEnabled(c.has_source(name))
                item.setToolTip("" if c.has_source(name) else f"No {name} yet")
        ok, why = c.can_play()
        sources = bool(c.sources())
        self.play_action.setEnabled(ok)
        self.stop_action.setEnabled(c.available and c.status != "stopped")
        a, b = c.ab_pair
        self.ab_action.setEnabled(c.available and c.has_source(a) and c.has_source(b)
                                  and a != b)
        self.loop_action.setEnabled(c.available)
        # A tool button does not follow its action's visibility.
        self.sonify_button.setVisible(any(not c.is_audio(n) for n in c.sources()))
        self.sonify_action.setEnabled(c.available)
        if not c.available:
            tip = c.unavailable_reason
            for act in (self.play_action, self.stop_action, self.ab_action,
                        self.loop_action, self.sonify_action):
                act.setToolTip(tip_with_shortcut(tip, act))
            self.status_label.setText("")
            self.status_label.setToolTip("")
            self.reason_label.setText(tip)
            self.reason_label.setToolTip(tip)
            self.reason_label.show()
        else:
            self.reason_label.hide()
            self.reason_label.setText("")
            self.play_action.setToolTip(tip_with_shortcut(
                ("Play / pause" if ok else why) if sources else "Nothing to play yet",
                self.play_action))
            self.ab_action.setToolTip(tip_with_shortcut(
                f"Switch between A ({a}) and B ({b}) at the same position", self.ab_action))
            self.loop_action.setToolTip("Start again at the end")
            self.stop_action.setToolTip("Stop and go back to the start")
            if c.sonify_rate is not None:
                self.status_label.setText(f"sonified at {c.sonify_rate:g} samples/s")
            else:
                self.status_label.setText("")
            self.status_label.setToolTip("")
        self._on_position_changed(c.time)


def attach_playhead(controller: PlaybackController, *plots, color: str = "#ffffff"
                    ) -> list[pg.InfiniteLine]:
    """A vertical playhead on each of ``plots`` (PlotItems sharing the signal axis).

    The lines follow :attr:`PlaybackController.playhead_moved`, are hidden
    while stopped at the start, and can be dragged to seek.

    Returns
    -------
    list of pg.InfiniteLine
        One per plot, in order.
    """
    lines = []
    for plot in plots:
        line = pg.InfiniteLine(angle=90, movable=True,
                               pen=pg.mkPen(color, width=1.5),
                               hoverPen=pg.mkPen("#ffcc00", width=2.5))
        line.setZValue(50)
        line.setVisible(False)
        line.setToolTip("Playhead: drag to move the play position")
        plot.addItem(line, ignoreBounds=True)
        line.sigDragged.connect(lambda ln: controller.seek_x(ln.value()))
        lines.append(line)

    def move(x: float) -> None:
        show = controller.status != "stopped" or controller.time > 0
        for ln in lines:
            if not ln.moving:
                ln.setValue(x)
            ln.setVisible(show)

    controller.playhead_moved.connect(move)
    controller.state_changed.connect(lambda _s: move(controller.x_at(controller.time)))
    return lines


def follow_document(controller: PlaybackController, doc) -> None:
    """Keep ``controller``'s sources equal to ``doc``'s signal and results.

    ``doc`` is an :class:`app.document.DocumentModel` (or anything with its
    ``signal``, ``inversion``, ``residual``, ``retrieval_y()`` and signals
    ``signal_changed``, ``inversion_changed``, ``retrieval_finished``):
    original = the signal, band = the selection's inverse, residual = what
    is left, reconstruction = the phase-retrieval result.
    """

    def on_signal() -> None:
        s = doc.signal
        if s is None:
            return
        controller.set_signal(s)

    def put(name: str, y) -> None:
        s = doc.signal
        if s is None:
            return
        controller.set_source(name, y, rate=s.rate if s.is_audio else None, x0=s.x0,
                              dx=s.dx)

    def on_inversion() -> None:
        put("band", doc.inversion)
        put("residual", doc.residual)

    def on_retrieval(_result=None) -> None:
        put("reconstruction", doc.retrieval_y())

    doc.signal_changed.connect(on_signal)
    doc.inversion_changed.connect(on_inversion)
    doc.retrieval_finished.connect(on_retrieval)
    if doc.signal is not None:
        on_signal()
        on_inversion()
        on_retrieval()
