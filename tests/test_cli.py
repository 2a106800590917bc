"""The command-line interface, run in-process through app.cli.main (no Qt)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from app import cli
from core.io import load_signal, save_signal
from core.signal import Signal
from core.tfr_io import load_magnitude
from core.transforms import TransformSpec, transform


@pytest.fixture
def two_tones(tmp_path):
    """A low tone and a high tone at fs = 1000 Hz, saved as WAV (float)."""
    fs, n = 1000.0, 2048
    t = np.arange(n) / fs
    low = np.cos(2 * np.pi * 20 * t)
    high = 0.5 * np.cos(2 * np.pi * 200 * t)
    path = tmp_path / "tones.wav"
    save_signal(Signal(low + high, dx=1 / fs, name="tones"), path)
    return path, low, high


def _interior_rel(a, b):
    k = len(a) // 10
    return np.linalg.norm(a[k:-k] - b[k:-k]) / np.linalg.norm(b[k:-k])


def test_transform_writes_npz_with_physical_axes(two_tones, tmp_path):
    path, _, _ = two_tones
    out = tmp_path / "tfr.npz"
    assert cli.main(["transform", "-q", str(path), "--kind", "stft", "--n-fft", "128",
                     "--out", str(out)]) == 0
    with np.load(out) as z:
        assert np.iscomplexobj(z["coefficients"])
        assert z["coefficients"].shape == (65, 2048)
        np.testing.assert_allclose(z["frequencies"], np.arange(65) * 1000 / 128)
        np.testing.assert_allclose(z["times"], np.arange(2048) / 1000)
        assert json.loads(str(z["spec"]))["n_fft"] == 128
    target = load_magnitude(out)
    assert target.n_samples == 2048 and target.spec.kind == "stft"


# The STFT band starts at 0 Hz: a 128-point Hann leaks the 20 Hz tone into the DC row.
@pytest.mark.parametrize("kind, f_low", [("cwt", 2.0), ("stft", 0.0)])
def test_invert_separates_band_and_residual(two_tones, tmp_path, kind, f_low):
    path, low, high = two_tones
    bands = tmp_path / "bands.json"
    bands.write_text(json.dumps({"bands": [{"upper": [[0, 90], [2.1, 90]],
                                            "lower": [[0, f_low], [2.1, f_low]]}]}))
    out, res = tmp_path / "band.npy", tmp_path / "res.npy"
    assert cli.main(["invert", "-q", str(path), "--kind", kind, "--n-fft", "128",
                     "--bands", str(bands), "--out", str(out), "--residual", str(res)]) == 0
    band = load_signal(out).y
    resid = load_signal(res).y
    assert _interior_rel(band, low) < 0.02
    assert _interior_rel(resid, high) < 0.02


def test_invert_refuses_to_overwrite_input(two_tones, tmp_path, capsys):
    path, _, _ = two_tones
    before = path.read_bytes()
    bands = tmp_path / "bands.json"
    bands.write_text(json.dumps({"bands": [{"upper": [[0, 60], [2, 60]],
                                            "lower": [[0, 8], [2, 8]]}]}))
    code = cli.main(["invert", str(path), "--bands", str(bands), "--out", str(path)])
    assert code == 2
    assert "overwrite the input" in capsys.readouterr().err
    assert path.read_bytes() == before


@pytest.mark.parametrize("content, expect", [
    (b"", "empty"),
    (b"1.0\n2.0\nabc\n4.0\n", "line 3"),
    (b"0.5\n", "sample"),
])
def test_bad_input_exits_nonzero_without_traceback(tmp_path, capsys, content, expect):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    code = cli.main(["transform", str(bad), "--out", str(tmp_path / "o.npz")])
    err = capsys.readouterr().err
    assert code == 2
    assert str(bad) in err and expect in err.lower()
    assert "Traceback" not in err
    assert not (tmp_path / "o.npz").exists()


def test_band_outside_range_is_a_clear_error(two_tones, tmp_path, capsys):
    path, _, _ = two_tones
    bands = tmp_path / "bands.json"
    bands.write_text(json.dumps({"bands": [{"upper": [[0, 9000], [2, 9000]],
                                            "lower": [[0, 8000], [2, 8000]]}]}))
    code = cli.main(["invert", str(path), "--bands", str(bands), "--out",
                     str(tmp_path / "o.npy")])
    assert code == 2
    assert "outside" in capsys.readouterr().err


def test_retrieve_reports_and_improves_on_noise(tmp_path):
    fs, n = 1000.0, 1024
    t = np.arange(n) / fs
    x = np.cos(2 * np.pi * (20 * t + 100 * t**2))
    src = tmp_path / "x.npy"
    np.save(src, x)
    out, report = tmp_path / "y.npy", tmp_path / "r.json"
    code = cli.main(["retrieve", "-q", str(src), str(out), "--tfr", "stft", "--n-fft", "64",
                     "--hop", "16", "--iters", "60", "--report", str(report)])
    assert code == 0
    rep = json.loads(report.read_text())
    assert rep["iterations"] <= 60 and rep["evaluations"] >= rep["iterations"]
    assert rep["sc_db"] < -15
    assert rep["rel_l2"] is not None
    y = load_signal(out).y
    spec = TransformSpec(kind="stft", n_fft=64, hop=16)
    S = transform(Signal(x), spec).magnitude
    S_hat = transform(Signal(y), spec).magnitude
    assert np.linalg.norm(S_hat - S) / np.linalg.norm(S) == pytest.approx(
        10 ** (rep["sc_db"] / 20), rel=1e-6)


def test_retrieve_rejects_bad_npz(tmp_path, capsys):
    bad = tmp_path / "m.npz"
    np.savez(bad, something=np.zeros(3))
    code = cli.main(["retrieve", str(bad), str(tmp_path / "y.npy")])
    assert code == 2
    assert "magnitude" in capsys.readouterr().err


def test_entry_point_runs_cli_without_qt(two_tones, tmp_path):
    """`phasebrush transform` must not pull Qt in: scripts run headless and fast."""
    path, _, _ = two_tones
    out = tmp_path / "t.npz"
    code = ("import sys; from app.main import main; "
            f"rc = main(['transform', '-q', {str(path)!r}, '--out', {str(out)!r}]); "
            "print(rc, any(m.startswith('PySide6') for m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stdout.split() == ["0", "False"], res.stderr
    assert out.exists()


def test_transform_time_bandwidth_reaches_the_wavelet(two_tones, tmp_path):
    path, _, _ = two_tones
    out = tmp_path / "tb.npz"
    assert cli.main(["transform", "-q", str(path), "--nv", "8", "--time-bandwidth", "60",
                     "--out", str(out)]) == 0
    with np.load(out) as z:
        assert json.loads(str(z["spec"]))["time_bandwidth"] == 60.0
        coefs = z["coefficients"]
    assert load_magnitude(out).spec.time_bandwidth == 60.0
    # The stored number alone proves nothing: the coefficients must be the P^2 = 60 ones.
    sig = load_signal(path)
    want = transform(sig, TransformSpec(nv=8, time_bandwidth=60.0)).coefficients
    default = transform(sig, TransformSpec(nv=8)).coefficients
    np.testing.assert_allclose(coefs, want, rtol=0, atol=1e-9 * np.abs(want).max())
    # (A shorter wavelet also reaches lower frequencies, so the row counts may differ.)
    assert coefs.shape != default.shape or not np.allclose(coefs, default, atol=1e-3)


@pytest.mark.parametrize("value", ["1", "601", "nan"])
def test_time_bandwidth_out_of_range_is_a_clear_error(two_tones, tmp_path, capsys, value):
    path, _, _ = two_tones
    out = tmp_path / "o.npz"
    code = cli.main(["transform", str(path), "--time-bandwidth", value, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "time_bandwidth" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_retrieve_padding_defaults_to_core_and_is_passed_through(monkeypatch, tmp_path):
    import core.retrieval as R
    from app import cli

    seen = []
    real = R.retrieve

    def spy(*a, **k):
        seen.append(k["padding"])
        return real(*a, **k)

    monkeypatch.setattr(R, "retrieve", spy)
    x = np.cos(2 * np.pi * 0.05 * np.arange(400))
    src = tmp_path / "x.npy"
    np.save(src, x)
    for extra, want in (([], 0), (["--padding", "7"], 7)):
        out = tmp_path / f"y{want}.npy"
        assert cli.main(["retrieve", str(src), str(out), "--tfr", "stft", "--n-fft", "64",
                         "--iters", "3", "--quiet", *extra]) == 0
        assert seen[-1] == want and out.exists()
