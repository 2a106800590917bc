"""Batched retrieval: K items of one shape in one tensor against K retrievals one by one.

Eight 1-s speech-like signals at 16 kHz (harmonics of a gliding voice with a
syllable envelope, noise), STFT (Hann 512, hop 128), the STFT default method
(raar then fgla), 100 iterations, on each device torch offers here (cpu, and
cuda or mps when present): seconds per item both ways, the ratio, and the
largest difference between an item's batched and lone result (relative to its
peak; it should be rounding).

    OMP_NUM_THREADS=1 .venv/bin/python -m tests.benchmarks.bench_batched_retrieval
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["main"]

FS, N, K, ITERS = 16000, 16000, 8, 100


def _signals():
    t = np.arange(N) / FS
    rng = np.random.default_rng(1)
    out = []
    for i in range(K):
        f0 = 120 + 15 * i + 20 * np.sin(2 * np.pi * (0.5 + 0.1 * i) * t)
        phase = 2 * np.pi * np.cumsum(f0) / FS
        env = np.clip(np.sin(2 * np.pi * (2 + 0.3 * i) * t), 0, None) ** 2
        y = sum(np.sin(k * phase) / k for k in range(1, 10)) * env
        out.append(0.3 * y + 0.01 * rng.standard_normal(N))
    return out


def _devices():
    import torch

    devs = ["cpu"]
    if torch.cuda.is_available():
        devs.append("cuda")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devs.append("mps")
    return devs


def main() -> None:
    from phasebrush.core.retrieval.batched import retrieve_batch
    from phasebrush.core.retrieval.retrieve import retrieve
    from phasebrush.core.signal import Signal
    from phasebrush.core.tf.transforms import TransformSpec, transform

    spec = TransformSpec(kind="stft", window="hann", n_fft=512, hop=128)
    items = [np.abs(transform(Signal(y, dx=1 / FS), spec).coefficients) for y in _signals()]
    print(f"bench_batched_retrieval: {K} items, STFT {items[0].shape[0]} x {items[0].shape[1]}, "
          f"default method, {ITERS} iterations")
    for dev in _devices():
        kw = dict(n_samples=N, n_iter=ITERS, device=dev, dx=1 / FS)
        retrieve(items[0], spec, **{**kw, "n_iter": 2})            # warm-up (device, FFT plans)
        t0 = time.perf_counter()
        alone = [retrieve(S, spec, **kw) for S in items]
        t_alone = (time.perf_counter() - t0) / K
        t0 = time.perf_counter()
        batch = retrieve_batch(items, spec, **kw)
        t_batch = (time.perf_counter() - t0) / K
        diff = max(float(np.abs(b.best_y - a.best_y).max() / np.abs(a.best_y).max())
                   for a, b in zip(alone, batch, strict=True))
        print(f"  {dev}: one by one {t_alone:.3f} s/item, batched {t_batch:.3f} s/item "
              f"({t_alone / t_batch:.2f}x); largest difference {diff:.1e} of an item's peak")


if __name__ == "__main__":
    main()
