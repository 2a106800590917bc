"""The uniformly sampled 1-D signal every other module works on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from phasebrush.core.errors import ParameterError

__all__ = ["Signal", "valid_samples"]


def valid_samples(y, *, name: str = "signal", min_length: int = 2) -> np.ndarray:
    """Return ``y`` as a contiguous float64 1-D array, or raise.

    The one validation helper for sample arrays: dimension, length and
    finiteness are checked here and nowhere else.

    Parameters
    ----------
    y : array_like [shape=(n,)], real
    name : str
        How the message names the data (a file path, "signal", ...).
    min_length : int
        Fewest samples accepted (a transform needs at least 2).

    Raises
    ------
    ParameterError
        ``y`` is not 1-D, too short, complex, or holds NaN / inf.
    """
    a = np.asarray(y)
    if np.iscomplexobj(a):
        raise ParameterError(f"{name}: samples are complex; a real signal is required")
    if a.ndim != 1:
        raise ParameterError(f"{name}: samples must be 1-D, got shape {a.shape}")
    if a.size < min_length:
        raise ParameterError(
            f"{name}: {a.size} sample(s); at least {min_length} are needed")
    try:
        a = np.ascontiguousarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name}: samples are not numbers ({exc})") from None
    bad = ~np.isfinite(a)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(
            f"{name}: {int(bad.sum())} sample(s) are NaN or infinite "
            f"(first at sample {i + 1}: {float(a[i])})")
    return a


@dataclass(frozen=True, eq=False)
class Signal:
    """A uniformly sampled real 1-D signal.

    Attributes
    ----------
    y : np.ndarray [shape=(n,), dtype=float64, finite]
        The samples.
    dx : float > 0
        Sample spacing in ``unit`` (seconds for audio, cm^-1 for an IR
        spectrum...). Always positive: a descending axis is stored ascending
        (``x0`` is the smallest value) with ``descending=True`` so views can
        show it the way the field does.
    x0 : float
        Axis value of the first sample, in ``unit``.
    unit : str
        Axis unit: "s", "cm^-1", "nm", "ppm", "" (samples) ...
    name : str
        Display name (file stem for loaded files).
    source : Path or None
        File the samples came from, if any.
    y_unit : str
        Unit or quantity of the samples ("", "transmittance", "absorbance" ...).
    descending : bool
        The file's axis ran high-to-low (spectroscopy convention); samples are
        stored in ascending-axis order regardless.
    notes : tuple of str
        What loading did that the user should be told (channel mixed,
        resampled to a uniform grid, block chosen ...).
    """

    y: np.ndarray
    dx: float = 1.0
    x0: float = 0.0
    unit: str = "s"
    name: str = "signal"
    source: Path | None = None
    y_unit: str = ""
    descending: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        object.__setattr__(self, "y", valid_samples(self.y, name=self.name))
        dx = float(self.dx)
        if not np.isfinite(dx) or dx <= 0:
            raise ParameterError(f"{self.name}: sample spacing dx={self.dx!r} must be > 0")
        object.__setattr__(self, "dx", dx)
        object.__setattr__(self, "x0", float(self.x0))
        if self.source is not None:
            object.__setattr__(self, "source", Path(self.source))
        self.y.flags.writeable = False

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.y.size)

    @property
    def rate(self) -> float:
        """Samples per ``unit`` (Hz for audio), i.e. ``1 / dx``."""
        return 1.0 / self.dx

    @property
    def x(self) -> np.ndarray:
        """Axis value of every sample, ascending [shape=(n,), float64, ``unit``]."""
        return self.x0 + self.dx * np.arange(self.n)

    @property
    def is_audio(self) -> bool:
        """True when the axis is time in seconds."""
        return self.unit == "s"

    @property
    def freq_unit(self) -> str:
        """Unit of the transforms' frequency axis: "Hz" for seconds, else 1/unit."""
        if self.unit == "s":
            return "Hz"
        if not self.unit:
            return "cycles/sample"
        return f"1/({self.unit})"

    def with_samples(self, y, *, name: str | None = None) -> Signal:
        """A copy on the same axis with other samples (a reconstruction, a band)."""
        y = np.asarray(y, dtype=np.float64)
        if y.shape != self.y.shape:
            raise ParameterError(
                f"{name or self.name}: {y.size} samples do not fit an axis of {self.n}")
        return replace(self, y=y.copy(), name=name or self.name, notes=())
