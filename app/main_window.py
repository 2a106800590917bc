"""The main window: signal plot over the time-frequency image, docks, menus, status bar.

It wires views to the document and turns the document's ``failed`` messages
into a message box plus a status-bar line; it computes nothing itself.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStyle,
    QTabWidget,
    QToolBar,
)

from phasebrush.app import export as ex
from phasebrush.app import session_io as sio
from phasebrush.app import slot_guard
from phasebrush.app.audio import PlaybackController
from phasebrush.app.coherence_view import CoherenceView
from phasebrush.app.document import DocumentModel
from phasebrush.app.indices_view import IndicesView
from phasebrush.app.layer_panel import LayerPanel
from phasebrush.app.playback_bar import PlaybackBar, attach_playhead, follow_document
from phasebrush.app.retrieval_panel import RetrievalPanel
from phasebrush.app.shortcuts import name_shortcuts, shortcut_text, tip_with_shortcut
from phasebrush.app.signal_view import SignalView
from phasebrush.app.tfr_view import TfrView
from phasebrush.app.transform_panel import TransformPanel
from phasebrush.core.errors import PhaseBrushError

__all__ = ["MainWindow", "TOOL_ACTIONS"]

log = logging.getLogger(__name__)

# tool -> (label, shortcut, tooltip). The modifiers are app.tfr_view's (TfrView._op):
# a plain rectangle / lasso replaces the mask it paints on, Shift adds, Alt subtracts.
TOOL_ACTIONS = {
    "pan": ("Pan / zoom", "H", "Pan / zoom (H): drag to pan, wheel to zoom"),
    "band": ("Band", "B", "Band (B): click vertices along the upper edge, Enter, then along "
             "the lower edge, Enter; Esc cancels. Drag a handle afterwards to edit"),
    "brush": ("Brush", "P", "Brush (P): drag to paint cells into the mask (or erase them, as "
              "set in the Selection dock); Shift+drag adds, Alt+drag erases"),
    "rect": ("Rectangle", "R", "Rectangle (R): drag = replace the mask with the rectangle; "
             "Shift+drag adds it to the mask, Alt+drag subtracts it"),
    "lasso": ("Lasso", "L", "Lasso (L): drag a free-hand outline = replace the mask with it; "
              "Shift+drag adds it to the mask, Alt+drag subtracts it"),
}
#: The status-bar hint while a tool is chosen.
TOOL_HINTS = {
    "pan": "Pan / zoom: drag to pan, wheel to zoom",
    "band": "Band: click the upper edge's vertices, Enter, then the lower edge's, Enter "
            "(Esc cancels)",
    "brush": "Brush: drag = paint (or erase, as set in the Selection dock) · Shift+drag = add "
             "· Alt+drag = erase",
    "rect": "Rectangle: drag = replace the mask · Shift+drag = add · Alt+drag = subtract",
    "lasso": "Lasso: drag = replace the mask · Shift+drag = add · Alt+drag = subtract",
}
#: Keys and gestures in the image that are no action (Help > Keyboard shortcuts lists them).
IMAGE_KEYS = (
    ("Enter / double-click", "Band tool: end the upper edge, then the lower edge"),
    ("Esc", "Band tool: cancel the band being drawn"),
    ("Drag", "Rectangle / lasso: replace the mask; brush: paint"),
    ("Shift+drag", "Rectangle / lasso / brush: add to the mask"),
    ("Alt+drag", "Rectangle / lasso / brush: subtract from the mask"),
    ("Wheel", "Zoom (pan / zoom tool)"),
)
JCAMP_SUFFIXES = (".jdx", ".dx", ".jcamp")
HEADLESS_PLATFORMS = ("offscreen", "minimal")
FILE_FILTER = ("Signals (*.wav *.flac *.ogg *.aif *.aiff *.csv *.txt *.npy *.npz *.jdx *.dx);;"
               "All files (*)")
MAX_RECENT = 8
#: How long closing waits for cancelled work; a task still in an uncancellable call after
#: that is waited for at exit by app.worker (never destroyed while it runs).
CLOSE_TIMEOUT_MS = 600


#: The right column's width and its two groups' heights on first show (the rest of the
#: height goes to the tabs below): at 1280x800 every control of every dock shows.
DOCK_WIDTH = 372
DOCK_HEIGHTS = {"layers": 250, "transform": 440}

#: Why a whole-grid feature is not offered for a long recording (yet).
_LONG_REASON = ("{what} needs the whole transform in memory, which a recording this long "
                "does not get (it is shown block by block); {how}.")


class _StackToolAction(QAction):
    """The toolbar's Undo or Redo: one fixed label, so the buttons after it never move
    ("Undo", where the menu's action reads "Undo Add band"); the tooltip says what it
    would undo, with the menu action's shortcut."""

    def __init__(self, verb: str, menu_action: QAction, stack, parent):
        super().__init__(verb, parent)
        self._verb = verb
        self._keys = shortcut_text(menu_action)
        undo = verb == "Undo"
        self.triggered.connect(stack.undo if undo else stack.redo)
        (stack.canUndoChanged if undo else stack.canRedoChanged).connect(self.setEnabled)
        (stack.undoTextChanged if undo else stack.redoTextChanged).connect(self._on_text_changed)
        self.setEnabled(stack.canUndo() if undo else stack.canRedo())
        self._on_text_changed(stack.undoText() if undo else stack.redoText())

    def _on_text_changed(self, what: str) -> None:
        verb = self._verb
        text = f"{verb} {what}" if what else f"{verb}: nothing to {verb.lower()}"
        self.setToolTip(tip_with_shortcut(text, keys=self._keys))
        self.setStatusTip(self.toolTip())


class MainWindow(QMainWindow):
    """PhaseBrush's window over one :class:`DocumentModel`."""

    def __init__(self, document: DocumentModel | None = None, *,
                 settings: QSettings | None = None, audio_sink="auto",
                 audio_unavailable_reason: str = ""):
        """
        Parameters
        ----------
        document : DocumentModel or None
        settings : QSettings or None
            Where recent files and the last folder are kept.
        audio_sink : "auto" or app.audio.AudioSink or None
            "auto": the device (or ``PHASEBRUSH_AUDIO=null``); None: playback
            unavailable for ``audio_unavailable_reason``.
        """
        super().__init__()
        self.doc = document or DocumentModel(self)
        self.settings = settings or QSettings("PhaseBrush", "PhaseBrush")
        #: False: errors go to the status bar only (``--screenshot``, batch use).
        self.error_dialogs = True
        #: Ask "Save changes?" before unsaved work is closed or replaced: True always,
        #: False never (tests, ``--screenshot``), None (default) unless Qt runs
        #: headless (offscreen / minimal platform: no one could answer the box).
        self.confirm_close: bool | None = None
        #: Ask a file with no x axis for its sample rate or spacing: True always, False
        #: never (samples), None (default) unless Qt runs headless.
        self.ask_spacing: bool | None = None
        self.last_error = ""
        #: The ``load_signal`` keywords the current signal was opened with (JCAMP block).
        self.load_options: dict = {}
        self.session = sio.SessionState(self.doc, self)
        self.player = PlaybackController(audio_sink, unavailable_reason=audio_unavailable_reason,
                                         parent=self)
        self._notes_box: QMessageBox | None = None
        self.setWindowTitle("PhaseBrush[*]")
        self.resize(1280, 800)

        self.signal_view = SignalView(self.doc)
        self.tfr_view = TfrView(self.doc)
        self.tfr_view.plot.setXLink(self.signal_view.plot)
        self.tfr_view.plot.getAxis("left").setWidth(58)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.signal_view)
        split.addWidget(self.tfr_view)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 5)
        split.setSizes([230, 560])
        self.setCentralWidget(split)

        self.transform_panel = TransformPanel(self.doc)
        self.layer_panel = LayerPanel(self.doc.layers)
        self.retrieval_panel = RetrievalPanel(self.doc)
        self.retrieval_panel.settings_changed.connect(self.session.settings_changed)
        self.docks = {}
        for key, title, widget in (
                ("layers", "Selection", self.layer_panel),
                ("transform", "Transform", self.transform_panel),
                ("retrieval", "Phase retrieval", self.retrieval_panel)):
            d = QDockWidget(title, self)
            d.setObjectName(f"dock-{key}")
            # Scrollable, so the panels' minimum heights never force the window taller
            # (at 1280x800 and up everything fits without a scroll bar).
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(widget)
            d.setWidget(scroll)
            d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                          | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
            self.docks[key] = d
        # The Selection dock: the layers, and the selection's indices as a table.
        self.indices_view = IndicesView(self.doc.layers)
        self.selection_tabs = QTabWidget()
        self.selection_tabs.setDocumentMode(True)
        self.selection_tabs.addTab(self.docks["layers"].widget(), "Layers")
        self.selection_tabs.addTab(self.indices_view, "Indices")
        self.selection_tabs.setTabToolTip(1, "The selection as indices: per time column, the "
                                             "selected rows and their frequencies")
        self.docks["layers"].setWidget(self.selection_tabs)

        self.coherence_view = CoherenceView()
        d = QDockWidget("Coherence", self)
        d.setObjectName("dock-coherence")
        d.setWidget(self.coherence_view)
        d.setToolTip("Wavelet coherence and phase difference of the original and the "
                     "phase-retrieval result")
        self.docks["coherence"] = d
        # The right column: the selection on top (in use while drawing), below it the
        # settings and results as tabs along the top, never next to the status bar.
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.setTabPosition(right, QTabWidget.TabPosition.North)
        self.addDockWidget(right, self.docks["layers"])
        self.addDockWidget(right, self.docks["transform"])
        for key in ("retrieval", "coherence"):
            self.addDockWidget(right, self.docks[key])
            self.tabifyDockWidget(self.docks["transform"], self.docks[key])
        self.docks["transform"].raise_()

        self.playback_bar = PlaybackBar(self.player)
        d = QDockWidget("Listen", self)
        d.setObjectName("dock-listen")
        d.setWidget(self.playback_bar)
        d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                      | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                      | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        # Listen spans the window's width along the bottom, like a transport bar.
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, d)
        self.docks["listen"] = d
        self.playheads = attach_playhead(self.player, self.signal_view.plot, self.tfr_view.plot)
        follow_document(self.player, self.doc)
        self._docks_sized = False
        self._help_dialogs: dict = {}

        self._make_actions()
        # The information icon from Qt's style (the default fonts here lack U+24D8).
        self.notes_icon = QLabel("")
        size = self.notes_icon.fontMetrics().height()
        self.notes_icon.setPixmap(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MessageBoxInformation).pixmap(size, size))
        self.notes_icon.hide()
        self.notes_label = QLabel("")
        self.notes_label.setStyleSheet("QLabel { color: #b25000; }")
        self.notes_label.setMaximumWidth(420)
        self.statusBar().addPermanentWidget(self.notes_icon)
        self.statusBar().addPermanentWidget(self.notes_label)
        self.cursor_label = QLabel("")
        self.cursor_label.setToolTip("Time, frequency and magnitude under the mouse")
        self.statusBar().addPermanentWidget(self.cursor_label)

        tv = self.tfr_view
        tv.cursor_read.connect(self.cursor_label.setText)
        tv.band_progress.connect(self._on_band_progress)
        tv.levels_changed.connect(self.transform_panel.show_levels)
        tv.tool_changed.connect(self._on_tool_changed)
        self.transform_panel.levels_edited.connect(tv.set_levels)
        self.transform_panel.colormap_chosen.connect(tv.set_colormap)
        self.layer_panel.brush_size_changed.connect(lambda v: setattr(tv, "brush_size_px", v))
        self.layer_panel.brush_erase_changed.connect(lambda on: setattr(tv, "brush_erase", on))
        self.retrieval_panel.export_button.clicked.connect(lambda: self.export_reconstruction())
        self.doc.failed.connect(self._on_failed)
        self.doc.signal_changed.connect(self._on_signal_changed)
        self.doc.tfr_changed.connect(self._on_tfr_changed)
        self.doc.busy_changed.connect(self._on_busy_changed)
        self.doc.retrieval_finished.connect(self._on_retrieval_finished)
        self.doc.retrieval_started.connect(lambda: self._on_retrieval_running(True))
        self.doc.retrieval_ended.connect(lambda: self._on_retrieval_running(False))
        self.doc.inversion_changed.connect(self._update_export_actions)
        self.player.failed.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.session.modified_changed.connect(self.setWindowModified)
        self.coherence_view.failed.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.doc.noted.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.doc.layers.noted.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self._update_export_actions()
        slot_guard.install(self._show_error)

    # -- actions & menus ---------------------------------------------------------
    def _make_actions(self) -> None:
        mb = self.menuBar()
        fm = mb.addMenu("&File")
        a = fm.addAction("&Open…")
        a.setShortcut(QKeySequence.StandardKey.Open)
        a.setToolTip("Open a signal: audio, CSV/TXT, NPY/NPZ or JCAMP-DX")
        a.triggered.connect(self.open_dialog)
        self.recent_menu = fm.addMenu("Open &recent")
        self.recent_menu.setToolTipsVisible(True)
        demos = fm.addMenu("Open &demo")
        from phasebrush.core.io.demo import DEMOS
        for name, desc in DEMOS.items():
            d = demos.addAction(name)
            d.setToolTip(desc)
            d.triggered.connect(lambda _=False, n=name: self.open_demo(n))
        demos.setToolTipsVisible(True)
        fm.addSeparator()
        self.open_session_action = fm.addAction("Open &session…")
        self.open_session_action.setToolTip("Open a saved session: signal, transform settings, "
                                            "bands, masks and results")
        self.open_session_action.triggered.connect(lambda: self.open_session())
        self.save_session_action = fm.addAction("&Save session")
        self.save_session_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_session_action.setToolTip("Save the session (Ctrl+S)")
        self.save_session_action.triggered.connect(self.save_session)
        self.save_session_as_action = fm.addAction("Save session &as…")
        self.save_session_as_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.save_session_as_action.setToolTip("Save the session under a new name")
        self.save_session_as_action.triggered.connect(self.save_session_as)
        fm.addSeparator()
        xm = fm.addMenu("&Export")
        xm.setToolTipsVisible(True)
        self.export_action = xm.addAction("&Reconstruction…")
        self.export_action.setToolTip("Save the phase-retrieval result as WAV, FLAC or CSV "
                                      "(x, y on the original axis)")
        self.export_action.setShortcut(QKeySequence("Ctrl+Shift+E"))
        self.export_action.triggered.connect(lambda: self.export_reconstruction())
        self.export_action.setEnabled(False)
        self.export_sel_action = xm.addAction("&Band (selection inverse)…")
        self.export_sel_action.setToolTip("Save the inverse of the selected region as WAV, "
                                          "FLAC or CSV")
        self.export_sel_action.setShortcut(QKeySequence("Ctrl+Shift+B"))
        self.export_sel_action.triggered.connect(lambda: self.export_selection())
        self.export_res_action = xm.addAction("Re&sidual…")
        self.export_res_action.setToolTip("Save the original minus the selection's inverse")
        self.export_res_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.export_res_action.triggered.connect(lambda: self.export_residual())
        xm.addSeparator()
        self.export_mask_action = xm.addAction("&Mask (NPZ)…")
        self.export_mask_action.setToolTip("Save the selection (all visible bands and masks) "
                                           "as a boolean mask with its grid, NPZ")
        self.export_mask_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.export_mask_action.triggered.connect(lambda: self.export_mask())
        self.export_bands_action = xm.addAction("Bands (&JSON)…")
        self.export_bands_action.setToolTip("Save the bands' edges as JSON")
        self.export_bands_action.setShortcut(QKeySequence("Ctrl+Shift+J"))
        self.export_bands_action.triggered.connect(lambda: self.export_bands())
        self.export_table_action = xm.addAction("Selection &table (TSV)…")
        self.export_table_action.setToolTip("Save the bands as a tab-separated selection table "
                                            "(Raven) or an Audacity label track")
        self.export_table_action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.export_table_action.triggered.connect(lambda: self.export_selection_table())
        xm.addSeparator()
        self.import_table_action = xm.addAction("&Import selection table…")
        self.import_table_action.setToolTip("Read a Raven selection table or an Audacity label "
                                            "track as bands")
        self.import_table_action.triggered.connect(lambda: self.import_selection_table())
        fm.addSeparator()
        q = fm.addAction("&Quit")
        q.setShortcut(QKeySequence.StandardKey.Quit)
        q.triggered.connect(self.close)
        fm.setToolTipsVisible(True)
        self._rebuild_recent()

        em = mb.addMenu("&Edit")
        stack = self.doc.layers.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.undo_action.setIconText("Undo")   # the shortcut list's name; the text names the step
        self.redo_action.setIconText("Redo")
        em.addAction(self.undo_action)
        em.addAction(self.redo_action)
        em.addSeparator()
        inv = em.addAction("&Invert selection")
        inv.setShortcut(QKeySequence("Ctrl+I"))
        inv.triggered.connect(self.doc.layers.invert_selection)
        clr = em.addAction("&Clear layers")
        clr.triggered.connect(self.doc.layers.clear)
        self.delete_layer_action = em.addAction("&Delete layer")
        self.delete_layer_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.delete_layer_action.setToolTip("Remove the selected layer of the Selection dock "
                                            "(undoable)")
        self.delete_layer_action.triggered.connect(self.layer_panel.delete_current)
        self.layer_panel.buttons["delete"].setToolTip(tip_with_shortcut(
            "Remove the selected layer (undoable)", self.delete_layer_action))

        tb = QToolBar("Tools", self)
        tb.setObjectName("tools")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        tm = mb.addMenu("&Tools")
        group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for tool, (label, key, tip) in TOOL_ACTIONS.items():
            act = QAction(f"{label} ({key})", self)
            act.setCheckable(True)
            act.setShortcut(QKeySequence(key))
            act.setToolTip(tip)
            act.setStatusTip(tip)
            act.triggered.connect(lambda _=False, t=tool: self.tfr_view.set_tool(t))
            group.addAction(act)
            tb.addAction(act)
            tm.addAction(act)
            self.tool_actions[tool] = act
        self.tool_actions["pan"].setChecked(True)
        tb.addSeparator()
        self.undo_action.setToolTip("Undo the last edit")
        self.redo_action.setToolTip("Redo the last undone edit")
        # The toolbar's Undo / Redo keep one label ("Undo", not "Undo Add band"), so the
        # buttons after them never move; the tooltip says what would be undone.
        self.undo_tool_action = _StackToolAction("Undo", self.undo_action, stack, self)
        self.redo_tool_action = _StackToolAction("Redo", self.redo_action, stack, self)
        tb.addAction(self.undo_tool_action)
        tb.addAction(self.redo_tool_action)
        inv.setToolTip("Select everything that is not selected (Ctrl+I)")
        tb.addAction(inv)
        clr.setToolTip("Remove every band and mask")
        tb.addAction(clr)

        sm = mb.addMenu("&Selection")
        sm.setToolTipsVisible(True)
        self.heatmap_action = sm.addAction("Import &heatmap mask…")
        self.heatmap_action.setToolTip("Read a saliency map (NPY or PNG, e.g. Grad-CAM), "
                                       "threshold it and add it as a mask")
        self.heatmap_action.triggered.connect(self.import_heatmap_mask)
        self.ridge_action = sm.addAction("Propose &ridge bands…")
        self.ridge_action.setToolTip("Track the strongest ridges and propose a band around "
                                     "each; accepted ones become normal editable bands")
        self.ridge_action.triggered.connect(self.propose_ridge_bands)
        self.export_indices_action = sm.addAction("Export &indices…")
        self.export_indices_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_indices_action.setToolTip(
            "Save the selection as indices (Ctrl+E): per time column, the selected rows "
            "start_row..end_row-1 with their time and frequencies; CSV or NPZ by the suffix")
        self.export_indices_action.triggered.connect(lambda: self.export_indices())
        self.indices_view.export_button.clicked.connect(lambda: self.export_indices())
        self.indices_view.exported.connect(lambda p: self._notify(f"Wrote {p}"))
        self.indices_view.export_failed.connect(self._show_error)
        self.indices_view.export_cancelled.connect(
            lambda: self._notify("Export of the indices cancelled; nothing was written"))
        sm.addSeparator()
        sm.addAction(inv)
        sm.addAction(clr)
        sm.addAction(self.delete_layer_action)

        cm = mb.addMenu("&Compute")
        cm.setToolTipsVisible(True)
        self.recompute_action = cm.addAction("&Recompute transform")
        self.recompute_action.setShortcut(QKeySequence("F5"))
        self.recompute_action.setToolTip("Compute the transform with the Transform dock's "
                                         "settings (in the background)")
        self.recompute_action.triggered.connect(self.recompute)
        cm.addSeparator()
        self.run_retrieval_action = cm.addAction("R&un phase retrieval")
        self.run_retrieval_action.setShortcut(QKeySequence("Ctrl+R"))
        self.run_retrieval_action.setToolTip("Recover a signal from the magnitudes with the "
                                             "Phase retrieval dock's settings")
        self.run_retrieval_action.triggered.connect(self.run_retrieval)
        self.cancel_retrieval_action = cm.addAction("&Cancel phase retrieval")
        self.cancel_retrieval_action.setShortcut(QKeySequence("Ctrl+."))
        self.cancel_retrieval_action.setToolTip("Stop the run; the best estimate so far is kept")
        self.cancel_retrieval_action.triggered.connect(self.cancel_retrieval)
        self.cancel_retrieval_action.setEnabled(False)
        tp, rp = self.transform_panel, self.retrieval_panel
        tp.apply_button.setToolTip(tip_with_shortcut(tp.apply_button.toolTip(),
                                                     self.recompute_action))
        rp.run_button.setToolTip(tip_with_shortcut(rp.run_button.toolTip(),
                                                   self.run_retrieval_action))
        rp.cancel_button.setToolTip(tip_with_shortcut(rp.cancel_button.toolTip(),
                                                      self.cancel_retrieval_action))
        rp.export_button.setToolTip(tip_with_shortcut(rp.export_button.toolTip()
                                                      or "Save the phase-retrieval result",
                                                      self.export_action))
        self.indices_view.export_button.setToolTip(tip_with_shortcut(
            self.indices_view.export_button.toolTip(), self.export_indices_action))

        pm = mb.addMenu("&Play")
        pm.setToolTipsVisible(True)
        bar = self.playback_bar
        bar.play_action.setToolTip("Play / pause (Space)")
        bar.ab_action.setToolTip("Switch between A and B at the same position (Shift+Space)")
        for act in (bar.play_action, bar.stop_action, bar.ab_action, bar.loop_action):
            pm.addAction(act)
        pm.addSeparator()
        pm.addAction(bar.sonify_action)

        vm = mb.addMenu("&View")
        vm.setToolTipsVisible(True)
        for d in self.docks.values():
            vm.addAction(d.toggleViewAction())
        vm.addSeparator()
        fgroup = QActionGroup(self)
        self.freq_mode_actions: dict[str, QAction] = {}
        for mode, label, tip in (
                ("width", "Vertical axis: peak &width",
                 "Label the image's vertical axis with peak widths: the FWHM of the Gaussian "
                 "peak each CWT row answers most, in the signal's unit (default for spectra; "
                 "1 / frequency for the STFT kinds)"),
                ("frequency", "Vertical axis: &frequency",
                 "Label the image's vertical axis with frequency: Hz, or cycles per x-unit")):
            act = vm.addAction(label)
            act.setCheckable(True)
            act.setToolTip(tip)
            act.triggered.connect(lambda _=False, m=mode: self.tfr_view.set_freq_mode(m))
            fgroup.addAction(act)
            self.freq_mode_actions[mode] = act
        self.freq_mode_actions["frequency"].setChecked(True)
        self.tfr_view.freq_mode_changed.connect(
            lambda m: self.freq_mode_actions[m].setChecked(True))
        vm.addSeparator()
        self.log_freq_action = vm.addAction("&Log-frequency axis (STFT)")
        self.log_freq_action.setCheckable(True)
        self.log_freq_action.setShortcut(QKeySequence("Ctrl+L"))
        self.log_freq_action.setToolTip(
            "Show the STFT and synchrosqueezed STFT with frequency on a log axis, as the "
            "CWT kinds are: low frequencies get room, each screen row shows the strongest "
            "STFT bin it covers. Painting and the indices keep the STFT's own bins")
        self.log_freq_action.toggled.connect(self._on_log_freq_toggled)
        self.tfr_view.log_frequency_changed.connect(self.log_freq_action.setChecked)
        if str(self.settings.value("stft_log_frequency", "false")).lower() == "true":
            self.log_freq_action.setChecked(True)

        hm = mb.addMenu("&Help")
        hm.setToolTipsVisible(True)
        self.shortcuts_action = hm.addAction("&Keyboard shortcuts…")
        self.shortcuts_action.setShortcut(QKeySequence("Ctrl+/"))
        self.shortcuts_action.setToolTip("Every shortcut, read from the menus' actions")
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        self.maths_action = hm.addAction("The &maths…")
        self.maths_action.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
        self.maths_action.setToolTip("The one-integral inverse, what a band or mask is, what "
                                     "phase retrieval does")
        self.maths_action.triggered.connect(self.show_maths)
        hm.addSeparator()
        self.about_action = hm.addAction("&About PhaseBrush…")
        self.about_action.setToolTip("Version and the licences of the data shipped with it")
        self.about_action.triggered.connect(self.show_about)
        # Every tooltip names its action's shortcut (read from the action, so it stays true).
        name_shortcuts(self.findChildren(QAction))

    # -- help -----------------------------------------------------------------------
    def show_shortcuts(self):
        """Help > Keyboard shortcuts (non-modal); the dialog."""
        from phasebrush.app.help_dialogs import ShortcutsDialog

        return self._show_help("shortcuts", lambda: ShortcutsDialog(self, IMAGE_KEYS))

    def show_maths(self):
        """Help > The maths (non-modal); the dialog."""
        from phasebrush.app.help_dialogs import maths_dialog

        return self._show_help("maths", lambda: maths_dialog(self))

    def show_about(self):
        """Help > About (non-modal); the dialog."""
        from phasebrush.app.help_dialogs import about_dialog

        return self._show_help("about", lambda: about_dialog(self))

    def _show_help(self, key: str, make):
        dlg = self._help_dialogs.get(key)
        if dlg is None:
            dlg = self._help_dialogs[key] = make()
        dlg.show()
        dlg.raise_()
        return dlg

    # -- compute --------------------------------------------------------------------
    def recompute(self) -> None:
        """Compute the transform with the Transform dock's settings (F5)."""
        if self.doc.signal is None:
            self._show_error("Nothing to compute yet: open a signal first")
            return
        self.docks["transform"].raise_()
        self.transform_panel.apply_button.click()

    def run_retrieval(self) -> None:
        """Start a phase retrieval with the Phase retrieval dock's settings (Ctrl+R)."""
        button = self.retrieval_panel.run_button
        if self.doc.signal is None:
            self._show_error("Nothing to retrieve yet: open a signal first")
        elif button.isEnabled():
            button.click()

    def cancel_retrieval(self) -> None:
        """Stop the running phase retrieval (Ctrl+.); its best estimate is kept."""
        if self.retrieval_panel.cancel_button.isEnabled():
            self.retrieval_panel.cancel_button.click()

    def _on_retrieval_running(self, running: bool) -> None:
        self.run_retrieval_action.setEnabled(not running)
        self.cancel_retrieval_action.setEnabled(running)
        if running:   # its progress and loss curve are in the dock
            self.docks["retrieval"].raise_()

    def _on_tool_changed(self, tool: str) -> None:
        act = self.tool_actions.get(tool)
        if act is not None and not act.isChecked():
            act.setChecked(True)
        self.statusBar().showMessage(TOOL_HINTS.get(tool, TOOL_ACTIONS[tool][2]), 10_000)

    # -- files ------------------------------------------------------------------
    def _start_dir(self) -> str:
        return str(self.settings.value("last_dir", str(Path.home())))

    def _notify(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)
        log.info(text)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open signal", self._start_dir(),
                                              FILE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path, *, block: int | None = None, ask: bool = True,
                  spacing: dict | None = None) -> bool:
        """Load ``path`` with the core loaders; a bad file gives a message, not a traceback.

        A JCAMP-DX file with several spectra asks which block to load (unless
        ``block`` is given). A file with no x axis (one column) asks for its
        sample rate or spacing (unless ``spacing``, ``load_signal`` keywords
        such as ``{"rate": 8000.0}``, is given; see :attr:`ask_spacing`).
        ``ask``: offer to save unsaved work first.
        """
        from phasebrush.core.io.signals import load_signal

        if ask and not self.maybe_save():
            return False
        options: dict = {}
        try:
            if block is None and Path(path).suffix.lower() in JCAMP_SUFFIXES:
                from phasebrush.app.jcamp_block_dialog import choose_jcamp_block

                block = choose_jcamp_block(self, path)
                if block is None:  # the user cancelled the choice
                    return False
            if block is not None:
                options["block"] = int(block)
            if spacing is None:
                spacing = self._ask_spacing(path)
                if spacing is None:  # cancelled
                    return False
            options.update(spacing)
            sig = load_signal(path, **options)
        except PhaseBrushError as exc:
            self._show_error(f"Could not open {path}:\n{exc}")
            return False
        except Exception as exc:  # a loader bug must still not kill the app
            self._show_error(f"Could not open {path}:\n{type(exc).__name__}: {exc}")
            return False
        self._add_recent(str(Path(path).resolve()))
        self.settings.setValue("last_dir", str(Path(path).resolve().parent))
        self.load_options = options
        self.doc.set_signal(sig)
        self._show_load_notes(sig)
        return True

    def _ask_spacing(self, path) -> dict | None:
        """The spacing of a file with no x axis, asked (and remembered in the settings):
        ``load_signal`` keywords, {} for samples, None when the user cancelled."""
        from phasebrush.core.io.signals import needs_spacing

        ask = self.ask_spacing
        if ask is None:
            ask = QGuiApplication.platformName() not in HEADLESS_PLATFORMS
        if not ask or not needs_spacing(path):
            return {}
        from phasebrush.app import spacing_dialog as sd

        dlg = sd.SpacingDialog(Path(path).name, sd.remembered(self.settings), parent=self)
        try:
            if self.exec_dialog(dlg) != QDialog.DialogCode.Accepted:
                return None
            options = dlg.options()
            if options is None:
                return None
            sd.remember(self.settings, dlg.state())
            return options
        finally:
            dlg.deleteLater()

    def _show_load_notes(self, sig) -> None:
        """Tell the user what loading changed (resampled grid, block chosen, channels mixed)."""
        self.notes_label.setText("")
        self.notes_label.setToolTip("")
        self.notes_icon.hide()
        if not sig.notes:
            return
        text = "; ".join(sig.notes)
        first = sig.notes[0] if len(sig.notes[0]) <= 60 else sig.notes[0][:57] + "…"
        more = f" (+{len(sig.notes) - 1})" if len(sig.notes) > 1 else ""
        self.notes_label.setText(f"{first}{more}")
        self.notes_label.setToolTip("What loading changed:\n" + "\n".join(sig.notes))
        self.notes_icon.setToolTip(self.notes_label.toolTip())
        self.notes_icon.show()
        self.statusBar().showMessage(f"Loaded {sig.name}: {text}", 15_000)
        log.info("loaded %s: %s", sig.name, text)
        if not self.error_dialogs:
            return
        if self._notes_box is None:
            self._notes_box = QMessageBox(QMessageBox.Icon.Information, "PhaseBrush", "",
                                          QMessageBox.StandardButton.Ok, self)
            self._notes_box.setModal(False)
        self._notes_box.setText(f"{sig.name} was loaded with these changes:")
        self._notes_box.setInformativeText("\n".join(f"• {n}" for n in sig.notes))
        self._notes_box.show()

    def open_demo(self, name: str) -> None:
        from phasebrush.core.io.demo import demo_signal

        if not self.maybe_save():
            return
        try:
            sig = demo_signal(name)
        except PhaseBrushError as exc:
            self._show_error(str(exc))
            return
        self.load_options = {}
        self.doc.set_signal(sig)
        self._show_load_notes(sig)

    # -- sessions -------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Offer to save unsaved work; True when it is fine to go on.

        See :attr:`confirm_close` for when it asks.
        """
        ask = self.confirm_close
        if ask is None:
            ask = QGuiApplication.platformName() not in HEADLESS_PLATFORMS
        if not ask:
            return True
        return sio.maybe_save(self, self.doc, self.session, save=self._save_for_prompt)

    def _save_for_prompt(self) -> bool:
        if self.session.path is not None:
            return self.save_session()
        return self.save_session_as() is not None

    def save_session(self) -> bool:
        """Save to the current session file (asks for a name the first time)."""
        if self.doc.signal is None:
            self._show_error("Nothing to save yet: open a signal first")
            return False
        if self.session.path is None:
            return self.save_session_as() is not None
        return sio.save_session_to(self, self.doc, self.session.path, state=self.session,
                                   load_options=self.load_options, notify=self._notify)

    def save_session_as(self):
        """Ask for a file name and save; the path written, or None."""
        if self.doc.signal is None:
            self._show_error("Nothing to save yet: open a signal first")
            return None
        return sio.save_session_as(self, self.doc, state=self.session,
                                   start_dir=self._start_dir(), load_options=self.load_options,
                                   notify=self._notify)

    def open_session(self, path=None) -> bool:
        """Open a session file (asks for one when ``path`` is None).

        A session whose signal file moved asks where it went. Bands and masks
        appear once the transform has been computed.
        """
        if not self.maybe_save():
            return False
        got = sio.open_session(self, path, start_dir=self._start_dir())
        if got is None:
            return False
        session, sig, spath = got
        self.load_options = dict(session.signal.options)
        self.settings.setValue("last_dir", str(Path(spath).resolve().parent))
        sio.apply_session(self.doc, session, sig, state=self.session, path=spath,
                          on_restored=lambda: self._notify(f"Opened session {spath}"))
        self._show_load_notes(sig)
        return True

    def recent_files(self) -> list[str]:
        v = self.settings.value("recent_files", [])
        if isinstance(v, str):
            v = [v]
        return [str(p) for p in (v or [])]

    def _add_recent(self, path: str) -> None:
        files = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent_files", files[:MAX_RECENT])
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for p in files:
            a = self.recent_menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.triggered.connect(lambda _=False, q=p: self.open_path(q))
        self.recent_menu.setEnabled(bool(files))

    # -- export / import -------------------------------------------------------------
    def export_reconstruction(self, path=None):
        """Save the phase-retrieval result (WAV / FLAC / CSV); the path written or None."""
        # The document keeps only a retrieval of its current signal (see DocumentModel.key).
        return self._export_signal(self.doc.retrieval_y(), "reconstruction", path,
                                   "run a phase retrieval first")

    def export_selection(self, path=None):
        """Save the selection's inverse (the band)."""
        return self._export_signal(self.doc.inversion, "band",
                                   path, "draw a band or paint a mask first")

    def export_residual(self, path=None):
        """Save the original minus the selection's inverse."""
        return self._export_signal(self.doc.residual, "residual", path,
                                   "draw a band or paint a mask first")

    def _export_signal(self, y, what: str, path, hint: str):
        if self.doc.signal is None or y is None:
            self._show_error(f"Nothing to export yet: {hint}")
            return None
        if np.size(y) != self.doc.signal.n:
            self._show_error(f"The {what} has {np.size(y)} samples, {self.doc.signal.name} "
                             f"{self.doc.signal.n}: it belongs to another signal and was not "
                             "exported")
            return None
        return ex.export_signal(self, self.doc.signal, y, what=what, path=path,
                                start_dir=self._start_dir(), notify=self._notify)

    def export_mask(self, path=None):
        """Save the selection mask (visible bands and masks) with its grid as NPZ."""
        if self.doc.is_long:
            self._show_error(_LONG_REASON.format(what="A selection mask",
                                                 how="export the band and residual signals, or "
                                                     "save the session (masks as their runs)"))
            return None
        mask = self.doc.layers.selection_mask()
        if self.doc.tfr is None or mask is None or not mask.any():
            self._show_error("Nothing to export yet: draw a band or paint a mask first")
            return None
        return ex.export_mask(self, mask, self.doc.tfr, name="selection", path=path,
                              start_dir=self._start_dir(), notify=self._notify)

    def export_indices(self, path=None):
        """Save the selection's indices (CSV or NPZ by the suffix), streamed in a worker;
        the export job (its ``finished`` signal gives the path) or None."""
        return self.indices_view.export(path, start_dir=self._start_dir())

    def _bands_or_error(self):
        bands = ex.bands_from_layers(self.doc.layers)
        if not bands:
            self._show_error("There are no bands to export: draw one with the band tool (B)")
        return bands

    def export_bands(self, path=None):
        """Save the bands as JSON."""
        bands = self._bands_or_error()
        if not bands:
            return None
        return ex.export_bands(self, bands, path=path, start_dir=self._start_dir(),
                               notify=self._notify)

    def export_selection_table(self, path=None, *, audacity: bool | None = None):
        """Save the bands as a tab-separated selection table."""
        bands = self._bands_or_error()
        if not bands:
            return None
        s = self.doc.signal
        return ex.export_selection_table(self, bands, unit=s.unit,
                                         time_range=(float(s.x[0]), float(s.x[-1])), path=path,
                                         audacity=audacity, start_dir=self._start_dir(),
                                         notify=self._notify)

    def import_selection_table(self, path=None) -> int:
        """Add the rows of a selection table as bands (one undo step); how many."""
        if self.doc.tfr is None:
            self._show_error("Wait for the image to appear before importing selections")
            return 0
        f = self.doc.tfr.frequencies
        bands = ex.import_selection_table(self, unit=self.doc.signal.unit,
                                          freq_range=(float(np.min(f)), float(np.max(f))),
                                          path=path, start_dir=self._start_dir(),
                                          notify=self._notify)
        return self._add_bands(bands or [], "Import selection table")

    def _add_bands(self, bands, text: str) -> int:
        if not bands:
            return 0
        added, problems = self.doc.layers.add_bands(bands, text=text)
        if problems:
            self.statusBar().showMessage(f"Skipped {len(problems)} band(s): {problems[0]}", 8000)
        return len(added)

    # -- heatmap masks and ridges ----------------------------------------------------
    def exec_dialog(self, dialog) -> int:
        """Run a modal dialog (tests replace this to drive the dialog)."""
        return dialog.exec()

    def import_heatmap_mask(self) -> bool:
        """Threshold a saliency map into a mask layer (dialog with a preview)."""
        from phasebrush.app.heatmap_dialog import HeatmapDialog

        if self.doc.tfr is None:
            self._show_error("Wait for the image to appear before importing a heatmap")
            return False
        if self.doc.is_long:
            self._show_error(_LONG_REASON.format(what="A heatmap mask",
                                                 how="import it on an excerpt"))
            return False
        key = self.doc.key
        dlg = HeatmapDialog(self.doc.tfr, signal=self.doc.signal, start_dir=self._start_dir(),
                            parent=self)
        try:
            if self.exec_dialog(dlg) != QDialog.DialogCode.Accepted:
                return False
            mask = dlg.binary_mask()
            # The mask is in the cells of the grid the dialog was opened on; a transform
            # recomputed meanwhile may have the same shape and other cells.
            if mask is None or mask.shape != self.doc.layers.shape or self.doc.key != key:
                self._show_error("The heatmap gave no mask for the current image")
                return False
            self.doc.layers.add_paint_layer(name=dlg.layer_name(), mask=mask)
            self.signal_view.set_visible("attribution", True)
            self._notify(f"Added mask {dlg.layer_name()}: {int(mask.sum())} cells")
            return True
        finally:
            dlg.deleteLater()

    def propose_ridge_bands(self) -> int:
        """Propose bands around the strongest ridges; the accepted ones are added."""
        from phasebrush.app.ridge_dialog import RidgeDialog

        if self.doc.tfr is None:
            self._show_error("Wait for the image to appear before tracking ridges")
            return 0
        if self.doc.is_long:
            self._show_error(_LONG_REASON.format(what="Ridge tracking",
                                                 how="draw bands by hand, or track ridges on "
                                                     "an excerpt"))
            return 0
        key = self.doc.key
        dlg = RidgeDialog(self.doc.tfr, parent=self)
        try:
            if self.exec_dialog(dlg) != QDialog.DialogCode.Accepted:
                return 0
            # Bands are in time and frequency: a new transform of the same signal is fine.
            if not self.doc.is_current(key, transform=False):
                self._show_error("The signal changed while ridges were tracked: "
                                 "the proposals were not added")
                return 0
            n = self._add_bands(dlg.accepted_bands(), "Ridge bands")
            self._notify(f"Added {n} band(s) around ridges; drag their handles to edit")
            return n
        finally:
            dlg.deleteLater()

    def _on_log_freq_toggled(self, on: bool) -> None:
        self.tfr_view.set_log_frequency(on)
        self.settings.setValue("stft_log_frequency", bool(on))

    # -- document -> window -------------------------------------------------------
    def _on_signal_changed(self) -> None:
        s = self.doc.signal
        self.setWindowTitle(f"PhaseBrush - {s.name}[*]")
        self.export_action.setEnabled(False)
        self.retrieval_panel.export_button.setEnabled(False)
        self.coherence_view.clear()   # a comparison with the previous signal means nothing
        # Each signal starts on its own default axis (peak width for spectra).
        self.tfr_view.freq_mode_override = None
        self.freq_mode_actions[self.tfr_view.freq_mode].setChecked(True)
        self._update_export_actions()

    def _update_export_actions(self) -> None:
        has_sel = self.doc.inversion is not None
        for act in (self.export_sel_action, self.export_res_action, self.export_mask_action):
            act.setEnabled(has_sel)

    def _on_tfr_changed(self) -> None:
        t = self.doc.tfr
        self.statusBar().showMessage(f"{t.spec.kind}: {t.n_rows} x {t.n_frames}", 3000)

    def _on_busy_changed(self, busy: bool) -> None:
        if busy:
            self.statusBar().showMessage("Computing the transform…")

    def _on_retrieval_finished(self, result) -> None:
        # The document emits this only for a result of its current signal.
        y = self.doc.retrieval_y()
        self.export_action.setEnabled(y is not None)
        if y is not None and self.doc.signal is not None and np.size(y) == self.doc.signal.n:
            spec = self.doc.tfr.spec if self.doc.tfr is not None else None
            self.coherence_view.compare(self.doc.signal, y, spec, label="retrieval")

    def _on_band_progress(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text)
        else:
            self.statusBar().clearMessage()

    def _on_failed(self, message: str) -> None:
        self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.last_error = message
        self.statusBar().showMessage(message.splitlines()[0], 15_000)
        if self.error_dialogs:
            QMessageBox.critical(self, "PhaseBrush", message)

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if not self._docks_sized:  # sizes apply only once the layout exists
            self._docks_sized = True
            self.resizeDocks([self.docks["layers"], self.docks["transform"]],
                             [DOCK_HEIGHTS["layers"], DOCK_HEIGHTS["transform"]],
                             Qt.Orientation.Vertical)
            self.resizeDocks([self.docks["transform"]], [DOCK_WIDTH], Qt.Orientation.Horizontal)

    # -- shutdown -------------------------------------------------------------------
    def closeEvent(self, ev) -> None:
        if not self.maybe_save():
            ev.ignore()
            return
        # Stop the sound and every worker before Qt tears the objects down: no thread
        # may outlive us.
        self.player.stop()
        self.coherence_view.clear()   # cancels first, so all workers stop in parallel
        self.indices_view.shutdown(timeout_ms=0)
        self.doc.shutdown(timeout_ms=CLOSE_TIMEOUT_MS)
        self.coherence_view.shutdown(timeout_ms=0)
        super().closeEvent(ev)
