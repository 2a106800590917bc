"""Multirate CWT vs ssqueezepy.cwt, the GUI's detail image, and a 10-minute overview.

10 s of synthetic 44.1 kHz audio (tones, a chirp, noise, speech-like harmonic
bursts; the recording of bench_engine, synthesised here), GMW, nv 32, log
scales. Each side runs in its own subprocess, so each peak RSS (the child's
own ``ru_maxrss``, imports included) is its own:

- engine: ``core.engine.cwt_multirate`` (all rows, complex64), including
  its geometry (ssqueezepy's scale search); ssqueezepy is imported before the
  clock starts, as on the peer's side;
- peer: ``ssqueezepy.cwt(y, wavelet, scales, padtype='reflect')`` with the same
  Wavelet object and scale array (the scale search is NOT timed there);
- agreement: the peer's coefficients at the engine's sample points, per row
  ``max |engine - peer| / max |peer row|`` over the wavelet rows (issue 10's
  target: <= 1e-4, >= 10x faster, >= 10x less peak memory).

Then the GUI's exact detail image: ``display_source(y, TransformSpec(fmin=20.0),
dx=1/44100).image(c0, c1, width=1600)`` of a 10-s range in the middle of a
10-minute recording: building the source, the cold image (the whole rows over
the whole signal and three tiles), a nearby range inside the cached tiles
(+2 s), one that needs a new tile (+6 s); issue 10's target: within ~1 s warm.
Last, ``core.engine.magnitude_image`` of the 10-minute recording at 1000 pixels
(peak, all rows), wall time and peak RSS.

Run: ``python -m tests.benchmarks.bench_engine_cwt`` (or ``make bench``).
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
ROOT = Path(__file__).resolve().parents[2]


def _signal(seconds: float) -> np.ndarray:
    from tests.benchmarks.bench_engine import _recording

    return _recording(int(seconds * FS))


def _child_engine(out: str) -> None:
    import ssqueezepy  # noqa: F401  (imported untimed, as the peer's)

    from phasebrush.core.engine import cwt_multirate
    from phasebrush.core.tf import transforms as T

    y = _signal(10)
    t0 = time.perf_counter()
    m = cwt_multirate(y, T.TransformSpec(), dx=1 / FS)
    wall = time.perf_counter() - t0
    rss = _rss_mb()
    np.savez(out, *m.coefficients, rows=m.rows, hops=m.hops)
    print(json.dumps({"wall": wall, "rows": len(m.rows), "values": m.n_values,
                      "n": len(y), "rss": rss}))


def _child_peer(eng: str) -> None:
    import ssqueezepy

    from phasebrush.core.tf import transforms as T

    spec = T.TransformSpec()
    y = _signal(10)
    scales = T._selected_scales(spec, len(y), 1 / FS)
    wav = T._wavelet(T._wavelet_key(spec))
    t0 = time.perf_counter()
    Wx, _ = ssqueezepy.cwt(y, wav, scales=scales, padtype="reflect")
    wall = time.perf_counter() - t0
    Wx = np.asarray(Wx)
    rss = _rss_mb()         # before the comparison loads the engine's file
    z = np.load(eng)
    rows, hops = z["rows"], z["hops"]
    n_wav = len(scales)
    worst = 0.0
    for i, r in enumerate(rows):
        if not 1 <= r <= n_wav:
            continue                                  # edge rows: not in ssqueezepy
        ref = Wx[n_wav - r]
        c = z[f"arr_{i}"]
        worst = max(worst, float(np.abs(c - ref[::hops[i]]).max() / np.abs(ref).max()))
    print(json.dumps({"wall": wall, "rows": int(Wx.shape[0]), "dtype": str(Wx.dtype),
                      "agreement": worst, "rss": rss}))


def _child_detail() -> None:
    import ssqueezepy  # noqa: F401

    from phasebrush.core.engine.display import display_source
    from phasebrush.core.tf import transforms as T

    y = _signal(600)
    c0 = int(300 * FS)
    c1 = c0 + int(10 * FS)
    t0 = time.perf_counter()
    src = display_source(y, T.TransformSpec(fmin=20.0), dx=1 / FS)
    t1 = time.perf_counter()
    im = src.image(c0, c1, width=1600)
    t2 = time.perf_counter()
    src.image(c0 + int(2 * FS), c1 + int(2 * FS), width=1600)
    t3 = time.perf_counter()
    new = len(src.missing(c0 + int(6 * FS), c1 + int(6 * FS)))
    src.image(c0 + int(6 * FS), c1 + int(6 * FS), width=1600)
    t4 = time.perf_counter()
    print(json.dumps({"source": t1 - t0, "cold": t2 - t1, "near": t3 - t2, "new_tile": t4 - t3,
                      "new_tiles": new, "rows": int(im.shape[0]),
                      "finite": bool(np.isfinite(im).all()), "rss": _rss_mb()}))


def _child_overview() -> None:
    from phasebrush.core.engine import magnitude_image
    from phasebrush.core.tf import transforms as T

    y = _signal(600)
    t0 = time.perf_counter()
    im = magnitude_image(y, T.TransformSpec(), dx=1 / FS, width=1000, mode="peak")
    print(json.dumps({"wall": time.perf_counter() - t0, "shape": list(im.shape),
                      "finite": bool(np.isfinite(im).all()), "rss": _rss_mb()}))


OVERVIEW_LIMIT_S = 600


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # KiB on Linux


def _run(*args, timeout: float | None = None) -> tuple[dict, float]:
    p = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_engine_cwt", *args],
                       cwd=ROOT, capture_output=True, text=True, check=True, timeout=timeout)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return r, r["rss"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        eng_file = str(Path(tmp) / "engine.npz")
        e, e_rss = _run("engine", eng_file)
        print(f"10 s at 44.1 kHz, gmw nv 32 log, {e['rows']} rows")
        print(f"  engine cwt_multirate: {e['wall']:.2f} s, peak RSS {e_rss:.0f} MB, "
              f"{e['values'] / e['n']:.1f} values per sample (whole transform: {e['rows']})")
        p, p_rss = _run("peer", eng_file)
        print(f"  ssqueezepy.cwt:       {p['wall']:.2f} s, peak RSS {p_rss:.0f} MB "
              f"({p['rows']} rows, {p['dtype']})")
        print(f"  speed-up {p['wall'] / e['wall']:.1f}x, memory {p_rss / e_rss:.1f}x less, "
              f"agreement {p['agreement']:.2e} (max over rows of max|diff| / max|row|)")
    d, d_rss = _run("detail")
    print(f"10-s detail of a 10-min recording, fmin 20 Hz, 1600 px, {d['rows']} rows "
          f"(finite {d['finite']}):")
    print(f"  source {d['source']:.2f} s, cold image {d['cold']:.2f} s "
          f"(first view: {d['source'] + d['cold']:.2f} s), warm: +2 s {d['near']:.2f} s, "
          f"+6 s ({d['new_tiles']} new tile) {d['new_tile']:.2f} s; peak RSS {d_rss:.0f} MB")
    # the overview computes every tile (~0.3 s a tile of 2^18 columns), so it is bounded here
    try:
        o, o_rss = _run("overview", timeout=OVERVIEW_LIMIT_S)
    except subprocess.TimeoutExpired:
        print(f"10 min at 44.1 kHz, 1000-pixel peak overview: not done within "
              f"{OVERVIEW_LIMIT_S} s")
        return
    print(f"10 min at 44.1 kHz, 1000-pixel peak overview {o['shape']}: {o['wall']:.1f} s, "
          f"peak RSS {o_rss:.0f} MB, finite {o['finite']}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "engine":
        _child_engine(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "peer":
        _child_peer(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "detail":
        _child_detail()
    elif len(sys.argv) > 1 and sys.argv[1] == "overview":
        _child_overview()
    else:
        main()
