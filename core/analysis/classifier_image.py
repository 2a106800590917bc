"""A transform as the magnitude image a classifier is trained on.

The seed workflow turns each spectrum into ``abs(ssq_cwt(x, wavelet="gmw",
nv=64, ...)[0])`` and feeds it to a CNN. :func:`classifier_image` gives that
image from a :class:`~phasebrush.core.tf.transforms.TFR`: the ordinary rows
only (the edge rows PhaseBrush adds for exact inversion are not part of
ssqueezepy's output, and no classifier saw them), in ssqueezepy's row order
(row 0 = highest frequency) unless asked otherwise, linear or in dB, at full
resolution or resized with Pillow's area (box) filter, the resampling
torchvision and PIL-based data loaders use for downscaling.

Row order: ssqueezepy's ``ssq_cwt`` and ``cwt`` return row 0 = the smallest
scale = the highest frequency; PhaseBrush's TFR stores row 0 = the lowest.
"high-first" (default) reproduces ssqueezepy; "low-first" keeps the TFR's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phasebrush.core.errors import ParameterError

__all__ = ["ClassifierImage", "classifier_image", "ROW_ORDERS", "SCALES"]

ROW_ORDERS = ("high-first", "low-first")
SCALES = ("linear", "db")


@dataclass(frozen=True)
class ClassifierImage:
    """A magnitude image and what its rows are.

    Attributes
    ----------
    values : np.ndarray [shape=(height, width), float32]
        ``|C|`` (scale "linear") or ``20 log10 |C|`` clipped below at the floor
        (scale "db"), per pixel.
    row_frequencies : np.ndarray [shape=(height, 2), float64]
        The lowest and highest source-row frequency each image row covers,
        in cycles per signal unit (equal at full resolution), in image order.
    source_rows : np.ndarray [shape=(height, 2), int64]
        First and last TFR row (row 0 = lowest frequency) each image row covers.
    row_order : {"high-first", "low-first"}
    scale : {"linear", "db"}
    db_floor : float or None
        The floor of a dB image (dB), None for linear.
    """

    values: np.ndarray
    row_frequencies: np.ndarray
    source_rows: np.ndarray
    row_order: str
    scale: str
    db_floor: float | None


def _box_resize(a: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F")
    return np.asarray(im.resize((width, height), resample=Image.Resampling.BOX),
                      dtype=np.float32)


def classifier_image(tfr, *, scale: str = "linear", size: tuple[int, int] | None = None,
                     row_order: str = "high-first", db_range: float = 120.0) -> ClassifierImage:
    """The magnitude image of ``tfr``'s ordinary rows.

    Parameters
    ----------
    tfr : TFR
    scale : {"linear", "db"}
        dB images are ``20 log10 |C|`` with everything below ``peak - db_range``
        set to that floor (a classifier gets no -inf).
    size : (width, height) or None
        Resize to this many pixels (area filter, on the linear magnitude, before
        any dB); None keeps one pixel per cell.
    row_order : {"high-first", "low-first"}
    db_range : float > 0
        dB images only.

    Raises
    ------
    ParameterError
        Unknown scale or row order, a bad size or range.
    """
    if scale not in SCALES:
        raise ParameterError(f"scale={scale!r} must be one of {SCALES}")
    if row_order not in ROW_ORDERS:
        raise ParameterError(f"row_order={row_order!r} must be one of {ROW_ORDERS}")
    if not (np.isfinite(db_range) and db_range > 0):
        raise ParameterError(f"db_range={db_range!r} must be a positive number of dB")
    edges = set(tfr.edge_row_indices)
    rows = np.array([r for r in range(tfr.n_rows) if r not in edges], dtype=np.int64)
    mag = np.abs(tfr.coefficients[rows]).astype(np.float32)
    freqs = np.asarray(tfr.frequencies, dtype=np.float64)[rows]
    if size is None:
        first = last = np.arange(rows.size)
    else:
        width, height = (int(v) for v in size)
        if width < 1 or height < 1:
            raise ParameterError(f"size={size!r}: width and height must be >= 1")
        mag = _box_resize(mag, width, height)
        # the box filter's support of output row i: source rows [i, i + 1) * n / height
        n = rows.size
        first = np.floor(np.arange(height) * n / height).astype(np.int64)
        last = np.maximum(first, np.ceil((np.arange(height) + 1) * n / height).astype(np.int64)
                          - 1)
    row_freqs = np.stack([freqs[first], freqs[last]], axis=1)
    source = np.stack([rows[first], rows[last]], axis=1)
    floor = None
    if scale == "db":
        peak = float(mag.max()) if mag.size else 0.0
        top = 20.0 * np.log10(peak) if peak > 0 else 0.0
        floor = top - float(db_range)
        with np.errstate(divide="ignore"):
            mag = np.maximum(20.0 * np.log10(mag), floor).astype(np.float32)
    if row_order == "high-first":
        mag, row_freqs, source = mag[::-1], row_freqs[::-1], source[::-1]
    return ClassifierImage(np.ascontiguousarray(mag), np.ascontiguousarray(row_freqs),
                           np.ascontiguousarray(source), row_order, scale, floor)
