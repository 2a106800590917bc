"""What ``phasebrush batch`` runs over: a folder, a glob or a CSV manifest, as items.

A manifest is a CSV file with a header row; column ``signal`` (or ``path``) names
each item's signal file, and the job's other inputs come from the columns
``heatmap``, ``bands`` and ``magnitude`` where present; an optional ``id``
column names the item's outputs. Relative paths are relative to the manifest.
"""

from __future__ import annotations

import csv
import glob
import re
from dataclasses import dataclass, field
from pathlib import Path

from phasebrush.core.errors import ParameterError

__all__ = ["Item", "collect_items", "SIGNAL_SUFFIXES", "HEATMAP_SUFFIXES"]

#: What ``load_signal`` reads (and ``load_magnitude``: .npz), for folders and globs.
SIGNAL_SUFFIXES = (".wav", ".wave", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".csv", ".txt",
                   ".tsv", ".dat", ".xy", ".asc", ".prn", ".jdx", ".dx", ".jcamp", ".jcm",
                   ".npy", ".npz")
HEATMAP_SUFFIXES = (".npy", ".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
_EXTRA_COLUMNS = ("heatmap", "bands", "magnitude")


@dataclass(frozen=True)
class Item:
    """One unit of work.

    Attributes
    ----------
    id : str
        Unique within the run; names the item's outputs (``OUTDIR/<id>.*``).
    signal : Path
        The item's signal (or, for ``retrieve``, a magnitude NPZ).
    extra : dict of str -> Path
        Per-item inputs: "heatmap", "bands", "magnitude".
    """

    id: str
    signal: Path
    extra: dict = field(default_factory=dict)


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "item"


def _ids(paths: list[Path], root: Path | None) -> list[str]:
    """Output names: the path below ``root`` without its suffix ("a/b.wav" -> "a__b");
    where two would clash, the suffix is kept ("b.wav", "b.csv")."""
    def stem(p: Path, keep_suffix: bool) -> str:
        rel = p.relative_to(root) if root is not None and p.is_relative_to(root) else Path(p.name)
        parts = list(rel.parts)
        parts[-1] = rel.name if keep_suffix else rel.stem
        return _safe_id("__".join(parts))

    first = [stem(p, False) for p in paths]
    clash = {s for s in first if first.count(s) > 1}
    ids = [stem(p, True) if s in clash else s for p, s in zip(paths, first, strict=True)]
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        n = seen.get(i, 0)
        seen[i] = n + 1
        out.append(i if n == 0 else f"{i}_{n + 1}")
    return out


def _manifest(path: Path) -> list[Item]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ParameterError(f"{path}: cannot read the manifest ({exc})") from None
    if not rows:
        raise ParameterError(f"{path}: the manifest has no rows")
    header = {k.strip().lower(): k for k in rows[0] if k is not None}
    column = header.get("signal") or header.get("path")
    if column is None:
        raise ParameterError(f"{path}: the manifest needs a 'signal' column (got "
                             f"{', '.join(header) or 'no header'})")
    base = path.parent
    paths, extras, given = [], [], []
    for line, row in enumerate(rows, start=2):
        value = (row.get(column) or "").strip()
        if not value:
            raise ParameterError(f"{path}: line {line}: empty '{column}'")
        paths.append((base / value).resolve() if not Path(value).is_absolute() else Path(value))
        extra = {}
        for name in _EXTRA_COLUMNS:
            v = (row.get(header.get(name, ""), "") or "").strip() if name in header else ""
            if v:
                extra[name] = (base / v).resolve() if not Path(v).is_absolute() else Path(v)
        extras.append(extra)
        name = (row.get(header["id"]) or "").strip() if "id" in header else ""
        given.append(_safe_id(name) if name else "")
    ids = _ids(paths, base.resolve())
    ids = [g or i for g, i in zip(given, ids, strict=True)]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ParameterError(f"{path}: item ids repeat: {', '.join(dup[:5])}")
    return [Item(i, p, e) for i, p, e in zip(ids, paths, extras, strict=True)]


def collect_items(spec, *, suffixes=SIGNAL_SUFFIXES) -> list[Item]:
    """The items INPUT names, in a stable (sorted) order.

    Parameters
    ----------
    spec : str or Path
        A folder (its files with one of ``suffixes``, not recursive), a glob
        (``"data/**/*.jdx"``, recursive with ``**``), or a ``.csv`` manifest.

    Raises
    ------
    ParameterError
        Nothing matches, the folder or manifest cannot be read.
    """
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        files = sorted(p.resolve() for p in path.iterdir()
                       if p.is_file() and p.suffix.lower() in suffixes)
        root = path.resolve()
        if not files:
            raise ParameterError(f"{path}: no signal files here ({', '.join(suffixes[:6])} ...)")
    elif path.is_file() and path.suffix.lower() == ".csv" and _is_manifest(path):
        return _manifest(path)
    elif any(c in text for c in "*?["):
        files = sorted(Path(p).resolve() for p in glob.glob(text, recursive=True)
                       if Path(p).is_file())
        if not files:
            raise ParameterError(f"{text}: the pattern matches no file")
        root = _glob_root(text)
    elif path.is_file():
        files, root = [path.resolve()], path.resolve().parent
    else:
        raise ParameterError(f"{path}: no such file, folder or pattern")
    return [Item(i, p) for i, p in zip(_ids(files, root), files, strict=True)]


def _glob_root(pattern: str) -> Path:
    """The folder above a glob's first wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if any(c in part for c in "*?["):
            break
        fixed.append(part)
    return Path(*fixed).resolve() if fixed else Path.cwd()


def _is_manifest(path: Path) -> bool:
    """A CSV whose header names a 'signal' or 'path' column (a CSV signal has numbers)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError):
        return False
    names = {c.strip().lower() for c in next(csv.reader([first]), [])}
    return bool(names & {"signal", "path"})
