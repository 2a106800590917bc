"""The command-line interface, run in-process through cli.main.main (no Qt)."""

import codecs
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from phasebrush.cli import commands
from phasebrush.cli import main as cli
from phasebrush.core.io.signals import load_signal, save_signal
from phasebrush.core.io.tfr import load_magnitude
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform


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
    code = ("import sys; from phasebrush.app.main import main; "
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
    import phasebrush.core.retrieval.retrieve as R
    from phasebrush.cli import main as cli

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


# --- reliability (issue 9) ----------------------------------------------------------------

@pytest.fixture
def small_npy(tmp_path):
    x = np.cos(2 * np.pi * (0.02 * np.arange(400) + 1e-4 * np.arange(400) ** 2))
    src = tmp_path / "x.npy"
    np.save(src, x)
    return src, x


_STFT_ARGS = ["--tfr", "stft", "--n-fft", "64", "--hop", "16"]


def test_retrieve_progress_is_on_stderr_unless_quiet(small_npy, tmp_path, capsys):
    src, _ = small_npy
    argv = ["retrieve", str(src), str(tmp_path / "y.npy"), *_STFT_ARGS, "--iters", "5"]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert "retrieve:" not in out and "%|" not in out
    # the bar (tqdm) ends at its total, with the inconsistency of the last iterate, on a
    # line of its own: whatever is printed after it starts a new line
    final = [line for line in err.split("\n") if "%|" in line]
    assert len(final) == 1
    last = final[0].split("\r")[-1]
    assert re.match(r"retrieve: 100%\|.*\| 5/5 \[.*inconsistency \d\.\d{3}e[+-]\d\d\]$", last)
    assert cli.main([*argv, "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def _inconsistency(x, y):
    spec = TransformSpec(kind="stft", n_fft=64, hop=16)
    S = transform(Signal(x), spec).magnitude
    return np.linalg.norm(transform(Signal(y), spec).magnitude - S) / np.linalg.norm(S)


def test_retrieve_writes_the_best_estimate_not_the_last(small_npy, tmp_path, monkeypatch):
    import dataclasses

    import phasebrush.core.retrieval.retrieve as R

    real, results = R.retrieve, []

    def last_is_worse(*a, **k):
        r = real(*a, **k)
        results.append(r)
        return dataclasses.replace(r, y=r.y + 1.0)

    monkeypatch.setattr(R, "retrieve", last_is_worse)
    src, x = small_npy
    out, report = tmp_path / "y.npy", tmp_path / "r.json"
    assert cli.main(["retrieve", "-q", str(src), str(out), *_STFT_ARGS, "--iters", "20",
                     "--report", str(report)]) == 0
    y = load_signal(out).y
    np.testing.assert_array_equal(y, results[0].best_y)
    rep = json.loads(report.read_text())
    assert rep["inconsistency"] == pytest.approx(_inconsistency(x, y), rel=1e-9)


def test_retrieve_that_diverges_writes_its_best_finite_estimate(small_npy, tmp_path, capsys):
    # sgdm with lr 1000 and momentum 0.99 overflows to inf within ~50 iterations
    src, x = small_npy
    out, report = tmp_path / "y.npy", tmp_path / "r.json"
    code = cli.main(["retrieve", "-q", str(src), str(out), *_STFT_ARGS, "--method", "gd",
                     "--lr", "1e3", "--iters", "2000", "--report", str(report)])
    assert code == 0, capsys.readouterr().err
    rep = json.loads(report.read_text())
    y = load_signal(out).y
    assert rep["stop_reason"] == "non_finite" and rep["iterations"] < 2000
    assert np.all(np.isfinite(y))
    assert rep["inconsistency"] == pytest.approx(_inconsistency(x, y), rel=1e-9)


def test_retrieve_with_nothing_finite_writes_nothing(small_npy, tmp_path, capsys, monkeypatch):
    import torch

    import phasebrush.core.retrieval.methods as RM

    real = RM.Problem.misfit
    monkeypatch.setattr(RM.Problem, "misfit",
                        lambda self, c, g: tuple(t * torch.nan for t in real(self, c, g)))
    src, _ = small_npy
    out, report = tmp_path / "y.npy", tmp_path / "r.json"
    code = cli.main(["retrieve", str(src), str(out), *_STFT_ARGS, "--iters", "20",
                     "--report", str(report)])
    err = capsys.readouterr().err
    assert code == 2 and "NaN or infinite" in err and "Traceback" not in err
    # on a line of its own, not after the progress bar
    assert err.rstrip("\n").split("\n")[-1].startswith("phasebrush: error: ")
    assert not out.exists() and not report.exists()


@pytest.mark.parametrize("args, shown", [
    (["--method", "gd", "--lr", "-0.1"], "lr=-0.1"),
    (["--method", "gd", "--lr", "nan"], "lr=nan"),
    (["--iters", "0"], "n_iter=0"),
    (["--tol", "-1"], "tol=-1.0"),
], ids=["lr-negative", "lr-nan", "iters", "tol"])
def test_retrieve_bad_numbers_are_one_line(small_npy, tmp_path, capsys, no_transform, args,
                                          shown):
    src, _ = small_npy
    out = tmp_path / "y.npy"
    code = cli.main(["retrieve", str(src), str(out), *_STFT_ARGS, *args])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [f"phasebrush: error: {shown}" + err.split(shown, 1)[1]
                                        .strip()]
    assert "np." not in err and not out.exists()
    assert no_transform == [], "the options were checked only after the transform"


def test_retrieve_from_a_signal_npz(tmp_path):
    fs = 1000.0
    x = np.cos(2 * np.pi * 50 * np.arange(512) / fs)
    src = tmp_path / "x.npz"
    save_signal(Signal(x, dx=1 / fs, name="x"), src)
    out, report = tmp_path / "y.wav", tmp_path / "r.json"
    assert cli.main(["retrieve", "-q", str(src), str(out), *_STFT_ARGS, "--iters", "30",
                     "--report", str(report)]) == 0
    y = load_signal(out)
    assert y.n == 512 and y.rate == pytest.approx(fs)
    assert json.loads(report.read_text())["rel_l2"] is not None  # the NPZ was a signal


def test_cli_output_suffixes_are_what_save_signal_writes():
    from phasebrush.core.io.signals import SAVE_EXTENSIONS

    assert set(commands.SIGNAL_SUFFIXES) == set(SAVE_EXTENSIONS.values())


# every bad output, for every command: refused before the input is transformed
def _bad_outputs(tmp_path, src):
    return {
        "missing folder": tmp_path / "no" / "such" / "out{}",
        "folder": tmp_path,
        "txt": tmp_path / "out.txt",
        "input": src,
    }


@pytest.fixture
def spectrum_csv(tmp_path):
    src = tmp_path / "spectrum.csv"
    save_signal(Signal(np.cos(0.1 * np.arange(300)), dx=0.5, x0=400.0, unit="nm"), src)
    return src


def _bands(tmp_path):
    bands = tmp_path / "bands.json"
    bands.write_text(json.dumps({"bands": [{"upper": [[0, 0.4], [1e4, 0.4]],
                                            "lower": [[0, 0.01], [1e4, 0.01]]}]}))
    return bands


@pytest.mark.parametrize("command", ["transform", "invert", "retrieve", "residual", "report"])
@pytest.mark.parametrize("bad", ["missing folder", "folder", "txt", "input", "wav-no-rate"])
def test_outputs_are_refused_before_any_transform(spectrum_csv, tmp_path, capsys, no_transform,
                                                  command, bad):
    src = spectrum_csv
    if bad == "wav-no-rate":
        if command in ("transform", "report"):
            pytest.skip("no audio output")
        target = tmp_path / "out.wav"
    else:
        target = _bad_outputs(tmp_path, src)[bad]
        if bad == "missing folder":
            target = Path(str(target).format(".npz" if command == "transform" else ".npy"))
    if command == "report" and bad == "txt":
        pytest.skip("a report may have any name")
    good = tmp_path / "good.npy"
    argv = {
        "transform": ["transform", str(src), "--out", str(target)],
        "invert": ["invert", str(src), "--bands", str(_bands(tmp_path)), "--out", str(target)],
        "residual": ["invert", str(src), "--bands", str(_bands(tmp_path)), "--out", str(good),
                     "--residual", str(target)],
        "retrieve": ["retrieve", str(src), str(target), *_STFT_ARGS, "--iters", "2"],
        "report": ["retrieve", str(src), str(good), *_STFT_ARGS, "--iters", "2",
                   "--report", str(target)],
    }[command]
    before = src.read_bytes()
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("phasebrush: error: ")
    assert str(target) in err and "Traceback" not in err
    if bad == "wav-no-rate":
        assert "--rate" in err
    if bad == "folder":
        assert "is a folder" in err  # not "unsupported output type ''"
    assert no_transform == [], "the transform ran before the outputs were checked"
    assert src.read_bytes() == before and not good.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("command", ["transform", "invert", "retrieve"])
def test_read_only_folder_is_refused_before_any_transform(spectrum_csv, tmp_path, capsys,
                                                          no_transform, command):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        argv = {
            "transform": ["transform", str(spectrum_csv), "--out", str(ro / "t.npz")],
            "invert": ["invert", str(spectrum_csv), "--bands", str(_bands(tmp_path)),
                       "--out", str(ro / "b.npy")],
            "retrieve": ["retrieve", str(spectrum_csv), str(ro / "y.npy"), *_STFT_ARGS],
        }[command]
        assert cli.main(argv) == 2
        assert "permission" in capsys.readouterr().err
        assert no_transform == []
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize("command", ["invert", "retrieve"])
def test_rate_writes_a_spectrum_as_audio(spectrum_csv, tmp_path, command):
    import soundfile as sf

    out = tmp_path / "out.wav"
    argv = {
        "invert": ["invert", "-q", str(spectrum_csv), "--bands", str(_bands(tmp_path)),
                   "--kind", "stft", "--n-fft", "64", "--out", str(out)],
        "retrieve": ["retrieve", "-q", str(spectrum_csv), str(out), *_STFT_ARGS,
                     "--iters", "3"],
    }[command]
    assert cli.main([*argv, "--rate", "8000"]) == 0
    info = sf.info(str(out))
    assert info.samplerate == 8000 and info.frames == 300


def test_same_file_for_two_outputs_is_refused(spectrum_csv, tmp_path, capsys, no_transform):
    out = tmp_path / "o.npy"
    code = cli.main(["invert", str(spectrum_csv), "--bands", str(_bands(tmp_path)),
                     "--out", str(out), "--residual", str(out)])
    assert code == 2 and "--residual" in capsys.readouterr().err and no_transform == []


@pytest.mark.parametrize("error, code, text", [
    (MemoryError, 2, "not enough memory"),
    (KeyboardInterrupt, 130, "interrupted"),
])
@pytest.mark.parametrize("command", ["transform", "invert"])
def test_memory_error_and_interrupt_are_one_line(spectrum_csv, tmp_path, capsys, monkeypatch,
                                                 error, code, text, command):
    import phasebrush.core.tf.transforms as T

    def fail(*a, **k):
        raise error()

    monkeypatch.setattr(T, "transform", fail)
    out = tmp_path / ("t.npz" if command == "transform" else "b.npy")
    argv = ["transform", str(spectrum_csv), "--out", str(out)] if command == "transform" else \
        ["invert", str(spectrum_csv), "--bands", str(_bands(tmp_path)), "--out", str(out)]
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.glob(".*tmp*")) == []


def test_stop_request_stops_first_and_aborts_second():
    import signal

    with commands._StopRequest() as stop:
        # SIGINT and SIGTERM both go to it while a retrieval runs
        assert signal.getsignal(signal.SIGINT) == stop._handle
        assert signal.getsignal(signal.SIGTERM) == stop._handle
        assert not stop()
        stop._handle(signal.SIGINT, None)
        assert stop()
        with pytest.raises(KeyboardInterrupt):
            stop._handle(signal.SIGTERM, None)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigint_writes_the_best_so_far_and_the_report(small_npy, tmp_path):
    """Done means (issue 9): Ctrl-C in a 10^7-iteration run keeps its work."""
    import queue
    import re
    import signal
    import threading

    src, x = small_npy
    out, report = tmp_path / "y.npy", tmp_path / "r.json"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "phasebrush.app.main", "retrieve", str(src), str(out), *_STFT_ARGS,
         "--iters", "10000000", "--report", str(report)],
        cwd=root, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    chunks = queue.Queue()

    def read():
        # tqdm may draw with multi-byte characters: decode across chunk boundaries
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while data := os.read(proc.stderr.fileno(), 4096):
            chunks.put(decoder.decode(data))
        chunks.put("")

    threading.Thread(target=read, daemon=True).start()
    text, seen = "", []
    try:
        # evidence that it iterates: two progress lines with growing counts
        while len(seen) < 2 or seen[-1][0] <= seen[0][0]:
            data = chunks.get(timeout=120)
            assert data, f"exited before iterating: {text}"
            text += data
            # a complete tqdm line: "| n/total [elapsed<left, rate, inconsistency x]"
            seen = [(int(a), float(b)) for a, b in
                    re.findall(r"\| (\d+)/10000000 \[[^]]*inconsistency (\S+)\]", text)]
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    while (data := chunks.get(timeout=10)):
        text += data
    assert code == 130, text
    assert "Traceback" not in text
    rep = json.loads(report.read_text())
    y = load_signal(out).y
    assert rep["stop_reason"] == "interrupted"
    assert seen[-1][0] <= rep["iterations"] < 10_000_000
    assert rep["inconsistency"] == pytest.approx(_inconsistency(x, y), rel=1e-9)
    # the best so far: no worse than any estimate the progress bar showed
    assert rep["inconsistency"] <= min(inc for _, inc in seen) * (1 + 1e-6)
