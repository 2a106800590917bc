"""`phasebrush transform --image WxH`: display images through core.engine.display, and the
refusal of full-resolution transforms over the memory budget (in-process, no Qt)."""

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from phasebrush.cli import main as cli
from phasebrush.core import memory
from phasebrush.core.engine.display import display_source, resize_rows, row_groups, stream_image
from phasebrush.core.io.signals import load_signal, save_signal
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec

FS = 1000.0
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _default_budget(monkeypatch):
    monkeypatch.delenv(memory.ENV_VAR, raising=False)
    memory.set_budget(None)
    yield
    memory.set_budget(None)


@pytest.fixture
def chirp(tmp_path):
    """A chirp 20 -> 300 Hz plus noise and a click, fs = 1000 Hz, 8192 samples, as WAV."""
    n = 8192
    t = np.arange(n) / FS
    rng = np.random.default_rng(11)
    y = np.cos(2 * np.pi * (20 * t + 0.5 * 280 / t[-1] * t ** 2)) + 0.05 * rng.standard_normal(n)
    y[5000] += 3.0
    path = tmp_path / "chirp.wav"
    save_signal(Signal(y, dx=1 / FS, name="chirp"), path)
    return path, load_signal(path).y          # what the CLI reads (the WAV's precision)


def _read_png(path):
    """(pixels uint8 [H, W] or [H, W, 3], colour type) of an 8-bit, unfiltered PNG."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, head = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(tag + body)
        if tag == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, colour = head[:4]
    assert depth == 8
    ch = 3 if colour == 2 else 1
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * ch)
    assert (raw[:, 0] == 0).all()
    px = raw[:, 1:].reshape(h, w, ch)
    return (px[..., 0] if ch == 1 else px), colour


def _expected(y, spec, c0, c1, width, height, mode, *, step=1):
    src = display_source(y, spec, dx=1 / FS)
    im = stream_image(src, -(-c0 // step), -(-c1 // step), width=width, mode=mode)
    return resize_rows(im, height, mode=mode, db=True), src


@pytest.mark.parametrize("kind_args, spec, step", [
    (["--nv", "8"], TransformSpec(nv=8), 1),
    (["--kind", "stft", "--n-fft", "128"], TransformSpec(kind="stft", n_fft=128), 1),
    (["--kind", "stft", "--n-fft", "128", "--hop", "5"],
     TransformSpec(kind="stft", n_fft=128, hop=5), 5)])
@pytest.mark.parametrize("mode", ["peak", "rms"])
def test_npy_image_matches_the_display_source(chirp, tmp_path, kind_args, spec, step, mode):
    path, y = chirp
    out = tmp_path / "im.npy"
    assert cli.main(["transform", "-q", str(path), str(out), "--image", "300x40",
                     "--image-mode", mode, *kind_args]) == 0
    im = np.load(out)
    assert im.shape == (40, 300) and im.dtype == np.float32
    want, src = _expected(y, spec, 0, len(y), 300, 40, mode, step=step)
    np.testing.assert_allclose(im, want, rtol=1e-6, atol=1e-5)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["shape"] == [40, 300] and meta["mode"] == mode and meta["kind"] == spec.kind
    start, stop = row_groups(len(src.rows), 40)
    np.testing.assert_allclose(np.array(meta["row_frequencies"]),
                               np.stack([src.frequencies[start], src.frequencies[stop - 1]], 1))
    edges = (np.arange(301) * src.n_columns) // 300
    np.testing.assert_allclose(meta["pixel_edges"], edges * step / FS)
    assert meta["time_range"] == pytest.approx([0.0, (src.n_columns - 1) * step / FS])
    assert meta["frequency_unit"] == "Hz"


def test_range_image_is_the_range_of_the_whole_signal(chirp, tmp_path):
    path, y = chirp
    out = tmp_path / "part.npy"
    assert cli.main(["transform", "-q", str(path), "--out", str(out), "--image", "120x30",
                     "--nv", "8", "--start", "2.0", "--end", "4.5"]) == 0
    want, _ = _expected(y, TransformSpec(nv=8), 2000, 4501, 120, 30, "peak")
    np.testing.assert_allclose(np.load(out), want, rtol=1e-6, atol=1e-5)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["time_range"] == pytest.approx([2.0, 4.5])


def test_png_is_the_npy_on_a_grey_ramp(chirp, tmp_path):
    path, _ = chirp
    npy, png = tmp_path / "im.npy", tmp_path / "im.png"
    args = ["--image", "200x50", "--kind", "stft", "--n-fft", "128"]
    assert cli.main(["transform", "-q", str(path), str(npy), *args]) == 0
    assert cli.main(["transform", "-q", str(path), str(png), *args, "--colormap", "grey",
                     "--db-range", "40"]) == 0
    px, colour = _read_png(png)
    im = np.load(npy)
    assert colour == 0 and px.shape == (50, 200)
    top = im.max()
    grey = np.round(255 * np.clip((im - (top - 40)) / 40, 0, 1)).astype(np.uint8)[::-1]
    assert np.abs(px.astype(int) - grey).max() <= 1          # high frequencies on top
    assert px.max() == 255 and (px == 0).any()


def test_png_db_floor_sets_the_darkest_value(chirp, tmp_path):
    path, _ = chirp
    npy, png = tmp_path / "im.npy", tmp_path / "im.png"
    args = ["--image", "64x16", "--nv", "8"]
    assert cli.main(["transform", "-q", str(path), str(npy), *args]) == 0
    im = np.load(npy)
    floor = float(np.median(im))
    assert cli.main(["transform", "-q", str(path), str(png), *args, "--colormap", "grey",
                     "--db-floor", str(floor)]) == 0
    px, _ = _read_png(png)
    px = px[::-1]
    assert (px[im <= floor] == 0).all()
    step = (im.max() - floor) / 255                     # one grey level in dB
    assert (px[im > floor + step] > 0).all() and px.max() == 255


@pytest.mark.parametrize("args, shown", [
    (["--image", "300"], "need WIDTHxHEIGHT"),
    (["--image", "0x10"], "width and height"),
    (["--image-mode", "rms"], "--image-mode needs --image WxH"),
    (["--image", "10x10", "--db-range", "-3"], "dB range > 0"),
    (["--image", "10x10", "--colormap", "no-such-map"], "--colormap no-such-map"),
])
def test_bad_image_options_are_one_line(chirp, tmp_path, capsys, no_transform, args, shown):
    path, _ = chirp
    out = tmp_path / "x.png"
    try:
        code = cli.main(["transform", str(path), str(out), *args])
    except SystemExit as exc:            # argparse's own check of the value
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and shown in err and "Traceback" not in err
    assert not out.exists() and no_transform == []


@pytest.mark.parametrize("name", ["im.npz", "im.jpg", "im"])
def test_image_output_suffix_checked_before_loading(chirp, tmp_path, capsys, name):
    path, _ = chirp
    code = cli.main(["transform", str(path), str(tmp_path / name), "--image", "10x10"])
    assert code == 2 and ".png, .npy" in capsys.readouterr().err


def test_output_given_twice_differently_is_refused(chirp, tmp_path, capsys):
    path, _ = chirp
    code = cli.main(["transform", str(path), str(tmp_path / "a.npz"), "--out",
                     str(tmp_path / "b.npz")])
    assert code == 2 and "two outputs" in capsys.readouterr().err
    assert cli.main(["transform", str(path)]) == 2
    assert "needs an output" in capsys.readouterr().err


def test_full_resolution_over_the_budget_is_refused_before_computing(
        chirp, tmp_path, capsys, monkeypatch, no_transform):
    path, _ = chirp
    monkeypatch.setenv(memory.ENV_VAR, "2M")
    out = tmp_path / "t.npz"
    code = cli.main(["transform", str(path), str(out), "--nv", "8"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "full-resolution CWT of" in err and "MiB of memory" in err
    assert "--image WxH" in err and "--start/--end" in err and "--nv" in err
    assert "budget 2.0 MiB" in err and memory.ENV_VAR in err
    assert not out.exists() and no_transform == []
    # the range path too (its columns' own estimate)
    code = cli.main(["transform", str(path), str(out), "--kind", "stft", "--start", "1",
                     "--end", "7"])
    err = capsys.readouterr().err
    assert code == 2 and "full-resolution STFT of" in err
    assert "chirp.wav, samples 1000 to 7000 of 8192 needs about" in err
    assert "--n-fft" in err and not out.exists()


def test_full_resolution_within_the_budget_still_writes_the_npz(chirp, tmp_path, monkeypatch):
    path, _ = chirp
    monkeypatch.setenv(memory.ENV_VAR, "512M")
    out = tmp_path / "t.npz"
    assert cli.main(["transform", "-q", str(path), str(out), "--kind", "stft",
                     "--n-fft", "64"]) == 0
    with np.load(out) as z:
        assert z["coefficients"].shape == (33, 8192)


def test_ssq_image_over_the_budget_says_what_to_change(chirp, tmp_path, capsys, monkeypatch):
    path, _ = chirp
    monkeypatch.setenv(memory.ENV_VAR, "1M")
    out = tmp_path / "s.png"
    code = cli.main(["transform", str(path), str(out), "--image", "50x20", "--kind", "ssq_cwt",
                     "--nv", "8"])
    err = capsys.readouterr().err
    assert code == 2 and "fewer rows" in err and "--nv" in err and "MiB of memory" in err
    assert not out.exists()


def test_ssq_image_of_a_range(chirp, tmp_path, capsys):
    path, y = chirp
    out = tmp_path / "s.npy"
    assert cli.main(["transform", str(path), str(out), "--image", "50x20", "--kind",
                     "ssq_stft", "--n-fft", "64", "--start", "1", "--end", "3", "-q"]) == 0
    assert "transformed as a signal of its own" in capsys.readouterr().err
    src = display_source(y[1000:3001], TransformSpec(kind="ssq_stft", n_fft=64), dx=1 / FS)
    want = resize_rows(src.image(width=50), 20, mode="peak", db=True)
    np.testing.assert_allclose(np.load(out), want, rtol=1e-6, atol=1e-5)
    assert json.loads(out.with_suffix(".json").read_text())["time_range"] == \
        pytest.approx([1.0, 3.0])


# A long recording through --image, in a fresh process so its peak RSS is its own; the
# full-resolution transform of the same file would need several times that.
@pytest.mark.parametrize("kind_args, n_rows", [
    (["--nv", "4", "--fmin", "200"], None),
    (["--kind", "stft", "--n-fft", "128"], 65)])
def test_long_signal_image_in_bounded_memory(tmp_path, kind_args, n_rows):
    fs, n = 44100.0, 1 << 21
    t = np.arange(n) / fs
    rng = np.random.default_rng(0)
    y = 0.3 * np.sin(2 * np.pi * (400 * t + 30 * np.sin(2 * np.pi * 0.7 * t)))
    y += 0.02 * rng.standard_normal(n)
    path = tmp_path / "long.wav"
    save_signal(Signal(y.astype(np.float32), dx=1 / fs, name="long"), path)
    out = tmp_path / "long.npy"
    argv = ["transform", "-q", str(path), str(out), "--image", "400x64", *kind_args]
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec, so a child forked from
    # a large pytest process would report the parent's size
    code = ("import sys; from phasebrush.cli.main import main; "
            f"rc = main({argv!r}); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
            "print(rc, int(hwm.split()[1]) * 1024)")
    env = dict(os.environ, **{memory.ENV_VAR: "1G"})
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env=env)
    rc, rss = res.stdout.split()
    assert rc == "0", res.stderr
    assert np.load(out).shape == (64, 400)
    from phasebrush.core.tf.transforms import TransformSpec as TS
    from phasebrush.core.tf.transforms import estimate_transform_bytes

    spec = TS(nv=4, fmin=200) if n_rows is None else TS(kind="stft", n_fft=128)
    full = estimate_transform_bytes(n, spec, 1 / fs)
    assert full > 1 << 30                                 # refused without --image
    assert int(rss) < min(full / 2, 900 << 20)


def test_coarse_pixels_come_from_frame_spectra_close_to_the_exact_rms(tmp_path, capsys):
    # 64 pixels of 8192 samples: the frame-spectra path; --image-exact the coefficients'
    fs = 8000.0
    t = np.arange(64 * 8192) / fs
    rng = np.random.default_rng(2)
    y = (np.sin(2 * np.pi * 300 * t) + 0.5 * np.sin(2 * np.pi * 1200 * t) * (t % 8 < 4)
         + 0.01 * rng.standard_normal(t.size))
    path = tmp_path / "long.wav"
    save_signal(Signal(y / 2, dx=1 / fs, unit="s"), path)
    fast, exact = tmp_path / "fast.npy", tmp_path / "exact.npy"
    args = ["--nv", "6", "--fmin", "100", "--image", "64x20"]
    assert cli.main(["transform", str(path), str(fast), *args]) == 0
    assert "frame spectra" in capsys.readouterr().err
    assert cli.main(["transform", "-q", str(path), str(exact), *args, "--image-exact",
                     "--image-mode", "rms"]) == 0
    a, b = np.load(fast), np.load(exact)
    assert a.shape == b.shape == (20, 64)
    strong = b > b.max() - 40
    assert np.median(np.abs(a - b)[strong]) < 1.5
    assert "frame power spectra" in json.loads(fast.with_suffix(".json").read_text())["values"]


def test_image_exact_needs_image(tmp_path, chirp, no_transform):
    path, _ = chirp
    assert cli.main(["transform", "-q", str(path), str(tmp_path / "o.npz"),
                     "--image-exact"]) == 2
