"""Sessions: everything needed to come back to a piece of work, in two files.

A session is a JSON file plus, when there are arrays, one sidecar NPZ next to
it that the JSON names::

    work.pbsession                  JSON, human-readable
    work.3f9c2a1b.npz               arrays: embedded signal, masks, results

JSON layout (``version`` 1)::

    {"format": "phasebrush-session", "version": 1,
     "arrays": "work.3f9c2a1b.npz" | null,
     "signal": {"path": "/abs/file.wav" | null, "relative": "file.wav" | null,
                "options": {"channel": "mix", "block": 2, ...},   # load_signal keywords
                "embedded": "signal" | null,                     # key in the NPZ
                "n_samples": 48000, "dx": ..., "x0": ..., "unit": "s", "name": ...,
                "y_unit": "", "descending": false},
     "transform": TransformSpec.to_dict(),
     "bands": [Band as in core.tf.bands JSON, ...],
     "masks": [{"name": "painted", "key": "mask_0"}, ...],
     "results": [{"name": ..., "params": {...}, "metrics": {...},
                  "arrays": {"y": "result_0_0", ...}}, ...],
     "view": {...}}                                              # opaque to core

The GUI's phase retrieval is the result named ``"retrieval"``: arrays ``y`` (the
best estimate) and ``loss_history`` (one loss per iteration); params
``n_iter_run`` (iterations run), ``stop_reason``, ``target`` ("whole" /
"region"), ``run`` (the run's settings) and ``spec`` (the transform it went
through); metrics ``inconsistency``, ``sc_db``, ``rel_l2``. The retrieval
panel's settings are ``view["retrieval_panel"]``. Each of these was added
within version 1 and is optional: a session saved before them has the
estimate alone and loads as before.

Why a sidecar rather than base64 in the JSON: masks are large (rows x
samples), NPZ keeps dtype and values exactly and compresses a bool mask
~50x, and the JSON stays readable. The sidecar's name carries a random token
that changes on every save: the NPZ is written first (temp file + replace),
then the JSON (temp + replace), and only then is the sidecar the *previous*
JSON named deleted. A crash at any point leaves an old or new JSON that names
a complete sidecar; nothing half-written is ever referenced.

A signal from a file is stored by reference (absolute path, path relative to
the session's folder, and the load options); one with no file (a demo, an
unsaved result) is embedded. On load the relative path is tried first (the
folder was moved with its data), then the absolute one; if neither exists,
:class:`MissingSourceError` carries the missing path and the parsed session so
the GUI can ask the user where the file went and call
:meth:`Session.relocated` (or ``load_session(path, source=new)``).
"""

from __future__ import annotations

import io
import json
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from phasebrush.core.errors import LoadError, ParameterError, PhaseBrushError
from phasebrush.core.io.atomic import atomic_write_bytes, atomic_write_text
from phasebrush.core.signal import Signal
from phasebrush.core.tf.bands import Band, bands_from_dict, bands_to_dict
from phasebrush.core.tf.transforms import TransformSpec

__all__ = [
    "SESSION_FORMAT", "SESSION_VERSION", "SESSION_SUFFIX",
    "MissingSourceError", "SignalRef", "SessionResult", "Session",
    "save_session", "load_session",
]

SESSION_FORMAT = "phasebrush-session"
SESSION_VERSION = 1
SESSION_SUFFIX = ".pbsession"


class MissingSourceError(PhaseBrushError):
    """A session's signal file is not where the session says.

    Attributes
    ----------
    session_path : Path
        The session file being loaded.
    missing : Path
        The signal file that was looked for (absolute).
    session : Session
        Everything else, parsed; ``session.relocated(new_path)`` completes it.
    """

    def __init__(self, session_path, missing, session: Session):
        self.session_path = Path(session_path)
        self.missing = Path(missing)
        self.session = session
        super().__init__(f"{self.session_path}: the signal file {self.missing} is missing; "
                         "locate it to open the session")


@dataclass(frozen=True, eq=False)
class SignalRef:
    """Where a session's signal comes from.

    Attributes
    ----------
    path : Path or None
        The file to load (absolute), or None for an embedded signal.
    options : Mapping
        Keyword options for :func:`core.io.signals.load_signal` ("channel", "block",
        "dx", "unit").
    samples : np.ndarray [shape=(n,), float64] or None
        Embedded samples (signals that have no file).
    n_samples, dx, x0, unit, name, y_unit, descending
        The signal's shape and axis when saved; an embedded signal is rebuilt
        from them, a file's is checked against ``n_samples``.
    """

    path: Path | None = None
    options: Mapping = field(default_factory=dict)
    samples: np.ndarray | None = None
    n_samples: int = 0
    dx: float = 1.0
    x0: float = 0.0
    unit: str = "s"
    name: str = "signal"
    y_unit: str = ""
    descending: bool = False

    def __post_init__(self):
        if self.path is None and self.samples is None:
            raise ParameterError("a signal reference needs a file path or embedded samples")
        if self.path is not None:
            object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "options", dict(self.options))

    @property
    def embedded(self) -> bool:
        return self.path is None

    @classmethod
    def from_signal(cls, signal: Signal, *, options: Mapping | None = None,
                    embed: bool | None = None) -> SignalRef:
        """Reference ``signal``: by its file (``signal.source``) or embedded.

        ``embed=None`` embeds exactly when the signal has no source file.
        """
        if embed is None:
            embed = signal.source is None
        if not embed and signal.source is None:
            raise ParameterError(f"{signal.name}: has no source file to refer to; embed it")
        return cls(path=None if embed else Path(signal.source).absolute(),
                   options=dict(options or {}), samples=signal.y.copy() if embed else None,
                   n_samples=signal.n, dx=signal.dx, x0=signal.x0, unit=signal.unit,
                   name=signal.name, y_unit=signal.y_unit, descending=signal.descending)

    def to_signal(self) -> Signal:
        """The signal: rebuilt from embedded samples, or loaded from the file.

        Raises
        ------
        LoadError
            The file cannot be loaded, or now holds a different number of
            samples than when the session was saved (masks would not fit).
        """
        if self.samples is not None:
            return Signal(self.samples, dx=self.dx, x0=self.x0, unit=self.unit, name=self.name,
                          y_unit=self.y_unit, descending=self.descending)
        from phasebrush.core.io.signals import (
            load_signal,  # io pulls in soundfile / jcamp; only when needed
        )

        try:
            sig = load_signal(self.path, **self.options)
        except TypeError as exc:
            raise LoadError(self.path, f"bad load options {self.options} ({exc})") from None
        if self.n_samples and sig.n != self.n_samples:
            raise LoadError(self.path, f"holds {sig.n} samples but the session was saved "
                                       f"with {self.n_samples}; the file has changed")
        return sig


@dataclass(frozen=True, eq=False)
class SessionResult:
    """A computed result kept with the session (a retrieval, a reconstruction ...).

    Attributes
    ----------
    name : str
    arrays : Mapping[str, np.ndarray]
        Named arrays (signals, masks, loss curves), stored exactly.
    params : Mapping
        The parameters it was computed with (JSON values).
    metrics : Mapping
        Figures of merit (JSON values: numbers, strings, lists).
    """

    name: str
    arrays: Mapping = field(default_factory=dict)
    params: Mapping = field(default_factory=dict)
    metrics: Mapping = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Session:
    """One piece of work: signal, transform, bands, masks, results, view.

    Attributes
    ----------
    signal : SignalRef
    spec : TransformSpec
    bands : tuple of Band
    masks : Mapping[str, np.ndarray or TiledMask]
        Named masks [shape=(n_rows, n_frames)], bool or float, in order; a long
        recording's :class:`core.engine.tiled_mask.TiledMask` is stored as its runs.
    results : tuple of SessionResult
    view : Mapping
        The GUI's state (zoom, colour levels, selected band ...), JSON values;
        core does not read it.
    """

    signal: SignalRef
    spec: TransformSpec = field(default_factory=TransformSpec)
    bands: tuple[Band, ...] = ()
    masks: Mapping = field(default_factory=dict)
    results: tuple[SessionResult, ...] = ()
    view: Mapping = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "bands", tuple(self.bands))
        object.__setattr__(self, "masks", dict(self.masks))
        object.__setattr__(self, "results", tuple(self.results))
        object.__setattr__(self, "view", dict(self.view))

    def relocated(self, path) -> Session:
        """The same session with the signal file at ``path`` (after it moved)."""
        if self.signal.embedded:
            raise ParameterError("the session's signal is embedded; there is no file to relocate")
        return replace(self, signal=replace(self.signal, path=Path(path).absolute()))


# --------------------------------------------------------------------------- JSON values

def _jsonable(v, where: str):
    """``v`` as plain JSON values (numpy scalars and small arrays, tuples, Paths)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):  # JSON has no NaN/inf; keep them readable and round-trippable
            return {"__float__": repr(f)}
        return f
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, np.ndarray):
        return [_jsonable(x, where) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(x, where) for x in v]
    if isinstance(v, Mapping):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise ParameterError(f"{where}: key {k!r} is not a string")
            out[k] = _jsonable(x, f"{where}.{k}")
        return out
    raise ParameterError(f"{where}: {type(v).__name__} value {v!r} cannot be stored in a session")


def _from_json(v):
    if isinstance(v, dict):
        if set(v) == {"__float__"}:
            return float(v["__float__"])
        return {k: _from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_from_json(x) for x in v]
    return v


# --------------------------------------------------------------------------- save

def _relative(target: Path, folder: Path) -> str | None:
    try:
        return os.path.relpath(target, folder)
    except ValueError:  # another drive (Windows)
        return None


def _previous_sidecar(path: Path) -> Path | None:
    """The sidecar the session file now at ``path`` names, if it is readable."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        name = old.get("arrays")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(name, str) or Path(name).name != name:
        return None  # only ever delete a plain file name next to the session
    return path.parent / name


def save_session(path, session: Session) -> Path:
    """Write ``session`` to ``path`` (JSON) and its arrays to a sidecar NPZ, atomically.

    Parameters
    ----------
    path : str or Path
        The session file (suggested suffix :data:`SESSION_SUFFIX`).
    session : Session

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ParameterError
        Something in the session cannot be stored (a non-JSON view value, a
        mask that is not 2-D bool/float). Nothing is written.
    core.io.atomic.SaveError
        The folder is missing or read-only. The previous session, if any, is
        untouched.
    """
    path = Path(path)
    folder = path.parent
    arrays: dict[str, np.ndarray] = {}
    ref = session.signal

    sig = {"path": None, "relative": None, "options": _jsonable(ref.options, "signal options"),
           "embedded": None, "n_samples": int(ref.n_samples), "dx": float(ref.dx),
           "x0": float(ref.x0), "unit": ref.unit, "name": ref.name, "y_unit": ref.y_unit,
           "descending": bool(ref.descending)}
    if ref.embedded:
        arrays["signal"] = np.asarray(ref.samples, dtype=np.float64)
        sig["embedded"] = "signal"
        sig["n_samples"] = int(arrays["signal"].size)
    else:
        target = Path(os.path.abspath(ref.path))
        sig["path"] = str(target)
        sig["relative"] = _relative(target, Path(os.path.abspath(folder)))

    masks = []
    for i, (name, m) in enumerate(session.masks.items()):
        if hasattr(m, "intervals") and hasattr(m, "shape") and not isinstance(m, np.ndarray):
            # A long recording's tiled mask: its runs (3 x n_runs int64), not rows x samples.
            arrays[f"mask_{i}"] = np.stack(m.intervals())
            masks.append({"name": str(name), "key": f"mask_{i}", "format": "intervals",
                          "shape": [int(m.shape[0]), int(m.shape[1])]})
            continue
        m = np.asarray(m)
        if m.ndim != 2 or not (m.dtype == bool or np.issubdtype(m.dtype, np.floating)):
            raise ParameterError(f"mask {name!r}: must be a 2-D bool or float array, got "
                                 f"{m.dtype} {m.shape}")
        arrays[f"mask_{i}"] = m
        masks.append({"name": str(name), "key": f"mask_{i}"})

    results = []
    for i, res in enumerate(session.results):
        keys = {}
        for j, (aname, a) in enumerate(res.arrays.items()):
            a = np.asarray(a)
            if a.dtype == object:
                raise ParameterError(f"result {res.name!r}: array {aname!r} holds objects")
            arrays[f"result_{i}_{j}"] = a
            keys[str(aname)] = f"result_{i}_{j}"
        results.append({"name": str(res.name),
                        "params": _jsonable(res.params, f"result {res.name!r} params"),
                        "metrics": _jsonable(res.metrics, f"result {res.name!r} metrics"),
                        "arrays": keys})

    doc = {"format": SESSION_FORMAT, "version": SESSION_VERSION, "arrays": None,
           "signal": sig, "transform": session.spec.to_dict(),
           "bands": bands_to_dict(session.bands)["bands"], "masks": masks,
           "results": results, "view": _jsonable(session.view, "view")}

    previous = _previous_sidecar(path)
    sidecar = None
    if arrays:
        sidecar = folder / f"{path.stem}.{secrets.token_hex(4)}.npz"
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(sidecar, buf.getvalue())
        doc["arrays"] = sidecar.name
    text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
    try:
        atomic_write_text(path, text)
    except BaseException:
        if sidecar is not None:  # nobody names it: do not leave it behind
            sidecar.unlink(missing_ok=True)
        raise
    if previous is not None and previous != sidecar:
        try:
            previous.unlink(missing_ok=True)
        except OSError:
            pass  # a stale sidecar is harmless; the new session is complete
    return path


# --------------------------------------------------------------------------- load

def _need(d: Mapping, key: str, typ, where: str, path):
    if key not in d:
        raise LoadError(path, f"{where}: '{key}' is missing")
    v = d[key]
    types = typ if isinstance(typ, tuple) else (typ,)
    if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
        names = "/".join(t.__name__ for t in types)
        raise LoadError(path, f"{where}: '{key}' must be {names}, got {json.dumps(v)[:60]}")
    return v


def _load_arrays(path: Path, name) -> dict:
    if name is None:
        return {}
    if not isinstance(name, str) or Path(name).name != name:
        raise LoadError(path, f"'arrays' must be a file name next to the session, got {name!r}")
    npz = path.parent / name
    try:
        with np.load(npz, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise LoadError(path, f"its array file {npz.name} is missing (it must stay next to "
                              "the session file)") from None
    except Exception as exc:  # zip errors, truncation, pickled content
        raise LoadError(npz, f"not a readable session array file ({exc})") from None


def _array(arrays: dict, key, what: str, path) -> np.ndarray:
    if not isinstance(key, str) or key not in arrays:
        raise LoadError(path, f"{what}: array {key!r} is not in the session's array file")
    return arrays[key]


def load_session(path, *, source=None) -> Session:
    """Read a session written by :func:`save_session`.

    Parameters
    ----------
    path : str or Path
    source : str or Path or None
        Where the signal file is now, when it has moved (the answer to a
        :class:`MissingSourceError`).

    Returns
    -------
    Session
        Its ``signal.path`` exists (or the signal is embedded); call
        ``session.signal.to_signal()`` to get the samples.

    Raises
    ------
    LoadError
        Unreadable or invalid JSON, not a session, a newer format, a missing
        or corrupt array file, malformed bands / transform settings.
    MissingSourceError
        The signal file is at neither its relative nor its absolute path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LoadError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(path, f"cannot read the session ({exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(path, f"not valid JSON: {exc.msg} at line {exc.lineno}, "
                              f"column {exc.colno}") from None
    if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
        raise LoadError(path, f"not a PhaseBrush session (no \"format\": \"{SESSION_FORMAT}\")")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise LoadError(path, f"bad session version {version!r}")
    if version > SESSION_VERSION:
        raise LoadError(path, f"session format version {version} is newer than this PhaseBrush "
                              f"reads ({SESSION_VERSION}); update PhaseBrush")
    arrays = _load_arrays(path, doc.get("arrays"))

    try:
        spec = TransformSpec.from_dict(_need(doc, "transform", dict, "session", path))
    except (ParameterError, TypeError) as exc:
        raise LoadError(path, f"transform settings: {exc}") from None
    try:
        bands = bands_from_dict({"bands": _need(doc, "bands", list, "session", path)})
    except ParameterError as exc:
        raise LoadError(path, str(exc)) from None

    masks = {}
    for i, item in enumerate(_need(doc, "masks", list, "session", path), start=1):
        if not isinstance(item, dict):
            raise LoadError(path, f"mask {i}: must be an object")
        name = _need(item, "name", str, f"mask {i}", path)
        m = _array(arrays, item.get("key"), f"mask {name!r}", path)
        if item.get("format") == "intervals":
            from phasebrush.core.engine.tiled_mask import TiledMask

            shape = item.get("shape")
            if (not isinstance(shape, list) or len(shape) != 2 or m.ndim != 2
                    or m.shape[0] != 3 or not np.issubdtype(m.dtype, np.integer)):
                raise LoadError(path, f"mask {name!r}: intervals stored as {m.dtype} {m.shape} "
                                      f"with shape {shape!r}, not 3 x n runs")
            try:
                masks[name] = TiledMask.from_intervals(int(shape[0]), int(shape[1]), *m)
            except (ParameterError, TypeError, ValueError) as exc:
                raise LoadError(path, f"mask {name!r}: {exc}") from None
            continue
        if m.ndim != 2 or not (m.dtype == bool or np.issubdtype(m.dtype, np.floating)):
            raise LoadError(path, f"mask {name!r}: stored as {m.dtype} {m.shape}, not a 2-D "
                                  "bool/float mask")
        masks[name] = m

    results = []
    for i, item in enumerate(_need(doc, "results", list, "session", path), start=1):
        if not isinstance(item, dict):
            raise LoadError(path, f"result {i}: must be an object")
        name = _need(item, "name", str, f"result {i}", path)
        keys = _need(item, "arrays", dict, f"result {name!r}", path)
        results.append(SessionResult(
            name=name,
            arrays={k: _array(arrays, v, f"result {name!r}", path) for k, v in keys.items()},
            params=_from_json(_need(item, "params", dict, f"result {name!r}", path)),
            metrics=_from_json(_need(item, "metrics", dict, f"result {name!r}", path))))
    view = _from_json(doc.get("view", {}))
    if not isinstance(view, dict):
        raise LoadError(path, "'view' must be an object")

    s = _need(doc, "signal", dict, "session", path)
    meta = {"n_samples": _need(s, "n_samples", int, "signal", path),
            "dx": float(_need(s, "dx", (int, float), "signal", path)),
            "x0": float(_need(s, "x0", (int, float), "signal", path)),
            "unit": _need(s, "unit", str, "signal", path),
            "name": _need(s, "name", str, "signal", path),
            "y_unit": s.get("y_unit", ""), "descending": bool(s.get("descending", False))}
    options = s.get("options") or {}
    if not isinstance(options, dict):
        raise LoadError(path, "signal: 'options' must be an object")
    try:
        if s.get("embedded") is not None:
            samples = _array(arrays, s["embedded"], "signal", path)
            ref = SignalRef(samples=samples, options=options, **meta)
        else:
            abs_path = _need(s, "path", str, "signal", path)
            ref = SignalRef(path=Path(abs_path), options=options, **meta)
    except ParameterError as exc:
        raise LoadError(path, f"signal: {exc}") from None
    session = Session(signal=ref, spec=spec, bands=bands, masks=masks, results=results,
                      view=view)

    if ref.embedded:
        return session
    if source is not None:
        new = Path(source)
        if not new.is_file():
            raise MissingSourceError(path, new.absolute(), session)
        return session.relocated(new)
    candidates = []
    rel = s.get("relative")
    if isinstance(rel, str):
        candidates.append(path.parent / rel)
    candidates.append(ref.path)
    for c in candidates:
        if c.is_file():
            return session.relocated(c)
    raise MissingSourceError(path, ref.path, session)
