"""Phase-retrieval panel: parameters, Run / Cancel, live loss plot, result metrics."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
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

from phasebrush.app.document import AUTO_TIME_BANDWIDTH, RetrievalParams, retrieval_spec
from phasebrush.app.transform_panel import KIND_LABELS
from phasebrush.core.retrieval.retrieve import (  # numpy only: torch loads on a run
    DEFAULT_METHOD,
    default_method,
)

__all__ = ["RetrievalPanel", "METHODS", "OPTIMIZERS", "TRANSFORMS", "METRIC_TIPS", "LogAxis"]

# Names as core.retrieval.retrieve.retrieve takes them (listed here so the panel never imports
# torch; tests check them against core.retrieval.retrieve.METHODS / OPTIMIZERS / INITS).
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
#: The Init entry that starts from a signal file (its samples are the first estimate).
INIT_FILE = "from file…"
#: The "Transform" choices: (data, label, tooltip); data is RetrievalParams.transform.
TRANSFORMS = (
    ("auto", "auto", "The view's transform, except a Morse (GMW) scalogram whose time-bandwidth "
                     "is above 90 (ssqueezepy's default, 180): it retrieves through the same "
                     f"CWT at time-bandwidth {AUTO_TIME_BANDWIDTH:g}, from the signal's own "
                     "transform at 60 (computed for the run). At 180 slow phase drifts of "
                     "high-frequency components barely change the scalogram and retrieval "
                     "stalls: seed chirp rel-L2 < 1e-4 at 60 against 0.0096 at 180 (README, "
                     "Measured). Synchrosqueezed views use their plain CWT / STFT"),
    ("view", "as view", "The transform shown, as it is (a synchrosqueezed view uses its "
                        "plain CWT / STFT)"),
    ("cwt", KIND_LABELS["cwt"], "The CWT with the view's wavelet settings"),
    ("stft", KIND_LABELS["stft"], "The STFT with the view's window settings"),
)
#: What each figure of a finished run means (the status line's tooltip).
METRIC_TIPS = {
    "inconsistency": "inconsistency: distance of the estimate's transform magnitudes from the "
                     "target, relative: ||S - |A x||| / ||S|| (S the target magnitudes, A the "
                     "transform, x the estimate; 0 = every target magnitude matched)",
    "sc_db": "SC (spectral convergence, dB): 20 log10 ||S - |A x||| / ||S||, the "
             "inconsistency in dB (lower is better; -40 dB = 1 %)",
    "rel_l2": "rel-L2: ||x - x_ref|| / ||x_ref|| against the original signal x_ref (sign-"
              "aware: magnitudes cannot tell x from -x); only a demo or known signal has one",
    "rel_l2_region": "rel-L2 vs selection: ||x - x_sel|| / ||x_sel|| over every sample, "
                     "where x_sel is the selection's inverse (the selected cells with their "
                     "true phases, inverted: the band's own signal); the estimate was only "
                     "asked to match the magnitudes of the selected cells, so a value near "
                     "or above 1 means it matched them with other phases, not that it failed",
    "region": "a selection target: inconsistency and SC are over the selected cells only",
}
#: How the status line names core's stop reasons (a run that stopped early keeps its best).
STOP_REASONS = {"converged": "converged", "max_iter": "finished",
                "cancelled": "cancelled, best kept",
                "non_finite": "diverged (non-finite), best kept",
                "failed": "failed, best kept", "interrupted": "interrupted, best kept"}


class LogAxis(pg.AxisItem):
    """A log-scale axis that reads: one label per decade (``1e-3``), never an SI
    prefix ("loss (x0.001)"), and the 2 / 5 steps only when the range spans under
    two decades."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickValues(self, minVal, maxVal, size):
        if not self.logMode or not (math.isfinite(minVal) and math.isfinite(maxVal)):
            return super().tickValues(minVal, maxVal, size)
        lo, hi = (minVal, maxVal) if minVal <= maxVal else (maxVal, minVal)
        span = hi - lo
        # at most about one label per 22 px
        room = max(1, int(size // 22))
        step = max(1, math.ceil((span + 1) / room))
        decades = [float(d) for d in range(math.floor(lo), math.ceil(hi) + 1)
                   if lo - 1e-9 <= d <= hi + 1e-9 and d % step == 0]
        minor = []
        if span < 2 and room >= 3 * (span + 1):
            minor = [d + math.log10(k) for d in range(math.floor(lo) - 1, math.ceil(hi) + 1)
                     for k in (2, 5) if lo <= d + math.log10(k) <= hi]
        if len(decades) + len(minor) < 2:  # under one decade: a few linear-looking steps
            minor = [d + math.log10(k) for d in range(math.floor(lo) - 1, math.ceil(hi) + 1)
                     for k in range(2, 10) if lo <= d + math.log10(k) <= hi]
            minor = minor[::max(1, math.ceil(len(minor) / max(1, room - len(decades))))]
        # no two labels closer than 22 px (a 2-5-step next to a decade overlapped it)
        gap = 22.0 * max(span, 1e-12) / max(size, 1.0)
        kept = list(decades)
        for v in sorted(minor):
            if all(abs(v - k) >= gap for k in kept):
                kept.append(v)
        return [(1.0, decades), (0.5, sorted(v for v in kept if v not in decades))]

    def tickStrings(self, values, scale, spacing):
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        out = []
        for v in values:
            x = 10.0 ** v
            e = math.floor(v + 1e-9)
            m = x / 10.0 ** e
            out.append(f"1e{e}" if abs(m - 1) < 1e-6 else f"{m:.0f}e{e}")
        return out

    def logTickStrings(self, values, scale, spacing):
        return self.tickStrings(values, scale, spacing)


class RetrievalPanel(QWidget):
    """Collects RetrievalParams, starts / cancels the document's run, plots the loss."""

    export_requested = None  # set by the main window (a callable)
    #: The settings shown changed (the document holds them; a session saves them).
    settings_changed = Signal()

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
        for data, label, tip in TRANSFORMS:
            self.kind.addItem(label, data)
            self.kind.setItemData(self.kind.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.kind.setToolTip("Transform whose magnitudes are the target; auto (default): the "
                             "view's, but a Morse scalogram above time-bandwidth 90 retrieves "
                             f"through time-bandwidth {AUTO_TIME_BANDWIDTH:g} (far better "
                             "conditioned); as view: exactly the one shown")
        self.method = QComboBox()
        for key, tip in METHODS.items():
            self.method.addItem(key, key)
            self.method.setItemData(self.method.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.method.setToolTip("Retrieval algorithm (hover the list for details)")
        self.optimizer = QComboBox()
        self.optimizer.addItems(list(OPTIMIZERS))
        self.optimizer.setToolTip("Optimiser for the gradient-descent (gd) method")
        self.init = QComboBox()
        self.init.addItems([*INITS, INIT_FILE])
        self.init.setCurrentText("pghi")  # the best start measured for both STFT and CWT
        self.init.setToolTip("Starting phase: zeros (deterministic), random phase or noise "
                             "(seeded), a fast Griffin-Lim warm start, pghi: phase from the "
                             "magnitude's gradients (often the best start), or from file…: "
                             "a signal of the same length as the first estimate")
        self._init_path: str | None = None
        self._init_y: np.ndarray | None = None
        self.padding = QSpinBox()
        self.padding.setRange(0, 9999)  # 4 digits: the row fits the dock
        self.padding.setPrefix("pad ")
        self.padding.setToolTip("Padding: free samples added at each end of the unknown "
                                "(default 0; the MATLAB reference uses 10, which measured worse "
                                "here: seed chirp scalogram 4.8e-5 inconsistency with 0, "
                                "5.1e-3 with 10)")
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
        row.addWidget(self.padding)
        row.addWidget(self.preview)

        self.loss_plot = pg.PlotWidget(background="#15171a",
                                       axisItems={"left": LogAxis(orientation="left")})
        self.loss_plot.setLogMode(x=False, y=True)
        self.loss_plot.setLabel("bottom", "iteration")
        self.loss_plot.setLabel("left", "loss")
        self.loss_plot.showGrid(x=True, y=True, alpha=0.2)
        self.loss_plot.setMinimumHeight(90)
        self.loss_plot.setToolTip("Loss per iteration (log scale), updated live")
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#34c759", width=1.5))
        self.status = QLabel("")
        # No word wrap: a wrapping label gives the panel a height-for-width, and the
        # dock's scroll area would then size it to its (tall) preferred height. A
        # finished run's two lines are broken by hand.
        self.status.setMinimumWidth(1)
        self.status.setToolTip(self._status_tip())
        self.export_button = QPushButton("Export reconstruction…")
        self.export_button.setToolTip("Save the recovered signal (WAV, CSV, NPY ...)")
        self.export_button.setEnabled(False)
        self.hint = QLabel("")
        self.hint.setMinimumWidth(1)  # clip rather than widen the dock; the tooltip says it all
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
        document.retrieval_settings_restored.connect(self._on_retrieval_settings_restored)
        self.kind.currentIndexChanged.connect(self._update_hint)
        for w in (self.target, self.kind, self.method, self.optimizer, self.init, self.device):
            w.currentIndexChanged.connect(self._store_settings)
        for w in (self.n_iter, self.seed, self.padding):
            w.valueChanged.connect(self._store_settings)
        self.init.activated.connect(self._on_init_activated)
        self.lr.valueChanged.connect(self._store_settings)
        self.tol.editingFinished.connect(self._store_settings)
        self._update_hint()
        self._store_settings()

    def _update_hint(self) -> None:
        """Say which transform a run goes through: the auto swap to time-bandwidth 60
        (neutral), or a tip when "as view" keeps a broad-band Morse scalogram (orange)."""
        p = self.params()
        note = self.doc.retrieval_note(p) if self.doc.tfr is not None else ""
        if note:
            head, _, tail = note.partition(": ")   # two lines: the dock is ~55 characters wide
            self.hint.setText(f"{head[0].upper()}{head[1:]}:\n{tail}" if tail else note)
            self.hint.setStyleSheet("color: #8fc7ff;")
            self.hint.setToolTip(f"Transform: auto. {TRANSFORMS[0][2]}")
            self.hint.setVisible(True)
            return
        spec = self.doc.retrieval_spec_for(p) if self.doc.tfr is not None \
            else retrieval_spec(self.doc.spec)
        # the tip goes wherever core's "auto" is not the short-wavelet method
        broad = (spec.kind == "cwt" and spec.wavelet == "gmw"
                 and default_method(spec) != DEFAULT_METHOD["cwt-short"])
        self.hint.setText(f"Tip: Transform auto (time-bandwidth {HINT_TIME_BANDWIDTH:g}) "
                          "retrieves far better")
        self.hint.setStyleSheet("color: #e0a030;")
        self.hint.setToolTip(
            "Morse wavelet time-bandwidth: at ssqueezepy's default (180) slow phase drifts of "
            "high-frequency components barely change the scalogram, so retrieval stalls; "
            "Transform: auto retrieves through time-bandwidth 60 (MATLAB's default): the seed "
            "chirp's scalogram to rel-L2 < 1e-4 instead of 0.0096 (README, Measured)")
        self.hint.setVisible(broad)

    # -- settings (kept by the document, saved in sessions) -------------------------
    def settings(self) -> dict:
        """The panel's settings as JSON values (what a session stores)."""
        return {"target": self.target.currentData(), "transform": self.kind.currentData(),
                "method": self.method.currentData(), "optimizer": self.optimizer.currentText(),
                "n_iter": self.n_iter.value(), "tol": self.tol.text().strip(),
                "lr": self.lr.value(), "seed": self.seed.value(),
                "init": self._init_name(), "init_file": self._init_path or "",
                "padding": self.padding.value(), "device": self.device.currentText(),
                "preview": self.preview.isChecked()}

    def apply_settings(self, settings: dict) -> None:
        """Show ``settings`` (from :meth:`settings`; unknown or bad values are skipped)."""
        def pick(box, data=None, text=None):
            i = box.findData(data) if text is None else box.findText(text)
            if i >= 0:
                box.setCurrentIndex(i)

        s = dict(settings or {})
        widgets = (self.target, self.kind, self.method, self.optimizer, self.init, self.device,
                   self.n_iter, self.seed, self.lr, self.tol, self.preview, self.padding)
        blocked = [w.blockSignals(True) for w in widgets]
        try:
            for key, box in (("target", self.target), ("transform", self.kind),
                             ("method", self.method)):
                if isinstance(s.get(key), str):
                    pick(box, s[key])
            for key, box in (("optimizer", self.optimizer), ("device", self.device)):
                if isinstance(s.get(key), str):
                    pick(box, text=s[key])
            if s.get("init") == "file":
                path = s.get("init_file")
                if not (isinstance(path, str) and path and self.set_init_file(path, quiet=True)):
                    self.init.setCurrentText("pghi")
            elif isinstance(s.get("init"), str) and s["init"] in INITS:
                self._init_path = self._init_y = None
                pick(self.init, text=s["init"])
            for key, box in (("n_iter", self.n_iter), ("seed", self.seed),
                             ("padding", self.padding)):
                if isinstance(s.get(key), (int, float)) and not isinstance(s[key], bool):
                    box.setValue(int(s[key]))
            if isinstance(s.get("lr"), (int, float)) and not isinstance(s["lr"], bool):
                self.lr.setValue(float(s["lr"]))
            if isinstance(s.get("tol"), str):
                self.tol.setText(s["tol"])
            if isinstance(s.get("preview"), bool):
                self.preview.setChecked(s["preview"])
        finally:
            for w, b in zip(widgets, blocked, strict=True):
                w.blockSignals(b)
        self.doc.preview_enabled = self.preview.isChecked()
        self._update_hint()
        self._store_settings()

    # -- initial signal from a file --------------------------------------------------
    def _init_name(self) -> str:
        text = self.init.currentText()
        return "file" if text == INIT_FILE else text

    def _on_init_activated(self, _index: int) -> None:
        if self.init.currentText() != INIT_FILE:
            self._init_path = self._init_y = None
            self._store_settings()
            return
        from PySide6.QtWidgets import QFileDialog

        name, _ = QFileDialog.getOpenFileName(self, "Initial signal", self._init_path or "",
                                              "Signals (*.wav *.flac *.ogg *.csv *.txt *.npy "
                                              "*.npz);;All files (*)")
        if not (name and self.set_init_file(name)):
            self.init.setCurrentText("pghi" if self._init_y is None else INIT_FILE)

    def set_init_file(self, path, *, quiet: bool = False) -> bool:
        """Start the next run from the samples of the signal file ``path`` (same number of
        samples as the open signal). False, with a message (``quiet``: a status note),
        when it cannot be read or has another length; the Init choice is then unchanged."""
        from phasebrush.core.errors import PhaseBrushError
        from phasebrush.core.io.signals import load_signal

        sig = self.doc.signal
        try:
            y = np.asarray(load_signal(path).y, dtype=float)
            if sig is not None and y.size != sig.n:
                raise PhaseBrushError(f"{path}: {y.size} samples, the signal has {sig.n}; "
                                      "the initial signal must have the same length")
            if not np.all(np.isfinite(y)):
                raise PhaseBrushError(f"{path}: holds NaN or infinite samples")
        except (PhaseBrushError, OSError, ValueError) as exc:
            message = f"Initial signal not used: {exc}"
            (self.doc.noted if quiet else self.doc.failed).emit(message)
            return False
        self._init_path, self._init_y = str(path), y
        blocked = self.init.blockSignals(True)
        self.init.setCurrentText(INIT_FILE)
        self.init.blockSignals(blocked)
        self._store_settings()
        return True

    def _store_settings(self, *_) -> None:
        self.doc.retrieval_settings = self.settings()
        self.settings_changed.emit()

    def _on_retrieval_settings_restored(self, settings) -> None:
        self.apply_settings(settings)

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
        return RetrievalParams(target=self.target.currentData(),
                               transform=self.kind.currentData(),
                               method=self.method.currentData(),
                               optimizer=self.optimizer.currentText(),
                               n_iter=self.n_iter.value(), tol=tol,
                               lr=self.lr.value() or None, seed=self.seed.value(),
                               device=self.device.currentText(), init=self._init(),
                               padding=self.padding.value())

    def _init(self):
        if self._init_name() == "file" and self._init_y is not None:
            return self._init_y.copy()
        return "pghi" if self._init_name() == "file" else self.init.currentText()

    def loss_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(iterations, losses) drawn so far."""
        return np.array(self._iters), np.array(self._losses)

    def _on_run(self) -> None:
        if self._init_name() == "file":
            sig = self.doc.signal
            if self._init_y is None or sig is None or self._init_y.size != sig.n:
                n = None if self._init_y is None else self._init_y.size
                self.doc.failed.emit(f"Retrieval: the initial signal {self._init_path} has "
                                     f"{n} samples, the signal {getattr(sig, 'n', None)}: "
                                     "choose another Init")
                return
        self.doc.start_retrieval(self.params())

    def _on_started(self) -> None:
        self._iters, self._losses = [], []
        self.loss_curve.setData([], [])
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        p = self.doc.last_retrieval_params
        note = self.doc.retrieval_note(p) if p is not None else ""
        self._note = note.partition(": ")[0] if note else ""  # the hint says the rest
        self.status.setText("starting (loading torch)…" + (f"\n{note}" if note else ""))
        self.status.setToolTip(self._status_tip())

    def _on_progressed(self, report) -> None:
        it, loss = report["iteration"], report["loss"]
        if math.isfinite(loss) and loss > 0:
            self._iters.append(it)
            self._losses.append(loss)
            self.loss_curve.setData(self._iters, self._losses)
        inc = report.get("inconsistency")
        extra = f", inconsistency {inc:.3g}" if inc is not None else ""
        note = getattr(self, "_note", "")
        self.status.setText(f"iteration {it}: loss {loss:.4g}{extra}"
                            + (f"\n{note}" if note else ""))

    def _on_finished(self, result) -> None:
        hist = getattr(result, "loss_history", None)
        if hist is not None and len(hist):
            h = np.asarray(hist, float)
            ok = np.isfinite(h) & (h > 0)
            it = np.arange(1, h.size + 1)
            self._iters, self._losses = list(it[ok]), list(h[ok])
            self.loss_curve.setData(self._iters, self._losses)
        elif getattr(result, "restored", False):
            self._iters, self._losses = [], []
            self.loss_curve.setData([], [])
        m = self.doc.retrieval_metrics
        region = self.doc.last_retrieval_target == "region"
        restored = getattr(result, "restored", False)
        reason = getattr(result, "stop_reason", None) or "done"
        n_it = getattr(result, "n_iter", None)
        if restored and n_it is None:  # a session saved before the run's record was kept
            head = "restored from the session (saved without its iterations and loss curve)"
        else:
            n_it = len(self._losses) if n_it is None else int(n_it)
            head = f"{STOP_REASONS.get(reason, reason)} after {n_it} it"
            if restored:
                head = f"restored from the session: {head}"
        tb = m.get("time_bandwidth")
        if isinstance(tb, (int, float)):
            head += f" (GMW time-bandwidth {tb:g})"
        figs = []
        if isinstance(m.get("inconsistency"), (int, float)):
            figs.append(f"inconsistency {m['inconsistency']:.3g}")
        if isinstance(m.get("sc_db"), (int, float)):
            figs.append(f"SC {m['sc_db']:.1f} dB")
        if isinstance(m.get("rel_l2"), (int, float)):
            ref = " vs selection's inverse" if region else ""
            figs.append(f"rel-L2{ref} {m['rel_l2']:.3g}")
        elif not region:
            figs.append("rel-L2: no original to compare")
        if region and isinstance(m.get("n_cells"), int):
            head += f", {m['n_cells']} selected cells"
        self.status.setText(head + ("\n" + " · ".join(figs) if figs else ""))
        self.status.setToolTip(self._status_tip(region=region, metrics=m))
        self.export_button.setEnabled(True)

    def _status_tip(self, *, region: bool = False, metrics: dict | None = None) -> str:
        """The status line's tooltip: what each figure of a finished run means."""
        lines = ["Progress while it runs; when it ends, the best estimate's figures:",
                 METRIC_TIPS["inconsistency"], METRIC_TIPS["sc_db"]]
        if region:
            m = metrics or {}
            n, total = m.get("n_cells"), m.get("n_cells_total")
            cells = (f" ({n} of {total} cells)" if isinstance(n, int)
                     and isinstance(total, int) else "")
            lines += [METRIC_TIPS["region"] + cells, METRIC_TIPS["rel_l2_region"]]
        else:
            lines.append(METRIC_TIPS["rel_l2"])
        return "\n".join(lines)

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
