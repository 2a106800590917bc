"""A 10-minute 44.1 kHz recording: `phasebrush invert` with two bands, streamed.

Synthesises 10 minutes of audio at 44.1 kHz (three tones, a repeating chirp,
noise and speech-like harmonic bursts; nothing downloaded), writes it as a
float WAV in a temporary folder, runs ``phasebrush invert`` on it in a
subprocess with two bands (a flat 200-800 Hz band and a rising 3-7 kHz band
over the middle 8 minutes) and a residual, and prints the wall time and the
child's peak RSS (targets of issue 10: <= 120 s, <= 2 GB). The whole-signal
path would need ~0.94 GB per second of audio (~560 GB).

Agreement: on a 30-s excerpt, ``core.engine.stream_band`` against the
whole-signal definition of the same band rows (``core.tf.transforms.apply_filterbank``
on the whole padded grid, the rows built as ``cwt_filterbank`` builds them;
RangeInverter itself would need ~28 GB there), and the residual against
signal - band.

Run: ``python -m tests.benchmarks.bench_engine`` (or ``make bench``).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]

FS = 44100.0
MINUTES = 10
ROOT = Path(__file__).resolve().parents[2]
BANDS = {"bands": [
    {"upper": [[0, 800], [600, 800]], "lower": [[0, 200], [600, 200]]},
    {"upper": [[60, 5000], [540, 7000]], "lower": [[60, 3000], [540, 4000]]},
]}


def _recording(n: int, seed: int = 0) -> np.ndarray:
    """Tones, a chirp sweeping 100 Hz -> 8 kHz every 20 s, noise and speech-like bursts."""
    rng = np.random.default_rng(seed)
    y = np.empty(n)
    block = 1 << 20
    for i in range(0, n, block):
        t = np.arange(i, min(n, i + block)) / FS
        x = (0.10 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * 1000 * t)
             + 0.03 * np.sin(2 * np.pi * 5000 * t))
        tau = np.mod(t, 20.0)                      # chirp: f = 100 * 80**(tau / 20)
        k = np.log(80.0) / 20.0
        x += 0.08 * np.sin(2 * np.pi * 100 * (np.exp(k * tau) - 1) / k)
        # speech-like: 0.3 s bursts of a 120-180 Hz harmonic series every 0.7 s
        f0 = 150 + 30 * np.sin(2 * np.pi * 0.1 * t)
        phase = 2 * np.pi * np.cumsum(f0) / FS + (2 * np.pi * 150 * i / FS)
        gate = (np.mod(t, 0.7) < 0.3) * np.sin(np.pi * np.mod(t, 0.7) / 0.3) ** 2
        voice = sum(np.sin(h * phase) / h for h in range(1, 12))
        x += 0.15 * gate * voice
        x += 0.01 * rng.standard_normal(len(t))
        y[i:i + len(t)] = x
    return y


def _peak_child_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0   # KiB on Linux


def _reference_band(y, spec, start, end, dx):
    """The whole-signal band of the rows ``start``/``end`` touch, row by row on the whole
    padded grid (what transform + RangeInverter compute, without holding every row)."""
    from phasebrush.core.engine.cwt_blocks import cwt_geometry
    from phasebrush.core.tf import transforms as T

    geom = cwt_geometry(spec, len(y), dx=dx)
    rows = np.unique(np.concatenate([np.arange(a, b) for a, b in
                                     zip(start.min(axis=1), end.max(axis=1), strict=True)
                                     if b > a]))
    wav = T._wavelet(T._wavelet_key(spec))
    out = np.zeros(len(y))
    for i in range(0, len(rows), 8):
        r = rows[i:i + 8]
        psi = np.asarray(wav(scale=geom.scales[r][:, None], N=geom.n_pad, nohalf=False))
        fb = T.CWTFilterbank(psi=psi.real if np.iscomplexobj(psi) else psi, n_pad=geom.n_pad,
                             pad_left=geom.pad_left, frequencies=geom.frequencies[r],
                             row_weights=geom.row_weights[r], scales=geom.scales[r],
                             edge_row_indices=(), n_samples=len(y), dx=dx)
        W = T.apply_filterbank(y, fb).real
        inside = ((start[:, None, :] <= r[None, :, None])
                  & (r[None, :, None] < end[:, None, :])).any(axis=0)
        out += np.einsum("r,rt->t", geom.row_weights[r], np.where(inside, W, 0.0))
    return out


def _agreement(y30: np.ndarray) -> None:
    from phasebrush.cli.commands import _band_intervals
    from phasebrush.core.engine import stream_band
    from phasebrush.core.signal import Signal
    from phasebrush.core.tf.bands import bands_from_dict
    from phasebrush.core.tf.transforms import TransformSpec

    spec = TransformSpec()
    sig = Signal(y30, dx=1 / FS, name="excerpt")
    bands = bands_from_dict({"bands": [
        {"upper": [[0, 800], [30, 800]], "lower": [[0, 200], [30, 200]]},
        {"upper": [[3, 5000], [27, 7000]], "lower": [[3, 3000], [27, 4000]]}]})
    start, end = _band_intervals(bands, sig, spec)(0, sig.n)
    t0 = time.perf_counter()
    got = stream_band(y30, spec, intervals=(start, end), dx=sig.dx)
    t_stream = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = _reference_band(y30, spec, start, end, sig.dx)
    t_ref = time.perf_counter() - t0
    peak = np.abs(ref).max()
    k = int(FS)                                    # interior: 1 s in from each end
    print(f"30-s excerpt ({sig.n} samples): stream {t_stream:.1f} s, whole-grid rows "
          f"{t_ref:.1f} s")
    print(f"  band max|stream - whole| / max|whole| = {np.abs(got.band - ref).max() / peak:.2e}"
          f" (interior {np.abs(got.band - ref)[k:-k].max() / peak:.2e})")
    res_ref = y30 - ref
    print(f"  residual max|stream - (x - band)| / max|.| = "
          f"{np.abs(got.residual - res_ref).max() / np.abs(res_ref).max():.2e}")


def main() -> None:
    from phasebrush.core.io.signals import save_signal
    from phasebrush.core.signal import Signal

    n = int(MINUTES * 60 * FS)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        y = _recording(n)
        wav = tmp / "ten_minutes.wav"
        save_signal(Signal(y, dx=1 / FS, name="ten_minutes"), wav)
        bands = tmp / "bands.json"
        bands.write_text(json.dumps(BANDS))
        print(f"synthesised {MINUTES} min at {FS:.0f} Hz ({n} samples) in "
              f"{time.perf_counter() - t0:.1f} s")
        y30 = y[int(120 * FS):int(150 * FS)].copy()
        del y
        cmd = [sys.executable, "-m", "phasebrush.cli.main", "invert", "-q", str(wav),
               "--bands", str(bands), "--out", str(tmp / "band.wav"),
               "--residual", str(tmp / "residual.wav")]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        rss = _peak_child_rss_mb()
        print(f"phasebrush invert (2 bands + residual): exit {proc.returncode}, wall {wall:.1f} s "
              f"(target <= 120 s), peak RSS {rss:.0f} MB (target <= 2048 MB)")
        if proc.returncode:
            print(proc.stderr.strip())
    _agreement(y30)


if __name__ == "__main__":
    main()
