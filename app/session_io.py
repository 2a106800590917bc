"""Save and open sessions from the GUI; ask before unsaved work is lost.

* :func:`session_from_document` collects a :class:`core.io.session.Session` from
  a document (signal reference, transform settings, bands, painted masks,
  the retrieval result with its loss curve and how it stopped, the retrieval
  panel's settings in the session's ``view``).
* :func:`save_session_as` / :func:`save_session_to` write it with
  :func:`core.io.session.save_session` (atomic: a failed save leaves the
  previous session intact) and report failures in a message box.
* :func:`open_session` reads one; when its signal file has moved
  (:class:`core.io.session.MissingSourceError`) it asks the user to locate the
  file and relocates the session.
* :func:`apply_session` puts a session into a document: the signal and
  settings at once, the bands and masks once the transform exists.
* :class:`SessionState` knows the session file and whether there are
  unsaved changes; :func:`maybe_save` is the "Save changes?" prompt for
  closing or opening something else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from phasebrush.app.export import bands_from_layers, masks_from_layers, show_error
from phasebrush.core.engine.tiled_mask import TiledMask
from phasebrush.core.errors import LoadError, PhaseBrushError
from phasebrush.core.io.session import (
    SESSION_SUFFIX,
    MissingSourceError,
    Session,
    SessionResult,
    SignalRef,
    load_session,
    save_session,
)

__all__ = [
    "SESSION_FILTER", "SessionState", "RestoredRetrieval", "session_from_document",
    "save_session_to", "save_session_as", "open_session", "apply_session", "maybe_save",
    "ask_locate", "RETRIEVAL_PANEL_KEY",
]

SESSION_FILTER = f"PhaseBrush sessions (*{SESSION_SUFFIX});;All files (*)"
#: File-dialog filter for locating a moved signal file.
SIGNAL_FILTER = ("Signals (*.wav *.flac *.ogg *.aif *.aiff *.csv *.txt *.npy *.npz *.jdx *.dx);;"
                 "All files (*)")


@dataclass(frozen=True, eq=False)
class RestoredRetrieval:
    """A retrieval result read back from a session (what the document and the
    retrieval panel read of one: the estimate, its loss curve, how it stopped).

    ``loss_history`` is empty and ``n_iter`` / ``stop_reason`` None for a session
    saved before they were kept.
    """

    y: np.ndarray
    best_y: np.ndarray | None = None
    loss_history: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_iter: int | None = None
    stop_reason: str | None = None
    restored: bool = True

#: Where a session's ``view`` keeps the retrieval panel's settings.
RETRIEVAL_PANEL_KEY = "retrieval_panel"


class SessionState(QObject):
    """The session file a document belongs to and whether it has unsaved changes.

    Changes are: an edit on the layer undo stack, a new retrieval result, other
    transform settings or retrieval-panel settings than those saved. Opening another
    signal starts a new session with nothing to save yet.

    Signals
    -------
    modified_changed(bool)
    path_changed(str)
        "" for a session never saved.
    """

    modified_changed = Signal(bool)
    path_changed = Signal(str)

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.path: Path | None = None
        stack = doc.layers.undo_stack
        self._dirty = not stack.isClean()  # edits made before this object existed
        self._saved_spec = doc.spec
        self._saved_panel = dict(getattr(doc, "retrieval_settings", {}) or {})
        self._was = False
        self._restoring = False
        stack.indexChanged.connect(self._on_index_changed)
        doc.retrieval_finished.connect(lambda _r: self._touch())
        doc.signal_changed.connect(self._on_signal_changed)
        doc.tfr_changed.connect(self._emit)

    @property
    def modified(self) -> bool:
        if self.doc.signal is None:
            return False
        return (self._dirty or self.doc.spec != self._saved_spec
                or self._panel() != self._saved_panel)

    def _panel(self) -> dict:
        return dict(getattr(self.doc, "retrieval_settings", {}) or {})

    def settings_changed(self) -> None:
        """The retrieval panel's settings changed (the window's modified mark follows)."""
        self._emit()

    def mark_saved(self, path) -> None:
        """The document now equals the session at ``path``."""
        self.path = None if path is None else Path(path)
        self._dirty = False
        self._saved_spec = self.doc.spec
        self._saved_panel = self._panel()
        self.path_changed.emit("" if self.path is None else str(self.path))
        self._emit()

    def _touch(self) -> None:
        if not self._restoring:
            self._dirty = True
        self._emit()

    def _on_index_changed(self, _i: int) -> None:
        # clear() (a new transform grid) also moves the index: only real edits count.
        try:
            clean = self.doc.layers.undo_stack.isClean()
        except RuntimeError:  # the stack is being destroyed with its window
            return
        if not clean:
            self._touch()

    def _on_signal_changed(self) -> None:
        if self._restoring:
            return
        # A freshly opened file is on disk already: nothing to lose until it is edited.
        self.path = None
        self._dirty = False
        self._saved_spec = self.doc.spec
        self._saved_panel = self._panel()
        self.path_changed.emit("")
        self._emit()

    def _emit(self, *_):
        now = self.modified
        if now != self._was:
            self._was = now
            self.modified_changed.emit(now)


def session_from_document(doc, *, load_options=None, view=None,
                          embed: bool | None = None) -> Session:
    """The document as a :class:`core.io.session.Session`.

    Parameters
    ----------
    doc : app.document.DocumentModel
    load_options : Mapping or None
        The ``load_signal`` keywords the signal was opened with (a JCAMP
        ``block`` …), so it is loaded the same way next time.
    view : Mapping or None
        GUI state to keep (zoom, levels …), JSON values.
    embed : bool or None
        Store the samples in the session; None = only when the signal has no
        file (a demo, a result).
    """
    if doc.signal is None:
        raise PhaseBrushError("there is no signal to save in a session")
    ref = SignalRef.from_signal(doc.signal, options=load_options or {}, embed=embed)
    results = []
    y = doc.retrieval_y() if hasattr(doc, "retrieval_y") else None
    if y is not None:
        results.append(_retrieval_result(doc, y))
    view = dict(view or {})
    settings = getattr(doc, "retrieval_settings", None)
    if settings:
        view.setdefault(RETRIEVAL_PANEL_KEY, dict(settings))
    return Session(signal=ref, spec=doc.spec, bands=bands_from_layers(doc.layers),
                   masks=masks_from_layers(doc.layers), results=results, view=view)


def _retrieval_result(doc, y) -> SessionResult:
    """The document's retrieval as a session result: the estimate and its loss curve
    (arrays), how it ran and stopped (params), its figures (metrics)."""
    metrics = {k: v for k, v in dict(getattr(doc, "retrieval_metrics", {}) or {}).items()
               if isinstance(v, (int, float, str, bool))}
    res = doc.retrieval
    arrays = {"y": np.asarray(y, float)}
    hist = getattr(res, "loss_history", None)
    if hist is not None and np.size(hist):
        arrays["loss_history"] = np.asarray(hist, float).ravel()
    params = {"target": getattr(doc, "last_retrieval_target", "whole")}
    n_iter = getattr(res, "n_iter", None)
    if isinstance(n_iter, (int, np.integer)) and not isinstance(n_iter, bool):
        params["n_iter_run"] = int(n_iter)
    reason = getattr(res, "stop_reason", None)
    if isinstance(reason, str):
        params["stop_reason"] = reason
    run = getattr(doc, "last_retrieval_params", None)
    if run is not None:
        run = {k: v for k, v in asdict(run).items()
               if k not in ("spec", "extra") and (v is None or isinstance(v, (int, float, str)))}
        params["run"] = run
    spec = getattr(doc, "last_retrieval_spec", None)
    if spec is not None:
        params["spec"] = spec.to_dict()
    return SessionResult("retrieval", arrays=arrays, params=params, metrics=metrics)


def save_session_to(parent, doc, path, *, state: SessionState | None = None,
                    load_options=None, view=None, notify=None) -> bool:
    """Write the document's session to ``path``; a message box on failure.

    Returns True when written (and ``state`` marked saved).
    """
    path = Path(path)
    if path.suffix == "":
        path = path.with_suffix(SESSION_SUFFIX)
    try:
        session = session_from_document(doc, load_options=load_options, view=view)
        save_session(path, session)
    except (PhaseBrushError, OSError) as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        show_error(parent, "Save session",
                   f"Could not save the session to {path}:\n{problem}\n\n"
                   "Nothing was lost: your work is still open, and the previous session file "
                   "(if any) is unchanged. Choose another folder or name.")
        return False
    if state is not None:
        state.mark_saved(path)
    if notify is not None:
        notify(f"Saved session {path}")
    return True


def save_session_as(parent, doc, *, state: SessionState | None = None, start_dir: str = "",
                    load_options=None, view=None, notify=None) -> Path | None:
    """Ask for a file name and save; ask again after a failure. None when cancelled."""
    start = (state.path if state is not None and state.path is not None
             else Path(start_dir or ".") / f"{getattr(doc.signal, 'name', 'session')}"
                                           f"{SESSION_SUFFIX}")
    while True:
        name, _ = QFileDialog.getSaveFileName(parent, "Save session", str(start),
                                              SESSION_FILTER)
        if not name:
            return None
        if save_session_to(parent, doc, name, state=state, load_options=load_options,
                           view=view, notify=notify):
            p = Path(name)
            return p if p.suffix else p.with_suffix(SESSION_SUFFIX)
        start = Path(name)


def ask_locate(parent, missing: Path, session_path: Path) -> Path | None:
    """Ask where a session's signal file went. None when the user gives up."""
    answer = QMessageBox.question(
        parent, "Open session",
        f"The session {session_path.name} uses the signal file\n{missing}\n"
        "which is not there any more (moved or renamed?).\n\nLocate it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
    if answer != QMessageBox.StandardButton.Yes:
        return None
    start = missing.parent if missing.parent.is_dir() else session_path.parent
    name, _ = QFileDialog.getOpenFileName(parent, f"Locate {missing.name}",
                                          str(start / missing.name), SIGNAL_FILTER)
    return Path(name) if name else None


def open_session(parent, path=None, *, start_dir: str = "",
                 locate: Callable[[Path, Path], Path | None] | None = None):
    """Read a session and its signal, asking for a moved signal file.

    Parameters
    ----------
    path : str or Path or None
        None: ask with a file dialog.
    locate : callable(missing, session_path) -> Path or None
        How to ask for a missing signal file; default :func:`ask_locate`.

    Returns
    -------
    (Session, core.signal.Signal, Path) or None
        The session (relocated if its file moved), its signal and the
        session file's path; None when cancelled or unreadable (after a
        message naming the file and the problem).
    """
    if path is None:
        name, _ = QFileDialog.getOpenFileName(parent, "Open session", start_dir, SESSION_FILTER)
        if not name:
            return None
        path = name
    path = Path(path)
    if locate is None:
        def locate(missing, spath):
            return ask_locate(parent, missing, spath)
    try:
        session = load_session(path)
    except MissingSourceError as exc:
        session = None
        missing, pending = exc.missing, exc.session
    except (PhaseBrushError, OSError) as exc:
        show_error(parent, "Open session", f"Could not open the session {path}:\n"
                                           f"{getattr(exc, 'problem', None) or exc}")
        return None
    while True:
        if session is None:
            new = locate(missing, path)
            if new is None:
                show_error(parent, "Open session",
                           f"The session {path} was not opened: its signal file {missing} "
                           "is missing.")
                return None
            new = Path(new)
            if not new.is_file():
                show_error(parent, "Open session", f"{new} is not a file; choose the signal "
                                                   f"file {missing.name}.")
                continue
            session = pending.relocated(new)
        try:
            return session, session.signal.to_signal(), path
        except (PhaseBrushError, OSError) as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            where = session.signal.path
            if session.signal.embedded:
                show_error(parent, "Open session", f"Could not open the session {path}:\n"
                                                   f"{problem}")
                return None
            show_error(parent, "Open session",
                       f"The signal file {where} cannot be used for the session {path}:\n"
                       f"{problem}\n\nChoose the right file.")
            missing, session = where, None
            if not isinstance(exc, LoadError):
                return None


def apply_session(doc, session: Session, signal, *, state: SessionState | None = None,
                  path=None, on_restored: Callable[[], None] | None = None) -> None:
    """Load ``session`` into ``doc``.

    The signal and transform settings are set at once (the transform runs in
    the background); the bands and masks are added when it arrives, as one
    fresh start (the undo history is cleared, ``state`` marked saved to
    ``path``). A retrieval result becomes the document's retrieval. Masks
    saved soft (float) become painted masks of the cells >= 0.5.
    """
    if state is not None:
        state._restoring = True

    def give_up(_message: str = "") -> None:  # the transform failed: nothing to restore onto
        _disconnect()
        if state is not None:
            state._restoring = False

    def _disconnect() -> None:
        for sig, slot in ((doc.tfr_changed, restore), (doc.failed, give_up)):
            try:
                sig.disconnect(slot)
            except (RuntimeError, TypeError):
                pass

    def restore() -> None:
        _disconnect()
        if doc.key.signal != owner[0]:
            # Another file was opened before this session's transform arrived.
            if state is not None:
                state._restoring = False
            return
        layers = doc.layers
        shape = layers.shape
        for b in session.bands:
            lay = layers.add_band(b.upper, b.lower, name=b.name, color=b.color)
            if not b.visible:
                layers.set_visible(layers.index_of(lay), False)
        for name, m in session.masks.items():
            if isinstance(m, TiledMask):
                if not layers.long:
                    m = m.to_dense()   # a short grid holds dense masks
            else:
                m = np.asarray(m)
                if m.dtype != bool:
                    m = m >= 0.5
            if m.shape != shape:
                # The session's own settings made the grid; only a changed file gets here.
                doc.failed.emit(f"Session mask {name!r} is {m.shape[0]} x {m.shape[1]}, the "
                                f"transform {shape[0]} x {shape[1]}: the mask was not restored")
                continue
            layers.add_paint_layer(name=name, mask=m)
        layers.undo_stack.clear()
        if state is not None:
            state._restoring = False
            state.mark_saved(path)
        if on_restored is not None:
            on_restored()

    owner = [None]
    doc.tfr_changed.connect(restore)
    doc.failed.connect(give_up)
    doc.set_signal(signal, session.spec)
    owner[0] = doc.key.signal
    settings = session.view.get(RETRIEVAL_PANEL_KEY) if hasattr(session.view, "get") else None
    if isinstance(settings, dict) and hasattr(doc, "set_retrieval_settings"):
        doc.set_retrieval_settings(settings)
    for res in session.results:
        y = res.arrays.get("y") if hasattr(res.arrays, "get") else None
        if res.name == "retrieval" and y is not None and np.size(y) == signal.n:
            doc.set_retrieval(_restored_retrieval(doc, res, y), res.metrics)


def _restored_retrieval(doc, res: SessionResult, y) -> RestoredRetrieval:
    """A session's retrieval result (older sessions: the estimate alone)."""
    params = res.params if isinstance(res.params, dict) else {}
    hist = res.arrays.get("loss_history")
    hist = np.zeros(0) if hist is None else np.asarray(hist, float).ravel()
    n_iter = params.get("n_iter_run")
    if not isinstance(n_iter, int) or isinstance(n_iter, bool):
        n_iter = int(hist.size) if hist.size else None
    reason = params.get("stop_reason")
    target = params.get("target")
    if target in ("whole", "region"):
        doc.last_retrieval_target = target
    return RestoredRetrieval(np.asarray(y, float), loss_history=hist, n_iter=n_iter,
                             stop_reason=reason if isinstance(reason, str) else None)


def maybe_save(parent, doc, state: SessionState, *, save: Callable[[], bool] | None = None
               ) -> bool:
    """Before closing (or opening another file): offer to save unsaved changes.

    Returns True when it is fine to go on (saved, nothing to save, or the user
    chose Discard), False when the user cancelled or the save failed.
    """
    if not state.modified:
        return True
    name = state.path.name if state.path is not None else "this session"
    answer = QMessageBox.question(
        parent, "Unsaved changes",
        f"Save the changes to {name} before closing it?",
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
        | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
    if answer == QMessageBox.StandardButton.Discard:
        return True
    if answer != QMessageBox.StandardButton.Save:
        return False
    if save is not None:
        return bool(save())
    if state.path is not None:
        return save_session_to(parent, doc, state.path, state=state)
    return save_session_as(parent, doc, state=state) is not None
