"""Listening: audio sinks and the playback controller (original / reconstruction / band, A/B).

Two layers:

* An :class:`AudioSink` only moves a float32 buffer to a device and says how
  far it got. :class:`QtAudioSink` wraps QtMultimedia's ``QAudioSink``;
  QtMultimedia lives in PySide6-Addons and needs ``libpulse.so.0`` on Linux,
  so it is imported inside :func:`audio_availability` / :func:`make_sink`,
  never at module import, and any failure becomes a readable *reason*.
  :class:`NullAudioSink` plays nothing and advances its position with a
  monotonic clock (``QElapsedTimer``): the tests use it, and
  ``PHASEBRUSH_AUDIO=null`` selects it to try the GUI on a machine without
  sound.
* :class:`PlaybackController` decides what to play: it keeps the sources
  (each a 1-D array with its own rate), gives the sources of one A/B
  comparison one shared gain (:func:`core.playback.playback_peak`), resamples
  to a rate the device accepts, and keeps the play position as a
  :class:`core.playback.ABState`, so an A/B switch keeps the *time* and a
  loop wraps. A ``QTimer`` polls the sink ~30 times a second and emits the
  playhead.

Signals that are not audio (axis not in seconds: spectra) are played only at
a rate the user gives (:meth:`PlaybackController.set_sonify_rate`), sample
``i`` at ``i / rate`` seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal

from phasebrush.core.errors import ParameterError, PhaseBrushError
from phasebrush.core.playback import (
    ABState,
    PlaySource,
    device_rate_candidates,
    normalise_for_playback,
    playback_peak,
    resample_for_device,
)

__all__ = [
    "SOURCE_NAMES", "AudioSink", "NullAudioSink", "QtAudioSink", "audio_availability",
    "make_sink", "PlaybackController", "SourceData",
]

#: Names the playback bar offers, in order.
SOURCE_NAMES = ("original", "reconstruction", "band", "residual")

#: Rates a sink with no device information accepts.
NULL_RATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000)

_TICK_MS = 30


# --------------------------------------------------------------------------- sinks

class AudioSink(QObject):
    """Where samples go. Subclasses implement the four methods.

    Signals
    -------
    failed(str)
        The device reported an error (unplugged ...); playback has stopped.
    """

    failed = Signal(str)

    def supported_rates(self) -> tuple[int, ...]:
        """Sample rates (Hz) the device accepts, ascending."""
        raise NotImplementedError

    def start(self, y: np.ndarray, rate: int, position: int = 0) -> None:
        """Play ``y`` [shape=(n,), float32, in [-1, 1]] at ``rate`` Hz from sample ``position``."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop now; :meth:`position_samples` keeps the last position."""
        raise NotImplementedError

    def position_samples(self) -> int:
        """Sample of the buffer being heard now (may exceed its length at the end)."""
        raise NotImplementedError

    def is_playing(self) -> bool:
        raise NotImplementedError


class NullAudioSink(AudioSink):
    """A sink that plays nothing: the position follows a monotonic clock.

    Parameters
    ----------
    rates : iterable of int
        Rates it claims to accept.
    speed : float > 0
        Clock speed factor (tests may run the clock faster than real time).
    """

    def __init__(self, rates=NULL_RATES, *, speed: float = 1.0, parent=None):
        super().__init__(parent)
        self._rates = tuple(sorted(int(r) for r in rates))
        self.speed = float(speed)
        self._clock = QElapsedTimer()
        self._start_pos = 0
        self._rate = 1
        self._playing = False
        self._stopped_at = 0
        #: (n_samples, rate, position) of every start(): what a real device would have got.
        self.starts: list[tuple[int, int, int]] = []
        #: The buffer of the last start() [shape=(n,), float32].
        self.last_buffer: np.ndarray | None = None

    def supported_rates(self) -> tuple[int, ...]:
        return self._rates

    def start(self, y, rate, position=0):
        self.starts.append((int(np.size(y)), int(rate), int(position)))
        self.last_buffer = np.asarray(y)
        self._rate = int(rate)
        self._start_pos = int(position)
        self._playing = True
        self._clock.start()

    def stop(self):
        if self._playing:
            self._stopped_at = self.position_samples()
        self._playing = False

    def position_samples(self) -> int:
        if not self._playing:
            return self._stopped_at
        elapsed_s = self._clock.nsecsElapsed() * 1e-9 * self.speed
        return self._start_pos + int(elapsed_s * self._rate)

    def is_playing(self) -> bool:
        return self._playing


def _qtmultimedia():
    """Import QtMultimedia, or raise ImportError/OSError (no Addons, no libpulse)."""
    from PySide6 import QtMultimedia  # noqa: PLC0415 - lazy on purpose

    return QtMultimedia


def _describe_import_failure(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, ModuleNotFoundError) or "No module named" in text:
        return ("Playback unavailable: QtMultimedia is not installed "
                "(pip install PySide6-Addons, or phasebrush[audio])")
    lib = text.split(":", 1)[0].strip() if ".so" in text else ""
    if "libpulse" in text:
        return (f"Playback unavailable: QtMultimedia could not load "
                f"({lib or 'libpulse.so.0'} missing: install libpulse0)")
    if lib:
        return f"Playback unavailable: QtMultimedia could not load ({lib} missing)"
    return f"Playback unavailable: QtMultimedia could not load ({text})"


def audio_availability() -> tuple[bool, str]:
    """Whether sound can be played here, and if not, why.

    Returns
    -------
    available : bool
    reason : str
        "" when available, else a sentence for a tooltip, e.g.
        "Playback unavailable: QtMultimedia could not load (libpulse.so.0
        missing: install libpulse0)" or "Playback unavailable: no audio
        output device".
    """
    if os.environ.get("PHASEBRUSH_AUDIO", "").lower() == "null":
        return True, ""
    try:
        qm = _qtmultimedia()
    except (ImportError, OSError) as exc:
        return False, _describe_import_failure(exc)
    try:
        outputs = qm.QMediaDevices.audioOutputs()
    except Exception as exc:  # a broken backend must not take the app down
        return False, f"Playback unavailable: the audio backend failed ({exc})"
    if not outputs:
        return False, "Playback unavailable: no audio output device"
    return True, ""


class QtAudioSink(AudioSink):
    """QtMultimedia's ``QAudioSink`` in pull mode from an in-memory buffer.

    Mono; float32 samples when the device takes them, else 16-bit integers.
    Create it through :func:`make_sink` (QtMultimedia must import).
    """

    def __init__(self, device=None, parent=None):
        super().__init__(parent)
        qm = _qtmultimedia()
        self._qm = qm
        self._device = device if device is not None else qm.QMediaDevices.defaultAudioOutput()
        d = self._device
        pref = d.preferredFormat().sampleRate()
        lo, hi = d.minimumSampleRate(), d.maximumSampleRate()
        if lo > 0 and hi >= lo:
            self._rates = device_rate_candidates(lo, hi, preferred=pref if pref > 0 else None)
        else:  # a device that reports no range (a null device): the usual rates
            self._rates = NULL_RATES
        fmts = d.supportedSampleFormats()
        self._float = qm.QAudioFormat.SampleFormat.Float in fmts or not fmts
        self._sink = None
        self._buffer = None
        self._start_pos = 0
        self._rate = 1
        self._last = 0

    def supported_rates(self) -> tuple[int, ...]:
        return self._rates

    def start(self, y, rate, position=0):
        from PySide6.QtCore import QBuffer, QByteArray, QIODevice

        self.stop()
        qm = self._qm
        fmt = qm.QAudioFormat()
        fmt.setSampleRate(int(rate))
        fmt.setChannelCount(1)
        y = np.asarray(y, dtype=np.float32)[int(position):]
        if self._float:
            fmt.setSampleFormat(qm.QAudioFormat.SampleFormat.Float)
            data = y.astype("<f4").tobytes()
        else:
            fmt.setSampleFormat(qm.QAudioFormat.SampleFormat.Int16)
            data = np.round(np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()
        self._bytes_per_frame = 4 if self._float else 2
        self._rate, self._start_pos = int(rate), int(position)
        self._buffer = QBuffer()
        self._buffer.setData(QByteArray(data))
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self._sink = qm.QAudioSink(self._device, fmt, self)
        self._sink.stateChanged.connect(self._on_state)
        self._sink.start(self._buffer)
        self._last = self._start_pos
        err = self._sink.error()
        if err not in (qm.QtAudio.Error.NoError, qm.QtAudio.Error.UnderrunError):
            self.stop()
            raise PhaseBrushError(f"Audio device error: the output could not start "
                                  f"({getattr(err, 'name', err)})")

    def _on_state(self, state) -> None:
        qm = self._qm
        if self._sink is not None and self._sink.error() not in (qm.QtAudio.Error.NoError,
                                                                 qm.QtAudio.Error.UnderrunError):
            err = self._sink.error()
            self.stop()
            self.failed.emit(f"Audio device error: {getattr(err, 'name', err)}")

    def stop(self):
        if self._sink is not None:
            self._last = self.position_samples()
            self._sink.stop()
            self._sink.deleteLater()
            self._sink = None
        if self._buffer is not None:
            self._buffer.close()
            self._buffer = None

    def position_samples(self) -> int:
        if self._sink is None:
            return self._last
        # processedUSecs counts what was handed to the device; what is still in its
        # buffer has not been heard yet.
        done = self._sink.processedUSecs() * 1e-6 * self._rate
        queued = max(0, self._sink.bufferSize() - self._sink.bytesFree()) / self._bytes_per_frame
        pos = self._start_pos + int(max(0.0, done - queued))
        if self._sink.state() == self._qm.QtAudio.State.IdleState and self._buffer is not None \
                and self._buffer.atEnd():
            pos = self._start_pos + self._buffer.size() // self._bytes_per_frame
        return pos

    def is_playing(self) -> bool:
        return self._sink is not None and self._sink.state() in (
            self._qm.QtAudio.State.ActiveState, self._qm.QtAudio.State.IdleState)


def make_sink(parent=None) -> tuple[AudioSink | None, str]:
    """The sink to use here: (sink, "") or (None, reason).

    ``PHASEBRUSH_AUDIO=null`` gives a :class:`NullAudioSink`.
    """
    if os.environ.get("PHASEBRUSH_AUDIO", "").lower() == "null":
        return NullAudioSink(parent=parent), ""
    ok, reason = audio_availability()
    if not ok:
        return None, reason
    try:
        device = _qtmultimedia().QMediaDevices.defaultAudioOutput()
        if device.isNull():
            return None, "Playback unavailable: no audio output device"
        return QtAudioSink(device, parent=parent), ""
    except Exception as exc:  # the device vanished between the check and now, ...
        return None, f"Playback unavailable: the audio output could not open ({exc})"


# --------------------------------------------------------------------------- controller

def _fade(y: np.ndarray, n_fade: int = 64) -> np.ndarray:
    """Raised-cosine fade in and out over ``n_fade`` samples (no clicks at the ends)."""
    n = min(int(n_fade), y.size // 2)
    if n:
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(y.dtype)
        y = y.copy()
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


@dataclass(frozen=True, eq=False)
class SourceData:
    """One playable signal as given to the controller.

    Attributes
    ----------
    y : np.ndarray [shape=(n,), float64]
    rate : float or None
        Samples per second; None = not audio (needs a sonification rate).
    x0, dx : float
        Signal-axis value of sample 0 and the spacing (for the playhead).
    """

    y: np.ndarray
    rate: float | None
    x0: float = 0.0
    dx: float = 1.0


class PlaybackController(QObject):
    """Plays one of several named sources; A/B switches at the same time.

    Parameters
    ----------
    sink : AudioSink or None or "auto"
        "auto" (default): :func:`make_sink`. None: playback unavailable.
    unavailable_reason : str
        With ``sink=None``: the reason to report.

    Signals
    -------
    position_changed(float)
        Play position in seconds from the start of the sources.
    playhead_moved(float)
        The same position on the signal's axis (its unit: s, cm^-1 ...), for
        the playhead lines.
    state_changed(str)
        "playing", "paused" or "stopped".
    availability_changed(bool, str)
        Whether playback is possible and why not.
    sources_changed()
        Sources were added, removed or replaced; or the sonification rate
        changed.
    active_changed(str)
        The playing source ("original", "reconstruction" ...).
    failed(str)
        A readable message (a source cannot be played, the device failed).
    """

    position_changed = Signal(float)
    playhead_moved = Signal(float)
    state_changed = Signal(str)
    availability_changed = Signal(bool, str)
    sources_changed = Signal()
    active_changed = Signal(str)
    failed = Signal(str)

    def __init__(self, sink="auto", *, unavailable_reason: str = "", parent=None):
        super().__init__(parent)
        if isinstance(sink, str) and sink == "auto":
            sink, unavailable_reason = make_sink(self)
        self._sink: AudioSink | None = None
        self._reason = ""
        self._sources: dict[str, SourceData] = {}
        self._prepared: dict[str, tuple[np.ndarray, int]] = {}
        self._sonify_rate: float | None = None
        self._order: list[str] = []           # names in the ABState's sources order
        self._state: ABState | None = None
        self._active = "original"
        self._ab = ("original", "reconstruction")
        self._loop = False
        self._status = "stopped"
        self._seek_time = 0.0                 # where to start when there is no ABState yet
        #: The signal's axis unit (for read-outs); set by :meth:`set_signal`.
        self.axis_unit = "s"
        self._timer = QTimer(self)
        self._timer.setInterval(_TICK_MS)
        self._timer.timeout.connect(self._on_tick)
        self.set_sink(sink, reason=unavailable_reason)

    # -- availability ------------------------------------------------------------
    def set_sink(self, sink: AudioSink | None, *, reason: str = "") -> None:
        """Use ``sink`` (None: playback unavailable for ``reason``)."""
        self.stop()
        if self._sink is not None:
            try:
                self._sink.failed.disconnect(self._on_sink_failed)
            except (RuntimeError, TypeError):
                pass
        self._sink = sink
        self._prepared.clear()
        self._reason = "" if sink is not None else (reason or "Playback unavailable")
        if sink is not None:
            sink.failed.connect(self._on_sink_failed)
        self.availability_changed.emit(self.available, self._reason)

    @property
    def sink(self) -> AudioSink | None:
        return self._sink

    @property
    def available(self) -> bool:
        return self._sink is not None

    @property
    def unavailable_reason(self) -> str:
        return self._reason

    # -- sources -----------------------------------------------------------------
    def set_source(self, name: str, y, *, rate: float | None, x0: float = 0.0,
                   dx: float | None = None) -> None:
        """Add or replace source ``name``; ``y=None`` removes it.

        Parameters
        ----------
        y : np.ndarray [shape=(n,), real] or None
        rate : float or None
            Samples per second, or None for a signal that is not audio.
        x0, dx : float
            Signal axis of sample 0 and its spacing (default ``1 / rate``).
        """
        if y is None:
            if self._sources.pop(name, None) is not None:
                if name == self._active:
                    self.stop()
                self._invalidate()
            return
        y = np.asarray(y, dtype=np.float64).ravel()
        if dx is None:
            dx = 1.0 / rate if rate else 1.0
        self._sources[name] = SourceData(y, None if rate is None else float(rate), float(x0),
                                         float(dx))
        self._invalidate()

    def set_signal(self, signal, *, reconstruction=None, band=None, residual=None) -> None:
        """All sources from a :class:`core.signal.Signal` and arrays on its axis (None: none)."""
        rate = signal.rate if signal.is_audio else None
        self.stop()
        self.axis_unit = signal.unit
        for name, y in (("original", signal.y), ("reconstruction", reconstruction),
                        ("band", band), ("residual", residual)):
            if y is None:
                self._sources.pop(name, None)
            else:
                self._sources[name] = SourceData(np.asarray(y, float).ravel(), rate,
                                                 signal.x0, signal.dx)
        self._seek_time = 0.0
        self._state = None
        self._invalidate()

    def sources(self) -> list[str]:
        """Names of the sources there are, in :data:`SOURCE_NAMES` order."""
        known = [n for n in SOURCE_NAMES if n in self._sources]
        return known + sorted(n for n in self._sources if n not in SOURCE_NAMES)

    def has_source(self, name: str) -> bool:
        return name in self._sources

    def is_audio(self, name: str | None = None) -> bool:
        """Whether source ``name`` (default: the active one) has a time axis."""
        src = self._sources.get(self._active if name is None else name)
        return src is not None and src.rate is not None

    def needs_sonify_rate(self) -> bool:
        """True when some source is not audio and no sonification rate is set."""
        return self._sonify_rate is None and any(s.rate is None for s in self._sources.values())

    @property
    def sonify_rate(self) -> float | None:
        return self._sonify_rate

    def set_sonify_rate(self, rate: float | None) -> None:
        """Play non-audio sources at ``rate`` samples per second (None: do not)."""
        if rate is not None:
            rate = float(rate)
            if not np.isfinite(rate) or rate <= 0:
                raise ParameterError(f"sonification rate={rate!r} must be > 0")
        self.stop()
        self._sonify_rate = rate
        self._state = None
        self._invalidate()

    def can_play(self, name: str | None = None) -> tuple[bool, str]:
        """Whether ``name`` (default: the active source) can be played, and why not."""
        name = self._active if name is None else name
        if not self.available:
            return False, self._reason
        src = self._sources.get(name)
        if src is None:
            return False, f"There is no {name} to play yet"
        if src.rate is None and self._sonify_rate is None:
            return False, ("This signal's axis is not time: choose 'Sonify at rate…' to "
                           "listen to it")
        return True, ""

    def _invalidate(self) -> None:
        # A source changed (a band edited while listening): rebuild the buffers and, if
        # playing, carry on from the same time with the new samples.
        playing = self._status == "playing"
        if playing:
            self._sync()
            self._sink.stop()
        self._seek_time = self.time
        self._prepared.clear()
        self._state = None
        if playing:
            try:
                ready = self.can_play()[0] and self._ensure() and self._active in self._order
            except PhaseBrushError as exc:
                ready = False
                self.failed.emit(f"Cannot play the {self._active}: {exc}")
            if ready:
                self._start_sink()
            else:
                self._timer.stop()
                self._set_status("paused")
        self.sources_changed.emit()

    def _play_rate(self, src: SourceData) -> float:
        return src.rate if src.rate is not None else float(self._sonify_rate)

    def _prepare(self) -> None:
        """Level, sonify and resample every playable source; build the ABState.

        One gain for all audio sources and one for all sonified ones, so an A/B
        comparison keeps their loudness difference (a quiet band stays quiet).
        """
        playable = [n for n in self.sources() if self.can_play(n)[0]]
        audio = [n for n in playable if self._sources[n].rate is not None]
        centred = {n: self._sources[n].y - self._sources[n].y.mean()
                   for n in playable if n not in audio}  # a baseline is inaudible DC
        peak = playback_peak(*(self._sources[n].y for n in audio))
        peak_sonified = playback_peak(*centred.values())
        rates = self._sink.supported_rates() if self._sink is not None else NULL_RATES
        self._prepared.clear()
        order, srcs = [], []
        ref_x0 = min((self._sources[n].x0 for n in playable), default=0.0)
        for n in playable:
            s = self._sources[n]
            if n in centred:
                y32 = _fade(normalise_for_playback(centred[n], peak=peak_sonified))
                r = float(self._sonify_rate)
            else:
                y32, r = normalise_for_playback(s.y, peak=peak), s.rate
            y2, r2 = resample_for_device(y32, r, rates)
            self._prepared[n] = (np.clip(y2, -1, 1).astype(np.float32), r2)
            t0 = (s.x0 - ref_x0) / (s.dx * self._play_rate(s))
            order.append(n)
            srcs.append(PlaySource(n, y2.size, r2, t0))
        self._order = order
        if not srcs:
            self._state = None
            return
        active = order.index(self._active) if self._active in order else 0
        st = ABState(tuple(srcs), active=active, loop=self._loop)
        self._state = st.seek(self._seek_time)
        if order[active] != self._active:
            self._active = order[active]
            self.active_changed.emit(self._active)

    def _ensure(self) -> bool:
        if self._state is None:
            self._prepare()
        return self._state is not None

    # -- state -------------------------------------------------------------------
    @property
    def status(self) -> str:
        """"playing", "paused" or "stopped"."""
        return self._status

    @property
    def active(self) -> str:
        """The source that plays (or would)."""
        return self._active

    @property
    def ab_pair(self) -> tuple[str, str]:
        return self._ab

    @property
    def loop(self) -> bool:
        return self._loop

    @property
    def time(self) -> float:
        """Play position in seconds from the start of the sources."""
        if self._state is None:
            return self._seek_time
        return self._state.time

    def duration(self, name: str | None = None) -> float:
        """Length in seconds of ``name`` (default the active source) as it plays; 0 if none."""
        name = self._active if name is None else name
        src = self._sources.get(name)
        if src is None or (src.rate is None and self._sonify_rate is None):
            return 0.0
        return src.y.size / self._play_rate(src)

    def x_at(self, seconds: float) -> float:
        """Signal-axis value played at ``seconds`` (for the playhead)."""
        src = self._sources.get(self._active) or next(iter(self._sources.values()), None)
        if src is None or (src.rate is None and self._sonify_rate is None):
            return float(seconds)
        return src.x0 + seconds * self._play_rate(src) * src.dx

    def _set_status(self, status: str) -> None:
        if status != self._status:
            self._status = status
            self.state_changed.emit(status)

    def _emit_position(self) -> None:
        t = self.time
        self.position_changed.emit(t)
        self.playhead_moved.emit(self.x_at(t))

    # -- commands ------------------------------------------------------------------
    def play(self) -> bool:
        """Start (or resume) the active source. False, with ``failed``, if it cannot."""
        ok, why = self.can_play()
        if not ok:
            self.failed.emit(why)
            return False
        try:
            ready = self._ensure()
        except PhaseBrushError as exc:  # a source that cannot be levelled or resampled
            self.failed.emit(f"Cannot play the {self._active}: {exc}")
            return False
        if not ready or self._active not in self._order:
            self.failed.emit(f"There is no {self._active} to play")
            return False
        if self._state.finished:
            self._state = replace(self._state, position=0)
        if not self._start_sink():
            return False
        self._set_status("playing")
        self._timer.start()
        self._emit_position()
        return True

    def _start_sink(self) -> bool:
        """Hand the active buffer to the sink; on a device error stop and say why."""
        y, rate = self._prepared[self._active]
        try:
            self._sink.start(y, rate, self._state.position)
        except Exception as exc:  # a device that fails to open must not take the app down
            self._timer.stop()
            self._set_status("paused" if self._state.position else "stopped")
            self.failed.emit(str(exc) if isinstance(exc, PhaseBrushError)
                             else f"Audio device error: {exc}")
            return False
        return True

    def pause(self) -> None:
        if self._status != "playing":
            return
        self._sync()
        self._sink.stop()
        self._timer.stop()
        self._set_status("paused")
        self._emit_position()

    def toggle_play(self) -> None:
        """Space: play when paused or stopped, pause when playing."""
        if self._status == "playing":
            self.pause()
        else:
            self.play()

    def stop(self) -> None:
        """Stop and rewind to the start."""
        if self._sink is not None and self._status == "playing":
            self._sink.stop()
        self._timer.stop()
        if self._state is not None:
            self._state = replace(self._state, position=0)
        self._seek_time = 0.0
        was = self._status
        self._set_status("stopped")
        if was != "stopped":
            self._emit_position()

    def set_loop(self, on: bool) -> None:
        self._loop = bool(on)
        if self._state is not None:
            self._state = replace(self._state, loop=self._loop)

    def seek(self, seconds: float) -> None:
        """Jump to ``seconds`` (keeps playing if playing)."""
        self._seek_time = max(0.0, float(seconds))
        if self._state is not None:
            self._state = self._state.seek(self._seek_time)
            if self._status == "playing":
                self._sink.stop()
                self._start_sink()
        self._emit_position()

    def seek_x(self, x: float) -> None:
        """Jump to signal-axis value ``x`` (a click or a dragged playhead)."""
        src = self._sources.get(self._active)
        if src is None or (src.rate is None and self._sonify_rate is None):
            return
        self.seek((float(x) - src.x0) / (src.dx * self._play_rate(src)))

    def set_active(self, name: str) -> None:
        """Play ``name`` from the same time (an A/B switch if playing)."""
        if name == self._active:
            return
        if name not in self._sources:
            self.failed.emit(f"There is no {name} to play yet")
            return
        if self._status == "playing":
            self._sync()
        if self._state is not None:
            if name in self._order:
                self._state = self._state.switch(self._order.index(name))
            else:  # not playable now (no sonification rate): rebuilt when it is
                self._seek_time = self._state.time
                self._state = None
        self._active = name
        if self._status == "playing":
            ok, why = self.can_play(name)
            self._sink.stop()
            if ok and self._state is not None:
                self._start_sink()
            else:
                self._timer.stop()
                self._set_status("paused")
                self.failed.emit(why)
        self.active_changed.emit(name)
        self._emit_position()

    def set_ab(self, a: str, b: str) -> None:
        """The two sources A/B toggles between."""
        self._ab = (str(a), str(b))

    def toggle_ab(self) -> None:
        """Switch between the A and B sources at the same time."""
        a, b = self._ab
        target = b if self._active == a else a
        self.set_active(target)

    # -- the clock -------------------------------------------------------------------
    def _sync(self) -> None:
        """Take the sink's position into the ABState (wrapping or ending)."""
        if self._state is None or self._sink is None:
            return
        pos = self._sink.position_samples()
        self._state = self._state.advance(pos - self._state.position)

    def _on_tick(self) -> None:
        if self._status != "playing" or self._state is None:
            return
        pos = self._sink.position_samples()
        n = self._state.source.n_samples
        if pos >= n:
            if self._loop and n > 0:
                self._state = replace(self._state, position=pos % n)
                self._sink.stop()
                self._start_sink()
            else:
                self._sink.stop()
                self._timer.stop()
                self._state = replace(self._state, position=0)
                self._seek_time = 0.0
                self._set_status("stopped")
        else:
            self._state = replace(self._state, position=pos)
        self._emit_position()

    def _on_sink_failed(self, message: str) -> None:
        self._timer.stop()
        self._set_status("paused")
        self.failed.emit(message)
