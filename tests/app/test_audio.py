"""Tests for app.audio: the null sink's clock, the playback controller, availability."""

from __future__ import annotations

import types

import numpy as np
import pytest

from phasebrush.app import audio
from phasebrush.app.audio import NullAudioSink, PlaybackController, audio_availability
from phasebrush.core.signal import Signal

RATE = 16000


def tone(n: int, f: float = 440.0, rate: float = RATE, amp: float = 1.0) -> np.ndarray:
    return amp * np.sin(2 * np.pi * f * np.arange(n) / rate)


@pytest.fixture
def sink():
    # Four times real time: a 1 s source is heard in 0.25 s of test time.
    return NullAudioSink(speed=4.0)


@pytest.fixture
def ctl(qtbot, sink):
    c = PlaybackController(sink)
    c.set_source("original", tone(RATE), rate=RATE)
    c.set_source("reconstruction", tone(RATE, amp=0.5), rate=RATE)
    yield c
    c.stop()


def test_play_advances_the_playhead(qtbot, ctl):
    seen = []
    ctl.position_changed.connect(seen.append)
    with qtbot.waitSignal(ctl.state_changed, check_params_cb=lambda s: s == "playing"):
        assert ctl.play()
    qtbot.waitUntil(lambda: ctl.time > 0.05, timeout=5000)
    assert ctl.status == "playing"
    assert seen and max(seen) > 0
    assert np.all(np.diff(seen) >= 0)  # no loop: time only moves forward


def test_ab_switch_keeps_the_time(qtbot, ctl, sink):
    ctl.set_ab("original", "reconstruction")
    ctl.play()
    qtbot.waitUntil(lambda: ctl.time > 0.2, timeout=5000)
    before = ctl.time
    # The switch reads the sink's clock, not the last tick (which lags under load).
    clock = sink.position_samples() / sink.starts[-1][1]
    ctl.toggle_ab()
    after = ctl.time
    assert ctl.active == "reconstruction"
    tick_s = audio._TICK_MS * 1e-3 * sink.speed
    assert before <= after
    assert clock - 1.0 / RATE <= after <= clock + tick_s
    n, rate, pos = sink.starts[-1]
    assert pos / rate == pytest.approx(after, abs=1.0 / rate)
    ctl.toggle_ab()
    assert ctl.active == "original"
    assert sink.starts[-1][2] / RATE >= after


def test_ab_switch_between_rates_keeps_the_time(qtbot, sink):
    c = PlaybackController(sink)
    c.set_source("original", tone(RATE), rate=RATE)
    c.set_source("band", tone(8000, rate=8000), rate=8000)
    c.set_ab("original", "band")
    c.play()
    qtbot.waitUntil(lambda: c.time > 0.1, timeout=5000)
    c.pause()
    t = c.time
    c.toggle_ab()
    assert c.time == pytest.approx(t, abs=1 / 8000)
    c.play()
    n, rate, pos = sink.starts[-1]
    assert (n, rate) == (8000, 8000) and pos == round(t * 8000)
    c.stop()


def test_loop_wraps_and_keeps_playing(qtbot, sink):
    c = PlaybackController(sink)
    n = RATE * 4 // 10  # 0.4 s: several ticks per pass, so a wrap shows as a step back
    c.set_source("original", tone(n), rate=RATE)
    c.set_loop(True)
    seen = []
    c.position_changed.connect(seen.append)
    c.play()
    qtbot.waitUntil(lambda: len(sink.starts) >= 3, timeout=5000)
    assert c.status == "playing"
    assert any(b < a for a, b in zip(seen, seen[1:], strict=False)), "never wrapped"
    assert all(0 <= t <= 0.4 for t in seen)
    assert all(p < n for _, _, p in sink.starts)
    c.stop()


def test_without_loop_it_stops_at_the_end_and_rewinds(qtbot, sink):
    c = PlaybackController(sink)
    c.set_source("original", tone(RATE // 20), rate=RATE)
    c.play()
    with qtbot.waitSignal(c.state_changed, timeout=5000,
                          check_params_cb=lambda s: s == "stopped"):
        pass
    assert c.time == 0 and not sink.is_playing()


def test_pause_resumes_where_it_was(qtbot, ctl, sink):
    ctl.play()
    qtbot.waitUntil(lambda: ctl.time > 0.05, timeout=5000)
    ctl.pause()
    t = ctl.time
    assert ctl.status == "paused" and not sink.is_playing()
    ctl.toggle_play()
    assert ctl.status == "playing"
    assert sink.starts[-1][2] == round(t * RATE)


def test_sources_of_one_comparison_share_one_gain(qtbot, sink):
    c = PlaybackController(sink)
    c.set_source("original", tone(RATE, amp=2.0), rate=RATE)
    c.set_source("band", tone(RATE, amp=0.5), rate=RATE)
    c.play()
    loud = np.abs(sink.last_buffer).max()
    c.set_active("band")
    quiet = np.abs(sink.last_buffer).max()
    assert sink.last_buffer.dtype == np.float32 and loud <= 1.0
    assert quiet / loud == pytest.approx(0.25, rel=1e-3)
    c.stop()


def test_resamples_to_a_rate_the_device_accepts(qtbot):
    sink = NullAudioSink(rates=(8000, 48000))
    c = PlaybackController(sink)
    c.set_source("original", tone(12345, rate=12345.0), rate=12345.0)
    c.play()
    n, rate, _ = sink.starts[-1]
    assert rate == 8000
    assert abs(n - 8000) <= 2
    assert c.duration() == pytest.approx(1.0)
    c.stop()


def test_a_spectrum_plays_only_at_an_explicit_rate(qtbot, sink):
    spec = Signal(np.cos(np.arange(3600) / 7.0), dx=1.0, x0=400.0, unit="cm^-1", name="ir")
    c = PlaybackController(sink)
    c.set_signal(spec)
    failures = []
    c.failed.connect(failures.append)
    ok, why = c.can_play()
    assert not ok and "Sonify" in why
    assert not c.play() and failures and not sink.starts
    c.set_sonify_rate(8000)
    assert c.play()
    n, rate, _ = sink.starts[-1]
    assert (n, rate) == (3600, 8000)
    c.pause()
    # The playhead is on the spectrum's own axis: sample i at x0 + i * dx.
    assert c.x_at(c.time) == pytest.approx(400.0 + c.time * 8000, abs=1.0)
    c.seek_x(400.0 + 1800)
    assert c.time == pytest.approx(1800 / 8000)
    with pytest.raises(ValueError):
        c.set_sonify_rate(-1)


def test_editing_a_source_while_it_plays_keeps_the_time(qtbot, ctl, sink):
    ctl.set_active("reconstruction")
    ctl.play()
    qtbot.waitUntil(lambda: ctl.time > 0.1, timeout=5000)
    t = ctl.time
    ctl.set_source("reconstruction", tone(RATE, f=220.0), rate=RATE)
    assert ctl.status == "playing"
    assert sink.starts[-1][2] / RATE >= t


def test_unavailable_controller_refuses_politely(qtbot):
    reason = "Playback unavailable: no audio output device"
    c = PlaybackController(None, unavailable_reason=reason)
    c.set_source("original", tone(100), rate=RATE)
    failures = []
    c.failed.connect(failures.append)
    assert not c.available and c.unavailable_reason == reason
    assert not c.play() and failures == [reason]
    c.toggle_play()
    c.toggle_ab()
    c.seek(0.5)
    c.stop()
    assert c.status == "stopped"


def test_availability_reasons(monkeypatch):
    monkeypatch.delenv("PHASEBRUSH_AUDIO", raising=False)

    def no_pulse():
        raise ImportError("libpulse.so.0: cannot open shared object file: No such file")

    monkeypatch.setattr(audio, "_qtmultimedia", no_pulse)
    ok, reason = audio_availability()
    assert not ok
    assert "libpulse.so.0 missing" in reason and "install libpulse0" in reason
    assert audio.make_sink() == (None, reason)

    def no_addons():
        raise ModuleNotFoundError("No module named 'PySide6.QtMultimedia'")

    monkeypatch.setattr(audio, "_qtmultimedia", no_addons)
    assert "PySide6-Addons" in audio_availability()[1]

    fake = types.SimpleNamespace(QMediaDevices=types.SimpleNamespace(audioOutputs=lambda: []))
    monkeypatch.setattr(audio, "_qtmultimedia", lambda: fake)
    assert audio_availability() == (False, "Playback unavailable: no audio output device")

    monkeypatch.setenv("PHASEBRUSH_AUDIO", "null")
    assert audio_availability() == (True, "")
    sink, reason = audio.make_sink()
    assert isinstance(sink, NullAudioSink) and reason == ""


def test_auto_controller_reports_availability_without_crashing(qtbot, monkeypatch):
    monkeypatch.delenv("PHASEBRUSH_AUDIO", raising=False)
    c = PlaybackController()  # whatever this machine has
    ok, reason = audio_availability()
    assert c.available == ok or c.available is False
    if not c.available:
        assert c.unavailable_reason.startswith("Playback unavailable")


def test_qt_sink_that_cannot_open_is_reported(qtbot, monkeypatch):
    # Runs where QtMultimedia loads (CI with libpulse0 and no sound server): a sink on a
    # null device fails to open; the controller says so and does not claim to play.
    monkeypatch.delenv("PHASEBRUSH_AUDIO", raising=False)
    try:
        qm = audio._qtmultimedia()
    except (ImportError, OSError) as exc:
        pytest.skip(f"QtMultimedia does not load here ({exc})")
    sink = audio.QtAudioSink(qm.QAudioDevice())
    assert sink.supported_rates()
    c = PlaybackController(sink)
    c.set_source("original", tone(800), rate=RATE)
    failures = []
    c.failed.connect(failures.append)
    assert not c.play()
    assert failures and failures[0].startswith("Audio device error")
    assert c.status == "stopped" and not sink.is_playing()


def test_sonified_sources_share_one_gain_too(qtbot, sink):
    x = np.arange(2000.0)
    spec = Signal(5.0 + np.cos(x / 5.0), dx=1.0, x0=400.0, unit="cm^-1")  # a baseline
    c = PlaybackController(sink)
    c.set_signal(spec, band=0.25 * np.cos(x / 5.0))
    c.set_sonify_rate(8000)
    c.play()
    loud = np.abs(sink.last_buffer[500:1500]).max()
    c.set_active("band")
    quiet = np.abs(sink.last_buffer[500:1500]).max()
    assert quiet / loud == pytest.approx(0.25, rel=1e-2)
    assert abs(float(sink.last_buffer.mean())) < 0.01  # the baseline was removed
    assert sink.last_buffer[0] == pytest.approx(0.0, abs=0.05)  # faded in
    c.stop()
