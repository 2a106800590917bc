"""Bands as selection tables: Raven-style tables and Audacity label tracks.

Both formats hold rectangles (a time span and a frequency span), so bands
are exported as their bounding boxes and imported as rectangular bands.

Raven selection table (tab-separated, one header line; shown here with
spaces and the View/Channel columns left out)::

    Selection  Begin Time (s)  End Time (s)  Low Freq (Hz)  High Freq (Hz)  Annotation
    1          0.5             1.25          200.0          800.0           whistle

Columns are found by header name, so extra columns (Raven writes many) and
any order are fine; "Selection", "View", "Channel" and "Annotation" are
optional on import. For an axis not in seconds the time columns read
"Begin (cm^-1)" / "End (cm^-1)" and the frequency columns
"Low Freq (cycles/cm^-1)" / "High Freq (cycles/cm^-1)".

Audacity label track (tab-separated, no header), with the optional
frequency line that spectral selections add ("-1" = undefined)::

    0.500000    1.250000    whistle
    \\   200.000000  800.000000
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from phasebrush.core.errors import LoadError, ParameterError
from phasebrush.core.io.atomic import atomic_write_text
from phasebrush.core.tf.bands import PALETTE, Band, freq_unit

__all__ = [
    "band_boxes", "save_selection_table", "load_selection_table",
    "save_audacity_labels", "load_audacity_labels", "load_selections",
]

_BEGIN = re.compile(r"^Begin(?: Time)? \((.*)\)$")
_END = re.compile(r"^End(?: Time)? \((.*)\)$")
_LOW = re.compile(r"^Low Freq \((.*)\)$")
_HIGH = re.compile(r"^High Freq \((.*)\)$")


def _num(x: float) -> str:
    # repr() of a float round-trips exactly through float().
    return repr(float(x))


def _clean(text: str) -> str:
    return " ".join(str(text).split())  # tabs and newlines would break the row


def band_boxes(bands, *, time_range: tuple[float, float] | None = None) -> np.ndarray:
    """Bounding boxes ``[t0, t1, f_lo, f_hi]`` of ``bands``.

    The time span is :attr:`Band.time_span` (where both edges are defined)
    clipped to ``time_range``; the frequency span is the lowest and highest
    vertex frequency of either edge.

    Returns
    -------
    np.ndarray [shape=(n_bands, 4), float64]

    Raises
    ------
    ParameterError
        A band with constant edges (unbounded in time) and no ``time_range``.
    """
    out = np.empty((len(bands), 4))
    for i, b in enumerate(bands):
        t0, t1 = b.time_span
        if time_range is not None:
            t0, t1 = max(t0, float(time_range[0])), min(t1, float(time_range[1]))
        if not (np.isfinite(t0) and np.isfinite(t1)):
            raise ParameterError(
                f"band '{b.name}' is unbounded in time (constant edges); pass time_range")
        out[i] = (t0, t1, *b.freq_span)
    return out


def save_selection_table(path, bands, *, unit: str = "s",
                         time_range: tuple[float, float] | None = None) -> None:
    """Write ``bands`` as a Raven-style selection table, atomically.

    Parameters
    ----------
    path : str or Path
    bands : list of Band
    unit : str
        The signal's axis unit (names the columns).
    time_range : (float, float) or None
        Clips the boxes in time; needed for bands with constant edges.
    """
    boxes = band_boxes(bands, time_range=time_range)
    tcol = "Time (s)" if unit == "s" else f"({unit or 'samples'})"
    begin, end = f"Begin {tcol}", f"End {tcol}"
    fu = freq_unit(unit)
    head = ["Selection", "View", "Channel", begin, end, f"Low Freq ({fu})",
            f"High Freq ({fu})", "Annotation"]
    lines = ["\t".join(head)]
    for i, (b, box) in enumerate(zip(bands, boxes, strict=True), start=1):
        lines.append("\t".join([str(i), "Spectrogram 1", "1", *map(_num, box), _clean(b.name)]))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _read_lines(path) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise LoadError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(path, f"cannot read the file ({exc})") from None


def _float(path, lineno: int, what: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise LoadError(path, f"line {lineno}: {what} is {text!r}, not a number") from None
    if not np.isfinite(v):
        raise LoadError(path, f"line {lineno}: {what} is {text!r}, not a finite number")
    return v


def _band(path, lineno: int, t0, t1, f_lo, f_hi, name: str, i: int) -> Band | None:
    if t1 < t0:
        raise LoadError(path, f"line {lineno}: the selection ends ({t1:g}) before it "
                              f"begins ({t0:g})")
    if t1 == t0:
        warnings.warn(f"{path}: line {lineno}: skipped a selection of zero duration at "
                      f"{t0:g}", stacklevel=3)
        return None
    try:
        return Band.rectangle(t0, t1, f_lo, f_hi, name=name,
                              color=PALETTE[i % len(PALETTE)])
    except ParameterError as exc:
        raise LoadError(path, f"line {lineno}: {exc}") from None


def load_selection_table(path, *, unit: str | None = None) -> list[Band]:
    """Read a Raven-style selection table as rectangular bands.

    Parameters
    ----------
    path : str or Path
    unit : str or None
        The signal's axis unit; when given, the table's time columns must be
        in it (a table in seconds does not fit a spectrum in cm^-1).

    Returns
    -------
    list of Band
        Named by the "Annotation" column, else "selection N" (the
        "Selection" column, else the row number). Zero-duration selections
        are skipped with a warning.

    Raises
    ------
    LoadError
        No header, a missing column, a table in another unit, a row with too
        few fields or a field that is not a number (with its line number).
    """
    lines = _read_lines(path)
    first = next((i for i, s in enumerate(lines) if s.strip()), None)
    if first is None:
        raise LoadError(path, "the file is empty")
    head = [h.strip() for h in lines[first].split("\t")]
    cols, units = {}, {}
    for j, h in enumerate(head):
        for key, rx in (("begin", _BEGIN), ("end", _END), ("low", _LOW), ("high", _HIGH)):
            m = rx.match(h)
            if m and key not in cols:
                cols[key], units[key] = j, m.group(1)
    missing = [k for k in ("begin", "end", "low", "high") if k not in cols]
    if missing:
        names = {"begin": "Begin Time", "end": "End Time", "low": "Low Freq",
                 "high": "High Freq"}
        raise LoadError(path, f"line {first + 1}: no {', '.join(names[k] for k in missing)} "
                              f"column in the header {head}")
    t_unit = "" if units["begin"] == "samples" else units["begin"]
    if unit is not None and t_unit != unit:
        raise LoadError(path, f"the table's times are in {t_unit!r}, the signal's in {unit!r}")
    name_col = next((j for j, h in enumerate(head) if h in ("Annotation", "Name", "Label")),
                    None)
    sel_col = head.index("Selection") if "Selection" in head else None
    bands = []
    for k, line in enumerate(lines[first + 1:], start=first + 2):
        if not line.strip():
            continue
        fields = line.split("\t")
        need = max(cols.values()) + 1
        if len(fields) < need:
            raise LoadError(path, f"line {k}: {len(fields)} field(s); the header needs {need}")
        v = {key: _float(path, k, head[j], fields[j].strip()) for key, j in cols.items()}
        label = ""
        if name_col is not None and name_col < len(fields):
            label = fields[name_col].strip()
        if not label:
            sel = (fields[sel_col].strip() if sel_col is not None and sel_col < len(fields)
                   else "") or str(len(bands) + 1)
            label = f"selection {sel}"
        b = _band(path, k, v["begin"], v["end"], v["low"], v["high"], label, len(bands))
        if b is not None:
            bands.append(b)
    return bands


def save_audacity_labels(path, bands, *, time_range: tuple[float, float] | None = None) -> None:
    """Write ``bands`` as an Audacity label track with frequency lines, atomically."""
    boxes = band_boxes(bands, time_range=time_range)
    lines = []
    for b, (t0, t1, f_lo, f_hi) in zip(bands, boxes, strict=True):
        lines.append(f"{_num(t0)}\t{_num(t1)}\t{_clean(b.name)}")
        lines.append(f"\\\t{_num(f_lo)}\t{_num(f_hi)}")
    atomic_write_text(path, "\n".join(lines) + "\n")


def load_audacity_labels(path, *, freq_range: tuple[float, float] | None = None) -> list[Band]:
    """Read an Audacity label track as rectangular bands.

    Parameters
    ----------
    path : str or Path
    freq_range : (float, float) or None
        Frequencies used where a label has no frequency line or an undefined
        ("-1") low or high frequency (the transform's range, say); None makes
        such labels an error.

    Returns
    -------
    list of Band
        Point labels (start == end) are skipped with a warning.

    Raises
    ------
    LoadError
        A line that is not "start<TAB>end[<TAB>label]" or "\\<TAB>low<TAB>high",
        a value that is not a number, or a missing frequency without
        ``freq_range`` (with the line number).
    """
    lines = _read_lines(path)
    rows = []  # [lineno, t0, t1, label, f_lo, f_hi]
    for k, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if fields[0].strip() == "\\":
            if not rows or rows[-1][4] is not None:
                raise LoadError(path, f"line {k}: a frequency line must follow a label line")
            if len(fields) < 3:
                raise LoadError(path, f"line {k}: a frequency line needs a low and a high value")
            rows[-1][4] = _float(path, k, "the low frequency", fields[1].strip())
            rows[-1][5] = _float(path, k, "the high frequency", fields[2].strip())
            continue
        if len(fields) < 2:
            raise LoadError(path, f"line {k}: expected 'start<TAB>end<TAB>label', got {line!r}")
        t0 = _float(path, k, "the start time", fields[0].strip())
        t1 = _float(path, k, "the end time", fields[1].strip())
        label = fields[2].strip() if len(fields) > 2 else ""
        rows.append([k, t0, t1, label, None, None])
    if not rows:
        raise LoadError(path, "no labels in the file")
    bands = []
    for k, t0, t1, label, f_lo, f_hi in rows:
        f = [f_lo, f_hi]
        for j in (0, 1):
            if f[j] is None or f[j] < 0:  # Audacity writes -1 for "undefined"
                if freq_range is None:
                    raise LoadError(path, f"line {k}: label {label!r} has no "
                                          f"{('low', 'high')[j]} frequency; pass freq_range")
                f[j] = float(freq_range[j])
        b = _band(path, k, t0, t1, f[0], f[1], label or f"label {len(bands) + 1}", len(bands))
        if b is not None:
            bands.append(b)
    return bands


def load_selections(path, **kw) -> list[Band]:
    """Read either format: a Raven table when the first line has a "Begin"
    column, else an Audacity label track. Keywords go to that reader."""
    lines = _read_lines(path)
    first = next((s for s in lines if s.strip()), "")
    is_raven = any(_BEGIN.match(h.strip()) for h in first.split("\t"))
    reader = load_selection_table if is_raven else load_audacity_labels
    allowed = {"unit"} if is_raven else {"freq_range"}
    return reader(path, **{k: v for k, v in kw.items() if k in allowed})
