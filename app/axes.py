"""How a signal's axes are shown: reversed spectra, frequency or feature width.

Spectroscopists read IR spectra from 4000 down to 400 cm^-1 and NMR spectra
from high to low ppm, whatever order the file stores; a file that lists its
axis high-to-low (``Signal.descending``) is shown that way too.

For a signal whose axis is not time the transforms' "frequency" is in cycles
per x-unit, which nobody reads fluently; its reciprocal, the *feature width*
(period, in x-units: "a band about 30 cm^-1 wide"), is the default there.
"""

from __future__ import annotations

__all__ = ["REVERSED_UNITS", "FREQ_MODES", "display_reversed", "default_freq_mode",
           "freq_axis_label", "freq_value_text", "x_axis_label"]

#: What an axis in this unit measures (for the x-axis label).
_QUANTITIES = {"s": "time", "cm^-1": "wavenumber", "cm-1": "wavenumber", "1/cm": "wavenumber",
               "ppm": "chemical shift", "nm": "wavelength", "µm": "wavelength",
               "um": "wavelength", "hz": "frequency"}

#: Axis units shown high-to-low by convention (IR wavenumbers, NMR chemical shift).
REVERSED_UNITS = frozenset({"cm^-1", "cm-1", "1/cm", "ppm"})

#: Vertical-axis modes of the time-frequency image.
FREQ_MODES = ("frequency", "width")


def display_reversed(signal) -> bool:
    """Whether ``signal`` (a core Signal or None) is drawn with its x axis high-to-low."""
    if signal is None:
        return False
    unit = (getattr(signal, "unit", "") or "").strip().lower()
    return bool(getattr(signal, "descending", False)) or unit in REVERSED_UNITS


def default_freq_mode(signal) -> str:
    """"frequency" for audio (Hz), "width" (period in x-units) for anything else."""
    return "frequency" if signal is None or getattr(signal, "is_audio", True) else "width"


def freq_axis_label(signal, mode: str) -> str:
    """Label of the image's vertical axis, e.g. "frequency (Hz)", "feature width (cm^-1)"."""
    if signal is None:
        return "frequency"
    if mode == "width":
        unit = signal.unit or "samples"
        return "period (s)" if signal.is_audio else f"feature width ({unit})"
    if signal.is_audio:
        return "frequency (Hz)"
    return f"cycles per {signal.unit or 'sample'}"


def freq_value_text(freq: float, signal, mode: str, fmt) -> str:
    """Status-bar text of one frequency in ``mode``: "f = 440 Hz", "width = 31.2 cm^-1"."""
    if signal is None:
        return f"f = {fmt(freq)}"
    if mode == "width":
        width = float("inf") if freq <= 0 else 1.0 / freq
        return f"width = {fmt(width)} {signal.unit or 'samples'}"
    return f"f = {fmt(freq)} {signal.freq_unit}"


def x_axis_label(unit: str) -> str:
    """"time (s)", "wavenumber (cm^-1)", "chemical shift (ppm)", "position (mm)" …"""
    quantity = _QUANTITIES.get((unit or "").strip().lower(), "position")
    return f"{quantity} ({unit or 'samples'})"
