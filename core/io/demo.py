"""Demo signals: a synthetic chirp and the real recordings shipped in ``resources/``."""

from __future__ import annotations

from dataclasses import replace
from importlib.resources import files
from pathlib import Path

import numpy as np
import scipy.signal

from phasebrush.core.errors import LoadError, ParameterError
from phasebrush.core.io.signals import load_signal
from phasebrush.core.signal import Signal

__all__ = ["DEMOS", "demo_signal", "resource_path", "RESOURCES"]

#: The shipped ``resources/`` folder: the repository's, or the installed package
#: ``phasebrush.resources`` (a plain folder on disk in both: files() gives its path).
RESOURCES = Path(str(files("phasebrush.resources")))

#: name -> one-line description, for menus and ``--demo``.
DEMOS = {
    "chirp": "Exponential chirp 1 Hz to 1024 Hz, 2048 samples at 2048 Hz, plus 1 (synthetic)",
    "speech": "Speech: one English sentence, 4 s at 16 kHz (CMU ARCTIC arctic_a0007)",
    "ir": "IR spectrum of ethanol gas, 3570 points, 461.6-3807.5 cm^-1 (NIST/Coblentz)",
}


def resource_path(*parts: str) -> Path:
    """Path of a shipped resource file, e.g. ``resource_path("demo", "x.wav")``.

    Raises
    ------
    LoadError
        The file is not there (an incomplete checkout or install).
    """
    p = RESOURCES.joinpath(*parts)
    if not p.is_file():
        raise LoadError(p, "shipped resource file is missing; the installation is "
                           "incomplete (it belongs in the phasebrush.resources package, the "
                           "repository's resources/ folder)")
    return p


def _chirp() -> Signal:
    n, fs = 2048, 2048.0
    t = np.arange(n) / fs
    y = scipy.signal.chirp(t, f0=1.0, t1=t[-1], f1=1024.0, method="logarithmic") + 1.0
    return Signal(y, dx=1.0 / fs, x0=0.0, unit="s", name="Exponential chirp (demo)")


def demo_signal(name: str) -> Signal:
    """One of the demo signals listed in :data:`DEMOS`.

    Parameters
    ----------
    name : {"chirp", "speech", "ir"}
        "chirp": the seed's exponential chirp, N = 2048 at fs = 2048 Hz,
        ``chirp(t, f0=1, t1=t[-1], f1=1024, method="logarithmic") + 1``.
        "speech": resources/demo/arctic_a0007.wav (16 kHz mono).
        "ir": resources/spectra/ethanol.jdx (cm^-1, transmittance).

    Returns
    -------
    Signal

    Raises
    ------
    ParameterError
        Unknown name.
    LoadError
        A shipped file is missing or unreadable.
    """
    if name == "chirp":
        return _chirp()
    if name == "speech":
        sig = load_signal(resource_path("demo", "arctic_a0007.wav"))
        return replace(sig, name="Speech: arctic_a0007 (demo)")
    if name == "ir":
        sig = load_signal(resource_path("spectra", "ethanol.jdx"))
        return replace(sig, name="Ethanol IR spectrum (demo)")
    raise ParameterError(f"demo {name!r} is unknown; choose one of {', '.join(DEMOS)}")
