"""Block plans and padded block segments for the block-wise engine.

A block covers the columns ``[c0, c1)``; to compute them, a segment of the
whole-signal PADDED signal reaching ``overlap`` samples beyond each side is
taken, so that the blocks' results join without seams. At the signal's true
ends the segment reproduces the whole-signal path's reflect padding (and its
circular wrap on the ``n_pad`` grid), so the first and last blocks agree too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phasebrush.core.errors import Cancelled, ParameterError

__all__ = ["BlockPlan", "plan_blocks", "padded_indices", "padded_segment", "Steps"]


@dataclass(frozen=True)
class BlockPlan:
    """Columns ``[0, n_columns)`` in blocks of ``block_length``.

    Attributes
    ----------
    n_columns : int
    block_length : int >= 1
        Columns per block (the last block may be shorter).
    """

    n_columns: int
    block_length: int

    @property
    def n_blocks(self) -> int:
        return -(-self.n_columns // self.block_length)

    def spans(self):
        """Yield ``(c0, c1)`` half-open column ranges, ascending."""
        for c0 in range(0, self.n_columns, self.block_length):
            yield c0, min(self.n_columns, c0 + self.block_length)


def plan_blocks(n_columns: int, block_length: int) -> BlockPlan:
    """A :class:`BlockPlan`; ParameterError for a non-positive length."""
    n_columns, block_length = int(n_columns), int(block_length)
    if n_columns < 1:
        raise ParameterError(f"n_columns={n_columns}: at least 1 column is needed")
    if block_length < 1:
        raise ParameterError(f"block_length={block_length} must be >= 1")
    return BlockPlan(n_columns, block_length)


def padded_indices(p0: int, length: int, n_samples: int, n_pad: int,
                   pad_left: int) -> np.ndarray:
    """Signal indices of the padded samples ``xp[(p0 + u) mod n_pad]``, u < length.

    ``xp = np.pad(x, (pad_left, n_pad - n - pad_left), 'reflect')``: numpy's
    reflect (no edge repeat) is periodic with period ``2 (n - 1)``, also for
    pads longer than the signal. The FFT grid of the whole-signal path is
    circular, hence the ``mod n_pad``.

    Returns
    -------
    np.ndarray [shape=(length,), intp], values in [0, n_samples)
    """
    j = np.mod(np.arange(p0, p0 + int(length), dtype=np.int64), int(n_pad)) - int(pad_left)
    n = int(n_samples)
    if n == 1:
        return np.zeros(len(j), dtype=np.intp)
    period = 2 * (n - 1)
    j = np.mod(j, period)
    return np.where(j >= n, period - j, j).astype(np.intp)


def padded_segment(y: np.ndarray, p0: int, length: int, n_pad: int,
                   pad_left: int) -> np.ndarray:
    """``xp[(p0 + u) mod n_pad]`` for u < length [shape=(length,), float64]."""
    return np.asarray(y, dtype=np.float64)[padded_indices(p0, length, len(y), n_pad, pad_left)]


class Steps:
    """Cancel check and progress report of one long computation.

    ``check(fraction)`` raises :class:`~core.errors.Cancelled` once
    ``cancel()`` is true and reports ``lo + fraction * (hi - lo)``;
    :meth:`part` hands a stage its share.
    """

    __slots__ = ("cancel", "progress", "lo", "hi", "what")

    def __init__(self, cancel=None, progress=None, lo=0.0, hi=1.0, what="computation"):
        self.cancel, self.progress, self.lo, self.hi, self.what = cancel, progress, lo, hi, what

    @classmethod
    def of(cls, cancel, progress, what="computation") -> Steps:
        return cancel if isinstance(cancel, Steps) else cls(cancel, progress, what=what)

    def part(self, a: float, b: float) -> Steps:
        w = self.hi - self.lo
        return Steps(self.cancel, self.progress, self.lo + a * w, self.lo + b * w, self.what)

    def check(self, fraction: float | None = None) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled(f"{self.what} cancelled")
        if self.progress is not None and fraction is not None:
            f = min(1.0, max(0.0, float(fraction)))
            self.progress(self.lo + f * (self.hi - self.lo))
