"""Band edit -> inversion latency: RangeInverter vs ssqueezepy.issq_cwt.

N = 65536 samples of real speech (resources/demo/arctic_a0007.wav, 16 kHz,
4.0 s, reflect-extended to 65536), CWT with GMW, nv = 32, 'log' scales,
fmin = 15 Hz (297 rows with the two edge rows). A band is a 17-row strip
following a glide; each "edit" moves it (what a brush stroke does). Ours:
``RangeInverter.band`` per edit (the one-off cumulative sum is timed
separately); theirs: ``ssqueezepy.issq_cwt(Tx, wavelet, cc, cw)`` on the same
wavelet rows in ssqueezepy's row order, which must give the same band up to
the constant ln2/nv (checked).

Run: ``python -m tests.benchmarks.bench_inversion`` (or ``make bench``).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from phasebrush.core.signal import Signal
from phasebrush.core.tf.inversion import RangeInverter
from phasebrush.core.tf.transforms import TransformSpec, _wavelet, transform

__all__ = ["main"]

N = 65536
FS = 16000.0
N_EDITS = 20
N_EDITS_SSQ = 5
HALF_WIDTH = 8  # rows each side of the centre: 17-row bands


def _speech(n: int) -> np.ndarray:
    wav = Path(__file__).resolve().parents[2] / "resources" / "demo" / "arctic_a0007.wav"
    try:
        import soundfile as sf

        y, sr = sf.read(wav, dtype="float64")
        if y.ndim > 1:
            y = y.mean(axis=1)
        if sr != FS:
            raise ValueError(sr)
        return np.pad(y, (0, max(0, n - y.size)), mode="reflect")[:n]
    except Exception as exc:  # benchmark still runs on a synthetic signal
        print(f"(speech clip unavailable: {exc}; using a synthetic chirp)")
        t = np.arange(n) / FS
        return np.cos(2 * np.pi * (100 * t + 300 * t**2))


def _timed(fn, repeats):
    times, out = [], None
    for k in range(repeats):
        t0 = time.perf_counter()
        out = fn(k)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main() -> None:
    sig = Signal(_speech(N), dx=1 / FS, name="arctic_a0007")
    spec = TransformSpec(kind="cwt", wavelet="gmw", nv=32, scales="log", fmin=15.0)
    t0 = time.perf_counter()
    tfr = transform(sig, spec)
    t_transform = time.perf_counter() - t0
    t0 = time.perf_counter()
    inv = RangeInverter(tfr)
    t_pre = time.perf_counter() - t0

    n_rows, n_frames = tfr.shape
    n_w = n_rows - 2  # wavelet rows 1..n_w; edge rows 0 and n_rows - 1
    t = np.arange(n_frames)
    base = (n_w // 2 + (n_w // 6) * np.sin(2 * np.pi * t / n_frames)).astype(np.intp)

    def centre(k):  # each edit moves the strip up by k rows
        return np.clip(base + k - N_EDITS // 2, 1 + HALF_WIDTH, n_w - HALF_WIDTH)

    def ours(k):
        c = centre(k)
        return inv.band(c - HALF_WIDTH, c + HALF_WIDTH + 1)

    # ssqueezepy order: row 0 = smallest scale = highest frequency
    Tx = np.ascontiguousarray(tfr.coefficients[1:-1][::-1])
    wavelet = _wavelet("gmw")

    def theirs(k):
        cc = (n_w - centre(k)).astype(np.int64)
        cw = np.full(n_frames, HALF_WIDTH, dtype=np.int64)
        import ssqueezepy

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ssqueezepy.issq_cwt(Tx, wavelet, cc, cw)[0]

    t_ours, band = _timed(ours, N_EDITS)
    t_theirs, band_ssq = _timed(theirs, N_EDITS_SSQ)
    # same band: issq_cwt lacks the ln2/nv of a CWT (it expects synchrosqueezed rows)
    k_last = N_EDITS_SSQ - 1
    ref = ours(k_last)
    scaled = band_ssq * np.log(2) / spec.nv
    agree = np.max(np.abs(ref - scaled)) / np.max(np.abs(ref))
    del band

    print(f"signal: {sig.name}, N = {N}, fs = {FS:g} Hz; transform cwt gmw nv=32 'log' "
          f"fmin=15 Hz -> {n_rows} rows x {n_frames} frames")
    print(f"transform (one-off): {t_transform * 1e3:9.1f} ms")
    print(f"RangeInverter cumulative-sum precompute (one-off): {t_pre * 1e3:9.1f} ms")
    print()
    print(f"{'band edit -> inverse':<34}{'median ms':>12}{'edits':>8}")
    print(f"{'PhaseBrush RangeInverter.band':<34}{t_ours * 1e3:>12.2f}{N_EDITS:>8}")
    print(f"{'ssqueezepy issq_cwt(Tx, cc, cw)':<34}{t_theirs * 1e3:>12.2f}{N_EDITS_SSQ:>8}")
    print(f"{'speed-up':<34}{t_theirs / t_ours:>11.0f}x")
    print(f"max |ours - issq_cwt * ln2/nv| / max|ours| = {agree:.2e}")
    ok = t_ours <= 0.020 and t_theirs / t_ours >= 50
    print(f"targets (<= 20 ms per edit, >= 50x): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
