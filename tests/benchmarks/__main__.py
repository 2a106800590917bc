"""Run every benchmark: ``python -m tests.benchmarks`` imports each ``bench_*.py``
module in this folder, in name order, and calls its ``main()``."""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path


def main() -> int:
    failed = []
    for path in sorted(Path(__file__).resolve().parent.glob("bench_*.py")):
        name = f"{__package__ or 'tests.benchmarks'}.{path.stem}"
        print(f"\n=== {path.stem} ===", flush=True)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(name)
            module.main()
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(path.stem)
        print(f"--- {path.stem}: {time.perf_counter() - t0:.1f} s", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
