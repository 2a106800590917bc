"""The selection as indices: a table in the Selection dock, and its export.

Thin over :mod:`core.tf.indices`: a :class:`SelectionBlocks` snapshot of the
visible layers answers "the selection in columns [a, b)" (dense masks and
band ranges for a whole transform, tiled masks and band geometry for a long
recording); :class:`core.tf.indices.IntervalIndex` counts its records once, in
a worker, and :class:`IndicesTableModel` formats only the rows on screen, a
page at a time, so a 26 M-column recording costs a few thousand counts, not
its records. Export streams the same snapshot block by block into
:func:`core.tf.indices.write_indices` in a worker; a progress dialog appears
when it takes over a second.
"""

from __future__ import annotations

import collections
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressDialog,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from phasebrush.app.worker import Worker
from phasebrush.core.errors import Cancelled
from phasebrush.core.tf.bands import freq_unit
from phasebrush.core.tf.indices import (
    FIELDS,
    IntervalIndex,
    iter_indices,
    union_intervals,
    write_indices,
)
from phasebrush.core.tf.masks import mask_intervals

__all__ = ["SelectionBlocks", "IndicesTableModel", "IndicesView", "IndicesExport",
           "INDEX_FILTER"]

INDEX_FILTER = "CSV, one row per interval (*.csv);;NumPy NPZ, one array per field (*.npz)"
#: Records formatted at a time by the table model.
PAGE_ROWS = 256
_PAGES_KEPT = 16
#: Wait this long after the last change before recounting (a burst of edits: one count).
REFRESH_DELAY_MS = 150
#: A progress dialog appears when an export runs longer than this.
PROGRESS_AFTER_MS = 1000


class SelectionBlocks:
    """The visible selection of a LayerModel, frozen: ``blocks(a, b)`` gives columns
    ``[a, b)`` as flat intervals (or None), from any thread.

    Bands keep their (immutable) ranges or, on a long recording, their edges;
    painted masks are copied (dense) or snapshot (tiled: bytes as painted).
    """

    def __init__(self, layers):
        self.grid = layers.tfr
        self.long = bool(layers.long)
        self._ranges, self._bands, self._dense, self._tiled = [], [], [], []
        for lay in layers.visible_layers():
            if lay.is_band:
                if lay.ranges is not None:
                    self._ranges.append(lay.ranges)
                elif self.long and lay.n_cells() > 0:
                    self._bands.append(lay.band())
            elif lay.mask is not None and lay.n_cells() > 0:
                (self._tiled if lay.tiled else self._dense).append(lay.mask.copy())

    @property
    def empty(self) -> bool:
        return not (self._ranges or self._bands or self._dense or self._tiled)

    def __call__(self, c0: int, c1: int):
        from phasebrush.app.long_inverse import band_block

        parts = [(s[c0:c1], e[c0:c1]) for s, e in self._ranges]
        parts += [band_block(b, self.grid, c0, c1) for b in self._bands]
        parts += [mask_intervals(m[:, c0:c1], col0=c0) for m in self._dense]
        parts += [m.intervals(c0, c1) for m in self._tiled]
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]    # one band's ranges or one mask's runs: nothing to merge
        return union_intervals(parts, c0, c1)


def _time_decimals(grid) -> int:
    """Decimals that tell neighbouring columns apart."""
    dx = getattr(grid, "col_dx", None)
    if dx is None:
        t = np.asarray(grid.times[:2], float)
        dx = float(t[1] - t[0]) if t.size > 1 else 1.0
    return max(0, min(9, math.ceil(-math.log10(abs(dx)) - 1e-9))) if dx else 3


def _freq_text(f: float) -> str:
    # 4 significant digits, never an exponent: 204.1, 12350, 0.003125
    return np.format_float_positional(f, precision=4, unique=False, fractional=False,
                                      trim="-")


class IndicesTableModel(QAbstractTableModel):
    """A virtual table of an :class:`~core.tf.indices.IntervalIndex`: one row per record
    (column, time, start_row, end_row exclusive, start_freq, end_freq).

    Rows are formatted on demand, :data:`PAGE_ROWS` at a time, for the pages
    the view asks for; nothing is held per row.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self._index: IntervalIndex | None = None
        self._pages: collections.OrderedDict[int, list] = collections.OrderedDict()
        self._decimals = 3
        self._unit = "s"

    @property
    def intervals(self) -> IntervalIndex | None:
        return self._index

    def set_intervals(self, index: IntervalIndex | None, grid=None) -> None:
        self.beginResetModel()
        self._index = index
        self._pages.clear()
        if index is not None:
            self._unit = index.unit
            if grid is not None:
                self._decimals = _time_decimals(grid)
        self.endResetModel()

    def headers(self) -> list[str]:
        tu, fu = self._unit or "samples", freq_unit(self._unit)
        if len(fu) > 6:
            fu = fu.replace("/", "/\n")   # "cycles/\ncm^-1": narrow columns for spectra
        return ["column", f"time\n({tu})", "start\nrow", "end\nrow", f"start\n({fu})",
                f"end\n({fu})"]

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        if parent.isValid() or self._index is None:
            return 0
        return min(len(self._index), 2**31 - 1)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(FIELDS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.headers()[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return _HEADER_TIPS[section].format(fu=freq_unit(self._unit),
                                                tu=self._unit or "samples")
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self._index is None:
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        page, k = divmod(index.row(), PAGE_ROWS)
        row = self._page(page)[k]
        if role == Qt.ItemDataRole.DisplayRole:
            return row[index.column()]
        c, t, s, e, fs, fe = row
        return (f"column {c} at {t} {self._unit or 'samples'}: rows {s} to {int(e) - 1} "
                f"selected ({fs} to {fe} {freq_unit(self._unit)})")

    def row_texts(self, row: int) -> list[str]:
        """The six cells of table row ``row``, as shown."""
        page, k = divmod(int(row), PAGE_ROWS)
        return list(self._page(page)[k])

    def _page(self, page: int) -> list:
        got = self._pages.get(page)
        if got is not None:
            self._pages.move_to_end(page)
            return got
        rec = self._index.records(page * PAGE_ROWS, (page + 1) * PAGE_ROWS)
        d = self._decimals
        rows = list(zip(map(str, rec.column.tolist()),
                        [f"{t:.{d}f}" for t in rec.time.tolist()],
                        map(str, rec.start_row.tolist()), map(str, rec.end_row.tolist()),
                        map(_freq_text, rec.start_freq.tolist()),
                        map(_freq_text, rec.end_freq.tolist()), strict=True))
        self._pages[page] = rows
        while len(self._pages) > _PAGES_KEPT:
            self._pages.popitem(last=False)
        return rows


_HEADER_TIPS = (
    "TFR column (0 = the first time column)",
    "The column's time ({tu})",
    "First selected row (row 0 = the lowest frequency)",
    "One past the last selected row: rows start_row .. end_row - 1 are selected "
    "(as in the exported CSV / NPZ and numpy slicing S[start_row:end_row, column])",
    "Frequency of row start_row ({fu})",
    "Frequency of the last selected row, end_row - 1 ({fu})",
)


class IndicesExport(QObject):
    """One export of the selection's indices to CSV or NPZ, streamed in a worker.

    Signals
    -------
    finished(str)
        The path written.
    failed(str)
        Why nothing was written.
    cancelled()
        The user stopped it; nothing was written.
    """

    finished = Signal(str)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, blocks: SelectionBlocks, path, *, block_cols: int | None = None,
                 parent_widget=None, parent=None):
        super().__init__(parent)
        self.path = Path(path)
        self._blocks = blocks
        self._dialog = None
        self._parent_widget = parent_widget
        grid = blocks.grid
        shape = (int(grid.n_rows), int(grid.n_frames))

        def task(progress, cancel):
            chunks = iter_indices(blocks, grid, block_cols=block_cols, progress=progress,
                                  cancel=cancel)
            write_indices(self.path, chunks, unit=str(getattr(grid, "unit", "s")),
                          shape=shape)
            return str(self.path)

        w = Worker(task, name="indices export", interval_s=0.1)
        w.progressed.connect(self._on_progressed)
        w.succeeded.connect(lambda p: self.finished.emit(str(p)))
        w.failed.connect(self._on_failed)
        w.finished.connect(self._on_thread_finished)
        self._worker: Worker | None = w
        self._timer = QTimer(self, singleShot=True, interval=PROGRESS_AFTER_MS)
        self._timer.timeout.connect(self._show_progress)

    def start(self) -> None:
        self._timer.start()
        self._worker.start()

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def stop(self, timeout_ms: int = 1_000) -> bool:
        """Cancel and wait for the worker; True when it has ended."""
        return self._worker is None or self._worker.stop(timeout_ms)

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.isRunning()

    def _show_progress(self) -> None:
        if not self.running:
            return
        d = QProgressDialog(f"Writing the indices to {self.path.name}…", "Cancel", 0, 1000,
                            self._parent_widget)
        d.setWindowTitle("Export indices")
        d.setWindowModality(Qt.WindowModality.WindowModal)
        d.setMinimumDuration(0)
        d.canceled.connect(self.cancel)
        d.show()
        self._dialog = d

    def _on_progressed(self, fraction) -> None:
        if self._dialog is not None:
            self._dialog.setValue(int(1000 * float(fraction)))

    def _on_failed(self, message: str, exc) -> None:
        if isinstance(exc, Cancelled):
            self.cancelled.emit()
        else:
            self.failed.emit(message)

    def _on_thread_finished(self) -> None:
        self._timer.stop()
        if self._dialog is not None:
            self._dialog.canceled.disconnect(self.cancel)
            self._dialog.close()
            self._dialog.deleteLater()
            self._dialog = None
        w, self._worker = self._worker, None     # never touched again once deleted
        if w is not None:
            w.deleteLater()


class IndicesView(QWidget):
    """The table of the selection's indices, following the LayerModel's selection.

    After a change (and the end of a live stroke or drag), the records are
    recounted in a worker, :data:`REFRESH_DELAY_MS` after the last change and
    only while the table is shown; the table keeps its place by column.

    Signals
    -------
    indices_updated()
        The table now shows the current selection.
    exported(str), export_failed(str), export_cancelled()
        An export (:meth:`export`) wrote this path / failed for this reason / was
        cancelled by the user (nothing written).
    """

    indices_updated = Signal()
    exported = Signal(str)
    export_failed = Signal(str)
    export_cancelled = Signal()

    #: Columns per block when counting and exporting (None: core.tf.indices.block_columns).
    block_cols: int | None = None

    def __init__(self, layers, parent=None):
        super().__init__(parent)
        self.layers = layers
        self.model = IndicesTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setToolTip("The selection as indices: one row per run of selected rows "
                              "in one time column (end row exclusive)")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setCornerButtonEnabled(False)
        vh = self.table.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(self.fontMetrics().height() + 6)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(False)
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.table.setMinimumHeight(6 * vh.defaultSectionSize())
        self.summary = QLabel("No selection")
        self.summary.setWordWrap(True)
        self.export_button = QToolButton()
        self.export_button.setText("Export…")
        self.export_button.setToolTip("Save these indices as CSV or NPZ")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.summary, 1)
        top.addWidget(self.export_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.table, 1)

        self._worker: Worker | None = None
        self._again = False
        self._stale = True
        self._token = 0
        self._export: IndicesExport | None = None
        self._timer = QTimer(self, singleShot=True, interval=REFRESH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        layers.selection_changed.connect(self._on_selection_changed)
        layers.live_edit_ended.connect(self._on_selection_changed)
        self._on_selection_changed()

    # -- following the selection -----------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._worker is not None or self._timer.isActive()

    def _on_selection_changed(self) -> None:
        self._stale = True
        self._token += 1
        if self._worker is not None:
            self._worker.cancel()     # superseded
        if not self.layers.live:
            self._timer.start()

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if self._stale and not self._timer.isActive() and self._worker is None:
            self._timer.start(0)

    def refresh(self) -> None:
        """Recount the selection now (in a worker), if the table is shown."""
        if self._worker is not None:
            self._again = True
            return
        if not self.isVisible():
            return          # counted when shown (showEvent)
        self._stale = False
        token = self._token
        if self.layers.tfr is None:
            self._adopt(None, None, token)
            return
        blocks = SelectionBlocks(self.layers)
        if blocks.empty:
            self._adopt(None, blocks.grid, token)
            return
        index = IntervalIndex(blocks, blocks.grid, block_cols=self.block_cols)

        def task(progress, cancel):
            return index.build(progress=progress, cancel=cancel)

        w = Worker(task, name="selection indices", interval_s=0.2)
        w.progressed.connect(lambda f, t=token: self._on_count_progress(f, t))
        w.succeeded.connect(lambda ix, t=token, g=blocks.grid: self._adopt(ix, g, t))
        w.failed.connect(lambda m, e, t=token: self._on_count_failed(m, e, t))
        w.finished.connect(lambda w=w: self._on_count_finished(w))
        self._worker = w
        w.start()

    def _on_count_progress(self, fraction, token: int) -> None:
        if token == self._token:
            self.summary.setText(f"Counting the intervals… {100 * float(fraction):.0f}%")

    def _on_count_failed(self, message: str, exc, token: int) -> None:
        if token == self._token and not isinstance(exc, Cancelled):
            self.summary.setText(message)

    def _on_count_finished(self, w: Worker) -> None:
        if w is self._worker:
            self._worker = None
        w.deleteLater()
        if self._again or self._stale:
            self._again = False
            if not self._timer.isActive() and not self.layers.live:
                self._timer.start(0)

    def _adopt(self, index: IntervalIndex | None, grid, token: int) -> None:
        if token != self._token:
            return              # a newer change is being counted
        top_col = self._top_column()
        self.model.set_intervals(index, grid)
        self._size_columns()
        if index is None or len(index) == 0:
            self.summary.setText("No selection: draw a band or paint a mask"
                                 if self.layers.tfr is not None else "No transform yet")
        else:
            n, n_cols = len(index), index.n_columns
            total = index.shape[1]
            self.summary.setText(f"{n:,} interval{'s' if n != 1 else ''} in {n_cols:,} of "
                                 f"{total:,} columns")
            self.summary.setToolTip("One row per run of selected rows in one time column: "
                                    "rows start .. end - 1 are selected (end excluded), as in "
                                    "the exported CSV / NPZ")
            if top_col is not None:
                self.table.scrollTo(self.model.index(min(index.first_at(top_col), n - 1), 0),
                                    QAbstractItemView.ScrollHint.PositionAtTop)
        self.indices_updated.emit()

    def _top_column(self) -> int | None:
        if self.model.rowCount() == 0:
            return None
        row = self.table.rowAt(0)
        if row <= 0:
            return None
        return int(self.model.row_texts(row)[0])

    def _size_columns(self) -> None:
        """Widths from the header text and the widest values of the first and last page."""
        fm = self.table.fontMetrics()
        hfm = self.table.horizontalHeader().fontMetrics()
        n = self.model.rowCount()
        samples = []
        for r in {0, max(n - 1, 0)} if n else ():
            samples.append(self.model.row_texts(r))
        pad = 12
        widths = []
        for j, head in enumerate(self.model.headers()):
            w = max(hfm.horizontalAdvance(line) for line in head.split("\n"))
            for row in samples:
                w = max(w, fm.horizontalAdvance(row[j]))
            widths.append(w + pad)
        # What is left of the table's width goes to every column alike (no one wide
        # last column with its numbers far right).
        t = self.table
        room = (t.width() - 2 * t.frameWidth() - t.verticalScrollBar().sizeHint().width() - 2)
        slack = room - sum(widths)
        hh = self.table.horizontalHeader()
        for j, w in enumerate(widths):
            hh.resizeSection(j, w + max(slack, 0) // len(widths))

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._size_columns()

    def shutdown(self, timeout_ms: int = 1_000) -> bool:
        """Stop the count and any export (before the window closes)."""
        self._token += 1
        self._timer.stop()
        ok = self._worker is None or self._worker.stop(timeout_ms)
        if self._export is not None:
            ok = self._export.stop(timeout_ms) and ok
        return ok

    # -- export --------------------------------------------------------------------------
    def export(self, path=None, *, start_dir: str = "") -> IndicesExport | None:
        """Write the visible selection's indices to ``path`` (asks when None): CSV or NPZ
        by the suffix, streamed in a worker (progress after a second). None when there is
        nothing to write, the user cancelled, or an export is already running."""
        if self._export is not None and self._export.running:
            self.export_failed.emit("an export of the indices is already running")
            return None
        if self.layers.tfr is None:
            self.export_failed.emit("Nothing to export yet: wait for the image to appear")
            return None
        blocks = SelectionBlocks(self.layers)
        if blocks.empty:
            self.export_failed.emit("Nothing to export yet: draw a band or paint a mask first")
            return None
        if path is None:
            name, chosen = QFileDialog.getSaveFileName(
                self, "Export indices", str(Path(start_dir or ".") / "indices.csv"),
                INDEX_FILTER)
            if not name:
                return None
            path = Path(name)
            if not path.suffix:
                path = path.with_suffix(".npz" if "npz" in chosen else ".csv")
        path = Path(path)
        if path.suffix.lower() not in (".csv", ".npz"):
            self.export_failed.emit(f"{path}: indices are written as .csv or .npz, not "
                                    f"{path.suffix or 'a file without an extension'}")
            return None
        job = IndicesExport(blocks, path, block_cols=self.block_cols,
                            parent_widget=self.window(), parent=self)
        job.finished.connect(self.exported)
        job.failed.connect(self.export_failed)
        job.cancelled.connect(self.export_cancelled)
        self._export = job
        job.start()
        return job
