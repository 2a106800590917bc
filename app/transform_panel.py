"""Settings dock: transform kind and parameters, display levels and colormap."""

from __future__ import annotations

import math
from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from phasebrush.core.tf.transforms import KINDS, TIME_BANDWIDTH, WAVELETS, TransformSpec

__all__ = ["TransformPanel", "KIND_LABELS", "COLORMAPS"]

KIND_LABELS = {"cwt": "CWT", "ssq_cwt": "SSQ-CWT", "stft": "STFT", "ssq_stft": "SSQ-STFT"}
DB_LIMIT = 7000.0
#: The narrowest a field gets (the dock is ~370 px wide, two fields a row).
FIELD_MIN_WIDTH = 64
COLORMAPS = ("viridis", "inferno", "magma", "plasma", "cividis", "CET-L1")


def _spin(lo, hi, value, tip, *, step=1, special=None):
    w = QSpinBox()
    w.setRange(lo, hi)
    w.setSingleStep(step)
    w.setValue(value)
    w.setToolTip(tip)
    if special:
        w.setSpecialValueText(special)
    return w


def _dspin(lo, hi, value, tip, *, decimals=3, special=None, suffix="", step=1.0):
    w = QDoubleSpinBox()
    w.setRange(lo, hi)
    w.setDecimals(decimals)
    w.setSingleStep(step)
    w.setValue(value)
    w.setToolTip(tip)
    if special:
        w.setSpecialValueText(special)
    if suffix:
        w.setSuffix(suffix)
    return w


class TransformPanel(QWidget):
    """Edits a TransformSpec; Apply asks the document to recompute in the background.

    Also holds the display controls (dB floor / ceiling, colormap), which
    stay in step with the image's colour bar.
    """

    levels_edited = Signal(float, float)
    colormap_chosen = Signal(str)

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.doc = document
        self.kind = QComboBox()
        for k in KINDS:
            self.kind.addItem(KIND_LABELS[k], k)
        self.kind.setToolTip("Transform: continuous wavelet (CWT), short-time Fourier (STFT), "
                             "or their synchrosqueezed versions (sharper ridges)")
        self.wavelet = QComboBox()
        self.wavelet.addItems(list(WAVELETS))
        self.wavelet.setToolTip("Mother wavelet (CWT kinds): gmw = generalised Morse")
        # One step below the accepted range stands for None, the way 0 means auto for
        # f min: the spec then keeps ssqueezepy's default rather than a copy of it.
        self.time_bandwidth = _dspin(
            TIME_BANDWIDTH[0] - 1, TIME_BANDWIDTH[1], TIME_BANDWIDTH[0] - 1,
            "Morse (gmw) time-bandwidth product beta*gamma, 6-600: smaller = sharper in "
            "time, wider in frequency. 60 (MATLAB's default) makes phase retrieval from "
            "the scalogram far better conditioned; default = ssqueezepy's 180",
            decimals=0, special="default (180)", step=10)
        self.nv = _spin(4, 64, 32, "Voices per octave (CWT kinds): more = finer frequency "
                        "resolution, more rows, slower")
        self.fmin = _dspin(0.0, 1e9, 0.0, "Lowest frequency shown (CWT kinds); auto = as low "
                           "as the signal length allows", decimals=2, special="auto")
        self.fmax = _dspin(0.0, 1e9, 0.0, "Highest frequency shown (CWT kinds); auto = Nyquist",
                           decimals=2, special="auto")
        self.n_fft = _spin(16, 8192, 256, "STFT FFT length (rows = n_fft / 2 + 1)", step=16)
        self.window = QComboBox()
        self.window.addItems(["hann", "hamming", "blackman", "dpss"])
        self.window.setToolTip("STFT window")
        self.hop = _spin(1, 4096, 1, "STFT hop in samples; 1 makes the band inverse exact "
                         "(SSQ-STFT needs 1)")
        # A compact grid (two label/field pairs a row) so the whole dock fits beside the
        # image at 1280x800 without scrolling: CWT settings on the left, STFT on the right.
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        self._labels: dict[str, QLabel] = {}

        def put(row, col, text, widget, span=1):
            # Spin boxes size themselves for their largest value (1e9 Hz): far wider than
            # the values shown, and wider than the dock.
            widget.setMinimumWidth(FIELD_MIN_WIDTH)
            label = QLabel(text)
            label.setToolTip(widget.toolTip())
            label.setBuddy(widget)
            self._labels[text] = label
            grid.addWidget(label, row, 2 * col)
            grid.addWidget(widget, row, 2 * col + 1, 1, span)

        put(0, 0, "Kind", self.kind, 3)
        put(1, 0, "Wavelet", self.wavelet)
        put(1, 1, "n_fft", self.n_fft)
        put(2, 0, "Time-bandwidth", self.time_bandwidth)
        put(2, 1, "Window", self.window)
        put(3, 0, "Voices / octave", self.nv)
        put(3, 1, "Hop", self.hop)
        put(4, 0, "f min", self.fmin)
        put(4, 1, "f max", self.fmax)
        grid.setColumnStretch(1, 3)
        grid.setColumnStretch(3, 2)
        self._cwt_rows = (self.wavelet, self.nv, self.fmin, self.fmax)
        self._stft_rows = (self.n_fft, self.window, self.hop)

        self.apply_button = QPushButton("Recompute")
        self.apply_button.setToolTip("Compute the transform with these settings (in the "
                                     "background; the window stays responsive)")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(10)
        self.busy.setTextVisible(False)
        self.busy.setToolTip("A transform is being computed")
        self.busy.hide()
        row = QHBoxLayout()
        row.addWidget(self.apply_button)
        row.addWidget(self.busy, 1)


        dgroup = QGroupBox("Display")
        dgrid = QGridLayout(dgroup)
        dgrid.setContentsMargins(6, 4, 6, 6)
        dgrid.setHorizontalSpacing(6)
        dgrid.setVerticalSpacing(4)
        # +-7000 dB spans every finite float64 magnitude (1e308 is 6160 dB): a spectrum in
        # odd units must not have its levels clipped by the spin boxes.
        self.floor = _dspin(-DB_LIMIT, DB_LIMIT, -80, "Colour bar floor: magnitudes below are "
                            "drawn with the lowest colour", decimals=0, suffix=" dB")
        self.ceiling = _dspin(-DB_LIMIT, DB_LIMIT, 0, "Colour bar ceiling", decimals=0,
                              suffix=" dB")
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        self.colormap.setToolTip("Colour map of the time-frequency image")
        for col, (text, w) in enumerate((("Floor", self.floor), ("Ceiling", self.ceiling))):
            w.setMinimumWidth(FIELD_MIN_WIDTH)
            label = QLabel(text)
            label.setBuddy(w)
            dgrid.addWidget(label, 0, 2 * col)
            dgrid.addWidget(w, 0, 2 * col + 1)
        label = QLabel("Colormap")
        label.setBuddy(self.colormap)
        dgrid.addWidget(label, 1, 0)
        dgrid.addWidget(self.colormap, 1, 1, 1, 3)
        dgrid.setColumnStretch(1, 1)
        dgrid.setColumnStretch(3, 1)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.info.setToolTip("Size of the current transform and the last inversion time")

        # The dock's title names the settings: no group box around them.
        lay = QVBoxLayout(self)
        lay.setSpacing(6)
        lay.addLayout(grid)
        lay.addLayout(row)
        lay.addWidget(dgroup)
        lay.addWidget(self.info)
        lay.addStretch(1)

        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.wavelet.currentIndexChanged.connect(self._on_kind_changed)
        self.apply_button.clicked.connect(self._on_apply)
        self.floor.valueChanged.connect(self._on_levels_edited)
        self.ceiling.valueChanged.connect(self._on_levels_edited)
        self.colormap.currentTextChanged.connect(self.colormap_chosen)
        document.busy_changed.connect(self._on_busy_changed)
        document.tfr_changed.connect(self._on_tfr_changed)
        document.inversion_changed.connect(self._on_tfr_changed)
        self.show_spec(document.spec)

    # -- model -> widgets -----------------------------------------------------
    def show_spec(self, spec: TransformSpec) -> None:
        widgets = (self.kind, self.wavelet, self.time_bandwidth, self.nv, self.fmin, self.fmax,
                   self.n_fft, self.window, self.hop)
        for w in widgets:
            w.blockSignals(True)
        self.kind.setCurrentIndex(max(self.kind.findData(spec.kind), 0))
        self.wavelet.setCurrentText(spec.wavelet)
        self.time_bandwidth.setValue(self.time_bandwidth.minimum()
                                     if spec.time_bandwidth is None else spec.time_bandwidth)
        self.nv.setValue(spec.nv)
        self.fmin.setValue(spec.fmin or 0.0)
        self.fmax.setValue(spec.fmax or 0.0)
        self.n_fft.setValue(spec.n_fft)
        self.window.setCurrentText(spec.window)
        self.hop.setValue(spec.hop)
        for w in widgets:
            w.blockSignals(False)
        self._on_kind_changed()

    def show_levels(self, floor: float, ceiling: float) -> None:
        for w, v in ((self.floor, floor), (self.ceiling, ceiling)):
            if not math.isfinite(v):
                continue
            w.blockSignals(True)
            w.setValue(round(v))
            w.blockSignals(False)

    def spec(self) -> TransformSpec:
        """The spec the widgets describe."""
        wavelet = self.wavelet.currentText()
        tb = self.time_bandwidth.value()
        # Only gmw reads it: a morlet spec carrying one would claim a parameter it never used.
        if wavelet != "gmw" or tb == self.time_bandwidth.minimum():
            tb = None
        return replace(self.doc.spec, kind=self.kind.currentData(), wavelet=wavelet,
                       time_bandwidth=tb, nv=self.nv.value(),
                       fmin=self.fmin.value() or None, fmax=self.fmax.value() or None,
                       n_fft=self.n_fft.value(), window=self.window.currentText(),
                       hop=self.hop.value())

    def _on_kind_changed(self, *_):
        cwt = self.kind.currentData() in ("cwt", "ssq_cwt")
        for w in self._cwt_rows:
            w.setEnabled(cwt)
        for w in self._stft_rows:
            w.setEnabled(not cwt)
        self.time_bandwidth.setEnabled(cwt and self.wavelet.currentText() == "gmw")
        if self.kind.currentData() == "ssq_stft":
            self.hop.setValue(1)
            self.hop.setEnabled(False)
        for label in self._labels.values():   # a greyed label says the setting does not apply
            label.setEnabled(label.buddy().isEnabled())

    def _on_apply(self) -> None:
        self.doc.set_spec(self.spec())

    def _on_levels_edited(self, *_):
        self.levels_edited.emit(self.floor.value(), self.ceiling.value())

    def _on_busy_changed(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.apply_button.setText("Computing…" if busy else "Recompute")

    def _on_tfr_changed(self) -> None:
        tfr = self.doc.tfr
        if tfr is None:
            self.info.setText("")
            return
        self.show_spec(tfr.spec)
        self.info.setText(f"{KIND_LABELS.get(tfr.spec.kind, tfr.spec.kind)}: "
                          f"{tfr.n_rows} rows x {tfr.n_frames} columns; selection inverse "
                          f"{self.doc.inversion_ms:.0f} ms")
