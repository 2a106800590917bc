"""`phasebrush invert` on the streaming path (core.engine), in-process through cli.main."""

import json

import numpy as np
import pytest

from phasebrush.cli import commands
from phasebrush.cli import main as cli
from phasebrush.core.io.signals import load_signal, save_signal
from phasebrush.core.signal import Signal

FS, N = 8000.0, 16000


@pytest.fixture
def recording(tmp_path):
    """Two tones, a chirp and noise at 8 kHz, 2 s, as WAV; and a two-band JSON."""
    rng = np.random.default_rng(3)
    t = np.arange(N) / FS
    y = (0.4 * np.sin(2 * np.pi * 300 * t) + 0.3 * np.sin(2 * np.pi * 2500 * t)
         + 0.2 * np.sin(2 * np.pi * (500 + 400 * t) * t) + 0.05 * rng.standard_normal(N))
    path = tmp_path / "rec.wav"
    save_signal(Signal(y, dx=1 / FS, name="rec"), path)
    bands = tmp_path / "bands.json"
    bands.write_text(json.dumps({"bands": [
        {"upper": [[0, 400], [2, 900]], "lower": [[0, 200], [2, 450]]},
        {"upper": [[0.3, 3000], [1.7, 3000]], "lower": [[0.3, 2000], [1.7, 2000]]},
    ]}))
    return path, bands


def test_blocks_a_band_does_not_reach_get_nothing_of_it(recording, monkeypatch):
    from phasebrush.core.signal import Signal as S
    from phasebrush.core.tf.bands import load_bands
    from phasebrush.core.tf.transforms import TransformSpec

    monkeypatch.setattr(commands, "_STREAM_ABOVE_SAMPLES", 0)
    _, bands = recording
    sig = S(np.zeros(N), dx=1 / FS)
    get = commands._band_intervals(load_bands(bands), sig, TransformSpec())
    start, end = get(0, 1000)                      # 0-0.125 s: only the first band
    assert (end > start).any(axis=1).sum() == 1
    far = [{"upper": [[5, 900], [6, 900]], "lower": [[5, 200], [6, 200]]}]
    bands.write_text(json.dumps({"bands": far}))
    from phasebrush.core.errors import ParameterError

    with pytest.raises(ParameterError, match="outside the transform"):
        commands._band_intervals(load_bands(bands), sig, TransformSpec())


def _invert(path, bands, tmp_path, tag, *extra):
    out, res = tmp_path / f"band_{tag}.npy", tmp_path / f"res_{tag}.npy"
    code = cli.main(["invert", str(path), "--bands", str(bands), "--out", str(out),
                     "--residual", str(res), *extra])
    assert code == 0
    return load_signal(out).y, load_signal(res).y


@pytest.mark.parametrize("kind", ["cwt", "stft"])
def test_streamed_invert_equals_the_whole_signal_path(recording, tmp_path, monkeypatch, capsys,
                                                      kind):
    path, bands = recording
    monkeypatch.setattr(commands, "_STREAM_ABOVE_SAMPLES", 10**12)
    whole = _invert(path, bands, tmp_path, "whole", "-q", "--kind", kind)
    monkeypatch.setattr(commands, "_STREAM_ABOVE_SAMPLES", 0)
    streamed = _invert(path, bands, tmp_path, "stream", "--kind", kind)
    err = capsys.readouterr().err
    assert "streamed in" in err and "100%" in err
    for a, b in zip(streamed, whole, strict=True):
        assert np.abs(a - b).max() <= 1e-6 * np.abs(b).max()
    assert np.abs(whole[0]).max() > 0.1          # the bands are not empty


def test_a_budget_too_small_for_the_whole_transform_streams(recording, tmp_path, monkeypatch,
                                                            capsys):
    path, bands = recording
    from phasebrush.core import memory
    from phasebrush.core.tf.transforms import TransformSpec, estimate_transform_bytes

    whole_bytes = estimate_transform_bytes(N, TransformSpec(), 1 / FS)
    # the transform alone fits, with RangeInverter's cumulative sum it does not
    monkeypatch.setenv(memory.ENV_VAR, str(int(whole_bytes)))
    called = []
    import phasebrush.core.engine  # noqa: F401 (loaded for the name below)
    from phasebrush import core

    real = core.engine.stream_band
    monkeypatch.setattr(core.engine, "stream_band",
                        lambda *a, **k: called.append(1) or real(*a, **k))
    band, _ = _invert(path, bands, tmp_path, "budget", "-q")
    assert called and np.all(np.isfinite(band))
    assert capsys.readouterr().err == ""          # --quiet: no bar, no summary


def test_outputs_are_checked_before_any_streaming(recording, tmp_path, monkeypatch, capsys):
    path, bands = recording
    monkeypatch.setattr(commands, "_STREAM_ABOVE_SAMPLES", 0)
    import phasebrush.core.engine  # noqa: F401 (loaded for the name below)
    from phasebrush import core

    def boom(*a, **k):
        raise AssertionError("streamed before checking the outputs")

    monkeypatch.setattr(core.engine, "stream_band", boom)
    code = cli.main(["invert", str(path), "--bands", str(bands), "--out", str(path)])
    assert code == 2
    assert "phasebrush: error:" in capsys.readouterr().err
    code = cli.main(["invert", str(path), "--bands", str(bands), "--out",
                     str(tmp_path / "a.npy"), "--residual", str(tmp_path / "a.npy")])
    assert code == 2
    assert "each output needs its own file" in capsys.readouterr().err


def test_ssq_kinds_keep_the_whole_signal_path(recording):
    from phasebrush.core.signal import Signal as S
    from phasebrush.core.tf.transforms import TransformSpec

    sig = S(np.zeros(10), dx=1.0)
    assert not commands._streams(sig, TransformSpec(kind="ssq_cwt"))
    assert not commands._streams(sig, TransformSpec(kind="stft", hop=4))


@pytest.mark.parametrize("streamed", [False, True])
def test_a_band_from_0_hz_is_clamped_with_a_note(recording, tmp_path, monkeypatch, capsys,
                                                 streamed):
    # "everything from the bottom", as Raven tables with Low Freq 0 say it
    path, bands = recording
    bands.write_text(json.dumps({"bands": [
        {"upper": [[0, 600], [2, 600]], "lower": [[0, 0], [2, 0]]}]}))
    monkeypatch.setattr(commands, "_STREAM_ABOVE_SAMPLES", 0 if streamed else 10**12)
    band, residual = _invert(path, bands, tmp_path, f"zero{streamed}")
    err = capsys.readouterr().err
    assert "clamped" in err and "bands.json" in err
    x = load_signal(path).y
    # the 300 Hz tone and the slow part of the chirp are in the band, 2500 Hz is not
    spectrum = np.abs(np.fft.rfft(band))
    f = np.fft.rfftfreq(band.size, 1 / FS)
    assert spectrum[np.argmin(np.abs(f - 300))] > 10 * spectrum[np.argmin(np.abs(f - 2500))]
    np.testing.assert_allclose(band + residual, x, atol=1e-6 * np.abs(x).max())


@pytest.mark.parametrize("kind", ["cwt", "stft", "ssq_cwt"])
def test_invert_of_a_range_equals_that_part_of_the_whole_inverse(recording, tmp_path,
                                                                 monkeypatch, kind):
    path, bands = recording
    monkeypatch.setattr(commands, "_STREAM_ABOVE_SAMPLES", 10**12)   # whole path for the reference
    whole_band, whole_res = _invert(path, bands, tmp_path, f"w{kind}", "-q", "--kind", kind)
    called = []
    if kind != "ssq_cwt":   # the range must not need the whole transform
        import phasebrush.core.tf.transforms  # noqa: F401 (loaded for the name below)
        from phasebrush import core

        monkeypatch.setattr(core.tf.transforms, "transform",
                            lambda *a, **k: called.append(1) or None)
    band, res = _invert(path, bands, tmp_path, f"r{kind}", "-q", "--kind", kind,
                        "--start", "0.5", "--end", "1.25")
    c0, c1 = int(0.5 * FS), int(1.25 * FS) + 1
    assert band.size == res.size == c1 - c0 and not called
    scale = np.abs(whole_band).max()
    assert np.abs(band - whole_band[c0:c1]).max() <= 1e-6 * scale
    assert np.abs(res - whole_res[c0:c1]).max() <= 1e-6 * np.abs(whole_res).max()
    assert load_signal(tmp_path / f"band_r{kind}.npy").x[0] == pytest.approx(0.5)


def test_invert_range_outside_the_signal_is_refused(recording, tmp_path, capsys):
    path, bands = recording
    code = cli.main(["invert", str(path), "--bands", str(bands), "--out",
                     str(tmp_path / "b.npy"), "--start", "1.5", "--end", "9"])
    assert code == 2 and "not inside the signal" in capsys.readouterr().err
    assert not (tmp_path / "b.npy").exists()
