"""Display images for every transform kind: one value per pixel, peak or RMS, bounded memory.

:func:`display_source` answers "columns [c0, c1) at ``width`` pixels" for any
:class:`~core.tf.transforms.TransformSpec`:

- 'cwt': a :class:`core.engine.pyramid.MagnitudePyramid` (multirate rows,
  each row reduced over its own samples ``t = j d_r``);
- 'stft' (any hop): an :class:`STFTSource`, frames computed tile by tile
  (a tile is ``tile_length`` frames), never rows x all frames at once;
- 'ssq_cwt', 'ssq_stft' (hop 1, the only hop it has): an :class:`SSQSource`,
  a tile's columns synchrosqueezed by one block engine
  (:mod:`core.engine.ssq_blocks`) kept for the source, so its filters and
  its whole-grid rows (an SSQ-CWT's low edge row and longest wavelets) are
  computed once, not per tile.

:class:`WholeSource` (the whole-signal transform computed once, any kind)
remains for callers that want it.

Every source has the interface :class:`DisplaySource` describes. Columns are
the TFR's own: samples for the CWT kinds, frames for the STFT kinds; column c
lies at axis value ``x0 + c * column_step * dx`` (``TFR.times``: an STFT frame
is centred on sample ``c * hop``); :meth:`column_times` gives them.

The pixel rule is pyramid.py's: pixel p covers columns ``[e_p, e_p+1)``,
``e_p = c0 + floor(p (c1 - c0) / width)``; the columns (for the CWT the row's
samples) inside it are reduced exactly, peak = max, RMS = sqrt(mean of
squares), through per-tile levels of peaks and sums of squares (``2^k``
columns a cell); a pixel holding none repeats the sample nearest its centre
(ties: the earlier) when that is at most one hop away, else it is NaN. So an
image equals a brute-force reduction of ``|transform(...).coefficients|`` over
the same columns to float32 rounding (tests: 1e-6 of the row's peak).

Memory: a tile's levels take 12 bytes per value (float32 magnitudes, then
peaks and sums of squares of the cells); an LRU cache keeps ``cache_bytes`` of
tiles. An image holds one tile beside the cache and a float64 accumulator of
``n_rows x width``, whatever the range (a MagnitudePyramid's own ``image``
too); :func:`stream_image` is ``source.image``.

:func:`resize_rows` reduces an image's rows to a fixed height (an exported
picture); :func:`row_groups` says which rows each output row covers.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import numpy as np

from phasebrush.core.engine import cwt_blocks as CB
from phasebrush.core.engine.blocks import Steps, padded_segment

# the levels and their reduction, shared with the pyramid
from phasebrush.core.engine.pyramid import (
    _F32,
    DEFAULT_CACHE_BYTES,
    MODES,
    MagnitudePyramid,
    TileCache,
    _Accumulator,
    _check_image,
    _Levels,
    _to_db,
    tile_order,
)
from phasebrush.core.engine.ssq_blocks import WHOLE_ROWS_BYTES, SSQBlocks, check_engine, ssq_blocks
from phasebrush.core.errors import ParameterError
from phasebrush.core.memory import check_fits
from phasebrush.core.signal import Signal
from phasebrush.core.tf import transforms as T
from phasebrush.core.tf.transforms import estimate_transform_bytes

__all__ = ["DisplaySource", "display_source", "STFTSource", "SSQSource", "WholeSource",
           "stream_image",
           "resize_rows", "row_groups", "MODES", "DEFAULT_CACHE_BYTES"]

#: What to change when a tile does not fit (the user's terms: the app's settings, the
#: CLI's options).
_TILE_HINT = ("use fewer rows (fewer voices per octave, a higher f min or a lower f max; "
              "--nv / --fmin / --fmax) or free memory")

_DEFAULT_SPEC = T.TransformSpec()
# values (rows x frames) per STFT tile: ~24 MiB of levels, a few tenths of a second each
_TILE_VALUES = 1 << 21
# samples of one frame buffer (float64) while a tile is computed
_CHUNK_ELEMS = 1 << 20
# cells (rows x columns) per SSQ tile: ~100 MB of squeeze work, ~0.1-0.2 s a tile
_SSQ_TILE_CELLS = 1 << 20


@runtime_checkable
class DisplaySource(Protocol):
    """What a display source offers (MagnitudePyramid, STFTSource, SSQSource, WholeSource).

    - ``image(c0=0, c1=None, *, width, mode="peak", db=True, compute=True,
      cancel=None, progress=None, partial=None)`` -> float32 [n_rows, width], row
      0 = lowest frequency; NaN where a tile is not cached and ``compute`` is
      False; ``partial(img)`` after each computed tile but the last, the tiles
      visited middle first (``pyramid.tile_order``).
    - ``tiles(c0, c1)`` -> range of tile indices; ``missing(c0, c1)`` -> list
      of those not cached; ``estimate_tile_bytes()`` -> int.
    - ``frequencies`` [n_rows] ascending (cycles per signal unit), ``rows``
      [n_rows] (TFR rows), ``n_columns``, ``column_times(c0=0, c1=None, *,
      x0=0.0)`` -> float64 [c1 - c0].
    """

    n_columns: int
    rows: np.ndarray
    frequencies: np.ndarray

    def image(self, c0: int = 0, c1: int | None = None, *, width: int, mode: str = "peak",
              db: bool = True, compute: bool = True, cancel=None,
              progress=None, partial=None) -> np.ndarray: ...

    def missing(self, c0: int, c1: int) -> list: ...

    def tiles(self, c0: int, c1: int) -> range: ...

    def estimate_tile_bytes(self) -> int: ...

    def column_times(self, c0: int = 0, c1: int | None = None, *,
                     x0: float = 0.0) -> np.ndarray: ...


def display_source(y, spec: T.TransformSpec = _DEFAULT_SPEC, *, dx: float = 1.0, rows=None,
                   tile_length: int | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES,
                   engine: SSQBlocks | None = None) -> DisplaySource:
    """The display source of ``spec``'s kind for signal ``y`` (see the module docstring).

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
        The whole signal (kept by reference, read as float64).
    spec : TransformSpec
    dx : float > 0
        Sample spacing (signal units).
    rows : sequence of int or None
        TFR rows (row 0 = lowest frequency); None = all.
    tile_length : int or None
        Columns per tile; None = the source's choice.
    cache_bytes : int
        LRU budget of the cached tiles.
    engine : SSQBlocks or None
        SSQ kinds: an engine of this signal to share (:class:`SSQSource`).

    Returns
    -------
    MagnitudePyramid, STFTSource or SSQSource

    Raises
    ------
    ParameterError
        Bad spec or rows.
    """
    T._check_spec(spec)
    if spec.kind == "cwt":
        return MagnitudePyramid(y, spec, dx=dx, rows=rows, tile_length=tile_length,
                                cache_bytes=cache_bytes)
    if spec.kind == "stft":
        return STFTSource(y, spec, dx=dx, rows=rows, tile_length=tile_length,
                          cache_bytes=cache_bytes)
    return SSQSource(y, spec, dx=dx, rows=rows, tile_length=tile_length,
                     cache_bytes=cache_bytes, engine=engine)


# --- sources --------------------------------------------------------------------------------

class _TiledSource:
    """Tiles of ``tile_length`` columns in an LRU cache; images reduced tile by tile."""

    n_columns: int
    tile_length: int
    column_step: int
    dx: float
    rows: np.ndarray
    frequencies: np.ndarray

    def __init__(self, cache_bytes: float):
        self._cache = TileCache(cache_bytes)

    @property
    def cache_bytes(self) -> float:
        return self._cache.limit

    def _what(self) -> str:
        raise NotImplementedError

    def _compute(self, t: int, steps: Steps) -> _Levels:
        raise NotImplementedError

    def estimate_tile_bytes(self) -> int:
        raise NotImplementedError

    def column_times(self, c0: int = 0, c1: int | None = None, *, x0: float = 0.0) -> np.ndarray:
        """Axis values of columns [c0, c1): ``x0 + c * column_step * dx``
        [shape=(c1 - c0,), float64] (``TFR.times``; x0 = the signal's first axis value)."""
        c1 = self.n_columns if c1 is None else int(c1)
        step = float(self.column_step) * float(self.dx)
        return float(x0) + step * np.arange(int(c0), c1, dtype=np.float64)

    def tiles(self, c0: int, c1: int) -> range:
        """Indices of the tiles covering columns [c0, c1)."""
        T_ = self.tile_length
        return range(int(c0) // T_, -(-int(c1) // T_))

    def missing(self, c0: int, c1: int) -> list:
        """Tiles of [c0, c1) not in the cache (what an image would compute)."""
        return self._cache.missing(self.tiles(c0, c1))

    def _tile(self, t: int, steps: Steps) -> _Levels:
        hit = self._cache.get(t)
        if hit is None:
            hit = self._compute(t, steps)
            self._cache.put(t, hit)
        return hit

    def image(self, c0: int = 0, c1: int | None = None, *, width: int, mode: str = "peak",
              db: bool = True, compute: bool = True, cancel=None,
              progress=None, partial=None) -> np.ndarray:
        """Magnitude image of columns [c0, c1) at ``width`` pixels (module docstring).

        Parameters
        ----------
        c0, c1 : int
            Column range; c1 None = the end.
        width : int >= 1
        mode : {"peak", "rms"}
        db : bool
            ``20 log10(value)`` (zeros floored at float32's tiny).
        compute : bool
            False: tiles not cached are not computed and their pixels are NaN
            (:meth:`missing` lists them).
        cancel, progress
            Checked / reported per tile (and within a tile).
        partial : callable or None
            ``partial(img)`` after each computed tile but the last (the image so
            far, NaN where tiles are missing); tiles then come middle first.

        Returns
        -------
        np.ndarray [shape=(n_rows, width), float32]
            Row 0 = lowest frequency.

        Raises
        ------
        ParameterError
            Bad range, width or mode.
        OutOfMemoryError
            A tile would not fit the budget (:meth:`estimate_tile_bytes`).
        Cancelled
        """
        c0, c1, width, edges = _check_image(c0, c1, self.n_columns, width, mode)
        steps = Steps.of(cancel, progress, "display image")
        tiles = list(self.tiles(c0, c1))
        missing = self.missing(c0, c1) if compute else []
        if missing:
            check_fits(self._what(), self.estimate_tile_bytes(),
                       hint=_TILE_HINT)
        if partial is not None:
            tiles = tile_order(tiles, missing, c0, c1, self.tile_length)
        left = len(missing)
        acc = _Accumulator(len(self.rows), edges, np.ones(len(self.rows), np.int64), mode)
        for n, t in enumerate(tiles):
            if compute:
                tile = self._tile(t, steps.part(n / len(tiles), (n + 1) / len(tiles)))
            else:
                tile = self._cache.get(t)
            if tile is not None:
                acc.add(1, tile.c0, tile.c1, [(slice(None), tile.levels)])
            # only this tile and the cache stay alive: memory does not grow with the range
            del tile
            left -= t in missing
            if partial is not None and t in missing and left:
                partial(_to_db(acc.result()) if db else acc.result())
        steps.check(1.0)
        out = acc.result()
        return _to_db(out) if db else out


class STFTSource(_TiledSource):
    """Display magnitudes of the STFT (kind 'stft', any hop), computed tile by tile.

    Column k is frame k, centred on sample ``k * hop`` (``core.tf.transforms.transform``);
    a tile is ``tile_length`` frames, computed from the samples it needs alone
    (the whole-signal reflect padding at the true ends), so the image equals
    the whole transform's ``|S|`` reduced. Magnitudes only: the frame's phase
    reference (its centre) does not change them.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
        The whole signal (kept by reference, read as float64).
    spec : TransformSpec
        kind 'stft'.
    dx : float > 0
    rows : sequence of int or None
        rfft bins (row 0 = DC); None = all ``n_fft // 2 + 1``.
    tile_length : int or None
        Frames per tile; None = about 2 Mi values (rows x frames) a tile.
    cache_bytes : int
        LRU budget of the tiles (12 bytes per value).

    Thread safety: one image at a time; the cache is locked.
    """

    def __init__(self, y, spec: T.TransformSpec, *, dx: float = 1.0, rows=None,
                 tile_length: int | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES):
        super().__init__(int(cache_bytes))
        T._check_spec(spec)
        if spec.kind != "stft":
            raise ParameterError(f"STFTSource needs kind 'stft', got kind={spec.kind!r}")
        if not dx > 0:
            raise ParameterError(f"dx={dx!r} must be > 0")
        self.y = np.asarray(y, dtype=np.float64).ravel()
        self.spec, self.dx = spec, float(dx)
        N = len(self.y)
        self.window = T.stft_window(spec)
        n_fft, hop = len(self.window), int(spec.hop)
        if n_fft > N:
            raise ParameterError(f"n_fft={n_fft} is larger than the signal ({N} samples)")
        if hop > N:
            raise ParameterError(f"hop={hop} is larger than the signal ({N} samples)")
        self.n_fft, self.hop, self.column_step = n_fft, hop, hop
        n_bins = n_fft // 2 + 1
        self.rows = np.arange(n_bins) if rows is None else np.asarray(rows, np.intp).ravel()
        if not len(self.rows) or self.rows.min() < 0 or self.rows.max() >= n_bins:
            raise ParameterError(f"rows must be a non-empty selection of [0, {n_bins})")
        if np.any(np.diff(self.rows) <= 0):
            raise ParameterError("rows must ascend (row 0 = lowest frequency)")
        self._all_rows = len(self.rows) == n_bins
        self.frequencies = self.rows / (n_fft * self.dx)
        self.n_columns = T.stft_frames(N, hop)
        if tile_length is None:
            tile_length = max(64, _TILE_VALUES // len(self.rows))
        if int(tile_length) < 1:
            raise ParameterError(f"tile_length={tile_length} must be >= 1")
        self.tile_length = min(int(tile_length), self.n_columns)
        self._chunk = max(1, _CHUNK_ELEMS // n_fft)

    def _what(self) -> str:
        return (f"STFT display tile ({self.tile_length} frames, {len(self.rows)} rows, "
                f"n_fft {self.n_fft})")

    def estimate_tile_bytes(self) -> int:
        """Peak bytes of computing one tile: its levels plus one chunk of frames."""
        L, R = self.tile_length, len(self.rows)
        B = min(self._chunk, L)
        seg = B * self.hop + self.n_fft
        # a chunk: the windowed frames and their rfft together (then |S|, the frames freed),
        # beside the tile's float32 |S|; then the levels (12 bytes a value) and a temporary
        chunk = 8 * B * self.n_fft + 16 * B * (self.n_fft // 2 + 1) + 32 * seg
        if not self._all_rows:
            chunk += 16 * B * R
        return int(max(4 * R * L + chunk, 14 * R * L))

    def _compute(self, t: int, steps: Steps) -> _Levels:
        k0 = t * self.tile_length
        k1 = min(self.n_columns, k0 + self.tile_length)
        mag = np.empty((len(self.rows), k1 - k0), dtype=_F32)
        n_fft, hop, N = self.n_fft, self.hop, len(self.y)
        for a in range(k0, k1, self._chunk):
            steps.check((a - k0) / (k1 - k0))
            b = min(k1, a + self._chunk)
            seg = padded_segment(self.y, a * hop, (b - 1 - a) * hop + n_fft, N + n_fft - 1,
                                 n_fft // 2)
            frames = np.lib.stride_tricks.sliding_window_view(seg, n_fft)[::hop] * self.window
            S = np.fft.rfft(frames, axis=-1)
            del frames
            if not self._all_rows:
                S = S[:, self.rows]
            mag[:, a - k0:b - k0] = np.abs(S).T
            del S           # else the last chunk's spectrum outlives it into the levels
        return _Levels(k0, k1, mag)


class SSQSource(_TiledSource):
    """Display magnitudes of the synchrosqueezed kinds ('ssq_cwt', 'ssq_stft'), tile by tile.

    Column k is sample k (both kinds have hop 1). A tile is ``tile_length``
    columns of ``transform(...).coefficients``, synchrosqueezed by ONE block
    engine (:func:`core.engine.ssq_blocks.ssq_blocks`) that the source keeps:
    an SSQ-CWT probes its rows' supports and builds its filters on the first
    tile, and its whole-grid rows (the low edge row and the wavelets too long
    for a block, which cost one FFT of the whole padded grid each) are kept
    for the whole signal when they fit ``whole_bytes`` (~36 MB for the 4-s
    speech demo from 20 Hz), else for a span of columns around the tile asked
    for (:meth:`estimate_whole_bytes` says how much; ``whole_span`` how many
    columns). The squeeze reads the block's ``Wx`` and ``dWx`` of every row,
    so a tile computes every row, then keeps ``rows``.

    The image equals the whole transform's ``|Tx|`` reduced (the block columns
    match it to ~1e-12, see :mod:`core.engine.ssq_blocks`).

    Cost (the 4-s speech demo, 16 kHz, nv 32 from 20 Hz: 283 rows, 18 tiles of
    3705 columns; a loaded 2-core machine): the full-width image 3.9-8.9 s
    (the whole transform alone: 6.7 s), tracemalloc peak 327 MB of which 226 MB
    are the tiles' levels kept in a 400 MB cache (the whole transform: 1.23 GB).
    30 s of 16 kHz: 32-39 s for all 130 tiles, peak 577 MB with that cache.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
        The whole signal (copied once as float64 by the engine).
    spec : TransformSpec
        kind 'ssq_cwt' or 'ssq_stft'.
    dx : float > 0
    rows : sequence of int or None
        TFR rows, ascending (edge rows included); None = all.
    tile_length : int or None
        Columns per tile; None = about 1 Mi cells (rows x columns) a tile
        (~3700 columns for the demo's 283 rows).
    cache_bytes : int
        LRU budget of the tiles (12 bytes per value).
    whole_bytes : int
        What the engine may keep of its whole-grid rows
        (:data:`core.engine.ssq_blocks.WHOLE_ROWS_BYTES`; 0 = recompute them
        per tile).
    engine : SSQBlocks or None
        An engine of this signal and spec to share (e.g. with the
        :class:`core.engine.column_inverse.ColumnInverter` of the same
        document: one probe, one set of whole-grid rows); None = a new one
        (``whole_bytes`` then applies).

    Thread safety: one image at a time (the engine is not shared); the cache is locked.
    """

    def __init__(self, y, spec: T.TransformSpec, *, dx: float = 1.0, rows=None,
                 tile_length: int | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES,
                 whole_bytes: int = WHOLE_ROWS_BYTES, engine: SSQBlocks | None = None):
        super().__init__(int(cache_bytes))
        T._check_spec(spec)
        if spec.kind not in ("ssq_cwt", "ssq_stft"):
            raise ParameterError(f"SSQSource needs kind 'ssq_cwt' or 'ssq_stft', got "
                                 f"kind={spec.kind!r}")
        if not dx > 0:
            raise ParameterError(f"dx={dx!r} must be > 0")
        self.spec, self.dx = spec, float(dx)
        if engine is None:
            engine = ssq_blocks(y, spec, dx=self.dx, whole_bytes=int(whole_bytes))
        else:
            check_engine(engine, spec, len(np.ravel(y)), self.dx)
        self.engine = engine
        n_all = self.engine.n_rows
        self.rows = np.arange(n_all) if rows is None else np.asarray(rows, np.intp).ravel()
        if not len(self.rows) or self.rows.min() < 0 or self.rows.max() >= n_all:
            raise ParameterError(f"rows must be a non-empty selection of [0, {n_all})")
        if np.any(np.diff(self.rows) <= 0):
            raise ParameterError("rows must ascend (row 0 = lowest frequency)")
        self._all_rows = len(self.rows) == n_all
        self.frequencies = self.engine.frequencies[self.rows]
        self.column_step, self.n_columns = 1, self.engine.n_samples
        if tile_length is None:
            tile_length = max(256, _SSQ_TILE_CELLS // n_all)
        if int(tile_length) < 1:
            raise ParameterError(f"tile_length={tile_length} must be >= 1")
        self.tile_length = min(int(tile_length), self.n_columns)

    @property
    def whole_span(self) -> int:
        """Columns of the whole-grid rows the engine keeps at once (``n_columns``: computed
        once for the whole signal; 0: per tile). See ssq_blocks.SSQBlocks.whole_span."""
        return self.engine.whole_span

    def estimate_whole_bytes(self) -> int:
        """Bytes the engine keeps of its whole-grid rows, with the peak of making them
        (0 for an SSQ-STFT or when none are kept). Probes the rows' supports once."""
        return self.engine.whole_bytes()

    def _what(self) -> str:
        return (f"{self.spec.kind.upper()} display tile ({self.tile_length} columns, "
                f"{self.engine.n_rows} rows)")

    def estimate_tile_bytes(self) -> int:
        """Peak bytes of computing one tile: the engine's block (its squeeze work, filter
        cache and kept whole-grid rows), then the tile's float32 magnitudes and levels."""
        L, R = self.tile_length, len(self.rows)
        block = self.engine.block_bytes(L)
        if not self._all_rows:
            block += 16 * R * L
        return int(block + 12 * R * L)

    def _compute(self, t: int, steps: Steps) -> _Levels:
        k0 = t * self.tile_length
        k1 = min(self.n_columns, k0 + self.tile_length)
        Tx = self.engine.columns(k0, k1, cancel=steps)
        if not self._all_rows:
            Tx = Tx[self.rows]
        mag = np.empty(Tx.shape, dtype=_F32)
        np.abs(Tx, out=mag, casting="same_kind")
        del Tx
        return _Levels(k0, k1, mag)


class WholeSource(_TiledSource):
    """Display magnitudes of a whole-signal transform (any kind): one tile, all columns.

    Computed once (on the first image that computes), then reduced like the
    other sources. Refused at construction when the transform would not fit
    the memory budget.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
    spec : TransformSpec
        Any kind (the whole transform at once: ssqueezepy's transients for the SSQ kinds).
    dx : float > 0
    rows : sequence of int or None
        TFR rows, ascending; None = all.

    Raises
    ------
    OutOfMemoryError
        The transform plus its levels exceed the budget; the message gives
        the estimate and says to use kind 'cwt' or 'stft' or a shorter range.
    """

    def __init__(self, y, spec: T.TransformSpec, *, dx: float = 1.0, rows=None):
        super().__init__(float("inf"))      # one tile: nothing to evict
        T._check_spec(spec)
        if not dx > 0:
            raise ParameterError(f"dx={dx!r} must be > 0")
        self.y = np.asarray(y, dtype=np.float64).ravel()
        self.spec, self.dx = spec, float(dx)
        N = len(self.y)
        if spec.is_cwt:
            cwt = dataclasses.replace(spec, kind="cwt")
            freqs = CB.cwt_geometry(cwt, N, dx=self.dx).frequencies
            self.column_step, self.n_columns = 1, N
        else:
            n_fft = int(spec.n_fft)
            freqs = np.arange(n_fft // 2 + 1) / (n_fft * self.dx)
            self.column_step, self.n_columns = int(spec.hop), T.stft_frames(N, int(spec.hop))
        n_all = len(freqs)
        self.rows = np.arange(n_all) if rows is None else np.asarray(rows, np.intp).ravel()
        if not len(self.rows) or self.rows.min() < 0 or self.rows.max() >= n_all:
            raise ParameterError(f"rows must be a non-empty selection of [0, {n_all})")
        if np.any(np.diff(self.rows) <= 0):
            raise ParameterError("rows must ascend (row 0 = lowest frequency)")
        self._all_freqs = np.asarray(freqs, dtype=np.float64)
        self.frequencies = self._all_freqs[self.rows]
        self.tile_length = self.n_columns
        self._n_values = len(self.rows) * self.n_columns
        check_fits(self._what(), self.estimate_tile_bytes(),
                   hint="use kind 'cwt' or 'stft' for a recording this long, or a shorter "
                        "--start/--end")

    def _what(self) -> str:
        return (f"{self.spec.kind.upper()} display of the whole signal ({len(self.y)} samples, "
                f"{len(self.rows)} rows)")

    def estimate_tile_bytes(self) -> int:
        """The transform's peak (core.memory), then |C| beside it and its levels."""
        n_bytes = estimate_transform_bytes(len(self.y), self.spec, self.dx)
        # beside the coefficients: |C| (float64, then float32), or the rows' copy first
        per_value = 12 if len(self.rows) == len(self._all_freqs) else 28
        return int(n_bytes + per_value * self._n_values)

    def _compute(self, t: int, steps: Steps) -> _Levels:
        tfr = T.transform(Signal(self.y, dx=self.dx), self.spec, cancel=steps.cancel,
                          progress=None if steps.progress is None else steps.part(0.0, 0.9).check)
        C = tfr.coefficients
        if C.shape[1] != self.n_columns:      # pragma: no cover - the geometry is core's
            raise ParameterError(f"{self.spec.kind}: {C.shape[1]} columns, expected "
                                 f"{self.n_columns}")
        self.frequencies = np.asarray(tfr.frequencies, dtype=np.float64)[self.rows]
        mag = np.abs(C if len(self.rows) == C.shape[0] else C[self.rows]).astype(_F32)
        del tfr, C
        return _Levels(0, self.n_columns, mag)


# --- the pyramid, streamed ------------------------------------------------------------------

def stream_image(source, c0: int = 0, c1: int | None = None, *, width: int,
                 mode: str = "peak", db: bool = True, compute: bool = True, cancel=None,
                 progress=None) -> np.ndarray:
    """``source.image(...)``: every source holds one tile at a time beside the cache.

    Parameters and returns: as :meth:`MagnitudePyramid.image`.
    """
    # every source, the pyramid too, reduces its tiles one at a time
    return source.image(c0, c1, width=width, mode=mode, db=db, compute=compute, cancel=cancel,
                        progress=progress)


# --- fixed-size images ----------------------------------------------------------------------

def row_groups(n_rows: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Input rows ``[start[h], stop[h])`` behind each output row of :func:`resize_rows`.

    ``height <= n_rows``: groups ``floor(h n / height)`` .. ``floor((h+1) n / height)``
    (the pixel rule of the columns); taller: one row each, the row nearest the
    output row's centre, ``floor((h + 1/2) n / height)``.

    Returns
    -------
    start, stop : np.ndarray [shape=(height,), int64]
    """
    n, height = int(n_rows), int(height)
    if n < 1 or height < 1:
        raise ParameterError(f"n_rows={n} and height={height} must be >= 1")
    h = np.arange(height, dtype=np.int64)
    if height <= n:
        return (h * n) // height, ((h + 1) * n) // height
    start = ((2 * h + 1) * n) // (2 * height)
    return start, start + 1


def resize_rows(image, height: int, *, mode: str = "peak", db: bool = False) -> np.ndarray:
    """Reduce an image's rows to ``height``: peak = max, RMS = sqrt(mean of squares) per group.

    Parameters
    ----------
    image : np.ndarray [shape=(n_rows, width), float]
        Row 0 = lowest frequency (a display image).
    height : int >= 1
        ``>= n_rows`` keeps every row (equal) or repeats the nearest.
    mode : {"peak", "rms"}
    db : bool
        The image is in dB: RMS is taken of the linear values (peak is the
        same either way), and the result is in dB again.

    Returns
    -------
    np.ndarray [shape=(height, width), float32]
        A group holding a NaN (a tile not computed) is NaN. Rows are not
        weighted by their frequency spacing. :func:`row_groups` gives the groups.
    """
    if mode not in MODES:
        raise ParameterError(f"mode={mode!r}: expected one of {MODES}")
    a = np.asarray(image)
    if a.ndim != 2 or 0 in a.shape:
        raise ParameterError(f"image must be a non-empty 2-D array, got shape {a.shape}")
    start, stop = row_groups(a.shape[0], height)
    if int(height) >= a.shape[0]:
        return a[start].astype(_F32)
    if mode == "peak":
        return np.maximum.reduceat(a, start, axis=0).astype(_F32)
    lin = 10.0 ** (a.astype(np.float64) / 20.0) if db else a.astype(np.float64)
    ms = np.add.reduceat(lin * lin, start, axis=0) / (stop - start)[:, None]
    out = np.sqrt(ms)
    if db:
        with np.errstate(divide="ignore"):
            out = 20.0 * np.log10(out)
    return out.astype(_F32)
