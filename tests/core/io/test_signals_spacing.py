"""core.io.signals: files with no x axis (one column) take a sample rate or a spacing and unit."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from phasebrush.core.errors import LoadError, ParameterError
from phasebrush.core.io.signals import load_signal, needs_spacing

Y = np.sin(np.arange(50) / 3.0)


def _write(tmp_path, name, kind):
    """A file of the kind ``kind`` holding Y, with or without an x axis."""
    p = tmp_path / name
    x = 400.0 + 2.0 * np.arange(Y.size)
    if kind == "txt1":
        p.write_text("\n".join(f"{v:.6f}" for v in Y))
    elif kind == "csv1-header":
        p.write_text("Sample: probe 3\nintensity\n" + "\n".join(f"{v:.6f}" for v in Y))
    elif kind == "csv2":
        p.write_text("x,y\n" + "\n".join(f"{a},{b:.6f}" for a, b in zip(x, Y, strict=True)))
    elif kind == "tsv2-noheader":
        p.write_text("\n".join(f"{a}\t{b:.6f}" for a, b in zip(x, Y, strict=True)))
    elif kind == "npy1":
        np.save(p, Y)
    elif kind == "npy-col":
        np.save(p, Y[:, None])
    elif kind == "npy-row":
        np.save(p, Y[None, :])
    elif kind == "npy2":
        np.save(p, np.column_stack([x, Y]))
    elif kind == "npz-y":
        np.savez(p, y=Y)
    elif kind == "npz-xy":
        np.savez(p, x=x, y=Y)
    elif kind == "wav":
        sf.write(p, 0.5 * Y, 8000)
    return p


AXISLESS = [("a.txt", "txt1"), ("b.csv", "csv1-header"), ("c.npy", "npy1"),
            ("d.npy", "npy-col"), ("e.npy", "npy-row"), ("f.npz", "npz-y")]
WITH_AXIS = [("g.csv", "csv2"), ("h.txt", "tsv2-noheader"), ("i.npy", "npy2"),
             ("j.npz", "npz-xy"), ("k.wav", "wav")]


@pytest.mark.parametrize(("name", "kind"), AXISLESS)
def test_one_column_files_need_a_spacing_and_take_a_rate(tmp_path, name, kind):
    p = _write(tmp_path, name, kind)
    assert needs_spacing(p)
    plain = load_signal(p)
    assert (plain.dx, plain.x0, plain.unit) == (1.0, 0.0, "")       # samples, as before
    sig = load_signal(p, rate=250.0)
    assert sig.unit == "s" and sig.dx == pytest.approx(1 / 250.0) and sig.is_audio
    assert sig.rate == pytest.approx(250.0) and sig.n == Y.size
    np.testing.assert_array_equal(sig.y, plain.y)
    other = load_signal(p, dx=0.5, unit="nm")
    assert (other.dx, other.unit) == (0.5, "nm")


@pytest.mark.parametrize(("name", "kind"), WITH_AXIS)
def test_files_with_an_axis_keep_it(tmp_path, name, kind):
    p = _write(tmp_path, name, kind)
    assert not needs_spacing(p)
    plain = load_signal(p)
    with_rate = load_signal(p, rate=250.0)
    assert (with_rate.dx, with_rate.x0, with_rate.unit) == (plain.dx, plain.x0, plain.unit)


def test_needs_spacing_agrees_with_what_the_loader_does(tmp_path):
    # The sniff reads only the head; the loader reads the whole file: they must agree.
    for name, kind in AXISLESS + WITH_AXIS:
        p = _write(tmp_path, name, kind)
        took = load_signal(p, dx=0.125, unit="nm").dx == 0.125
        assert needs_spacing(p) is took, name


def test_long_single_column_text_is_sniffed_from_its_head(tmp_path):
    p = tmp_path / "long.txt"
    p.write_text("\n".join(f"{v:.9f}" for v in np.sin(np.arange(40_000) / 7.0)))
    assert p.stat().st_size > 1 << 16
    assert needs_spacing(p)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage", b"only text here\n"])
def test_unreadable_files_need_no_spacing_and_the_loader_says_why(tmp_path, content):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    assert needs_spacing(p) is False
    with pytest.raises(LoadError):
        load_signal(p)


def test_missing_file_needs_no_spacing(tmp_path):
    assert needs_spacing(tmp_path / "nope.csv") is False


@pytest.mark.parametrize("rate", [0.0, -8000.0, float("nan"), float("inf"), "8000"])
def test_bad_rate_is_refused_with_its_value(tmp_path, rate):
    p = _write(tmp_path, "a.txt", "txt1")
    with pytest.raises(ParameterError, match="rate="):
        load_signal(p, rate=rate)


@pytest.mark.parametrize("kwargs", [{"dx": 0.5}, {"unit": "s"}])
def test_rate_with_a_spacing_is_refused(tmp_path, kwargs):
    p = _write(tmp_path, "a.txt", "txt1")
    with pytest.raises(ParameterError, match="not both"):
        load_signal(p, rate=100.0, **kwargs)
