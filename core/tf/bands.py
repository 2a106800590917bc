"""Bands: regions between two drawn edges, in physical units.

A :class:`Band` is the region between an upper and a lower edge, each a
polyline of ``(time, frequency)`` vertices in the signal's units (seconds and
Hz for audio). Being physical, one band fits every transform of the signal:
:func:`band_ranges` evaluates it on any grid, so mapping a band drawn on one
transform onto another is just calling it with the other transform.

Bands are saved as JSON in the CLI's format::

    {"bands": [{"upper": [[t, f], ...], "lower": [[t, f], ...],
                "name": "whistle", "color": "#ff7f0e", "visible": true}]}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phasebrush.core.errors import LoadError, ParameterError
from phasebrush.core.io.atomic import atomic_write_text
from phasebrush.core.tf.masks import as_grid, inner_rows, ranges_to_mask

__all__ = [
    "PALETTE", "Band", "freq_unit", "band_ranges", "map_band", "band_mask",
    "bands_to_dict", "bands_from_dict", "save_bands", "load_bands",
]

# Colours handed to bands that come without one (a qualitative, colour-blind-safe set).
PALETTE = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
           "#ffffff")

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def freq_unit(unit: str) -> str:
    """Name of the frequency unit for an axis in ``unit`` ("s" -> "Hz")."""
    return {"s": "Hz", "ms": "kHz", "": "cycles/sample"}.get(unit, f"cycles/{unit}")


def _time_unit(unit: str) -> str:
    return unit or "samples"


def _edge(vertices, which: str, name: str) -> np.ndarray:
    e = np.array(vertices, dtype=np.float64)
    if e.ndim == 1 and e.size == 2:
        e = e[None, :]
    if e.ndim != 2 or e.shape[1] != 2 or e.shape[0] < 1:
        raise ParameterError(
            f"band '{name}': {which} edge must be (k >= 1, 2) (time, frequency) vertices, "
            f"got shape {e.shape}")
    if not np.all(np.isfinite(e)):
        raise ParameterError(f"band '{name}': {which} edge holds NaN or infinite values")
    if np.any(e[:, 1] < 0):
        raise ParameterError(
            f"band '{name}': {which} edge has a negative frequency ({e[:, 1].min():g})")
    e = e[np.argsort(e[:, 0], kind="stable")]
    dup = np.flatnonzero(np.diff(e[:, 0]) == 0)
    if dup.size:
        raise ParameterError(
            f"band '{name}': {which} edge has two vertices at time {e[dup[0], 0]:g}; "
            "an edge must be a function of time")
    e.setflags(write=False)
    return e


def _span(e: np.ndarray) -> tuple[float, float]:
    # A single vertex is a constant edge: defined at every time.
    return (-np.inf, np.inf) if e.shape[0] == 1 else (float(e[0, 0]), float(e[-1, 0]))


@dataclass(frozen=True, eq=False)
class Band:
    """The region between two edges drawn on a time-frequency image.

    Attributes
    ----------
    upper, lower : np.ndarray [shape=(k, 2), float64, read-only]
        ``(time, frequency)`` vertices in the signal's units, stored sorted by
        time (any order accepted). One vertex = a constant frequency at every
        time. The two edges may be given the other way round; the band is
        what lies between them.
    name : str
    color : str
        "#rrggbb" or "#rrggbbaa".
    visible : bool
        For views; :func:`band_ranges` ignores it.

    Raises
    ------
    ParameterError
        Malformed vertices, NaN, negative frequency, two vertices of one edge
        at the same time, a bad colour, or edges whose time spans do not meet.
    """

    upper: np.ndarray
    lower: np.ndarray
    name: str = "band"
    color: str = PALETTE[0]
    visible: bool = True

    def __post_init__(self):
        name = str(self.name)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "upper", _edge(self.upper, "upper", name))
        object.__setattr__(self, "lower", _edge(self.lower, "lower", name))
        if not isinstance(self.color, str) or not _COLOR.match(self.color):
            raise ParameterError(
                f"band '{name}': color {self.color!r} is not '#rrggbb' or '#rrggbbaa'")
        object.__setattr__(self, "visible", bool(self.visible))
        t0, t1 = self.time_span
        if t0 > t1:
            raise ParameterError(
                f"band '{name}': the upper edge spans t={_fmt_span(_span(self.upper))} and the "
                f"lower t={_fmt_span(_span(self.lower))}; they do not overlap")

    @classmethod
    def rectangle(cls, t0: float, t1: float, f_lo: float, f_hi: float, **kw) -> Band:
        """A band covering times ``t0..t1`` and frequencies ``f_lo..f_hi``."""
        return cls(upper=[[t0, f_hi], [t1, f_hi]], lower=[[t0, f_lo], [t1, f_lo]], **kw)

    @property
    def time_span(self) -> tuple[float, float]:
        """Times where both edges are defined (±inf where both are constant)."""
        (a0, a1), (b0, b1) = _span(self.upper), _span(self.lower)
        return max(a0, b0), min(a1, b1)

    @property
    def freq_span(self) -> tuple[float, float]:
        """Lowest and highest vertex frequency of either edge."""
        f = np.concatenate([self.upper[:, 1], self.lower[:, 1]])
        return float(f.min()), float(f.max())


def _fmt_span(span) -> str:
    return f"{span[0]:g}..{span[1]:g}"


def band_ranges(band: Band, tfr_or_grid, *, interp: str | None = None,
                notes: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-column half-open row ranges that ``band`` selects on a transform's grid.

    The band's vertex frequencies are first clamped to the rows' range,
    ``f_bot = frequencies[0]`` .. ``f_top = frequencies[-1]`` (edge rows
    included, at their nominal frequencies), so an edge drawn at 0 Hz or
    below the lowest analysed frequency selects from the bottom row (a CWT's
    low-pass edge row), and one above the highest up to the top row (the
    high-pass edge row, which an edge at Nyquist reaches, though its nominal
    frequency may lie above); the same for every transform kind. Then, for the
    column times ``t``::

        # interp="log": work in log-frequency
        rows    = np.log(frequencies)
        edge(t) = np.interp(t, e[:, 0], np.log(clip(e[:, 1], f_bot, f_top)))
        # interp="linear"
        rows    = frequencies
        edge(t) = np.interp(t, e[:, 0], clip(e[:, 1], f_bot, f_top))

        lo, hi = np.minimum(upper(t), lower(t)), np.maximum(upper(t), lower(t))
        start = np.searchsorted(rows, lo, side="left")
        end   = np.searchsorted(rows, hi, side="right")

    so row ``r`` is selected at column ``t`` when ``lo(t) <= rows[r] <= hi(t)``:
    both edges are inclusive, and an edge drawn exactly on a row frequency
    (at a vertex, or a constant edge) includes that row. An edge row is
    therefore selected only by a band that reaches its nominal frequency,
    in practice one clamped there. The band is empty (``end = start``) at
    columns outside :attr:`Band.time_span`, the times where both edges are
    defined (an edge is not extended past its first or last vertex; a
    one-vertex edge is defined everywhere).

    Parameters
    ----------
    band : Band
    tfr_or_grid : TFR or Grid
    interp : {"log", "linear"} or None
        How an edge varies in frequency between its vertices: straight in
        log-frequency or in frequency. None = "log" when the rows are
        log-spaced (CWT kinds), else "linear".
    notes : list or None
        When given, one line (str) is appended for each edge that was
        clamped, for the CLI and the GUI to show.

    Returns
    -------
    start, end : np.ndarray [shape=(n_frames,), int64]

    Raises
    ------
    ParameterError
        The band lies wholly outside the transform's frequency range (below
        its bottom row or above its top row) or time range.
    """
    g = as_grid(tfr_or_grid)
    if interp is None:
        interp = "log" if g.log_rows else "linear"
    if interp not in ("log", "linear"):
        raise ParameterError(f"interp={interp!r}; expected 'log' or 'linear'")
    a, b = inner_rows(g)
    if a == b:
        raise ParameterError("the transform has no rows besides its edge rows")
    f = g.frequencies
    fu, tu = freq_unit(g.unit), _time_unit(g.unit)
    f_bot, f_top = float(f[0]), float(f[-1])
    if interp == "log":
        pos = f[f > 0]
        if pos.size == 0:
            raise ParameterError("the transform has no row above 0; use interp='linear'")
        f_bot = max(f_bot, float(pos[0]))   # a 0 Hz row stays below every log band
    # A high-pass edge row sits nominally at max(Nyquist, ...): it holds what
    # lies above the wavelets up to Nyquist, so an edge at Nyquist reaches it.
    # Only a TFR knows its sample spacing; on a bare Grid the top row is the reach.
    f_reach = f_top
    dx = getattr(tfr_or_grid, "dx", None)
    if b < len(f) and isinstance(dx, (int, float)) and dx > 0:
        f_reach = min(f_top, 0.5 / float(dx) * (1 - 1e-9))
    lo_b, hi_b = band.freq_span
    if hi_b < f_bot or lo_b > f_top:
        raise ParameterError(
            f"band '{band.name}' lies {lo_b:g}-{hi_b:g} {fu}, outside the transform's "
            f"{f_bot:g}-{f_top:g} {fu}")
    t = g.times
    t0, t1 = band.time_span
    if t1 < t[0] or t0 > t[-1]:
        raise ParameterError(
            f"band '{band.name}' spans {t0:g}-{t1:g} {tu}, outside the transform's "
            f"{t[0]:g}-{t[-1]:g} {tu}")
    if notes is not None:
        what = "the low-pass edge row" if a > 0 else "the bottom row"
        if lo_b < f_bot:
            notes.append(f"band '{band.name}': edge at {lo_b:g} {fu} is below the lowest "
                         f"analysed frequency; clamped to {f_bot:g} {fu} ({what})")
        what = "the high-pass edge row" if b < len(f) else "the top row"
        if hi_b > f_top or (hi_b >= f_reach and b < len(f)):
            notes.append(f"band '{band.name}': edge at {hi_b:g} {fu} is above the highest "
                         f"analysed frequency; clamped to {f_top:g} {fu} ({what})")

    up = np.clip(band.upper[:, 1], f_bot, f_top)
    low = np.clip(band.lower[:, 1], f_bot, f_top)
    up[up >= f_reach] = f_top
    low[low >= f_reach] = f_top
    if interp == "log":
        with np.errstate(divide="ignore"):  # a 0 Hz row becomes -inf: below every band
            rows = np.log(f)
        u = np.interp(t, band.upper[:, 0], np.log(up))
        l = np.interp(t, band.lower[:, 0], np.log(low))
        # exp/log round trips must not lose the bottom and top rows a clamp aimed at
        rows = rows.copy()
        rows[np.isclose(f, f_bot, rtol=1e-12, atol=0)] = np.log(f_bot)
        rows[np.isclose(f, f_top, rtol=1e-12, atol=0)] = np.log(f_top)
    else:
        rows = f
        u = np.interp(t, band.upper[:, 0], up)
        l = np.interp(t, band.lower[:, 0], low)
    start = np.searchsorted(rows, np.minimum(u, l), side="left")
    end = np.searchsorted(rows, np.maximum(u, l), side="right")
    if t0 > min(t[0], t[-1]) or t1 < max(t[0], t[-1]):   # (the times are monotone)
        live = (t >= t0) & (t <= t1)
        end = np.where(live, end, start)
    return start.astype(np.int64, copy=False), end.astype(np.int64, copy=False)


def map_band(band: Band, dst, *, interp: str | None = None,
             notes: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``band`` on another transform ``dst``: bands are physical, so this is
    :func:`band_ranges` on ``dst``'s grid."""
    return band_ranges(band, dst, interp=interp, notes=notes)


def band_mask(bands, tfr_or_grid, *, interp: str | None = None,
              notes: list | None = None) -> np.ndarray:
    """Bool mask [shape=(n_rows, n_frames)] of the union of ``bands`` (one Band or a list).

    ``notes`` as in :func:`band_ranges`.
    """
    g = as_grid(tfr_or_grid)
    if isinstance(bands, Band):
        bands = [bands]
    out = np.zeros(g.shape, dtype=bool)
    for band in bands:
        out |= ranges_to_mask(*band_ranges(band, tfr_or_grid, interp=interp, notes=notes),
                              g.shape[0])
    return out


# --------------------------------------------------------------------------- JSON

_KEYS = ("upper", "lower", "name", "color", "visible")


def bands_to_dict(bands) -> dict:
    """JSON-ready ``{"bands": [...]}`` (round-trips exactly through :func:`bands_from_dict`)."""
    return {"bands": [
        {"name": b.name, "color": b.color, "visible": b.visible,
         "upper": b.upper.tolist(), "lower": b.lower.tolist()}
        for b in bands]}


def _pairs(v, key: str, where: str) -> list:
    msg = f"{where}: '{key}' must be a list of [t, f] pairs"
    if not isinstance(v, list) or not v:
        raise ParameterError(msg + (" (it is empty)" if isinstance(v, list) else ""))
    for i, p in enumerate(v):
        if (not isinstance(p, list) or len(p) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in p)):
            raise ParameterError(f"{msg}; item {i + 1} is {json.dumps(p)}")
    return v


def bands_from_dict(d) -> list[Band]:
    """Bands from the JSON structure of :func:`bands_to_dict`.

    ``name``, ``color`` and ``visible`` are optional (defaults: "band N", a
    :data:`PALETTE` colour, true). Bands are numbered from 1 in messages.

    Raises
    ------
    ParameterError
        "band 2: 'upper' must be a list of [t, f] pairs" and the like.
    """
    if not isinstance(d, dict) or "bands" not in d:
        raise ParameterError("the top level must be an object with a 'bands' list")
    if not isinstance(d["bands"], list):
        raise ParameterError("'bands' must be a list")
    out = []
    for i, item in enumerate(d["bands"], start=1):
        where = f"band {i}"
        if not isinstance(item, dict):
            raise ParameterError(f"{where}: must be an object, got {json.dumps(item)[:40]}")
        unknown = sorted(set(item) - set(_KEYS))
        if unknown:
            raise ParameterError(f"{where}: unknown key(s) {unknown}; known: {list(_KEYS)}")
        for key in ("upper", "lower"):
            if key not in item:
                raise ParameterError(f"{where}: '{key}' is missing")
            _pairs(item[key], key, where)
        name = item.get("name", f"band {i}")
        color = item.get("color", PALETTE[(i - 1) % len(PALETTE)])
        visible = item.get("visible", True)
        for key, v, typ in (("name", name, str), ("color", color, str), ("visible", visible, bool)):
            if not isinstance(v, typ):
                raise ParameterError(
                    f"{where}: '{key}' must be a {typ.__name__}, got {json.dumps(v)}")
        try:
            out.append(Band(item["upper"], item["lower"], name=name, color=color,
                            visible=visible))
        except ParameterError as exc:
            raise ParameterError(f"{where}: {exc}") from None
    return out


def save_bands(path, bands) -> None:
    """Write ``bands`` as JSON to ``path``, atomically."""
    text = json.dumps(bands_to_dict(bands), indent=2) + "\n"
    atomic_write_text(path, text)


def load_bands(path) -> list[Band]:
    """Read bands written by :func:`save_bands` (or by hand, in the same format).

    Raises
    ------
    LoadError
        Unreadable file, invalid JSON, an empty 'bands' list, or a malformed
        band (the message says which band, numbered from 1, and what is wrong).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LoadError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(path, f"cannot read the file ({exc})") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(path, f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise LoadError(path, "JSON nested too deeply to be a band file") from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of > 4300 digits
        raise LoadError(path, f"not valid JSON ({exc})") from None
    try:
        bands = bands_from_dict(d)
    except ParameterError as exc:
        raise LoadError(path, str(exc)) from None
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        # whatever slipped past the checks of a hand-made file: still the file's fault
        raise LoadError(path, f"malformed band data ({type(exc).__name__}: {exc})") from None
    if not bands:
        raise LoadError(path, "holds no bands (the 'bands' list is empty)")
    return bands
