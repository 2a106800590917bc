"""``phasebrush batch JOB INPUT --out OUTDIR``: the subcommand, its options and progress bar.

Exit status: 0 when every item is done or skipped, 1 when any item failed (the
results manifest names each with its message), 2 for an error in the command
itself, 130 when interrupted (what was done stays done; rerun to go on).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

__all__ = ["add_parser", "cmd_batch", "FAILED_ITEMS"]

#: Exit status when the run finished but some items failed.
FAILED_ITEMS = 1

_TRANSFORM_DESTS = {
    "kind": "--kind", "wavelet": "--wavelet", "time_bandwidth": "--time-bandwidth",
    "nv": "--nv", "scales": "--scales", "fmin": "--fmin", "fmax": "--fmax",
    "window": "--window", "n_fft": "--n-fft", "win_len": "--win-len", "hop": "--hop",
    "channel": "--channel", "block": "--block", "dx": "--dx", "unit": "--unit",
}
#: Items per task of a batch retrieve on a GPU when --batch-items is not given.
GPU_BATCH_ITEMS = 8

_RETRIEVE_DESTS = {"method": "--method", "optimizer": "--optimizer", "iters": "--iters",
                   "tol": "--tol", "lr": "--lr", "init": "--init", "padding": "--padding",
                   "seed": "--seed", "device": "--device"}


def _size(value: str) -> tuple[int, int]:
    from phasebrush.cli.commands import _image_size

    return _image_size(value)


def add_parser(sub, common) -> argparse.ArgumentParser:
    from phasebrush.cli.batch.jobs import JOBS
    from phasebrush.cli.commands import _add_load_options, _add_transform_options
    from phasebrush.core.tf.transforms import KINDS

    p = sub.add_parser(
        "batch", parents=[common],
        help="run a job over a dataset (folder, glob or CSV manifest), on Dask",
        description="Run one job over every item of a dataset, spread over a Dask cluster. "
                    "Outputs go to OUTDIR/<item>.*; OUTDIR/results.csv and results.json list "
                    "every item (status, outputs, figures, seconds, message) and are rewritten "
                    "as items finish. A rerun skips complete items (--force redoes them).")
    p.add_argument("job", choices=JOBS, help="images: magnitude images for a classifier; "
                   "attribute: saliency heatmaps -> 1-D attributions; invert: one bands file "
                   "applied to every signal; retrieve: signals back from magnitudes")
    p.add_argument("input", help="a folder of signal files, a glob ('data/**/*.jdx', quoted) "
                                 "or a CSV manifest (columns signal and, as the job needs, "
                                 "heatmap, bands, magnitude, id)")
    p.add_argument("--out", type=Path, required=True, metavar="OUTDIR",
                   help="folder for the outputs (created if missing)")
    g = p.add_argument_group("execution")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local Dask worker processes (default: one per core); 1 runs here on "
                        "Dask's synchronous scheduler")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="submit to a running Dask scheduler (tcp://host:8786) instead")
    g.add_argument("--force", action="store_true", help="redo items whose outputs are complete")
    _add_load_options(p)
    _add_transform_options(p, kinds=KINDS, default_kind="cwt")
    g = p.add_argument_group("images")
    g.add_argument("--formats", default="npy",
                   help="comma-separated: npy (float32), png (8-bit grey) (default npy)")
    g.add_argument("--scale", choices=("linear", "db"), default="linear",
                   help="values: |C| (default, as abs(ssq_cwt(...)[0])) or 20 log10 |C|")
    g.add_argument("--size", type=_size, default=None, metavar="WxH",
                   help="resize each image to W x H pixels (area filter); default one pixel "
                        "per cell")
    g.add_argument("--row-order", choices=("high-first", "low-first"), default="high-first",
                   help="row 0 = the highest frequency (default, ssqueezepy's order) or the "
                        "lowest")
    g.add_argument("--db-range", type=float, default=120.0, metavar="DB",
                   help="dB images: floor this far below the peak (default 120)")
    g = p.add_argument_group("attribute")
    g.add_argument("--heatmaps", type=Path, default=None, metavar="DIR",
                   help="folder holding <signal stem>.npy/.png ... per item (or a manifest's "
                        "heatmap column)")
    g.add_argument("--threshold", type=float, default=0.5,
                   help="keep cells whose heatmap weight is at least this (default 0.5, the "
                        "GUI's default)")
    g.add_argument("--soft", action="store_true",
                   help="weight the coefficients by the heatmap instead of thresholding")
    g.add_argument("--origin", choices=("upper", "lower"), default="upper",
                   help="the heatmap's row 0: upper = highest frequency (images, default), "
                        "lower = lowest")
    g.add_argument("--heatmap-colormap", dest="heatmap_colormap", default=None,
                   help="image heatmaps drawn with a colormap: viridis, jet, inferno, gray "
                        "(default: luminance)")
    g = p.add_argument_group("invert")
    g.add_argument("--bands", type=Path, default=None,
                   help="bands / selection file applied to every item (or a manifest's bands "
                        "column)")
    g.add_argument("--format", default=None, choices=("wav", "flac", "csv", "npy"),
                   help="signal outputs (default: wav for audio inputs, csv otherwise; "
                        "retrieve from a magnitude NPZ: npy)")
    g.add_argument("--rate", type=float, default=None, metavar="HZ",
                   help="sample rate of audio outputs (a spectrum written as audio)")
    g = p.add_argument_group("retrieve")
    g.add_argument("--method", default=None, help="as `phasebrush retrieve --method`")
    g.add_argument("--optimizer", default=None)
    g.add_argument("--iters", type=int, default=None)
    g.add_argument("--tol", type=float, default=None)
    g.add_argument("--lr", type=float, default=None)
    g.add_argument("--init", default=None)
    g.add_argument("--padding", type=int, default=None)
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--device", default=None, help="auto, cpu, cuda, mps (default auto)")
    g.add_argument("--batch-items", dest="batch_items", type=int, default=None, metavar="K",
                   help="retrieve up to K items of one shape in one tensor per task (for a "
                        "GPU, which one item rarely fills; each item's result is the same "
                        "as alone; L-BFGS stages still run item by item). Default: "
                        f"{GPU_BATCH_ITEMS} when the retrieval runs on cuda or mps, else 1")
    p.set_defaults(func=cmd_batch)
    return p


def _given(args, dests: dict, defaults: dict) -> list[str]:
    """The options among ``dests`` that differ from their defaults, as CLI words."""
    argv = []
    for dest, flag in dests.items():
        value = getattr(args, dest)
        if value is None or value == defaults.get(dest):
            continue
        argv += [flag, str(value)]
    return argv


def _job(args):
    from phasebrush.cli.batch.jobs import Job
    from phasebrush.core.errors import ParameterError

    defaults = {"kind": "cwt", "wavelet": "gmw", "nv": 32, "scales": "log", "window": "hann",
                "n_fft": 256, "channel": "first"}
    argv = _given(args, _TRANSFORM_DESTS, defaults)
    if not args.edge_rows:
        argv.append("--no-edge-rows")
    options: dict = {}
    if args.job == "images":
        formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
        bad = [f for f in formats if f not in ("npy", "png")]
        if bad or not formats:
            raise ParameterError(f"--formats {args.formats}: give npy, png or npy,png")
        options = {"formats": sorted(set(formats), key=formats.index), "scale": args.scale,
                   "size": list(args.size) if args.size else None,
                   "row_order": args.row_order, "db_range": args.db_range}
    elif args.job == "attribute":
        if not 0 < args.threshold <= 1:
            raise ParameterError(f"--threshold {args.threshold:g} must lie in (0, 1]")
        options = {"threshold": args.threshold, "soft": args.soft, "origin": args.origin,
                   "colormap": args.heatmap_colormap,
                   "heatmaps": str(args.heatmaps.resolve()) if args.heatmaps else None}
    elif args.job == "invert":
        options = {"bands": str(args.bands.resolve()) if args.bands else None,
                   "format": args.format}
    elif args.job == "retrieve":
        options = {"format": args.format, "retrieve_argv": _given(args, _RETRIEVE_DESTS, {})}
    if args.rate is not None and args.job in ("invert", "retrieve"):
        argv += ["--rate", str(args.rate)]
    group = args.batch_items
    if group is not None and group < 1:
        raise ParameterError(f"--batch-items {group}: give 1 or more")
    if group is not None and group > 1 and args.job != "retrieve":
        raise ParameterError("--batch-items is for batch retrieve")
    if group is None:
        group = GPU_BATCH_ITEMS if args.job == "retrieve" and _on_gpu(args.device) else 1
    return Job(args.job, tuple(argv), options, group=group)


def _on_gpu(device) -> bool:
    """Whether a retrieval on ``device`` (the --device given, None = auto) runs on a GPU,
    as this machine sees it (a remote cluster's workers may differ: give --batch-items)."""
    name = str(device or "auto").lower()
    if name.startswith(("cuda", "mps")):
        return True
    if name != "auto":
        return False
    from phasebrush.core.retrieval.device import resolve_device

    return resolve_device("auto").type in ("cuda", "mps")


def _check_options(job, items) -> None:
    """Parse the first item's single-item command line now, so a bad option fails once,
    before the run, with argparse's own message (not once per item)."""
    import contextlib
    import io

    from phasebrush.cli.batch.jobs import _single_item_args, outputs_for
    from phasebrush.core.errors import ParameterError

    command = {"images": "transform", "attribute": "transform"}.get(job.name, job.name)
    it = items[0]
    extra = job.options.get("retrieve_argv", []) if job.name == "retrieve" else []
    positional = [it.signal, outputs_for(job, it, Path("."))[0]]
    if job.name == "invert":
        positional = [it.signal]
        extra = ["--bands", "b.json", "--out", "o.wav"]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            _single_item_args(command, positional, job, extra)
    except SystemExit:
        last = err.getvalue().strip().splitlines()[-1:] or ["bad option"]
        raise ParameterError(last[0].replace("phasebrush " + command, "phasebrush batch")) \
            from None
    if job.name == "invert" and not job.options.get("bands") and \
            not any("bands" in i.extra for i in items):
        raise ParameterError("batch invert needs --bands FILE (or a manifest with a 'bands' "
                             "column)")
    if job.name == "attribute" and not job.options.get("heatmaps") and \
            not any("heatmap" in i.extra for i in items):
        raise ParameterError("batch attribute needs --heatmaps DIR (or a manifest with a "
                             "'heatmap' column)")


class _Progress:
    """items done / failed / skipped and the rate, through tqdm (stderr)."""

    def __init__(self, total: int):
        from phasebrush.cli.commands import _tqdm

        self.bar = _tqdm(total=total, desc="batch", unit="item")

    def __call__(self, record, summary):
        self.bar.set_postfix(done=summary.done, failed=summary.failed,
                             skipped=summary.skipped, refresh=False)
        self.bar.update(1)

    def close(self):
        self.bar.close()


def cmd_batch(args) -> int:
    from phasebrush.cli.batch.items import collect_items
    from phasebrush.cli.batch.runner import MANIFEST_CSV, run_batch
    from phasebrush.cli.commands import INTERRUPTED
    from phasebrush.core.errors import ParameterError

    if args.workers is not None and args.workers < 1:
        raise ParameterError(f"--workers {args.workers}: need at least 1")
    job = _job(args)
    items = collect_items(args.input)
    _check_options(job, items)
    out = args.out
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out}: exists and is not a folder")
    progress = None if args.quiet else _Progress(len(items))
    stop = threading.Event()
    try:
        summary = run_batch(job, items, out, workers=args.workers, scheduler=args.scheduler,
                            force=args.force, on_record=progress, cancel=stop.is_set)
    finally:
        if progress is not None:
            progress.close()
    if not args.quiet:
        print(f"{out / MANIFEST_CSV}: {summary.done} done, {summary.skipped} skipped, "
              f"{summary.failed} failed of {len(items)} in {summary.seconds:.1f} s",
              file=sys.stderr)
        for r in summary.records:
            if r["status"] == "failed":
                print(f"phasebrush: {r['message']}", file=sys.stderr)
    if summary.interrupted:
        print("phasebrush: interrupted; finished items are kept (rerun to go on)",
              file=sys.stderr)
        return INTERRUPTED
    return 0 if summary.ok else FAILED_ITEMS
