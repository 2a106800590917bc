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

The same hook also initialises the package lean: ssqueezepy's ``__init__``
imports every submodule, ``_stft`` among them, and with it scipy.signal and
scipy.stats (~0.5 s of a CLI call's ~2 s), though a CWT needs only ``utils``,
``ssqueezing``, ``wavelets`` and ``algos``. The package is first given just
those (in ``__init__``'s own order, with the ``plt`` stand-in it gives its
submodules when matplotlib is absent); the first read of any other top-level
name (``ssqueezepy.ssq_cwt``, ``from ssqueezepy import cwt``) runs the real
``__init__`` in the same module, so everything it defines is then there as
ever. Should the lean step fail (another ssqueezepy version), the real
``__init__`` runs at once: behaviour is today's, only slower.
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


#: What a CWT, its scales and frequencies need of ssqueezepy, in ``__init__``'s order
#: (the submodules import each other in cycles that only this order resolves).
LEAN_SUBMODULES = ("utils", "ssqueezing", "wavelets", "algos")


class _PltDummy:
    """ssqueezepy's own stand-in for matplotlib.pyplot (its ``__init__`` makes one
    when matplotlib is missing; submodules import it as ``from . import plt``)."""

    def __getattr__(self, name):
        raise ValueError("`ssqueezepy.visuals` requires `matplotlib` installed.")


class _WithoutTorch(importlib.abc.Loader):
    def __init__(self, inner):
        self._inner = inner

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def _run(self, fn, *args) -> None:
        guard = _NoTorchHere(threading.get_ident())
        sys.meta_path.insert(0, guard)
        try:
            fn(*args)
        finally:
            sys.meta_path.remove(guard)

    def exec_module(self, module):
        try:
            self._run(_lean_init, module)
        except Exception:
            # not the ssqueezepy this was written against: forget the half-imported
            # submodules and initialise the package as it is
            for name in [m for m in sys.modules if m.startswith("ssqueezepy.")]:
                del sys.modules[name]
            for key in [k for k in vars(module) if k not in _MODULE_KEYS]:
                delattr(module, key)
            self._run(self._inner.exec_module, module)
            return
        lock = threading.RLock()
        done = []

        def __getattr__(name):
            # a name the lean package lacks: the whole package, once
            if name.startswith("__") or done:
                raise AttributeError(f"module 'ssqueezepy' has no attribute {name!r}")
            with lock:
                if not done:
                    done.append(True)
                    self._run(self._inner.exec_module, module)
            return getattr(module, name)

        module.__getattr__ = __getattr__


_MODULE_KEYS = {"__name__", "__doc__", "__package__", "__loader__", "__spec__", "__path__",
                "__file__", "__cached__", "__builtins__"}


def _lean_init(module) -> None:
    import importlib

    try:
        import matplotlib.pyplot as plt  # (ssqueezepy's visuals use it when present)
    except ImportError:
        plt = _PltDummy()
    module.plt = plt
    for name in LEAN_SUBMODULES:
        setattr(module, name, importlib.import_module(f"ssqueezepy.{name}"))


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
