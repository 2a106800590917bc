"""CLI: an input with no x axis (one column) takes --rate HZ, or --dx and --unit."""

import json

import numpy as np
import pytest
import soundfile as sf

from phasebrush.cli import main as cli
from phasebrush.core.io.signals import load_signal, save_signal
from phasebrush.core.signal import Signal

FS = 1000.0
N = 1024


@pytest.fixture
def column_txt(tmp_path):
    """A 50 Hz + 200 Hz signal at 1 kHz written as one column of numbers: no rate in it."""
    t = np.arange(N) / FS
    y = np.cos(2 * np.pi * 50 * t) + 0.5 * np.cos(2 * np.pi * 200 * t)
    path = tmp_path / "column.txt"
    path.write_text("\n".join(f"{v:.9f}" for v in y))
    return path, y


def _frequencies(path):
    with np.load(path) as z:
        return np.asarray(z["frequencies"]), np.asarray(z["times"])


def test_transform_rate_gives_hz_and_seconds(column_txt, tmp_path):
    src, _ = column_txt
    out = tmp_path / "t.npz"
    assert cli.main(["transform", "-q", str(src), "--kind", "stft", "--n-fft", "64",
                     "--rate", str(FS), "--out", str(out)]) == 0
    f, t = _frequencies(out)
    np.testing.assert_allclose(f, np.arange(33) * FS / 64)
    np.testing.assert_allclose(t, np.arange(N) / FS)


def test_transform_without_rate_stays_in_samples(column_txt, tmp_path):
    src, _ = column_txt
    out = tmp_path / "t.npz"
    assert cli.main(["transform", "-q", str(src), "--kind", "stft", "--n-fft", "64",
                     "--out", str(out)]) == 0
    f, t = _frequencies(out)
    np.testing.assert_allclose(f, np.arange(33) / 64)           # cycles per sample
    np.testing.assert_allclose(t, np.arange(N))


def test_transform_dx_and_unit(column_txt, tmp_path):
    src, _ = column_txt
    out = tmp_path / "t.npz"
    assert cli.main(["transform", "-q", str(src), "--kind", "stft", "--n-fft", "64",
                     "--dx", "0.5", "--unit", "cm^-1", "--out", str(out)]) == 0
    f, t = _frequencies(out)
    np.testing.assert_allclose(t, 0.5 * np.arange(N))
    np.testing.assert_allclose(f, np.arange(33) / (64 * 0.5))


def test_transform_rate_and_dx_together_is_an_error(column_txt, tmp_path, capsys):
    src, _ = column_txt
    code = cli.main(["transform", str(src), "--rate", "1000", "--dx", "0.5",
                     "--out", str(tmp_path / "t.npz")])
    err = capsys.readouterr().err
    assert code == 2 and "not both" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("bad", ["0", "-3", "nan", "x"])
def test_bad_dx_is_refused_by_the_parser(column_txt, tmp_path, capsys, bad):
    src, _ = column_txt
    with pytest.raises(SystemExit) as info:
        cli.main(["transform", str(src), "--dx", bad, "--out", str(tmp_path / "t.npz")])
    assert info.value.code == 2 and "spacing" in capsys.readouterr().err


def test_invert_rate_reads_bands_in_hz_and_writes_audio(column_txt, tmp_path):
    src, y = column_txt
    bands = tmp_path / "bands.json"
    bands.write_text(json.dumps({"bands": [{"upper": [[0, 120], [2, 120]],
                                            "lower": [[0, 0], [2, 0]]}]}))
    out = tmp_path / "band.wav"
    assert cli.main(["invert", "-q", str(src), "--kind", "stft", "--n-fft", "64",
                     "--bands", str(bands), "--out", str(out), "--rate", str(FS)]) == 0
    info = sf.info(str(out))
    assert info.samplerate == FS and info.frames == N
    band, _ = sf.read(str(out))
    low = np.cos(2 * np.pi * 50 * np.arange(N) / FS)
    k = N // 8
    # the 50 Hz tone, not the 200 Hz one: the band was read in Hz
    assert np.linalg.norm(band[k:-k] - low[k:-k]) / np.linalg.norm(low[k:-k]) < 0.05


def test_retrieve_takes_the_rate_for_the_input_and_the_output(column_txt, tmp_path):
    src, _ = column_txt
    out = tmp_path / "y.wav"
    assert cli.main(["retrieve", "-q", str(src), str(out), "--tfr", "stft", "--n-fft", "64",
                     "--hop", "16", "--iters", "3", "--rate", str(FS)]) == 0
    assert sf.info(str(out)).samplerate == FS


def test_dx_on_a_file_with_an_axis_is_ignored_with_a_note(tmp_path, capsys):
    src = tmp_path / "s.wav"
    save_signal(Signal(np.cos(np.arange(512) / 5.0), dx=1 / 8000.0), src)
    out = tmp_path / "t.npz"
    assert cli.main(["transform", str(src), "--kind", "stft", "--n-fft", "64", "--dx", "2",
                     "--rate", "100", "--out", str(out)]) == 2   # both: refused first
    capsys.readouterr()
    assert cli.main(["transform", str(src), "--kind", "stft", "--n-fft", "64", "--dx", "2",
                     "--out", str(out)]) == 0
    assert "--dx 2 ignored" in capsys.readouterr().err
    _, t = _frequencies(out)
    np.testing.assert_allclose(t, np.arange(512) / 8000.0)
    assert load_signal(src).dx == pytest.approx(1 / 8000.0)
