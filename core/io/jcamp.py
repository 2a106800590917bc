"""JCAMP-DX spectra through the ``jcamp`` package, checked.

``jcamp.read`` handles the labels, LINK (multi-block) files, AFFN, (XY..XY)
pairs and the ASDF forms SQZ and DIF. Two of its gaps are closed here before
it sees the text: DUP counts of two or more digits ("%T0" = 20 zero steps) and
DUP after a SQZ value are expanded, and inline ``$$`` comments are dropped.
What it only prints (failed y-checks, length mismatches) is captured and, with
a count against ##NPOINTS, turned into a :class:`LoadError`, so a truncated or
corrupt file never loads as a plausible-looking spectrum.
"""

from __future__ import annotations

import contextlib
import io as _pyio
import re
from dataclasses import dataclass, replace
from pathlib import Path

import jcamp
import numpy as np

from phasebrush.core.errors import LoadError
from phasebrush.core.io.common import decode_text, read_input_bytes, signal_from_xy
from phasebrush.core.signal import Signal

__all__ = ["JcampBlock", "jcamp_blocks", "list_jcamp_blocks", "load_jcamp", "jcamp_unit"]

_X_UNITS = {
    "1/CM": "cm^-1", "CM-1": "cm^-1", "CM^-1": "cm^-1", "WAVENUMBERS": "cm^-1",
    "MICROMETERS": "µm", "MICRONS": "µm", "UM": "µm",
    "NANOMETERS": "nm", "NM": "nm",
    "PPM": "ppm", "SECONDS": "s", "SEC": "s", "S": "s",
    "HZ": "Hz", "ARBITRARY UNITS": "",
}
_DUP = {c: i + 1 for i, c in enumerate("STUVWXYZs")}
_DATA_LABELS = ("xydata", "xypoints")


def jcamp_unit(label) -> str:
    """Project unit for a ##XUNITS value: "1/CM" -> "cm^-1", "NANOMETERS" -> "nm" ..."""
    text = str(label or "").strip()
    return _X_UNITS.get(text.upper(), text.lower())


def _y_unit(label) -> str:
    text = str(label or "").strip()
    return "" if text.upper() in ("", "ARBITRARY UNITS") else text.lower()


@dataclass(frozen=True)
class JcampBlock:
    """One block of a JCAMP-DX file.

    Attributes
    ----------
    index : int
        0-based position (the ``block`` argument of :func:`load_jcamp`).
    title : str
        ##TITLE.
    data_type : str
        ##DATA TYPE ("INFRARED SPECTRUM", "INFRARED PEAK TABLE" ...).
    n_points : int
        Decoded points (0 for blocks with no continuous x/y data).
    has_xy : bool
        The block holds ##XYDATA or ##XYPOINTS, i.e. a spectrum to load.
    """

    index: int
    title: str
    data_type: str
    n_points: int
    has_xy: bool


def _expand_dup(line: str) -> str:
    """Replace DUP tokens with copies of the token before them.

    ``jcamp.parse`` reads only one-digit DUP counts that follow a DIF token;
    this accepts any count after any value token. Tokens are joined with no
    separator (jcamp reads a space as the end of DIF mode), except before a
    bare AFFN number, which needs one.
    """
    tokens: list[str] = []
    for ch in line:
        if ch.isdigit() or ch == ".":
            if tokens and tokens[-1] != " ":
                tokens[-1] += ch
            else:
                tokens.append(ch)
        elif ch in " \t,":
            tokens.append(" ")
        else:
            tokens.append(ch)
    out: list[str] = []
    for tok in tokens:
        if tok[0] in _DUP:
            count = int(str(_DUP[tok[0]]) + tok[1:])
            prev = out[-1] if out else None
            if prev is None:
                raise ValueError(f"DUP {tok!r} with no value before it")
            out.extend([prev] * (count - 1))
        elif tok != " ":
            out.append(tok)
    return "".join((" " + t) if i and (t[0].isdigit() or t[0] == ".") else t
                   for i, t in enumerate(out))


def _prepare(text: str) -> list[str]:
    lines = []
    in_compressed = in_pairs = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("$$", 1)[0].rstrip() if not raw.startswith("##") else raw.rstrip()
        if not line.strip():
            continue
        if line.startswith("##"):
            if "=" not in line:
                raise ValueError(f"line {lineno}: label without '=': {line[:60]!r}")
            label = line[2:].split("=", 1)[0].strip().upper()
            value = line.split("=", 1)[1].strip().upper().replace(" ", "")
            in_compressed = label == "XYDATA" and value == "(X++(Y..Y))"
            in_pairs = label in ("XYDATA", "XYPOINTS") and value == "(XY..XY)"
        elif in_compressed and any(c in _DUP for c in line):
            line = _expand_dup(line)
        elif in_pairs:
            # jcamp skips pair lines it cannot read; a skipped line is lost data
            for tok in filter(None, re.split(r"[,;\s]+", line.strip())):
                try:
                    float(tok)
                except ValueError:
                    raise ValueError(f"line {lineno}: {tok!r} is not a number "
                                     f"in {line.strip()[:60]!r}") from None
        lines.append(line + "\n")
    return lines


def _parse(path: Path) -> tuple[list[dict], str]:
    text, _ = decode_text(read_input_bytes(path))
    if not text.lstrip("\ufeff \t\r\n").startswith("##"):
        raise LoadError(path, "not a JCAMP-DX file (it does not start with a ##LABEL= line)")
    if not re.search(r"^##END\s*=", text, flags=re.M | re.I):
        raise LoadError(path, "JCAMP-DX file ends without ##END=; it looks truncated")
    captured = _pyio.StringIO()
    try:
        lines = _prepare(text)
        with contextlib.redirect_stdout(captured):
            top = jcamp.read(lines)
    except KeyError as exc:
        label = str(exc).strip("'\"").upper()
        raise LoadError(path, f"JCAMP-DX data needs the label ##{label}=, which is missing") \
            from None
    except Exception as exc:  # the jcamp package raises bare Exception, ValueError, IndexError
        raise LoadError(path, f"not a readable JCAMP-DX file ({exc})") from None
    blocks = top.get("children") or [top]
    return blocks, captured.getvalue()


def _describe(blocks: list[dict]) -> tuple[JcampBlock, ...]:
    out = []
    for i, b in enumerate(blocks):
        has_xy = any(k in b for k in _DATA_LABELS) and len(b.get("y", ())) > 0
        out.append(JcampBlock(index=i, title=str(b.get("title", f"block {i + 1}")),
                              data_type=str(b.get("data type", b.get("datatype", ""))),
                              n_points=len(b.get("y", ())) if has_xy else 0, has_xy=has_xy))
    return tuple(out)


def jcamp_blocks(path) -> tuple[JcampBlock, ...]:
    """Every block of a JCAMP-DX file (one for a simple file), in order."""
    blocks, _ = _parse(Path(path))
    return _describe(blocks)


def list_jcamp_blocks(path) -> list[str]:
    """Titles of the blocks of a JCAMP-DX file, in order (index = ``block``)."""
    return [b.title for b in jcamp_blocks(path)]


def load_jcamp(path, *, block: int | None = None) -> Signal:
    """Load one spectrum from a JCAMP-DX file.

    Parameters
    ----------
    path : str or Path
    block : int or None
        0-based block of a LINK file; None takes the first with x/y data.

    Returns
    -------
    Signal
        ``unit`` from ##XUNITS ("cm^-1", "nm", "µm", "ppm", "s", "Hz"),
        ``y_unit`` from ##YUNITS (lower case), ascending axis with
        ``descending=True`` when the file runs high to low.

    Raises
    ------
    LoadError
        Unparseable, truncated (no ##END=, fewer points than ##NPOINTS),
        failed DIF y-checks, no block with data, ``block`` out of range.
    """
    p = Path(path)
    blocks, printed = _parse(p)
    info = _describe(blocks)
    listing = "; ".join(f"{b.index}: {b.title!r} ({b.n_points} points)" if b.has_xy
                        else f"{b.index}: {b.title!r} (no x/y data)" for b in info)
    notes = []
    if block is None:
        chosen = next((b for b in info if b.has_xy), None)
        if chosen is None:
            raise LoadError(p, f"no block holds x/y spectrum data; blocks: {listing}")
        if len(info) > 1:
            notes.append(f"loaded block {chosen.index + 1} of {len(info)} "
                         f"({chosen.title!r}), the first with x/y data")
    else:
        if not 0 <= int(block) < len(info):
            raise LoadError(p, f"block {block} does not exist; blocks: {listing}")
        chosen = info[int(block)]
        if not chosen.has_xy:
            raise LoadError(p, f"block {block} ({chosen.title!r}) holds no x/y spectrum "
                               f"data; blocks: {listing}")
        if len(info) > 1:
            notes.append(f"loaded block {chosen.index + 1} of {len(info)} ({chosen.title!r})")
    b = blocks[chosen.index]
    if "Y-Check failed" in printed:
        first = next(ln for ln in printed.splitlines() if "Y-Check failed" in ln)
        raise LoadError(p, f"compressed data is corrupt: {first}")
    x = np.asarray(b["x"], dtype=np.float64)
    y = np.asarray(b["y"], dtype=np.float64)
    expected = b.get("npoints")
    if isinstance(expected, (int, float)) and len(y) != int(expected):
        raise LoadError(p, f"decoded {len(y)} points but ##NPOINTS={int(expected)}; the file "
                           "looks truncated or corrupt")
    if len(x) != len(y):
        raise LoadError(p, f"decoded {len(x)} x values but {len(y)} y values; the file "
                           "looks truncated or corrupt")
    if "X-Check failed" in printed:
        n_bad = printed.count("X-Check failed")
        notes.append(f"{n_bad} data line(s) start at an x that disagrees with "
                     "##FIRSTX/##LASTX; x taken from the header")
    sig = signal_from_xy(x, y, path=p, unit=jcamp_unit(b.get("xunits")),
                         y_unit=_y_unit(b.get("yunits")), notes=notes)
    if len(info) > 1:
        sig = replace(sig, name=f"{p.stem}: {chosen.title}")
    return sig
