"""Qt-free helpers for listening: device rates, levels, sonification, A/B positions.

The GUI's audio output (QtMultimedia) only moves float32 buffers; every
decision about *what* to play lives here so it can be tested without a sound
card:

* :func:`device_rate_candidates` and :func:`resample_for_device` pick a rate
  the device accepts and resample to it (polyphase, ``scipy.signal.resample_poly``);
* :func:`playback_peak` and :func:`normalise_for_playback` scale to float32 in
  [-1, 1] with headroom, with one gain shared by the sources of an A/B
  comparison so that loudness differences stay audible;
* :func:`sonify` turns a non-audio signal (a spectrum) into sound, only at an
  explicit rate;
* :class:`PlaySource` and :class:`ABState` keep the play position when the
  listener switches between sources of different lengths or rates: the switch
  keeps the *time*, not the sample index.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from phasebrush.core.errors import ParameterError
from phasebrush.core.signal import Signal, valid_samples

__all__ = [
    "COMMON_RATES", "device_rate_candidates", "nearest_rate", "resample_for_device",
    "playback_peak", "normalise_for_playback", "sonify",
    "PlaySource", "position_in", "ABState",
]

COMMON_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000,
                176400, 192000)


def device_rate_candidates(min_rate: float, max_rate: float, *,
                           preferred: float | None = None) -> tuple[int, ...]:
    """The usual audio rates a device with this range accepts.

    QtMultimedia reports a device's range (``minimumSampleRate``,
    ``maximumSampleRate``) and a preferred format, not a list; this turns that
    into a list for :func:`resample_for_device`.

    Parameters
    ----------
    min_rate, max_rate : float > 0
        The device's range in Hz.
    preferred : float or None
        The device's preferred rate; included when in range.

    Returns
    -------
    tuple of int, ascending
    """
    lo, hi = float(min_rate), float(max_rate)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0 or hi < lo:
        raise ParameterError(f"device rate range {min_rate!r}..{max_rate!r} is not valid")
    rates = {r for r in COMMON_RATES if lo <= r <= hi}
    if preferred is not None and lo <= float(preferred) <= hi:
        rates.add(int(round(float(preferred))))
    if not rates:  # an odd range with no common rate in it: its ends still work
        rates = {int(np.ceil(lo)), int(np.floor(hi))}
    return tuple(sorted(rates))


def nearest_rate(rate: float, device_rates) -> int:
    """The supported rate closest to ``rate`` (ties go to the higher rate)."""
    rates = sorted({int(r) for r in device_rates})
    if not rates or rates[0] <= 0:
        raise ParameterError(f"device rates {list(device_rates)!r} must be positive and non-empty")
    return min(rates, key=lambda r: (abs(r - rate), -r))


def resample_for_device(y, rate: float, device_rates) -> tuple[np.ndarray, int]:
    """Resample ``y`` to the supported rate nearest to ``rate``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), real]
    rate : float > 0
        Samples per second of ``y``.
    device_rates : iterable of int
        Rates the device accepts (see :func:`device_rate_candidates`).

    Returns
    -------
    y2 : np.ndarray [shape=(m,), float64]
        ``y`` itself (a copy) when ``rate`` is supported; else polyphase
        resampled, ``m ~= n * rate2 / rate``. The ratio ``rate2 / rate`` is
        approximated by a fraction with denominator <= 1000 (a pitch error
        below 0.1 % for odd, non-integer source rates; exact for the usual
        audio rates).
    rate2 : int
        The device rate chosen.
    """
    y = valid_samples(y, name="playback signal", min_length=1)
    rate = float(rate)
    if not np.isfinite(rate) or rate <= 0:
        raise ParameterError(f"sample rate={rate!r} must be > 0")
    rate2 = nearest_rate(rate, device_rates)
    if abs(rate2 - rate) <= 1e-9 * rate:
        return y.copy(), rate2
    ratio = (Fraction(rate2) / Fraction(rate)).limit_denominator(1000)
    if ratio.numerator == ratio.denominator:
        return y.copy(), rate2
    return resample_poly(y, ratio.numerator, ratio.denominator), rate2


def playback_peak(*ys) -> float:
    """Largest ``|sample|`` over several signals: the shared reference for A/B gain."""
    peaks = [float(np.max(np.abs(np.asarray(y)))) for y in ys if np.size(y)]
    return max(peaks, default=0.0)


def normalise_for_playback(y, *, peak: float | None = None, headroom_db: float = 1.0,
                           remove_mean: bool = False) -> np.ndarray:
    """Scale to float32 in [-1, 1] leaving ``headroom_db`` below full scale.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), real, finite]
    peak : float or None
        The level that maps to ``10 ** (-headroom_db / 20)``. None: ``max |y|``.
        Pass :func:`playback_peak` of all A/B sources to give them one gain;
        samples louder than ``peak`` are clipped.
    headroom_db : float >= 0
    remove_mean : bool
        Subtract the mean first (a spectrum's baseline is silent DC that only
        eats headroom).

    Returns
    -------
    np.ndarray [shape=(n,), float32, in [-1, 1]]
        Zeros for a silent input.
    """
    y = valid_samples(y, name="playback signal", min_length=1)
    headroom_db = float(headroom_db)
    if not np.isfinite(headroom_db) or headroom_db < 0:
        raise ParameterError(f"headroom_db={headroom_db!r} must be >= 0")
    if remove_mean:
        y = y - y.mean()
    ref = float(np.max(np.abs(y))) if peak is None else float(peak)
    if not np.isfinite(ref) or ref < 0:
        raise ParameterError(f"peak={peak!r} must be >= 0")
    if ref == 0.0:
        return np.zeros(y.size, dtype=np.float32)
    gain = 10.0 ** (-headroom_db / 20.0) / ref
    return np.clip(y * gain, -1.0, 1.0).astype(np.float32)


def sonify(signal, rate: float | None = None, *, fade_samples: int = 64,
           headroom_db: float = 1.0) -> tuple[np.ndarray, float]:
    """Sound for a signal that is not audio (a spectrum), at an explicit rate.

    The samples are played one per ``1 / rate`` seconds: a spectrum of 3600
    points at 8000 samples/s lasts 0.45 s. The mean is removed (a baseline is
    inaudible DC), the ends fade in/out over ``fade_samples`` to avoid clicks,
    and the level is normalised with ``headroom_db``.

    Parameters
    ----------
    signal : Signal or np.ndarray [shape=(n,)]
    rate : float or None
        Samples per second. Required unless ``signal`` is an audio Signal
        (axis in seconds), whose own rate is then used.
    fade_samples : int >= 0
    headroom_db : float >= 0

    Returns
    -------
    y : np.ndarray [shape=(n,), float32, in [-1, 1]]
    rate : float

    Raises
    ------
    ParameterError
        No rate for a non-audio signal or an array; a rate <= 0.
    """
    if isinstance(signal, Signal):
        y, name = signal.y, signal.name
        if rate is None and signal.is_audio:
            rate = signal.rate
    else:
        y, name = signal, "signal"
    if rate is None:
        raise ParameterError(
            f"{name}: not an audio signal; choose a playback rate (samples per second) "
            "to sonify it")
    rate = float(rate)
    if not np.isfinite(rate) or rate <= 0:
        raise ParameterError(f"{name}: sonification rate={rate!r} must be > 0")
    out = normalise_for_playback(y, headroom_db=headroom_db, remove_mean=True)
    n_fade = min(int(fade_samples), out.size // 2)
    if n_fade < 0:
        raise ParameterError(f"fade_samples={fade_samples!r} must be >= 0")
    if n_fade:
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n_fade) + 0.5) / n_fade)).astype(np.float32)
        out[:n_fade] *= ramp
        out[-n_fade:] *= ramp[::-1]
    return out, rate


@dataclass(frozen=True)
class PlaySource:
    """One playable buffer on the shared timeline.

    Attributes
    ----------
    name : str
        "original", "reconstruction", "band" ...
    n_samples : int >= 0
    rate : float > 0
        Samples per second of the buffer (after any device resampling).
    t0 : float
        Time (s) of sample 0 on the shared timeline.
    """

    name: str
    n_samples: int
    rate: float
    t0: float = 0.0

    def __post_init__(self):
        if int(self.n_samples) < 0:
            raise ParameterError(f"{self.name}: n_samples={self.n_samples!r} must be >= 0")
        if not np.isfinite(float(self.rate)) or float(self.rate) <= 0:
            raise ParameterError(f"{self.name}: rate={self.rate!r} must be > 0")
        object.__setattr__(self, "n_samples", int(self.n_samples))
        object.__setattr__(self, "rate", float(self.rate))
        object.__setattr__(self, "t0", float(self.t0))

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.n_samples / self.rate

    def time_at(self, position: int) -> float:
        """Timeline time (s) of sample ``position``."""
        return self.t0 + position / self.rate

    def position_at(self, time: float) -> int:
        """Sample at timeline ``time``, clamped to ``[0, n_samples]`` (n_samples = the end)."""
        p = int(round((float(time) - self.t0) * self.rate))
        return min(max(p, 0), self.n_samples)


def position_in(position: int, src: PlaySource, dst: PlaySource) -> int:
    """The sample of ``dst`` playing at the same time as sample ``position`` of ``src``.

    Clamped to ``[0, dst.n_samples]``: switching past the end of a shorter
    source lands at its end.
    """
    return dst.position_at(src.time_at(position))


@dataclass(frozen=True)
class ABState:
    """Which source is playing and where: a pure value the player updates.

    Attributes
    ----------
    sources : tuple of PlaySource
        At least one; A/B toggles between the first two.
    active : int
        Index of the playing source.
    position : int
        Play position in samples of the active source, ``0..n_samples``.
    loop : bool
        Whether :meth:`advance` wraps at the end.
    """

    sources: tuple[PlaySource, ...]
    active: int = 0
    position: int = 0
    loop: bool = False

    def __post_init__(self):
        srcs = tuple(self.sources)
        if not srcs:
            raise ParameterError("ABState needs at least one source")
        if not 0 <= int(self.active) < len(srcs):
            raise ParameterError(f"active={self.active!r} is not one of the {len(srcs)} sources")
        object.__setattr__(self, "sources", srcs)
        object.__setattr__(self, "active", int(self.active))
        n = srcs[int(self.active)].n_samples
        object.__setattr__(self, "position", min(max(int(self.position), 0), n))

    @property
    def source(self) -> PlaySource:
        return self.sources[self.active]

    @property
    def time(self) -> float:
        """Timeline time (s) of the play position: where the playhead is drawn."""
        return self.source.time_at(self.position)

    @property
    def finished(self) -> bool:
        return self.position >= self.source.n_samples

    def switch(self, index: int) -> ABState:
        """Play source ``index`` from the same time."""
        if not 0 <= int(index) < len(self.sources):
            raise ParameterError(f"source {index!r} is not one of the {len(self.sources)} sources")
        pos = position_in(self.position, self.source, self.sources[int(index)])
        return replace(self, active=int(index), position=pos)

    def toggle(self) -> ABState:
        """A/B: switch between sources 0 and 1 at the same time."""
        if len(self.sources) < 2:
            raise ParameterError("A/B needs two sources")
        return self.switch(1 if self.active == 0 else 0)

    def advance(self, n_samples: int) -> ABState:
        """Move on by ``n_samples`` of the active source (what the device consumed).

        At the end: wraps to the start when ``loop``, else stops at the end.
        """
        n = self.source.n_samples
        pos = self.position + int(n_samples)
        if pos >= n:
            pos = pos % n if (self.loop and n > 0) else n
        return replace(self, position=pos)

    def seek(self, time: float) -> ABState:
        """Jump to timeline ``time`` (s), e.g. a click on the plot."""
        return replace(self, position=self.source.position_at(time))
