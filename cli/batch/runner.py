"""A batch run: skip what is complete, spread the rest over Dask, keep a results manifest.

Scheduling is Dask's (``distributed``): a local cluster of worker processes
sized to the machine by default, an existing cluster with ``scheduler=ADDRESS``
(``dask scheduler`` / ``dask worker``), or Dask's synchronous scheduler in this
process with ``workers=1``. Each task is :func:`cli.batch.jobs.run_item` on one
item (or, for ``retrieve`` with ``Job.group`` > 1, :func:`cli.batch.jobs.run_group`
on that many): paths travel, the worker loads and writes, and small records come back.

The results manifest (``results.csv`` and ``results.json`` in OUTDIR) is
rewritten atomically after every item, so an interrupted run keeps every item
already done; a rerun skips the items whose record files say they are complete.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from phasebrush.cli.batch.jobs import (
    Job,
    is_complete,
    outputs_for,
    record_path,
    run_group,
    run_item,
)

__all__ = ["BatchSummary", "run_batch", "write_manifest", "MANIFEST_CSV", "MANIFEST_JSON",
           "default_workers"]

MANIFEST_CSV = "results.csv"
MANIFEST_JSON = "results.json"
_COLUMNS = ("item", "input", "status", "outputs", "figures", "seconds", "message")


@dataclass
class BatchSummary:
    """What a run did. ``records`` holds one record per item, in item order."""

    records: list = field(default_factory=list)
    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.interrupted


def default_workers() -> int:
    """One worker process per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # macOS, Windows
        return max(1, os.cpu_count() or 1)


def write_manifest(outdir: Path, job: Job, records: list, *, finished: bool) -> None:
    """``results.csv`` (one row per item) and ``results.json`` (the run and every record),
    each written atomically."""
    from phasebrush.core.io.atomic import atomic_write_text

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_COLUMNS)
    for r in records:
        w.writerow([r["item"], r["input"], r["status"], ";".join(r["outputs"]),
                    json.dumps(r["figures"], sort_keys=True), r["seconds"], r["message"]])
    atomic_write_text(Path(outdir) / MANIFEST_CSV, buf.getvalue())
    run = {"job": job.name, "argv": list(job.argv), "options": job.options,
           "fingerprint": job.fingerprint(), "finished": finished,
           "counts": {s: sum(r["status"] == s for r in records)
                      for s in ("done", "skipped", "failed")},
           "items": records}
    atomic_write_text(Path(outdir) / MANIFEST_JSON, json.dumps(run, indent=1, default=str) + "\n")


def _skipped(job: Job, item, outdir: Path) -> dict:
    rec = json.loads(record_path(outdir, item).read_text(encoding="utf-8"))
    return {**rec, "status": "skipped", "seconds": 0.0,
            "outputs": [str(p) for p in outputs_for(job, item, outdir)]}


def _lost(item, exc: BaseException) -> dict:
    """The record of an item whose task died with its worker (or never came back)."""
    return {"item": item.id, "input": str(item.signal), "status": "failed", "outputs": [],
            "figures": {}, "seconds": 0.0,
            "message": f"{item.signal}: the worker running it failed "
                       f"({type(exc).__name__}: {exc})", "fingerprint": ""}


def run_batch(job: Job, items: list, outdir, *, workers: int | None = None,
              scheduler: str | None = None, force: bool = False, on_record=None,
              cancel=None) -> BatchSummary:
    """Run ``job`` over ``items`` into ``outdir``.

    Parameters
    ----------
    job : Job
    items : list of Item
    outdir : str or Path
        Created if missing.
    workers : int or None
        Local worker processes (None = :func:`default_workers`); 1 runs the items
        here, one after another, on Dask's synchronous scheduler. Ignored with
        ``scheduler``.
    scheduler : str or None
        Address of a running Dask scheduler (``tcp://host:8786``).
    force : bool
        Redo items whose outputs are complete.
    on_record : callable (record: dict, summary: BatchSummary) -> None, or None
        Called as each item finishes (skipped ones first), for progress.
    cancel : callable () -> bool, or None
        Polled between items; True stops the run (running tasks are cancelled,
        what is done stays done) with ``summary.interrupted``.

    Returns
    -------
    BatchSummary
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    summary = BatchSummary()
    by_id: dict[str, dict] = {}
    order = [it.id for it in items]

    def finish(rec: dict) -> None:
        by_id[rec["item"]] = rec
        setattr(summary, rec["status"], getattr(summary, rec["status"]) + 1)
        summary.records = [by_id[i] for i in order if i in by_id]
        write_manifest(outdir, job, summary.records, finished=False)
        if on_record is not None:
            on_record(rec, summary)

    todo = []
    for it in items:
        if not force and is_complete(job, it, outdir):
            finish(_skipped(job, it, outdir))
        else:
            todo.append(it)
    try:
        if todo and scheduler is None and (workers or default_workers()) == 1:
            _run_here(job, todo, outdir, finish, cancel, summary)
        elif todo:
            _run_on_cluster(job, todo, outdir, finish, cancel, summary,
                            workers=workers, scheduler=scheduler)
    except KeyboardInterrupt:
        summary.interrupted = True
    summary.seconds = time.perf_counter() - t0
    write_manifest(outdir, job, summary.records, finished=not summary.interrupted)
    return summary


def _tasks(job, todo) -> list:
    """(function, items) per task: one item each, or ``job.group`` of them for a
    grouped retrieve (:func:`cli.batch.jobs.run_group`)."""
    if job.name == "retrieve" and job.group > 1:
        k = job.group
        return [(run_group, todo[i:i + k]) for i in range(0, len(todo), k)]
    return [(run_item, [it]) for it in todo]


def _records(fn, result) -> list:
    return result if fn is run_group else [result]


def _run_here(job, todo, outdir, finish, cancel, summary) -> None:
    import dask

    for fn, its in _tasks(job, todo):
        if cancel is not None and cancel():
            summary.interrupted = True
            return
        arg = its if fn is run_group else its[0]
        for rec in _records(fn, dask.delayed(fn, pure=False)(job, arg, str(outdir))
                            .compute(scheduler="synchronous")):
            finish(rec)


def _run_on_cluster(job, todo, outdir, finish, cancel, summary, *, workers, scheduler) -> None:
    from dataclasses import replace

    from distributed import Client, LocalCluster, as_completed

    from phasebrush.core.memory import budget_bytes

    cluster = None
    if scheduler is None:
        n = workers or default_workers()
        # each worker gets its share of this machine's budget, so n items that each
        # fit alone also fit together
        total = budget_bytes()
        if total is not None and job.budget is None:
            job = replace(job, budget=int(total // n))
        # and its share of the cores: n workers x all cores threads thrash (measured with
        # bench_batch: 2 workers at 2 threads each ran 0.66x the rate of one process)
        if job.threads is None:
            job = replace(job, threads=max(1, default_workers() // n))
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = {}
        for fn, its in _tasks(job, todo):
            arg = its if fn is run_group else its[0]
            f = client.submit(fn, job, arg, str(outdir), pure=False, key=f"pb-{its[0].id}-"
                              f"{job.fingerprint()}-{time.monotonic_ns()}")
            futures[f] = (fn, its)
        pending = as_completed(futures, with_results=False)
        for f in pending:
            fn, its = futures[f]
            try:
                recs = _records(fn, f.result())
            except Exception as exc:   # the worker died under the task, or it was lost
                recs = [_lost(it, exc) for it in its]
            for rec in recs:
                finish(rec)
            if cancel is not None and cancel():
                summary.interrupted = True
                client.cancel([g for g in futures if not g.done()])
                return
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
