"""The project's exception types.

Every failure a user can cause (a bad file, a bad parameter, a mask that does
not fit) raises :class:`PhaseBrushError` or a subclass, with a message that
names the file or value and says what is wrong, so the CLI and the GUI can
show it verbatim instead of a traceback.
"""

from __future__ import annotations

__all__ = ["PhaseBrushError", "ParameterError", "LoadError", "ShapeError", "Cancelled"]


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
