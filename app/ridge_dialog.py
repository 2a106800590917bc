"""Propose bands around the strongest ridges; the user keeps the ones they want.

:class:`RidgeDialog` runs :func:`core.analysis.ridges.propose_bands` in a
:class:`~app.worker.Worker` (ridge tracking is a dynamic programme, quadratic
in the rows), lists the proposals with their time and frequency spans, draws
them on the image, and returns the checked ones as ordinary
:class:`~core.tf.bands.Band` objects, which become normal editable bands.

For a spectrum's CWT (rows are calibrated peak widths, :mod:`core.tf.feature_width`)
the dialog speaks in peak widths (FWHM, in the spectrum's unit) and searches
peaks (:class:`core.analysis.ridges.PeakSearch`): which way they point (detected, or
chosen), the widest peak width searched, and whether a rolling baseline is
removed first.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from phasebrush.app.axes import (
    REVERSED_UNITS,
    freq_span_text,
    width_axis_of,
    width_label,
    x_axis_label,
)
from phasebrush.app.document import db_ceiling, db_image
from phasebrush.app.grid import ImageGrid
from phasebrush.app.tfr_view import LogFrequencyAxis, format_freq
from phasebrush.app.worker import Worker
from phasebrush.core.analysis.ridges import PeakSearch, default_bandwidth_rows, propose_bands
from phasebrush.core.errors import PhaseBrushError
from phasebrush.core.tf.bands import freq_unit
from phasebrush.core.tf.masks import inner_rows

__all__ = ["RidgeDialog", "describe_band"]

#: Peak-direction choices: (combo text, PeakSearch polarity).
_POLARITY_ITEMS = (("detect", "auto"), ("up (absorbance, counts)", "up"),
                   ("down (transmittance)", "down"))


def describe_band(band, unit: str, widths=None) -> str:
    """One line: "ridge 1: 180–220 Hz, 0–1.02 s"; with calibrated ``widths`` (a
    core.tf.feature_width.WidthAxis) "ridge 1: FWHM 12.1–45.3 cm^-1, 462–3808 cm^-1"."""
    f0, f1 = band.freq_span
    t0, t1 = band.time_span
    return (f"{band.name}: {freq_span_text(f0, f1, unit, format_freq, widths)}, "
            f"{t0:.4g}–{t1:.4g} {unit or 'samples'}")


class RidgeDialog(QDialog):
    """k, jump penalty and half-width -> proposed bands, checked ones accepted.

    Parameters
    ----------
    tfr : core.tf.transforms.TFR
    k, penalty, bandwidth_rows
        Starting values (None = :func:`core.analysis.ridges.default_bandwidth_rows`).
    auto_propose : bool
        Propose once with the starting values when the dialog opens.

    Signals
    -------
    proposals_ready(list)
        New proposals (a list of Band), after :meth:`propose`.
    failed(str)
        Tracking failed; the message is also shown in the dialog.
    """

    proposals_ready = Signal(list)
    failed = Signal(str)

    def __init__(self, tfr, *, k: int = 2, penalty: float = 2.0,
                 bandwidth_rows: int | None = None, auto_propose: bool = True, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Propose bands from ridges")
        self.tfr = tfr
        self.bands: list = []
        self._worker: Worker | None = None
        #: Calibrated peak widths of the rows (spectra's CWT kinds), else None.
        self.widths = width_axis_of(None, tfr)
        #: The resolved PeakSearch of the last proposals (spectra), else None.
        self._searched: PeakSearch | None = None
        a, b = inner_rows(tfr)
        n_inner = max(1, b - a)

        self.k_spin = QSpinBox(self)
        self.k_spin.setRange(1, 12)
        self.k_spin.setValue(int(k))
        self.k_spin.setToolTip("How many ridges to track, strongest first")
        self.penalty_spin = QDoubleSpinBox(self)
        self.penalty_spin.setRange(0.0, 200.0)
        self.penalty_spin.setDecimals(2)
        self.penalty_spin.setSingleStep(0.5)
        self.penalty_spin.setValue(float(penalty))
        self.penalty_spin.setToolTip(
            "Cost of frequency jumps (ssqueezepy's penalty): 0 follows the loudest cell of "
            "every column, larger values give smoother ridges (try 0.5 … 40)")
        self.bw_spin = QSpinBox(self)
        self.bw_spin.setRange(1, max(1, n_inner // 2))
        self.bw_spin.setValue(int(bandwidth_rows) if bandwidth_rows is not None
                              else min(default_bandwidth_rows(tfr.spec), self.bw_spin.maximum()))
        self.bw_spin.setToolTip("Half-width of each band, in rows above and below the ridge; "
                                "also the rows cleared before the next ridge is tracked")
        self.bw_label = QLabel(self)
        self.bw_spin.valueChanged.connect(self._describe_bw)
        self._init_peak_controls(a, b)
        self.propose_button = QPushButton("Propose", self)
        self.propose_button.setToolTip("Track the ridges with these settings")
        self.propose_button.clicked.connect(self.propose)

        self.list = QListWidget(self)
        self.list.setToolTip("Checked proposals become bands you can edit")
        self.list.setMaximumHeight(120)
        self.list.itemChanged.connect(self._draw)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)

        self.view = pg.GraphicsLayoutWidget(self)
        self.view.setBackground("#15171a")
        self.view.setMinimumSize(560, 300)
        self._axis = LogFrequencyAxis(orientation="left")
        self.plot = self.view.addPlot(axisItems={"left": self._axis})
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self._curves: list[pg.PlotDataItem] = []
        self._show_image()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add checked bands")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow("Ridges (k)", self.k_spin)
        form.addRow("Jump penalty", self.penalty_spin)
        bw = QHBoxLayout()
        bw.addWidget(self.bw_spin)
        bw.addWidget(self.bw_label, 1)
        form.addRow("Half-width (rows)", bw)
        if self.widths is not None:
            form.addRow("Peaks point", self.polarity_combo)
            form.addRow("Peak widths up to", self.max_width_spin)
            form.addRow("", self.baseline_check)
        top = QHBoxLayout()
        top.addLayout(form, 1)
        side = QVBoxLayout()
        side.addWidget(self.propose_button)
        side.addStretch(1)
        top.addLayout(side)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.view, 3)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)
        self._describe_bw()
        self._update_ok()
        self.resize(720, 640)
        if auto_propose:
            QTimer.singleShot(0, self.propose)

    # -- public ----------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._worker is not None

    def propose(self) -> None:
        """Track ridges with the current settings (in a worker thread)."""
        if self._worker is not None:
            return
        tfr = self.tfr
        k, pen, bw = self.k_spin.value(), self.penalty_spin.value(), self.bw_spin.value()
        peaks = self.peak_search()

        def task(progress, cancel):
            resolved = None if peaks is None else peaks.resolved(tfr)
            return (propose_bands(tfr, k=k, penalty=pen, bandwidth_rows=bw, peaks=resolved),
                    resolved)

        w = Worker(task, name="ridge tracking")
        w.succeeded.connect(self._on_done)
        w.failed.connect(self._on_failed)
        w.finished.connect(self._on_finished)
        self._worker = w
        self.propose_button.setEnabled(False)
        self.status.setText(f"Tracking {k} ridge(s)…")
        w.start()

    def peak_search(self) -> PeakSearch | None:
        """The peak search the controls describe (spectra), or None (tracking |W|)."""
        if self.widths is None:
            return None
        return PeakSearch(polarity=self.polarity_combo.currentData(),
                          max_width=float(self.max_width_spin.value()),
                          baseline=self.baseline_check.isChecked())

    def accepted_bands(self) -> list:
        """The checked proposals, as core Bands."""
        return [self.bands[i] for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def set_checked(self, index: int, on: bool) -> None:
        self.list.item(index).setCheckState(Qt.CheckState.Checked if on
                                            else Qt.CheckState.Unchecked)

    # -- internals -------------------------------------------------------------------
    def _init_peak_controls(self, a: int, b: int) -> None:
        """Peak direction, widest width and baseline controls (used for spectra only)."""
        unit = self.tfr.unit or "samples"
        self.polarity_combo = QComboBox(self)
        detected = None
        if self.widths is not None:
            try:
                detected = PeakSearch().resolved(self.tfr)
            except PhaseBrushError:
                detected = None
        for text, value in _POLARITY_ITEMS:
            if value == "auto" and detected is not None:
                text = f"detect ({detected.polarity})"
            self.polarity_combo.addItem(text, value)
        self.polarity_combo.setToolTip(
            "Which way the spectrum's peaks point: up for absorbance or counts, down for "
            "transmittance. Ridges follow peaks of that sign only (the humps between two "
            "dips are not peaks).")
        self.max_width_spin = QDoubleSpinBox(self)
        self.max_width_spin.setSuffix(f" {unit}")
        if self.widths is not None:
            w = self.widths.widths
            widest = float(w[a])
            default = min(detected.max_width if detected is not None else widest, widest)
            digits = int(np.floor(np.log10(default)))          # 167 -> 2, 0.6 ppm -> -1
            self.max_width_spin.setDecimals(min(6, max(1, 2 - digits)))
            narrowest = max(float(w[b - 1]), 3.0 * float(self.tfr.dx))   # PeakSearch's floor
            self.max_width_spin.setRange(2.0 * narrowest, widest)
            self.max_width_spin.setSingleStep(10.0 ** (digits - 1))
            self.max_width_spin.setValue(default)
        self.max_width_spin.setToolTip(
            "Widest peak (FWHM) the ridges may follow; wider rows hold the baseline's bends, "
            "not peaks. Default: 1/20 of the spectrum's span.")
        self.baseline_check = QCheckBox("Remove the baseline first", self)
        self.baseline_check.setChecked(True)
        self.baseline_check.setToolTip(
            "Subtract a rolling baseline before tracking: the rolling minimum then maximum "
            "(a morphological opening; a closing for dips) over 3 × the widest peak width, "
            "smoothed over the same window.")

    def _describe_bw(self, *_):
        n = self.bw_spin.value()
        spec = self.tfr.spec
        if self.widths is not None:
            self.bw_label.setText(f"≈ ×{2.0 ** (n / spec.nv):.3g} in peak width each side")
        elif spec.is_cwt:
            self.bw_label.setText(f"≈ {n / spec.nv:.2g} octave each side")
        else:
            df = float(np.median(np.diff(self.tfr.frequencies)))
            self.bw_label.setText(f"≈ {format_freq(n * df)} {freq_unit(self.tfr.unit)} each side")

    def _show_image(self) -> None:
        tfr = self.tfr
        self.grid = ImageGrid.from_tfr(tfr)
        self._axis.log = self.grid.log_y
        db = db_image(tfr)
        hi = db_ceiling(db)
        self.image.setImage(db, levels=(hi - 70.0, hi))
        self.image.setColorMap(pg.colormap.get("CET-L1"))  # gray: the bands carry the colour
        rect = QRectF(*self.grid.rect())
        self.image.setRect(rect)
        self.plot.setRange(rect=rect, padding=0)
        self.plot.setLabel("bottom", x_axis_label(tfr.unit))
        self.plot.invertX((tfr.unit or "").lower() in REVERSED_UNITS)  # spectra high-to-low
        if self.widths is not None:   # rows as calibrated peak widths, like the main image
            self._axis.period, self._axis.widths = True, self.widths
            self.plot.setLabel("left", width_label(tfr.unit))
        else:
            self.plot.setLabel("left", f"frequency ({freq_unit(tfr.unit)})")

    def _on_done(self, result) -> None:
        bands, self._searched = result
        self.bands = list(bands)
        self.list.blockSignals(True)
        self.list.clear()
        for b in self.bands:
            item = QListWidgetItem(describe_band(b, self.tfr.unit, self.widths))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setForeground(QBrush(QColor(b.color).darker(130)))
            self.list.addItem(item)
        self.list.blockSignals(False)
        how = "."
        peaks = self._searched
        if peaks is not None:
            how = (f" on peaks pointing {peaks.polarity}, FWHM up to "
                   f"{format_freq(peaks.max_width)} {self.tfr.unit or 'samples'}"
                   + (", baseline removed" if peaks.baseline else "") + ".")
        self.status.setText(f"{len(self.bands)} proposal(s){how} Uncheck the ones you do not "
                            "want; the others become editable bands.")
        self._draw()
        self.proposals_ready.emit(self.bands)

    def _on_failed(self, message: str, exc) -> None:
        self.status.setText(f"<span style='color:#d70015'>{message}</span>")
        self.failed.emit(message)

    def _on_finished(self) -> None:
        w, self._worker = self._worker, None
        if w is not None:
            w.deleteLater()
        self.propose_button.setEnabled(True)
        self._update_ok()

    def _draw(self, *_):
        for c in self._curves:
            self.plot.removeItem(c)
        self._curves = []
        g = self.grid
        for i, b in enumerate(self.bands):
            if self.list.item(i).checkState() != Qt.CheckState.Checked:
                continue
            for edge in (b.upper, b.lower):
                c = pg.PlotDataItem(edge[:, 0], g.freq_to_y(edge[:, 1]),
                                    pen=pg.mkPen(b.color, width=2))
                c.setZValue(10)
                self.plot.addItem(c)
                self._curves.append(c)
        self._update_ok()

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            not self.busy and bool(self.accepted_bands()))

    def done(self, r: int) -> None:
        # No thread may outlive the dialog.
        if self._worker is not None:
            self._worker.stop()
        super().done(r)
