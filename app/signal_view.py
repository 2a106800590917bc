"""The signal plot: the original and its overlays (band inversion, residual, retrieval)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from phasebrush.app.axes import display_reversed, x_axis_label
from phasebrush.app.linked_viewbox import LinkedViewBox
from phasebrush.app.tfr_view import cache_axes
from phasebrush.core.engine.envelope import Envelope

__all__ = ["SignalView", "CURVES", "HIDDEN_AT_START"]

# name -> (label, colour, width, tooltip). Every pen is 1 px wide: Qt strokes wider
# ones far more slowly (/tmp/t_pen.py, a 65536-sample curve in a 1200-px plot: 3.9 ms
# a paint at width 1, 11.4 ms at 1.4; with a translucent pen 4.9 ms at 1 and 3.6 s at
# 1.2), and every live update of the selection repaints these curves.
CURVES = {
    "original": ("original", "#c8ccd2", 1.0, "The loaded signal"),
    "inversion": ("selection", "#ff9f0a", 1.0,
                  "Inverse of the selected region (band ranges or painted mask)"),
    "residual": ("residual", "#64d2ff", 1.0, "Original minus the selection's inverse"),
    "retrieval": ("retrieval", "#34c759c0", 1.0,
                  "Signal recovered from magnitudes only (phase retrieval)"),
    "estimate": ("live estimate", "#8be3a0", 1.0,
                 "Current estimate while a retrieval runs (preview)"),
    "attribution": ("attribution", "#ff375f", 1.0,
                    "Where the selection's energy lies along the signal: |selection inverse| "
                    "smoothed over one period of its lowest frequency, scaled so its peak "
                    "reaches the signal's peak"),
}
#: Longer signals are drawn as min/max envelopes of the visible range.
LONG_CURVE_SAMPLES = 1 << 21
#: Overlays that start hidden (shown on request, e.g. after a heatmap import).
HIDDEN_AT_START = ("attribution",)


class SignalView(QWidget):
    """Curves over the signal axis; the checkboxes show or hide each overlay."""

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.doc = document
        self.plot_widget = pg.PlotWidget(background="#15171a", viewBox=LinkedViewBox())
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot.setDownsampling(auto=True, mode="peak")
        self.plot.setClipToView(True)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        cache_axes(self.plot)    # (the grid lines are the axes' drawing too)
        self.plot.getAxis("left").setWidth(58)
        for name in ("bottom", "left"):
            self.plot.getAxis(name).enableAutoSIPrefix(False)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.toggles: dict[str, QCheckBox] = {}

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 0)
        self.title = QLabel("")
        self.title.setToolTip("Signal name and length")
        bar.addWidget(self.title)
        bar.addStretch(1)
        for key, (label, color, width, tip) in CURVES.items():
            style = Qt.PenStyle.DashLine if key == "estimate" else Qt.PenStyle.SolidLine
            c = self.plot.plot([], [], pen=pg.mkPen(color, width=width, style=style), name=label)
            # peak downsampling keeps each pixel column's min and max: ~2 points a
            # pixel show what 5 (pyqtgraph's default) do, for 40 % of the drawing
            c.opts["autoDownsampleFactor"] = 2.0
            c.setZValue({"original": 0, "residual": 1, "inversion": 3}.get(key, 2))
            self.curves[key] = c
            box = QCheckBox(label)
            box.setChecked(key not in HIDDEN_AT_START)
            c.setVisible(key not in HIDDEN_AT_START)
            box.setStyleSheet(f"QCheckBox {{ color: {color[:7]}; }}")
            box.setToolTip(f"Show or hide: {tip.lower()}")
            box.toggled.connect(lambda on, k=key: self.set_visible(k, on))
            bar.addWidget(box)
            self.toggles[key] = box
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(bar)
        lay.addWidget(self.plot_widget, 1)

        document.signal_changed.connect(self._on_signal_changed)
        document.inversion_changed.connect(self._on_inversion_changed)
        # What is on screen is what a drag's live inverse must get right first.
        self.plot.getViewBox().sigXRangeChanged.connect(self._on_x_range_changed)
        document.retrieval_finished.connect(self._on_retrieval_finished)
        document.retrieval_started.connect(self._on_retrieval_started)
        document.retrieval_progressed.connect(self._on_retrieval_progressed)
        for key in ("inversion", "residual", "retrieval", "estimate", "attribution"):
            self.toggles[key].setEnabled(False)
        #: The attribution curve [shape=(n,), float64, in [0, 1]] or None.
        self.attribution: np.ndarray | None = None
        #: Long signals: the envelope each curve is drawn from (by curve key).
        self._envelopes: dict[str, Envelope] = {}

    def set_visible(self, key: str, on: bool) -> None:
        self.curves[key].setVisible(bool(on))
        if self.toggles[key].isChecked() != bool(on):
            self.toggles[key].setChecked(bool(on))
        if key == "attribution" and on:
            self._update_attribution()

    def _on_x_range_changed(self, _vb, x_range) -> None:
        self.doc.set_view_range(*x_range)
        if self._envelopes:
            self._draw_long()

    # -- long signals: min/max envelopes of the visible range -------------------------
    def _draw_long(self, keys=None) -> None:
        """Redraw the envelope curves for the visible range (2 points per pixel)."""
        s = self.doc.signal
        if s is None:
            return
        (x0, x1), _ = self.plot.getViewBox().viewRange()
        lo, hi = sorted(((x0 - s.x0) / s.dx, (x1 - s.x0) / s.dx))
        i0, i1 = max(int(np.floor(lo)) - 1, 0), min(int(np.ceil(hi)) + 2, s.n)
        width = max(1, int(self.plot.getViewBox().width()))
        for key in keys or list(self._envelopes):
            env = self._envelopes.get(key)
            if env is None:
                continue
            idx, val = env.curve(i0, i1, width)
            self.curves[key].setData(s.x0 + s.dx * idx, val)

    def _update_attribution(self) -> None:
        # Computed only while shown: an O(n) filter on every edit otherwise.
        doc, inv = self.doc, self.doc.inversion
        if doc.inversion_cols is not None and inv is not None:
            return   # a live drag's partial inverse: the whole-signal one follows on release
        if doc.is_long:
            return   # (per-sample attribution of a long recording: not yet)
        if inv is None or doc.tfr is None:
            self.attribution = None
            self._set("attribution", None)
            return
        if not self.toggles["attribution"].isChecked():
            self.toggles["attribution"].setEnabled(True)
            return
        from phasebrush.core.analysis.attribution import attribution_curve, smoothing_samples

        mask = doc.layers.selection_mask()
        n = smoothing_samples(doc.tfr, mask) if mask is not None else 1
        self.attribution = attribution_curve(np.asarray(inv, float), smooth_samples=n)
        peak = float(np.max(np.abs(doc.signal.y))) or 1.0
        self._set("attribution", self.attribution * peak)

    def _set(self, key: str, y, cols=None) -> None:
        c = self.curves[key]
        if y is None:
            self._envelopes.pop(key, None)
            c.setData([], [])
            self.toggles[key].setEnabled(False)
            return
        if self.doc.signal.n > LONG_CURVE_SAMPLES:
            # A curve of every sample would cost 16 bytes a sample in the plot; draw the
            # visible range's min/max per pixel instead.
            env = self._envelopes.get(key)
            if env is not None and env.source is y:
                env.update(*(cols or (0, len(y))))   # the same array, changed in place
            else:
                self._envelopes[key] = Envelope(y)
            self._draw_long([key])
            self.toggles[key].setEnabled(True)
            c.setVisible(self.toggles[key].isChecked())
            return
        x = self.doc.signal.x
        c.setData(x, np.asarray(y, float))
        self.toggles[key].setEnabled(True)
        c.setVisible(self.toggles[key].isChecked())

    def _on_signal_changed(self) -> None:
        s = self.doc.signal
        self.plot.invertX(display_reversed(s))
        self.plot.setLabel("bottom", x_axis_label(s.unit))
        self.plot.setLabel("left", s.y_unit or "amplitude")
        self.title.setText(f"<b>{s.name}</b>  {s.n} samples")
        self._envelopes.clear()
        self._set("original", s.y)
        for key in ("inversion", "residual", "retrieval", "estimate", "attribution"):
            self._set(key, None)
        self.attribution = None
        self.plot.enableAutoRange()
        if self._envelopes:
            # the envelope holds the visible range only: show the whole signal first
            vb = self.plot.getViewBox()
            vb.setXRange(s.x0, s.x0 + s.dx * (s.n - 1), padding=0)
            vb.enableAutoRange(axis=pg.ViewBox.YAxis)
            self._draw_long()

    def _on_inversion_changed(self) -> None:
        cols = self.doc.inversion_cols if self.doc.is_long else None
        self._set("inversion", self.doc.inversion, cols)
        self._set("residual", self.doc.residual, cols)
        self._update_attribution()

    def _on_retrieval_started(self) -> None:
        self._set("estimate", None)

    def _on_retrieval_progressed(self, report) -> None:
        est = report.get("estimate") if isinstance(report, dict) else None
        if not self.doc.preview_enabled:
            self._set("estimate", None)
        elif est is not None and np.size(est) == self.doc.signal.n:
            self._set("estimate", est)

    def _on_retrieval_finished(self, result) -> None:
        self._set("estimate", None)
        self._set("retrieval", self.doc.retrieval_y())
