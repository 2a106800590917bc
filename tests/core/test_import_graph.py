"""core's modules import each other without loops, lazy (in-function) imports included:
a loop makes the import order matter and hides which module builds on which."""

import ast
from pathlib import Path

from phasebrush import cli, core


def _module_name(root: Path, package: str, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((package, *parts))


def _graph() -> dict[str, set[str]]:
    """module -> the phasebrush.core / phasebrush.cli modules it imports (anywhere in it)."""
    modules = {}
    for pkg in (core, cli):
        root = Path(pkg.__file__).parent
        for path in root.rglob("*.py"):
            modules[_module_name(root, pkg.__name__, path)] = path
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # "from pkg import mod" names a module when pkg.mod is one
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            deps.update(t for t in targets if t in modules and t != name)
        # a package's __init__ is imported with each of its modules: not an edge of its own
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    return graph


def _cycle(graph):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_core_and_cli_have_no_import_loop():
    graph = _graph()
    assert "phasebrush.core.io.common" in graph["phasebrush.core.io.jcamp"]
    assert "phasebrush.core.io.jcamp" in graph["phasebrush.core.io.signals"]  # lazily
    loop = _cycle(graph)
    assert loop is None, " -> ".join(loop)


def test_the_loop_finder_finds_a_loop():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
