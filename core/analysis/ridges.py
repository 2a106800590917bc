"""Propose bands around a transform's strongest ridges.

A ridge is a path through the time-frequency image that follows a
component's energy maximum (its instantaneous frequency). ssqueezepy's
``extract_ridges`` finds it by forward-backward dynamic programming on
``-log(|C|^2 / max_col |C|^2) + penalty * (d freq)^2`` (Iatsenko et al.,
2013). Each ridge here becomes an ordinary, editable :class:`~core.tf.bands.Band`
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
* A column with no energy in any row (silence, or a cleared column) is
  tracked as flat (ssqueezepy normalises each column by its maximum and
  would turn it into NaN).

Spectra (``peaks=PeakSearch(...)``)
-----------------------------------
A spectrum's rows are peak widths (:mod:`core.tf.feature_width`), and a ridge
should sit on its peaks. The scalogram itself is a poor guide there: its
magnitude cannot tell a peak from the hump between two dips, and the long
default GMW rings (its side lobe one period from a peak is ~99 % of the main
lobe, so two peaks 6 widths apart light up the row half-way between them).
For spectra the ridges are therefore tracked on a *peak-matched energy*: the
response of a non-oscillating peak detector, the Ricker wavelet (the
negative second derivative of a Gaussian, as in ``scipy.signal``'s
``find_peaks_cwt``), at each row's calibrated width, keeping only responses
of the peaks' sign (``max(0, polarity * R)**2``). The Ricker response of a
Gaussian peak of FWHM ``w`` is strongest at ``w`` exactly (a closed form,
:data:`RICKER_FWHM_PER_A`), so the rows keep their calibrated meaning.
Before that, optionally, a rolling baseline is removed
(:func:`rolling_baseline`), and the search is limited to rows whose widths
are peak-like (:class:`PeakSearch`: up to 1/20 of the spectrum's span by
default). Peak-matched energy below 1 % of the strongest does not steer a
ridge (a noise floor), so between peaks it keeps its row. The bands are
placed on the transform's own rows as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from phasebrush.core.errors import ParameterError
from phasebrush.core.tf.bands import PALETTE, Band
from phasebrush.core.tf.masks import inner_rows

__all__ = ["default_bandwidth_rows", "ridge_rows", "propose_bands", "PeakSearch",
           "POLARITIES", "DEFAULT_MAX_WIDTH_FRACTION", "RICKER_FWHM_PER_A", "peak_polarity",
           "rolling_baseline", "peak_energy", "peak_rows"]

#: Peak directions: "up" (absorbance, counts), "down" (transmittance), "auto".
POLARITIES = ("up", "down", "auto")

#: Default widest peak searched, as a fraction of the spectrum's span. Measured on
#: the ethanol demo (tests/core/analysis/test_ridges_spectra.py): at 1/33 and 1/20 every one
#: of 4 ridges peaks within 1.9 cm^-1 of an absorbance maximum; at 1/10 the C-H
#: stretch envelope (FWHM ~220 cm^-1, centred on the dip between its P and R
#: branches, 39 cm^-1 from the nearest maximum) takes a ridge.
DEFAULT_MAX_WIDTH_FRACTION = 0.05

#: FWHM of the Gaussian peak a Ricker wavelet of parameter ``a`` responds to most:
#: the response to a peak of std ``sigma`` is ``~ b (1 + b^2)^(-3/2)``, ``b = sigma / a``,
#: largest at ``b = 1 / sqrt(2)``, so ``FWHM = 2 sqrt(2 ln 2) a / sqrt(2) = 1.6651 a``.
RICKER_FWHM_PER_A = float(2.0 * np.sqrt(np.log(2.0)))

#: Energy floor (relative to the largest) that keeps empty columns finite.
_FLOOR = 1e-12
#: The floor of peak-matched energy: below 1 % of the strongest peak's (-20 dB), energy
#: does not steer a ridge, so between peaks it keeps its row instead of chasing the
#: noise of the narrowest rows (ethanol: the bands' median height falls from 4.5 to
#: 1.0 octave; where the ridges peak does not change).
_PEAK_FLOOR = 1e-2


@dataclass(frozen=True)
class PeakSearch:
    """How ridges are searched on a spectrum (see the module docstring).

    Attributes
    ----------
    polarity : {"up", "down", "auto"}
        Direction of the peaks: "up" for absorbance or counts, "down" for
        transmittance; "auto" decides from the data (:func:`peak_polarity`).
    max_width, min_width : float > 0 or None
        Rows whose calibrated width (FWHM, x-units) lies outside
        ``[min_width, max_width]`` are not searched. None:
        :data:`DEFAULT_MAX_WIDTH_FRACTION` of the span, and 3 samples.
    baseline : bool
        Remove a rolling baseline first (:func:`rolling_baseline`).
    baseline_size : float > 0 or None
        Its window, x-units; None = 3 * max_width (a peak of FWHM w is
        ~2.5 w wide at its foot).
    """

    polarity: str = "auto"
    max_width: float | None = None
    min_width: float | None = None
    baseline: bool = True
    baseline_size: float | None = None

    def resolved(self, tfr, y=None) -> PeakSearch:
        """This search with every None and "auto" decided for ``tfr``'s spectrum.

        Parameters
        ----------
        tfr : TFR
            A CWT kind.
        y : np.ndarray [shape=(tfr.n_samples,)] or None
            The spectrum; None = the transform's full inverse.

        Raises
        ------
        ParameterError
            A bad polarity or width, or an STFT kind.
        """
        if self.polarity not in POLARITIES:
            raise ParameterError(f"polarity={self.polarity!r}: expected one of {POLARITIES}")
        if not tfr.spec.is_cwt:
            raise ParameterError("peak search needs a CWT kind (its rows are peak widths), "
                                 f"got kind={tfr.spec.kind!r}")
        dx = float(tfr.dx)
        span = tfr.n_samples * dx
        hi = DEFAULT_MAX_WIDTH_FRACTION * span if self.max_width is None else self.max_width
        lo = 3.0 * dx if self.min_width is None else self.min_width
        size = 3.0 * float(hi) if self.baseline_size is None else self.baseline_size
        for name, v in (("max_width", hi), ("min_width", lo), ("baseline_size", size)):
            if not (np.isfinite(float(v)) and float(v) > 0):
                raise ParameterError(f"{name}={v!r} must be a width > 0")
        if float(lo) >= float(hi):
            raise ParameterError(f"min_width={lo!r} must be below max_width={hi!r}")
        pol = self.polarity
        if pol == "auto":
            y = _spectrum_of(tfr) if y is None else np.asarray(y, dtype=np.float64)
            pol = "up" if peak_polarity(y, size=_samples(min(size, span / 8), dx)) > 0 else "down"
        return replace(self, polarity=pol, max_width=float(hi), min_width=float(lo),
                       baseline_size=float(size))


def _samples(length: float, dx: float) -> int:
    """An odd window of about ``length`` x-units, at least 3 samples."""
    n = max(3, int(round(float(length) / float(dx))))
    return n | 1


def _spectrum_of(tfr) -> np.ndarray:
    from phasebrush.core.tf.inversion import invert

    return invert(tfr)


def peak_polarity(y, *, size: int) -> int:
    """+1 if the peaks of ``y`` point up, -1 if they point down (dips).

    Compares the tallest peak above a rolling floor (white top-hat,
    ``y - opening(y)``) with the deepest dip below a rolling ceiling (black
    top-hat, ``closing(y) - y``), both with a flat window of ``size``
    samples (``scipy.ndimage``): sparse peaks stand out from the baseline on
    their own side only. Ties go to "up".

    Parameters
    ----------
    y : np.ndarray [shape=(n,), float64]
    size : int >= 3
        Window, samples; wider than the peaks, narrower than the baseline's bends.

    Returns
    -------
    int, +1 or -1
    """
    from scipy import ndimage

    y = np.asarray(y, dtype=np.float64)
    up = float(np.max(ndimage.white_tophat(y, size=int(size))))
    down = float(np.max(ndimage.black_tophat(y, size=int(size))))
    return 1 if up >= down else -1


def rolling_baseline(y, *, size: int, polarity: int) -> np.ndarray:
    """A smooth baseline under (``polarity`` +1) or over (-1) the peaks of ``y``.

    Morphological: the rolling minimum of ``y`` followed by the rolling maximum
    of that (a grey opening, ``scipy.ndimage.grey_opening``; a closing for dips)
    with a flat window of ``size`` samples removes every peak narrower than the
    window and keeps slopes and bends wider than it; a moving average over the
    same window then smooths the opening's flat steps
    (``scipy.ndimage.uniform_filter1d``). Both run on ``y`` padded by odd
    reflection, which continues a slope through the ends. No iteration, no
    tuning beyond the window, and robust to any baseline that bends on scales
    longer than it (a bend sharper than the window is cut: the opening lies
    under a concave baseline by up to its sag over one window).

    Parameters
    ----------
    y : np.ndarray [shape=(n,), float64]
    size : int >= 3
        Window in samples: wider than the widest peak's foot (~2.5 FWHM).
    polarity : {+1, -1}

    Returns
    -------
    np.ndarray [shape=(n,), float64]
    """
    from scipy import ndimage

    y = np.asarray(y, dtype=np.float64)
    size = int(size)
    if size < 3:
        raise ParameterError(f"size={size!r}: the baseline window needs >= 3 samples")
    if polarity not in (1, -1):
        raise ParameterError(f"polarity={polarity!r} must be +1 or -1")
    size = min(size, 2 * y.size - 1)
    # odd reflection continues the ends' slope, so a sloping baseline stays straight there
    pad = min(size, y.size - 1)
    yp = np.pad(y, pad, mode="reflect", reflect_type="odd") if pad > 0 else y
    floor = (ndimage.grey_opening(yp, size=size) if polarity > 0
             else ndimage.grey_closing(yp, size=size))
    smooth = ndimage.uniform_filter1d(floor, size=size, mode="nearest")
    return np.ascontiguousarray(smooth[pad:pad + y.size] if pad > 0 else smooth)


def peak_energy(y, widths, *, dx: float, polarity: int, max_frames: int | None = None,
                block_rows: int = 32) -> np.ndarray:
    """Peak-matched energy of ``y`` at peak widths ``widths``.

    Row ``i`` is ``max(0, polarity * R_i)**2``, where ``R_i`` is the response
    to a Ricker wavelet whose best-matched Gaussian has FWHM ``widths[i]``
    (parameter ``a = widths[i] / RICKER_FWHM_PER_A``), applied in the
    frequency domain as ``H(omega a) = (omega a)^2 exp(-(omega a)^2 / 2) e / 2``
    (peak gain 1, zero phase). ``y`` is padded by odd reflection (which
    continues its slope, so its ends do not look like peaks).

    Parameters
    ----------
    y : np.ndarray [shape=(n,), float64]
    widths : np.ndarray [shape=(n_rows,), float64, > 0]
        FWHM in x-units.
    dx : float > 0
        Sample spacing, x-units.
    polarity : {+1, -1}
    max_frames : int or None
        Average the columns over blocks down to this many (as ridge tracking does).
    block_rows : int
        Rows filtered at once (memory).

    Returns
    -------
    np.ndarray [shape=(n_rows, n or max_frames), float64, >= 0]
    """
    from scipy import fft as sp_fft

    from phasebrush.core.tf.transforms import cwt_padding

    y = np.asarray(y, dtype=np.float64)
    widths = np.asarray(widths, dtype=np.float64)
    n = y.size
    n_pad, left = cwt_padding(n)
    yp = np.pad(y, (left, n_pad - n - left), mode="reflect", reflect_type="odd")
    Y = sp_fft.rfft(yp)
    omega = 2.0 * np.pi * sp_fft.rfftfreq(n_pad, d=float(dx))
    a = widths / RICKER_FWHM_PER_A
    edges = None
    if max_frames is not None and n > max_frames:
        edges = np.linspace(0, n, int(max_frames) + 1).round().astype(np.intp)
    out = np.empty((widths.size, n if edges is None else edges.size - 1))
    for i in range(0, widths.size, int(block_rows)):
        u = omega[None, :] * a[i:i + block_rows, None]
        H = u * u * np.exp(-0.5 * u * u) * (np.e / 2.0)
        R = sp_fft.irfft(Y[None, :] * H, n=n_pad, axis=1)[:, left:left + n]
        e = np.maximum(float(polarity) * R, 0.0) ** 2
        if edges is not None:
            e = np.add.reduceat(e, edges[:-1], axis=1) / np.diff(edges)[None, :]
        out[i:i + block_rows] = e
    return out


def peak_rows(tfr, peaks: PeakSearch) -> tuple[int, int]:
    """``(lo, hi)``: the ordinary rows whose calibrated widths lie in
    ``[peaks.min_width, peaks.max_width]`` (a resolved search).

    Raises
    ------
    ParameterError
        Fewer than 2 such rows (the message gives the rows' width range).
    """
    from phasebrush.core.tf.feature_width import width_axis

    a, b = inner_rows(tfr)
    w = width_axis(tfr).widths
    keep = np.flatnonzero((w[a:b] <= peaks.max_width) & (w[a:b] >= peaks.min_width))
    if keep.size < 2:
        raise ParameterError(
            f"peak widths {peaks.min_width:.4g} to {peaks.max_width:.4g} leave fewer than 2 rows "
            f"(the rows reach widths {w[b - 1]:.4g} to {w[a]:.4g} {tfr.unit or 'samples'})")
    return a + int(keep[0]), a + int(keep[-1]) + 1


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
               max_frames: int = 2048, peaks: PeakSearch | None = None,
               y=None) -> np.ndarray:
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
    peaks : PeakSearch or None
        None: track the scalogram's energy ``|C|^2`` (any signal). A
        PeakSearch (spectra, CWT kinds): track the peak-matched energy of the
        spectrum (baseline removed if asked) on the rows of peak-like width
        only (module docstring).
    y : np.ndarray [shape=(tfr.n_samples,)] or None
        The spectrum, for ``peaks``; None = the transform's full inverse.

    Returns
    -------
    np.ndarray [shape=(k, n_frames), int64]
        TFR rows (row 0 = lowest frequency), never an edge row (nor, with
        ``peaks``, a row outside its widths).
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

    if peaks is not None:
        y = _spectrum_of(tfr) if y is None else np.asarray(y, dtype=np.float64)
        peaks = peaks.resolved(tfr, y)
        a, b = peak_rows(tfr, peaks)
        f = np.asarray(tfr.frequencies, dtype=np.float64)[a:b]
        energy, block = _peak_energy_blocks(tfr, y, peaks, a, b, int(max_frames))
    else:
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
        # no all-zero column (0 / 0 in ssqueezepy); for peaks, also a noise floor
        floor = (_FLOOR if peaks is None else _PEAK_FLOOR) * float(energy.max())
        tf = np.sqrt(energy + floor).astype(np.complex128)
        idx = np.asarray(extract_ridges(tf, scales, penalty=penalty, n_ridges=1, bw=bw,
                                        transform=transform, parallel=False))[:, 0]
        rows = (n_inner - 1 - idx) if cwt else idx  # back to row 0 = lowest
        out[i] = a + rows[block]
        lo, hi = np.maximum(idx - bw, 0), np.minimum(idx + bw + 1, n_inner)
        cells = (np.arange(n_inner)[:, None] >= lo) & (np.arange(n_inner)[:, None] < hi)
        energy[cells] = 0.0
    return out


def _peak_energy_blocks(tfr, y, peaks: PeakSearch, a: int, b: int, max_frames: int):
    """Peak-matched energy of rows ``a:b`` (:func:`peak_energy`), block-averaged like
    :func:`_block_energy`; the baseline removed first when ``peaks.baseline``."""
    from phasebrush.core.tf.feature_width import width_axis

    if y.shape != (tfr.n_samples,):
        raise ParameterError(f"y has shape {y.shape}, the transform {tfr.n_samples} samples")
    pol = 1 if peaks.polarity == "up" else -1
    if peaks.baseline:
        y = y - rolling_baseline(y, size=_samples(peaks.baseline_size, tfr.dx), polarity=pol)
    widths = width_axis(tfr).widths[a:b]
    n = tfr.n_frames
    energy = peak_energy(y, widths, dx=tfr.dx, polarity=pol,
                         max_frames=max_frames if n > max_frames else None)
    if n <= max_frames:
        return energy, np.arange(n)
    edges = np.linspace(0, n, max_frames + 1).round().astype(np.intp)
    return energy, np.repeat(np.arange(max_frames), np.diff(edges))


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
                  max_vertices: int = 64, max_frames: int = 2048,
                  peaks: PeakSearch | None = None, y=None) -> list[Band]:
    """Bands around the ``k`` strongest ridges, ready to edit.

    Parameters
    ----------
    tfr : TFR
    k, penalty, bandwidth_rows, max_frames, peaks, y
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
        :data:`core.tf.bands.PALETTE`; ``(time, frequency)`` vertices in the
        signal's units spanning the first to the last frame.
    """
    m = int(max_vertices)
    if m < 2:
        raise ParameterError(f"max_vertices={max_vertices!r} must be >= 2")
    bw = default_bandwidth_rows(tfr.spec) if bandwidth_rows is None else int(bandwidth_rows)
    rows = ridge_rows(tfr, k=k, penalty=penalty, bandwidth_rows=bw, max_frames=max_frames,
                      peaks=peaks, y=y)
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
