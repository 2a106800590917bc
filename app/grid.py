"""Where a TFR's cells sit in the image plot, and back (plain numpy, no Qt).

The time-frequency image is drawn as one ImageItem covering a rectangle in
*display* coordinates: x is the signal axis (time, or cm^-1 ...), y is the
frequency for STFT kinds and log10(frequency) for CWT kinds, whose rows are
log-spaced. Cells are uniform in display units, so display <-> (row, column)
is affine in both directions, and the physical frequency is ``10**y`` (CWT)
or ``y`` (STFT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ImageGrid"]


@dataclass(frozen=True)
class ImageGrid:
    """Affine map between TFR cells and display coordinates.

    Attributes
    ----------
    x0, dx_col : float
        Display x of column 0's centre, and of one column's width (signal unit).
    y0, dy_row : float
        Display y of row 0's centre, and one row's height (Hz, or decades for
        log axes).
    n_rows, n_cols : int
    log_y : bool
        Display y is log10(frequency).
    """

    x0: float
    dx_col: float
    y0: float
    dy_row: float
    n_rows: int
    n_cols: int
    log_y: bool

    @classmethod
    def from_tfr(cls, tfr) -> ImageGrid:
        """Grid for ``tfr`` (a core TFR); CWT kinds get a log-frequency y."""
        n_rows, n_cols = int(tfr.n_rows), int(tfr.n_frames)
        # (a long recording's grid computes two column times, not all of them)
        times = (tfr.column_times(0, min(2, n_cols)) if getattr(tfr, "is_long", False)
                 else np.asarray(tfr.times, dtype=float))
        dx_col = float(times[1] - times[0]) if times.size > 1 else float(tfr.dx)
        log_y = bool(tfr.spec.is_cwt)
        f = np.asarray(tfr.frequencies, dtype=float)
        y = np.log10(np.maximum(f, np.finfo(float).tiny)) if log_y else f
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
        return cls(float(times[0]), dx_col, float(y0), float(dy), n_rows, n_cols, log_y)

    # -- rectangle the ImageItem covers ---------------------------------------
    def rect(self) -> tuple[float, float, float, float]:
        """(x, y, width, height) of the whole image in display coordinates."""
        return (self.x0 - 0.5 * self.dx_col, self.y0 - 0.5 * self.dy_row,
                self.n_cols * self.dx_col, self.n_rows * self.dy_row)

    # -- conversions ----------------------------------------------------------
    def freq_to_y(self, freq):
        f = np.asarray(freq, dtype=float)
        return np.log10(np.maximum(f, np.finfo(float).tiny)) if self.log_y else f

    def y_to_freq(self, y):
        y = np.asarray(y, dtype=float)
        return 10.0 ** y if self.log_y else y

    def to_index(self, x, y):
        """Fractional (row, col) of display points; cell centres are integers."""
        col = (np.asarray(x, dtype=float) - self.x0) / self.dx_col
        row = (np.asarray(y, dtype=float) - self.y0) / self.dy_row
        return row, col

    def to_display(self, row, col):
        """Display (x, y) of fractional (row, col)."""
        return (self.x0 + np.asarray(col, dtype=float) * self.dx_col,
                self.y0 + np.asarray(row, dtype=float) * self.dy_row)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """Integer (row, col) under a display point, or None outside the image."""
        row, col = self.to_index(x, y)
        r, c = int(np.floor(float(row) + 0.5)), int(np.floor(float(col) + 0.5))
        if 0 <= r < self.n_rows and 0 <= c < self.n_cols:
            return r, c
        return None

    def pixels_per_cell(self, px_per_x: float, px_per_y: float) -> tuple[float, float]:
        """Screen pixels per row and per column, given the view's pixel scale."""
        return abs(self.dy_row * px_per_y), abs(self.dx_col * px_per_x)
