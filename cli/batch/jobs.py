"""One item's work for each batch job, as a worker runs it.

:func:`run_item` loads the item's files itself (only paths travel), writes its
outputs atomically, writes the item's record file last and returns the record:
a small dict (item, status, outputs, figures, seconds, message). It never
raises: a bad file becomes a record with status "failed" naming the file and
the problem, so one corrupt item cannot stop a run.

The jobs reuse the single-item paths, so a batch output equals what one CLI
call (or the GUI) gives for the same item:

- ``images``: the signal loaded and transformed as ``phasebrush transform``
  does, then :func:`core.analysis.classifier_image.classifier_image`;
- ``attribute``: :func:`core.analysis.attribution.attribute`, the computation of
  the GUI's heatmap dialog;
- ``invert`` and ``retrieve``: ``phasebrush invert`` / ``phasebrush retrieve``
  themselves (their command functions), with the run's options.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["JOBS", "Job", "run_item", "run_group", "outputs_for", "record_path",
           "is_complete"]

JOBS = ("images", "attribute", "invert", "retrieve")
_AUDIO = (".wav", ".wave", ".flac", ".ogg", ".oga", ".aif", ".aiff")


@dataclass(frozen=True)
class Job:
    """What to do to every item.

    Attributes
    ----------
    name : {"images", "attribute", "invert", "retrieve"}
    argv : tuple of str
        Load and transform options in the single-item CLI's own words
        (``("--kind", "ssq_cwt", "--nv", "64")``), applied to every item.
    options : dict
        The job's own options (JSON values): images ``formats``, ``scale``,
        ``size``, ``row_order``, ``db_range``; attribute ``threshold``, ``soft``,
        ``origin``, ``colormap``, ``heatmaps`` (a folder); invert ``bands``,
        ``format``; retrieve ``format`` and ``retrieve_argv`` (method options).
    budget : int or None
        Memory budget of one worker in bytes (core.memory.set_budget); None
        keeps the worker's default.
    threads : int or None
        Threads one worker's FFTs and numba kernels may use (its share of the
        machine's cores); None keeps the worker's default (all cores).
    group : int
        retrieve: items per task, retrieved in one tensor (:func:`run_group`).
    """

    name: str
    argv: tuple = ()
    options: dict = field(default_factory=dict)
    budget: int | None = None
    threads: int | None = None
    group: int = 1

    def fingerprint(self) -> str:
        """Changes whenever the outputs would (budget, threads and grouping do not count:
        a batched item's outputs are the ones it gets alone)."""
        d = asdict(self)
        d.pop("budget")
        d.pop("threads")
        d.pop("group")
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def record_path(outdir: Path, item) -> Path:
    return Path(outdir) / f"{item.id}.record.json"


def _signal_suffix(job: Job, item) -> str:
    fmt = job.options.get("format")
    if fmt:
        return "." + fmt.lstrip(".")
    return ".wav" if item.signal.suffix.lower() in _AUDIO else ".csv"


def outputs_for(job: Job, item, outdir) -> list[Path]:
    """Every file the item's work writes, its record file not included."""
    base = Path(outdir) / item.id
    if job.name == "images":
        return ([Path(f"{base}.{f}") for f in job.options.get("formats", ("npy",))]
                + [Path(f"{base}.json")])
    if job.name == "attribute":
        return [Path(f"{base}.inverse.npy"), Path(f"{base}.attribution.npy"),
                Path(f"{base}.attribution.csv"), Path(f"{base}.json")]
    if job.name == "invert":
        ext = _signal_suffix(job, item)
        return [Path(f"{base}.band{ext}"), Path(f"{base}.residual{ext}")]
    if job.name == "retrieve":
        fmt = job.options.get("format")
        if fmt:
            ext = "." + fmt.lstrip(".")
        elif item.signal.suffix.lower() == ".npz":
            ext = ".npy"
        else:
            ext = _signal_suffix(job, item)
        return [Path(f"{base}.retrieved{ext}"), Path(f"{base}.report.json")]
    raise ValueError(f"unknown job {job.name!r}")


def is_complete(job: Job, item, outdir) -> bool:
    """Whether the item's record says it finished under this job's options and every
    output it names is there (outputs are written atomically, the record last)."""
    path = record_path(outdir, item)
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (rec.get("status") == "done" and rec.get("fingerprint") == job.fingerprint()
            and rec.get("input") == str(item.signal)
            and all(Path(p).is_file() for p in rec.get("outputs", ())))


# --- the jobs ----------------------------------------------------------------------------


def _single_item_args(command: str, positional: list, job: Job, extra=()):
    """The single-item CLI's parsed arguments for this item (its defaults, its checks)."""
    from phasebrush.cli.commands import single_item_parser

    return single_item_parser().parse_args([command, *map(str, positional), "-q", *job.argv,
                                      *extra])


def _loaded(job: Job, item, out: Path):
    """(signal, spec) as ``phasebrush transform ITEM OUT`` loads and builds them."""
    from phasebrush.cli.commands import _load, _spec_from_args

    args = _single_item_args("transform", [item.signal, out], job)
    return _load(args), _spec_from_args(args, default_hop=1)


def _images(job: Job, item, outdir: Path) -> dict:
    import numpy as np
    from PIL import Image

    from phasebrush.core.analysis.classifier_image import classifier_image
    from phasebrush.core.io.atomic import atomic_write, atomic_write_text
    from phasebrush.core.tf.transforms import transform

    o = job.options
    outs = outputs_for(job, item, outdir)
    signal, spec = _loaded(job, item, outs[0])
    tfr = transform(signal, spec)
    size = tuple(o["size"]) if o.get("size") else None
    img = classifier_image(tfr, scale=o.get("scale", "linear"), size=size,
                           row_order=o.get("row_order", "high-first"),
                           db_range=float(o.get("db_range", 120.0)))
    files = {}
    for path in outs[:-1]:
        if path.suffix == ".npy":
            atomic_write(path, lambda fh: np.save(fh, img.values), binary=True)
        else:
            v = img.values
            lo = img.db_floor if img.scale == "db" else 0.0
            hi = float(v.max()) if v.size else 1.0
            level = np.clip((v - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(v)
            pixels = np.round(255.0 * level).astype(np.uint8)

            def write_png(fh, pixels=pixels):
                Image.fromarray(pixels, mode="L").save(fh, format="PNG")

            atomic_write(path, write_png, binary=True)
        files[path.suffix.lstrip(".")] = path.name
    widths = None
    if spec.is_cwt:
        from phasebrush.core.tf.feature_width import width_axis

        w = width_axis(tfr).widths
        rows = img.source_rows
        widths = [[float(w[a]), float(w[b])] for a, b in rows]
    meta = {
        "format": "phasebrush classifier image", "input": str(item.signal), "files": files,
        "shape": list(img.values.shape), "dtype": "float32", "scale": img.scale,
        "db_floor": img.db_floor, "row_order": img.row_order,
        "rows": ("row 0 = highest frequency (ssqueezepy's order)"
                 if img.row_order == "high-first" else "row 0 = lowest frequency"),
        "values": ("|C|" if img.scale == "linear" else "20 log10 |C|, floored")
                  + (f", area-resized from {tfr.n_rows - len(tfr.edge_row_indices)} x "
                     f"{tfr.n_frames}" if size else " at one pixel per cell"),
        "kind": spec.kind, "spec": spec.to_dict(), "unit": signal.unit, "dx": signal.dx,
        "x0": signal.x0, "n_samples": signal.n,
        "frequency_unit": "Hz" if signal.unit == "s" else f"cycles per {signal.unit or 'sample'}",
        "row_frequencies": img.row_frequencies.tolist(),
        "row_frequencies_note": "lowest and highest source-row frequency of each image row",
        "source_rows": img.source_rows.tolist(),
        "source_rows_note": "first and last TFR row (row 0 = lowest frequency, edge rows "
                            "excluded from the image) of each image row",
        "row_widths": widths,
        "row_widths_note": (None if widths is None else
                            f"calibrated FWHM ({signal.unit or 'samples'}) of the peak each "
                            "row's first and last source row matches (CWT kinds)"),
    }
    atomic_write_text(outs[-1], json.dumps(meta, indent=1) + "\n")
    return {"rows": int(img.values.shape[0]), "columns": int(img.values.shape[1]),
            "peak": float(img.values.max()) if img.values.size else 0.0}


def _heatmap_for(job: Job, item) -> Path:
    from phasebrush.core.errors import ParameterError

    if "heatmap" in item.extra:
        return Path(item.extra["heatmap"])
    folder = job.options.get("heatmaps")
    if folder:
        from phasebrush.cli.batch.items import HEATMAP_SUFFIXES

        for ext in HEATMAP_SUFFIXES:
            p = Path(folder) / f"{item.signal.stem}{ext}"
            if p.is_file():
                return p
        raise ParameterError(f"{item.signal}: no heatmap {item.signal.stem}.* "
                             f"({'/'.join(HEATMAP_SUFFIXES)}) in {folder}")
    raise ParameterError(f"{item.signal}: no heatmap: give --heatmaps DIR or a manifest "
                         "with a 'heatmap' column")


def _attribute(job: Job, item, outdir: Path) -> dict:
    import numpy as np

    from phasebrush.core.analysis.attribution import attribute
    from phasebrush.core.analysis.heatmap import load_heatmap
    from phasebrush.core.io.atomic import atomic_write, atomic_write_text
    from phasebrush.core.tf.transforms import transform

    o = job.options
    inverse_out, curve_out, csv_out, meta_out = outputs_for(job, item, outdir)
    heat_path = _heatmap_for(job, item)
    heat = load_heatmap(heat_path, colormap=o.get("colormap"), origin=o.get("origin", "upper"))
    signal, spec = _loaded(job, item, inverse_out)
    tfr = transform(signal, spec)
    level, soft = float(o.get("threshold", 0.5)), bool(o.get("soft", False))
    result = attribute(tfr, heat, level=level, soft=soft)
    n = signal.n
    inverse = result.inverse if result.inverse is not None else np.zeros(n)
    curve = result.curve if result.curve is not None else np.zeros(n)
    x = signal.x0 + signal.dx * np.arange(n)
    atomic_write(inverse_out, lambda fh: np.save(fh, inverse), binary=True)
    atomic_write(curve_out, lambda fh: np.save(fh, curve), binary=True)
    unit = signal.unit or "sample"
    lines = [f"x ({unit}),signal,heatmap_inverse,attribution"]
    lines += [f"{a!r},{b!r},{c!r},{d!r}" for a, b, c, d in
              zip(x.tolist(), signal.y.tolist(), inverse.tolist(), curve.tolist(), strict=True)]
    atomic_write_text(csv_out, "\n".join(lines) + "\n")
    kept_share = result.kept / max(tfr.n_rows * tfr.n_frames, 1)
    meta = {
        "format": "phasebrush attribution", "input": str(item.signal),
        "heatmap": str(heat_path), "heatmap_shape": list(heat.shape),
        "origin": o.get("origin", "upper"), "colormap": o.get("colormap"),
        "mask": "soft weights" if soft else f"heatmap >= {level:g}",
        "threshold": level, "kept_cells": result.kept, "kept_share": kept_share,
        "smooth_samples": result.smooth_samples, "kind": spec.kind, "spec": spec.to_dict(),
        "files": {"inverse": inverse_out.name, "attribution": curve_out.name,
                  "csv": csv_out.name},
        "empty": result.inverse is None,
    }
    atomic_write_text(meta_out, json.dumps(meta, indent=1) + "\n")
    return {"kept_share": round(kept_share, 6), "smooth_samples": result.smooth_samples}


def _invert(job: Job, item, outdir: Path) -> dict:
    from phasebrush.cli.commands import cmd_invert
    from phasebrush.core.errors import ParameterError

    bands = item.extra.get("bands") or job.options.get("bands")
    if not bands:
        raise ParameterError(f"{item.signal}: no bands: give --bands FILE or a manifest with "
                             "a 'bands' column")
    band_out, residual_out = outputs_for(job, item, outdir)
    args = _single_item_args("invert", [item.signal], job,
                             ["--bands", str(bands), "--out", str(band_out),
                              "--residual", str(residual_out)])
    cmd_invert(args)
    return {"bands": str(bands)}


def _retrieve_args(job: Job, item, outdir: Path):
    """``phasebrush retrieve MAGNITUDES OUT --report REPORT`` of this item, parsed."""
    source = Path(item.extra.get("magnitude") or item.signal)
    out, report = outputs_for(job, item, outdir)
    return _single_item_args("retrieve", [source, out], job,
                             [*job.options.get("retrieve_argv", ()), "--report", str(report)])


def _retrieve(job: Job, item, outdir: Path) -> dict:
    from phasebrush.cli.commands import cmd_retrieve

    args = _retrieve_args(job, item, outdir)
    cmd_retrieve(args)
    return _retrieve_figures(json.loads(args.report.read_text(encoding="utf-8")))


def _retrieve_figures(rep: dict) -> dict:
    return {k: rep.get(k) for k in ("method", "iterations", "inconsistency", "sc_db",
                                    "rel_l2", "device")}


def _limit_threads(n: int) -> None:
    """This worker's FFTs and numba kernels on ``n`` threads (BLAS: Dask sets
    OMP_NUM_THREADS=1 in its workers already)."""
    import os

    from phasebrush.core.tf.transforms import THREADS_ENV

    os.environ[THREADS_ENV] = str(int(n))
    try:
        import numba

        numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    except (ImportError, ValueError):
        pass


_RUN = {"images": _images, "attribute": _attribute, "invert": _invert, "retrieve": _retrieve}


def run_item(job: Job, item, outdir) -> dict:
    """Do ``job`` to ``item``; write its outputs and its record file; return the record.

    The record: ``item``, ``input``, ``status`` ("done" or "failed"), ``outputs``
    (paths), ``figures`` (small job-specific numbers), ``seconds``, ``message``
    (why it failed, naming the file) and ``fingerprint``.
    """
    outdir = Path(outdir)

    def work():
        _setup(job)
        return _RUN[job.name](job, item, outdir)

    return _guarded(job, item, outdir, work)


def run_group(job: Job, items, outdir) -> list[dict]:
    """``retrieve`` of several items in one tensor (:func:`core.retrieval.batched.
    retrieve_batch`): the items whose magnitudes share a shape, transform and
    options are retrieved together, the others alone; each gets the outputs and
    record :func:`run_item` would give it, and what ``phasebrush retrieve`` gives it."""
    from phasebrush.cli.commands import retrieval_problem
    from phasebrush.core.retrieval.batched import retrieve_batch

    outdir = Path(outdir)
    _setup(job)
    loaded, records = {}, {}
    for item in items:
        args = _retrieve_args(job, item, outdir)
        try:
            loaded[item.id] = (item, args, *retrieval_problem(args))
        except Exception as exc:            # its error record, as run_item would write it
            records[item.id] = _guarded(job, item, outdir, _raiser(exc))
    groups: dict = {}
    for key, (item, _, S, spec, n, dx, *_, opts) in loaded.items():
        if opts["padding"]:                 # (free padding samples: one item at a time)
            records[key] = run_item(job, item, outdir)
            continue
        sig = (S.shape, json.dumps(spec.to_dict(), sort_keys=True), n, dx,
               json.dumps(opts, sort_keys=True, default=str))
        groups.setdefault(sig, []).append(key)
    for keys in groups.values():
        first = loaded[keys[0]]
        opts = {k: v for k, v in first[-1].items() if k != "padding"}
        t0 = time.perf_counter()
        try:
            results = retrieve_batch([loaded[k][2] for k in keys], first[3],
                                     n_samples=first[4], dx=first[5], **opts)
        except Exception:
            # e.g. one item diverged: each alone, so the others still finish
            for k in keys:
                records[k] = run_item(job, loaded[k][0], outdir)
            continue
        share = (time.perf_counter() - t0) / len(keys)
        for k, result in zip(keys, results, strict=True):
            item, args, S, spec, _, _, template, original, _ = loaded[k]
            work = functools.partial(_write_batched, args, result, S, spec, template,
                                     original, share, len(keys))
            records[k] = _guarded(job, item, outdir, work, extra_seconds=share)
    return [records[it.id] for it in items]


def _write_batched(args, result, S, spec, template, original, share, n_batched) -> dict:
    from phasebrush.cli.commands import write_retrieval

    rep = write_retrieval(args, result, S, spec, template, original, share, result.stop_reason)
    return {**_retrieve_figures(rep), "batched": n_batched}


def _raiser(exc):
    def work():
        raise exc
    return work


def _setup(job: Job) -> None:
    if job.budget is not None:
        from phasebrush.core.memory import set_budget

        set_budget(job.budget)
    if job.threads is not None:
        _limit_threads(job.threads)


def _guarded(job: Job, item, outdir: Path, work, *, extra_seconds: float = 0.0) -> dict:
    """The record of ``work()`` (its figures) for ``item``, its record file written."""
    from phasebrush.core.errors import PhaseBrushError
    from phasebrush.core.io.atomic import atomic_write_text

    t0 = time.perf_counter()
    record = {"item": item.id, "input": str(item.signal), "status": "failed", "outputs": [],
              "figures": {}, "seconds": 0.0, "message": "", "fingerprint": job.fingerprint()}
    try:
        figures = work()
        record.update(status="done", figures=figures,
                      outputs=[str(p) for p in outputs_for(job, item, outdir)])
    except PhaseBrushError as exc:
        record["message"] = " ".join(str(exc).splitlines())
    except MemoryError as exc:
        record["message"] = f"{item.signal}: not enough memory ({exc or 'MemoryError'})"
    except SystemExit as exc:     # argparse refusing an option value
        record["message"] = f"{item.signal}: bad option ({exc})"
    except Exception as exc:      # a bug: keep the traceback's last line and go on
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        record["message"] = f"{item.signal}: internal error: {last}"
    record["seconds"] = round(time.perf_counter() - t0 + extra_seconds, 4)
    try:
        path = record_path(outdir, item)
        if record["status"] == "done":
            atomic_write_text(path, json.dumps(record, indent=1) + "\n")
        else:
            path.unlink(missing_ok=True)
    except (OSError, PhaseBrushError) as exc:
        record.update(status="failed", message=f"{item.signal}: cannot write its record ({exc})")
    return record
