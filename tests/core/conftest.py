"""Synthetic signals shared by the core tests (no data files except the demo clip)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from phasebrush.core.signal import Signal

DEMO_WAV = Path(__file__).resolve().parents[2] / "resources" / "demo" / "arctic_a0007.wav"


@pytest.fixture
def chirp_signal() -> Signal:
    """Linear chirp 20 -> 300 Hz, fs = 1 kHz, N = 2048, plus a DC offset of 0.3."""
    fs, n = 1000.0, 2048
    t = np.arange(n) / fs
    y = np.cos(2 * np.pi * (20 * t + 0.5 * 280 / t[-1] * t**2)) + 0.3
    return Signal(y, dx=1 / fs, name="chirp")


@pytest.fixture
def two_components():
    """AM tone (250 Hz) + linear chirp (20 -> 70 Hz) that never cross; N = 4096, fs = 1 kHz.

    Returns
    -------
    signal : Signal
    parts : dict of str -> np.ndarray [shape=(4096,)]
        "tone" and "chirp", each with its instantaneous frequency under
        "tone_f" and "chirp_f" (Hz, per sample).
    """
    fs, n = 1000.0, 4096
    t = np.arange(n) / fs
    tone = (1 + 0.5 * np.sin(2 * np.pi * 1.5 * t)) * np.cos(2 * np.pi * 250 * t)
    f0, f1 = 20.0, 70.0
    k = (f1 - f0) / t[-1]
    chirp = 0.8 * np.cos(2 * np.pi * (f0 * t + 0.5 * k * t**2))
    parts = {"tone": tone, "chirp": chirp,
             "tone_f": np.full(n, 250.0), "chirp_f": f0 + k * t}
    return Signal(tone + chirp, dx=1 / fs, name="am+chirp"), parts


@pytest.fixture
def voice_like() -> Signal:
    """Broadband "voice-like" signal: a gliding harmonic series (f0 110 -> 160 Hz)
    with formant-shaped amplitudes, plus a little noise, fs = 8 kHz, N = 4096."""
    fs, n = 8000.0, 4096
    t = np.arange(n) / fs
    f0 = 110 + 50 * t / t[-1]
    phase = 2 * np.pi * np.cumsum(f0) / fs
    y = np.zeros(n)
    for h in range(1, 30):
        fh = h * f0.mean()
        if fh > 0.45 * fs:
            break
        amp = np.exp(-((fh - 700) / 300) ** 2) + 0.5 * np.exp(-((fh - 1800) / 400) ** 2) + 0.05
        y += amp * np.cos(h * phase)
    y += 0.02 * np.random.default_rng(7).standard_normal(n)
    return Signal(y, dx=1 / fs, name="voice-like")


@pytest.fixture(scope="session")
def speech_slice() -> Signal:
    """About 1 s of real speech (CMU ARCTIC a0007, resources/demo), 16 kHz -> 8 kHz."""
    sf = pytest.importorskip("soundfile")
    from scipy.signal import resample_poly

    if not DEMO_WAV.exists():
        pytest.skip(f"{DEMO_WAV} is missing")
    y, sr = sf.read(DEMO_WAV, dtype="float64")
    if y.ndim > 1:
        y = y.mean(axis=1)
    y = resample_poly(y, 1, 2)
    sr = sr / 2
    # the loudest 1 s (speech, not the leading silence)
    n = int(sr)
    energy = np.convolve(y**2, np.ones(n), mode="valid")
    i = int(np.argmax(energy[::256])) * 256
    return Signal(y[i:i + n], dx=1 / sr, name="arctic_a0007")


def _interior_rel_error(y: np.ndarray, ref: np.ndarray, trim: float = 0.1) -> float:
    n = len(ref)
    s = slice(int(n * trim), n - int(n * trim))
    return float(np.linalg.norm((y - ref)[s]) / np.linalg.norm(ref[s]))


@pytest.fixture(scope="session")
def rel_error():
    """``rel_error(y, ref, trim=0.1)``: ||y - ref|| / ||ref|| over the samples
    left after trimming ``trim`` of the length at each end."""
    return _interior_rel_error
