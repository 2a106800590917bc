"""The document: one signal, its transform, the selection and what was computed from them.

:class:`DocumentModel` is a QObject without widgets. It owns

* the :class:`~core.signal.Signal` and the :class:`~core.transforms.TransformSpec`,
* the current TFR (recomputed in a :class:`~app.worker.Worker`, never in the
  GUI thread) and its dB image,
* a :class:`~app.layers.LayerModel` (bands and painted masks with undo),
* the inversion of the selection and its residual (updated synchronously on
  every edit: :class:`~app.selection_inverse.SelectionInverse` redoes only
  the columns an edit touched; hop > 1 STFTs invert the union mask),
* the phase-retrieval run (a second worker) and its result.

Views listen to the past-tense signals and call the public methods.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.layers import LayerModel
from app.selection_inverse import SelectionInverse
from app.worker import Worker
from core import inversion as cinv
from core.transforms import TransformSpec, transform

__all__ = ["DocumentModel", "RetrievalParams", "db_image", "retrieval_spec"]

_DB_FLOOR = -300.0


def db_image(tfr) -> np.ndarray:
    """20 log10 |coefficients| [shape=(n_rows, n_frames), float32, dB re 1]."""
    mag = np.abs(tfr.coefficients).astype(np.float32)
    with np.errstate(divide="ignore"):
        out = 20.0 * np.log10(mag)
    np.maximum(out, _DB_FLOOR, out=out)
    return out


@dataclass(frozen=True)
class RetrievalParams:
    """What the retrieval panel asks for (names follow core.retrieval.retrieve).

    ``target`` is "whole" (every magnitude) or "region" (only the painted
    selection constrains the estimate); ``spec`` None = the view's transform
    (a synchrosqueezed view retrieves through its plain CWT / STFT, the kinds
    retrieval supports). ``lr`` / ``tol`` None = core's defaults.
    """

    target: str = "whole"
    spec: TransformSpec | None = None
    method: str = "auto"
    optimizer: str = "sgdm"
    n_iter: int = 100
    tol: float | None = None
    lr: float | None = None
    seed: int = 0
    device: str = "auto"
    init: str = "pghi"
    extra: dict = field(default_factory=dict)


def retrieval_spec(spec: TransformSpec) -> TransformSpec:
    """The transform retrieval runs through for a view ``spec`` (ssq kinds -> plain)."""
    plain = {"ssq_cwt": "cwt", "ssq_stft": "stft"}
    return replace(spec, kind=plain.get(spec.kind, spec.kind))


class DocumentModel(QObject):
    """Signal + transform + selection + results, with background work.

    Signals
    -------
    signal_changed()
        A new signal was loaded (everything else is reset).
    busy_changed(bool)
        A transform is (no longer) being computed.
    tfr_changed()
        :attr:`tfr` and :attr:`image_db` hold a new transform.
    inversion_changed()
        :attr:`inversion` / :attr:`residual` changed (None: no selection).
    retrieval_started(), retrieval_progressed(object), retrieval_finished(object),
    retrieval_ended()
        A run began; a throttled progress report (dict: iteration, loss,
        inconsistency, estimate); the result; the worker is gone (after
        finishing, cancelling or failing).
    failed(str)
        A readable message for the user (load, transform or retrieval error).
    """

    signal_changed = Signal()
    busy_changed = Signal(bool)
    tfr_changed = Signal()
    inversion_changed = Signal()
    retrieval_started = Signal()
    retrieval_progressed = Signal(object)
    retrieval_finished = Signal(object)
    retrieval_ended = Signal()
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.signal = None
        self.spec = TransformSpec()
        self.tfr = None
        self.image_db: np.ndarray | None = None
        self.inversion: np.ndarray | None = None
        self.residual: np.ndarray | None = None
        self.inversion_ms: float = 0.0
        self.retrieval = None            # core RetrievalResult
        self.retrieval_metrics: dict = {}
        self.last_retrieval_target = "whole"
        #: Send the current estimate with progress reports (the panel's "preview").
        self.preview_enabled = True
        self.layers = LayerModel(self)
        self.layers.selection_changed.connect(self._on_selection_changed)
        self._range_inverter = None
        self._sel_cache = None
        self._transform_worker: Worker | None = None
        self._retrieval_worker: Worker | None = None
        self._pending_spec: TransformSpec | None = None
        self._generation = 0
        self._workers: set[Worker] = set()

    # -- signal & transform -----------------------------------------------------
    def set_signal(self, signal, spec: TransformSpec | None = None) -> None:
        """Show ``signal``; the transform is computed in the background."""
        self.signal = signal
        self.tfr = self.image_db = None
        self.inversion = self.residual = None
        self.retrieval = None
        self.retrieval_metrics = {}
        self._range_inverter = None
        self._sel_cache = None
        self.layers.clear()
        self.layers.undo_stack.clear()
        # The spec first: listeners of signal_changed see the settings this signal gets.
        self.spec = spec or self.spec
        self.signal_changed.emit()
        self.set_spec(self.spec)

    def set_spec(self, spec: TransformSpec) -> None:
        """Recompute the transform with ``spec`` (in a worker thread)."""
        self.spec = spec
        if self.signal is None:
            return
        if self._transform_worker is not None:
            # One transform at a time: the newest request waits for the running one.
            self._pending_spec = spec
            return
        self._generation += 1
        gen, sig = self._generation, self.signal

        def task(progress, cancel):
            tfr = transform(sig, spec)
            # The range inverter's cumulative sums make every later edit O(changed cells);
            # build them here, off the GUI thread.
            ri = cinv.RangeInverter(tfr) if _hop_one(tfr) else None
            return tfr, db_image(tfr), ri

        w = Worker(task, name="transform")
        w.succeeded.connect(lambda res, g=gen: self._on_transform_done(res, g))
        w.failed.connect(self._on_transform_failed)
        w.finished.connect(self._on_transform_thread_finished)
        self._transform_worker = w
        self._start(w)
        self.busy_changed.emit(True)

    @property
    def busy(self) -> bool:
        return self._transform_worker is not None

    def _on_transform_done(self, res, gen: int) -> None:
        if gen != self._generation or self._pending_spec is not None:
            return  # superseded while it ran
        tfr, img, ri = res
        self.tfr, self.image_db = tfr, img
        self._range_inverter = ri
        self._sel_cache = None
        self.layers.set_tfr(tfr)   # emits selection_changed -> inversion
        self.tfr_changed.emit()

    def _on_transform_failed(self, message: str, exc) -> None:
        self.failed.emit(message)

    def _on_transform_thread_finished(self) -> None:
        w, self._transform_worker = self._transform_worker, None
        self._forget(w)
        pending, self._pending_spec = self._pending_spec, None
        if pending is not None:
            self.set_spec(pending)
        else:
            self.busy_changed.emit(False)

    # -- inversion of the selection ---------------------------------------------
    def _on_selection_changed(self) -> None:
        self.update_inversion()

    def update_inversion(self) -> None:
        """Recompute the selection's inversion and residual (synchronously).

        Hop-1 transforms: :class:`~app.selection_inverse.SelectionInverse`
        redoes only the columns the edit touched (O(changed cells) for a
        stroke, O(n_frames) for a band), never building the union mask.
        Other transforms: the one-integral inverse of the union mask.
        """
        t0 = time.perf_counter()
        tfr, ri = self.tfr, self._range_inverter
        if tfr is None or self.signal is None:
            self.inversion = self.residual = None
            self._sel_cache = None
        elif (ri is not None and ri.cumsum is not None
              and sum(not lay.is_band for lay in self.layers.visible_layers()) < 255):
            # (SelectionInverse counts painted layers per cell in a uint8)
            if self._sel_cache is None:
                self._sel_cache = SelectionInverse(ri)
            x = self._sel_cache.update(self.layers.visible_layers(), self.layers.last_flip)
            if x is None and self.layers.single_band() is not None:
                x = np.zeros(tfr.n_frames)   # one visible band with no cells: a flat line
            if x is None:
                self.inversion = self.residual = None
            else:
                self.inversion, self.residual = x, ri.full - x
        else:
            self._sel_cache = None
            mask = self.layers.selection_mask()
            if mask is None or not mask.any():
                self.inversion = self.residual = None
            else:
                x, r = cinv.invert_with_residual(tfr, mask)
                self.inversion, self.residual = np.asarray(x, float), np.asarray(r, float)
        self.inversion_ms = 1e3 * (time.perf_counter() - t0)
        self.inversion_changed.emit()

    # -- phase retrieval ---------------------------------------------------------
    @property
    def retrieval_running(self) -> bool:
        return self._retrieval_worker is not None

    def start_retrieval(self, params: RetrievalParams) -> bool:
        """Start phase retrieval from the current magnitudes in a worker.

        Returns False (and emits ``failed``) when nothing can run yet.
        """
        if self._retrieval_worker is not None:
            return False
        if self.tfr is None or self.signal is None:
            self.failed.emit("Retrieval: no transform yet - wait for the image to appear")
            return False
        spec = retrieval_spec(params.spec or self.tfr.spec)
        mask = None
        if params.target == "region":
            mask = self.layers.selection_mask()
            if mask is None or not mask.any():
                self.failed.emit("Retrieval: the target is the painted region, but nothing "
                                 "is painted - draw a band or paint a mask first")
                return False
        sig = self.signal
        reference = sig.y if params.target == "whole" else self.inversion
        reference = None if reference is None else np.array(reference, dtype=float)
        same_grid = spec == self.tfr.spec
        S = (np.abs(self.tfr.coefficients) if same_grid else None)
        S = None if S is None else S.copy()   # the worker owns its copy
        mask = None if mask is None else mask.copy()
        if mask is not None and not same_grid:
            from core.masks import map_mask
            mask = None  # remapped in the worker once the target grid exists
            region_src = (self.layers.selection_mask().copy(), self.tfr)
        else:
            region_src = None

        def task(progress, cancel):
            from core.retrieval import retrieve  # torch loads here, not at start-up

            target, m = S, mask
            if target is None:
                tfr2 = transform(sig, spec)
                target = np.abs(tfr2.coefficients)
                if region_src is not None:
                    m = map_mask(region_src[0], region_src[1], tfr2).astype(bool)

            def report(iteration, loss, inconsistency=None, estimate=None):
                progress({"iteration": int(iteration), "loss": float(loss),
                          "inconsistency": None if inconsistency is None
                          else float(inconsistency),
                          "estimate": None if estimate is None or not self.preview_enabled
                          else np.array(estimate, dtype=float).ravel()})

            kw = dict(n_samples=sig.n, method=params.method, optimizer=params.optimizer,
                      lr=params.lr, n_iter=params.n_iter, tol=params.tol, init=params.init,
                      seed=params.seed, device=params.device, mask=m, dx=sig.dx,
                      progress=report, cancel=cancel)
            kw.update(params.extra)
            result = retrieve(target, spec, **kw)
            return result, _metrics(result, target, spec, sig, m, reference)

        w = Worker(task, name="retrieval")
        w.progressed.connect(self.retrieval_progressed)
        w.succeeded.connect(self._on_retrieval_done)
        w.failed.connect(self._on_retrieval_failed)
        w.finished.connect(self._on_retrieval_thread_finished)
        self._retrieval_worker = w
        self.last_retrieval_target = params.target
        self._start(w)
        self.retrieval_started.emit()
        return True

    def cancel_retrieval(self) -> None:
        """Ask the run to stop; it finishes with its best estimate so far."""
        if self._retrieval_worker is not None:
            self._retrieval_worker.cancel()

    def _on_retrieval_done(self, res) -> None:
        self.retrieval, self.retrieval_metrics = res
        self.retrieval_finished.emit(self.retrieval)

    def _on_retrieval_failed(self, message: str, exc) -> None:
        from core.errors import Cancelled

        if not isinstance(exc, Cancelled):  # a cancel is what the user asked for
            self.failed.emit(message)

    def _on_retrieval_thread_finished(self) -> None:
        w, self._retrieval_worker = self._retrieval_worker, None
        self._forget(w)
        self.retrieval_ended.emit()

    def retrieval_y(self) -> np.ndarray | None:
        """The retrieval's signal (best estimate) or None."""
        return None if self.retrieval is None else _best_y(self.retrieval)

    # -- worker bookkeeping ------------------------------------------------------
    def _start(self, w: Worker) -> None:
        self._workers.add(w)
        w.start()

    def _forget(self, w: Worker | None) -> None:
        if w is not None:
            self._workers.discard(w)
            w.deleteLater()

    def workers(self) -> list[Worker]:
        """Workers still alive (tests and shutdown)."""
        return list(self._workers)

    def shutdown(self, timeout_ms: int = 15_000) -> bool:
        """Cancel all work and wait for every thread to end (window close)."""
        ok = True
        for w in list(self._workers):
            # A transform has no cancel check; one that outlives the timeout stays
            # referenced by app.worker until its thread ends.
            if not w.stop(timeout_ms):
                ok = False
        return ok


def _best_y(result) -> np.ndarray:
    y = getattr(result, "best_y", None)
    return np.asarray(result.y if y is None else y, dtype=float)


def _metrics(result, target, spec, sig, mask, reference) -> dict:
    """SC (dB) against the target magnitudes; rel-L2 against ``reference`` (the
    original for a whole-magnitude target, the selection's inverse for a region).

    Runs in the worker thread (it needs one more transform).
    """
    from core import metrics as cmet

    out = {}
    y = _best_y(result)
    try:
        if "sc_db" not in out:
            est = np.abs(transform(sig.with_samples(y), spec).coefficients)
            if mask is not None:
                out["sc_db"] = float(cmet.spectral_convergence_db(target * mask, est * mask))
            else:
                out["sc_db"] = float(cmet.spectral_convergence_db(target, est))
        if "rel_l2" not in out and reference is not None and np.any(reference):
            out["rel_l2"] = float(cmet.rel_l2(reference, y))
    except Exception:  # metrics are a courtesy; a finished run never fails on them
        pass
    return out


def _hop_one(tfr) -> bool:
    return not (tfr.spec.kind == "stft" and tfr.spec.hop > 1)
