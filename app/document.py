"""The document: one signal, its transform, the selection and what was computed from them.

:class:`DocumentModel` is a QObject without widgets. It owns

* the :class:`~core.signal.Signal` and the :class:`~core.tf.transforms.TransformSpec`,
* the current TFR (recomputed in a :class:`~app.worker.Worker`, never in the
  GUI thread) and its dB image,
* a :class:`~app.layers.LayerModel` (bands and painted masks with undo),
* the inversion of the selection and its residual (updated synchronously on
  every edit: :class:`~app.selection_inverse.SelectionInverse` redoes only
  the columns an edit touched; hop > 1 STFTs invert the union mask). During
  a live edit (a brush stroke, a band handle drag) it follows at most
  ~30 times a second and only in the visible columns
  (:meth:`DocumentModel.set_view_range`); the release redoes the rest, so
  the final inverse is the whole signal's,
* the phase-retrieval run (a second worker) and its result.

**Long recordings.** When the whole-signal path would pass
:attr:`DocumentModel.long_above_bytes` (``core.engine.long_tfr``), the
document never holds rows x samples: :attr:`tfr` is a
:class:`~core.engine.long_tfr.LongTFR` (the grid alone), :attr:`image_db` a
whole-recording overview that grows tile by tile (``overview_progressed``),
the view asks :meth:`DocumentModel.request_detail` for the visible columns at
its pixel width (``detail_ready``), layers are geometry and tiled masks, and
the selection's inverse (one array each for band and residual) is redone by
:class:`~app.long_inverse.LongInverse` only in the columns an edit touched -
live in the visible columns during a drag, in a worker otherwise.

Every background result carries the :class:`ResultKey` it was computed
under; opening a signal, a new transform and :meth:`DocumentModel.shutdown`
cancel the work that no longer matches and drop its result when it arrives.

Views listen to the past-tense signals and call the public methods.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from PySide6.QtCore import QObject, Signal

from phasebrush.app.layers import LayerModel
from phasebrush.app.long_inverse import LongInverse
from phasebrush.app.selection_inverse import SelectionInverse
from phasebrush.app.soon import Throttle
from phasebrush.app.worker import Worker, describe_error, stop_all
from phasebrush.core.engine import long_tfr as LT
from phasebrush.core.tf import inversion as cinv
from phasebrush.core.tf.transforms import TransformSpec, spec_for_signal, transform

__all__ = ["DetailImage", "DocumentModel", "PartialRetrieval", "ResultKey", "RetrievalParams",
           "db_ceiling", "db_image", "retrieval_spec", "needs_auto_time_bandwidth",
           "AUTO_TIME_BANDWIDTH"]

_DB_FLOOR = -300.0
#: Least time between two inverse updates during a drag: up to 40 a second (a frame
#: rate the eye follows; 33 ms gave 19 a second once the updates' own time and the
#: 60-a-second mouse moves shared the loop), while the moves keep their own pace.
_LIVE_INTERVAL_S = 0.025


def db_image(tfr) -> np.ndarray:
    """20 log10 |coefficients| [shape=(n_rows, n_frames), float32, dB re 1, finite].

    The magnitudes stay float64 until the logarithm (in row blocks, so the
    peak memory is the output plus a few MB): a signal of huge finite samples
    (1e300) has |W| far beyond float32's 3.4e38, which would turn into inf and
    give the colour bar nan levels. Zero, -inf and nan cells show at the
    -300 dB floor, +inf cells at the largest finite value.
    """
    C = tfr.coefficients
    out = np.empty(C.shape, dtype=np.float32)
    step = max(1, (1 << 22) // max(1, C.shape[-1]))   # ~32 MB of float64 per block
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for i in range(0, C.shape[0], step):
            out[i:i + step] = 20.0 * np.log10(np.abs(C[i:i + step]))
    finite = np.isfinite(out)
    if not finite.all():
        top = float(out[finite].max()) if finite.any() else _DB_FLOOR
        out[np.isposinf(out)] = top
        out[np.isnan(out)] = _DB_FLOOR
    np.maximum(out, _DB_FLOOR, out=out)   # also lifts -inf (|W| = 0)
    return out


def db_ceiling(image_db: np.ndarray, q: float = 99.9) -> float:
    """The ``q``-th percentile of the finite cells of a dB image (0.0 when none is)."""
    finite = image_db[np.isfinite(image_db)]
    return float(np.percentile(finite, q)) if finite.size else 0.0


@dataclass(frozen=True)
class RetrievalParams:
    """What the retrieval panel asks for (names follow core.retrieval.retrieve.retrieve).

    ``target`` is "whole" (every magnitude) or "region" (only the painted
    selection constrains the estimate); ``spec`` None = the view's transform
    as ``transform`` says (a synchrosqueezed view retrieves through its plain
    CWT / STFT, the kinds retrieval supports; "auto" also swaps a broad-band
    Morse wavelet for time-bandwidth 60). ``lr`` / ``tol`` None = core's
    defaults.
    """

    target: str = "whole"
    spec: TransformSpec | None = None
    #: "auto" (see :func:`retrieval_spec`), "view" or a kind ("cwt", "stft"); used when
    #: ``spec`` is None, and kept with the result (a session restores the panel from it).
    transform: str = "auto"
    method: str = "auto"
    optimizer: str = "sgdm"
    n_iter: int = 100
    tol: float | None = None
    lr: float | None = None
    seed: int = 0
    device: str = "auto"
    #: A name core knows ("pghi" ...) or the initial signal itself [shape=(n_samples,)].
    init: str | np.ndarray = "pghi"
    #: Free samples at each end of the unknown (core.retrieval.retrieve.retrieve's ``padding``).
    padding: int = 0
    extra: dict = field(default_factory=dict)


def retrieval_spec(spec: TransformSpec, *, auto: bool = False) -> TransformSpec:
    """The transform retrieval runs through for a view ``spec`` (ssq kinds -> plain).

    ``auto=True`` (the panel's "Transform: auto"): a GMW CWT whose time-bandwidth is
    not <= 90 (ssqueezepy's default is 180) retrieves through the same CWT at
    :data:`AUTO_TIME_BANDWIDTH` instead: the magnitudes then come from the signal's own
    transform at 60, computed for the retrieval (README, Measured: the seed chirp's
    scalogram reaches rel-L2 < 1e-4 at 60, 0.0096 at 180).
    """
    plain = {"ssq_cwt": "cwt", "ssq_stft": "stft"}
    out = replace(spec, kind=plain.get(spec.kind, spec.kind))
    if auto and needs_auto_time_bandwidth(out):
        out = replace(out, time_bandwidth=AUTO_TIME_BANDWIDTH)
    return out


#: The Morse time-bandwidth "Transform: auto" retrieves through (MATLAB's default).
AUTO_TIME_BANDWIDTH = 60.0
#: At or below this time-bandwidth the view's own GMW is kept (core.retrieval.retrieve's limit
#: for its short-wavelet method).
AUTO_KEEP_AT_MOST = 90.0


def needs_auto_time_bandwidth(spec: TransformSpec) -> bool:
    """True when "Transform: auto" would change ``spec``'s time-bandwidth: a GMW
    (plain or synchrosqueezed) CWT at None (= 180) or above 90."""
    tb = spec.time_bandwidth
    return (spec.kind in ("cwt", "ssq_cwt") and spec.wavelet == "gmw"
            and (tb is None or not float(tb) <= AUTO_KEEP_AT_MOST))


@dataclass(frozen=True)
class ResultKey:
    """Which signal and transform a background result was computed from.

    ``signal`` counts the documents this model has held (bumped by
    :meth:`DocumentModel.set_signal` and :meth:`DocumentModel.shutdown`),
    ``transform`` the transforms requested (bumped by ``set_signal`` and
    ``set_spec``). A result whose key is no longer the model's is dropped:
    a run that outlived its file must never be attached to the next one.
    """

    signal: int
    transform: int


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
        :attr:`inversion` / :attr:`residual` changed (None: no selection);
        during a live edit only in the columns :attr:`inversion_cols`.
    retrieval_started(), retrieval_progressed(object), retrieval_finished(object),
    retrieval_ended(), retrieval_settings_restored(dict)
        A run began; a throttled progress report (dict: iteration, loss,
        inconsistency, estimate); the result; the worker is gone (after
        finishing, cancelling or failing).
    failed(str)
        A readable message for the user (load, transform or retrieval error).
    overview_progressed(float)
        Long recordings: :attr:`image_db` (the overview) holds more columns;
        the fraction done.
    detail_ready(object)
        Long recordings: a :class:`DetailImage` asked for by
        :meth:`request_detail`, for the current document.
    inversion_progressed(float)
        Long recordings: the background inversion's fraction done (1.0 = idle).
    noted(str)
        Information for the status bar (a long recording's retrieval estimate).
    """

    signal_changed = Signal()
    busy_changed = Signal(bool)
    tfr_changed = Signal()
    inversion_changed = Signal()
    retrieval_started = Signal()
    retrieval_progressed = Signal(object)
    retrieval_finished = Signal(object)
    retrieval_ended = Signal()
    retrieval_settings_restored = Signal(object)
    failed = Signal(str)
    #: The current signal's transform failed or was refused (after ``failed``).
    transform_failed = Signal(str)
    overview_progressed = Signal(float)
    detail_ready = Signal(object)
    detail_progressed = Signal(object)
    inversion_progressed = Signal(float)
    noted = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.signal = None
        self.spec = TransformSpec()
        self.tfr = None
        self.image_db: np.ndarray | None = None
        self.inversion: np.ndarray | None = None
        self.residual: np.ndarray | None = None
        self.inversion_ms: float = 0.0
        #: Columns [c0, c1) where :attr:`inversion` is up to date after a live update
        #: (the visible ones); None = all of them.
        self.inversion_cols: tuple[int, int] | None = None
        self._view_range: tuple[float, float] | None = None
        self._live_pending = False       # a live edit changed the selection since the last update
        self._flips: list = []           # the layers' cell flips since the last update
        self._live = Throttle(self._on_live_timer, _LIVE_INTERVAL_S, self)
        self.retrieval = None            # core RetrievalResult
        #: The key the retrieval result was computed under (None: set by hand).
        self.retrieval_key: ResultKey | None = None
        self.retrieval_metrics: dict = {}
        self.last_retrieval_target = "whole"
        #: The last run's parameters and the transform it went through (None before one).
        self.last_retrieval_params: RetrievalParams | None = None
        self.last_retrieval_spec: TransformSpec | None = None
        #: The retrieval panel's settings (JSON values), kept by the panel, saved in sessions.
        self.retrieval_settings: dict = {}
        #: Send the current estimate with progress reports (the panel's "preview").
        self.preview_enabled = True
        self.layers = LayerModel(self)
        self.layers.selection_changed.connect(self._on_selection_changed)
        self.layers.live_edit_ended.connect(self._on_live_edit_ended)
        self._range_inverter = None
        self._sel_cache = None
        self._transform_worker: Worker | None = None
        self._retrieval_worker: Worker | None = None
        self._pending_spec: TransformSpec | None = None
        self._signal_id = 0
        self._transform_id = 0
        self._workers: set[Worker] = set()
        #: Whole-signal documents above this many bytes open as long recordings.
        self.long_above_bytes = LT.DEFAULT_LONG_ABOVE_BYTES
        #: The f min set_signal gave an audio recording (not the user's), or None.
        self._auto_fmin: float | None = None
        #: Long recordings: the display source of the detail images (None otherwise).
        self.source = None
        self._detail_worker: Worker | None = None
        self._detail_pending = None
        self._detail_warming = False
        self.long_inverse = LongInverse(self)

    # -- identity of results -------------------------------------------------------
    @property
    def key(self) -> ResultKey:
        """The key a result computed now would carry."""
        return ResultKey(self._signal_id, self._transform_id)

    def is_current(self, key: ResultKey | None, *, transform: bool = True) -> bool:
        """True when a result computed under ``key`` belongs to this document now.

        ``transform=False``: only the signal must match (a retrieval is a
        signal on the signal's axis; a new transform of the same signal does
        not make it wrong).
        """
        if key is None or key.signal != self._signal_id:
            return False
        return not transform or key.transform == self._transform_id

    # -- signal & transform -----------------------------------------------------
    def set_signal(self, signal, spec: TransformSpec | None = None) -> None:
        """Show ``signal``; the transform is computed in the background.

        A retrieval still running on the previous signal is cancelled and its
        result dropped.
        """
        self._signal_id += 1
        self._retire_retrieval()
        self.signal = signal
        self.tfr = self.image_db = None
        self.inversion = self.residual = None
        self.retrieval = self.retrieval_key = None
        self.retrieval_metrics = {}
        self._range_inverter = None
        self._sel_cache = None
        self.source = None
        self._detail_pending = None
        self.long_inverse.reset()
        self.layers.clear()
        self.layers.undo_stack.clear()
        # The spec first: listeners of signal_changed see the settings this signal gets.
        # (A spec given - a session's - is kept as it was; the current settings are
        # adapted: an audio recording's CWT starts at 20 Hz.)
        if spec is None:
            base = self.spec
            if self._auto_fmin is not None and base.fmin == self._auto_fmin:
                base = replace(base, fmin=None)     # ours, for the previous signal
            spec = spec_for_signal(base, signal)
            self._auto_fmin = spec.fmin if spec.fmin != base.fmin else None
        else:
            self._auto_fmin = None
        self.spec = spec
        if LT.needs_long_mode(signal.n, self.spec, signal.dx, above_bytes=self.long_above_bytes):
            self.spec = LT.long_spec(self.spec, signal.unit, signal.dx)
        self.signal_changed.emit()
        self.set_spec(self.spec)

    def set_spec(self, spec: TransformSpec) -> None:
        """Recompute the transform with ``spec`` (in a worker thread).

        A transform still running is cancelled; this one starts once it ended
        (never two at once: each may need most of the memory).
        """
        self.spec = spec
        self._transform_id += 1
        if self.signal is None:
            return
        if self._transform_worker is not None:
            self._pending_spec = spec
            self._transform_worker.cancel()
            return
        self._start_transform(spec)

    @property
    def is_long(self) -> bool:
        """The transform is a long recording's grid (no coefficients held)."""
        return bool(getattr(self.tfr, "is_long", False))

    def _start_transform(self, spec: TransformSpec) -> None:
        key, sig = self.key, self.signal
        if LT.needs_long_mode(sig.n, spec, sig.dx, above_bytes=self.long_above_bytes):
            self._start_long_transform(spec)
            return
        from phasebrush.core.errors import OutOfMemoryError
        from phasebrush.core.memory import budget_bytes

        try:
            need = LT.document_bytes(sig.n, spec, sig.dx)
        except ValueError:
            need = 0   # settings the transform refuses: its worker reports why
        if need > budget_bytes():
            # Refused before anything is allocated, with what to change.
            hint = ("kind 'cwt' or a hop-1 'stft' shows a recording this long block by block"
                    if spec.kind not in LT.LONG_KINDS or spec.hop != 1 else
                    "free memory or raise the budget (PHASEBRUSH_MEMORY_BUDGET)")
            msg = str(OutOfMemoryError(f"{spec.kind} of {sig.name} ({sig.n} samples)", need,
                                       available=budget_bytes(), hint=hint))
            self.failed.emit(msg)
            self.transform_failed.emit(msg)
            return

        def task(progress, cancel):
            tfr = transform(sig, spec, cancel=cancel)
            # The range inverter's cumulative sums make every later edit O(changed cells);
            # build them here, off the GUI thread.
            ri = cinv.RangeInverter(tfr) if _hop_one(tfr) else None
            return tfr, db_image(tfr), ri

        self._launch_transform(Worker(task, name="transform"), key, self._on_transform_done)

    def _launch_transform(self, w: Worker, key: ResultKey, on_done, on_progress=None) -> None:
        if on_progress is not None:
            w.progressed.connect(lambda rep, k=key: on_progress(rep, k))
        w.succeeded.connect(lambda res, k=key: on_done(res, k))
        w.failed.connect(lambda msg, exc, k=key: self._on_transform_failed(msg, exc, k))
        w.finished.connect(lambda w=w: self._on_transform_thread_finished(w))
        self._transform_worker = w
        self._start(w)
        self.busy_changed.emit(True)

    def _start_long_transform(self, spec: TransformSpec) -> None:
        """The grid, the display sources and the overview, in a worker; the overview's
        parts reach the view as they are computed."""
        from phasebrush.core.engine.display import display_source
        from phasebrush.core.engine.overview import (
            OVERVIEW_FFT,
            row_power_filters,
            spectral_overview,
        )

        key, sig = self.key, self.signal
        width = OVERVIEW_WIDTH

        def task(progress, cancel):
            grid = LT.long_tfr(sig, spec)
            exact = display_source(sig.y, spec, dx=sig.dx, cache_bytes=DETAIL_CACHE_BYTES,
                                   tile_length=DETAIL_TILE if sig.n > 2 * DETAIL_TILE else None)
            src = _DetailSource(exact, row_power_filters(spec, sig.n, dx=sig.dx, M=OVERVIEW_FFT),
                                sig.y, spec, sig.dx)
            progress(("grid", grid, src))
            # The overview from frame spectra: seconds for an hour, not the whole CWT.
            img = spectral_overview(sig.y, spec, dx=sig.dx, width=width, filters=src.filters,
                                    cancel=cancel,
                                    partial=lambda im, f: progress(("overview", im.copy(), f)))
            return grid, src, img

        self._launch_transform(Worker(task, name="transform", interval_s=0.25), key,
                               self._on_long_done, self._on_long_progress)

    def _on_long_progress(self, report, key: ResultKey) -> None:
        if not self.is_current(key):
            return
        if report[0] == "grid":
            # The grid is known before any pixel: layers and the view can take it now.
            _, grid, src = report
            self._adopt_long(grid, src, None)
        elif report[0] == "overview" and self.is_long:
            self.image_db = report[1]
            self.overview_progressed.emit(float(report[2]))

    def _on_long_done(self, res, key: ResultKey) -> None:
        if not self.is_current(key):
            return
        grid, src, img = res
        if not (self.is_long and self.tfr is grid):
            self._adopt_long(grid, src, img)
        self.image_db = img
        self.overview_progressed.emit(1.0)
        self.tfr_changed.emit()   # the first complete image
        # Warm the exact source now (its rows longer than a tile are computed once for the
        # whole recording, ~1.5 s at 10 minutes) so that the first zoom pays only its tiles.
        n = int(grid.n_frames)
        self._start_detail((self.key, 0, min(n, 4096), 1, "peak"), warm=True)

    def _adopt_long(self, grid, src, img) -> None:
        self.tfr, self.image_db, self.source = grid, img, src
        self._range_inverter = None
        self._sel_cache = None
        self.long_inverse.reset(grid)
        self.layers.set_tfr(grid)   # emits selection_changed -> inversion
        self.tfr_changed.emit()

    # -- long recordings: detail images ------------------------------------------
    def request_detail(self, c0: int, c1: int, width: int, mode: str = "peak") -> None:
        """Compute the image of columns ``[c0, c1)`` at ``width`` pixels in a worker.

        One runs at a time; a newer request replaces a pending one and cancels
        the running one (the user has moved on). The result arrives as
        ``detail_ready`` (a :class:`DetailImage`) only if it still belongs to
        this document.
        """
        if not self.is_long or self.source is None:
            return
        c0, c1 = max(0, int(c0)), min(int(self.tfr.n_frames), int(c1))
        if c0 >= c1 or width < 1:
            return
        req = (self.key, c0, c1, int(width), mode)
        if self._detail_worker is not None:
            self._detail_pending = req
            if not self._detail_warming:   # a warm-up's work serves this request too
                self._detail_worker.cancel()
            return
        self._start_detail(req)

    def _start_detail(self, req, *, warm: bool = False) -> None:
        key, c0, c1, width, mode = req
        src = self.source
        if src is None or self._detail_worker is not None:
            return
        self._detail_warming = warm

        def task(progress, cancel):
            if warm:
                src.image(c0, c1, width=width, mode=mode, cancel=cancel)
                return None
            # Tile by tile, the middle first, each step shown: the user sees the part
            # of a zoom they look at before the margins and the far side are done.
            def partial(img):
                progress(DetailImage(key, c0, c1, width, img, False))

            img = src.image(c0, c1, width=width, mode=mode, cancel=cancel, partial=partial)
            return DetailImage(key, c0, c1, width, img)

        w = Worker(task, name="image", interval_s=0.0)
        w.progressed.connect(self._on_detail_done)
        w.succeeded.connect(self._on_detail_done)
        w.failed.connect(lambda msg, exc, k=key: self._on_detail_failed(msg, exc, k))
        w.finished.connect(lambda w=w: self._on_detail_thread_finished(w))
        self._detail_worker = w
        self._start(w)

    def _on_detail_done(self, det) -> None:
        if det is not None and self.is_current(det.key) and self._detail_pending is None:
            if det.complete:
                self.detail_ready.emit(det)
            else:
                self.detail_progressed.emit(det)

    def _on_detail_failed(self, message, exc, key) -> None:
        from phasebrush.core.errors import Cancelled

        if self.is_current(key) and not isinstance(exc, Cancelled):
            self.failed.emit(message)

    def _on_detail_thread_finished(self, w: Worker) -> None:
        self._forget(w)
        if w is not self._detail_worker:
            return
        self._detail_worker = None
        req, self._detail_pending = self._detail_pending, None
        if req is not None and self.is_current(req[0]):
            self._start_detail(req)

    @property
    def busy(self) -> bool:
        return self._transform_worker is not None

    def _on_transform_done(self, res, key: ResultKey) -> None:
        if not self.is_current(key):
            return  # superseded while it ran
        tfr, img, ri = res
        self.tfr, self.image_db = tfr, img
        self.source = None
        self.long_inverse.reset()
        self._range_inverter = ri
        self._sel_cache = None
        self.layers.set_tfr(tfr)   # emits selection_changed -> inversion
        self.tfr_changed.emit()

    def _on_transform_failed(self, message: str, exc, key: ResultKey) -> None:
        from phasebrush.core.errors import Cancelled

        # A superseded transform's error (its cancel included) is about settings gone.
        if self.is_current(key) and not isinstance(exc, Cancelled):
            self.failed.emit(message)
            self.transform_failed.emit(message)

    def _on_transform_thread_finished(self, w: Worker) -> None:
        self._forget(w)
        if w is not self._transform_worker:
            return  # retired by shutdown
        self._transform_worker = None
        pending, self._pending_spec = self._pending_spec, None
        if pending is not None and self.signal is not None:
            self._start_transform(pending)
        else:
            self.busy_changed.emit(False)

    # -- inversion of the selection ---------------------------------------------
    def set_view_range(self, x0: float, x1: float) -> None:
        """The span of the signal axis on screen: live updates redo only its columns."""
        self._view_range = (min(float(x0), float(x1)), max(float(x0), float(x1)))

    def visible_cols(self) -> tuple[int, int] | None:
        """Columns [c0, c1) of the view range (None: unknown, or every column)."""
        if self._view_range is None or self.tfr is None:
            return None
        if self.is_long:
            g, n = self.tfr, int(self.tfr.n_frames)
            lo, hi = sorted(float(v) for v in g.time_to_col(np.array(self._view_range)))
            c0 = min(max(int(np.floor(lo)) - 1, 0), n)
            c1 = min(max(int(np.ceil(hi)) + 2, c0), n)
            return None if (c0 == 0 and c1 == n) else (c0, c1)
        times = np.asarray(self.tfr.times, float)
        # one column of margin each side: the curve is drawn to the edge pixel
        c0 = max(int(np.searchsorted(times, self._view_range[0], "left")) - 1, 0)
        c1 = min(int(np.searchsorted(times, self._view_range[1], "right")) + 1, times.size)
        if c0 >= c1:
            return (c0, c0)
        return None if (c0 == 0 and c1 == times.size) else (c0, c1)

    def _on_selection_changed(self) -> None:
        if self.is_long:
            self.long_inverse.selection_changed()
            return
        # Every flip since the last update: coalesced updates apply them all at once.
        f = self.layers.last_flip
        if f is not None and not (self._flips and self._flips[-1] is f):
            self._flips.append(f)
        if self.layers.live:
            # A drag: coalesce its many moves into updates at most ~30 a second
            # (the first one at once); the release does the whole signal.
            self._live_pending = True
            # (when due: after this event's edits and before its repaint, app.soon)
            self._live.request()
            return
        self.update_inversion()

    def _on_live_timer(self) -> None:
        if self._live_pending and self.layers.live:
            self._invert(self.visible_cols(), live=True)

    def _on_live_edit_ended(self) -> None:
        if self.is_long:
            self.long_inverse.live_edit_ended()
            return
        self._live.cancel()
        if self._live_pending or self.inversion_cols is not None:
            self.update_inversion()

    def update_inversion(self) -> None:
        """Recompute the selection's inversion and residual (synchronously).

        Hop-1 transforms: :class:`~app.selection_inverse.SelectionInverse`
        redoes only the columns the edit touched (O(changed cells) for a
        stroke, O(n_frames) for a band), never building the union mask.
        Other transforms: the one-integral inverse of the union mask.
        """
        self._live.cancel()
        if self.is_long:
            self.long_inverse.selection_changed()
            return
        self._invert(None)

    def _invert(self, cols: tuple[int, int] | None, *, live: bool = False) -> None:
        """The inversion, exact in the columns ``cols`` (None: all of them)."""
        t0 = time.perf_counter()
        self._live_pending = False
        flips, self._flips = self._flips, []
        tfr, ri = self.tfr, self._range_inverter
        self.inversion_cols = None
        if tfr is None or self.signal is None:
            self.inversion = self.residual = None
            self._sel_cache = None
        elif (ri is not None and ri.cumsum is not None
              and sum(not lay.is_band for lay in self.layers.visible_layers()) < 255):
            # (SelectionInverse counts painted layers per cell in a uint8)
            if self._sel_cache is None:
                self._sel_cache = SelectionInverse(ri)
            x = self._sel_cache.update(self.layers.visible_layers(), flips, cols=cols,
                                        live=live)
            self.inversion_cols = cols
            if x is None and self.layers.single_band() is not None:
                x = np.zeros(tfr.n_frames)   # one visible band with no cells: a flat line
            if x is None:
                self.inversion = self.residual = None
            else:
                self.inversion, self.residual = x, ri.full - x
        elif live:
            # Hop > 1 STFTs invert the whole union mask by overlap-add: too slow to
            # follow a drag; the release updates it.
            self._live_pending = True
            return
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
        if self.is_long:
            return self._start_range_retrieval(params)
        spec = self.retrieval_spec_for(params)
        mask = None
        if params.target == "region":
            mask = self.layers.selection_mask()
            if mask is None or not mask.any():
                self.failed.emit("Retrieval: the target is the painted region, but nothing "
                                 "is painted - draw a band or paint a mask first")
                return False
        sig, key = self.signal, self.key
        reference = sig.y if params.target == "whole" else self.inversion
        reference = None if reference is None else np.array(reference, dtype=float)
        same_grid = spec == self.tfr.spec
        S = (np.abs(self.tfr.coefficients) if same_grid else None)
        S = None if S is None else S.copy()   # the worker owns its copy
        mask = None if mask is None else mask.copy()
        if mask is not None and not same_grid:
            from phasebrush.core.tf.masks import map_mask
            mask = None  # remapped in the worker once the target grid exists
            region_src = (self.layers.selection_mask().copy(), self.tfr)
        else:
            region_src = None
        preview = self

        def task(progress, cancel):
            target, m = S, mask
            if target is None:
                tfr2 = transform(sig, spec, cancel=cancel)
                target = np.abs(tfr2.coefficients)
                if region_src is not None:
                    m = map_mask(region_src[0], region_src[1], tfr2).astype(bool)
            result = _retrieve_keeping_best(target, spec, params, sig, m, progress, cancel,
                                            preview)
            return result, _metrics(result, target, spec, sig, m, reference, cancel)

        return self._launch_retrieval(task, key, params.target, params, spec)

    def retrieval_spec_for(self, params: RetrievalParams) -> TransformSpec:
        """The transform a run with ``params`` goes through (see :func:`retrieval_spec`)."""
        if params.spec is not None:
            return retrieval_spec(params.spec)
        base = self.tfr.spec if self.tfr is not None else self.spec
        if params.transform in ("cwt", "stft"):
            base = replace(base, kind=params.transform)
        return retrieval_spec(base, auto=params.transform == "auto")

    def retrieval_note(self, params: RetrievalParams) -> str:
        """What the panel and the status bar say about the transform chosen for a run:
        non-empty when "auto" retrieves through another time-bandwidth than the view's."""
        if params.spec is not None or params.transform != "auto" or self.tfr is None:
            return ""
        view = self.tfr.spec
        if not needs_auto_time_bandwidth(view):
            return ""
        was = 180.0 if view.time_bandwidth is None else float(view.time_bandwidth)
        return (f"retrieving through GMW time-bandwidth {AUTO_TIME_BANDWIDTH:g}: conditions "
                f"far better than {was:g}")

    def set_retrieval_settings(self, settings: dict) -> None:
        """The retrieval panel's settings as a dict of JSON values (what a session keeps);
        ``retrieval_settings_restored`` tells the panel to show them."""
        self.retrieval_settings = dict(settings or {})
        self.retrieval_settings_restored.emit(dict(self.retrieval_settings))

    def _launch_retrieval(self, task, key: ResultKey, target: str,
                          params: RetrievalParams | None = None,
                          spec: TransformSpec | None = None) -> bool:
        w = Worker(task, name="retrieval")
        w.progressed.connect(lambda r, k=key: self._on_retrieval_progressed(r, k))
        w.succeeded.connect(lambda res, k=key: self._on_retrieval_done(res, k))
        w.failed.connect(lambda msg, exc, k=key: self._on_retrieval_failed(msg, exc, k))
        w.finished.connect(lambda w=w: self._on_retrieval_thread_finished(w))
        self._retrieval_worker = w
        self.last_retrieval_target = target
        self.last_retrieval_params, self.last_retrieval_spec = params, spec
        note = "" if params is None else self.retrieval_note(params)
        if note:
            self.noted.emit(f"Retrieval: {note}")
        self._start(w)
        self.retrieval_started.emit()
        return True

    def retrieval_columns(self, target: str) -> tuple[int, int] | None:
        """Long recordings: the columns a retrieval runs on - the selection's extent
        (target "region") or the visible columns ("whole"); None when there is none."""
        n = int(self.tfr.n_frames)
        if target == "region":
            spans = [self.long_inverse._layer_span(lay) for lay in self.layers.visible_layers()
                     if lay.is_band or lay.n_cells() > 0]
            spans = [s for s in spans if s is not None]
            return (min(a for a, _ in spans), max(b for _, b in spans)) if spans else None
        return self.visible_cols() or (0, n)

    def _start_range_retrieval(self, params: RetrievalParams) -> bool:
        """A long recording's retrieval: on the visible columns or the selection's
        extent, as a signal of its own, its memory estimate said first (or refused)."""
        from phasebrush.core.errors import OutOfMemoryError, format_bytes
        from phasebrush.core.memory import budget_bytes
        from phasebrush.core.retrieval.retrieve import estimate_retrieval_bytes
        from phasebrush.core.tf.masks import map_mask

        cols = self.retrieval_columns(params.target)
        if cols is None:
            self.failed.emit("Retrieval: the target is the painted region, but nothing is "
                             "painted - draw a band or paint a mask first")
            return False
        c0, c1 = cols
        sig = self.signal
        spec = self.retrieval_spec_for(params)
        what = (f"retrieval of {c1 - c0} samples ({(c1 - c0) * sig.dx:.3g} {sig.unit}) of "
                f"{sig.name}, {spec.kind}")
        try:
            need = estimate_retrieval_bytes(c1 - c0, spec, sig.dx)
        except ValueError as exc:
            self.failed.emit(f"Retrieval: {exc}")
            return False
        budget = budget_bytes()
        if need > budget:
            self.failed.emit(str(OutOfMemoryError(
                what, need, available=budget,
                hint="zoom in to a shorter stretch (the visible range is retrieved) or select "
                     "a shorter one (target: painted region)")))
            return False
        self.noted.emit(f"Retrieval on {sig.x0 + c0 * sig.dx:.6g}-{sig.x0 + c1 * sig.dx:.6g} "
                        f"{sig.unit}: about {format_bytes(need)} of memory (budget "
                        f"{format_bytes(budget)})")
        part = replace(sig, y=np.array(sig.y[c0:c1], dtype=float), x0=sig.x0 + c0 * sig.dx,
                       notes=())
        if isinstance(params.init, np.ndarray) and params.init.size == sig.n:
            params = replace(params, init=np.array(params.init[c0:c1], dtype=float))
        key = self.key
        region = None
        if params.target == "region":
            region = (self.layers.selection_block(c0, c1), self.tfr.grid(c0, c1))
        reference = (np.array(part.y) if params.target == "whole"
                     else None if self.inversion is None
                     else np.array(self.inversion[c0:c1], dtype=float))
        preview, n_full = self, sig.n

        def task(progress, cancel):
            tfr2 = transform(part, spec, cancel=cancel)
            target = np.abs(tfr2.coefficients)
            m = None
            if region is not None and region[0] is not None:
                m = map_mask(region[0], region[1], tfr2).astype(bool)
            result = _retrieve_keeping_best(target, spec, params, part, m, progress, cancel,
                                            preview)
            metrics = _metrics(result, target, spec, part, m, reference, cancel)
            return RangeRetrieval(result, c0, c1, n_full), metrics

        return self._launch_retrieval(task, key, params.target, params, spec)

    def cancel_retrieval(self) -> None:
        """Ask the run to stop; it finishes with its best estimate so far."""
        if self._retrieval_worker is not None:
            self._retrieval_worker.cancel()

    def set_retrieval(self, result, metrics: dict | None = None) -> None:
        """Make ``result`` (anything with ``best_y`` or ``y``) this signal's retrieval."""
        self.retrieval, self.retrieval_key = result, self.key
        self.retrieval_metrics = dict(metrics or {})
        self.retrieval_finished.emit(result)

    def _retire_retrieval(self) -> None:
        # Cancelled, and no longer "the" run: its thread ends on its own and its result
        # is dropped by key; the panels are free at once.
        w, self._retrieval_worker = self._retrieval_worker, None
        if w is not None:
            w.cancel()
            self.retrieval_ended.emit()

    def _on_retrieval_progressed(self, report, key: ResultKey) -> None:
        if self.is_current(key, transform=False):
            self.retrieval_progressed.emit(report)

    def _on_retrieval_done(self, res, key: ResultKey) -> None:
        if not self.is_current(key, transform=False):
            return  # computed from a signal that is no longer open
        result, metrics = res
        self.set_retrieval(result, metrics)
        if isinstance(getattr(result, "result", result), PartialRetrieval):
            result = getattr(result, "result", result)
            self.failed.emit(f"Retrieval failed after {result.n_iter} iterations: "
                             f"{result.error}\nThe best estimate so far "
                             f"(inconsistency {result.inconsistency:.3g}) is kept.")

    def _on_retrieval_failed(self, message: str, exc, key: ResultKey) -> None:
        from phasebrush.core.errors import Cancelled

        # A cancel is what the user asked for; a retired run's error is about a file gone.
        if self.is_current(key, transform=False) and not isinstance(exc, Cancelled):
            self.failed.emit(message)

    def _on_retrieval_thread_finished(self, w: Worker) -> None:
        self._forget(w)
        if w is self._retrieval_worker:
            self._retrieval_worker = None
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

    def shutdown(self, timeout_ms: int = 1_000) -> bool:
        """Cancel all work, drop its results, and wait for the threads (window close).

        Every worker is cancelled first so they stop in parallel; the wait is
        shared. True if all ended within ``timeout_ms`` (one that did not stays
        referenced by :mod:`app.worker` until its thread ends).
        """
        self._signal_id += 1   # whatever still arrives belongs to no document
        self._pending_spec = None
        self._transform_worker = None
        self._detail_worker = None
        self._detail_pending = None
        self.long_inverse.shutdown()
        self._retire_retrieval()
        return stop_all(list(self._workers), timeout_ms)


#: Pixels of a long recording's overview image.
OVERVIEW_WIDTH = 2048
#: The detail images' tile cache: a 10-s view spans three tiles (~120 MB each at nv 32
#: and 714 rows, half that from 20 Hz); at 256 MB a 3-s pan took 1.8 s instead of 0.6.
DETAIL_CACHE_BYTES = 400 << 20
#: Columns per exact tile of a long recording (3 s at 44.1 kHz). The engine's own
#: block (262144 at 44.1 kHz) made a 10-s zoom compute up to 18 s of columns; at this
#: size it computes about 13 s, and a 3-s pan one tile (/tmp/t_zoom2.py: a 10-s zoom
#: 0.83-1.33 s against 1.01-1.84 s, on a machine shared with another job).
DETAIL_TILE = 1 << 17


class _DetailSource:
    """A long recording's images: exact from the display source when zoomed in, from
    frame spectra when a pixel spans many frames (the exact one would compute the
    whole range's coefficients to show a few thousand pixels)."""

    def __init__(self, exact, filters, y, spec, dx):
        self.exact, self.filters, self.y, self.spec, self.dx = exact, filters, y, spec, dx

    def image(self, c0, c1, *, width, mode="peak", cancel=None, partial=None):
        """The dB image of columns [c0, c1) at ``width`` pixels; ``partial(img)`` (if
        given) gets the image after each exact tile, NaN where a tile is still missing."""
        from phasebrush.core.engine.overview import SPECTRAL_ABOVE_SAMPLES, spectral_overview

        if (c1 - c0) / max(1, width) >= SPECTRAL_ABOVE_SAMPLES:
            return spectral_overview(self.y, self.spec, dx=self.dx, width=width, c0=c0, c1=c1,
                                     filters=self.filters, cancel=cancel)
        # (tile by tile, the middle first, each step shown through ``partial``)
        return self.exact.image(c0, c1, width=width, mode=mode, db=True, cancel=cancel,
                                partial=partial)


@dataclass(frozen=True, eq=False)
class DetailImage:
    """The image of columns ``[c0, c1)`` at ``width`` pixels [float32, (n_rows, width), dB]."""

    key: ResultKey
    c0: int
    c1: int
    width: int
    image: np.ndarray
    #: False for a step on the way (NaN where tiles are still missing).
    complete: bool = True


class RangeRetrieval:
    """A retrieval of columns ``[c0, c1)`` of a long recording, as a whole-length
    result: ``best_y`` / ``y`` are zero outside the range.

    Attributes
    ----------
    result : RetrievalResult or PartialRetrieval
        What core returned for the excerpt (its own ``best_y``, ``loss_history``...).
    c0, c1, n : int
    """

    def __init__(self, result, c0: int, c1: int, n: int):
        self.result, self.c0, self.c1, self.n = result, int(c0), int(c1), int(n)
        self._full = None

    def __getattr__(self, name):
        if name in ("result", "c0", "c1", "n", "_full"):
            raise AttributeError(name)
        return getattr(self.result, name)

    @property
    def best_y(self) -> np.ndarray:
        """[shape=(n,), float64]: the excerpt's best estimate in place, zeros elsewhere."""
        if self._full is None:
            full = np.zeros(self.n)
            full[self.c0:self.c1] = _best_y(self.result)
            self._full = full
        return self._full

    @property
    def y(self) -> np.ndarray:
        return self.best_y


@dataclass(frozen=True, eq=False)
class PartialRetrieval:
    """What a retrieval that raised mid-run had reached (the fields the app reads of
    :class:`core.retrieval.retrieve.RetrievalResult`).

    Attributes
    ----------
    y, best_y : np.ndarray [shape=(n_samples,), float64]
        The reported estimate with the lowest inconsistency (loss when the
        method reports none).
    loss_history : np.ndarray [shape=(n_reports,), float64]
        The losses reported (throttled: not every iteration).
    inconsistency : float
        Of ``best_y``, as reported (nan when unknown).
    stop_reason : str
        ``"failed"``.
    n_iter : int
        The last iteration reported.
    error : str
        What went wrong.
    """

    y: np.ndarray
    best_y: np.ndarray
    loss_history: np.ndarray
    inconsistency: float
    n_iter: int
    error: str
    stop_reason: str = "failed"


class _BestSoFar:
    """Keeps the best estimate a run reported, for when it raises before returning."""

    def __init__(self):
        self.losses: list[float] = []
        self.iteration = 0
        self.score = np.inf
        self.inconsistency = np.nan
        self.y: np.ndarray | None = None

    def offer(self, iteration, loss, inconsistency, estimate) -> None:
        self.iteration = int(iteration)
        self.losses.append(float(loss))
        score = float(loss if inconsistency is None else inconsistency)
        if estimate is None or not np.isfinite(score) or score >= self.score:
            return
        y = np.array(estimate, dtype=float).ravel()
        if np.all(np.isfinite(y)):
            self.score, self.y = score, y
            self.inconsistency = np.nan if inconsistency is None else float(inconsistency)

    def result(self, exc: BaseException) -> PartialRetrieval | None:
        from phasebrush.core.errors import Cancelled

        if self.y is None or isinstance(exc, Cancelled):
            return None
        return PartialRetrieval(self.y, self.y, np.array(self.losses), self.inconsistency,
                                self.iteration, describe_error(exc, "retrieval"))


def _retrieve_keeping_best(target, spec, params: RetrievalParams, sig, mask, progress, cancel,
                           preview) -> object:
    """``core.retrieval.retrieve.retrieve`` of ``target`` (magnitudes on ``spec``'s grid of ``sig``)
    with throttled reports through ``progress``; a run that raises mid-way returns the
    best estimate it reported (:class:`PartialRetrieval`). Runs in the worker thread."""
    from phasebrush.core.retrieval.retrieve import retrieve  # torch loads here, not at start-up

    best = _BestSoFar()

    def report(iteration, loss, inconsistency=None, estimate=None):
        best.offer(iteration, loss, inconsistency, estimate)
        progress({"iteration": int(iteration), "loss": float(loss),
                  "inconsistency": None if inconsistency is None else float(inconsistency),
                  "estimate": None if estimate is None or not preview.preview_enabled
                  else np.array(estimate, dtype=float).ravel()})

    kw = dict(n_samples=sig.n, method=params.method, optimizer=params.optimizer,
              lr=params.lr, n_iter=params.n_iter, tol=params.tol, init=params.init,
              seed=params.seed, device=params.device, mask=mask, dx=sig.dx,
              padding=int(params.padding),
              progress=report, cancel=cancel)
    kw.update(params.extra)
    try:
        return retrieve(target, spec, **kw)
    except Exception as exc:
        # A run that dies mid-way still holds the best estimate it reported.
        result = best.result(exc)
        if result is None:
            raise
        return result


def _best_y(result) -> np.ndarray:
    y = getattr(result, "best_y", None)
    return np.asarray(result.y if y is None else y, dtype=float)


def _metrics(result, target, spec, sig, mask, reference, cancel=None) -> dict:
    """The figures a finished run is judged by (dict; a key is missing when unknown).

    ``inconsistency``: ``||S - |A x||| / ||S||`` of the best estimate ``x`` against the
    target magnitudes ``S`` (a region target: over its selected cells only);
    ``sc_db``: the same in dB, ``20 log10``; ``rel_l2``: ``||x - x_ref|| / ||x_ref||``
    (sign-aware) against ``reference`` - the original for a whole-magnitude target,
    the selection's inverse (the selected cells with their true phases, inverted) for
    a region, over every sample; ``n_cells`` / ``n_cells_total``: the cells that
    constrained the estimate; ``time_bandwidth``: the GMW the run went through.

    Runs in the worker thread (it needs one more transform).
    """
    from phasebrush.core.retrieval import metrics as cmet

    out = {}
    if spec.kind == "cwt" and spec.wavelet == "gmw":
        out["time_bandwidth"] = 180.0 if spec.time_bandwidth is None \
            else float(spec.time_bandwidth)
    y = _best_y(result)
    try:
        out["n_cells_total"] = int(np.size(target))
        out["n_cells"] = int(np.count_nonzero(mask)) if mask is not None else int(np.size(target))
        est = np.abs(transform(sig.with_samples(y), spec, cancel=cancel).coefficients)
        if mask is not None:
            inc = cmet.inconsistency(target * mask, est * mask)
        else:
            inc = cmet.inconsistency(target, est)
        out["inconsistency"] = float(inc)
        out["sc_db"] = float(-np.inf) if inc == 0 else float(20 * np.log10(inc))
        if reference is not None and np.any(reference):
            out["rel_l2"] = float(cmet.rel_l2(reference, y))
    except Exception:  # metrics are a courtesy; a finished run never fails on them
        pass
    return out


def _hop_one(tfr) -> bool:
    return not (tfr.spec.kind == "stft" and tfr.spec.hop > 1)
