"""core and the CLI import no Qt: importing all of them must not load it (checked, not hoped)."""

import subprocess
import sys
from pathlib import Path

from phasebrush import cli, core

QT = ("PySide6", "pyqtgraph", "shiboken6")


def _modules(package) -> list[str]:
    """Dotted names of every module under ``package``, subpackages included."""
    root = Path(package.__file__).parent
    names = []
    for p in sorted(root.rglob("*.py")):
        parts = p.relative_to(root).with_suffix("").parts
        if parts[-1] in ("__init__", "__main__"):
            parts = parts[:-1]
        names.append(".".join((package.__name__, *parts)))
    return names


def test_importing_all_of_core_and_the_cli_loads_no_qt():
    names = _modules(core) + _modules(cli)
    code = ("import importlib, sys\n"
            f"for n in {names!r}: importlib.import_module(n)\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({QT!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert len(names) > 40 and "phasebrush.core.io.signals" in names  # the walk found them
