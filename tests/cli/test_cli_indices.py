"""`phasebrush invert --indices-out`: the selection's indices, whole and streamed."""

import json

import numpy as np
import pytest

from phasebrush.cli import commands
from phasebrush.cli import main as cli
from phasebrush.core.io.signals import save_signal
from phasebrush.core.signal import Signal
from phasebrush.core.tf.bands import load_bands
from phasebrush.core.tf.indices import indices_from_bands, read_indices, write_indices_csv
from phasebrush.core.tf.transforms import TransformSpec, transform

FS, N = 4000.0, 4000


@pytest.fixture
def recording(tmp_path):
    """A tone and a chirp at 4 kHz, 1 s, as WAV; and a two-band JSON (overlapping in time)."""
    t = np.arange(N) / FS
    y = 0.4 * np.sin(2 * np.pi * 300 * t) + 0.3 * np.sin(2 * np.pi * (200 + 600 * t) * t)
    path = tmp_path / "rec.wav"
    save_signal(Signal(y, dx=1 / FS, name="rec"), path)
    bands = tmp_path / "bands.json"
    bands.write_text(json.dumps({"bands": [
        {"upper": [[0.1, 400], [0.9, 900]], "lower": [[0.1, 200], [0.9, 450]]},
        {"upper": [[0.3, 1500], [0.7, 1500]], "lower": [[0.3, 1100], [0.7, 1100]]},
    ]}))
    return path, bands


def _run(path, bands, tmp_path, idx, *extra):
    code = cli.main(["invert", "-q", str(path), "--bands", str(bands), "--nv", "16",
                     "--out", str(tmp_path / "band.npy"), "--indices-out", str(idx), *extra])
    assert code == 0
    return read_indices(idx)


def _expected(path, bands, spec):
    from phasebrush.core.io.signals import load_signal

    return indices_from_bands(load_bands(bands), transform(load_signal(path), spec))


@pytest.mark.parametrize("kind", ["cwt", "stft"])
def test_indices_out_writes_the_bands_indices(recording, tmp_path, monkeypatch, kind):
    path, bands = recording
    monkeypatch.setattr(commands, "_STREAM_ABOVE_SAMPLES", 10**12)   # the whole-signal path
    idx = tmp_path / "idx.csv"
    got = _run(path, bands, tmp_path, idx, "--kind", kind, "--n-fft", "128")
    want = _expected(path, bands, TransformSpec(kind=kind, nv=16, n_fft=128, hop=1))
    assert len(want) > 1000 and got.equals(want)
    ref = tmp_path / "ref.csv"
    write_indices_csv(ref, want)
    assert idx.read_bytes() == ref.read_bytes()
    # two bands overlapping in time: some columns hold two intervals
    assert np.bincount(got.column).max() == 2


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_streamed_indices_equal_the_whole_path(recording, tmp_path, monkeypatch, capsys,
                                               suffix):
    path, bands = recording
    monkeypatch.setattr(commands, "_STREAM_ABOVE_SAMPLES", 10**12)
    whole = _run(path, bands, tmp_path, tmp_path / f"whole{suffix}")
    monkeypatch.setattr(commands, "_STREAM_ABOVE_SAMPLES", 0)
    import phasebrush.core.tf.indices  # noqa: F401 (loaded for the name below)
    from phasebrush import core

    blocks = []
    real = core.tf.indices.iter_indices
    monkeypatch.setattr(core.tf.indices, "iter_indices",
                        lambda *a, **k: real(*a, **{**k, "block_cols": 700,
                                                    "progress": blocks.append}))
    code = cli.main(["invert", str(path), "--bands", str(bands), "--nv", "16",
                     "--out", str(tmp_path / "band.npy"), "--indices-out",
                     str(tmp_path / f"s{suffix}")])
    assert code == 0
    err = capsys.readouterr().err
    assert "streamed in" in err and "row interval(s)" in err and "end_row exclusive" in err
    streamed = read_indices(tmp_path / f"s{suffix}")
    assert len(blocks) == 6                        # written block by block
    for f in ("column", "start_row", "end_row"):
        np.testing.assert_array_equal(getattr(streamed, f), getattr(whole, f))
    for f in ("time", "start_freq", "end_freq"):
        np.testing.assert_allclose(getattr(streamed, f), getattr(whole, f), rtol=1e-12)
    if suffix == ".npz":
        assert streamed.shape == whole.shape == (streamed.shape[0], N)


@pytest.mark.parametrize("kind, stream", [("cwt", True), ("stft", False)])
def test_indices_of_a_range_are_those_columns_only(recording, tmp_path, monkeypatch, kind,
                                                   stream):
    path, bands = recording
    monkeypatch.setattr(commands, "_STREAM_ABOVE_SAMPLES", 10**12)
    hop = ["--hop", "4"] if not stream else []
    whole = _run(path, bands, tmp_path, tmp_path / "w.npz", "--kind", kind, *hop)
    got = _run(path, bands, tmp_path, tmp_path / "r.npz", "--kind", kind, *hop,
               "--start", "0.25", "--end", "0.5")
    keep = (whole.time >= 0.25 - 1e-9) & (whole.time <= 0.5 + 1e-9)
    assert 0 < keep.sum() < len(whole)
    assert got.equals(whole[np.flatnonzero(keep)])


def test_indices_out_is_checked_before_any_work(recording, tmp_path, monkeypatch, capsys):
    path, bands = recording
    import phasebrush.core.tf.transforms  # noqa: F401 (loaded for the name below)
    from phasebrush import core

    monkeypatch.setattr(core.tf.transforms, "transform",
                        lambda *a, **k: pytest.fail("transformed before checking --indices-out"))
    for bad, msg in (("idx.txt", "use one of .csv, .npz"),
                     ("missing/idx.csv", "does not exist")):
        code = cli.main(["invert", str(path), "--bands", str(bands), "--out",
                         str(tmp_path / "b.npy"), "--indices-out", str(tmp_path / bad)])
        assert code == 2 and msg in capsys.readouterr().err
    code = cli.main(["invert", str(path), "--bands", str(bands), "--out",
                     str(tmp_path / "b.csv"), "--indices-out", str(tmp_path / "b.csv")])
    assert code == 2 and "each output needs its own file" in capsys.readouterr().err
    assert not list(tmp_path.glob("b.*"))
