"""PhaseBrush: see a 1-D signal in time-frequency, paint a region, get it back as a signal.

The distribution's one top-level package. In the repository its parts are the
top-level folders ``core/`` (numerics and I/O, no Qt), ``app/`` (the Qt GUI and
the CLI) and ``resources/`` (demo data and test spectra), installed as
``phasebrush.core``, ``phasebrush.app`` and ``phasebrush.resources``
(pyproject.toml, ``[tool.setuptools.package-dir]``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("phasebrush")
except PackageNotFoundError:  # pragma: no cover - imported without being installed
    __version__ = "0+unknown"
