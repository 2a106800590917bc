"""Propose bands around a transform's strongest ridges.

A ridge is a path through the time-frequency image that follows a
component's energy maximum (its instantaneous frequency). ssqueezepy's
``extract_ridges`` finds it by forward-backward dynamic programming on
``-log(|C|^2 / max_col |C|^2) + penalty * (d freq)^2`` (Iatsenko et al.,
2013). Each ridge here becomes an ordinary, editable :class:`~core.bands.Band`
whose edges sit ``bandwidth_rows`` rows above and below the ridge.

Conventions handled here, not by callers:

* ssqueezepy wants its own row order: CWT kinds with scales ascending
  (frequencies descending), STFT kinds with frequencies ascending. The
  transform's rows (row 0 = lowest frequency) are flipped for CWT kinds and
  the ridge indices flipped back.
* The jump penalty is measured in log-frequency for CWT kinds (ssqueezepy
  takes ``log(scales)``, and log-scale distance equals log-frequency
  distance) and in cycles per sample for STFT kinds (ssqueezepy's default
  ``fs=1``), so ``penalty`` means the same thing as in ssqueezepy's docs
  whatever the signal's units.
* A CWT's edge rows are never part of a ridge.
* Ridges are found one at a time and ``bandwidth_rows`` rows on each side of
  each are cleared before the next (ssqueezepy's own clearing skips ridges
  within ``bw`` rows of the first row).
* Long signals: the energy is averaged over blocks of columns down to at
  most ``max_frames`` columns before tracking (the dynamic programme costs
  ``n_frames * n_rows**2``); band edges follow the block values.
"""

from __future__ import annotations

import numpy as np

from core.bands import PALETTE, Band
from core.errors import ParameterError
from core.masks import inner_rows

__all__ = ["default_bandwidth_rows", "ridge_rows", "propose_bands"]


def default_bandwidth_rows(spec) -> int:
    """Half-width of a proposed band in rows: about a quarter octave for CWT
    kinds (``nv / 4``), the window's main-lobe half-width for STFT kinds."""
    if spec.is_cwt:
        return max(2, int(round(spec.nv / 4)))
    win_len = spec.win_len or spec.n_fft
    return max(2, int(round(2 * spec.n_fft / win_len)))


def _block_energy(C: np.ndarray, max_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """|C|^2 averaged over blocks of columns -> (energy [rows, n_blocks], block of each frame)."""
    n = C.shape[1]
    if n <= max_frames:
        return np.abs(C) ** 2, np.arange(n)
    edges = np.linspace(0, n, max_frames + 1).round().astype(np.intp)
    e = np.abs(C) ** 2
    sums = np.add.reduceat(e, edges[:-1], axis=1)
    energy = sums / np.diff(edges)[None, :]
    block = np.repeat(np.arange(max_frames), np.diff(edges))
    return energy, block


def ridge_rows(tfr, *, k: int = 2, penalty: float = 2.0, bandwidth_rows: int | None = None,
               max_frames: int = 2048) -> np.ndarray:
    """Row index of each of the ``k`` strongest ridges at every frame.

    Parameters
    ----------
    tfr : TFR
    k : int >= 1
        Number of ridges, strongest first.
    penalty : float >= 0
        Cost of frequency jumps (ssqueezepy's ``penalty``; try 0.5 ... 40).
    bandwidth_rows : int >= 1 or None
        Rows cleared on each side of a ridge before the next is tracked.
        None = :func:`default_bandwidth_rows`.
    max_frames : int >= 16
        Columns are block-averaged down to this many before tracking.

    Returns
    -------
    np.ndarray [shape=(k, n_frames), int64]
        TFR rows (row 0 = lowest frequency), never an edge row.
    """
    from ssqueezepy.ridge_extraction import extract_ridges  # numba: imported when used

    k = int(k)
    if k < 1:
        raise ParameterError(f"k={k!r} must be >= 1")
    penalty = float(penalty)
    if not np.isfinite(penalty) or penalty < 0:
        raise ParameterError(f"penalty={penalty!r} must be >= 0")
    bw = default_bandwidth_rows(tfr.spec) if bandwidth_rows is None else int(bandwidth_rows)
    if bw < 1:
        raise ParameterError(f"bandwidth_rows={bandwidth_rows!r} must be >= 1")
    if int(max_frames) < 16:
        raise ParameterError(f"max_frames={max_frames!r} must be >= 16")
    a, b = inner_rows(tfr)
    if b - a < 2:
        raise ParameterError("the transform has fewer than 2 rows besides its edge rows")
    f = np.asarray(tfr.frequencies, dtype=np.float64)[a:b]
    cwt = bool(tfr.spec.is_cwt)
    if cwt and np.any(f <= 0):
        raise ParameterError("CWT rows must have positive frequencies to track ridges")

    energy, block = _block_energy(tfr.coefficients[a:b], int(max_frames))
    if cwt:  # ssqueezepy order: scales ascending = frequencies descending
        energy, scales, transform = energy[::-1], 1.0 / f[::-1], "cwt"
    else:
        scales, transform = f * float(tfr.dx), "stft"
    energy = np.ascontiguousarray(energy)
    n_inner = b - a
    out = np.empty((k, tfr.n_frames), dtype=np.int64)
    for i in range(k):
        if not energy.any():  # nothing left: repeat the last ridge rather than invent one
            out[i:] = out[i - 1] if i else (a + b) // 2
            break
        tf = np.sqrt(energy).astype(np.complex128)
        idx = np.asarray(extract_ridges(tf, scales, penalty=penalty, n_ridges=1, bw=bw,
                                        transform=transform, parallel=False))[:, 0]
        rows = (n_inner - 1 - idx) if cwt else idx  # back to row 0 = lowest
        out[i] = a + rows[block]
        lo, hi = np.maximum(idx - bw, 0), np.minimum(idx + bw + 1, n_inner)
        clear = (np.arange(n_inner)[:, None] >= lo) & (np.arange(n_inner)[:, None] < hi)
        energy[clear] = 0.0
    return out


def _envelope(values: np.ndarray, at: np.ndarray, reduce) -> np.ndarray:
    """At each vertex frame, ``reduce`` of ``values`` over the segments on either side.

    A polyline through these values stays on the far side of ``values`` everywhere
    (above it for ``np.maximum``, below for ``np.minimum``), however it is
    interpolated between vertices, so the band keeps containing its ridge.
    """
    seg = reduce.reduceat(values, at[:-1])            # segment j: frames at[j] .. at[j+1]-1
    seg = reduce(seg, values[at[1:]])                  # ... and its right end frame
    left = np.concatenate([seg[:1], seg])
    right = np.concatenate([seg, seg[-1:]])
    return reduce(left, right)


def propose_bands(tfr, *, k: int = 2, penalty: float = 2.0, bandwidth_rows: int | None = None,
                  max_vertices: int = 64, max_frames: int = 2048) -> list[Band]:
    """Bands around the ``k`` strongest ridges, ready to edit.

    Parameters
    ----------
    tfr : TFR
    k, penalty, bandwidth_rows, max_frames
        As for :func:`ridge_rows`; ``bandwidth_rows`` is also the band's
        half-width in rows (clipped to the ordinary rows).
    max_vertices : int >= 2
        Vertices per edge. Vertices sit at evenly spaced frames; each takes
        the highest (upper edge) or lowest (lower edge) value over the two
        segments it bounds, so the simplified band still contains the ridge
        +/- ``bandwidth_rows`` at every frame.

    Returns
    -------
    list of Band
        Strongest first, named "ridge 1", "ridge 2" ..., coloured from
        :data:`core.bands.PALETTE`; ``(time, frequency)`` vertices in the
        signal's units spanning the first to the last frame.
    """
    m = int(max_vertices)
    if m < 2:
        raise ParameterError(f"max_vertices={max_vertices!r} must be >= 2")
    bw = default_bandwidth_rows(tfr.spec) if bandwidth_rows is None else int(bandwidth_rows)
    rows = ridge_rows(tfr, k=k, penalty=penalty, bandwidth_rows=bw, max_frames=max_frames)
    a, b = inner_rows(tfr)
    f = np.asarray(tfr.frequencies, dtype=np.float64)
    t = np.asarray(tfr.times, dtype=np.float64)
    n = t.size
    at = np.unique(np.linspace(0, n - 1, min(m, n)).round().astype(np.intp))
    bands = []
    for i, r in enumerate(rows):
        upper = f[np.clip(r + bw, a, b - 1)]
        lower = f[np.clip(r - bw, a, b - 1)]
        if at.size >= 2:
            up_v = _envelope(upper, at, np.maximum)
            lo_v = _envelope(lower, at, np.minimum)
        else:
            up_v, lo_v = upper[at], lower[at]
        bands.append(Band(upper=np.column_stack([t[at], up_v]),
                          lower=np.column_stack([t[at], lo_v]),
                          name=f"ridge {i + 1}", color=PALETTE[i % len(PALETTE)]))
    return bands
