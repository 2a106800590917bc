"""Import a saliency heatmap (Grad-CAM ...) as a mask on the current transform.

The dialog loads the file with :func:`core.analysis.heatmap.load_heatmap` (NPY of any
shape, grayscale or colour-mapped PNG), resamples it onto the transform's grid
(:func:`core.analysis.attribution.heatmap_to_mask`) and thresholds it with a slider
(:func:`core.analysis.attribution.threshold_mask`). The preview shows the heatmap on
the image with the cells below the threshold dimmed, and under it the signal,
the inverse of the thresholded mask (the stretches of the 1-D signal that
carry the highlighted energy) and its attribution curve
(:func:`core.analysis.attribution.attribution_curve`).

The dialog computes nothing the core does not; a bad file is reported in the
dialog itself (red line under the file name) and OK stays disabled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSlider,
    QVBoxLayout,
)

from phasebrush.app.axes import REVERSED_UNITS, display_reversed, x_axis_label
from phasebrush.app.document import db_ceiling, db_image
from phasebrush.app.grid import ImageGrid
from phasebrush.app.tfr_view import LogFrequencyAxis
from phasebrush.core.analysis.attribution import (
    attribution_curve,
    heatmap_to_mask,
    smoothing_samples,
    threshold_mask,
)
from phasebrush.core.analysis.heatmap import COLORMAPS, load_heatmap
from phasebrush.core.errors import PhaseBrushError
from phasebrush.core.tf.inversion import invert

__all__ = ["HeatmapDialog", "smoothing_samples"]

# what core.analysis.heatmap.load_heatmap reads (images through Pillow)
HEATMAP_FILTER = ("Saliency maps (*.npy *.png *.tif *.tiff *.jpg *.jpeg *.bmp);;"
                  "NumPy arrays (*.npy);;Images (*.png *.tif *.tiff *.jpg *.jpeg *.bmp);;"
                  "All files (*)")


class HeatmapDialog(QDialog):
    """Choose a heatmap file, how to read it, and a threshold; preview the result.

    Parameters
    ----------
    tfr : core.tf.transforms.TFR
        The transform the mask is for.
    signal : core.signal.Signal or None
        Drawn under the inversion in the preview.
    allow_soft : bool
        Offer "soft weights" (the resampled heatmap as a float mask) besides
        the thresholded binary mask.
    start_dir : str
        Folder the file chooser opens in.

    Signals
    -------
    preview_updated()
        The preview (mask, inversion, curve) was recomputed.
    """

    preview_updated = Signal()

    def __init__(self, tfr, *, signal=None, allow_soft: bool = False, start_dir: str = "",
                 parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import heatmap mask")
        self.tfr = tfr
        self.signal = signal
        self.start_dir = start_dir
        self.heatmap: np.ndarray | None = None     # as loaded, row 0 = lowest frequency
        self._soft: np.ndarray | None = None
        self._binary: np.ndarray | None = None
        self.inversion: np.ndarray | None = None
        self.attribution: np.ndarray | None = None
        self.path: Path | None = None

        self.path_edit = QLineEdit(self)
        self.path_edit.setPlaceholderText("an .npy array or a .png image")
        self.path_edit.setToolTip("Saliency map: NPY of any shape, or a grayscale / colour-"
                                  "mapped PNG; it is stretched over the whole image")
        self.path_edit.editingFinished.connect(self._on_path_edited)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self.browse)
        self.colormap_combo = QComboBox(self)
        self.colormap_combo.addItem("grayscale (luminance)", None)
        for name in COLORMAPS:
            if name != "gray":
                self.colormap_combo.addItem(f"{name} rendering", name)
        self.colormap_combo.setToolTip(
            "PNG only: the colormap the heatmap was drawn with; each pixel becomes the value "
            "of its nearest colour. A heatmap blended over the image cannot be read back")
        self.origin_combo = QComboBox(self)
        self.origin_combo.addItem("top row = highest frequency (image files)", "upper")
        self.origin_combo.addItem("first row = lowest frequency", "lower")
        self.origin_combo.setToolTip("Where the file's row 0 is")
        for combo in (self.colormap_combo, self.origin_combo):
            combo.currentIndexChanged.connect(self._reload)

        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(1, 100)
        self.slider.setValue(50)
        self.slider.setToolTip("Cells whose heatmap weight is at least this are kept")
        self.spin = QDoubleSpinBox(self)
        self.spin.setRange(0.01, 1.0)
        self.spin.setSingleStep(0.01)
        self.spin.setDecimals(2)
        self.spin.setValue(0.5)
        self.slider.valueChanged.connect(lambda v: self.spin.setValue(v / 100.0))
        self.spin.valueChanged.connect(self._on_threshold)

        self.binary_radio = QRadioButton("binary mask (weight ≥ threshold)", self)
        self.soft_radio = QRadioButton("soft weights (the heatmap itself)", self)
        self.binary_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.binary_radio)
        group.addButton(self.soft_radio)
        self.binary_radio.toggled.connect(lambda _on: self._schedule())
        self.soft_radio.setVisible(allow_soft)
        self.binary_radio.setVisible(allow_soft)

        self.error_label = QLabel("", self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("QLabel { color: #d70015; }")
        self.error_label.setVisible(False)
        self.info_label = QLabel("Choose a heatmap file.", self)
        self.info_label.setWordWrap(True)

        # preview: heatmap on the transform's grid, then the signal and the inversion
        self.view = pg.GraphicsLayoutWidget(self)
        self.view.setBackground("#15171a")
        self.view.setMinimumSize(640, 420)
        self._axis = LogFrequencyAxis(orientation="left")
        self.image_plot = self.view.addPlot(row=0, col=0, axisItems={"left": self._axis})
        # The transform in gray underneath, the heatmap in colour (its weight as opacity),
        # and what the threshold drops dimmed.
        self.base_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item = pg.ImageItem(axisOrder="row-major")
        self.dim_item = pg.ImageItem(axisOrder="row-major")
        for item in (self.base_item, self.heat_item, self.dim_item):
            self.image_plot.addItem(item)
        self._cmap = pg.colormap.get("inferno")
        self.curve_plot = self.view.addPlot(row=1, col=0)
        self.curve_plot.setXLink(self.image_plot)
        self.curve_plot.addLegend(offset=(4, 2), labelTextSize="8pt", labelTextColor="#e6e6e6",
                                  brush=pg.mkBrush(21, 23, 26, 210), colCount=3)
        self.curve_plot.setDownsampling(auto=True, mode="peak")
        self.curve_plot.setClipToView(True)
        self.signal_curve = self.curve_plot.plot([], [], pen=pg.mkPen("#8a8f98", width=1),
                                                 name="signal")
        self.inverse_curve = self.curve_plot.plot([], [], pen=pg.mkPen("#ff9f0a", width=1),
                                                  name="inverse of the mask")
        self.attr_curve = self.curve_plot.plot(
            [], [], pen=pg.mkPen("#64d2ff", width=1, style=Qt.PenStyle.DashLine),
            name="attribution (scaled)")
        self.view.ci.layout.setRowStretchFactor(0, 3)
        self.view.ci.layout.setRowStretchFactor(1, 2)
        for p in (self.image_plot, self.curve_plot):
            p.getAxis("left").setWidth(54)
            p.getAxis("bottom").enableAutoSIPrefix(False)
        self._setup_axes()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add mask")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        thr = QHBoxLayout()
        thr.addWidget(self.slider, 1)
        thr.addWidget(self.spin)
        form = QFormLayout()
        form.addRow("File", row)
        form.addRow("", self.error_label)
        form.addRow("Colours", self.colormap_combo)
        form.addRow("Orientation", self.origin_combo)
        form.addRow("Threshold", thr)
        if allow_soft:
            use = QHBoxLayout()
            use.addWidget(self.binary_radio)
            use.addWidget(self.soft_radio)
            form.addRow("Use as", use)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.info_label)
        lay.addWidget(self.buttons)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(60)  # coalesce slider drags into one inversion
        self._timer.timeout.connect(self.update_preview)
        self._set_ok(False)
        self.resize(760, 640)

    # -- public ----------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return float(self.spin.value())

    def set_threshold(self, level: float) -> None:
        self.spin.setValue(float(level))

    @property
    def use_soft(self) -> bool:
        return self.soft_radio.isChecked()

    def soft_mask(self) -> np.ndarray | None:
        """The heatmap on the transform's grid [shape=tfr.shape, float32, in [0, 1]]."""
        return self._soft

    def binary_mask(self) -> np.ndarray | None:
        """Cells with weight >= threshold [shape=tfr.shape, bool]."""
        if self._soft is None:
            return None
        if self._binary is None:
            self._binary = threshold_mask(self._soft, self.threshold)
        return self._binary

    def mask(self) -> np.ndarray | None:
        """What OK adds: the binary mask, or the soft weights when chosen."""
        return self.soft_mask() if self.use_soft else self.binary_mask()

    def layer_name(self) -> str:
        stem = self.path.stem if self.path is not None else "heatmap"
        return f"{stem} (soft)" if self.use_soft else f"{stem} ≥ {self.threshold:.2f}"

    def browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import heatmap", self.start_dir,
                                              HEATMAP_FILTER)
        if path:
            self.load(path)

    def load(self, path) -> bool:
        """Read ``path`` with the chosen colours and orientation. False (and the reason
        in the dialog) when it cannot be read."""
        self.path = Path(path)
        if self.path_edit.text() != str(path):
            self.path_edit.setText(str(path))
        try:
            heat = load_heatmap(self.path, colormap=self.colormap_combo.currentData(),
                                origin=self.origin_combo.currentData())
            soft = heatmap_to_mask(heat, self.tfr)
        except PhaseBrushError as exc:
            self._fail(str(exc))
            return False
        except Exception as exc:  # a reader bug must not close the dialog
            self._fail(f"{self.path}: {type(exc).__name__}: {exc}")
            return False
        self.error_label.setText("")
        self.error_label.setVisible(False)
        self.heatmap, self._soft, self._binary = heat, soft, None
        self.update_preview()
        return True

    # -- internals -------------------------------------------------------------------
    def _fail(self, message: str) -> None:
        self.heatmap = self._soft = self._binary = None
        self.inversion = self.attribution = None
        self.error_label.setText(message)
        self.error_label.setVisible(True)
        self.info_label.setText("")
        for item in (self.heat_item, self.dim_item):
            item.clear()
        for c in (self.inverse_curve, self.attr_curve):
            c.setData([], [])
        self._set_ok(False)

    def _set_ok(self, on: bool) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(on)

    def _on_path_edited(self) -> None:
        text = self.path_edit.text().strip()
        if text and (self.path is None or Path(text) != self.path):
            self.load(text)

    def _reload(self, *_):
        if self.path is not None:
            self.load(self.path)

    def _on_threshold(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(int(round(value * 100)))
        self.slider.blockSignals(False)
        self._binary = None
        self._schedule()

    def _schedule(self) -> None:
        if self._soft is not None:
            self._timer.start()

    def _setup_axes(self) -> None:
        tfr = self.tfr
        self.grid = ImageGrid.from_tfr(tfr)
        self._axis.log = self.grid.log_y
        funit = getattr(self.signal, "freq_unit", "") if self.signal is not None else ""
        xlabel = x_axis_label(tfr.unit)
        self.image_plot.setLabel("left", f"frequency ({funit})" if funit else "frequency")
        self.curve_plot.setLabel("bottom", xlabel)
        # Spectra high-to-low, as in the main window (IR wavenumbers, ppm, descending files).
        descending = (display_reversed(self.signal) if self.signal is not None
                      else (tfr.unit or "").lower() in REVERSED_UNITS)
        for p in (self.image_plot, self.curve_plot):
            p.invertX(descending)
        x = np.asarray(tfr.times, float)
        if self.signal is not None and self.signal.n == x.size:
            y = np.asarray(self.signal.y, float)
            self.signal_curve.setData(x, y)
            lo, hi = float(y.min()), float(y.max())
            span = max(hi - lo, 1e-12)
            self.curve_plot.setYRange(lo - 0.05 * span, hi + 0.45 * span, padding=0)  # legend room
        rect = QRectF(*self.grid.rect())
        db = db_image(tfr)
        hi = db_ceiling(db)
        self.base_item.setImage(db, levels=(hi - 70.0, hi))
        self.base_item.setRect(rect)
        self.image_plot.setRange(rect=rect, padding=0)

    def update_preview(self) -> None:
        """Recompute the binary mask, its inversion and the attribution curve; redraw."""
        self._timer.stop()
        if self._soft is None:
            return
        tfr, soft = self.tfr, self._soft
        mask = self.mask()
        rect = QRectF(*self.grid.rect())
        rgba = self._cmap.map(soft.ravel(), mode="byte").reshape(soft.shape + (4,))
        rgba[..., 3] = np.round(230.0 * np.sqrt(soft)).astype(np.uint8)
        self.heat_item.setImage(rgba, levels=(0, 255))
        self.heat_item.setRect(rect)
        dim = np.zeros(soft.shape + (4,), np.uint8)
        if not self.use_soft:
            dim[..., 3] = np.where(self.binary_mask(), 0, 150)  # dim what is not kept
        self.dim_item.setImage(dim, levels=(0, 255))
        self.dim_item.setRect(rect)
        x = np.asarray(tfr.times, float)
        kept = int(np.count_nonzero(self.binary_mask()))
        if self.use_soft or kept:
            self.inversion = invert(tfr, mask)
            self.attribution = attribution_curve(
                self.inversion, smooth_samples=smoothing_samples(tfr, self.binary_mask()
                                                                 if kept else soft > 0))
            self.inverse_curve.setData(x, self.inversion)
            scale = (float(np.max(self.signal.y)) if self.signal is not None
                     else float(np.max(np.abs(self.inversion))) or 1.0)
            self.attr_curve.setData(x, self.attribution * scale)
        else:
            self.inversion = self.attribution = None
            self.inverse_curve.setData([], [])
            self.attr_curve.setData([], [])
        h, w = self.heatmap.shape
        share = 100.0 * kept / soft.size
        self.info_label.setText(
            f"Heatmap {h} × {w} resampled onto the {tfr.n_rows} × {tfr.n_frames} transform; "
            f"threshold {self.threshold:.2f} keeps {kept} cells ({share:.1f} %).")
        self._set_ok(self.use_soft or kept > 0)
        self.preview_updated.emit()
