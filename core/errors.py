"""The project's exception types.

Every failure a user can cause (a bad file, a bad parameter, a mask that does
not fit) raises :class:`PhaseBrushError` or a subclass, with a message that
names the file or value and says what is wrong, so the CLI and the GUI can
show it verbatim instead of a traceback.
"""

from __future__ import annotations

__all__ = [
    "PhaseBrushError", "ParameterError", "LoadError", "ShapeError", "Cancelled",
    "OutOfMemoryError", "format_bytes",
]


class PhaseBrushError(Exception):
    """Root of every error PhaseBrush raises on purpose."""


class ParameterError(PhaseBrushError, ValueError):
    """A parameter is out of range or inconsistent; the message repeats the value."""


class LoadError(PhaseBrushError):
    """A file could not be read as a signal, mask, band set or session.

    The message starts with the file's path.
    """

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ShapeError(PhaseBrushError, ValueError):
    """Two arrays that must agree in shape do not (mask vs. transform, ...)."""


class Cancelled(PhaseBrushError):
    """Long work was stopped by its cancel check."""


def format_bytes(n_bytes: float) -> str:
    """``1536`` -> ``"1.5 KiB"``; ``3.2e10`` -> ``"29.8 GiB"`` (binary units, as RAM is sold)."""
    n = float(n_bytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


class OutOfMemoryError(PhaseBrushError, MemoryError):
    """Work that would not fit in memory, refused (or stopped) before it ran the machine out.

    ``what`` names the work ("CWT of song.wav (26,460,000 samples, 297 rows)"),
    ``n_bytes`` its estimated peak, ``available`` what the machine could give
    (None = unknown), ``hint`` what to change. A MemoryError subclass too, so
    code that already catches MemoryError keeps working.
    """

    def __init__(self, what: str, n_bytes: float, *, available: float | None = None,
                 hint: str = ""):
        self.what, self.n_bytes, self.available, self.hint = what, n_bytes, available, hint
        msg = f"{what} needs about {format_bytes(n_bytes)} of memory"
        if available is not None:
            msg += f", but only {format_bytes(available)} is available"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)
