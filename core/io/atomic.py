"""Atomic file writes: a temp file in the target's folder, then ``os.replace``.

A reader (or a crash) never sees a half-written file: either the old file is
still there, untouched, or the new one is complete. Every writer in the
project (signals, masks, band sets, sessions) goes through here.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from phasebrush.core.errors import PhaseBrushError

__all__ = ["SaveError", "atomic_write", "atomic_write_bytes", "atomic_write_text"]


class SaveError(PhaseBrushError):
    """A file could not be written. The message starts with the file's path."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


_ERRNO_PROBLEMS = {
    errno.ENOSPC: "the disk is full (no space left on device)",
    errno.EFBIG: "the file would be too large for this disk or this process's file size limit",
    errno.EROFS: "the disk is read-only",
    errno.EIO: "the disk reported an input/output error",
}
if hasattr(errno, "EDQUOT"):
    _ERRNO_PROBLEMS[errno.EDQUOT] = "the disk quota is exhausted"


def _os_problem(exc: OSError, folder: Path, *, kept: bool = False) -> str:
    """One line for the user saying why a write failed; nothing was written."""
    if isinstance(exc, PermissionError):
        return f"cannot write in folder {folder} (permission denied)"
    if isinstance(exc, FileNotFoundError):
        return f"folder {folder} does not exist"
    if isinstance(exc, NotADirectoryError):
        return f"{folder} is not a folder"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    tail = "; the old file is kept unchanged" if kept else ""
    if exc.errno in _ERRNO_PROBLEMS:
        return f"cannot write: {_ERRNO_PROBLEMS[exc.errno]}{tail}"
    if exc.errno is None:
        # numpy's tofile reports a short write as "N requested and M written", no errno
        return f"cannot write: the write stopped short ({exc}); is the disk full?{tail}"
    return f"cannot write ({exc.strerror or exc}){tail}"


def _final_mode(path: Path) -> int:
    # mkstemp creates 0600; give the result the mode a plain open() would
    # (or keep the mode of the file being replaced).
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path, writer: Callable[[IO], object], *, binary: bool = False) -> Path:
    """Write a file atomically through ``writer(f)``.

    Parameters
    ----------
    path : str or Path
        The file to create or replace.
    writer : callable
        Called once with an open file object on a temporary file in the same
        folder (text mode, UTF-8, unless ``binary``). It must write the whole
        content. Whatever it raises is re-raised after the temp file is
        removed; ``path`` is then untouched.
    binary : bool
        Open the temp file in binary mode (for ``np.save``, soundfile ...).

    Returns
    -------
    Path
        ``path``, once it holds the new content.

    Raises
    ------
    SaveError
        The folder is missing, not a folder, or not writable, ``path`` is a
        folder, writing failed (disk full, file too large, a short write,
        read-only disk, I/O error: any OSError from ``writer``, flush, fsync
        or close), or the final rename failed. The message is one line.
    """
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise SaveError(path, "is a folder, not a file")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                                   dir=folder)
    except OSError as exc:
        raise SaveError(path, _os_problem(exc, folder)) from None
    tmp = Path(tmp)
    try:
        mode = "wb" if binary else "w"
        with os.fdopen(fd, mode, **({} if binary else {"encoding": "utf-8"})) as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _final_mode(path))
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink()
        except OSError:
            pass  # already gone, or the folder turned read-only: the first error matters
        if isinstance(exc, OSError):
            raise SaveError(path, _os_problem(exc, folder, kept=path.exists())) from exc
        raise
    return path


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda fh: fh.write(data), binary=True)


def atomic_write_text(path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    data = text.encode(encoding)
    return atomic_write(path, lambda fh: fh.write(data), binary=True)
