"""The distribution has one top-level package, phasebrush (pyproject.toml): nothing in the
repository imports the folders core/, app/ and cli/ by their own names, and outside the
source tree only phasebrush.core / phasebrush.app / phasebrush.cli exist.
(packaging/check_wheel.sh builds and installs the real wheel; CI runs it.)"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sources():
    for folder in ("core", "app", "cli", "tests", "packaging"):
        yield from (ROOT / folder).rglob("*.py")


def test_no_module_imports_core_or_app_by_its_folder_name():
    bad = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            bad += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                    if n.split(".")[0] in ("core", "app", "cli")]
    assert not bad, "import phasebrush.core / .app / .cli instead:\n" + "\n".join(bad)


def test_outside_the_source_tree_only_the_phasebrush_names_import(tmp_path):
    code = ("import importlib.util, sys\n"
            "import phasebrush.core.tf.transforms, phasebrush.cli.main\n"
            "from phasebrush.core.io.demo import RESOURCES, resource_path\n"
            "resource_path('demo', 'arctic_a0007.wav')\n"
            "print([n for n in ('core', 'app', 'cli')\n"
            "       if importlib.util.find_spec(n) is not None])\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
