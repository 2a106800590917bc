"""Time-frequency transforms over ssqueezepy, with one result type.

Row order, for every kind: row 0 is the LOWEST frequency and frequencies
ascend with the row index (ssqueezepy's CWT returns scales ascending, i.e.
frequencies descending, and its synchrosqueezed outputs differ again; all of
that is normalised here).

Frequencies are in cycles per signal unit: Hz when the axis is seconds,
cycles per cm^-1 for an IR spectrum, and so on.

The one-integral inverse of a hop-1 transform is

    x[t] = sum_r row_weights[r] * Re(coefficients[r, t]) + offset

and for the CWT kinds the transform carries two extra "edge rows" (when
``spec.edge_rows``): a low-pass row below the lowest wavelet and a high-pass
row above the highest, each the analytic signal of what the wavelets miss in
that part of the spectrum, so that the full mask is the identity.

The building blocks are public so that other backends (the torch twin) can
rebuild the same transforms: :func:`cwt_filterbank` (frequency-domain filters
on the padded grid, edge rows included), :func:`cwt_padding`,
:func:`reflect_pad`, :func:`apply_filterbank`, :func:`stft_window`,
:func:`stft_row_weights` and :func:`stft_frames`; :func:`transform`
documents the exact STFT convention.
"""

from __future__ import annotations

import collections
import functools
import os
import threading
import warnings
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import scipy.fft as sp_fft

from phasebrush.core.errors import Cancelled, OutOfMemoryError, ParameterError
from phasebrush.core.memory import available_bytes, check_fits
from phasebrush.core.signal import Signal

__all__ = [
    "KINDS", "WAVELETS", "TIME_BANDWIDTH", "SCALE_KINDS", "TransformSpec", "TFR", "transform",
    "CWTFilterbank", "cwt_filterbank", "cwt_padding", "reflect_pad", "apply_filterbank",
    "stft_window", "stft_row_weights", "stft_frames", "min_samples", "spec_for_signal",
    "AUDIO_FMIN", "AUDIO_MIN_RATE", "estimate_transform_bytes",
]

KINDS = ("cwt", "ssq_cwt", "stft", "ssq_stft")
WAVELETS = ("gmw", "morlet", "bump")
TIME_BANDWIDTH = (6.0, 600.0)  # GMW P^2 range accepted (beta 2 to 200)
SCALE_KINDS = ("log", "log-piecewise")


#: An audio recording's CWT starts here when no f min is set (Hz). ssqueezepy's
#: default rows reach ~2 / duration (0.5 Hz for a 4-s sentence): below 20 Hz they are
#: sub-audio, a third of a speech image's rows and the slowest to compute.
AUDIO_FMIN = 20.0
#: Sample rates from here up are audio recordings (Hz); slower time series (the
#: chirp demo, sensors) keep the full default range.
AUDIO_MIN_RATE = 8000.0


@dataclass(frozen=True)
class TransformSpec:
    """Everything that defines a transform of a signal (not the signal itself).

    Attributes
    ----------
    kind : {"cwt", "ssq_cwt", "stft", "ssq_stft"}
    wavelet : {"gmw", "morlet", "bump"}
        CWT kinds only.
    time_bandwidth : float or None
        GMW only (other wavelets ignore it): the Morse time-bandwidth product
        ``P^2 = beta * gamma`` (gamma = 3), in [6, 600]; smaller is shorter
        in time and wider in frequency. None = ssqueezepy's default, 180
        (beta 60). MATLAB's default, 60 (beta 20), makes phase retrieval
        from the scalogram far better conditioned (seed chirp, L-BFGS from
        pghi: 2e-6 vs 1.5e-2 inconsistency; speech: -53 vs -26 dB; see
        tests/benchmarks/bench_retrieval.py) at the cost of frequency
        resolution.
    nv : int >= 4
        Voices per octave (CWT kinds).
    scales : {"log", "log-piecewise"}
        Scale distribution (CWT kinds); "log" inverts ~3x better.
    fmin, fmax : float or None
        Frequency limits in cycles per signal unit (CWT kinds); None = the
        widest the signal length and Nyquist allow.
    edge_rows : bool
        CWT kinds: add the low-pass and high-pass rows that make the full mask
        the identity.
    window : str
        STFT window name for ``scipy.signal.get_window`` ("hann", "hamming",
        "dpss" ...), periodic.
    window_array : tuple of float or None
        An explicit window (overrides ``window``); length ``win_len``.
    n_fft : int >= 2
        STFT FFT length; the STFT has ``n_fft // 2 + 1`` rows.
    win_len : int or None
        Window length (<= n_fft); None = n_fft.
    hop : int >= 1
        STFT hop in samples. 1 makes the one-integral inverse exact and is
        required by ssq_stft.
    """

    kind: str = "cwt"
    wavelet: str = "gmw"
    time_bandwidth: float | None = None
    nv: int = 32
    scales: str = "log"
    fmin: float | None = None
    fmax: float | None = None
    edge_rows: bool = True
    window: str = "hann"
    window_array: tuple[float, ...] | None = field(default=None, repr=False)
    n_fft: int = 256
    win_len: int | None = None
    hop: int = 1

    @property
    def is_cwt(self) -> bool:
        return self.kind in ("cwt", "ssq_cwt")

    @property
    def is_ssq(self) -> bool:
        return self.kind.startswith("ssq_")

    def to_dict(self) -> dict:
        """JSON-friendly parameters (round-trips through :meth:`from_dict`)."""
        d = asdict(self)
        if d["window_array"] is not None:
            d["window_array"] = list(d["window_array"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TransformSpec:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ParameterError(f"unknown transform parameter(s): {sorted(unknown)}")
        d = dict(d)
        if d.get("window_array") is not None:
            d["window_array"] = tuple(float(v) for v in d["window_array"])
        return cls(**d)


@dataclass(frozen=True, eq=False)
class TFR:
    """A time-frequency representation of one signal.

    Attributes
    ----------
    coefficients : np.ndarray [shape=(n_rows, n_frames), complex128]
        Row 0 = lowest frequency. For hop 1, ``n_frames == n_samples``.
    frequencies : np.ndarray [shape=(n_rows,), float64, ascending]
        Row centre frequency in cycles per signal unit (edge rows: nominal
        values just outside the wavelets' range).
    times : np.ndarray [shape=(n_frames,), float64]
        Axis value (signal unit) at the centre of each column.
    row_weights : np.ndarray [shape=(n_rows,), float64]
        One-integral inverse weights (see module docstring).
    offset : float
        Added to every sample by the full inverse (the mean, where the
        transform drops it; 0 when an edge row carries DC).
    spec : TransformSpec
    n_samples : int
        Length of the signal transformed.
    dx, x0 : float
        The signal's sample spacing and first axis value.
    unit : str
        The signal's axis unit.
    edge_row_indices : tuple of int
        Rows that are edge rows (empty for STFT kinds or edge_rows=False).
    """

    coefficients: np.ndarray
    frequencies: np.ndarray
    times: np.ndarray
    row_weights: np.ndarray
    offset: float
    spec: TransformSpec
    n_samples: int
    dx: float
    x0: float = 0.0
    unit: str = "s"
    edge_row_indices: tuple[int, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        return self.coefficients.shape

    @property
    def n_rows(self) -> int:
        return self.coefficients.shape[0]

    @property
    def n_frames(self) -> int:
        return self.coefficients.shape[1]

    @property
    def magnitude(self) -> np.ndarray:
        """|coefficients| [shape=(n_rows, n_frames), float64]."""
        return np.abs(self.coefficients)


# --------------------------------------------------------------------------
# Building blocks (public: the torch twin in core/ rebuilds the transforms from
# them and must match to 1e-6)
# --------------------------------------------------------------------------

# ssqueezepy mutates a Wavelet while it transforms (``wavelet.N`` is set and
# restored, ``_Psih`` cached), so calls sharing one cached object are serialised.
_SSQ_LOCK = threading.RLock()


def _plain(v) -> str:
    """``v`` for a message: numpy scalars as plain Python numbers (700.0, not
    np.float64(700.0)), anything else as its repr."""
    if isinstance(v, np.generic):
        v = v.item()
    return repr(v)


def _check_spec(spec: TransformSpec) -> None:
    if not isinstance(spec, TransformSpec):
        raise ParameterError(f"spec must be a TransformSpec, got {type(spec).__name__}")
    if spec.kind not in KINDS:
        raise ParameterError(f"unknown transform kind {spec.kind!r}; expected one of {KINDS}")
    if spec.is_cwt:
        if spec.wavelet not in WAVELETS:
            raise ParameterError(
                f"unknown wavelet {spec.wavelet!r}; expected one of {WAVELETS}")
        tb = spec.time_bandwidth
        if tb is not None and spec.wavelet == "gmw":
            try:
                ok = TIME_BANDWIDTH[0] <= float(tb) <= TIME_BANDWIDTH[1]
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ParameterError(
                    f"time_bandwidth={_plain(tb)}: expected a number in "
                    f"[{TIME_BANDWIDTH[0]:g}, {TIME_BANDWIDTH[1]:g}] (beta * gamma, gamma = 3)")
        if not isinstance(spec.nv, (int, np.integer)) or spec.nv < 4:
            raise ParameterError(f"nv={spec.nv!r}: voices per octave must be an integer >= 4")
        if spec.scales not in SCALE_KINDS:
            raise ParameterError(
                f"unknown scale distribution {spec.scales!r}; expected one of {SCALE_KINDS}")
        for name in ("fmin", "fmax"):
            v = getattr(spec, name)
            if v is None:
                continue
            try:
                ok = np.isfinite(float(v)) and float(v) >= 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ParameterError(f"{name}={_plain(v)} must be a finite frequency >= 0")
        if spec.fmin is not None and spec.fmax is not None and spec.fmin >= spec.fmax:
            raise ParameterError(f"fmin={_plain(spec.fmin)} must be below fmax={_plain(spec.fmax)}")
    else:
        if not isinstance(spec.n_fft, (int, np.integer)) or spec.n_fft < 2:
            raise ParameterError(f"n_fft={spec.n_fft!r} must be an integer >= 2")
        if spec.win_len is not None and not (
                isinstance(spec.win_len, (int, np.integer)) and 1 <= spec.win_len <= spec.n_fft):
            raise ParameterError(
                f"win_len={spec.win_len!r} must be an integer in [1, n_fft={spec.n_fft}]")
        if not isinstance(spec.hop, (int, np.integer)) or spec.hop < 1:
            raise ParameterError(f"hop={spec.hop!r} must be an integer >= 1")
        if spec.kind == "ssq_stft" and spec.hop != 1:
            raise ParameterError(
                f"hop={spec.hop}: ssq_stft needs hop 1 (synchrosqueezing inverts per sample)")


def _wavelet_key(spec: TransformSpec) -> str:
    """The wavelet of ``spec`` as one hashable string: "gmw", "gmw:60", "morlet"."""
    if spec.time_bandwidth is None or spec.wavelet != "gmw":
        return spec.wavelet
    return f"{spec.wavelet}:{float(spec.time_bandwidth)!r}"


@functools.lru_cache(maxsize=8)
def _wavelet(name: str):
    """The ssqueezepy Wavelet object for ``name`` (see :func:`_wavelet_key`),
    float64, built once.

    GMW uses the L1 ("bandpass") norm, as ``ssqueezepy.cwt`` does by default.
    """
    from ssqueezepy.wavelets import Wavelet

    name, _, tb = name.partition(":")
    cfg = {"dtype": "float64"}
    if name == "gmw":
        cfg["norm"] = "bandpass"
        if tb:
            cfg.update(gamma=3.0, beta=float(tb) / 3.0)
    return Wavelet((name, cfg))


@functools.lru_cache(maxsize=8)
def _adm_ssq(name: str) -> float:
    from ssqueezepy.utils import adm_ssq

    return float(adm_ssq(_wavelet(name)))


# min_samples() probes many short lengths; they must not evict the long ones
@functools.lru_cache(maxsize=256)
def _all_scales(wavelet: str, scales: str, nv: int, n_samples: int) -> np.ndarray:
    from ssqueezepy.utils import process_scales

    try:
        s = _lean_scales_or_none(wavelet, scales, nv, n_samples)
        if s is None:
            s = process_scales(scales, n_samples, _wavelet(wavelet), nv=nv)
    except MemoryError:
        raise                 # not a matter of too few samples; transform() reports it
    except Exception as exc:  # ssqueezepy raises bare Exception for tiny N
        raise ParameterError(
            f"{n_samples} samples are too few for a {wavelet} CWT with nv={nv} "
            f"{scales!r} scales (ssqueezepy: {exc})") from None
    s = np.asarray(s, dtype=np.float64).ravel()
    s.flags.writeable = False
    return s


def _associated_frequencies(wavelet: str, scales: np.ndarray, n_samples: int,
                            dx: float) -> np.ndarray:
    """Frequencies of wavelet rows, ssq_cwt's convention (maprange='peak').

    Returns them ASCENDING, i.e. for ``scales[::-1]``: the same values
    ``ssq_cwt(..., fs=1/dx)`` returns as ``ssq_freqs`` for these scales
    (log-spaced between the discrete peak frequencies of the largest and the
    smallest scale on the padded grid).
    """
    from ssqueezepy.ssqueezing import _compute_associated_frequencies
    from ssqueezepy.utils import infer_scaletype

    kind, _ = infer_scaletype(scales)
    f = _lean_frequencies(wavelet, scales, n_samples, dx, kind)
    if f is None:   # a case the lean path cannot prove: ssqueezepy's own (full grid)
        f = _compute_associated_frequencies(
            scales, n_samples, _wavelet(wavelet), kind, "peak", True, dx, "cwt")
    return np.asarray(f, dtype=np.float64).ravel()


# --------------------------------------------------------------------------
# Scales and row frequencies without full-grid arrays
#
# ssqueezepy derives the 'log' scales' largest scale and every row frequency
# ('peak' centre frequencies) from wavelets sampled on the whole padded grid
# p2up(N) (2**26 bins for 10 min of 44.1 kHz audio: ~2 GB of temporaries for
# values that depend on a few bins). The functions below compute the same
# floating-point values from the few bins that decide them, with the same
# elementwise operations in the same order, so they are bit-identical (checked
# against ssqueezepy over many N in tests/core/tf/test_transforms.py); where a
# guard cannot prove that the few bins decide the result they return None and
# the caller takes ssqueezepy's own path.
# --------------------------------------------------------------------------

_WINDOW_BINS = (16, 256, 4096)   # half-widths tried around an expected peak


def _positive_bins(wav, scale, M: int, lo: int, hi: int) -> np.ndarray:
    """``wav(scale * xi)`` on positive bins ``lo..hi-1`` of an M-bin grid.

    ``xi[i] = i * (2 pi / M)`` as ``ssqueezepy.wavelets._xifn`` makes it; the
    product with the scale and the wavelet are elementwise, so each value
    equals the whole grid's. The imaginary part is dropped where it is zero
    (as ``Wavelet.__call__`` drops it for all three wavelets); None if not.
    """
    h = 1.0 * (2 * np.pi) / M
    xi = np.arange(lo, hi, dtype=np.int64).astype(np.float64) * h
    with _SSQ_LOCK:
        psih = np.asarray(wav.fn(np.asarray(scale, dtype=np.float64) * xi))
    if np.iscomplexobj(psih):
        if np.any(psih.imag != 0):
            return None
        psih = psih.real
    return psih


def _window_argmax(values_at, centre: float, n_bins: int) -> int | None:
    """First index of the maximum of a unimodal ``values_at(lo, hi)`` over
    ``0..n_bins-1``, from a window around ``centre``; None where no window
    proves it (the maximum must exceed both window ends, or sit at the last
    bin, and be > 0; a window starting at bin 0 proves nothing).

    Why a window suffices: with a unimodal sequence, an interior first maximum
    strictly above both ends of the window is the first maximum of all.
    """
    c = int(min(max(round(centre), 0), n_bins - 1))
    for half in _WINDOW_BINS:
        lo, hi = max(1, c - half), min(n_bins, c + half + 1)
        if hi - lo < 3:
            return None
        v = values_at(lo, hi)
        if v is None:
            return None
        i = int(np.argmax(v))
        top = v[i]
        if not top > 0 or i == 0:
            continue
        if i == len(v) - 1 and hi != n_bins:
            continue
        if i < len(v) - 1 and not top > v[-1]:
            continue
        return lo + i
    return None


def _peak_radian_discrete(wk: str, scale: float, n_samples: int) -> float | None:
    """``ssqueezepy.wavelets.center_frequency(wav, scale, N=p2up(n)[0], kind='peak')``
    from a window of bins around the continuous peak; None where unproven.

    The whole-grid version takes the first maximum of ``|psih|**2`` over the
    grid's bins in ascending frequency (negative bins first, where all three
    wavelets are zero or far below their positive peak).
    """
    from ssqueezepy.utils import p2up

    M = int(p2up(int(n_samples))[0])
    wav = _wavelet(wk)
    h = 1.0 * (2 * np.pi) / M

    def power(lo, hi):
        p = _positive_bins(wav, scale, M, lo, hi)
        return None if p is None else np.abs(p) ** 2

    i = _window_argmax(power, _peak_radian(wk) / (float(scale) * h), M // 2 + 1)
    return None if i is None else float(i * h)


def _max_scale_alt(wk: str, M: int) -> float | None:
    """``ssqueezepy.utils.find_max_scale_alt(wav, M, min_cutoff=.6, max_cutoff=.8)``
    (the 'log' scales' largest scale) without its ``arange(w_cutoff, w_peak, 1/M)``.

    That function takes the first drop of ``n_divs % 1`` (``n_divs = w /
    (2 (w_peak - w))`` over ``w = arange(...)``). ``n_divs`` is exactly
    monotone (each step is a correctly rounded monotone operation), so drops
    can only occur where its integer part steps up; those indices are found
    by bisection on the elementwise formula, the first with a drop wins.
    None where the search does not settle (ssqueezepy then runs as is).
    """
    w_peak, w_cutoff = _alt_search_points(wk)
    start, step = w_cutoff, 1 / M
    # numpy's arange: length ceil((stop - start) / step), values start + i * delta
    # with delta = (start + step) - start (its fill function)
    n_w = int(np.ceil((w_peak - start) / step))
    delta = (start + step) - start
    n_div = n_w - 1                       # n_divs drops the last w
    if n_div < 3:
        return None

    def at(idx):
        w = start + np.asarray(idx, dtype=np.int64).astype(np.float64) * delta
        div_size = (w_peak - w) * 2
        return w / div_size, div_size

    def first_above(floor_value, lo):
        """Smallest index >= lo whose n_divs has an integer part > floor_value."""
        hi = n_div - 1
        if np.floor(at([hi])[0][0]) <= floor_value:
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            if np.floor(at([mid])[0][0]) > floor_value:
                hi = mid
            else:
                lo = mid + 1
        return lo

    k = 1
    for _ in range(1000):
        j = first_above(np.floor(at([k - 1])[0][0]), k)
        if j is None:
            return None                   # ssqueezepy raises here; let it say so
        n_pair, _ = at([j - 1, j])
        if np.diff(n_pair % 1)[0] < -.8:
            _, div_size = at([j])
            return float(div_size[0] / (np.pi / (M / 2)))
        k = j + 1
    return None


def _max_scale_maximal(wk: str, M: int) -> float | None:
    """``ssqueezepy.utils.find_max_scale(wav, M, bin_loc=2, bin_amp=1)`` (the
    'log-piecewise' scales' largest scale) from bins around its peak, which
    sits near bin M / 8 (the wavelet is sampled at scale ``(4/pi) w_peak``).

    With ``bin_amp=1`` the bin it picks is the one just below the first
    maximum of ``psih`` over the positive bins.
    """
    wav = _wavelet(wk)
    wc_ct = _alt_search_points(wk)[0]
    scalec_ct = (4 / np.pi) * wc_ct

    midx = _window_argmax(lambda lo, hi: _positive_bins(wav, scalec_ct, M, lo, hi),
                          M / 8, M // 2 + 1)
    if midx is None or midx < 3:
        return None
    xi = scalec_ct * (np.array([midx - 1, 2], dtype=np.float64) * (1.0 * (2 * np.pi) / M))
    return float(scalec_ct * (xi[0] / xi[1]))


@functools.lru_cache(maxsize=8)
def _alt_search_points(wk: str) -> tuple[float, float]:
    """(w_peak, w_cutoff) of ``find_max_scale_alt``: the wavelet's continuous
    peak (``find_maximum``) and where it first reaches 0.6 of it. They do not
    depend on N, and each search takes ~0.05 s."""
    from ssqueezepy.algos import find_first_occurrence, find_maximum

    wav = _wavelet(wk)
    with _SSQ_LOCK:
        w_peak, peak = find_maximum(wav.fn)
        w_cutoff, _ = find_first_occurrence(wav.fn, value=.6 * peak, step_start=0,
                                            step_limit=w_peak)
    return float(w_peak), float(w_cutoff)


@functools.lru_cache(maxsize=8)
def _min_scale(wk: str) -> float:
    from ssqueezepy.utils import find_min_scale

    with _SSQ_LOCK:
        return float(find_min_scale(_wavelet(wk), cutoff=-.5))


def _lean_scales_or_none(wk: str, scales: str, nv: int, n_samples: int) -> np.ndarray | None:
    """:func:`_lean_scales`, or None where it cannot prove its result, or
    fails (ssqueezepy then runs as is and raises its own error)."""
    try:
        return _lean_scales(wk, scales, nv, n_samples)
    except MemoryError:
        raise
    except Exception:  # e.g. tiny N; ssqueezepy's own path says what is wrong
        return None


def _lean_frequencies(wk: str, scales: np.ndarray, n_samples: int, dx: float,
                      kind: str) -> np.ndarray | None:
    """``ssqueezepy.ssqueezing._compute_associated_frequencies(scales, n, wav,
    kind, 'peak', True, dx, 'cwt')`` with the centre frequencies of
    :func:`_peak_radian_discrete`; None where one of them is unproven.

    The formulas below are ssqueezepy's, line for line.
    """
    from ssqueezepy.ssqueezing import _exp_fm
    from ssqueezepy.utils import logscale_transition_idx

    def centre(scale):
        wc = _peak_radian_discrete(wk, scale, n_samples)
        return None if wc is None else wc / (2 * np.pi) / dx

    try:
        fm, fM = centre(scales[-1]), centre(scales[0])
        if fm is None or fM is None:
            return None
        na = len(scales)
        if kind == "log":
            return fm * np.power(fM / fm, np.arange(na) / (na - 1))
        if kind != "log-piecewise":
            return np.linspace(fm, fM, na)
        idx = logscale_transition_idx(scales)
        if idx is None:
            return fm * np.power(fM / fm, np.arange(na) / (na - 1))
        f1 = centre(scales[idx])
        if f1 is None:
            return None
        t1 = np.arange(0, na - idx - 1) / (na - 1)
        t2 = np.arange(na - idx - 1, na) / (na - 1)
        t1 = np.hstack([t1, t2[0]])
        sqf = np.hstack([_exp_fm(t1, fm, f1)[:-1], _exp_fm(t2, f1, fM)])
        ssq_idx = logscale_transition_idx(sqf)
        if ssq_idx is None or na - ssq_idx != idx:
            return None     # ssqueezepy raises for these; its own path says so
        return sqf
    except MemoryError:
        raise
    except Exception:
        return None


def _lean_scales(wk: str, scales: str, nv: int, n_samples: int) -> np.ndarray | None:
    """``ssqueezepy.utils.process_scales(scales, n, wav, nv=nv)`` for 'log' and
    'log-piecewise' scales, in O(n_scales) memory; None where unproven.

    Its steps: ``cwt_scalebounds`` (preset None for 'log', 'maximal' for
    'log-piecewise'; cutoff -0.5 either way) on the grid ``p2up(n)``, then
    ``make_scales``, which is O(n_scales) already and called as is.
    """
    from ssqueezepy.utils import make_scales, p2up

    M = int(p2up(int(n_samples))[0])
    if scales == "log":
        max_scale = _max_scale_alt(wk, M)
    else:
        max_scale = _max_scale_maximal(wk, M)
    if max_scale is None:
        return None
    with _SSQ_LOCK:
        return make_scales(int(n_samples), _min_scale(wk), max_scale, nv=int(nv),
                           scaletype=scales, wavelet=_wavelet(wk))


def _scale_row_weights(scales: np.ndarray, Css: float) -> np.ndarray:
    """One-integral weights of CWT rows, ``(2 / Css) * ln(2) / nv`` per row.

    For 'log-piecewise' scales the two pieces have different voices per
    octave (as in ``ssqueezepy.icwt``, which inverts them separately).
    """
    from ssqueezepy.utils import logscale_transition_idx

    def piece(s):
        if len(s) < 2:
            return np.full(len(s), np.nan)
        dlog = np.log(s[1] / s[0])  # = ln2 / nv of this piece
        return np.full(len(s), (2.0 / Css) * dlog)

    idx = logscale_transition_idx(scales) if len(scales) > 2 else None
    if idx is None:
        return piece(scales)
    w0, w1 = piece(scales[:idx]), piece(scales[idx:])
    # a one-scale piece borrows its neighbour's spacing
    if np.isnan(w0).any():
        w0[:] = w1[0]
    if np.isnan(w1).any():
        w1[:] = w0[-1]
    return np.concatenate([w0, w1])


def reflect_pad(x: np.ndarray, n_pad: int, pad_left: int) -> np.ndarray:
    """Reflect-pad the last axis to ``n_pad`` samples, ``pad_left`` on the left.

    Same as ``ssqueezepy.utils.padsignal(x, 'reflect')`` (numpy 'reflect':
    ``[1,2,3,4] -> [3,4,3,2, 1,2,3,4, 3,2,1]``).

    Parameters
    ----------
    x : np.ndarray [shape=(..., n), float64]
    n_pad, pad_left : int

    Returns
    -------
    np.ndarray [shape=(..., n_pad), float64]
    """
    x = np.asarray(x, dtype=np.float64)
    right = n_pad - x.shape[-1] - pad_left
    if right < 0 or pad_left < 0:
        raise ParameterError(
            f"cannot pad {x.shape[-1]} samples to n_pad={n_pad} with pad_left={pad_left}")
    width = [(0, 0)] * (x.ndim - 1) + [(pad_left, right)]
    return np.pad(x, width, mode="reflect")


def cwt_padding(n_samples: int) -> tuple[int, int]:
    """``(n_pad, pad_left)`` of ssqueezepy's CWT padding (``utils.p2up``).

    ``n_pad = 2 ** (1 + round(log2(n)))`` (at least the next power of 2 above
    ``n``, often twice that); the signal sits at ``[pad_left, pad_left + n)``.
    """
    from ssqueezepy.utils import p2up

    n_pad, n1, _ = p2up(int(n_samples))
    return int(n_pad), int(n1)


@dataclass(frozen=True, eq=False)
class CWTFilterbank:
    """The CWT of ``spec`` for signals of ``n_samples``, as frequency-domain filters.

    The transform is exactly::

        xp = reflect_pad(x, n_pad, pad_left)
        W = ifft(fft(xp) * psi, axis=-1)[:, pad_left:pad_left + n_samples]

    and, for ``spec.kind == 'cwt'``, ``x == row_weights @ W.real + offset``
    (offset = 0 with edge rows, else the mean).

    Attributes
    ----------
    psi : np.ndarray [shape=(n_rows, n_pad), float64, read-only]
        Filters on the padded FFT grid (numpy FFT bin order, bin k =
        k / n_pad cycles per sample). Row 0 = LOWEST frequency. Wavelet rows
        are ssqueezepy's ``Wavelet(scale=s, N=n_pad, nohalf=False)``; edge
        rows (first and last, when ``spec.edge_rows``) are analytic
        complement filters: ``2 * G`` on positive bins, ``G`` at DC and
        Nyquist, 0 on negative bins.
    n_pad, pad_left : int
        Padded length and left padding (see :func:`cwt_padding`).
    frequencies : np.ndarray [shape=(n_rows,), float64, ascending]
        Cycles per signal unit (ssq_cwt's 'peak' convention for wavelet rows;
        edge rows nominal: ``f_lo / 2**(1/nv)`` and
        ``max(Nyquist, f_hi * 2**(1/nv))``).
    row_weights : np.ndarray [shape=(n_rows,), float64]
        One-integral weights of the rows of ``W``: ``(2/Css) ln2/nv`` for
        wavelet rows (Css = ``ssqueezepy.utils.adm_ssq``), 1 for edge rows.
        For an ``ssq_cwt`` spec these are the weights whose sum the edge
        rows complement (ssq's own ``ln2/nv`` times ``2/Css``).
    scales : np.ndarray [shape=(n_rows,), float64]
        Wavelet scale of each row (descending, as frequency ascends); NaN
        for edge rows.
    edge_row_indices : tuple of int
        ``(0, n_rows - 1)`` with edge rows, else ``()``.
    n_samples : int
    dx : float
    """

    psi: np.ndarray
    n_pad: int
    pad_left: int
    frequencies: np.ndarray
    row_weights: np.ndarray
    scales: np.ndarray
    edge_row_indices: tuple[int, ...]
    n_samples: int
    dx: float

    @property
    def n_rows(self) -> int:
        return self.psi.shape[0]

    @property
    def offset_from_mean(self) -> bool:
        """True when the full inverse must add the signal mean (no edge rows)."""
        return not self.edge_row_indices


def _cwt_limits_msg(spec, f, dx):
    return (f"the wavelets of nv={spec.nv} {spec.scales!r} scales reach "
            f"{f[0]:.6g} to {f[-1]:.6g} cycles per unit (Nyquist {0.5 / dx:.6g})")


@functools.lru_cache(maxsize=8)
def _peak_radian(name: str) -> float:
    """Continuous peak (radian frequency) of the wavelet at scale 1."""
    from ssqueezepy.wavelets import find_maximum

    wc, _ = find_maximum(_wavelet(name).fn)
    return float(wc)


def _check_fmax(spec: TransformSpec, dx: float) -> None:
    nyq = 0.5 / dx
    if spec.fmax is not None and spec.fmax > nyq * (1 + 1e-9):
        raise ParameterError(f"fmax={_plain(spec.fmax)} is above the Nyquist frequency {nyq:.6g}")


def _selected_scales(spec: TransformSpec, n_samples: int, dx: float) -> np.ndarray:
    """Scales (ascending, as ssqueezepy orders them) whose rows lie in [fmin, fmax].

    Chosen by each scale's peak frequency, then trimmed so that the row
    frequencies of the kept scales (see :func:`_associated_frequencies`,
    recomputed for the subset) stay inside the limits too.
    """
    wk = _wavelet_key(spec)
    s = _all_scales(wk, spec.scales, int(spec.nv), n_samples)
    _check_fmax(spec, dx)
    f_lowest = 1.0 / (n_samples * dx)
    if spec.fmin is not None and 0 < spec.fmin < f_lowest * (1 - 1e-9):
        raise ParameterError(
            f"fmin={_plain(spec.fmin)} is below the lowest frequency {n_samples} samples resolve "
            f"(1 / (N dx) = {f_lowest:.6g}); use 0 or None for the widest range")
    if spec.fmin is None and spec.fmax is None:
        return s
    f = np.minimum(_peak_radian(wk) / s, np.pi) / (2 * np.pi * dx)
    keep = np.ones(len(s), dtype=bool)
    if spec.fmin is not None:
        keep &= f >= spec.fmin
    if spec.fmax is not None:
        keep &= f <= spec.fmax
    sel = np.ascontiguousarray(s[keep])
    while len(sel) >= 2:
        fr = _associated_frequencies(wk, sel, n_samples, dx)
        if spec.fmax is not None and fr[-1] > spec.fmax:
            sel = sel[1:]           # smallest scale = highest frequency
        elif spec.fmin is not None and fr[0] < spec.fmin:
            sel = sel[:-1]
        else:
            break
    if len(sel) < 2:
        fa = _associated_frequencies(wk, s, n_samples, dx)
        raise ParameterError(
            f"fmin={_plain(spec.fmin)}, fmax={_plain(spec.fmax)} leave fewer than 2 wavelets: "
            + _cwt_limits_msg(spec, fa, dx))
    return np.ascontiguousarray(sel)


def _scales_ok(spec: TransformSpec, n_samples: int, dx: float) -> bool:
    """Whether ssqueezepy builds >= 2 wavelet rows of ``spec`` for ``n_samples``
    with finite, strictly ascending frequencies (what both CWT kinds need)."""
    try:
        s = _selected_scales(spec, n_samples, dx)
        f = _associated_frequencies(_wavelet_key(spec), s, n_samples, dx)
    except MemoryError:
        raise
    except Exception:  # ParameterError, or ssqueezepy's own for a length it cannot do
        return False
    return len(s) >= 2 and bool(np.all(np.isfinite(f)) and np.all(np.diff(f) > 0))


_MIN_SEARCH_LIMIT = 1 << 20


@functools.lru_cache(maxsize=64)
def _min_cwt_samples(spec: TransformSpec) -> int:
    """The smallest N from which ``spec``'s scales work (no fmin/fmax in ``spec``:
    those are checked with their own messages, and do not depend on dx here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ssqueezepy warns about the tiny lengths it tries
        for n in range(2, 256):             # the usual minimums are a few dozen samples
            if _scales_ok(spec, n, 1.0):
                return n
        bad, n = 255, 512
        while n <= _MIN_SEARCH_LIMIT:
            if _scales_ok(spec, n, 1.0):
                while n - bad > 1:          # bisect, taking success as monotone up here
                    mid = (bad + n) // 2
                    bad, n = (bad, mid) if _scales_ok(spec, mid, 1.0) else (mid, n)
                return n
            bad, n = n, 2 * n
    # e.g. 'bump' with nv 4 or 6 'log' scales: NaN row frequencies at any length
    raise ParameterError(
        f"ssqueezepy builds no usable {spec.wavelet} CWT with nv={spec.nv} {spec.scales!r} "
        f"scales for any length up to {_MIN_SEARCH_LIMIT} samples; change nv or scales")


def _fmin_samples(spec: TransformSpec, dx: float) -> int:
    """Fewest samples whose lowest frequency ``1 / (N dx)`` reaches ``spec.fmin``."""
    if not spec.fmin:
        return 2
    return int(np.ceil(1.0 / (float(spec.fmin) * dx) * (1 - 1e-9)))


def min_samples(spec: TransformSpec, dx: float = 1.0) -> int:
    """The fewest samples :func:`transform` accepts with ``spec``.

    STFT kinds: ``n_fft`` (a frame must fit in the signal; hop <= n_fft by
    NOLA). CWT kinds: the smallest length from which ssqueezepy builds at
    least two wavelet rows with finite, ascending frequencies, found by
    trying lengths (cached), and at least ``1 / (fmin * dx)`` so that fmin
    is resolved. With nv 32 'log' scales that is 91 for 'gmw' and 23 for
    'morlet' and 'bump'; 'log-piecewise' scales start lower (2 to 12).
    ssqueezepy fails at a few lengths above the minimum for some settings,
    and fmin/fmax can leave fewer than two wavelets; :func:`transform`
    reports those with their own messages.

    Parameters
    ----------
    spec : TransformSpec
    dx : float > 0
        Sample spacing; matters only with ``fmin``.

    Raises
    ------
    ParameterError
        A bad spec, or settings for which no length up to 2**20 works.
    """
    _check_spec(spec)
    if not spec.is_cwt:
        return int(spec.n_fft)
    tb = spec.time_bandwidth if spec.wavelet == "gmw" else None
    key = TransformSpec(kind="cwt", wavelet=spec.wavelet,
                        time_bandwidth=None if tb is None else float(tb), nv=int(spec.nv),
                        scales=spec.scales)
    return max(_min_cwt_samples(key), _fmin_samples(spec, float(dx)))


def _check_length(signal: Signal, spec: TransformSpec) -> None:
    """Refuse a signal shorter than :func:`min_samples`, saying what to change."""
    n, name = signal.n, str(signal.source or signal.name)
    need = min_samples(spec, signal.dx)
    if n >= need:
        return
    if not spec.is_cwt:
        raise ParameterError(
            f"{name}: {n} samples are too few for an {spec.kind.upper()} with "
            f"n_fft={spec.n_fft} (n_fft={spec.n_fft} is larger than the signal); it needs at "
            f"least {need} samples, or set n_fft to {n} or less")
    if n >= _min_cwt_samples(replace(spec, fmin=None, fmax=None, kind="cwt")):
        raise ParameterError(
            f"{name}: fmin={_plain(spec.fmin)} is below the lowest frequency {n} samples resolve "
            f"(1 / (N dx) = {1.0 / (n * signal.dx):.6g}); use 0 or None for the widest range, "
            f"or a signal of at least {need} samples")
    alts = []
    options = [("wavelet", w) for w in WAVELETS if w != spec.wavelet]
    if spec.scales != "log-piecewise":
        options.append(("scales", "log-piecewise"))
    for field_, value in options:
        try:
            m = min_samples(replace(spec, **{field_: value}), signal.dx)
        except ParameterError:
            continue
        if m <= n:
            alts.append(f"{field_}={value!r} works from {m}")
    hint = f"; {', '.join(alts)}" if alts else ""
    raise ParameterError(
        f"{name}: {n} samples are too few for a {spec.wavelet} {spec.kind.upper()} with "
        f"nv={spec.nv} {spec.scales!r} scales; it needs at least {need} samples{hint}")


def _ssq_const(scales: np.ndarray, n_samples: int) -> np.ndarray:
    """The ``ln2 / nv`` ssqueezepy's ``ssqueeze`` multiplies each row by.

    Per scale (ascending scale order); 'log-piecewise' gives two values.
    """
    from ssqueezepy.utils import process_scales

    _, kind, _, nv = process_scales(scales, n_samples, get_params=True)
    if not kind.startswith("log"):
        raise ParameterError(f"scales inferred as {kind!r}; only log scales are supported")
    nv = np.asarray(nv, dtype=np.float64).ravel()
    return np.broadcast_to(np.log(2) / nv, (len(scales),)).astype(np.float64)


def cwt_filterbank(spec: TransformSpec, n_samples: int, *, dx: float = 1.0,
                   cancel=None) -> CWTFilterbank:
    """The frequency-domain CWT filterbank of ``spec`` for ``n_samples``.

    Cached (``functools.lru_cache`` on the hashable arguments); the arrays are
    read-only.

    Parameters
    ----------
    spec : TransformSpec
        kind 'cwt' or 'ssq_cwt'.
    n_samples : int >= 2
    dx : float > 0
        Sample spacing (frequencies come out in cycles per unit of ``dx``).
    cancel : callable () -> bool, or None
        Checked between blocks of filters (see :func:`transform`).

    Raises
    ------
    ParameterError
        Not a CWT kind, or bad wavelet / nv / scales / limits.
    Cancelled
        ``cancel()`` returned True.
    """
    _check_spec(spec)
    if not spec.is_cwt:
        raise ParameterError(f"cwt_filterbank needs a CWT kind, got kind={spec.kind!r}")
    n_samples = int(n_samples)
    if n_samples < 2:
        raise ParameterError(f"n_samples={n_samples}: at least 2 samples are needed")
    dx = float(dx)
    if not np.isfinite(dx) or dx <= 0:
        raise ParameterError(f"dx={dx!r} must be > 0")
    # key on the CWT fields only, so STFT-only fields do not duplicate big entries
    # and on the time-bandwidth only where the wavelet reads it
    tb = spec.time_bandwidth if spec.wavelet == "gmw" else None
    key = TransformSpec(kind=spec.kind, wavelet=spec.wavelet,
                        time_bandwidth=None if tb is None else float(tb), nv=int(spec.nv),
                        scales=spec.scales,
                        fmin=None if spec.fmin is None else float(spec.fmin),
                        fmax=None if spec.fmax is None else float(spec.fmax),
                        edge_rows=bool(spec.edge_rows))
    return _cached_filterbank(key, n_samples, dx, _Steps.of(cancel, None))


# Two entries: at N = 65536 one filterbank holds ~300 MB. A plain dict, not
# lru_cache, because the cancel check must reach the build without being part
# of the key; a cancelled build caches nothing.
_FB_CACHE: collections.OrderedDict = collections.OrderedDict()
_FB_CACHE_SIZE = 2
_FB_LOCK = threading.Lock()


def _cached_filterbank(spec: TransformSpec, n_samples: int, dx: float,
                       steps: _Steps) -> CWTFilterbank:
    key = (spec, n_samples, dx)
    with _FB_LOCK:
        fb = _FB_CACHE.get(key)
        if fb is not None:
            _FB_CACHE.move_to_end(key)
            return fb
    fb = _cwt_filterbank(spec, n_samples, dx, steps)
    with _FB_LOCK:
        _FB_CACHE[key] = fb
        _FB_CACHE.move_to_end(key)
        while len(_FB_CACHE) > _FB_CACHE_SIZE:
            _FB_CACHE.popitem(last=False)
    return fb


def _cwt_filterbank(spec: TransformSpec, n_samples: int, dx: float,
                    steps: _Steps) -> CWTFilterbank:
    wk = _wavelet_key(spec)
    wav = _wavelet(wk)
    Css = _adm_ssq(wk)
    scales = _selected_scales(spec, n_samples, dx)          # ascending scale
    freqs = _associated_frequencies(wk, scales, n_samples, dx)  # ascending f
    n_pad, pad_left = cwt_padding(n_samples)

    s_desc = scales[::-1]
    psi = np.empty((len(s_desc), n_pad), dtype=np.float64)
    step = _row_block(n_pad)
    for i in range(0, len(s_desc), step):
        steps.check()
        with _SSQ_LOCK:
            p = np.asarray(wav(scale=s_desc[i:i + step, None], N=n_pad, nohalf=False))
        psi[i:i + step] = p.real if np.iscomplexobj(p) else p
    steps.check()
    s_rows = scales[::-1].copy()
    if spec.kind == "cwt":
        weights = _scale_row_weights(scales, Css)[::-1].copy()
    else:
        weights = (2.0 / Css) * _ssq_const(scales, n_samples)[::-1]

    edge = ()
    if spec.edge_rows:
        lo, hi = _edge_filters(psi, weights, freqs, n_pad, dx)
        psi = np.vstack([lo, psi, hi])
        step = 2.0 ** (1.0 / spec.nv)
        freqs = np.concatenate([[freqs[0] / step], freqs, [max(0.5 / dx, freqs[-1] * step)]])
        weights = np.concatenate([[1.0], weights, [1.0]])
        s_rows = np.concatenate([[np.nan], s_rows, [np.nan]])
        edge = (0, len(freqs) - 1)
    for a in (psi, freqs, weights, s_rows):
        a.flags.writeable = False
    return CWTFilterbank(psi=psi, n_pad=n_pad, pad_left=pad_left, frequencies=freqs,
                         row_weights=weights, scales=s_rows, edge_row_indices=edge,
                         n_samples=n_samples, dx=dx)


def _edge_filters(psi, weights, freqs, n_pad, dx):
    """Low- and high-pass analytic filters completing the wavelets to identity.

    The real part of the weighted row sum responds with
    ``R[k] = sum_j w_j (psi_j[k] + psi_j[-k]) / 2`` (symmetric in k); the
    complement ``G = 1 - R`` is split at the geometric middle of the
    wavelets' frequencies, and each part is made analytic so that its row's
    real part is the real signal filtered by that part of G.
    """
    R = weights @ psi
    R = 0.5 * (R + np.roll(R[::-1], 1))     # R[-k] for k = 0..n_pad-1
    G = 1.0 - R
    k = np.arange(n_pad)
    k_abs = np.minimum(k, n_pad - k)          # |frequency| in bins
    k_mid = np.sqrt(freqs[0] * freqs[-1]) * dx * n_pad
    analytic = np.zeros(n_pad)
    analytic[1:n_pad // 2] = 2.0
    analytic[0] = 1.0
    if n_pad % 2 == 0:
        analytic[n_pad // 2] = 1.0
    else:
        analytic[n_pad // 2] = 2.0
    low = np.where(k_abs < k_mid, G, 0.0) * analytic
    high = np.where(k_abs >= k_mid, G, 0.0) * analytic
    return low, high


#: Caps the FFT threads of this process when set (a batch worker running beside others
#: sets it to its share of the cores, so n workers do not start n x cores threads).
THREADS_ENV = "PHASEBRUSH_THREADS"


def _fft_workers() -> int:
    cap = os.environ.get(THREADS_ENV, "").strip()
    if cap.isdigit() and int(cap) >= 1:
        return int(cap)
    return max(1, os.cpu_count() or 1)


def apply_filterbank(x: np.ndarray, fb: CWTFilterbank, *, rows: slice | None = None,
                     chunk: int | None = None, cancel=None, progress=None) -> np.ndarray:
    """``ifft(fft(reflect_pad(x)) * psi)`` unpadded: the CWT rows of ``fb``.

    Parameters
    ----------
    x : np.ndarray [shape=(n_samples,), float64]
    fb : CWTFilterbank
    rows : slice or None
        Only these rows of ``fb.psi`` (default all).
    chunk : int or None
        Rows per FFT batch (bounds the memory of the padded intermediate);
        None = as many as keep it near 64 MiB, at most 32. The result does
        not depend on it.
    cancel : callable () -> bool, or None
        Checked before each batch; True raises :class:`~core.errors.Cancelled`.
    progress : callable (float) -> None, or None
        Fraction of the rows done, 0..1, after each batch.

    Returns
    -------
    np.ndarray [shape=(n_rows, n_samples), complex128]
    """
    steps = _Steps.of(cancel, progress)
    psi = fb.psi if rows is None else fb.psi[rows]
    chunk = _row_block(fb.n_pad) if chunk is None else max(1, int(chunk))
    steps.check()
    xh = sp_fft.fft(reflect_pad(x, fb.n_pad, fb.pad_left), workers=_fft_workers())
    n = fb.n_samples
    out = np.empty((psi.shape[0], n), dtype=np.complex128)
    for i in range(0, psi.shape[0], chunk):
        steps.check(i / max(psi.shape[0], 1))
        Wp = sp_fft.ifft(psi[i:i + chunk] * xh, axis=-1, workers=_fft_workers(),
                         overwrite_x=True)
        out[i:i + chunk] = Wp[:, fb.pad_left:fb.pad_left + n]
    steps.check(1.0)
    return out


# Elements per block of the blocked loops (4 Mi: 64 MiB of complex128). The
# results do not depend on it; tests shrink it to exercise the blocking.
_BLOCK_ELEMS = 1 << 22


def _row_block(n_pad: int) -> int:
    """Rows per batch: a (rows, n_pad) complex128 block near 64 MiB, 1..32 rows.

    Small enough that a batch takes well under 0.1 s (a cancel check between
    batches then stops a transform promptly), large enough that the Python
    loop costs nothing next to the FFTs.
    """
    return int(min(32, max(1, _BLOCK_ELEMS // max(int(n_pad), 1))))


class _Steps:
    """The cancel check and progress report of one long computation.

    ``check(fraction)`` raises Cancelled once ``cancel()`` is true and
    reports ``lo + fraction * (hi - lo)`` to ``progress``; :meth:`part`
    hands a stage its share of the range.
    """

    __slots__ = ("cancel", "progress", "lo", "hi")

    def __init__(self, cancel=None, progress=None, lo: float = 0.0, hi: float = 1.0):
        self.cancel, self.progress, self.lo, self.hi = cancel, progress, lo, hi

    @classmethod
    def of(cls, cancel, progress) -> _Steps:
        return cancel if isinstance(cancel, _Steps) else cls(cancel, progress)

    def part(self, a: float, b: float) -> _Steps:
        w = self.hi - self.lo
        return _Steps(self.cancel, self.progress, self.lo + a * w, self.lo + b * w)

    def check(self, fraction: float | None = None) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("transform cancelled")
        if self.progress is not None and fraction is not None:
            f = min(1.0, max(0.0, float(fraction)))
            self.progress(self.lo + f * (self.hi - self.lo))


# --------------------------------------------------------------------------
# STFT building blocks
# --------------------------------------------------------------------------

def stft_window(spec: TransformSpec) -> np.ndarray:
    """The STFT window padded to ``n_fft``, un-shifted [shape=(n_fft,), float64].

    ``window_array`` (length ``win_len``) or the periodic
    ``scipy.signal.get_window(window, win_len)``, zero-padded to ``n_fft``
    with ``(n_fft - win_len) // 2`` zeros on the left (ssqueezepy's
    ``_stft.get_window``). Its centre sample ``g[n_fft // 2]`` fixes the
    hop-1 inverse constant.
    """
    _check_spec(spec)
    if spec.is_cwt:
        raise ParameterError(f"stft_window needs an STFT kind, got kind={spec.kind!r}")
    return _stft_window(spec.window, spec.window_array, int(spec.n_fft),
                        int(spec.win_len or spec.n_fft)).copy()


@functools.lru_cache(maxsize=16)
def _stft_window(window, window_array, n_fft, win_len) -> np.ndarray:
    import scipy.signal

    if window_array is not None:
        g = np.asarray(window_array, dtype=np.float64)
        if g.ndim != 1 or g.size != win_len:
            raise ParameterError(
                f"window_array has {g.size} values; win_len={win_len} are needed")
        if not np.all(np.isfinite(g)):
            raise ParameterError("window_array holds NaN or infinite values")
    else:
        try:
            g = scipy.signal.get_window(window, win_len, fftbins=True)
        except (ValueError, TypeError) as exc:
            raise ParameterError(f"window={window!r}: {exc}") from None
        g = np.asarray(g, dtype=np.float64)
    pl = (n_fft - win_len) // 2
    g = np.pad(g, (pl, n_fft - win_len - pl))
    g.flags.writeable = False
    return g


def stft_frames(n_samples: int, hop: int) -> int:
    """Number of STFT frames: frame k is centred on sample ``k * hop``."""
    return (int(n_samples) - 1) // int(hop) + 1


def stft_row_weights(spec: TransformSpec, g: np.ndarray | None = None) -> np.ndarray:
    """Hop-1 one-integral weights of the ``n_fft // 2 + 1`` STFT rows.

    ``x[t] = sum_r w_r Re S[r, t]`` with ``w_r = c_r / (n_fft * g[n_fft//2])``,
    ``c_r = 1`` for DC (and Nyquist when n_fft is even), 2 otherwise: the
    inverse DFT of a frame at its centre sample, folded onto rfft rows.
    """
    g = stft_window(spec) if g is None else g
    n_fft = len(g)
    gc = g[n_fft // 2]
    c = np.full(n_fft // 2 + 1, 2.0)
    c[0] = 1.0
    if n_fft % 2 == 0:
        c[-1] = 1.0
    return c / (n_fft * gc)


# --------------------------------------------------------------------------
# transform()
# --------------------------------------------------------------------------

def transform(signal: Signal, spec: TransformSpec = TransformSpec(), *, cancel=None,
              progress=None) -> TFR:
    """Transform ``signal`` as ``spec`` says.

    Conventions (all kinds): float64 / complex128; row 0 = lowest frequency;
    frequencies in cycles per signal unit (``fs = 1 / signal.dx``); column k
    at axis value ``times[k] = x0 + k * hop * dx`` (hop 1 for CWT kinds).

    - 'cwt': :func:`cwt_filterbank` applied with reflect padding (identical
      to ``ssqueezepy.cwt(x, wavelet, scales, padtype='reflect')`` rows,
      flipped, plus the edge rows).
    - 'ssq_cwt': ``ssqueezepy.ssq_cwt(x, wavelet, scales=<array>, fs=1/dx)``
      (maprange 'peak'), rows flipped to ascending, plus the filterbank's
      edge rows. Row weights ``2 / Css`` (issq_cwt's constant), 1 for edges.
    - 'stft': ``ssqueezepy.stft(x, g, n_fft, n_fft, hop, padtype='reflect',
      modulated=True, dtype='float64')`` with ``g = stft_window(spec)``:
      ``S[f, k] = sum_m g[m] xp[k*hop + m] exp(-2j pi f (m - n_fft//2) / n_fft)``
      where ``xp`` is ``x`` reflect-padded by ``n_fft // 2`` on the left and
      ``(n_fft - 1) // 2`` on the right, i.e. frame k is centred on sample
      ``k * hop`` with its phase referred to that centre. Rows are the rfft
      bins ``f / (n_fft * dx)``; ``stft_frames(N, hop)`` columns.
    - 'ssq_stft': synchrosqueezes that STFT (hop 1) like
      ``ssqueezepy.ssq_stft(..., fs=1/dx)`` does, except the DC and Nyquist
      rows are halved (with their derivative, so their phase transform is
      unchanged) before squeezing so that one weight ``2 / (g_c * fs)`` per
      row inverts exactly. (ssqueezepy's ``issq_stft`` uses ``2 / g_c``,
      which is ``fs`` times too large when ``ssq_stft`` got ``fs``.)

    Long transforms run in blocks (of filters, rows or frames, each well
    under 0.1 s); the result does not depend on the blocking.

    Parameters
    ----------
    signal : Signal
    spec : TransformSpec
    cancel : callable () -> bool, or None
        Called between blocks; once it returns True the transform stops with
        :class:`~core.errors.Cancelled`. (The synchrosqueezing step of the SSQ
        kinds is one block.)
    progress : callable (float) -> None, or None
        Called between blocks with the fraction done, 0..1, ascending.

    Raises
    ------
    ParameterError
        Bad spec (unknown kind or wavelet, hop > 1 for ssq_stft, n_fft larger
        than the signal, fmin >= fmax, limits outside what N and Nyquist allow).
    Cancelled
        ``cancel()`` returned True.
    OutOfMemoryError
        The estimated peak (:func:`estimate_transform_bytes`)
        exceeds the memory budget (:mod:`core.memory`), or memory ran out
        anyway; the message gives the estimate and what to change.
    """
    if not isinstance(signal, Signal):
        raise ParameterError(f"transform needs a Signal, got {type(signal).__name__}")
    _check_spec(spec)
    what, n_bytes, hint = _memory_needs(signal, spec)
    steps = _Steps(cancel, progress)
    try:
        _check_length(signal, spec)
        n_bytes = estimate_transform_bytes(signal.n, spec, signal.dx)
        check_fits(what, n_bytes, hint=hint)
        steps.check(0.0)
        x = signal.y
        if spec.is_cwt:
            tfr = _transform_cwt(signal, x, spec, steps)
        else:
            tfr = _transform_stft(signal, x, spec, steps)
    except OutOfMemoryError:
        raise
    except MemoryError:
        # the estimate fitted the budget but the machine disagreed (others' use)
        raise OutOfMemoryError(what, n_bytes, available=available_bytes(), hint=hint) from None
    steps.check(1.0)
    return tfr


def estimate_transform_bytes(n_samples: int, spec, dx: float = 1.0) -> int:
    """Estimated peak memory of :func:`transform` for ``n_samples`` samples.

    Counts the arrays alive together at the worst moment, in bytes (complex128 = 16):

    - 'cwt': the filterbank ``rows x n_pad`` float64, the coefficients
      ``rows x N`` complex128, and two FFT blocks of ``block x n_pad``.
    - 'ssq_cwt': the same filterbank, the CWT and its time derivative and the
      squeezed result (3 x ``scales x N``), and the CWT blocks (3 x
      ``block x n_pad``).
    - 'stft': coefficients ``(n_fft//2+1) x frames``; 'ssq_stft': three such
      arrays; plus the frame blocks.

    Measured against tracemalloc on small cases, it errs by a few per cent
    (see tests/core/test_memory.py). It does not count the signal itself or
    copies a caller makes of the result. The CWT's scales and row frequencies
    are not counted either: core derives them in O(rows) memory (ssqueezepy's
    own derivation sampled wavelets on the ``p2up(N)`` grid, 2 GB at 10 min of
    44.1 kHz audio; core falls back to it only for lengths below ~1000).

    Parameters
    ----------
    n_samples : int
    spec : TransformSpec
    dx : float
        Sample spacing (the CWT's rows depend on it only through fmin/fmax).
    """
    n = int(n_samples)
    c16, f8 = 16, 8
    block_elems = _BLOCK_ELEMS
    if spec.is_cwt:
        n_pad, _ = cwt_padding(n)
        n_scales = len(_selected_scales(spec, n, float(dx)))
        rows = n_scales + (2 if spec.edge_rows else 0)
        blk = _row_block(n_pad)
        fb = rows * n_pad * f8 + 4 * n_pad * c16          # psi, edge-filter vectors
        if spec.kind == "cwt":
            work = rows * n * c16 + 2 * blk * n_pad * c16 + n_pad * c16
        else:
            blk = max(4, blk)
            cwt = 3 * n_scales * n * c16 + 3 * blk * n_pad * c16
            stack = 2 * rows * n * c16                    # squeezed rows + the stacked result
            work = max(cwt, stack)
        return int(fb + work)
    rows = int(spec.n_fft) // 2 + 1
    frames = stft_frames(n, int(spec.hop))
    block = 24 * min(block_elems, int(spec.n_fft) * frames)  # frame buffer, its rfft, a copy
    n_arrays = 1 if spec.kind == "stft" else 3
    return int(n_arrays * rows * frames * c16 + block + 2 * (n + int(spec.n_fft)) * f8)


def _memory_needs(signal: Signal, spec: TransformSpec) -> tuple[str, float, str]:
    """(what, a first guess at the peak bytes, what to change) of transforming ``signal``.

    The guess (the coefficients alone, at 300 rows for a CWT) stands in for
    the estimate should even estimating run out of memory."""
    n, name = signal.n, str(signal.source or signal.name)
    what = f"{spec.kind.upper()} of {name} ({n} samples)"
    if spec.is_cwt:
        hint = ("use a shorter range, fewer voices per octave (nv), a higher fmin, "
                "or an STFT")
    else:
        hint = "use a shorter range, a smaller n_fft or a larger hop"
    rows = 300 if spec.is_cwt else int(spec.n_fft) // 2 + 1
    return what, 16.0 * rows * n, hint


def _transform_cwt(signal: Signal, x: np.ndarray, spec: TransformSpec, steps: _Steps) -> TFR:
    N, dx = x.size, signal.dx
    fb = cwt_filterbank(spec, N, dx=dx, cancel=steps.part(0.0, 0.2))
    offset = 0.0 if spec.edge_rows else float(x.mean())
    if spec.kind == "cwt":
        C = apply_filterbank(x, fb, cancel=steps.part(0.2, 1.0))
        weights, freqs = fb.row_weights, fb.frequencies
    else:
        C, weights, freqs = _ssq_cwt_rows(x, spec, fb, dx, steps.part(0.2, 1.0))
    return TFR(coefficients=C, frequencies=np.array(freqs), times=signal.x0 + dx * np.arange(N),
               row_weights=np.array(weights), offset=offset, spec=spec, n_samples=N, dx=dx,
               x0=signal.x0, unit=signal.unit, edge_row_indices=fb.edge_row_indices)


def _ssq_cwt_rows(x, spec, fb, dx, steps: _Steps):
    import ssqueezepy
    from ssqueezepy.ssqueezing import ssqueeze

    # ssqueezepy.ssq_cwt(x, wav, scales=scales, fs=1/dx, padtype="reflect",
    # maprange="peak") step by step, so that the CWT runs in blocks of scales
    # (rows are independent: each block's rows equal ssq_cwt's bit for bit)
    # with a cancel check between them; the squeeze itself is one step.
    N = x.size
    scales = _selected_scales(spec, N, dx)
    wav = _wavelet(_wavelet_key(spec))
    fs = 1.0 / dx
    n_pad, _ = cwt_padding(N)
    # ssqueezepy.cwt infers the scale type of the array it gets (and refuses
    # fewer than 3 scales): every block holds 4 or more
    n_blocks = max(1, len(scales) // max(4, _row_block(n_pad)))
    edges = np.linspace(0, len(scales), n_blocks + 1).astype(int)
    Wx = np.empty((len(scales), N), dtype=np.complex128)
    dWx = np.empty((len(scales), N), dtype=np.complex128)
    cwt_steps, sq_steps = steps.part(0.0, 0.7), steps.part(0.7, 0.95)
    with _SSQ_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, j in zip(edges[:-1], edges[1:], strict=True):
            cwt_steps.check(i / len(scales))
            w_b, _, dw_b = ssqueezepy.cwt(
                x.copy(), wav, scales=scales[i:j], fs=fs, l1_norm=True,
                derivative=True, padtype="reflect", rpadded=False, vectorized=True,
                astensor=True, cache_wavelet=False)
            Wx[i:j] = w_b
            dWx[i:j] = dw_b
            del w_b, dw_b
        # Each column squeezes on its own once the target frequencies are
        # fixed (ssqueeze would derive them from the block's width), so the
        # squeeze runs in column blocks onto the full-length frequencies.
        ssq_freqs = _associated_frequencies(_wavelet_key(spec), scales, N, dx)
        if not np.all(np.diff(ssq_freqs) > 0):    # NaN too: a wavelet too wide for N
            raise ParameterError("ssq_cwt returned frequencies that do not ascend")
        Tx = np.empty_like(Wx)
        cols = max(1, _BLOCK_ELEMS // len(scales))
        for k0 in range(0, N, cols):
            sq_steps.check(k0 / N)
            k1 = min(N, k0 + cols)
            Tx[:, k0:k1], _ = ssqueeze(
                Wx[:, k0:k1], None, ssq_freqs, scales, fs=fs, squeezing="sum",
                maprange="peak", wavelet=wav, gamma=10 * np.finfo(np.float64).eps,
                was_padded=True, flipud=True, dWx=dWx[:, k0:k1], transform="cwt")
        ssq_freqs = ssq_freqs[::-1]
        del Wx, dWx
    sq_steps.check(1.0)
    Tx = np.asarray(Tx, dtype=np.complex128)[::-1]
    f = np.asarray(ssq_freqs, dtype=np.float64)[::-1]
    w = np.full(len(f), 2.0 / _adm_ssq(_wavelet_key(spec)))
    if spec.edge_rows:
        e0, e1 = fb.edge_row_indices
        E = apply_filterbank(x, fb, rows=slice(0, 1), cancel=steps.part(0.95, 0.97))
        Eh = apply_filterbank(x, fb, rows=slice(e1, e1 + 1), cancel=steps.part(0.97, 1.0))
        Tx = np.vstack([E, Tx, Eh])
        step = 2.0 ** (1.0 / spec.nv)
        f = np.concatenate([[f[0] / step], f, [max(0.5 / dx, f[-1] * step)]])
        w = np.concatenate([[1.0], w, [1.0]])
    return np.ascontiguousarray(Tx), w, f


def _transform_stft(signal: Signal, x: np.ndarray, spec: TransformSpec, steps: _Steps) -> TFR:
    N, dx = x.size, signal.dx
    n_fft, hop = int(spec.n_fft), int(spec.hop)
    if n_fft > N:
        raise ParameterError(f"n_fft={n_fft} is larger than the signal ({N} samples)")
    if hop > N:
        raise ParameterError(f"hop={hop} is larger than the signal ({N} samples)")
    g = stft_window(spec)
    if not _nola(g, hop):
        raise ParameterError(
            f"window {spec.window!r} (win_len={spec.win_len or n_fft}) with hop={hop} "
            "violates NOLA: some samples are not covered, the STFT cannot be inverted"
        )
    gc = g[n_fft // 2]
    if hop == 1 and abs(gc) < 1e-12:
        raise ParameterError(
            f"window centre g[n_fft//2]={gc!r} is zero; the hop-1 inverse divides by it")
    fs = 1.0 / dx
    with _SSQ_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if spec.kind == "stft":
            C = _stft_blocks(x, g, hop, fs, steps, derivative=False)
            weights = stft_row_weights(spec, g)
        else:
            C = _ssq_stft(x, g, n_fft, fs, steps)
            weights = np.full(n_fft // 2 + 1, 2.0 / (gc * fs))
    C = np.ascontiguousarray(np.asarray(C, dtype=np.complex128))
    freqs = np.arange(n_fft // 2 + 1) / (n_fft * dx)
    times = signal.x0 + dx * hop * np.arange(C.shape[1])
    return TFR(coefficients=C, frequencies=freqs, times=times, row_weights=weights, offset=0.0,
               spec=spec, n_samples=N, dx=dx, x0=signal.x0, unit=signal.unit,
               edge_row_indices=())


def _nola(g: np.ndarray, hop: int) -> bool:
    """Non-zero overlap-add: every sample is covered by some window."""
    g2 = np.asarray(g, dtype=np.float64) ** 2
    g2 = np.pad(g2, (0, (-len(g2)) % hop))
    cover = g2.reshape(-1, hop).sum(axis=0)
    return bool(cover.min() > 1e-10 * max(cover.max(), np.finfo(np.float64).tiny))


def _stft_blocks(x, g, hop, fs, steps: _Steps, *, derivative: bool):
    """``ssqueezepy.stft(x, g, n_fft, n_fft, hop, fs=fs, padtype='reflect',
    modulated=True, derivative=derivative, dtype='float64')`` in blocks of frames.

    The same steps as ssqueezepy's (pad, buffer, window, rfft per frame), so
    every frame equals its output bit for bit; a block of frames is one
    (n_fft, n) real buffer near 32 MiB, with a cancel check between blocks.

    Returns
    -------
    Sx or (Sx, dSx) : np.ndarray [shape=(n_fft // 2 + 1, n_frames), complex128]
    """
    from ssqueezepy._stft import get_window
    from ssqueezepy.utils import buffer, padsignal
    from ssqueezepy.utils.fft_utils import ifftshift, rfft

    n_fft, N = len(g), x.size
    window, diff_window = get_window(np.asarray(g, dtype=np.float64), n_fft, n_fft,
                                     derivative=True, dtype="float64")
    wins = [ifftshift(window, astensor=True).reshape(-1, 1)]
    if derivative:
        wins.append((ifftshift(diff_window, astensor=True) * fs).reshape(-1, 1))
    xp = padsignal(np.asarray(x, dtype=np.float64), "reflect", padlength=N + n_fft - 1)
    n_frames = stft_frames(N, hop)
    outs = [np.empty((n_fft // 2 + 1, n_frames), dtype=np.complex128) for _ in wins]
    block = max(1, _BLOCK_ELEMS // n_fft)
    for k0 in range(0, n_frames, block):
        steps.check(k0 / n_frames)
        k1 = min(n_frames, k0 + block)
        seg = xp[k0 * hop:(k1 - 1) * hop + n_fft]
        for win, out in zip(wins, outs, strict=True):
            B = buffer(seg, n_fft, n_fft - hop, modulated=True)
            B *= win
            out[:, k0:k1] = rfft(B, axis=0, astensor=True)
    steps.check(1.0)
    return tuple(outs) if derivative else outs[0]


def _ssq_stft(x, g, n_fft, fs, steps: _Steps):
    from ssqueezepy.ssqueezing import ssqueeze

    Sx, dSx = _stft_blocks(x, g, 1, fs, steps.part(0.0, 0.6), derivative=True)
    # DC (and Nyquist) have weight 1 in the inverse DFT, every other bin 2;
    # halving them (and their derivative: same phase transform) lets one
    # weight serve every row, wherever squeezing moves the energy.
    half = [0] + ([n_fft // 2] if n_fft % 2 == 0 else [])
    Sx[half] *= 0.5
    dSx[half] *= 0.5
    # the rfft bins; ssqueezepy's own linspace(0, fs/2, n_rows) is off for odd n_fft
    Sfs = np.arange(Sx.shape[0]) * (fs / n_fft)
    gamma = 10 * np.finfo(np.float64).eps
    # Each column squeezes on its own (the target frequencies are given), so
    # the squeeze too runs in blocks of columns.
    sq_steps = steps.part(0.6, 1.0)
    n = Sx.shape[1]
    Tx = np.empty_like(Sx)
    block = max(1, _BLOCK_ELEMS // Sx.shape[0])
    for k0 in range(0, n, block):
        sq_steps.check(k0 / n)
        k1 = min(n, k0 + block)
        Tx[:, k0:k1], _ = ssqueeze(Sx[:, k0:k1], None, ssq_freqs=Sfs, Sfs=Sfs, flipud=False,
                                   gamma=gamma, dWx=dSx[:, k0:k1], maprange="maximal",
                                   transform="stft")
    return Tx


def spec_for_signal(spec: TransformSpec, signal: Signal) -> TransformSpec:
    """``spec`` as a newly opened ``signal`` gets it: the CWT of an audio recording
    (time in seconds, at least :data:`AUDIO_MIN_RATE`) without f min starts at
    :data:`AUDIO_FMIN`; anything else unchanged."""
    from dataclasses import replace

    if (spec.is_cwt and spec.fmin is None and signal.unit == "s"
            and 1.0 / float(signal.dx) >= AUDIO_MIN_RATE):
        return replace(spec, fmin=AUDIO_FMIN)
    return spec
