"""`phasebrush transform|retrieve --start/--end`: a range of a signal, in its own units."""

import json

import numpy as np
import pytest

from phasebrush.cli import main as cli
from phasebrush.core.io.signals import load_signal, save_signal
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform

FS = 1000.0


@pytest.fixture
def tones(tmp_path):
    """3 s of two tones and a little noise at 1 kHz, saved as float WAV."""
    t = np.arange(int(3 * FS)) / FS
    y = (np.cos(2 * np.pi * 30 * t) + 0.5 * np.cos(2 * np.pi * 210 * t)
         + 0.05 * np.random.default_rng(1).standard_normal(t.size))
    path = tmp_path / "tones.wav"
    save_signal(Signal(y, dx=1 / FS, name="tones"), path)
    return path, load_signal(path)


@pytest.fixture
def spectrum(tmp_path):
    """A spectrum on a nm axis from 400, dx 0.5: ranges are in nm."""
    src = tmp_path / "spectrum.csv"
    save_signal(Signal(np.cos(0.1 * np.arange(600)), dx=0.5, x0=400.0, unit="nm"), src)
    return src, load_signal(src)


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("kind, extra", [("cwt", ["--nv", "16"]), ("stft", ["--n-fft", "64"])])
def test_range_is_the_whole_transforms_own_columns_and_records_its_axis(tones, tmp_path,
                                                                      kind, extra):
    path, sig = tones
    out = tmp_path / "r.npz"
    assert cli.main(["transform", "-q", str(path), "--kind", kind, *extra,
                     "--start", "1.25", "--end", "2", "--out", str(out)]) == 0
    spec = TransformSpec(kind=kind, nv=16, n_fft=64)
    whole = transform(sig, spec)
    with np.load(out) as z:
        C, times, x0, n = z["coefficients"], z["times"], float(z["x0"]), int(z["n_samples"])
        np.testing.assert_array_equal(z["frequencies"], whole.frequencies)
        np.testing.assert_array_equal(z["row_weights"], whole.row_weights)
    assert C.shape == (whole.n_rows, 751) and n == 751
    np.testing.assert_allclose(times, whole.times[1250:2001])
    assert x0 == pytest.approx(1.25)
    # padding from the true neighbours: the whole transform's values, not the excerpt's
    assert _rel(C, whole.coefficients[:, 1250:2001]) < 1e-9
    alone = transform(Signal(sig.y[1250:2001], dx=sig.dx), spec).coefficients
    # (a CWT of the excerpt alone even has other rows: they depend on the length)
    assert alone.shape != C.shape or _rel(C, alone) > 1e-3


def test_a_range_never_builds_the_whole_transform(tones, tmp_path, monkeypatch):
    import phasebrush.core.tf.transforms as T

    def whole(*a, **k):
        raise AssertionError("the whole-signal transform ran")

    monkeypatch.setattr(T, "transform", whole)
    path, _ = tones
    assert cli.main(["transform", "-q", str(path), "--nv", "16", "--start", "1", "--end", "1.5",
                     "--out", str(tmp_path / "r.npz")]) == 0


def test_ssq_kinds_transform_the_excerpt_and_say_so(tones, tmp_path, capsys):
    path, sig = tones
    out = tmp_path / "r.npz"
    assert cli.main(["transform", str(path), "--kind", "ssq_stft", "--n-fft", "64",
                     "--start", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "ssq_stft" in err and "signal of its own" in err and "1 to 2.999 s" in err
    alone = transform(Signal(sig.y[1000:], dx=sig.dx, x0=1.0),
                      TransformSpec(kind="ssq_stft", n_fft=64))
    with np.load(out) as z:
        np.testing.assert_array_equal(z["coefficients"], alone.coefficients)
        assert float(z["x0"]) == 1.0


def test_ranges_are_in_the_signals_units(spectrum, tmp_path):
    src, sig = spectrum
    out = tmp_path / "r.npz"
    assert cli.main(["transform", "-q", str(src), "--kind", "stft", "--n-fft", "32",
                     "--start", "450", "--end", "500", "--out", str(out)]) == 0
    with np.load(out) as z:
        assert z["times"][0] == 450.0 and z["times"][-1] == 500.0 and str(z["unit"]) == "nm"


@pytest.mark.parametrize("args, expect", [
    (["--start", "2", "--end", "1"], "--start 2 s must be below --end 1 s"),
    (["--start", "1", "--end", "1"], "--start 1 s must be below --end 1 s"),
    (["--start", "-1"], "the range -1 to 2.999 s is not inside the signal (0 to 2.999 s)"),
    (["--end", "4"], "the range 0 to 4 s is not inside the signal"),
    (["--start", "1", "--end", "1.05"], "the range 1 to 1.05 s holds 51 samples; this CWT "
                                         "needs at least 91 (0.09 s)"),
    (["--kind", "stft", "--start", "1", "--end", "1.1"],
     "the range 1 to 1.1 s holds 101 samples; this STFT needs at least 256"),
    (["--start", "nan"], "--start nan is not a finite axis value"),
])
def test_bad_ranges_name_the_file_and_the_values(tones, tmp_path, capsys, args, expect):
    path, _ = tones
    out = tmp_path / "r.npz"
    assert cli.main(["transform", str(path), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"tones.wav: {expect}" in err and "Traceback" not in err
    assert not out.exists()


def test_range_over_the_budget_is_refused_with_the_estimate_before_any_work(
        tones, tmp_path, capsys, monkeypatch):
    import phasebrush.core.engine.cwt_blocks as CB

    def columns(*a, **k):
        raise AssertionError("computed before refusing")

    monkeypatch.setattr(CB, "cwt_columns", columns)
    monkeypatch.setenv("PHASEBRUSH_MEMORY_BUDGET", "1M")
    path, _ = tones
    out = tmp_path / "r.npz"
    assert cli.main(["transform", str(path), "--start", "0.5", "--end", "2.5",
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "CWT of" in err and "tones.wav, samples 500 to 2500 of 3000 needs about" in err
    assert "--start/--end" in err and "--nv" in err and not out.exists()


def test_range_outputs_are_checked_before_loading(tones, tmp_path, capsys, monkeypatch):
    import phasebrush.cli.commands as C

    monkeypatch.setattr(C, "_load", lambda args: pytest.fail("loaded first"))
    path, _ = tones
    assert cli.main(["transform", str(path), "--start", "1", "--out",
                     str(tmp_path / "r.txt")]) == 2
    assert ".npz" in capsys.readouterr().err


# --- retrieve ---------------------------------------------------------------------------------

def test_retrieve_runs_on_the_excerpt_and_says_its_memory_first(tones, tmp_path, capsys):
    path, sig = tones
    out, report = tmp_path / "y.npy", tmp_path / "r.json"
    assert cli.main(["retrieve", str(path), str(out), "--n-fft", "64", "--hop", "16",
                     "--iters", "5", "--start", "1", "--end", "1.5",
                     "--report", str(report)]) == 0
    err = capsys.readouterr().err
    assert "retrieval of" in err and "(501 samples, stft): about" in err
    assert err.index("about") < err.index("y.npy:")      # before the work, not after
    y = load_signal(out).y
    assert y.shape == (501,)
    rep = json.loads(report.read_text())
    assert rep["rel_l2"] is not None and np.isfinite(rep["inconsistency"])


def test_retrieve_quiet_prints_no_estimate(tones, tmp_path, capsys):
    path, _ = tones
    assert cli.main(["retrieve", "-q", str(path), str(tmp_path / "y.npy"), "--n-fft", "64",
                     "--iters", "2", "--start", "1", "--end", "1.5"]) == 0
    assert "about" not in capsys.readouterr().err


def test_retrieve_over_the_budget_is_refused_before_any_transform(tones, tmp_path, capsys,
                                                                  monkeypatch):
    import phasebrush.core.tf.transforms as T

    monkeypatch.setattr(T, "transform", lambda *a, **k: pytest.fail("transformed first"))
    monkeypatch.setenv("PHASEBRUSH_MEMORY_BUDGET", "100K")
    path, _ = tones
    out = tmp_path / "y.npy"
    assert cli.main(["retrieve", str(path), str(out), "--n-fft", "64", "--start", "0.5",
                     "--end", "2.5"]) == 2
    err = capsys.readouterr().err
    assert "retrieval of" in err and "(2001 samples, stft) needs about" in err
    assert "--start/--end" in err and not out.exists()


def test_retrieve_range_of_a_magnitude_npz_is_refused(tones, tmp_path, capsys):
    path, _ = tones
    mag = tmp_path / "m.npz"
    assert cli.main(["transform", "-q", str(path), "--kind", "stft", "--n-fft", "64",
                     "--out", str(mag)]) == 0
    assert cli.main(["retrieve", str(mag), str(tmp_path / "y.npy"), "--start", "1"]) == 2
    assert "m.npz: --start/--end need a signal file" in capsys.readouterr().err


def test_retrieve_range_too_short_names_the_file(tones, tmp_path, capsys):
    path, _ = tones
    assert cli.main(["retrieve", str(path), str(tmp_path / "y.npy"), "--n-fft", "256",
                     "--start", "1", "--end", "1.1"]) == 2
    assert "tones.wav: the range 1 to 1.1 s holds 101 samples" in capsys.readouterr().err
