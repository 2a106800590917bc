"""Phase retrieval benchmark: core.retrieval.retrieve against librosa's Griffin-Lim.

Prints one table (case, method, iterations, evaluations, wall s,
inconsistency, SC dB, rel-L2). Multi-seed rows give medians. librosa (a
benchmark-only extra) runs in the same process on the same magnitude:
``librosa.stft(..., pad_mode='reflect')`` frames are ours plus one trailing
frame (ssqueezepy makes ``(N - 1) // hop + 1`` frames, librosa ``N // hop + 1``);
the modulated and plain STFTs differ only in phase. Every estimate, ours or
librosa's, is scored with core's transform.

Cases (../shared/data/README.md):
  chirp-stft   exponential chirp, periodic Hann 128, hop 32, 600 iterations, 5 seeds
  chirp-cwt    same chirp, GMW scalogram with edge rows, nv 32, 255 iterations,
               at time-bandwidth 60 (the reference's MATLAB Morse default) and
               180 (ssqueezepy's); pghi init is deterministic but for the phase
               of coefficients below 1e-5 of the peak, which the seed draws
  speech-stft  arctic_a0007 at 8 kHz, Hamming 256, hop 64, 300 iterations
  speech-cwt   its first half second, GMW scalogram nv=8, time-bandwidth 60
               and 180, 300 iterations
  speech-cwt32 the whole sentence, GMW scalogram nv=32 (394 x 32000, 12.6 M
               coefficients over a 65536-sample padded domain), every method,
               300 iterations in float32: ~2.5 s per iteration on one core,
               about 90 minutes for the case (not in the default set)
  speech-cwt32-p60  the same at time-bandwidth 60: the default, lbfgs, dm+lbfgs

Run: ``python -m tests.benchmarks.bench_retrieval [--quick] [--cases a,b]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "chirp", "speech"]

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
CHIRP_STFT = dict(kind="stft", window="hann", n_fft=128, hop=32)
SPEECH_STFT = dict(kind="stft", window="hamming", n_fft=256, hop=64)
SEEDS = (0, 1000, 2000, 3000, 4000)  # spaced: n_starts uses seed, seed + 1, ...


def chirp() -> tuple[np.ndarray, float]:
    """The seed's exponential chirp (N = 2048, fs = 2048 Hz) plus 1."""
    from scipy.signal import chirp as sp_chirp

    fs = 2048.0
    t = np.arange(2048) / fs
    return sp_chirp(t, f0=1, t1=t[-1], f1=1024, method="logarithmic") + 1, fs


def speech(seconds: float | None = None) -> tuple[np.ndarray, float]:
    """arctic_a0007 resampled to 8 kHz (float64), optionally its first seconds."""
    import soundfile as sf
    from scipy.signal import resample_poly

    y, sr = sf.read(SHARED / "arctic_a0007.wav", dtype="float64")
    if y.ndim > 1:
        y = y.mean(axis=1)
    x = resample_poly(y, 8000, int(sr))
    if seconds is not None:
        x = x[: int(seconds * 8000)]
    return x, 8000.0


def _spec(**kw):
    from phasebrush.core.tf.transforms import TransformSpec

    return TransformSpec(**kw)


def _magnitude(x, fs, spec):
    from phasebrush.core.signal import Signal
    from phasebrush.core.tf.transforms import transform

    return np.abs(transform(Signal(y=x, dx=1 / fs), spec).coefficients)


class Table:
    def __init__(self):
        self.rows = []

    def add(self, case, method, its, evals, wall, inc, rel):
        sc = 20 * np.log10(inc) if inc > 0 else -np.inf
        self.rows.append((case, method, its, evals, wall, inc, sc, rel))
        print(f"  {case:<15} {method:<44} {its:>6} {evals:>7} {wall:>8.2f} {inc:>10.3e} "
              f"{sc:>8.2f} {rel:>8.4f}", flush=True)

    def header(self):
        print(f"  {'case':<15} {'method':<44} {'iters':>6} {'evals':>7} {'wall s':>8} "
              f"{'inconsist':>10} {'SC dB':>8} {'rel-L2':>8}")


def _ours(table, case, x, fs, S, spec, label, seeds=(0,), **kw):
    from phasebrush.core.retrieval.metrics import rel_l2
    from phasebrush.core.retrieval.retrieve import retrieve

    res = []
    for s in seeds:
        r = retrieve(S, spec, n_samples=len(x), seed=s, device="cpu", dx=1 / fs, **kw)
        res.append((r.n_iter, r.n_eval, r.wall_s, r.inconsistency, rel_l2(x, r.y), r))
    med = [float(np.median([v[i] for v in res])) for i in range(5)]
    suffix = f" (median of {len(seeds)})" if len(seeds) > 1 else ""
    table.add(case, label + suffix, int(med[0]), int(med[1]), med[2], med[3], med[4])
    return res


def _librosa(table, case, x, fs, S_ours, spec, n_iter, momentum, init, seeds, label):
    import librosa

    from phasebrush.core.retrieval.metrics import inconsistency, rel_l2

    win = spec.window
    n_fft, hop = spec.n_fft, spec.hop
    S_lib = np.abs(librosa.stft(x, n_fft=n_fft, hop_length=hop, window=win, center=True,
                                pad_mode="reflect"))
    res = []
    for s in seeds:
        t0 = time.perf_counter()
        y = librosa.griffinlim(S_lib, n_iter=n_iter, hop_length=hop, window=win, n_fft=n_fft,
                               center=True, length=len(x), momentum=momentum, init=init,
                               random_state=s)
        wall = time.perf_counter() - t0
        inc = inconsistency(S_ours, _magnitude(y, fs, spec))
        res.append((n_iter, n_iter, wall, inc, rel_l2(x, y)))
    med = [float(np.median([v[i] for v in res])) for i in range(5)]
    suffix = f" (median of {len(seeds)})" if len(seeds) > 1 else ""
    table.add(case, label + suffix, int(med[0]), int(med[1]), med[2], med[3], med[4])
    return res


def _warm_up():
    """First FFT plans and thread pools cost ~1 s; keep them out of the timings."""
    import librosa

    from phasebrush.core.retrieval.retrieve import retrieve

    x, fs = chirp()
    spec = _spec(**CHIRP_STFT)
    S = _magnitude(x, fs, spec)
    for m in ("raar+fgla", "gd"):
        retrieve(S, spec, n_samples=len(x), method=m, n_iter=20, device="cpu")
    S_lib = np.abs(librosa.stft(x, n_fft=128, hop_length=32, window="hann"))
    librosa.griffinlim(S_lib, n_iter=5, hop_length=32, window="hann", n_fft=128)


def case_chirp_stft(table, quick):
    x, fs = chirp()
    spec = _spec(**CHIRP_STFT)
    S = _magnitude(x, fs, spec)
    case, n = "chirp-stft", 600
    seeds = SEEDS[:2] if quick else SEEDS
    _ours(table, case, x, fs, S, spec, "gd sgdm, noise init", seeds, method="gd",
          init="noise", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd lbfgs, noise init", seeds, method="gd",
          optimizer="lbfgs", init="noise", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gla, noise init", seeds, method="gla", init="noise",
          n_iter=n)
    _ours(table, case, x, fs, S, spec, "fgla, noise init", seeds, method="fgla",
          init="noise", n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar+fgla, noise init", seeds, method="raar+fgla",
          init="noise", n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar+fgla, zero phase", (0,), method="raar+fgla",
          init="zeros", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd sgdm, pghi init", seeds, method="gd", init="pghi",
          n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd sgdm mu .995, pghi init", seeds, method="gd",
          momentum=0.995, init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd lbfgs, pghi init", seeds, method="gd",
          optimizer="lbfgs", init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "fgla, pghi init", seeds, method="fgla", init="pghi",
          n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar+fgla, pghi init", seeds, method="raar+fgla",
          init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "lbfgs-raar, pghi init", seeds, method="lbfgs-raar",
          init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "lbfgs-raar, noise init", seeds, method="lbfgs-raar",
          init="noise", n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar+lbfgs-raar, noise init", seeds,
          method="raar+lbfgs-raar", init="noise", n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar+gd lbfgs, noise, 8 starts", seeds,
          method="raar+gd", optimizer="lbfgs", init="noise", n_starts=8, n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar+gd lbfgs, random phase, 8 starts", seeds,
          method="raar+gd", optimizer="lbfgs", init="random", n_starts=8, n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar+fgla, random phase, 8 starts", seeds,
          method="raar+fgla", init="random", n_starts=8, n_iter=n)
    _librosa(table, case, x, fs, S, spec, n, 0.0, "random", seeds, "librosa GLA random")
    _librosa(table, case, x, fs, S, spec, n, 0.99, "random", seeds, "librosa FGLA random")
    _librosa(table, case, x, fs, S, spec, n, 0.99, None, (0,), "librosa FGLA zero phase")


def case_chirp_cwt(table, quick):
    """The seed's scalogram: GMW (Morse, gamma 3) with edge rows, nv 32, at the
    reference's time-bandwidth 60 (MATLAB's Morse default) and at ssqueezepy's 180."""
    x, fs = chirp()
    n = 255
    seeds = SEEDS[:1] if quick else SEEDS
    spec = _spec(kind="cwt", time_bandwidth=60.0)
    S = _magnitude(x, fs, spec)
    case = "chirp-cwt P60"
    _ours(table, case, x, fs, S, spec, "auto (lbfgs-raar), pghi init", seeds, method="auto",
          init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "lbfgs, pghi init", seeds, method="lbfgs",
          init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar:0.8+lbfgs, pghi init", seeds,
          method="raar:0.8+lbfgs", init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "dm:0.5+lbfgs, pghi init", seeds[:3],
          method="dm:0.5+lbfgs", init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "fgla, pghi init", seeds[:1], method="fgla",
          init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd lbfgs, noise init", seeds, method="gd",
          optimizer="lbfgs", init="noise", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd lbfgs, zero phase", (0,), method="gd",
          optimizer="lbfgs", n_iter=n)
    spec = _spec(kind="cwt")
    S = _magnitude(x, fs, spec)
    case = "chirp-cwt P180"
    _ours(table, case, x, fs, S, spec, "auto (raar+lbfgs), pghi init", seeds, method="auto",
          init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd lbfgs, pghi init", seeds[:1], method="gd",
          optimizer="lbfgs", init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar:0.8+fgla, pghi init", seeds[:1],
          method="raar:0.8+fgla", init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd lbfgs, noise init", seeds[:1], method="gd",
          optimizer="lbfgs", init="noise", n_iter=n)


def case_speech_stft(table, quick):
    x, fs = speech()
    spec = _spec(**SPEECH_STFT)
    S = _magnitude(x, fs, spec)
    case, n = "speech-stft", 300
    seeds = SEEDS[:2] if quick else SEEDS
    d = _ours(table, case, x, fs, S, spec, "auto (raar+fgla, zero phase)", (0,), n_iter=n)
    default = d[0][5]
    _ours(table, case, x, fs, S, spec, "raar+fgla, random phase", seeds, method="raar+fgla",
          init="random", n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar+fgla, pghi init", (0,), method="raar+fgla",
          init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar+gd sgdm lr 1.3, pghi init", (0,),
          method="raar+gd", lr=1.3, init="pghi", n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar+gd sgdm lr 1.3, zero phase", (0,),
          method="raar+gd", lr=1.3, n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd sgdm, zero phase", (0,), method="gd", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd sgdm lr 1.3, zero phase", (0,), method="gd", lr=1.3,
          n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd sgdm, random phase", seeds, method="gd",
          init="random", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd sgdm, fgla warm start", (0,), method="gd",
          init="fgla", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd lbfgs, zero phase", (0,), method="gd",
          optimizer="lbfgs", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gd adam, zero phase", (0,), method="gd",
          optimizer="adam", n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar+gd lbfgs, zero phase", (0,), method="raar+gd",
          optimizer="lbfgs", n_iter=n)
    _ours(table, case, x, fs, S, spec, "dm+fgla, zero phase", (0,), method="dm+fgla",
          n_iter=n)
    _ours(table, case, x, fs, S, spec, "raar, zero phase", (0,), method="raar", n_iter=n)
    _ours(table, case, x, fs, S, spec, "fgla, zero phase", (0,), method="fgla", n_iter=n)
    _ours(table, case, x, fs, S, spec, "fgla, random phase", seeds, method="fgla",
          init="random", n_iter=n)
    _ours(table, case, x, fs, S, spec, "gla, zero phase", (0,), method="gla", n_iter=n)
    lib = _librosa(table, case, x, fs, S, spec, n, 0.99, "random", seeds,
                   "librosa FGLA random")
    _librosa(table, case, x, fs, S, spec, n, 0.99, None, (0,), "librosa FGLA zero phase")
    # equal wall time: librosa gets as many iterations as fit in our default's time
    n_eq = max(1, int(round(default.wall_s / (float(np.median([v[2] for v in lib])) / n))))
    _librosa(table, case, x, fs, S, spec, n_eq, 0.99, "random", seeds,
             f"librosa FGLA random, equal wall ({n_eq} it)")
    return _per_iteration(x, S, spec)


def _per_iteration(x, S, spec, n=300, repeats=3):
    """Per-iteration wall time, ours and librosa's interleaved, min over repeats
    (other processes on the machine only ever add time)."""
    import librosa

    from phasebrush.core.retrieval.retrieve import retrieve

    S_lib = np.abs(librosa.stft(x, n_fft=spec.n_fft, hop_length=spec.hop, window=spec.window,
                                pad_mode="reflect"))
    best = dict(lib_it=np.inf, default_it=np.inf, gd_it=np.inf)
    for _ in range(repeats):
        t0 = time.perf_counter()
        librosa.griffinlim(S_lib, n_iter=n, hop_length=spec.hop, window=spec.window,
                           n_fft=spec.n_fft, length=len(x), momentum=0.99, random_state=0)
        best["lib_it"] = min(best["lib_it"], (time.perf_counter() - t0) / n)
        for key, method in (("default_it", "auto"), ("gd_it", "gd")):
            r = retrieve(S, spec, n_samples=len(x), method=method, n_iter=n, device="cpu")
            best[key] = min(best[key], r.wall_s / r.n_iter)
    return best


def case_speech_cwt(table, quick):
    x, fs = speech(0.5)
    n = 100 if quick else 300
    for tb, case in ((60.0, "speech.5s P60"), (None, "speech.5s P180")):
        spec = _spec(kind="cwt", nv=8, time_bandwidth=tb)
        S = _magnitude(x, fs, spec)
        for label, kw in [
            ("auto, pghi init", dict(init="pghi")),
            ("auto, zero phase", {}),
            ("auto, random phase", dict(init="random")),
            ("dm:0.3+lbfgs, pghi init", dict(method="dm:0.3+lbfgs", init="pghi")),
            ("dm+fgla, pghi init", dict(method="dm+fgla", init="pghi")),
            ("raar, pghi init", dict(method="raar", init="pghi")),
            ("fgla, pghi init", dict(method="fgla", init="pghi")),
            ("gla, pghi init", dict(method="gla", init="pghi")),
            ("gd sgdm, pghi init", dict(method="gd", init="pghi")),
            ("gd lbfgs, pghi init", dict(method="gd", optimizer="lbfgs", init="pghi")),
            ("fgla, zero phase", dict(method="fgla")),
            ("gd sgdm, zero phase", dict(method="gd")),
        ]:
            _ours(table, case, x, fs, S, spec, label, (0,), n_iter=n, **kw)


def case_speech_cwt32(table, quick):
    x, fs = speech()
    spec = _spec(kind="cwt", nv=32)
    S = _magnitude(x, fs, spec)
    case, n = "speech-cwt32", 30 if quick else 300
    for label, kw in [
        ("auto (raar+lbfgs), pghi init", dict(init="pghi")),
        ("gla, pghi init", dict(method="gla", init="pghi")),
        ("fgla, pghi init", dict(method="fgla", init="pghi")),
        ("raar, pghi init", dict(method="raar", init="pghi")),
        ("dm+fgla, pghi init", dict(method="dm+fgla", init="pghi")),
        ("gd sgdm, pghi init", dict(method="gd", init="pghi")),
        ("gd lbfgs, pghi init", dict(method="gd", optimizer="lbfgs", init="pghi")),
    ]:
        _ours(table, case, x, fs, S, spec, label + ", float32", (0,), n_iter=n,
              dtype="float32", **kw)


def case_speech_cwt32_p60(table, quick):
    x, fs = speech()
    spec = _spec(kind="cwt", nv=32, time_bandwidth=60.0)
    S = _magnitude(x, fs, spec)
    case, n = "speech-cwt32 P60", 30 if quick else 300
    for label, kw in [
        ("auto (lbfgs-raar), pghi init", dict(init="pghi")),
        ("lbfgs, pghi init", dict(method="lbfgs", init="pghi")),
        ("dm:0.3+lbfgs, pghi init", dict(method="dm:0.3+lbfgs", init="pghi")),
    ]:
        _ours(table, case, x, fs, S, spec, label + ", float32", (0,), n_iter=n,
              dtype="float32", **kw)


CASES = {
    "chirp-stft": case_chirp_stft,
    "speech-stft": case_speech_stft,
    "chirp-cwt": case_chirp_cwt,
    "speech-cwt": case_speech_cwt,
    "speech-cwt32": case_speech_cwt32,
    "speech-cwt32-p60": case_speech_cwt32_p60,
}
DEFAULT_CASES = ("chirp-stft", "speech-stft", "chirp-cwt", "speech-cwt")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench_retrieval", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds and iterations")
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES),
                        help=f"comma-separated subset of {','.join(CASES)} "
                             f"(default {','.join(DEFAULT_CASES)})")
    args = parser.parse_args([] if argv is None else argv)
    try:
        import librosa  # noqa: F401
    except ImportError:
        print("bench_retrieval: librosa is not installed (pip install '.[bench]'); skipped")
        return 0
    if not (SHARED / "arctic_a0007.wav").exists():
        print(f"bench_retrieval: {SHARED} not found; skipped")
        return 0
    import torch

    # librosa's FFTs run on one thread; one torch thread also keeps OpenMP from
    # spin-waiting when other processes share the cores (2 threads on a loaded
    # 2-core machine measured 10-40x slower, 1 thread stable)
    torch.set_num_threads(1)
    print(f"bench_retrieval: torch {torch.__version__}, {torch.get_num_threads()} thread, cpu")
    _warm_up()
    table = Table()
    table.header()
    ratios = None
    for name in args.cases.split(","):
        out = CASES[name.strip()](table, args.quick)
        if name.strip() == "speech-stft":
            ratios = out
    if ratios:
        print(f"  per-iteration wall time on speech-stft: librosa FGLA "
              f"{ratios['lib_it'] * 1e3:.2f} ms; default {ratios['default_it'] * 1e3:.2f} ms "
              f"({ratios['default_it'] / ratios['lib_it']:.2f}x); gd "
              f"{ratios['gd_it'] * 1e3:.2f} ms ({ratios['gd_it'] / ratios['lib_it']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
