"""Export and import actions: plain functions taking the parent widget and the data.

Each ``export_*`` asks for a file name (unless ``path`` is given), writes with
the core's atomic writers, and on failure shows a message box that names the
file and the problem (a read-only folder, a missing folder, the input file
itself) and asks again, so the work in memory is never lost and an existing
file is never half-overwritten. They return the path written, or None when
the user cancelled (or, with an explicit ``path``, when writing failed).

Notes the writers return (a signal scaled to fit FLAC's range, a rate
rounded) go to ``notify`` (a status-bar callback), together with "Wrote …".
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog, QMessageBox

from phasebrush.core.errors import LoadError, PhaseBrushError
from phasebrush.core.io.atomic import SaveError
from phasebrush.core.io.selection_table import (
    load_selections,
    save_audacity_labels,
    save_selection_table,
)
from phasebrush.core.io.signals import save_signal
from phasebrush.core.tf.bands import Band, save_bands
from phasebrush.core.tf.masks import save_mask

__all__ = [
    "export_signal", "export_mask", "export_bands", "export_selection_table",
    "import_selection_table", "bands_from_layers", "masks_from_layers", "show_error",
    "AUDIO_FILTER", "SPECTRUM_FILTER",
]

AUDIO_FILTER = "WAV audio (*.wav);;FLAC audio (*.flac);;CSV x,y (*.csv)"
SPECTRUM_FILTER = "CSV x,y (*.csv);;NumPy x,y (*.npy)"
RAVEN_FILTER = "Raven selection table (*.txt *.tsv)"
AUDACITY_FILTER = "Audacity label track (*.txt)"

Notify = Callable[[str], None] | None
log = logging.getLogger(__name__)


def show_error(parent, title: str, message: str) -> None:
    """A modal error box (tests replace ``QMessageBox.critical``)."""
    QMessageBox.critical(parent, title, message)


def _problem(exc: BaseException) -> str:
    if isinstance(exc, (SaveError, LoadError)):
        return exc.problem
    if isinstance(exc, PhaseBrushError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _with_suffix(path: str, selected_filter: str) -> Path:
    """Add the selected filter's first extension when the name has none."""
    p = Path(path)
    if p.suffix or "*." not in selected_filter:
        return p
    ext = selected_filter.split("*.", 1)[1].split(")", 1)[0].split()[0]
    return p.with_name(p.name + "." + ext)


def _save_loop(parent, what: str, path, start: Path, filters: str, write,
               notify: Notify) -> Path | None:
    """Ask (unless ``path``), write, report; ask again after a failure."""
    interactive = path is None
    while True:
        chosen_filter = ""
        if interactive:
            name, chosen_filter = QFileDialog.getSaveFileName(parent, f"Export {what}",
                                                              str(start), filters)
            if not name:
                return None
            target = _with_suffix(name, chosen_filter)
        else:
            target = Path(path)
        try:
            notes = write(target, chosen_filter) or ()
        except Exception as exc:  # any failure (a writer's bug included) is shown, never lost
            if not isinstance(exc, PhaseBrushError | OSError):
                log.error("export of %s to %s failed", what, target, exc_info=exc)
            if notify is not None:
                notify(f"Could not write {target}: {_problem(exc)}")
            show_error(parent, f"Export {what}",
                       f"Could not write {target}:\n{_problem(exc)}\n\n"
                       f"Nothing was lost: the {what} is still open, and any existing file at "
                       "that name is unchanged. Choose another folder or name.")
            if not interactive:
                return None
            start = target
            continue
        if notify is not None:
            notify(f"Wrote {target}" + (f" ({'; '.join(notes)})" if notes else ""))
        return target


def export_signal(parent, signal, y, *, what: str = "reconstruction", path=None,
                  start_dir: str = "", notify: Notify = None) -> Path | None:
    """Save ``y`` on ``signal``'s axis as WAV, FLAC or CSV (x, y in the file's own order).

    Parameters
    ----------
    signal : core.signal.Signal
        Gives the axis (rate, x0, unit, descending) and the file not to overwrite.
    y : np.ndarray [shape=(signal.n,), real]
        The reconstruction, band or residual.
    what : str
        Names it in the dialog, the default file name and messages.
    path : str or Path or None
        Write here without asking (format from the extension).
    """
    if y is None:
        show_error(parent, f"Export {what}", f"There is no {what} to export yet.")
        return None
    sig = signal.with_samples(np.asarray(y, dtype=np.float64), name=f"{signal.name} {what}")
    ext = ".wav" if signal.is_audio else ".csv"
    start = Path(start_dir or ".") / f"{signal.name} {what}{ext}"

    def write(target: Path, _filter: str):
        return save_signal(sig, target, refuse=signal.source)

    filters = AUDIO_FILTER if signal.is_audio else SPECTRUM_FILTER
    return _save_loop(parent, what, path, start, filters, write, notify)


def export_mask(parent, mask, tfr, *, name: str = "mask", path=None, start_dir: str = "",
                notify: Notify = None) -> Path | None:
    """Save ``mask`` [shape=tfr.shape, bool or soft] with ``tfr``'s grid as NPZ."""
    start = Path(start_dir or ".") / f"{name}.npz"

    def write(target: Path, _filter: str):
        save_mask(target, mask, frequencies=tfr.frequencies, times=tfr.times, name=name,
                  edge_row_indices=tfr.edge_row_indices)

    return _save_loop(parent, "mask", path, start, "Masks (*.npz)", write, notify)


def export_bands(parent, bands, *, path=None, start_dir: str = "",
                 notify: Notify = None) -> Path | None:
    """Save ``bands`` (list of core Band) as JSON."""
    start = Path(start_dir or ".") / "bands.json"

    def write(target: Path, _filter: str):
        save_bands(target, bands)

    return _save_loop(parent, "bands", path, start, "Bands (*.json)", write, notify)


def export_selection_table(parent, bands, *, unit: str, time_range=None, path=None,
                           audacity: bool | None = None, start_dir: str = "",
                           notify: Notify = None) -> Path | None:
    """Save ``bands`` as a tab-separated selection table (bounding boxes).

    Parameters
    ----------
    unit : str
        The signal's axis unit (names the Raven columns).
    time_range : (float, float) or None
        The signal's span: clips the boxes, and bounds bands with constant edges.
    audacity : bool or None
        True: an Audacity label track; False: a Raven table; None: as the
        dialog's chosen filter says (Raven for an explicit ``path``).
    """
    start = Path(start_dir or ".") / "selections.txt"

    def write(target: Path, chosen: str):
        as_audacity = audacity if audacity is not None else chosen == AUDACITY_FILTER
        if as_audacity:
            save_audacity_labels(target, bands, time_range=time_range)
        else:
            save_selection_table(target, bands, unit=unit, time_range=time_range)

    return _save_loop(parent, "selection table", path, start,
                      f"{RAVEN_FILTER};;{AUDACITY_FILTER}", write, notify)


def import_selection_table(parent, *, unit: str | None = None, freq_range=None, path=None,
                           start_dir: str = "", notify: Notify = None) -> list[Band] | None:
    """Read a Raven table or an Audacity label track as rectangular bands.

    Returns None when cancelled or unreadable (after a message naming the file
    and the line); skipped rows (zero duration) are reported through
    ``notify``.
    """
    if path is None:
        path, _ = QFileDialog.getOpenFileName(
            parent, "Import selection table", start_dir,
            f"Selection tables (*.txt *.tsv);;{RAVEN_FILTER};;{AUDACITY_FILTER};;All files (*)")
        if not path:
            return None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bands = load_selections(path, unit=unit, freq_range=freq_range)
    except Exception as exc:  # a loader bug must still give a message, not a dead action
        if not isinstance(exc, PhaseBrushError | OSError):
            log.error("reading selection table %s failed", path, exc_info=exc)
        show_error(parent, "Import selection table", f"Could not read {path}:\n{_problem(exc)}")
        return None
    if notify is not None:
        msg = f"Read {len(bands)} selection(s) from {path}"
        skipped = [str(w.message) for w in caught]
        if skipped:
            msg += f"; {len(skipped)} skipped (zero duration)"
        notify(msg)
    return bands


def bands_from_layers(layers) -> list[Band]:
    """The band layers of an :class:`app.layers.LayerModel` as core Bands, in order."""
    return [lay.band() for lay in layers if lay.is_band]


def masks_from_layers(layers) -> dict[str, np.ndarray]:
    """The painted layers' masks by name (names made unique: "mask", "mask (2)" ...)."""
    out: dict[str, np.ndarray] = {}
    for lay in layers:
        if lay.is_band or lay.mask is None:
            continue
        name, i = lay.name, 2
        while name in out:
            name, i = f"{lay.name} ({i})", i + 1
        out[name] = lay.mask.copy() if lay.tiled else np.array(lay.mask, copy=True)
    return out
