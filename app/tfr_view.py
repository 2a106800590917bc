"""The time-frequency image with its mask tools.

:class:`TfrView` is a GraphicsLayoutWidget holding one PlotItem (the image,
physical axes, log-frequency for CWT kinds), a ColorBarItem (dB floor and
ceiling, colormap) and the drawings of the layers (a translucent fill per
layer, two draggable polylines per band). The mouse tools only turn pointer
positions into (time, frequency) or (row, column) and call the
:class:`~app.layers.LayerModel`; all mask logic is in the model and core.

Tools (shortcut):  pan (H), band (B), brush (P), rectangle (R), lasso (L).
Band: click vertices along the upper edge, Enter or double-click, then along
the lower edge, Enter or double-click; Esc abandons. Rectangle / lasso:
plain drag replaces the target mask, Shift adds, Alt subtracts. Brush: the
panel's add/erase mode, Shift forces add, Alt forces erase.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsRectItem

from phasebrush.app.axes import (
    default_freq_mode,
    display_reversed,
    freq_axis_label,
    freq_value_text,
    width_axis_of,
    width_maps,
    x_axis_label,
)
from phasebrush.app.document import db_ceiling
from phasebrush.app.grid import ImageGrid
from phasebrush.app.linked_viewbox import LinkedViewBox
from phasebrush.app.long_display import LongDisplay
from phasebrush.core.errors import PhaseBrushError
from phasebrush.core.tf.masks import ranges_to_mask

__all__ = ["TfrView", "LogFrequencyAxis", "TOOLS", "format_freq"]

TOOLS = ("pan", "band", "brush", "rect", "lasso")
_OVERLAY_COLS = 4096  # widest layer overlay drawn; wider masks are OR-pooled


def format_freq(f: float) -> str:
    """Compact label: 950, 1.2k, 48k, 0.05 ..."""
    a = abs(f)
    if a >= 1e6:
        return f"{f / 1e6:.3g}M"
    if a >= 1e3:
        return f"{f / 1e3:.3g}k"
    return f"{f:.3g}"


def cache_axes(plot: pg.PlotItem) -> None:
    """Keep each axis of ``plot`` as a pixmap between changes of its ticks.

    pyqtgraph replays an axis' drawing (its tick labels' text included) on every
    repaint of the view, ~2.7 ms an axis offscreen; a live drag repaints both
    plots on every update. Cached, a repaint blits the axis; a new range or
    label invalidates the cache through the axis' own update().
    """
    for name in ("left", "bottom", "right", "top"):
        plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


class LogFrequencyAxis(pg.AxisItem):
    """Left axis whose display values are log10(frequency) when ``log`` is on.

    With ``period`` on, the ticks are labelled with widths in the signal's unit,
    at round values of the width: the calibrated peak widths (FWHM) of
    ``widths`` (a core.tf.feature_width.WidthAxis), or 1 / frequency without it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log = False
        self.period = False
        self.widths = None

    def tickValues(self, minVal, maxVal, size):
        if not self.log:
            return super().tickValues(minVal, maxVal, size)
        if self.period:  # round widths, mapped back to log10(f)
            to_w, to_f = width_maps(self.widths)
            lo, hi = (math.log10(to_w(10.0 ** v)) for v in (maxVal, minVal))
            return [(s, [math.log10(to_f(10.0 ** v)) for v in vals])
                    for s, vals in _log_ticks(lo, hi)]
        return _log_ticks(minVal, maxVal)

    def tickStrings(self, values, scale, spacing):
        if self.period:
            to_w = width_maps(self.widths)[0]
            if self.log:
                return [format_freq(to_w(10.0 ** v)) for v in values]
            return [format_freq(to_w(v)) if v > 0 else "\u221e" for v in values]
        if not self.log:
            return super().tickStrings(values, scale, spacing)
        return [format_freq(10.0 ** v) for v in values]


def _log_ticks(minVal, maxVal):
    """Major ticks at decades, minor at 2, 3, 5, 7 (log10 display values)."""
    lo, hi = sorted((minVal, maxVal))
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi - lo > 30:
        return []
    decades = range(math.floor(lo), math.ceil(hi) + 1)
    major = [float(d) for d in decades if lo <= d <= hi]
    minor = [d + math.log10(m) for d in decades for m in (2, 3, 5, 7)
             if lo <= d + math.log10(m) <= hi]
    if len(major) < 2:  # less than a decade on screen: promote 2, 5
        sub = [d + math.log10(m) for d in decades for m in (2, 5)
               if lo <= d + math.log10(m) <= hi]
        major, minor = sorted(major + sub), [v for v in minor if v not in sub]
    return [(1.0, major), (0.1, minor)]


class _ToolViewBox(LinkedViewBox):
    """A ViewBox that hands left-button clicks and drags to the active tool."""

    def __init__(self, view: TfrView):
        super().__init__()
        self._view = view

    def mouseClickEvent(self, ev):
        if self._view.tool != "pan" and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self._view._tool_click(p.x(), p.y(), ev.modifiers(), ev.double())
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if (self._view.tool in ("brush", "rect", "lasso")
                and ev.button() == Qt.MouseButton.LeftButton):
            ev.accept()
            if ev.isStart():
                # The drag is reported from its first move: begin where the button went down.
                p0 = self.mapSceneToView(ev.buttonDownScenePos())
                self._view._tool_drag("start", p0.x(), p0.y(), ev.modifiers())
            p = self.mapSceneToView(ev.scenePos())
            phase = "finish" if ev.isFinish() else "move"
            self._view._tool_drag(phase, p.x(), p.y(), ev.modifiers())
            return
        super().mouseDragEvent(ev, axis)


class TfrView(pg.GraphicsLayoutWidget):
    """Time-frequency image + colour bar + layer drawings + mouse tools.

    Signals
    -------
    tool_changed(str)
    cursor_read(str)
        Status-bar text for the point under the mouse (time, frequency, dB).
    levels_changed(float, float)
        The colour bar's dB floor and ceiling moved.
    band_progress(str)
        Instructions while a band is being drawn ("" when done).
    log_frequency_changed(bool)
        The STFT's log-frequency axis was turned on or off.
    """

    tool_changed = Signal(str)
    cursor_read = Signal(str)
    levels_changed = Signal(float, float)
    band_progress = Signal(str)
    freq_mode_changed = Signal(str)
    log_frequency_changed = Signal(bool)

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.doc = document
        self.layers = document.layers
        self.tool = "pan"
        #: Vertical axis: "frequency" or "width" (1 / frequency, in the signal's unit);
        #: None = the default for the signal (width for spectra).
        self.freq_mode_override: str | None = None
        #: STFT kinds on a log-frequency axis (CWT kinds always are: their rows are).
        self.log_frequency = False
        self.brush_size_px = 12.0
        self.brush_erase = False
        self.grid: ImageGrid | None = None
        self.setBackground("#15171a")

        self._axis = LogFrequencyAxis(orientation="left")
        self.vb = _ToolViewBox(self)
        self.plot: pg.PlotItem = self.addPlot(row=0, col=0, viewBox=self.vb,
                                              axisItems={"left": self._axis})
        cache_axes(self.plot)
        self.plot.setLabel("bottom", "time")
        self.plot.setLabel("left", "frequency")
        self.plot.showGrid(x=False, y=False)
        for name in ("bottom", "left"):
            self.plot.getAxis(name).enableAutoSIPrefix(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setAutoDownsample(True)
        self.plot.addItem(self.image)
        self.colorbar = LevelsBar(values=(-80.0, 0.0), colorMap="viridis", label="dB",
                                  interactive=True, rounding=1, width=18)
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self.colorbar.sigLevelsChanged.connect(self._on_colorbar_levels)

        self._overlays: dict[int, pg.ImageItem] = {}
        self._pooled: dict[int, np.ndarray] = {}
        self._pool_src: dict[int, tuple[object, int]] = {}   # index -> (layer, version)
        self._rois: dict[int, tuple[pg.PolyLineROI, pg.PolyLineROI]] = {}
        self._band_pts: list[tuple[float, float]] = []   # display coords
        self._band_upper: list[tuple[float, float]] | None = None
        self._band_curve = pg.PlotDataItem(pen=pg.mkPen("#ff3b30", width=2),
                                           symbol="o", symbolSize=7, symbolBrush="#ff3b30")
        self._band_curve.setZValue(20)
        self.plot.addItem(self._band_curve)
        self._stroke = None
        self._drag_item = None
        self._dragging_band: int | None = None   # the band whose handle is being dragged
        self._levels_for_signal = False   # the colour-bar levels were set for this signal
        self._shown_tfr = None            # the grid the axes and layers were set up for
        self._busy_text = pg.TextItem("computing transform…", color="#ddd", anchor=(0.5, 0.5))
        self._busy_text.setZValue(30)
        self._failed = False     # the signal's transform failed (the text says why)

        # The brush outline follows the pointer (scene units are screen pixels here).
        self._brush_ring = QGraphicsEllipseItem()
        ring_pen = QPen(QColor(255, 255, 255, 200))
        ring_pen.setCosmetic(True)
        self._brush_ring.setPen(ring_pen)
        self._brush_ring.setZValue(1000)
        self._brush_ring.hide()
        self.scene().addItem(self._brush_ring)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        _skip_hover_while_dragging(self.scene())
        document.tfr_changed.connect(self._on_tfr_changed)
        document.signal_changed.connect(self._on_signal_changed)
        document.transform_failed.connect(self._on_transform_failed)
        document.busy_changed.connect(self._on_busy_changed)
        self.layers.layers_changed.connect(self._on_layers_changed)
        self.layers.layer_edited.connect(self._on_layer_edited)
        #: Long recordings: the detail image and the layers' drawings of the visible range.
        self.long = LongDisplay(self)

    # -- public -------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"tool {tool!r} is not one of {TOOLS}")
        if tool != self.tool:
            self.cancel_band()
            self.tool = tool
            self._brush_ring.hide()
            self.setCursor(Qt.CursorShape.ArrowCursor if tool == "pan"
                           else Qt.CursorShape.CrossCursor)
            self.tool_changed.emit(tool)

    @property
    def freq_mode(self) -> str:
        """"frequency" or "width": how the vertical axis and the read-out show rows."""
        return self.freq_mode_override or default_freq_mode(self.doc.signal)

    def set_freq_mode(self, mode: str | None) -> None:
        """Show the vertical axis as "frequency" or "width" (None: the signal's default)."""
        if mode not in (None, "frequency", "width"):
            raise ValueError(f"frequency axis mode {mode!r} is not 'frequency' or 'width'")
        self.freq_mode_override = mode
        self._update_axes()
        self.freq_mode_changed.emit(self.freq_mode)

    def set_log_frequency(self, on: bool) -> None:
        """Show STFT kinds on a log-frequency axis (or back on a linear one). The rows
        and the selection stay the STFT's; the image is redrawn (whole view)."""
        on = bool(on)
        if on == self.log_frequency:
            return
        self.log_frequency = on
        if self.doc.tfr is not None and not self.doc.tfr.spec.is_cwt:
            self._shown_tfr = None          # a new grid, not the long overview's refresh
            self._on_tfr_changed()
        self.log_frequency_changed.emit(on)

    def _update_axes(self) -> None:
        sig = self.doc.signal
        self._axis.period = self.freq_mode == "width"
        self._axis.widths = width_axis_of(sig, self.doc.tfr)
        self._axis.setLabel(freq_axis_label(sig, self.freq_mode, self._axis.widths))
        self._axis.picture = None
        self._axis.update()
        self.plot.invertX(display_reversed(sig))

    def set_levels(self, floor: float, ceiling: float) -> None:
        self.colorbar.setLevels((float(floor), float(ceiling)))
        # setLevels() is silent; only handle drags emit, so tell listeners here.
        self.levels_changed.emit(*self.levels())

    def levels(self) -> tuple[float, float]:
        lo, hi = self.colorbar.levels()
        return float(lo), float(hi)

    def set_colormap(self, name: str) -> None:
        self.colorbar.setColorMap(pg.colormap.get(name))

    def data_to_widget(self, time: float, freq: float):
        """Widget (viewport) pixel of a (time, frequency) point (tests, tools)."""
        y = float(self.grid.freq_to_y(freq))
        scene = self.vb.mapViewToScene(QPointF(float(time), y))
        return self.mapFromScene(scene)

    def widget_to_data(self, pos) -> tuple[float, float]:
        """(time, frequency) under a viewport pixel."""
        p = self.vb.mapSceneToView(self.mapToScene(pos))
        return p.x(), float(self.grid.y_to_freq(p.y()))

    # -- document -> view ---------------------------------------------------
    def _on_busy_changed(self, busy: bool) -> None:
        if busy:
            self._show_text("computing transform…", "#ddd")
        elif self._busy_text.scene() is not None and not self._failed:
            self.plot.removeItem(self._busy_text)

    def _show_text(self, text: str, color: str) -> None:
        self._busy_text.setText(text, color=color)
        if self._busy_text.scene() is None:
            self.plot.addItem(self._busy_text, ignoreBounds=True)
        self._busy_text.setPos(self.vb.viewRect().center())

    def _on_signal_changed(self) -> None:
        # Levels chosen for the previous signal say nothing about this one (a file of
        # 1e300 samples would show as one saturated colour).
        self._levels_for_signal = False
        # Nor does its picture: a transform that fails must not leave it under this name.
        self._failed = False
        if self.doc.tfr is None:
            self.image.clear()
            self.long.set_overview(None)
            for item in self._overlays.values():
                item.clear()
            self._show_axes(False)    # their ticks are the previous signal's grid

    def _on_transform_failed(self, message: str) -> None:
        if self.doc.tfr is not None:
            return       # a recompute failed: the transform shown is still the signal's
        import textwrap

        self._failed = True
        first = message.splitlines()[0] if message else "the transform failed"
        first = first.removeprefix("transform failed: ")
        self._show_text(textwrap.fill(f"No transform: {first}", 72)
                        + "\n\nChange the settings in the Transform dock and press Recompute.",
                        "#ff9f0a")

    def _show_axes(self, on: bool) -> None:
        for name in ("left", "bottom"):
            self.plot.getAxis(name).setStyle(showValues=on)

    def _on_tfr_changed(self) -> None:
        tfr, img = self.doc.tfr, self.doc.image_db
        if self._failed:
            self._failed = False
            if self._busy_text.scene() is not None and not self.doc.busy:
                self.plot.removeItem(self._busy_text)
        self._show_axes(True)
        if self.doc.is_long and tfr is self._shown_tfr:
            # The long recording's overview completed: same grid, keep the user's zoom.
            self.long.set_overview(img)
            return
        self._shown_tfr = tfr
        first = self.grid is None or not self._levels_for_signal
        self._levels_for_signal = True
        old_log = None if first else self.grid.log_y
        self.grid = ImageGrid.from_tfr(tfr, log_frequency=self.log_frequency)
        self._axis.log = self.grid.log_y
        self._axis.picture = None
        self._axis.update()
        if self.doc.is_long:
            self.long.set_overview(img)   # None until the first tiles: levels chosen then
            if img is None:
                self._levels_for_signal = False
        else:
            self.long.set_overview(None)
            self.image.setImage(self.grid.display_image(img), autoLevels=False)
            self.image.setRect(QRectF(*self.grid.rect()))
            if first or old_log != self.grid.log_y:
                self.choose_levels(img)
        self.plot.getAxis("bottom").setLabel(x_axis_label(tfr.unit))
        self._update_axes()
        x, y, w, h = self.grid.rect()
        self.vb.setLimits(xMin=x - 0.05 * w, xMax=x + 1.05 * w, yMin=y - 0.05 * h,
                          yMax=y + 1.05 * h)
        self.vb.setRange(QRectF(x, y, w, h), padding=0)
        self._on_layers_changed()

    def choose_levels(self, img) -> None:
        """Colour-bar levels for a new image: 80 dB below its 99.9th percentile."""
        hi = float(np.ceil(db_ceiling(img) / 5.0) * 5.0)
        self.set_levels(hi - 80.0, hi)

    def _on_colorbar_levels(self, bar) -> None:
        lo, hi = self.levels()
        self.levels_changed.emit(lo, hi)

    # -- layers -> drawings -------------------------------------------------
    def _on_layers_changed(self) -> None:
        for item in self._overlays.values():
            self.plot.removeItem(item)
        for pair in self._rois.values():
            for roi in pair:
                _dispose_roi(self.plot, roi)
        # Pooled masks survive a re-listing (add, hide, reorder ...) when their layer's
        # cells did not change: re-pooling a (426, 65536) mask costs ~20 ms.
        kept = {id(src[0]): (src, self._pooled[i]) for i, src in self._pool_src.items()
                if i in self._pooled}
        self._overlays.clear()
        self._pooled.clear()
        self._pool_src.clear()
        self._rois.clear()
        if self.grid is None:
            return
        for i, lay in enumerate(self.layers):
            if not lay.visible:
                continue
            src, pooled = kept.get(id(lay), ((None, -1), None))
            if src[0] is lay and src[1] == lay.version:
                self._pooled[i], self._pool_src[i] = pooled, src
            ov = pg.ImageItem(axisOrder="row-major")
            ov.setZValue(5)
            self.plot.addItem(ov)
            self._overlays[i] = ov
            self._draw_overlay(i)
            if lay.is_band:
                self._rois[i] = self._make_band_rois(i, lay)

    def _on_layer_edited(self, index: int) -> None:
        if index in self._overlays:
            self._draw_overlay(index, cols=self.layers.dirty_cols)
        lay = self.layers[index] if 0 <= index < len(self.layers) else None
        # (the handles being dragged are the source of the edit: resetting them would
        # end the drag)
        if (lay is not None and lay.is_band and index in self._rois
                and index != self._dragging_band):
            up, lo = self._rois[index]
            for roi, edge in ((up, lay.upper), (lo, lay.lower)):
                roi.blockSignals(True)
                roi.setPoints(self._edge_to_display(edge))
                roi.blockSignals(False)
                _colour_handles(roi, lay.color)   # setPoints makes new (white) handles

    def _draw_overlay(self, index: int, mask=None, cols=None) -> None:
        """Draw layer ``index`` (or ``mask`` for it); ``cols`` = (first, last) column
        that changed, so only those pooled blocks are recomputed."""
        lay = self.layers[index]
        ov = self._overlays.get(index)
        if ov is None:
            return
        if self.doc.is_long:
            self.long.draw_overlay(index, ov, lay, cols=cols)
            return
        x, y, w, h = self.grid.rect()
        if mask is None and lay.is_band:
            if lay.ranges is None:
                return
            pooled = _pooled_band(lay.ranges, lay.n_rows, _OVERLAY_COLS)
        else:
            mask = lay.mask if mask is None else mask
            if mask is None:
                return
            pooled = self._pool(index, mask, cols, lay)
        k = -(-self.grid.n_cols // pooled.shape[1])
        if k > 1:
            w = pooled.shape[1] * k * self.grid.dx_col
        c = QColor(lay.color)
        alpha = 70 if lay.is_band else 110
        lut = np.array([[0, 0, 0, 0], [c.red(), c.green(), c.blue(), alpha]], np.uint8)
        ov.setImage(self.grid.display_image(pooled).view(np.uint8), levels=(0, 1), lut=lut,
                    autoLevels=False)
        ov.setRect(QRectF(x, y, w, h))

    def _pool(self, index: int, mask: np.ndarray, cols, lay) -> np.ndarray:
        # Long signals: OR-pool column blocks (thin strokes stay visible, which plain
        # subsampling would drop); after a stroke only the blocks it touched are redone.
        n = mask.shape[1]
        k = -(-n // _OVERLAY_COLS)
        if k == 1:
            return mask
        cached = self._pooled.get(index)
        src = self._pool_src.get(index, (None, -1))
        committed = mask is lay.mask
        if committed:
            self._pool_src[index] = (lay, lay.version)
        if (cols is None and committed and cached is not None and src[0] is lay
                and src[1] == lay.version):
            return cached      # unchanged since it was pooled
        if cols is not None and cached is not None and cached.shape[0] == mask.shape[0]:
            b0 = max(int(cols[0]) // k, 0)
            b1 = min(int(cols[1]) // k, cached.shape[1] - 1)
            if b0 <= b1:
                seg = mask[:, b0 * k:min((b1 + 1) * k, n)]
                cached[:, b0:b1 + 1] = np.logical_or.reduceat(seg, np.arange(0, seg.shape[1], k),
                                                              axis=1)
            return cached
        if committed and lay.n_cells() == 0:   # a new, empty mask layer
            pooled = np.zeros((mask.shape[0], -(-n // k)), bool)
        else:
            pooled = _or_pool(mask, k)
        self._pooled[index] = pooled
        return pooled

    def _edge_to_display(self, edge) -> list[tuple[float, float]]:
        e = np.asarray(edge, float)
        return list(zip(e[:, 0].tolist(), self.grid.freq_to_y(e[:, 1]).tolist(), strict=False))

    def _make_band_rois(self, index: int, lay):
        rois = []
        for edge, style in ((lay.upper, Qt.PenStyle.SolidLine), (lay.lower, Qt.PenStyle.DashLine)):
            pen = pg.mkPen(lay.color, width=2, style=style)
            roi = pg.PolyLineROI(self._edge_to_display(edge), closed=False, pen=pen,
                                 movable=False, rotatable=False, resizable=False)
            roi.setZValue(10)
            _colour_handles(roi, lay.color)
            roi.sigRegionChanged.connect(lambda _r, i=index: self._on_band_dragging(i))
            roi.sigRegionChangeFinished.connect(lambda _r, i=index: self._on_band_dragged(i))
            self.plot.addItem(roi)
            rois.append(roi)
        return tuple(rois)

    def _roi_points(self, roi) -> np.ndarray:
        pts = [roi.mapToParent(p) for _, p in roi.getLocalHandlePositions()]
        xy = np.array([[p.x(), p.y()] for p in pts], float)
        return np.column_stack([xy[:, 0], self.grid.y_to_freq(xy[:, 1])])

    def _on_band_dragging(self, index: int) -> None:
        # A handle moves: the band's cells and the inverse follow live (no undo step yet).
        if index not in self._rois or index >= len(self.layers):
            return
        up, lo = self._rois[index]
        self._dragging_band = index
        try:
            self.layers.drag_band_edges(index, self._roi_points(up), self._roi_points(lo))
        except ValueError:
            pass   # edges crossed for a moment: the band stays at its last good shape

    def _on_band_dragged(self, index: int) -> None:
        self._dragging_band = None
        if index not in self._rois or index >= len(self.layers):
            return
        up, lo = self._rois[index]
        try:
            self.layers.set_band_edges(index, self._roi_points(up), self._roi_points(lo))
        except ValueError:
            self._on_layer_edited(index)  # put the handles back

    # -- cursor read-out ------------------------------------------------------
    def _on_mouse_moved(self, scene_pos) -> None:
        inside = self.vb.sceneBoundingRect().contains(scene_pos)
        if self.tool == "brush" and inside:
            r = 0.5 * self.brush_size_px
            self._brush_ring.setRect(QRectF(scene_pos.x() - r, scene_pos.y() - r, 2 * r, 2 * r))
            self._brush_ring.show()
        else:
            self._brush_ring.hide()
        if self.grid is None or not inside:
            return
        p = self.vb.mapSceneToView(scene_pos)
        cell = self.grid.cell_at(p.x(), p.y())
        if cell is None:
            self.cursor_read.emit("")
            return
        r, c = cell
        tfr = self.doc.tfr
        unit = tfr.unit or ""
        ftext = freq_value_text(float(tfr.frequencies[r]), self.doc.signal, self.freq_mode,
                                format_freq, self._axis.widths)
        if self.doc.is_long:
            t, db = float(tfr.column_times(c, c + 1)[0]), self.long.db_at(r, c)
            mag = "" if db is None else f"|W| = {db:.1f} dB (of the pixel)   "
        else:
            t, mag = float(tfr.times[c]), f"|W| = {float(self.doc.image_db[r, c]):.1f} dB   "
        self.cursor_read.emit(
            f"{'t' if unit == 's' else 'x'} = {t:.6g} {unit}   {ftext}   {mag}(row {r}, col {c})")

    # -- tools: band ------------------------------------------------------------
    def keyPressEvent(self, ev):
        if self.tool == "band" and ev.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish_band_edge()
            ev.accept()
            return
        if ev.key() == Qt.Key.Key_Escape and (self._band_pts or self._band_upper):
            self.cancel_band()
            ev.accept()
            return
        super().keyPressEvent(ev)

    def _tool_click(self, x, y, mods, double: bool) -> None:
        if self.grid is None:
            return
        if self.tool == "band":
            if double:
                self.finish_band_edge()
            else:
                # A vertex clicked just before the first or after the last column (the
                # view leaves a margin) goes on that column: the band then reaches the
                # image's edge instead of stopping one vertex short. (Above or below the
                # rows it stays where it is: the ranges clip to the rows.)
                g = self.grid
                x = min(max(x, g.x0), g.x0 + (g.n_cols - 1) * g.dx_col)
                self._band_pts.append((x, y))
                self._redraw_band_preview()
        elif self.tool == "brush":
            self._tool_drag("start", x, y, mods)
            self._tool_drag("finish", x, y, mods)

    def _redraw_band_preview(self) -> None:
        pts = list(self._band_upper or []) + ([(np.nan, np.nan)] if self._band_upper else [])
        pts += self._band_pts
        if pts:
            a = np.array(pts, float)
            self._band_curve.setData(a[:, 0], a[:, 1], connect="finite")
        else:
            self._band_curve.setData([], [])
        if self._band_upper is None:
            msg = (f"Band: upper edge, {len(self._band_pts)} vertex(es) - click along the top "
                   "of the band, Enter / double-click to go on to the lower edge, Esc cancels")
        else:
            msg = (f"Band: lower edge, {len(self._band_pts)} vertex(es) - click along the bottom,"
                   " Enter / double-click finishes, Esc cancels")
        self.band_progress.emit(msg if (self._band_pts or self._band_upper) else "")

    def finish_band_edge(self) -> None:
        """End the edge being clicked (upper, then lower; the lower one adds the band)."""
        pts = _dedupe(self._band_pts)
        if len(pts) < 2:
            self.band_progress.emit("Band: an edge needs at least two vertices")
            return
        if self._band_upper is None:
            self._band_upper, self._band_pts = pts, []
            self._redraw_band_preview()
            return
        upper, lower = self._band_upper, pts
        self.cancel_band()
        to_phys = lambda p: [(x, float(self.grid.y_to_freq(y))) for x, y in p]  # noqa: E731
        self.layers.add_band(to_phys(upper), to_phys(lower))

    def cancel_band(self) -> None:
        self._band_pts, self._band_upper = [], None
        self._band_curve.setData([], [])
        self.band_progress.emit("")

    # -- tools: brush / rectangle / lasso ----------------------------------------
    def _op(self, mods, default: str) -> str:
        if mods & Qt.KeyboardModifier.AltModifier:
            return "subtract"
        if mods & Qt.KeyboardModifier.ShiftModifier:
            return "add"
        return default

    def _brush_radii(self, y: float) -> tuple[float, float]:
        """The brush's radii in rows and columns at display ``y`` (rows of an STFT on a
        log axis grow thinner upwards: the ring's size on screen is what is painted)."""
        px_x, px_y = self.vb.viewPixelSize()   # view units per screen pixel
        r = 0.5 * self.brush_size_px
        return (max(r * abs(px_y) * float(self.grid.rows_per_y(y)), 0.5),
                max(r * abs(px_x) / self.grid.dx_col, 0.5))

    def _tool_drag(self, phase: str, x: float, y: float, mods) -> None:
        if self.grid is None:
            return
        row, col = self.grid.to_index(x, y)
        if self.tool == "brush":
            self._brush(phase, float(row), float(col), mods, y)
        elif self.tool in ("rect", "lasso"):
            self._shape(phase, x, y, mods)

    def _brush(self, phase, row, col, mods, y) -> None:
        # The model paints; this only forwards pointer positions (one stroke = one step).
        if phase == "start":
            erase = self._op(mods, "subtract" if self.brush_erase else "add") == "subtract"
            rr, rc = self._brush_radii(y)
            index = self.layers.begin_stroke(erase=erase, radius_rows=rr, radius_cols=rc)
            self._stroke = {"index": index}
            if index not in self._overlays:
                self._on_layers_changed()
        if self._stroke is None:
            return
        if self.grid.rows_linear:
            self.layers.extend_stroke(row, col, radius_rows=self._brush_radii(y)[0])
        else:
            self.layers.extend_stroke(row, col)
        if phase == "finish":
            self._stroke = None
            self.layers.end_stroke()

    def _shape(self, phase, x, y, mods) -> None:
        if phase == "start":
            self._stroke = {"pts": [(x, y)], "op": self._op(mods, "replace")}
            if self.tool == "rect":
                item = QGraphicsRectItem()
                pen = QPen(QColor("#ffffff"))
                pen.setCosmetic(True)
                pen.setStyle(Qt.PenStyle.DashLine)
                item.setPen(pen)
            else:
                item = pg.PlotCurveItem(pen=pg.mkPen("#ffffff", width=1.5,
                                                     style=Qt.PenStyle.DashLine))
            item.setZValue(25)
            self.vb.addItem(item, ignoreBounds=True)
            self._drag_item = item
        s = self._stroke
        if s is None:
            return
        if phase != "start":
            s["pts"].append((x, y))
        pts = np.array(s["pts"], float)
        if self.tool == "rect":
            (x0, y0), (x1, y1) = pts[0], pts[-1]
            self._drag_item.setRect(QRectF(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)))
        else:
            closed = np.vstack([pts, pts[:1]])
            self._drag_item.setData(closed[:, 0], closed[:, 1])
        if phase == "finish":
            self.vb.removeItem(self._drag_item)
            self._drag_item, self._stroke = None, None
            if self.tool == "lasso" and self.grid.rows_linear:
                pts = _densified(pts)   # straight on screen is curved in rows
            rows, cols = self.grid.to_index(pts[:, 0], pts[:, 1])
            try:
                if self.tool == "rect":
                    self.layers.edit_shape(s["op"], "rect", (rows[0], rows[-1], cols[0], cols[-1]),
                                           text="Rectangle")
                else:
                    self.layers.edit_shape(s["op"], "polygon", np.column_stack([rows, cols]),
                                           text="Lasso")
            except PhaseBrushError as exc:   # a shape too large for the memory budget
                self.layers.noted.emit(str(exc))


class LevelsBar(pg.ColorBarItem):
    """A colour bar whose two handles sit at its ends: the floor and the ceiling.

    pyqtgraph's bar keeps its handles at 25 % / 75 % as jog controls, so they never
    matched the Floor / Ceiling the Transform dock shows. Here a handle marks its
    level; dragged to a point of the bar, that point's value becomes the level (the
    bar rescales on release, and the handles return to the ends). The mouse wheel
    over the bar shifts both levels by 5 dB (to lower a floor below the bar's end).
    """

    _REST = (2.0, 254.0)       # bar coordinates: the bar spans 0..256

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.region is not None:
            self.region_changed_enable = False
            self.region.setRegion(self._REST)
            self.region_changed_enable = True
            self.setToolTip("Drag a handle to move the colour floor or ceiling to that "
                            "value; scroll to shift both by 5 dB")

    def _value_at(self, pos: float) -> float:
        a, b = self._REST
        return self.lo_prv + (pos - a) / (b - a) * (self.hi_prv - self.lo_prv)

    def _regionChanging(self):
        if not self.region_changed_enable:
            return
        bot, top = self.region.getRegion()
        lo, hi = self._value_at(bot), self._value_at(top)
        r = self.rounding
        lo, hi = r * round(lo / r), r * round(hi / r)
        if hi - lo < r:
            hi = lo + r
        self.values = (lo, hi)
        self._update_items()
        self.sigLevelsChanged.emit(self)

    def _regionChanged(self):
        self.lo_prv, self.hi_prv = self.values
        self.region_changed_enable = False
        self.region.setRegion(self._REST)
        self.region_changed_enable = True
        self.sigLevelsChangeFinished.emit(self)

    def wheelEvent(self, ev):
        step = 5.0 if ev.delta() > 0 else -5.0
        lo, hi = self.values
        self.setLevels((lo + step, hi + step))
        self.lo_prv, self.hi_prv = self.values
        self.sigLevelsChanged.emit(self)
        ev.accept()


def _colour_handles(roi, color: str) -> None:
    """The band's colour on every handle of ``roi`` (pyqtgraph makes them white)."""
    for h in roi.getHandles():
        h.pen = pg.mkPen(color, width=2)
        h.currentPen = h.pen
        h.update()


def _dispose_roi(plot, roi) -> None:
    """Take a band edge's PolyLineROI off the plot for good.

    Left to Python's cycle collector, a removed PolyLineROI (its handles,
    their context menus, its segments) crashed the interpreter (PySide6 +
    pyqtgraph 0.14: segfault while garbage-collecting). Dismantling it here
    breaks the cycles, so plain reference counting frees it, and Qt deletes
    the C++ objects.
    """
    roi.blockSignals(True)
    try:
        roi.sigRegionChangeFinished.disconnect()
    except (RuntimeError, TypeError):
        pass
    roi.clearPoints()
    plot.removeItem(roi)
    roi.deleteLater()


def _dedupe(pts):
    out = []
    for p in pts:
        if not out or p[0] != out[-1][0]:
            out.append(p)
    return out


def _or_pool(mask: np.ndarray, k: int) -> np.ndarray:
    """OR of each block of ``k`` columns [shape=(n_rows, ceil(n_cols / k)), bool]."""
    n = mask.shape[1]
    if k % 8 == 0 and n % k == 0 and mask.flags.c_contiguous:
        # 8 cells per machine word: ~6x faster than reduceat on a (426, 65536) mask.
        words = mask.view(np.uint64)
        q = k // 8
        acc = words[:, 0::q].copy()
        for j in range(1, q):
            acc |= words[:, j::q]
        return acc != 0
    return np.logical_or.reduceat(mask, np.arange(0, n, k), axis=1)


def _densified(pts: np.ndarray, per_edge: int = 32) -> np.ndarray:
    """A closed polygon's vertices with ``per_edge`` points along each edge."""
    nxt = np.roll(pts, -1, axis=0)
    t = np.arange(per_edge)[None, :, None] / per_edge
    return (pts[:, None, :] + t * (nxt - pts)[:, None, :]).reshape(-1, 2)


def _skip_hover_while_dragging(scene) -> None:
    """Deliver no hover events to ``scene``'s items in the middle of a drag.

    pyqtgraph's scene looks for the items near the pointer on every move, a
    drag's too, although no item may accept a hover then; with band outlines
    on the image that search costs ~3 ms of each move of a handle drag. The
    release delivers hover events again, so highlights catch up when it ends.
    """
    send = scene.sendHoverEvents

    def send_unless_dragging(ev, exitOnly=False):
        if not exitOnly and scene.dragButtons and ev.buttons():
            return
        send(ev, exitOnly)

    scene.sendHoverEvents = send_unless_dragging


def _pooled_band(ranges, n_rows: int, max_cols: int) -> np.ndarray:
    """A band's cells OR-pooled to at most ``max_cols`` column blocks, from its ranges."""
    start, end = (np.asarray(a) for a in ranges)
    n = start.size
    k = max(1, -(-n // max_cols))
    if k == 1:
        return ranges_to_mask(start, end, n_rows)
    live = end > start
    idx = np.arange(0, n, k)
    s = np.minimum.reduceat(np.where(live, start, n_rows), idx)
    e = np.maximum.reduceat(np.where(live, end, 0), idx)
    return ranges_to_mask(np.minimum(s, e), e, n_rows)
