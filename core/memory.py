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
    "parse_bytes", "check_fits", "estimate_transform_bytes", "estimate_retrieval_bytes",
    "RETRIEVAL_TRANSFORMS",
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


def estimate_transform_bytes(n_samples: int, spec, dx: float = 1.0) -> int:
    """Estimated peak memory of ``core.tf.transforms.transform`` for ``n_samples`` samples.

    Counts the arrays alive together at the worst moment, in bytes (complex128 = 16):

    - 'cwt': the filterbank ``rows x n_pad`` float64, the coefficients
      ``rows x N`` complex128, and two FFT blocks of ``block x n_pad``.
    - 'ssq_cwt': the same filterbank, the CWT and its time derivative and the
      squeezed result (3 x ``scales x N``), and the CWT blocks (3 x
      ``block x n_pad``).
    - 'stft': coefficients ``(n_fft//2+1) x frames``; 'ssq_stft': three such
      arrays; plus the frame blocks.

    Measured against tracemalloc on small cases, it errs by a few per cent
    (see tests/core/test_memory.py). It does not count the signal itself or
    copies a caller makes of the result. The CWT's scales and row frequencies
    are not counted either: core derives them in O(rows) memory (ssqueezepy's
    own derivation sampled wavelets on the ``p2up(N)`` grid, 2 GB at 10 min of
    44.1 kHz audio; core falls back to it only for lengths below ~1000).

    Parameters
    ----------
    n_samples : int
    spec : TransformSpec
    dx : float
        Sample spacing (the CWT's rows depend on it only through fmin/fmax).
    """
    from phasebrush.core.tf import transforms as T

    n = int(n_samples)
    c16, f8 = 16, 8
    block_elems = T._BLOCK_ELEMS
    if spec.is_cwt:
        n_pad, _ = T.cwt_padding(n)
        n_scales = len(T._selected_scales(spec, n, float(dx)))
        rows = n_scales + (2 if spec.edge_rows else 0)
        blk = T._row_block(n_pad)
        fb = rows * n_pad * f8 + 4 * n_pad * c16          # psi, edge-filter vectors
        if spec.kind == "cwt":
            work = rows * n * c16 + 2 * blk * n_pad * c16 + n_pad * c16
        else:
            blk = max(4, blk)
            cwt = 3 * n_scales * n * c16 + 3 * blk * n_pad * c16
            stack = 2 * rows * n * c16                    # squeezed rows + the stacked result
            work = max(cwt, stack)
        return int(fb + work)
    rows = int(spec.n_fft) // 2 + 1
    frames = T.stft_frames(n, int(spec.hop))
    block = 24 * min(block_elems, int(spec.n_fft) * frames)  # frame buffer, its rfft, a copy
    n_arrays = 1 if spec.kind == "stft" else 3
    return int(n_arrays * rows * frames * c16 + block + 2 * (n + int(spec.n_fft)) * f8)


#: Arrays a retrieval holds at once, in units of the transform's own peak: the target
#: magnitude, the estimate's transform and its adjoint's work, the method's state
#: (momentum, previous iterate, best estimate). A rough count, not yet measured.
RETRIEVAL_TRANSFORMS = 4


def estimate_retrieval_bytes(n_samples: int, spec, dx: float = 1.0) -> int:
    """Rough peak bytes of phase retrieval through ``spec`` over ``n_samples``:
    :data:`RETRIEVAL_TRANSFORMS` times :func:`estimate_transform_bytes`."""
    return RETRIEVAL_TRANSFORMS * int(estimate_transform_bytes(n_samples, spec, dx))
