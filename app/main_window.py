"""The main window: signal plot over the time-frequency image, docks, menus, status bar.

It wires views to the document and turns the document's ``failed`` messages
into a message box plus a status-bar line; it computes nothing itself.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QToolBar,
)

from app.document import DocumentModel
from app.layer_panel import LayerPanel
from app.retrieval_panel import RetrievalPanel
from app.signal_view import SignalView
from app.tfr_view import TfrView
from app.transform_panel import TransformPanel
from core.errors import PhaseBrushError

__all__ = ["MainWindow", "TOOL_ACTIONS"]

# tool -> (label, shortcut, tooltip)
TOOL_ACTIONS = {
    "pan": ("Pan / zoom", "H", "Drag to pan, wheel to zoom (H)"),
    "band": ("Band", "B", "Band: click vertices along the upper edge, Enter, then along the "
             "lower edge, Enter (B). Drag a handle afterwards to edit"),
    "brush": ("Brush", "P", "Paint cells (P); Shift adds, Alt erases"),
    "rect": ("Rectangle", "R", "Drag a rectangle (R); Shift adds, Alt subtracts"),
    "lasso": ("Lasso", "L", "Drag a free-hand outline (L); Shift adds, Alt subtracts"),
}
FILE_FILTER = ("Signals (*.wav *.flac *.ogg *.aif *.aiff *.csv *.txt *.npy *.npz *.jdx *.dx);;"
               "All files (*)")
MAX_RECENT = 8


class MainWindow(QMainWindow):
    """PhaseBrush's window over one :class:`DocumentModel`."""

    def __init__(self, document: DocumentModel | None = None, *,
                 settings: QSettings | None = None):
        super().__init__()
        self.doc = document or DocumentModel(self)
        self.settings = settings or QSettings("PhaseBrush", "PhaseBrush")
        #: False: errors go to the status bar only (``--screenshot``, batch use).
        self.error_dialogs = True
        self.last_error = ""
        self.setWindowTitle("PhaseBrush")
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
        self.docks = {}
        for key, title, widget, area in (
                ("layers", "Selection", self.layer_panel, Qt.DockWidgetArea.RightDockWidgetArea),
                ("transform", "Transform", self.transform_panel,
                 Qt.DockWidgetArea.RightDockWidgetArea),
                ("retrieval", "Phase retrieval", self.retrieval_panel,
                 Qt.DockWidgetArea.RightDockWidgetArea)):
            d = QDockWidget(title, self)
            d.setObjectName(f"dock-{key}")
            # Scrollable, so the panels' minimum heights never force the window taller.
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(widget)
            d.setWidget(scroll)
            d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                          | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
            self.addDockWidget(area, d)
            self.docks[key] = d
        self.tabifyDockWidget(self.docks["layers"], self.docks["transform"])
        self.docks["layers"].raise_()
        self._docks_sized = False

        self._make_actions()
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
        self.retrieval_panel.export_button.clicked.connect(self.export_reconstruction)
        self.doc.failed.connect(self._on_failed)
        self.doc.signal_changed.connect(self._on_signal_changed)
        self.doc.tfr_changed.connect(self._on_tfr_changed)
        self.doc.busy_changed.connect(self._on_busy_changed)
        self.doc.retrieval_finished.connect(self._on_retrieval_finished)

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
        from core.demo import DEMOS
        for name, desc in DEMOS.items():
            d = demos.addAction(name)
            d.setToolTip(desc)
            d.triggered.connect(lambda _=False, n=name: self.open_demo(n))
        demos.setToolTipsVisible(True)
        fm.addSeparator()
        self.export_action = fm.addAction("&Export reconstruction…")
        self.export_action.setToolTip("Save the phase-retrieval result as a signal file")
        self.export_action.triggered.connect(self.export_reconstruction)
        self.export_action.setEnabled(False)
        self.export_sel_action = fm.addAction("Export &selection inverse…")
        self.export_sel_action.setToolTip("Save the inverse of the selected region")
        self.export_sel_action.triggered.connect(self.export_selection)
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
        em.addAction(self.undo_action)
        em.addAction(self.redo_action)
        em.addSeparator()
        inv = em.addAction("&Invert selection")
        inv.setShortcut(QKeySequence("Ctrl+I"))
        inv.triggered.connect(self.doc.layers.invert_selection)
        clr = em.addAction("&Clear layers")
        clr.triggered.connect(self.doc.layers.clear)

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
        self.undo_action.setToolTip("Undo the last edit (Ctrl+Z)")
        self.redo_action.setToolTip("Redo (Ctrl+Shift+Z)")
        tb.addAction(self.undo_action)
        tb.addAction(self.redo_action)
        inv.setToolTip("Select everything that is not selected (Ctrl+I)")
        tb.addAction(inv)
        clr.setToolTip("Remove every band and mask")
        tb.addAction(clr)

        vm = mb.addMenu("&View")
        for d in self.docks.values():
            vm.addAction(d.toggleViewAction())

    def _on_tool_changed(self, tool: str) -> None:
        act = self.tool_actions.get(tool)
        if act is not None and not act.isChecked():
            act.setChecked(True)
        self.statusBar().showMessage(TOOL_ACTIONS[tool][2], 4000)

    # -- files ------------------------------------------------------------------
    def open_dialog(self) -> None:
        start = self.settings.value("last_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open signal", str(start), FILE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path) -> bool:
        """Load ``path`` with the core loaders; a bad file gives a message, not a traceback."""
        from core.io import load_signal

        try:
            sig = load_signal(path)
        except PhaseBrushError as exc:
            self._show_error(f"Could not open {path}:\n{exc}")
            return False
        except Exception as exc:  # a loader bug must still not kill the app
            self._show_error(f"Could not open {path}:\n{type(exc).__name__}: {exc}")
            return False
        self._add_recent(str(Path(path).resolve()))
        self.settings.setValue("last_dir", str(Path(path).resolve().parent))
        self.doc.set_signal(sig)
        if sig.notes:
            self.statusBar().showMessage("Loaded: " + "; ".join(sig.notes), 10_000)
        return True

    def open_demo(self, name: str) -> None:
        from core.demo import demo_signal

        try:
            self.doc.set_signal(demo_signal(name))
        except PhaseBrushError as exc:
            self._show_error(str(exc))

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

    def export_reconstruction(self) -> None:
        y = self.doc.retrieval_y()
        if y is None:
            self._show_error("Nothing to export yet: run a phase retrieval first")
            return
        self._export(y, "reconstruction")

    def export_selection(self) -> None:
        if self.doc.inversion is None:
            self._show_error("Nothing to export yet: draw a band or paint a mask first")
            return
        self._export(self.doc.inversion, "selection")

    def _export(self, y, suffix: str) -> None:
        from core.io import save_signal

        sig = self.doc.signal.with_samples(y, name=f"{self.doc.signal.name} {suffix}")
        ext = ".wav" if sig.is_audio else ".csv"
        start = Path(self.settings.value("last_dir", str(Path.home()))) / f"{suffix}{ext}"
        path, _ = QFileDialog.getSaveFileName(self, "Export", str(start),
                                              "WAV (*.wav);;FLAC (*.flac);;CSV (*.csv);;"
                                              "NumPy (*.npy);;All files (*)")
        if not path:
            return
        try:
            notes = save_signal(sig, path)
        except (PhaseBrushError, OSError) as exc:
            self._show_error(f"Could not write {path}:\n{exc}")
            return
        msg = f"Wrote {path}" + (" (" + "; ".join(notes) + ")" if notes else "")
        self.statusBar().showMessage(msg, 8000)

    # -- document -> window -------------------------------------------------------
    def _on_signal_changed(self) -> None:
        s = self.doc.signal
        self.setWindowTitle(f"PhaseBrush - {s.name}")
        self.export_action.setEnabled(False)
        self.retrieval_panel.export_button.setEnabled(False)

    def _on_tfr_changed(self) -> None:
        t = self.doc.tfr
        self.statusBar().showMessage(f"{t.spec.kind}: {t.n_rows} x {t.n_frames}", 3000)

    def _on_busy_changed(self, busy: bool) -> None:
        if busy:
            self.statusBar().showMessage("Computing the transform…")

    def _on_retrieval_finished(self, result) -> None:
        self.export_action.setEnabled(True)

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
            self.resizeDocks([self.docks["layers"], self.docks["retrieval"]], [205, 545],
                             Qt.Orientation.Vertical)
            self.resizeDocks([self.docks["retrieval"]], [372], Qt.Orientation.Horizontal)

    # -- shutdown -------------------------------------------------------------------
    def closeEvent(self, ev) -> None:
        # Stop every worker before Qt tears the objects down: no thread may outlive us.
        self.doc.shutdown()
        super().closeEvent(ev)
