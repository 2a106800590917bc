"""How a signal's axes are shown: reversed spectra, frequency or peak width.

Spectroscopists read IR spectra from 4000 down to 400 cm^-1 and NMR spectra
from high to low ppm, whatever order the file stores; a file that lists its
axis high-to-low (``Signal.descending``) is shown that way too.

For a signal whose axis is not time the transforms' "frequency" is in cycles
per x-unit, which nobody reads fluently. The default there is the *width*
mode: a CWT row is labelled with the calibrated peak width of
:mod:`core.tf.feature_width`, the FWHM of the Gaussian band it responds to most
("a band 24 cm^-1 wide" lights up the row labelled 24, not the row of period
63); rows without a calibration (STFT kinds, audio) show the period
``1 / frequency`` instead.
"""

from __future__ import annotations

import math

__all__ = ["REVERSED_UNITS", "FREQ_MODES", "display_reversed", "default_freq_mode",
           "width_axis_of", "width_maps", "width_label", "freq_axis_label", "freq_value_text",
           "freq_span_text", "x_axis_label"]

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
    """"frequency" for audio (Hz), "width" (peak width in x-units) for anything else."""
    return "frequency" if signal is None or getattr(signal, "is_audio", True) else "width"


def width_axis_of(signal, tfr):
    """The calibrated peak widths of ``tfr``'s rows (a core.tf.feature_width.WidthAxis),
    or None where rows are not peak widths: no transform, audio, STFT kinds.

    ``signal`` may be None (then ``tfr.unit`` decides); cheap (scales are cached).
    """
    from phasebrush.core.errors import PhaseBrushError
    from phasebrush.core.tf.feature_width import has_width_axis, width_axis

    if tfr is None:
        return None
    unit = getattr(signal, "unit", None) if signal is not None else None
    if not has_width_axis(getattr(tfr, "spec", None), tfr.unit if unit is None else unit):
        return None
    try:
        return width_axis(tfr)
    except (PhaseBrushError, AttributeError, ValueError):
        return None


def width_maps(widths):
    """``(to_width, to_frequency)``: float -> float maps of a WidthAxis, or of the
    period ``1 / f`` when ``widths`` is None; ``inf`` / 0 at the ends."""
    if widths is None:
        def to_width(f):
            return math.inf if f <= 0 else 1.0 / f

        def to_frequency(w):
            return math.inf if w <= 0 else (0.0 if math.isinf(w) else 1.0 / w)
        return to_width, to_frequency
    return (lambda f: float(widths.to_width(f))), (lambda w: float(widths.to_frequency(w)))


def freq_axis_label(signal, mode: str, widths=None) -> str:
    """Label of the image's vertical axis: "frequency (Hz)", "cycles per cm^-1",
    "peak width, FWHM (cm^-1)" (width mode with calibrated ``widths``), or
    "period (cm^-1)" (width mode without)."""
    if signal is None:
        return "frequency"
    if mode == "width":
        if widths is not None:
            return width_label(signal.unit)
        return f"period ({signal.unit or 'samples'})"
    if signal.is_audio:
        return "frequency (Hz)"
    return f"cycles per {signal.unit or 'sample'}"


def width_label(unit: str) -> str:
    """Axis label of calibrated peak widths: "peak width, FWHM (cm^-1)"."""
    return f"peak width, FWHM ({unit or 'samples'})"


def freq_value_text(freq: float, signal, mode: str, fmt, widths=None) -> str:
    """Status-bar text of one frequency in ``mode``: "f = 440 Hz",
    "FWHM = 24.1 cm^-1" (calibrated ``widths``), "period = 63.2 cm^-1"."""
    if signal is None:
        return f"f = {fmt(freq)}"
    if mode == "width":
        width = width_maps(widths)[0](float(freq))
        name = "FWHM" if widths is not None else "period"
        return f"{name} = {fmt(width)} {signal.unit or 'samples'}"
    return f"f = {fmt(freq)} {signal.freq_unit}"


def freq_span_text(f0: float, f1: float, unit: str, fmt, widths=None) -> str:
    """A frequency span for lists and dialogs: "180–220 Hz", or with calibrated
    ``widths`` the peak widths it covers, narrowest first: "FWHM 12.1–45.3 cm^-1"."""
    if widths is None:
        from phasebrush.core.tf.bands import freq_unit

        return f"{fmt(f0)}–{fmt(f1)} {freq_unit(unit)}"
    to_width = width_maps(widths)[0]
    w0, w1 = sorted((to_width(float(f0)), to_width(float(f1))))
    return f"FWHM {fmt(w0)}–{fmt(w1)} {unit or 'samples'}"


def x_axis_label(unit: str) -> str:
    """"time (s)", "wavenumber (cm^-1)", "chemical shift (ppm)", "position (mm)" …"""
    quantity = _QUANTITIES.get((unit or "").strip().lower(), "position")
    return f"{quantity} ({unit or 'samples'})"
