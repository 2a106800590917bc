"""core is pure numerics and I/O: importing all of it must not load Qt (checked, not hoped for)."""

import subprocess
import sys
from pathlib import Path

from phasebrush import core

QT = ("PySide6", "pyqtgraph", "shiboken6")


def test_importing_all_of_core_loads_no_qt():
    names = sorted(p.stem for p in Path(core.__file__).parent.glob("*.py") if p.stem != "__init__")
    code = ("import importlib, sys\n"
            f"for n in {names!r}: importlib.import_module('phasebrush.core.' + n)\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({QT!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert len(names) > 15  # the glob found the modules
