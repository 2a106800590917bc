"""What every reader shares: an input file's bytes, its text, a Signal from x and y.

:mod:`~phasebrush.core.io.signals` and :mod:`~phasebrush.core.io.jcamp` both build
on these, so neither needs the other to read a file (signals reaches JCAMP-DX
through jcamp only when a file is one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from phasebrush.core.errors import LoadError, ParameterError
from phasebrush.core.signal import Signal

__all__ = ["read_input_bytes", "decode_text", "signal_from_xy", "UNIFORM_TOLERANCE"]

#: Relative spread of the x steps above which an axis counts as non-uniform.
UNIFORM_TOLERANCE = 1e-3


def read_input_bytes(path, *, limit: int | None = None) -> bytes:
    """The bytes of an input file (the first ``limit`` if given), or a LoadError.

    Raises
    ------
    LoadError
        Missing, a folder, unreadable, or empty.
    """
    p = Path(path)
    try:
        if p.is_dir():
            raise LoadError(p, "is a folder, not a file")
        with open(p, "rb") as fh:
            data = fh.read() if limit is None else fh.read(limit)
    except FileNotFoundError:
        raise LoadError(p, "no such file") from None
    except PermissionError:
        raise LoadError(p, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise LoadError(p, f"cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise LoadError(p, "file is empty (0 bytes)")
    return data


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _bom_encoding(raw: bytes) -> tuple[str | None, int]:
    for bom, encoding in _BOMS:  # UTF-32 LE first: its BOM begins with UTF-16 LE's
        if raw.startswith(bom):
            return encoding, len(bom)
    return None, 0


def decode_text(raw: bytes, *, final: bool = True) -> tuple[str, str]:
    """Decode the bytes of a text file; return ``(text, encoding)``.

    A BOM decides (UTF-8, UTF-16 LE/BE, UTF-32); without one, UTF-8 is tried,
    then Windows-1252, then Latin-1 (which accepts any bytes). ``final=False``
    is for the head of a file: a multi-byte character cut at its end is dropped
    instead of making the decoding fail. A leading BOM is not part of ``text``.
    """
    import codecs

    encoding, skip = _bom_encoding(raw)
    candidates = [encoding] if encoding else ["utf-8", "cp1252", "latin-1"]
    for enc in candidates:
        try:
            decoder = codecs.getincrementaldecoder(enc.replace("-sig", ""))()
            return decoder.decode(raw[skip:], final=final), enc
        except UnicodeDecodeError:
            continue
    # a BOM followed by bytes that break its encoding (odd length, bad surrogates)
    return raw[skip:].decode(encoding.replace("-sig", ""), errors="replace"), encoding


def _make_signal(p: Path, y, *, dx, x0, unit, y_unit="", descending=False, notes=()) -> Signal:
    y = np.asarray(y, dtype=np.float64)
    if y.size < 2:
        raise LoadError(p, f"{y.size} sample(s); at least 2 are needed")
    bad = ~np.isfinite(y)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise LoadError(p, f"{int(bad.sum())} sample(s) are NaN or infinite (first at "
                           f"sample {i + 1})")
    if unit == "ms":  # keep audio-like time axes in seconds
        dx, x0, unit = dx * 1e-3, x0 * 1e-3, "s"
    try:
        return Signal(y, dx=dx, x0=x0, unit=unit, name=p.stem, source=p, y_unit=y_unit,
                      descending=descending, notes=tuple(notes))
    except ParameterError as exc:
        raise LoadError(p, str(exc)) from None


def signal_from_xy(x, y, *, path, unit: str = "", y_unit: str = "", notes=(),
                   line_numbers=None) -> Signal:
    """Build a Signal from an explicit x axis, making the axis uniform and ascending.

    Parameters
    ----------
    x, y : array_like [shape=(n,), real]
        Axis and samples in file order. ``x`` must be monotonic; runs of
        equal neighbouring x values are allowed (see Returns).
    path : str or Path
        The file they came from (name, source, and error messages).
    unit, y_unit : str
        Axis unit and sample unit.
    notes : sequence of str
        Notes to keep; one is added when points are merged or the axis is
        resampled.
    line_numbers : sequence of int, optional
        1-based file line of each point, to name it in messages; without it
        points are named by their 1-based position.

    Returns
    -------
    Signal
        A descending ``x`` is flipped (``descending=True``). Points that share
        an x value (real instrument exports repeat one now and then) are merged
        into one whose y is the mean of theirs. A non-uniform ``x`` (relative
        spread of steps > ``UNIFORM_TOLERANCE``) is resampled by linear
        interpolation onto the same count over the same span.

    Raises
    ------
    LoadError
        Lengths differ, fewer than 2 distinct x values, a NaN/inf x, or an x
        axis that turns back (not monotonic).
    """
    p = Path(path)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    notes = list(notes)

    def where(i: int) -> str:
        return f"line {line_numbers[i]}" if line_numbers is not None else f"point {i + 1}"

    if x.shape != y.shape:
        raise LoadError(p, f"x has {x.size} values but y has {y.size}")
    if y.size < 2:
        raise LoadError(p, f"{y.size} sample(s); at least 2 are needed")
    if not np.isfinite(x).all():
        raise LoadError(p, f"x value on {where(int(np.flatnonzero(~np.isfinite(x))[0]))} "
                           "is NaN or infinite")
    d = np.diff(x)
    moving = np.flatnonzero(d)
    if moving.size == 0:
        raise LoadError(p, f"all {x.size} x values are {float(x[0])!r}; an axis needs at "
                           "least 2 different values")
    descending = bool(d[moving[0]] < 0)
    wrong = np.flatnonzero(d > 0) if descending else np.flatnonzero(d < 0)
    if wrong.size:
        i = int(wrong[0])
        pair = (f"lines {line_numbers[i]} and {line_numbers[i + 1]}"
                if line_numbers is not None else f"points {i + 1} and {i + 2}")
        raise LoadError(p, f"x axis is not monotonic: {float(x[i])!r} then "
                           f"{float(x[i + 1])!r} on {pair}; it must rise or fall throughout")
    if moving.size < d.size:
        starts = np.concatenate([[True], d != 0])
        group = np.cumsum(starts) - 1
        counts = np.bincount(group)
        n_before = x.size
        x, y = x[starts], np.bincount(group, weights=y) / counts
        notes.append(f"merged {n_before - x.size} point(s) that repeat the x value before "
                     f"them (y averaged per x value); {n_before} points became {x.size}")
        if x.size < 2:  # pragma: no cover - excluded by the "all equal" check
            raise LoadError(p, f"{x.size} distinct x value(s); at least 2 are needed")
        d = np.diff(x)
    if descending:
        x, y, d = x[::-1], y[::-1], -d[::-1]
    n = x.size
    dx = (x[-1] - x[0]) / (n - 1)
    if not np.isfinite(dx) or dx <= 0:
        raise LoadError(p, f"x runs from {float(x[0])!r} to {float(x[-1])!r}; the spacing "
                           "cannot be represented")
    if (d.max() - d.min()) / dx > UNIFORM_TOLERANCE:
        grid = x[0] + dx * np.arange(n)
        grid[-1] = x[-1]
        y = np.interp(grid, x, y)
        shown = {"": "samples"}.get(unit, unit)
        notes.append(f"resampled {n} non-uniform points to a uniform grid of {n} points, "
                     f"spacing {dx:.6g} {shown}")
    return _make_signal(p, y, dx=dx, x0=x[0], unit=unit, y_unit=y_unit,
                        descending=descending, notes=notes)
