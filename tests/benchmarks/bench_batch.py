"""phasebrush batch images over N synthetic spectra of 4096 points: items per second with
1 worker (Dask's synchronous scheduler, in process) and with a LocalCluster of 2 worker
processes (the scaling ratio), against one ``phasebrush transform`` process per file.

    .venv/bin/python -m tests.benchmarks.bench_batch [--items 1000] [--kind ssq_cwt --nv 64]

Wall times include everything a user waits for: the cluster's start, the workers'
imports, every item's load, transform and atomic writes, and the results manifest.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]


def _dataset(folder: Path, n_items: int, n_points: int) -> None:
    from phasebrush.core.io.signals import save_signal
    from phasebrush.core.signal import Signal

    rng = np.random.default_rng(0)
    x = 400.0 + np.arange(n_points) * (3600.0 / n_points)
    for i in range(n_items):
        centres = rng.uniform(600, 3800, 6)
        widths = rng.uniform(5, 60, 6)
        y = sum(h * np.exp(-0.5 * ((x - c) / w) ** 2)
                for c, w, h in zip(centres, widths, rng.uniform(0.2, 1, 6), strict=True))
        y = y + 0.01 * rng.standard_normal(n_points)
        save_signal(Signal(y, dx=float(x[1] - x[0]), x0=400.0, unit="cm^-1"),
                    folder / f"s{i:05d}.csv")


def _batch(data: Path, out: Path, workers: int, transform_args: list[str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "phasebrush.cli", "batch", "images", str(data),
                        "--out", str(out), "--workers", str(workers), "-q", *transform_args],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"batch failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return wall


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="bench_batch")
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--points", type=int, default=4096)
    ap.add_argument("--kind", default="ssq_cwt")
    ap.add_argument("--nv", default="64")
    ap.add_argument("--cli-files", type=int, default=5,
                    help="files run as one CLI process each, for the per-item comparison")
    a = ap.parse_args(argv)
    targs = ["--kind", a.kind, "--nv", a.nv]
    with tempfile.TemporaryDirectory(prefix="phasebrush-batch-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        _dataset(data, a.items, a.points)
        print(f"bench_batch: images ({a.kind}, nv {a.nv}) of {a.items} spectra x {a.points} "
              "points, NPY float32 + sidecar JSON per item")
        rates = {}
        for workers in (1, 2):
            wall = _batch(data, Path(tmp) / f"out{workers}", workers, targs)
            rates[workers] = a.items / wall
            print(f"  {workers} worker(s): {wall:8.1f} s  {rates[workers]:7.2f} items/s  "
                  f"{1000 * wall / a.items:7.1f} ms/item")
        print(f"  scaling 2 vs 1 worker: {rates[2] / rates[1]:.2f}x")
        files = sorted(data.iterdir())[:a.cli_files]
        t0 = time.perf_counter()
        for f in files:
            subprocess.run([sys.executable, "-m", "phasebrush.cli", "transform", str(f),
                            str(Path(tmp) / f"{f.stem}.npz"), "-q", *targs], check=True)
        per = (time.perf_counter() - t0) / len(files)
        print(f"  one 'phasebrush transform' process per file: {per:.2f} s/item "
              f"({len(files)} files) vs batch {1 / rates[1]:.3f} s/item (1 worker), "
              f"{1 / rates[2]:.3f} s/item (2 workers)")
        rerun = _batch(data, Path(tmp) / "out2", 2, targs)
        print(f"  rerun (every item complete, all skipped): {rerun:.1f} s")


if __name__ == "__main__":
    main()
