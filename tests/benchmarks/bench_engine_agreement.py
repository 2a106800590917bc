"""A 30-s 16 kHz recording: streamed band inversion vs the whole-signal path, four kinds.

Issue 10's "done means": on 30 s at 16 kHz (480000 samples), for kinds 'cwt',
'ssq_cwt' (nv 8), 'stft' and 'ssq_stft' (n_fft 256, hop 1),
``core.engine.stream_band`` against ``core.tf.inversion`` on the whole
transform, for a band (two edge curves -> intervals, :func:`core.tf.bands.band_ranges`),
a rectangle, a lasso polygon and a brush stroke, with blocks small enough
that every selection crosses block boundaries. Prints, per kind, the whole
transform's time, and per selection the stream's time, tracemalloc peak
(numpy allocations; the stream alone) and the max errors of band and residual
relative to max |y|, over all samples.

The whole-signal reference of 'ssq_cwt' holds ~3.5 GB while it is made, and
the four kinds take minutes on two cores: too heavy for the test suite, which
runs the same comparison at 20000 samples (tests/core/engine/test_engine_agreement.py).

Run: ``python -m tests.benchmarks.bench_engine_agreement`` (or ``make bench``).
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

__all__ = ["main"]

FS = 16000.0
SECONDS = 30
BLOCK_LENGTH = 1 << 16


def _rel(a, b, scale):
    return float(np.abs(a - b).max() / scale)


def main() -> None:
    from phasebrush.core.engine import stream_band
    from phasebrush.core.signal import Signal
    from phasebrush.core.tf.inversion import RangeInverter, invert_with_residual
    from phasebrush.core.tf.transforms import transform
    from tests.core.test_engine_agreement import SPECS, recording, selections

    n = int(SECONDS * FS)
    y = recording(n)
    scale = float(np.abs(y).max())
    print(f"{SECONDS} s at {FS:.0f} Hz ({n} samples), blocks of {BLOCK_LENGTH} columns")
    for spec in SPECS.values():
        t0 = time.perf_counter()
        tfr = transform(Signal(y, dx=1 / FS), spec)
        print(f"{spec.kind}: whole transform {tfr.shape[0]} x {tfr.shape[1]} in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        sel = selections(tfr)
        inverter = RangeInverter(tfr) if sel["band"][1] is not None else None
        refs = {}
        for name, (m, iv) in sel.items():
            refs[name] = invert_with_residual(tfr, m)
            if iv is not None:
                refs[name + " (intervals)"] = inverter.band_and_residual(*iv)
        del tfr, inverter
        for name, (band_ref, res_ref) in refs.items():
            m, iv = sel[name.split(" ")[0]]
            kw = {"intervals": iv} if name.endswith("(intervals)") else {
                "mask": lambda c0, c1, m=m: m[:, c0:c1]}
            tracemalloc.start()
            t0 = time.perf_counter()
            got = stream_band(y, spec, dx=1 / FS, block_length=BLOCK_LENGTH, **kw)
            wall = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"  {name:22s} band {_rel(got.band, band_ref, scale):.1e}  residual "
                  f"{_rel(got.residual, res_ref, scale):.1e}  {wall:5.1f} s  "
                  f"peak {peak / 2**20:6.0f} MB (estimate {got.estimated_bytes / 2**20:.0f} MB)"
                  f"  {got.n_blocks} blocks", flush=True)
        del refs, sel


if __name__ == "__main__":
    main()
