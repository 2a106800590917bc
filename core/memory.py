"""A memory budget: refuse work that would not fit before it runs the machine out.

Long recordings make transforms of many gigabytes (a 1 h CWT at 48 kHz with
300 rows is ~7 TB), and numpy's MemoryError then surfaces as a traceback, or
the machine swaps. Callers estimate the peak of their work and call
:func:`check_fits` first; it raises :class:`~core.errors.OutOfMemoryError`
with the estimate, what is available and what to change.

The budget is, in order: what :func:`set_budget` set, the environment
variable ``PHASEBRUSH_MEMORY_BUDGET`` (bytes, or with a unit: "8G", "512M",
"1.5GiB"), else :data:`DEFAULT_FRACTION` of the memory available now. Where
the available memory cannot be read (and nothing was set) nothing is refused.
"""

from __future__ import annotations

import os
import re

from phasebrush.core.errors import OutOfMemoryError, ParameterError, format_bytes

__all__ = [
    "DEFAULT_FRACTION", "ENV_VAR", "available_bytes", "set_budget", "budget_bytes",
    "parse_bytes", "check_fits",
]

DEFAULT_FRACTION = 0.6   # leave room for the GUI, the OS and copies we do not count
ENV_VAR = "PHASEBRUSH_MEMORY_BUDGET"

_budget: int | None = None

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def available_bytes() -> int | None:
    """Memory the system can give now, in bytes (None = unknown).

    Linux's ``MemAvailable`` (free plus reclaimable cache) from
    /proc/meminfo, else ``os.sysconf`` free pages (an underestimate where
    the OS caches files).
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def parse_bytes(text) -> int:
    """``"8G"`` -> 8589934592; ``"512M"``, ``"1.5GiB"``, ``"1000"`` (binary units).

    Raises
    ------
    ParameterError
        Not a positive size.
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*",
                     str(text))
    if not m:
        raise ParameterError(f"memory size {text!r}: expected bytes or a size like '8G'")
    n = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not n > 0 or n != n or n == float("inf"):
        raise ParameterError(f"memory size {text!r} must be a positive size")
    return int(n)


def set_budget(n_bytes: int | str | None) -> None:
    """Set the budget for this process (bytes or "8G"); None = back to the default."""
    global _budget
    _budget = None if n_bytes is None else parse_bytes(n_bytes)


def budget_bytes() -> int | None:
    """The budget in bytes now (see the module docstring); None = no limit known.

    Raises
    ------
    ParameterError
        ``PHASEBRUSH_MEMORY_BUDGET`` is set to something that is not a size.
    """
    if _budget is not None:
        return _budget
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        try:
            return parse_bytes(env)
        except ParameterError as exc:
            raise ParameterError(f"environment variable {ENV_VAR}: {exc}") from None
    avail = available_bytes()
    return None if avail is None else int(avail * DEFAULT_FRACTION)


def check_fits(what: str, n_bytes: float, *, hint: str = "") -> None:
    """Raise OutOfMemoryError when ``n_bytes`` exceeds the budget.

    Parameters
    ----------
    what : str
        Names the work, with its file ("CWT of song.wav (26460000 samples, 297 rows)").
    n_bytes : float
        Its estimated peak.
    hint : str
        What to change to make it smaller.
    """
    budget = budget_bytes()
    if budget is not None and n_bytes > budget:
        if hint:
            hint = f"{hint} (budget {format_bytes(budget)}; set {ENV_VAR} to change it)"
        else:
            hint = f"budget {format_bytes(budget)}; set {ENV_VAR} to change it"
        raise OutOfMemoryError(what, n_bytes, available=budget, hint=hint)
