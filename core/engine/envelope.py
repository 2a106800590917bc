"""Min/max envelopes of a long 1-D array, for drawing any range at screen resolution.

A curve of 26 M samples costs a plotting library 16 bytes a sample (x and y
as float64) and a redraw of every point; what a screen can show is two
values (the min and the max) per pixel. :class:`Envelope` keeps the min and
max of every block of ``block`` samples (float32, 8 bytes per block), so the
envelope of any range at any width costs O(width + range / block), and the
exact samples are returned when the range is narrow enough to show them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Envelope"]


class Envelope:
    """Block min/max of ``y`` [shape=(n,), float], updatable in place.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Kept by reference (the exact samples of a narrow range are read from it).
    block : int
        Samples per block.
    """

    def __init__(self, y, *, block: int = 1024):
        #: The array given (the owner compares it to know whether to rebuild).
        self.source = y
        self.y = np.asarray(y).ravel()
        self.block = int(block)
        nb = -(-len(self.y) // self.block)
        self.lo = np.empty(nb, np.float32)
        self.hi = np.empty(nb, np.float32)
        self.update(0, len(self.y))

    def __len__(self) -> int:
        return len(self.y)

    def update(self, i0: int, i1: int) -> None:
        """Samples ``[i0, i1)`` changed: recompute their blocks."""
        B, n = self.block, len(self.y)
        b0, b1 = int(i0) // B, -(-min(int(i1), n) // B)
        step = max(1, (1 << 22) // B)   # ~4 M samples at a time: no big temporaries
        for a in range(b0, b1, step):
            b = min(a + step, b1)
            seg = self.y[a * B:min(b * B, n)]
            pad = (b - a) * B - len(seg)
            if pad:
                seg = np.concatenate([seg, np.full(pad, seg[-1], seg.dtype)])
            seg = seg.reshape(b - a, B)
            self.lo[a:b] = seg.min(axis=1)
            self.hi[a:b] = seg.max(axis=1)

    def curve(self, i0: int, i1: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Points to draw samples ``[i0, i1)`` at ``width`` pixels.

        Returns
        -------
        index, value : np.ndarray [float64]
            Fractional sample indices and values: the samples themselves when
            there are at most ``2 * width`` of them, else per pixel its min
            then its max (2 points per pixel, at the pixel's first and middle
            sample), so peaks survive at any zoom.
        """
        n = len(self.y)
        i0, i1 = max(0, int(i0)), min(n, int(i1))
        width = max(1, int(width))
        if i1 <= i0:
            return np.zeros(0), np.zeros(0)
        if i1 - i0 <= 2 * width:
            idx = np.arange(i0, i1)
            return idx.astype(float), np.asarray(self.y[i0:i1], dtype=float)
        edges = i0 + (np.arange(width + 1, dtype=np.int64) * (i1 - i0)) // width
        B = self.block
        if (i1 - i0) // width >= 4 * B:
            # >= 4 whole blocks per pixel: reduce the block extremes (edges at block
            # granularity; the last partial block is read with its pixel)
            b_first = int(edges[0]) // B
            b_last = min(-(-int(edges[-1]) // B), len(self.lo))
            rel = edges[:-1] // B - b_first
            lo = np.minimum.reduceat(self.lo[b_first:b_last], rel)
            hi = np.maximum.reduceat(self.hi[b_first:b_last], rel)
            starts = edges[:-1]
            mids = (edges[:-1] + edges[1:]) // 2
        else:
            seg = np.asarray(self.y[i0:i1])
            starts = edges[:-1]
            rel = starts - i0
            lo = np.minimum.reduceat(seg, rel)
            hi = np.maximum.reduceat(seg, rel)
            mids = (edges[:-1] + edges[1:]) // 2
        idx = np.empty(2 * len(starts))
        val = np.empty(2 * len(starts))
        idx[0::2], idx[1::2] = starts, mids
        val[0::2], val[1::2] = lo, hi
        return idx, val
