"""The long-recording part of the time-frequency view: overview, detail, layer drawings.

A long recording's document holds an overview image of the whole recording
(a few thousand pixels wide) and answers :meth:`DocumentModel.request_detail`
for any column range. :class:`LongDisplay` keeps two images in the view's
plot - the overview under the detail of the visible columns at the view's
pixel width - and asks for a new detail, after the view settled for
:data:`SETTLE_MS`, whenever the overview is too coarse for the zoom. The
layers are drawn for the visible columns only, at most :data:`OVERLAY_PX`
columns wide, from the bands' geometry and the tiled masks' pooled cells,
so a stroke on an hour-long recording redraws a screenful, not the hour.

Nothing here computes a transform; it converts view ranges to columns and
arrays to images.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, QTimer
from PySide6.QtGui import QColor

from phasebrush.core.errors import ParameterError
from phasebrush.core.tf.bands import band_ranges
from phasebrush.core.tf.masks import ranges_to_mask

__all__ = ["LongDisplay", "SETTLE_MS", "OVERLAY_PX"]

#: Wait after the last pan/zoom step before a detail is asked for.
SETTLE_MS = 60
#: Widest layer drawing (columns of the visible range are pooled to this).
OVERLAY_PX = 2048
#: A detail is asked for once the overview shows this many times too few columns.
_DETAIL_FACTOR = 1.5
#: Each side of the visible range also computed, so a small pan needs no new detail.
_MARGIN = 0.25
_FLOOR_DB = -300.0


def _finite(img: np.ndarray) -> np.ndarray:
    """NaN (not computed yet) as the floor, so the colour map shows it as the darkest."""
    return np.where(np.isnan(img), np.float32(_FLOOR_DB), img)


class LongDisplay(QObject):
    """Attached to a :class:`~app.tfr_view.TfrView`; idle unless the document is long."""

    def __init__(self, view):
        super().__init__(view)
        self.view = view
        self.doc = view.doc
        self.detail = pg.ImageItem(axisOrder="row-major")
        self.detail.setZValue(1)
        self.detail.hide()
        view.plot.addItem(self.detail)
        view.colorbar.setImageItem([view.image, self.detail])
        self._detail_cols: tuple[int, int] | None = None
        self._detail_img: np.ndarray | None = None
        self._overview: np.ndarray | None = None
        #: layer index -> (key, layer, pooled cells) of the painted layers last drawn
        self._pooled: dict[int, tuple] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.refresh)
        view.vb.sigRangeChanged.connect(self._on_range_changed)
        self.doc.detail_ready.connect(self._on_detail)
        self.doc.detail_progressed.connect(self._on_detail)
        self.doc.overview_progressed.connect(self._on_overview_progressed)
        self.doc.signal_changed.connect(self._clear)

    @property
    def active(self) -> bool:
        return self.doc.is_long and self.view.grid is not None

    # -- overview ---------------------------------------------------------------
    def set_overview(self, img) -> None:
        """Show ``img`` (the whole recording, NaN where not computed) or clear it."""
        self._overview = img
        if not self.doc.is_long:
            self._clear()
            return
        g = self.view.grid
        if img is None:
            self.view.image.clear()
            return
        self.view.image.setImage(_finite(g.display_image(img)), autoLevels=False)
        self.view.image.setRect(QRectF(*g.rect()))
        if not self.view._levels_for_signal and np.isfinite(img).any():
            self.view._levels_for_signal = True
            self.view.choose_levels(img[np.isfinite(img)])
        self._schedule()

    def _on_overview_progressed(self, fraction: float) -> None:
        if self.active and self.doc.image_db is not None:
            self.set_overview(self.doc.image_db)

    def _cover(self) -> None:
        """The overview is drawn only where the detail does not cover the view: under
        a detail that covers it, it cost a whole image drawing per repaint (a live
        stroke repaints ~25 times a second)."""
        vis = self.visible_columns() if self.detail.isVisible() else None
        have = self._detail_cols
        covered = vis is not None and have is not None and have[0] <= vis[0] and \
            vis[1] <= have[1]
        self.view.image.setVisible(not covered)

    def _clear(self) -> None:
        self._pooled.clear()
        self.view.image.show()
        self.detail.hide()
        self._detail_cols = self._detail_img = None

    # -- detail -----------------------------------------------------------------
    def visible_columns(self) -> tuple[int, int, int] | None:
        """(c0, c1, width in screen pixels) of the view, clipped to the recording."""
        if not self.active:
            return None
        g = self.view.grid
        (x0, x1), _ = self.view.vb.viewRange()
        c_lo, c_hi = sorted(((x0 - g.x0) / g.dx_col, (x1 - g.x0) / g.dx_col))
        c0 = max(int(np.floor(c_lo)), 0)
        c1 = min(int(np.ceil(c_hi)) + 1, g.n_cols)
        width = max(1, int(round(self.view.vb.width())))
        return (c0, c1, width) if c1 > c0 else None

    def _on_range_changed(self, *_):
        if self.active:
            self._cover()        # at once: a pan past the detail must not show a hole
            self._schedule()

    def _schedule(self) -> None:
        self._timer.start()

    def refresh(self) -> None:
        """Ask for the detail the view needs now (if any) and redraw the layers."""
        vis = self.visible_columns()
        if vis is None:
            return
        c0, c1, width = vis
        n = self.view.grid.n_cols
        ov_cols = n / max(1, self._overview.shape[1]) if self._overview is not None else n
        if (c1 - c0) / width < ov_cols / _DETAIL_FACTOR:
            m = int(_MARGIN * (c1 - c0))
            a, b = max(0, c0 - m), min(n, c1 + m)
            have = self._detail_cols
            px = int(round(width * (b - a) / (c1 - c0)))
            if have is None or not (have[0] <= c0 and c1 <= have[1]) or \
                    abs((have[1] - have[0]) / self._detail_img.shape[1] - (b - a) / px) > \
                    0.25 * (b - a) / px:
                self.doc.request_detail(a, b, px)
        else:
            self.detail.hide()
        self._cover()
        self.redraw_overlays()

    def redraw_overlays(self) -> None:
        """Every layer drawing again, for the columns now on screen."""
        layers = self.view.layers
        for i, item in self.view._overlays.items():
            if i < len(layers):
                self.draw_overlay(i, item, layers[i])

    def _on_detail(self, det) -> None:
        if not self.active:
            return
        g = self.view.grid
        img = det.image if det.complete else self._under_overview(det)
        self._detail_cols, self._detail_img = (det.c0, det.c1), img
        self.detail.setImage(_finite(g.display_image(img)), autoLevels=False)
        x, y, _w, h = g.rect()
        self.detail.setRect(QRectF(g.x0 + (det.c0 - 0.5) * g.dx_col, y,
                                   (det.c1 - det.c0) * g.dx_col, h))
        lo, hi = self.view.levels()
        self.detail.setLevels((lo, hi))
        self.detail.show()
        self._cover()

    def _under_overview(self, det) -> np.ndarray:
        """A partial detail with its missing pixels taken from the overview (nearest
        column), so tiles still computing show the coarse picture, not a hole."""
        img, ov = det.image, self._overview
        holes = np.isnan(img)
        if ov is None or ov.shape[0] != img.shape[0] or not holes.any():
            return img
        n = self.view.grid.n_cols
        centres = det.c0 + (np.arange(det.width) + 0.5) * (det.c1 - det.c0) / det.width
        src = np.minimum((centres * ov.shape[1] / n).astype(np.intp), ov.shape[1] - 1)
        return np.where(holes, ov[:, src], img)

    def db_at(self, row: int, col: int) -> float | None:
        """The dB value shown at a cell (detail where it covers, else the overview)."""
        for cols, img in ((self._detail_cols, self._detail_img),
                          ((0, self.view.grid.n_cols), self._overview)):
            if cols is None or img is None or not cols[0] <= col < cols[1]:
                continue
            p = int((col - cols[0]) * img.shape[1] // max(1, cols[1] - cols[0]))
            v = float(img[row, min(p, img.shape[1] - 1)])
            return v if np.isfinite(v) else None
        return None

    # -- layers -----------------------------------------------------------------
    def draw_overlay(self, index: int, item, lay, cols=None) -> None:
        """Draw layer ``lay`` into ``item`` for the visible columns (pooled). ``cols``:
        the (first, last) columns an edit of a painted layer changed - only their
        pooled groups are redone (a stroke's move over a 10-s view would otherwise
        re-pool all 441000 columns, ~7 ms)."""
        vis = self.visible_columns()
        if vis is None:
            return
        g, tfr = self.view.grid, self.doc.tfr
        c0, c1, _ = vis
        k = max(1, -(-(c1 - c0) // OVERLAY_PX))
        a = (c0 // k) * k
        key = (id(lay), id(lay.mask), k, a, c1, g.n_rows)
        hit = self._pooled.get(index)
        if (cols is not None and not lay.is_band and lay.mask is not None and hit is not None
                and hit[0] == key and hit[1] is lay):
            cells = hit[2]
            b0 = max((int(cols[0]) - a) // k, 0)
            b1 = min((int(cols[1]) - a) // k, cells.shape[1] - 1)
            if b0 <= b1:
                cells[:, b0:b1 + 1] = lay.mask.pooled(k, a + b0 * k, min(a + (b1 + 1) * k, c1))
            self._set_overlay(item, lay, cells, a, k)
            return
        self._pooled.pop(index, None)
        if lay.is_band:
            try:
                s, e = band_ranges(lay.band(), tfr.grid(a, c1, k))
            except ParameterError:
                item.clear()
                return
            cells = ranges_to_mask(s, e, g.n_rows)
        elif lay.mask is not None:
            cells = lay.mask.pooled(k, a, c1)
        else:
            item.clear()
            return
        if not lay.is_band:
            self._pooled[index] = (key, lay, cells)
        self._set_overlay(item, lay, cells, a, k)

    def _set_overlay(self, item, lay, cells: np.ndarray, a: int, k: int) -> None:
        g = self.view.grid
        c = QColor(lay.color)
        alpha = 70 if lay.is_band else 110
        lut = np.array([[0, 0, 0, 0], [c.red(), c.green(), c.blue(), alpha]], np.uint8)
        item.setImage(g.display_image(cells).view(np.uint8), levels=(0, 1), lut=lut,
                      autoLevels=False)
        _x, y, _w, h = g.rect()
        item.setRect(QRectF(g.x0 + (a - 0.5) * g.dx_col, y, cells.shape[1] * k * g.dx_col, h))
