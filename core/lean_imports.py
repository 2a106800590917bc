"""ssqueezepy without torch: its package import loads torch (~300 MB, ~1 s) for nothing.

ssqueezepy's ``utils.backend`` and ``configs`` run ``try: import torch; import
cupy`` and fall back to dummies when either fails. Without CuPy (not a
PhaseBrush dependency) torch ends up unused by ssqueezepy, but it has been
imported: every transform, CLI call and window paid torch's memory and start-up
although only phase retrieval (core.retrieval.retrieve, core.retrieval.torch_transforms) needs it.

:func:`install` adds an import hook that, the first time ``ssqueezepy`` is
imported and torch is not yet, makes ``import torch`` fail in the importing
thread while ssqueezepy's package initialises - exactly the fallback ssqueezepy
takes without CuPy - and nowhere else, so PhaseBrush's own ``import torch``
later (or in another thread meanwhile) works as ever.
Installed by ``core/__init__.py``; it imports nothing itself.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading

__all__ = ["install"]


class _NoTorchHere(importlib.abc.MetaPathFinder):
    """Refuses ``import torch`` in one thread (the one initialising ssqueezepy).

    No ``sys.modules`` entry is faked: other threads (and scipy's array-API checks,
    which read ``sys.modules["torch"]``) see torch exactly as before."""

    def __init__(self, thread: int):
        self.thread = thread

    def find_spec(self, name, path=None, target=None):
        if (name == "torch" or name.startswith("torch.")) and \
                threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden from ssqueezepy)",
                                      name=name)
        return None


class _WithoutTorch(importlib.abc.Loader):
    def __init__(self, inner):
        self._inner = inner

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        guard = _NoTorchHere(threading.get_ident())
        sys.meta_path.insert(0, guard)
        try:
            self._inner.exec_module(module)
        finally:
            sys.meta_path.remove(guard)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "ssqueezepy":
            return None
        sys.meta_path.remove(self)            # once: the package is then imported
        if "torch" in sys.modules:
            return None
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _WithoutTorch(spec.loader)
        return spec


def install() -> None:
    """Add the hook (idempotent; a no-op once ssqueezepy is imported)."""
    if "ssqueezepy" in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
