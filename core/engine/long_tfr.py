"""The grid of a transform too large to hold, and when a document needs one.

A :class:`LongTFR` has every attribute of :class:`core.tf.transforms.TFR` that
describes the grid (row frequencies, inverse weights, the axis) but no
coefficients: the app shows it through a display source
(:mod:`core.engine.display`), paints on it with geometry and tiled masks, and
inverts its selections with :mod:`core.engine.stream`. Its column times are an
affine axis computed on demand for a column range, so a 1-hour recording
(159 M columns) never holds a times array either.

:func:`document_bytes` is what the whole-signal path of the GUI document costs
(coefficients, the row cumulative sums of the fast inverse, the dB image and a
paint mask, all rows x columns); :func:`needs_long_mode` compares it with a
limit: ``above_bytes`` for the plain kinds, a third of it for the
synchrosqueezed ones (see :data:`SSQ_LONG_FRACTION`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phasebrush.core.errors import ParameterError
from phasebrush.core.tf import transforms as T
from phasebrush.core.tf.masks import Grid

__all__ = ["LongTFR", "long_tfr", "document_bytes", "needs_long_mode", "long_spec",
           "LONG_KINDS", "DEFAULT_LONG_ABOVE_BYTES", "SSQ_LONG_FRACTION", "LONG_AUDIO_FMIN"]

#: Kinds the engine displays, paints and inverts block by block (STFT: hop 1; the
#: SSQ-STFT has no other hop).
LONG_KINDS = ("cwt", "stft", "ssq_cwt", "ssq_stft")
#: The whole-signal document above this many bytes goes long. The whole path keeps
#: ~29 bytes per cell; it stays for what it does well (the 4-s demos, ~1.4 GB,
#: spectra) and hands over at ~5 s of 44.1 kHz audio at the default 32 voices.
DEFAULT_LONG_ABOVE_BYTES = 3 << 30
#: The synchrosqueezed kinds go long above this fraction of ``above_bytes`` (1 GiB at the
#: default). Their whole path holds ``Wx``, ``dWx`` and ``Tx`` together (ssqueezepy's
#: transients, which :func:`document_bytes` counts through the transform's peak): the
#: 4-s speech demo in SSQ-CWT costs 2.15 GiB (2.31 GB measured in the GUI), 1.49 GiB
#: from 20 Hz, against 1.29 GiB for its plain CWT. The long path shows and inverts it
#: within the issue's 1 GB, block by block at about the cost of the whole transform, so
#: it takes over at a third of the plain kinds' limit: the demos' SSQ-CWT (and an
#: SSQ-STFT of n_fft 1024, 1.96 GiB) go long, the demos' CWT, STFT and SSQ-STFT of
#: n_fft 256 (0.56 GiB) stay whole, where edits are cheaper (cumulative sums).
SSQ_LONG_FRACTION = 1 / 3
#: The CWT's lowest row for a long audio recording when the user set none (Hz): the
#: default rows reach ~2 / duration (0.003 Hz for 10 minutes), whose wavelets are
#: minutes long - sub-audio, and the most expensive rows of all for the engine.
LONG_AUDIO_FMIN = 20.0


def long_spec(spec: T.TransformSpec, unit: str, dx: float) -> T.TransformSpec:
    """``spec`` for a long recording: an audio CWT without fmin gets :data:`LONG_AUDIO_FMIN`
    (when the sample rate allows it); anything else unchanged."""
    from dataclasses import replace

    if spec.is_cwt and spec.fmin is None and unit == "s" and 0.5 / dx > 4 * LONG_AUDIO_FMIN:
        return replace(spec, fmin=LONG_AUDIO_FMIN)
    return spec


@dataclass(frozen=True, eq=False)
class LongTFR:
    """A transform's grid without coefficients (the engine computes those on demand).

    Attributes
    ----------
    frequencies : np.ndarray [shape=(n_rows,), float64, ascending]
        Row centre frequency, cycles per signal unit (edge rows nominal).
    row_weights : np.ndarray [shape=(n_rows,), float64]
        One-integral inverse weights, as the whole transform's.
    offset : float
    spec : TransformSpec
    n_samples, n_frames : int
        Signal length and number of columns (hop 1: equal).
    dx, x0 : float
        Sample spacing and first axis value (signal unit).
    unit : str
    edge_row_indices : tuple of int
    """

    frequencies: np.ndarray
    row_weights: np.ndarray
    offset: float
    spec: T.TransformSpec
    n_samples: int
    n_frames: int
    dx: float
    x0: float = 0.0
    unit: str = "s"
    edge_row_indices: tuple[int, ...] = ()

    #: Tells views and models apart from a whole TFR without isinstance checks.
    is_long = True

    @property
    def n_rows(self) -> int:
        return int(len(self.frequencies))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_rows, int(self.n_frames))

    @property
    def hop(self) -> int:
        return int(self.spec.hop) if self.spec.kind in ("stft", "ssq_stft") else 1

    @property
    def col_dx(self) -> float:
        """Axis distance between two columns (signal unit)."""
        return self.dx * self.hop

    def column_times(self, c0: int = 0, c1: int | None = None, step: int = 1) -> np.ndarray:
        """Axis values of columns ``c0, c0 + step, ... < c1`` [float64, signal unit]."""
        c1 = self.n_frames if c1 is None else int(c1)
        return self.x0 + self.col_dx * np.arange(int(c0), c1, int(step), dtype=np.float64)

    @property
    def times(self) -> np.ndarray:
        """Every column's time [shape=(n_frames,), float64] - 8 bytes per column;
        long-mode code asks :meth:`column_times` for a range instead."""
        return self.column_times()

    def time_to_col(self, t) -> np.ndarray:
        """Fractional column of axis values ``t``."""
        return (np.asarray(t, dtype=float) - self.x0) / self.col_dx

    def grid(self, c0: int = 0, c1: int | None = None, step: int = 1) -> Grid:
        """A :class:`core.tf.masks.Grid` of the columns ``c0:c1:step`` (for band ranges)."""
        return Grid(self.frequencies, self.column_times(c0, c1, step), self.edge_row_indices,
                    log_rows=bool(self.spec.is_cwt), unit=self.unit)


def long_tfr(signal, spec: T.TransformSpec) -> LongTFR:
    """The grid ``transform(signal, spec)`` would have, without computing it.

    Parameters
    ----------
    signal : core.signal.Signal
    spec : TransformSpec
        kind in :data:`LONG_KINDS` (STFT with hop 1).

    Raises
    ------
    ParameterError
        A kind the engine does not compute block by block, or settings the
        whole transform would refuse too.
    """
    from phasebrush.core.engine import cwt_blocks as CB
    from phasebrush.core.engine.ssq_blocks import ssq_grid

    T._check_spec(spec)
    n, dx = int(signal.n), float(signal.dx)
    if spec.kind in ("ssq_cwt", "ssq_stft"):
        # the squeezed rows: their frequencies and weights, not the plain transform's
        f, w, edge = ssq_grid(spec, n, dx=dx)
        offset = 0.0 if edge or spec.kind == "ssq_stft" else float(np.mean(signal.y))
        return LongTFR(f, w, offset, spec, n, n, dx, float(signal.x0), signal.unit,
                       tuple(int(i) for i in edge))
    if spec.kind == "cwt":
        g = CB.cwt_geometry(spec, n, dx=dx)
        offset = 0.0 if spec.edge_rows else float(np.mean(signal.y))
        return LongTFR(np.array(g.frequencies, float), np.array(g.row_weights, float), offset,
                       spec, n, n, dx, float(signal.x0), signal.unit,
                       tuple(int(i) for i in g.edge_row_indices))
    if spec.kind == "stft" and int(spec.hop) == 1:
        n_fft = int(spec.n_fft)
        if n_fft > n:
            raise ParameterError(f"n_fft={n_fft} is larger than the signal ({n} samples)")
        freqs = np.arange(n_fft // 2 + 1) / (n_fft * dx)
        return LongTFR(freqs, np.asarray(T.stft_row_weights(spec), float), 0.0, spec, n, n, dx,
                       float(signal.x0), signal.unit, ())
    raise ParameterError(
        f"kind {spec.kind!r} (hop {spec.hop}) is not computed block by block yet; for a "
        f"recording this long use hop 1")


def document_bytes(n_samples: int, spec: T.TransformSpec, dx: float = 1.0) -> int:
    """Peak bytes of the GUI document's whole-signal path for ``n_samples``.

    The transform's own peak (:func:`core.tf.transforms.estimate_transform_bytes`;
    for the SSQ kinds ``Wx``, ``dWx`` and ``Tx`` together, and an SSQ-CWT's
    filterbank) plus what the document keeps beside the coefficients: the
    float64 row cumulative sums of the fast inverse, the float32 dB image and
    one bool paint mask, each rows x columns. The 4-s speech demo in SSQ-CWT:
    2.15 GiB (the GUI measured 2.31 GB).
    """
    from phasebrush.core.tf.transforms import estimate_transform_bytes

    n = int(n_samples)
    if spec.is_cwt:
        rows = len(T._selected_scales(spec, n, float(dx))) + (2 if spec.edge_rows else 0)
        cols = n
    else:
        rows = int(spec.n_fft) // 2 + 1
        cols = -(-n // int(spec.hop))
    return int(estimate_transform_bytes(n, spec, dx)) + rows * cols * (8 + 4 + 1)


def needs_long_mode(n_samples: int, spec: T.TransformSpec, dx: float = 1.0, *,
                    above_bytes: int = DEFAULT_LONG_ABOVE_BYTES) -> bool:
    """True when the whole-signal document would pass its limit and the engine can take
    ``spec`` (see :data:`LONG_KINDS`).

    The limit is ``above_bytes`` for 'cwt' and 'stft', ``above_bytes *``
    :data:`SSQ_LONG_FRACTION` for 'ssq_cwt' and 'ssq_stft' (0 sends every
    signal long; a huge value none).
    """
    if spec.kind not in LONG_KINDS or (spec.kind in ("stft", "ssq_stft")
                                       and int(spec.hop) != 1):
        return False
    n = int(n_samples)
    limit = int(above_bytes) * (SSQ_LONG_FRACTION if spec.is_ssq else 1.0)
    if spec.is_cwt and n > _EXACT_ROWS_BELOW:
        # ssqueezepy's scale search costs seconds at these lengths (the GUI asks on
        # open); its default rows span about log2(n) - 2 octaves, fewer with fmin/fmax.
        rows = int(spec.nv) * max(1.0, np.log2(n) - 2.0 - _octaves_cut(spec, n, dx))
        # the document's 29 bytes a cell; an SSQ-CWT's peak adds Wx and dWx beside Tx
        per_cell = 16 + 8 + 4 + 1 + (32 if spec.is_ssq else 0)
        return rows * n * per_cell > limit
    try:
        return document_bytes(n, spec, dx) > limit
    except ValueError:   # settings the transform refuses: it will say why
        return False


#: Above this many samples needs_long_mode estimates the CWT's rows instead of counting them.
_EXACT_ROWS_BELOW = 1 << 18


def _octaves_cut(spec, n: int, dx: float) -> float:
    """Octaves that fmin / fmax remove from ssqueezepy's default span (about
    2 / (n dx) .. 0.5 / dx), 0 when unset."""
    cut = 0.0
    lo, hi = 2.0 / (n * dx), 0.5 / dx
    if spec.fmin:
        cut += max(0.0, np.log2(float(spec.fmin) / lo))
    if spec.fmax:
        cut += max(0.0, np.log2(hi / float(spec.fmax)))
    return cut
