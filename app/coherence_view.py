"""Where a reconstruction's phase follows the original's: wavelet coherence and phase.

:func:`compute_coherence` (plain numpy, runs in a worker) transforms both
signals with one CWT and calls :func:`core.analysis.coherence.coherence_from_tfrs`.
:class:`CoherenceView` shows the coherence (0 … 1) and the phase difference
(−π … π, cyclic colours, faded where the coherence is low because a phase
between incoherent signals means nothing) as two images on the signal's axis
with a log-frequency axis, and a one-line summary: the energy-weighted mean
coherence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from phasebrush.app.axes import display_reversed
from phasebrush.app.grid import ImageGrid
from phasebrush.app.tfr_view import LogFrequencyAxis
from phasebrush.app.worker import Worker
from phasebrush.core.analysis.coherence import coherence_from_tfrs
from phasebrush.core.errors import Cancelled
from phasebrush.core.tf.masks import inner_rows
from phasebrush.core.tf.transforms import TransformSpec, transform

__all__ = ["CoherenceResult", "compute_coherence", "energy_opacity", "CoherenceView",
           "FLOOR_DB"]


@dataclass(frozen=True, eq=False)
class CoherenceResult:
    """Coherence and phase on one CWT grid.

    Attributes
    ----------
    coherence : np.ndarray [shape=(n_rows, n_frames), float64, in [0, 1]]
    phase : np.ndarray [shape=(n_rows, n_frames), float64, radians in (-pi, pi]]
        Positive where the original leads.
    tfr : TFR
        The original's CWT (grid: frequencies, times, edge rows).
    mean_coherence : float
        Mean coherence weighted by the original's energy ``|W_x|^2`` over the
        ordinary rows: near 1 when the phase was recovered where the energy is.
    label : str
        What was compared with the original.
    """

    coherence: np.ndarray
    phase: np.ndarray
    tfr: object
    mean_coherence: float
    label: str = "reconstruction"


def compute_coherence(signal, y, spec: TransformSpec | None = None, *,
                      label: str = "reconstruction", time_cycles: float = 1.0,
                      cancel=None) -> CoherenceResult:
    """Coherence of ``signal`` and ``y`` (same axis) on a CWT grid.

    Parameters
    ----------
    signal : core.signal.Signal
    y : np.ndarray [shape=(signal.n,), real]
    spec : TransformSpec or None
        A CWT kind's settings are used as a plain CWT; other kinds (and None)
        fall back to ``TransformSpec(kind="cwt", nv=16)``.
    cancel : callable() -> bool or None
        Checked by the transforms; True stops with core.errors.Cancelled.
    """
    if spec is None or not spec.is_cwt:
        spec = TransformSpec(kind="cwt", nv=16)
    cwt = replace(spec, kind="cwt")
    other = signal.with_samples(np.asarray(y, dtype=np.float64), name=label)
    wx, wy = (transform(signal, cwt, cancel=cancel),
              transform(other, cwt, cancel=cancel))
    coh, phase = coherence_from_tfrs(wx, wy, time_cycles=time_cycles)
    a, b = inner_rows(wx)
    mag = np.abs(wx.coefficients[a:b])
    peak = float(mag.max()) if mag.size else 0.0
    # Relative to the peak: |W|^2 of huge finite samples (1e300) overflows.
    w = (mag / peak) ** 2 if peak > 0 and np.isfinite(peak) else np.zeros(mag.shape)
    total = float(w.sum())
    mean = float((w * coh[a:b]).sum() / total) if total > 0 else 0.0
    return CoherenceResult(coh, phase, wx, mean, label)


IDLE_TEXT = ("Run a phase retrieval (or choose a signal to compare) to see where its phase "
             "matches the original.")

#: Cells this far below the original's strongest cell are hidden (their coherence is
#: a ratio of round-off); the opacity ramps up over the next 20 dB.
FLOOR_DB = -60.0


def energy_opacity(tfr) -> np.ndarray:
    """Opacity [shape=tfr.shape, float64, in [0, 1]] from the original's energy:
    0 below ``FLOOR_DB`` re the strongest cell, 1 from 20 dB above that."""
    mag = np.abs(tfr.coefficients)
    peak = float(mag.max()) if mag.size else 0.0
    if not (peak > 0 and np.isfinite(peak)):
        return np.zeros(mag.shape)
    with np.errstate(divide="ignore"):
        db = 20.0 * np.log10(mag / peak)   # |W|^2 of huge finite samples would overflow
    return np.clip((db - FLOOR_DB) / 20.0, 0.0, 1.0)


class CoherenceView(QWidget):
    """Coherence and phase images of the original against a reconstruction.

    Signals
    -------
    computed()
        A result is shown (:attr:`result`).
    failed(str)
        The computation failed; the message is also shown in the view.
    """

    computed = Signal()
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.result: CoherenceResult | None = None
        self._worker: Worker | None = None
        self._pending = None
        self._token = 0   # bumped by clear(): results computed before it are dropped
        self.summary = QLabel(IDLE_TEXT, self)
        self.summary.setWordWrap(True)
        self.summary.setToolTip(
            "Wavelet coherence R² (Torrence & Webster): 1 where the reconstruction's phase "
            "follows the original's up to a constant offset, 0 where it is unrelated")
        self.view = pg.GraphicsLayoutWidget(self)
        self.view.setBackground("#15171a")
        self.view.setMinimumSize(300, 240)
        self._axes = (LogFrequencyAxis(orientation="left"), LogFrequencyAxis(orientation="left"))
        self.coh_plot = self.view.addPlot(row=0, col=0, axisItems={"left": self._axes[0]})
        self.phase_plot = self.view.addPlot(row=1, col=0, axisItems={"left": self._axes[1]})
        self.phase_plot.setXLink(self.coh_plot)
        self.phase_plot.setYLink(self.coh_plot)
        self.coh_image = pg.ImageItem(axisOrder="row-major")
        self.phase_image = pg.ImageItem(axisOrder="row-major")
        self.coh_plot.addItem(self.coh_image)
        self.phase_plot.addItem(self.phase_image)
        self.coh_bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap="viridis",
                                       label="coherence R²", interactive=False, width=14)
        self._coh_cmap = pg.colormap.get("viridis")
        # The bars only show the scales: both images are RGBA (faded where there is no energy).
        self.coh_bar.setImageItem(pg.ImageItem(), insert_in=self.coh_plot)
        self._phase_cmap = pg.colormap.get("CET-C6")  # cyclic: -pi and pi look the same
        self.phase_bar = pg.ColorBarItem(values=(-np.pi, np.pi), colorMap=self._phase_cmap,
                                         label="phase (rad)", interactive=False, width=14)
        self.phase_bar.setImageItem(pg.ImageItem(), insert_in=self.phase_plot)
        for p, title in ((self.coh_plot, "coherence"), (self.phase_plot, "phase difference")):
            p.setTitle(title, size="9pt", color="#c8ccd2")
            p.getAxis("left").setWidth(54)
            p.getAxis("bottom").enableAutoSIPrefix(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.summary)
        lay.addWidget(self.view, 1)

    # -- public ----------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._worker is not None

    def compare(self, signal, y, spec: TransformSpec | None = None, *,
                label: str = "reconstruction") -> None:
        """Compute (in a worker) and show the coherence of ``signal`` and ``y``.

        A request made while one runs replaces any waiting request.
        """
        if self._worker is not None:
            self._pending = (signal, np.array(y, dtype=float), spec, label)
            self._worker.cancel()   # superseded: its result would be replaced at once
            return
        y = np.array(y, dtype=float)  # the worker's own copy
        token = self._token

        def task(progress, cancel):
            return compute_coherence(signal, y, spec, label=label, cancel=cancel)

        w = Worker(task, name="coherence")
        w.succeeded.connect(lambda r, t=token: self._on_done(r, t))
        w.failed.connect(lambda m, e, t=token: self._on_failed(m, e, t))
        w.finished.connect(lambda w=w: self._on_finished(w))
        self._worker = w
        self.summary.setText(f"Computing the coherence of the original and the {label}…")
        self._descending = display_reversed(signal)   # spectra high-to-low, as elsewhere
        self._freq_unit = getattr(signal, "freq_unit", "")
        w.start()

    def show_result(self, result: CoherenceResult) -> None:
        """Draw ``result``."""
        self.result = result
        tfr = result.tfr
        grid = ImageGrid.from_tfr(tfr)
        rect = QRectF(*grid.rect())
        for ax in self._axes:
            ax.log = grid.log_y
            ax.picture = None
            ax.update()
        shown = energy_opacity(tfr)
        coh = np.clip(result.coherence, 0.0, 1.0)
        rgba = self._coh_cmap.map(coh.ravel(), mode="byte").reshape(coh.shape + (4,))
        rgba[..., 3] = np.round(255 * shown).astype(np.uint8)
        self.coh_image.setImage(rgba, levels=(0, 255))
        self.coh_image.setRect(rect)
        u = (result.phase + np.pi) / (2 * np.pi)
        rgba = self._phase_cmap.map(u.ravel(), mode="byte").reshape(u.shape + (4,))
        rgba[..., 3] = np.round(255 * shown * coh).astype(np.uint8)
        self.phase_image.setImage(rgba, levels=(0, 255))
        self.phase_image.setRect(rect)
        unit = tfr.unit or "samples"
        funit = getattr(self, "_freq_unit", "") or ("Hz" if unit == "s" else f"1/({unit})")
        for p in (self.coh_plot, self.phase_plot):
            p.setLabel("left", f"frequency ({funit})")
            p.invertX(getattr(self, "_descending", False))
        self.phase_plot.setLabel("bottom", f"{'time' if unit == 's' else 'position'} ({unit})")
        self.coh_plot.setRange(rect=rect, padding=0)
        self.summary.setText(
            f"Original vs {result.label}: mean coherence {result.mean_coherence:.3f} "
            f"(weighted by the original's energy). Cells more than {-FLOOR_DB:g} dB below the "
            "strongest are hidden; the phase fades where the coherence is low.")
        self.computed.emit()

    def clear(self) -> None:
        """Forget the shown result and cancel any computation (a new signal was opened):
        a comparison of the previous signal must not appear over the next one."""
        self._token += 1
        self._pending = None
        if self._worker is not None:
            self._worker.cancel()
        self.result = None
        self.coh_image.clear()
        self.phase_image.clear()
        self.summary.setText(IDLE_TEXT)

    def shutdown(self, timeout_ms: int = 1_000) -> bool:
        """Cancel a running computation and wait for it (before the window closes)."""
        self._token += 1
        self._pending = None
        return self._worker is None or self._worker.stop(timeout_ms)

    # -- internals -------------------------------------------------------------------
    def _on_done(self, result: CoherenceResult, token: int) -> None:
        if token == self._token:
            self.show_result(result)

    def _on_failed(self, message: str, exc, token: int) -> None:
        if token != self._token or isinstance(exc, Cancelled):
            return   # cancelled or cleared: nothing the user needs to hear
        self.summary.setText(f"<span style='color:#ff453a'>{message}</span>")
        self.failed.emit(message)

    def _on_finished(self, w: Worker) -> None:
        if w is not self._worker:
            return
        self._worker = None
        w.deleteLater()
        pending, self._pending = self._pending, None
        if pending is not None:
            signal, y, spec, label = pending
            self.compare(signal, y, spec, label=label)
