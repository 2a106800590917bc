"""Phase-retrieval panel: parameters, Run / Cancel, live loss plot, result metrics."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.document import RetrievalParams, retrieval_spec
from app.transform_panel import KIND_LABELS
from core.retrieval import DEFAULT_METHOD, default_method  # numpy only: torch loads on a run

__all__ = ["RetrievalPanel", "METHODS", "OPTIMIZERS"]

# Names as core.retrieval.retrieve takes them (listed here so the panel never imports
# torch; tests check them against core.retrieval.METHODS / OPTIMIZERS / INITS).
METHODS = {"auto": "Best measured for the transform: RAAR, then fast Griffin-Lim (STFT) "
                   "or L-BFGS (CWT); for a Morse wavelet with time-bandwidth 90 or less, "
                   "L-BFGS with RAAR kicks (lbfgs-raar)",
           "raar+fgla": "Relaxed averaged alternating reflections, then fast Griffin-Lim",
           "gd": "Gradient descent on the magnitude misfit (optimiser below)",
           "gla": "Griffin-Lim projections",
           "fgla": "Fast Griffin-Lim (momentum)",
           "raar": "Relaxed averaged alternating reflections",
           "dm": "Difference map",
           "lbfgs-raar": "L-BFGS; when it stalls, a RAAR burst, then L-BFGS again "
                       "(ends on the best estimate)"}
OPTIMIZERS = ("sgdm", "adam", "rmsprop", "lbfgs")
HINT_TIME_BANDWIDTH = 60.0  # MATLAB's Morse default, the one the tip recommends
INITS = ("zeros", "random", "noise", "fgla", "pghi")
#: How the status line names core's stop reasons (a run that stopped early keeps its best).
STOP_REASONS = {"converged": "converged", "max_iter": "finished",
                "cancelled": "cancelled, best kept",
                "non_finite": "diverged (non-finite), best kept",
                "failed": "failed, best kept", "interrupted": "interrupted, best kept"}


class RetrievalPanel(QWidget):
    """Collects RetrievalParams, starts / cancels the document's run, plots the loss."""

    export_requested = None  # set by the main window (a callable)

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.doc = document
        form = QGridLayout()
        form.setVerticalSpacing(3)
        form.setHorizontalSpacing(6)
        self.target = QComboBox()
        self.target.addItem("whole", "whole")
        self.target.addItem("selection", "region")
        self.target.setToolTip("What the estimate must match: every magnitude of the "
                               "transform, or only the cells of the current selection")
        self.kind = QComboBox()
        self.kind.addItem("as view", None)
        for k in ("cwt", "stft"):
            self.kind.addItem(KIND_LABELS[k], k)
        self.kind.setToolTip("Transform whose magnitudes are the target (default: the one "
                             "shown; a synchrosqueezed view uses its plain CWT / STFT)")
        self.method = QComboBox()
        for key, tip in METHODS.items():
            self.method.addItem(key, key)
            self.method.setItemData(self.method.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.method.setToolTip("Retrieval algorithm (hover the list for details)")
        self.optimizer = QComboBox()
        self.optimizer.addItems(list(OPTIMIZERS))
        self.optimizer.setToolTip("Optimiser for the gradient-descent (gd) method")
        self.init = QComboBox()
        self.init.addItems(list(INITS))
        self.init.setCurrentText("pghi")  # the best start measured for both STFT and CWT
        self.init.setToolTip("Starting phase: zeros (deterministic), random phase or noise "
                             "(seeded), a fast Griffin-Lim warm start, or pghi: phase from the "
                             "magnitude's gradients (often the best start)")
        self.n_iter = QSpinBox()
        self.n_iter.setRange(1, 100_000)
        self.n_iter.setValue(100)
        self.n_iter.setToolTip("Maximum number of iterations")
        self.tol = QLineEdit("")
        self.tol.setPlaceholderText("none")
        self.tol.setToolTip("Stop once the inconsistency falls to this (e.g. 1e-3); "
                            "empty = run every iteration")
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(3)
        self.lr.setRange(0.0, 10.0)
        self.lr.setValue(0.0)
        self.lr.setSingleStep(0.05)
        self.lr.setSpecialValueText("auto")
        self.lr.setToolTip("Learning rate of the gd method; auto = the optimiser's default")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Random seed of the initial phase (same seed, same result)")
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.device.setToolTip("Where torch runs: auto picks CUDA when available")
        cells = (("Target", self.target), ("Transform", self.kind),
                 ("Method", self.method), ("Optimiser", self.optimizer),
                 ("Iterations", self.n_iter), ("Tolerance", self.tol),
                 ("Rate", self.lr), ("Seed", self.seed), ("Init", self.init),
                 ("Device", self.device))
        for i, (label, w) in enumerate(cells):
            r, c = divmod(i, 2)
            lab = QLabel(label)
            lab.setToolTip(w.toolTip())
            form.addWidget(lab, r, 2 * c)
            form.addWidget(w, r, 2 * c + 1)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)

        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Recover a signal from the magnitudes (background thread)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the run; the best estimate so far is kept")
        self.cancel_button.setEnabled(False)
        self.preview = QCheckBox("preview")
        self.preview.setChecked(True)
        self.preview.setToolTip("Show the current estimate in the signal plot while it runs")
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.preview)

        self.loss_plot = pg.PlotWidget(background="#15171a")
        self.loss_plot.setLogMode(x=False, y=True)
        self.loss_plot.setLabel("bottom", "iteration")
        self.loss_plot.setLabel("left", "loss")
        self.loss_plot.showGrid(x=True, y=True, alpha=0.2)
        self.loss_plot.setMinimumHeight(90)
        self.loss_plot.setToolTip("Loss per iteration (log scale), updated live")
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#34c759", width=1.5))
        self.status = QLabel("")
        # No word wrap: a wrapping label gives the panel a height-for-width, and the
        # dock's scroll area would then size it to its (tall) preferred height.
        self.status.setToolTip("Progress and, when done, spectral convergence (SC, dB: lower "
                               "is better) and relative L2 error against the original")
        self.export_button = QPushButton("Export reconstruction…")
        self.export_button.setToolTip("Save the recovered signal (WAV, CSV, NPY ...)")
        self.export_button.setEnabled(False)
        self.hint = QLabel(f"Tip: time-bandwidth {HINT_TIME_BANDWIDTH:g} retrieves far better")
        self.hint.setMinimumWidth(1)  # clip rather than widen the dock; the tooltip says it all
        self.hint.setStyleSheet("color: #e0a030;")
        self.hint.setToolTip(
            "Morse wavelet time-bandwidth: at ssqueezepy's default (180) slow phase drifts of "
            "high-frequency components barely change the scalogram, so retrieval stalls; at "
            "60 (MATLAB's "
            "default; Transform dock) the seed chirp is recovered to 2e-6 inconsistency "
            "instead of 1.5e-2")
        self.hint.setVisible(False)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.hint)
        lay.addLayout(row)
        lay.addWidget(self.loss_plot, 1)
        lay.addWidget(self.status)
        lay.addWidget(self.export_button)

        self._iters: list[int] = []
        self._losses: list[float] = []
        self.run_button.clicked.connect(self._on_run)
        self.cancel_button.clicked.connect(document.cancel_retrieval)
        self.preview.toggled.connect(self._on_preview_toggled)
        document.retrieval_started.connect(self._on_started)
        document.retrieval_progressed.connect(self._on_progressed)
        document.retrieval_finished.connect(self._on_finished)
        document.retrieval_ended.connect(self._on_ended)
        document.tfr_changed.connect(self._update_hint)
        document.signal_changed.connect(self._on_signal_changed)
        self.kind.currentIndexChanged.connect(self._update_hint)
        self._update_hint()

    def _update_hint(self) -> None:
        """Show the time-bandwidth tip when the target is a broad-band Morse scalogram."""
        kind = self.kind.currentData()
        spec = retrieval_spec(self.doc.spec if kind is None else replace(self.doc.spec, kind=kind))
        # the tip goes wherever core's "auto" is not the short-wavelet method
        self.hint.setVisible(spec.kind == "cwt" and spec.wavelet == "gmw"
                             and default_method(spec) != DEFAULT_METHOD["cwt-short"])

    def params(self) -> RetrievalParams:
        """The parameters the widgets describe."""
        text = self.tol.text().strip()
        try:
            tol = float(text) if text else None
        except ValueError:
            tol = None
            self.tol.setText("")
        if tol is not None and not tol > 0:
            tol = None
        kind = self.kind.currentData()
        spec = None
        if kind is not None:
            spec = replace(self.doc.spec, kind=kind)
        return RetrievalParams(target=self.target.currentData(), spec=spec,
                               method=self.method.currentData(),
                               optimizer=self.optimizer.currentText(),
                               n_iter=self.n_iter.value(), tol=tol,
                               lr=self.lr.value() or None, seed=self.seed.value(),
                               device=self.device.currentText(),
                               init=self.init.currentText())

    def loss_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(iterations, losses) drawn so far."""
        return np.array(self._iters), np.array(self._losses)

    def _on_run(self) -> None:
        self.doc.start_retrieval(self.params())

    def _on_started(self) -> None:
        self._iters, self._losses = [], []
        self.loss_curve.setData([], [])
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("starting (loading torch)…")

    def _on_progressed(self, report) -> None:
        it, loss = report["iteration"], report["loss"]
        if math.isfinite(loss) and loss > 0:
            self._iters.append(it)
            self._losses.append(loss)
            self.loss_curve.setData(self._iters, self._losses)
        inc = report.get("inconsistency")
        extra = f", inconsistency {inc:.3g}" if inc is not None else ""
        self.status.setText(f"iteration {it}: loss {loss:.4g}{extra}")

    def _on_finished(self, result) -> None:
        hist = getattr(result, "loss_history", None)
        if hist is not None and len(hist):
            h = np.asarray(hist, float)
            ok = np.isfinite(h) & (h > 0)
            it = np.arange(1, h.size + 1)
            self._iters, self._losses = list(it[ok]), list(h[ok])
            self.loss_curve.setData(self._iters, self._losses)
        m = self.doc.retrieval_metrics
        reason = getattr(result, "stop_reason", "done")
        parts = [f"{STOP_REASONS.get(reason, reason)} after "
                 f"{getattr(result, 'n_iter', len(self._losses))} it"]
        if "sc_db" in m:
            parts.append(f"SC {m['sc_db']:.1f} dB")
        if "rel_l2" in m:
            ref = "" if self.doc.last_retrieval_target == "whole" else " vs selection"
            parts.append(f"rel-L2{ref} {m['rel_l2']:.3g}")
        self.status.setText(" · ".join(parts))
        self.export_button.setEnabled(True)

    def _on_ended(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.status.text().startswith(("starting", "iteration")):
            self.status.setText("failed - see the message")

    def _on_signal_changed(self) -> None:
        # The previous signal's curve, figures and result are not this signal's.
        self._iters, self._losses = [], []
        self.loss_curve.setData([], [])
        self.status.setText("")
        self.export_button.setEnabled(False)

    def _on_preview_toggled(self, on: bool) -> None:
        self.doc.preview_enabled = bool(on)
