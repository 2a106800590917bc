"""Where a TFR's cells sit in the image plot, and back (plain numpy, no Qt).

The time-frequency image is drawn as one ImageItem covering a rectangle in
*display* coordinates: x is the signal axis (time, or cm^-1 ...), y is the
frequency for STFT kinds and log10(frequency) for CWT kinds, whose rows are
log-spaced. Cells are then uniform in display units, so display <-> (row,
column) is affine in both directions, and the physical frequency is ``10**y``
(CWT) or ``y`` (STFT).

An STFT can also be shown on a log-frequency axis (``from_tfr(...,
log_frequency=True)``). Its rows stay linear in frequency, so a row's height
on screen shrinks as its frequency grows: the map row <-> y is then
``y = log10(f0 + row * df)``, and the image is resampled to rows uniform in y
for the ImageItem (:meth:`ImageGrid.display_image`), each screen row showing
the strongest of the STFT rows it covers. The selection keeps the STFT's own
rows; only what is drawn is resampled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ImageGrid", "DISPLAY_IMAGE_BYTES"]

#: Most bytes (float32) a log-frequency STFT's resampled image may take in the short path.
DISPLAY_IMAGE_BYTES = 256 << 20
_TINY = np.finfo(float).tiny


@dataclass(frozen=True)
class ImageGrid:
    """Map between TFR cells and display coordinates.

    Attributes
    ----------
    x0, dx_col : float
        Display x of column 0's centre, and of one column's width (signal unit).
    y0, dy_row : float
        Display y of row 0's centre, and one row's height (Hz, or decades for
        log axes). With ``rows_linear``: row 0's frequency and the frequency step
        of a row (Hz), the display y being log10 of the frequency.
    n_rows, n_cols : int
    log_y : bool
        Display y is log10(frequency).
    rows_linear : bool
        Rows are uniform in frequency while y is log10(frequency) (an STFT on a
        log axis): display <-> row is not affine, images go through
        :meth:`display_image`.
    """

    x0: float
    dx_col: float
    y0: float
    dy_row: float
    n_rows: int
    n_cols: int
    log_y: bool
    rows_linear: bool = False

    @classmethod
    def from_tfr(cls, tfr, *, log_frequency: bool = False) -> ImageGrid:
        """Grid for ``tfr`` (a core TFR). CWT kinds always get a log-frequency y (their
        rows are log-spaced); STFT kinds get one when ``log_frequency``."""
        n_rows, n_cols = int(tfr.n_rows), int(tfr.n_frames)
        # (a long recording's grid computes two column times, not all of them)
        times = (tfr.column_times(0, min(2, n_cols)) if getattr(tfr, "is_long", False)
                 else np.asarray(tfr.times, dtype=float))
        dx_col = float(times[1] - times[0]) if times.size > 1 else float(tfr.dx)
        log_y = bool(tfr.spec.is_cwt)
        rows_linear = bool(log_frequency) and not log_y and n_rows >= 2
        f = np.asarray(tfr.frequencies, dtype=float)
        y = np.log10(np.maximum(f, _TINY)) if log_y else f
        # Fit on the ordinary rows: edge rows carry nominal frequencies only.
        edges = set(int(i) for i in tfr.edge_row_indices)
        inner = [r for r in range(n_rows) if r not in edges]
        if len(inner) >= 2:
            r_a, r_b = inner[0], inner[-1]
            dy = (y[r_b] - y[r_a]) / (r_b - r_a)
            y0 = y[r_a] - r_a * dy
        else:
            dy, y0 = 1.0, 0.0
        if not np.isfinite(dy) or dy <= 0:
            dy = 1.0
        if rows_linear and not y0 + (n_rows - 0.5) * dy > 0:
            rows_linear = False     # no positive frequency to put on a log axis
        return cls(float(times[0]), dx_col, float(y0), float(dy), n_rows, n_cols,
                   log_y or rows_linear, rows_linear)

    # -- the non-affine rows (an STFT on a log axis) ---------------------------
    def _f_floor(self) -> float:
        """Lowest frequency drawn: row 0's lower edge, or - when that is <= 0 (the DC
        row) - half the upper edge, so the DC row shows as one octave."""
        lo = self.y0 - 0.5 * self.dy_row
        return lo if lo > 0 else 0.5 * (self.y0 + 0.5 * self.dy_row)

    def _y_span(self) -> tuple[float, float]:
        return (float(np.log10(self._f_floor())),
                float(np.log10(self.y0 + (self.n_rows - 0.5) * self.dy_row)))

    def display_rows(self, n_cols: int | None = None,
                     max_bytes: int = DISPLAY_IMAGE_BYTES) -> int:
        """Rows of the image as drawn: ``n_rows``, or for ``rows_linear`` enough rows
        uniform in y for the top row to get one of its own (at most 4 ``n_rows`` and
        ``max_bytes`` of float32 over ``n_cols`` columns)."""
        if not self.rows_linear:
            return self.n_rows
        lo, hi = self._y_span()
        top = np.log10((self.y0 + (self.n_rows - 0.5) * self.dy_row)
                       / max(self.y0 + (self.n_rows - 1.5) * self.dy_row, _TINY))
        want = int(np.ceil((hi - lo) / max(top, 1e-12)))
        cap = max(self.n_rows, max_bytes // (4 * max(int(n_cols or self.n_cols), 1)))
        return int(max(self.n_rows, min(want, 4 * self.n_rows, cap)))

    def display_row_starts(self, n_display: int) -> np.ndarray:
        """For each of ``n_display`` drawn rows (bottom first), the first TFR row it
        shows [shape=(n_display,), int64, non-decreasing]: drawn row i shows TFR rows
        ``starts[i] .. max(starts[i], starts[i + 1] - 1)``."""
        lo, hi = self._y_span()
        y = lo + (hi - lo) * np.arange(n_display) / n_display
        row = (10.0 ** y - self.y0) / self.dy_row
        return np.clip(np.floor(row + 0.5), 0, self.n_rows - 1).astype(np.int64)

    def display_image(self, img: np.ndarray, n_display: int | None = None) -> np.ndarray:
        """``img`` (rows x columns: magnitudes, dB or a boolean mask) as drawn: itself,
        or for ``rows_linear`` resampled to rows uniform in y, each the maximum (for
        masks: any) of the TFR rows it covers, so no peak and no painted cell is lost."""
        if not self.rows_linear:
            return img
        n = self.display_rows(img.shape[1]) if n_display is None else int(n_display)
        starts = self.display_row_starts(n)
        op = np.logical_or if img.dtype == bool else np.fmax
        return op.reduceat(img, starts, axis=0)

    def rows_per_y(self, y) -> np.ndarray:
        """TFR rows per display unit of y at display ``y`` (the local scale)."""
        y = np.asarray(y, dtype=float)
        if self.rows_linear:
            return np.log(10.0) * 10.0 ** y / self.dy_row
        return np.full(y.shape, 1.0 / self.dy_row)

    # -- rectangle the ImageItem covers ---------------------------------------
    def rect(self) -> tuple[float, float, float, float]:
        """(x, y, width, height) of the whole image in display coordinates."""
        x, w = self.x0 - 0.5 * self.dx_col, self.n_cols * self.dx_col
        if self.rows_linear:
            lo, hi = self._y_span()
            return (x, lo, w, hi - lo)
        return (x, self.y0 - 0.5 * self.dy_row, w, self.n_rows * self.dy_row)

    # -- conversions ----------------------------------------------------------
    def freq_to_y(self, freq):
        f = np.asarray(freq, dtype=float)
        return np.log10(np.maximum(f, _TINY)) if self.log_y else f

    def y_to_freq(self, y):
        y = np.asarray(y, dtype=float)
        return 10.0 ** y if self.log_y else y

    def to_index(self, x, y):
        """Fractional (row, col) of display points; cell centres are integers."""
        col = (np.asarray(x, dtype=float) - self.x0) / self.dx_col
        y = np.asarray(y, dtype=float)
        if self.rows_linear:
            row = (10.0 ** y - self.y0) / self.dy_row
        else:
            row = (y - self.y0) / self.dy_row
        return row, col

    def to_display(self, row, col):
        """Display (x, y) of fractional (row, col)."""
        row = np.asarray(row, dtype=float)
        if self.rows_linear:
            y = np.log10(np.maximum(self.y0 + row * self.dy_row, self._f_floor()))
        else:
            y = self.y0 + row * self.dy_row
        return self.x0 + np.asarray(col, dtype=float) * self.dx_col, y

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """Integer (row, col) under a display point, or None outside the image."""
        x0, y0, w, h = self.rect()
        if self.rows_linear and not y0 <= float(y) <= y0 + h:
            return None
        row, col = self.to_index(x, y)
        r, c = int(np.floor(float(row) + 0.5)), int(np.floor(float(col) + 0.5))
        if 0 <= r < self.n_rows and 0 <= c < self.n_cols:
            return r, c
        return None
