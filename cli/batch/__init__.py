"""``phasebrush batch JOB INPUT --out OUTDIR``: one job over a whole dataset, on Dask.

Modules:
    items    what INPUT names (a folder, a glob, a CSV manifest) as a list of items
    jobs     one item's work for each job (images, attribute, invert, retrieve), run
             on a worker: it loads its own files, writes its outputs atomically and
             returns a small record; never raises
    runner   the run: skip what is complete, spread the rest over a Dask cluster (or
             run it here), write the results manifest as items finish
    command  the argparse subcommand and its progress bar

Paths travel to the workers, not arrays; every output is written atomically, and
an item's record file is written last, so an interrupted run leaves only whole
items behind and a rerun skips them.
"""
