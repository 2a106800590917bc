"""Write failures (short write, disk full, file too large, permission) end as one SaveError.

The real test runs a child process under a small RLIMIT_FSIZE with SIGXFSZ
ignored, so every write past the limit is a genuine short write / EFBIG from
the kernel, through soundfile's callbacks, numpy's tofile and plain writes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from phasebrush.core.io import atomic
from phasebrush.core.io.atomic import SaveError, atomic_write, atomic_write_bytes
from phasebrush.core.io.signals import save_signal
from phasebrush.core.signal import Signal

REPO = Path(__file__).resolve().parents[3]
FORMATS = ("wav", "flac", "ogg", "csv", "npy", "npz")


def _digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _signal(n=4000, fs=8000):
    return Signal(0.5 * np.sin(2 * np.pi * 440 * np.arange(n) / fs), dx=1 / fs, name="tone")


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_real_short_writes_under_a_file_size_limit(tmp_path):
    old = {}
    for ext in FORMATS:
        path = tmp_path / f"out.{ext}"
        save_signal(_signal(400), path)  # small: below the limit
        old[path.name] = _digest(path)
    child = textwrap.dedent("""
        import resource, signal, sys
        from pathlib import Path
        import numpy as np
        from phasebrush.core.errors import PhaseBrushError
        from phasebrush.core.io.signals import save_signal
        from phasebrush.core.signal import Signal

        folder = Path(sys.argv[1])
        big = Signal(np.sin(np.arange(300_000) * 0.01), dx=1 / 8000)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (20_000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        for ext in sys.argv[2:]:
            try:
                save_signal(big, folder / f"out.{ext}")
                print("WROTE", ext)
            except PhaseBrushError as exc:
                print(type(exc).__name__, "|", exc)
    """)
    run = subprocess.run([sys.executable, "-c", child, str(tmp_path), *FORMATS],
                         capture_output=True, text=True, timeout=120, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 0, run.stderr
    assert "Exception ignored" not in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.strip() == "", run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == len(FORMATS), run.stdout
    for ext, line in zip(FORMATS, lines, strict=True):
        kind, _, msg = line.partition(" | ")
        assert kind == "SaveError", line
        assert msg.startswith(str(tmp_path / f"out.{ext}") + ": "), line
        assert "too large" in msg, line
    # old files intact, no temp file left
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(old)
    assert {p.name: _digest(p) for p in tmp_path.iterdir()} == old


class _FullDisk:
    """A binary file that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, fh, room):
        self._fh, self._room = fh, room

    def write(self, data):
        if len(data) > self._room:
            self._room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


@pytest.mark.parametrize("ext", FORMATS)
def test_disk_full_is_a_save_error_and_keeps_the_old_file(tmp_path, monkeypatch, capfd, ext):
    path = tmp_path / f"keep.{ext}"
    save_signal(_signal(400), path)
    before = _digest(path)
    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen",
                        lambda fd, *a, **k: _FullDisk(real_fdopen(fd, *a, **k), 3000))
    with pytest.raises(SaveError) as info:
        save_signal(_signal(40_000), path)
    monkeypatch.undo()
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "disk is full" in msg and "\n" not in msg, msg
    assert "Exception ignored" not in capfd.readouterr().err
    assert _digest(path) == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_permission_denied_on_replace(tmp_path, monkeypatch):
    path = tmp_path / "keep.bin"
    path.write_bytes(b"old")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.os, "replace", denied)
    with pytest.raises(SaveError, match="permission denied"):
        atomic_write_bytes(path, b"new content")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.bin"]


@pytest.mark.parametrize("err,frag", [
    (OSError(errno.ENOSPC, "No space left on device"), "disk is full"),
    (OSError(errno.EFBIG, "File too large"), "too large"),
    (OSError(errno.EROFS, "Read-only file system"), "read-only"),
    (OSError("99 requested and 14 written"), "stopped short"),
])
def test_os_errors_become_one_line_save_errors(tmp_path, err, frag):
    path = tmp_path / "f.txt"

    def writer(fh):
        fh.write("partial")
        raise err

    with pytest.raises(SaveError) as info:
        atomic_write(path, writer)
    assert frag in str(info.value) and str(info.value).startswith(str(path))
    assert list(tmp_path.iterdir()) == []


def test_encoder_failure_is_a_save_error(tmp_path, monkeypatch):
    import soundfile as sf

    path = tmp_path / "keep.wav"
    save_signal(_signal(400), path)
    before = _digest(path)

    def fail(*args, **kwargs):
        raise sf.LibsndfileError(1, "encoder crashed")

    monkeypatch.setattr(sf, "write", fail)
    with pytest.raises(SaveError, match="could not be encoded"):
        save_signal(_signal(400), path)
    assert _digest(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]
