"""Save and load a TFR (or just a magnitude and its transform parameters) as NPZ."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phasebrush.core.errors import LoadError, ParameterError
from phasebrush.core.tf.feature_width import has_width_axis, width_axis
from phasebrush.core.tf.transforms import TFR, TransformSpec

__all__ = ["save_tfr", "load_magnitude", "MagnitudeTarget", "npz_kind"]

#: Arrays that make an NPZ a magnitude target (either one).
MAGNITUDE_KEYS = ("magnitude", "coefficients")


def save_tfr(path, tfr: TFR) -> Path:
    """Write ``tfr`` to ``path`` (.npz), atomically.

    Arrays: ``coefficients`` (complex128, rows ascending in frequency),
    ``frequencies`` and ``times`` (physical units, one per row / column),
    ``row_weights``, ``edge_row_indices``; scalars ``offset``, ``n_samples``,
    ``dx``, ``x0``; strings ``unit`` and ``spec`` (TransformSpec as JSON).
    CWT kinds of a signal whose axis is not time (a spectrum) also get
    ``feature_widths`` [shape=(n_rows,), float64, x-units]: each row's
    calibrated peak width, the FWHM of the Gaussian peak brightest in it
    (:func:`core.tf.feature_width.width_axis`).

    Raises
    ------
    SaveError
        The coefficients hold NaN or infinite values (nothing is written: a
        later retrieval from them could only fail), or the write failed.
    """
    from phasebrush.core.io.atomic import SaveError, atomic_write

    path = Path(path)
    bad = ~np.isfinite(tfr.coefficients)
    if bad.any():
        raise SaveError(path, f"{int(bad.sum())} of {bad.size} coefficients are NaN or "
                              "infinite (a signal of huge values?); nothing written")
    arrays = dict(
        coefficients=tfr.coefficients,
        frequencies=tfr.frequencies,
        times=tfr.times,
        row_weights=tfr.row_weights,
        edge_row_indices=np.asarray(tfr.edge_row_indices, dtype=np.int64),
        offset=np.float64(tfr.offset),
        n_samples=np.int64(tfr.n_samples),
        dx=np.float64(tfr.dx),
        x0=np.float64(tfr.x0),
        unit=np.str_(tfr.unit),
        spec=np.str_(json.dumps(tfr.spec.to_dict())),
    )
    if has_width_axis(tfr.spec, tfr.unit):
        try:
            arrays["feature_widths"] = np.asarray(width_axis(tfr).widths, dtype=np.float64)
        except ParameterError:
            pass      # rows without positive frequencies: no width axis to store

    def write(f):
        np.savez(f, **arrays)

    atomic_write(path, write, binary=True)
    return path


def npz_kind(path) -> str:
    """What an NPZ holds: ``"magnitude"`` (from :func:`save_tfr`, or any file
    with a ``magnitude`` or ``coefficients`` array) or ``"signal"`` (a ``y``
    array, as ``core.io.signals.save_signal`` writes, optionally with ``x``).

    Only the archive's list of names is read, not the arrays.

    Raises
    ------
    LoadError
        Missing, not a readable NPZ, or holding neither kind of array.
    """
    path = Path(path)
    try:
        z = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise LoadError(path, "no such file") from None
    except IsADirectoryError:
        raise LoadError(path, "is a folder, not an NPZ file") from None
    except (ValueError, zipfile.BadZipFile, EOFError):
        # numpy's own text speaks of pickles, which misleads for a damaged file
        raise LoadError(path, "is not an NPZ archive (no zip data in it)") from None
    except OSError as exc:
        raise LoadError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        # np.load gives a bare array for an .npy renamed .npz
        raise LoadError(path, "holds one bare array (an NPY file?), not an NPZ archive")
    with z:
        keys = set(z.files)
    if keys & set(MAGNITUDE_KEYS):
        return "magnitude"
    if "y" in keys:
        return "signal"
    raise LoadError(path, "holds neither a magnitude ('magnitude' or 'coefficients', from "
                          f"`phasebrush transform`) nor a signal ('y'); found "
                          f"{', '.join(sorted(keys)) or 'no arrays'}")


@dataclass(frozen=True, eq=False)
class MagnitudeTarget:
    """A magnitude image and what is needed to retrieve a signal from it.

    Attributes
    ----------
    S : np.ndarray [shape=(n_rows, n_frames), float64, >= 0]
    spec : TransformSpec
    n_samples : int
    dx : float
    x0 : float
    unit : str
    feature_widths : np.ndarray [shape=(n_rows,), float64] or None
        Calibrated peak width (FWHM, x-units) of each row, where the file has
        them (CWT of a spectrum, saved by this version); None otherwise.
    """

    S: np.ndarray
    spec: TransformSpec
    n_samples: int
    dx: float = 1.0
    x0: float = 0.0
    unit: str = "s"
    feature_widths: np.ndarray | None = None


def load_magnitude(path) -> MagnitudeTarget:
    """Read a magnitude target from an NPZ written by :func:`save_tfr`.

    The file may hold ``coefficients`` (complex; the magnitude is taken) or
    ``magnitude`` (real, >= 0), plus ``spec`` (JSON) and ``n_samples``;
    ``feature_widths`` is optional (files from older versions lack it).
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            if "magnitude" in keys:
                S = np.asarray(z["magnitude"], dtype=np.float64)
            elif "coefficients" in keys:
                S = np.abs(z["coefficients"])
            else:
                raise LoadError(path, "holds neither 'magnitude' nor 'coefficients'")
            for key in ("spec", "n_samples"):
                if key not in keys:
                    raise LoadError(path, f"missing '{key}' (the transform parameters)")
            spec = TransformSpec.from_dict(json.loads(str(z["spec"])))
            n_samples = int(z["n_samples"])
            dx = float(z["dx"]) if "dx" in keys else 1.0
            x0 = float(z["x0"]) if "x0" in keys else 0.0
            unit = str(z["unit"]) if "unit" in keys else "s"
            widths = (np.asarray(z["feature_widths"], dtype=np.float64).ravel()
                      if "feature_widths" in keys else None)
    except LoadError:
        raise
    except FileNotFoundError:
        raise LoadError(path, "no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, json.JSONDecodeError, ParameterError,
            TypeError) as exc:
        raise LoadError(path, f"not a readable magnitude NPZ ({exc})") from None
    if S.ndim != 2:
        raise LoadError(path, f"magnitude must be 2-D, got shape {S.shape}")
    if widths is not None and widths.shape != (S.shape[0],):
        raise LoadError(path, f"feature_widths has {widths.size} values for {S.shape[0]} rows")
    return MagnitudeTarget(S=S, spec=spec, n_samples=n_samples, dx=dx, x0=x0, unit=unit,
                           feature_widths=widths)
