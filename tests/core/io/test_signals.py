"""Tests for core.io.signals (loaders, writers) and core.io.atomic."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from phasebrush.core.errors import LoadError, ParameterError, PhaseBrushError
from phasebrush.core.io import atomic
from phasebrush.core.io.atomic import SaveError, atomic_write, atomic_write_bytes, atomic_write_text
from phasebrush.core.io.signals import (
    load_signal,
    save_signal,
    signal_from_xy,
    sniff_format,
    unit_from_label,
)
from phasebrush.core.signal import Signal

FS = 8000


def _tone(n=800, *, amp=0.5, fs=FS):
    t = np.arange(n) / fs
    return amp * np.sin(2 * np.pi * 440 * t) + 0.1 * np.cos(2 * np.pi * 1234 * t)


def _digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _expect_load_error(path, *fragments, **kwargs):
    with pytest.raises(LoadError) as info:
        load_signal(path, **kwargs)
    msg = str(info.value)
    assert msg.startswith(str(path)), msg
    for frag in fragments:
        assert frag in msg, msg
    return msg


# --------------------------------------------------------------------------- audio


@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_audio_round_trip_lossless(tmp_path, ext):
    sig = Signal(_tone(), dx=1 / FS, name="tone")
    out = tmp_path / f"t.{ext}"
    assert save_signal(sig, out) == ()
    back = load_signal(out)
    assert back.n == sig.n and back.unit == "s" and back.rate == FS
    assert back.name == "t" and back.source == out
    tol = 0 if ext == "wav" else 2.0 ** -22  # WAV is float32; FLAC 24-bit
    assert np.max(np.abs(back.y - sig.y)) <= max(tol, 1e-7)


def test_ogg_round_trip_is_close(tmp_path):
    sig = Signal(_tone(4000), dx=1 / FS)
    out = tmp_path / "t.ogg"
    save_signal(sig, out)
    back = load_signal(out)
    assert back.n == sig.n and back.rate == FS
    assert np.corrcoef(back.y, sig.y)[0, 1] > 0.98


def test_float_wav_keeps_samples_beyond_full_scale(tmp_path):
    y = 3.0 * _tone()
    out = tmp_path / "loud.wav"
    assert save_signal(y, out, rate=FS) == ()
    assert sf.info(out).subtype == "FLOAT"
    np.testing.assert_allclose(load_signal(out).y, y, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("ext,subtype", [("flac", None), ("wav", "PCM_16")])
def test_pcm_output_scales_loud_signals_and_says_so(tmp_path, ext, subtype):
    y = 3.0 * _tone()
    out = tmp_path / f"loud.{ext}"
    notes = save_signal(y, out, rate=FS, subtype=subtype)
    assert len(notes) == 1 and "scaled by" in notes[0]
    back = load_signal(out).y
    assert np.max(np.abs(back)) <= 1.0
    np.testing.assert_allclose(back, y / np.max(np.abs(y)), atol=1e-4)


def test_multichannel_first_mix_and_index(tmp_path):
    left, right = _tone(), -0.3 * _tone()[::-1]
    path = tmp_path / "stereo.wav"
    sf.write(path, np.column_stack([left, right]), FS, subtype="FLOAT")
    first = load_signal(path)
    np.testing.assert_allclose(first.y, left, atol=1e-7)
    assert first.notes == ("used channel 1 of 2",)
    mixed = load_signal(path, channel="mix")
    np.testing.assert_allclose(mixed.y, (left + right) / 2, atol=1e-7)
    assert mixed.notes == ("mixed 2 channels to mono",)
    second = load_signal(path, channel=1)
    np.testing.assert_allclose(second.y, right, atol=1e-7)
    assert "channel 2 of 2" in second.notes[0]
    _expect_load_error(path, "channel 2 does not exist", "2 channel(s)", channel=2)
    with pytest.raises(ParameterError):
        load_signal(path, channel="left")


def test_mono_audio_has_no_notes(tmp_path):
    path = tmp_path / "mono.wav"
    sf.write(path, _tone(), FS)
    assert load_signal(path, channel="mix").notes == ()


def test_truncated_wav_loads_with_a_note(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, _tone(2000), FS, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:1000])
    sig = load_signal(path)
    assert sig.n < 2000
    assert any("truncated" in n for n in sig.notes)


# --------------------------------------------------------------------------- text


def test_one_column_text_is_samples_unless_told(tmp_path):
    y = _tone(50)
    path = tmp_path / "one.txt"
    path.write_text("\n".join(repr(v) for v in y.tolist()) + "\n")
    sig = load_signal(path)
    assert sig.unit == "" and sig.dx == 1.0 and sig.x0 == 0.0
    np.testing.assert_array_equal(sig.y, y)
    told = load_signal(path, dx=0.25, unit="s")
    assert told.unit == "s" and told.dx == 0.25


@pytest.mark.parametrize("delim", [",", "\t", " ", "  ", ";", ", "])
@pytest.mark.parametrize("header", [None, "time [s]{d}amplitude"])
def test_two_column_text_delimiters_and_header(tmp_path, delim, header):
    x = 0.5 + np.arange(40) / FS
    y = _tone(40)
    lines = [f"{a!r}{delim}{b!r}" for a, b in zip(x.tolist(), y.tolist(), strict=True)]
    if header:
        lines.insert(0, header.format(d=delim))
    path = tmp_path / "xy.csv"
    path.write_text("\n".join(lines) + "\n")
    sig = load_signal(path)
    np.testing.assert_array_equal(sig.y, y)
    assert sig.x0 == x[0]
    assert sig.dx == pytest.approx(1 / FS, rel=1e-9)
    assert sig.unit == ("s" if header else "")
    assert sig.y_unit == ("amplitude" if header else "")
    assert sig.notes == ()


def test_semicolon_with_decimal_comma(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("nm;Absorbance\n400,0;0,25\n400,5;0,5\n401,0;0,75\n")
    sig = load_signal(path)
    assert sig.unit == "nm" and sig.y_unit == "Absorbance"
    np.testing.assert_allclose(sig.y, [0.25, 0.5, 0.75])
    assert sig.dx == pytest.approx(0.5)


@pytest.mark.parametrize("label,unit", [
    ("wavenumber (cm-1)", "cm^-1"), ("Wavenumber [cm^-1]", "cm^-1"), ("ppm", "ppm"),
    ("time [s]", "s"), ("nm", "nm"), ("Wavelength (nm)", "nm"), ("wavelength (µm)", "µm"),
    ("Frequency (Hz)", "Hz"), ("t (ms)", "ms"), ("sample", ""), ("x (furlongs)", "furlongs"),
])
def test_unit_from_label(label, unit):
    assert unit_from_label(label) == unit


def test_unit_from_label_none_for_plain_names():
    assert unit_from_label("intensity") is None


def test_millisecond_axis_becomes_seconds(tmp_path):
    path = tmp_path / "ms.csv"
    path.write_text("t (ms),v\n0,1\n0.5,2\n1.0,3\n")
    sig = load_signal(path)
    assert sig.unit == "s" and sig.dx == pytest.approx(5e-4)


def test_comment_lines_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("# made by hand\n\nx,y\n1,10\n\n2,20\n# end\n3,30\n")
    np.testing.assert_array_equal(load_signal(path).y, [10, 20, 30])


def test_descending_nonuniform_text_resamples_and_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    n = 201
    x = np.linspace(4000.0, 400.0, n)
    x[1:-1] += rng.uniform(-4, 4, n - 2)  # steps of 18 +- 8: clearly non-uniform
    y = 0.002 * x + 1.0  # linear, so interpolation is exact
    path = tmp_path / "spec.csv"
    rows = zip(x.tolist(), y.tolist(), strict=True)
    path.write_text("wavenumber (cm-1),absorbance\n" + "".join(f"{a!r},{b!r}\n" for a, b in rows))
    sig = load_signal(path)
    assert sig.descending and sig.unit == "cm^-1" and sig.n == n
    assert sig.x0 == 400.0 and sig.x[-1] == pytest.approx(4000.0)
    assert sig.dx == pytest.approx(18.0)
    assert len(sig.notes) == 1
    assert f"{n} non-uniform points" in sig.notes[0] and "spacing 18 cm^-1" in sig.notes[0]
    np.testing.assert_allclose(sig.y, 0.002 * sig.x + 1.0, rtol=1e-12)

    out = tmp_path / "spec_out.csv"
    save_signal(sig, out)
    first_x = float(out.read_text().splitlines()[1].split(",")[0])
    assert first_x == pytest.approx(4000.0)  # written high-to-low again
    back = load_signal(out)
    assert back.descending and back.unit == "cm^-1" and back.y_unit == "absorbance"
    assert back.notes == ()
    np.testing.assert_array_equal(back.y, sig.y)
    assert back.dx == pytest.approx(sig.dx, rel=1e-12)
    assert back.x0 == pytest.approx(sig.x0, rel=1e-12)


def test_text_in_a_data_row_names_line_and_text(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n2,3\n3,oops\n4,5\n")
    _expect_load_error(path, "line 4", "3,oops")


def test_ragged_rows_name_the_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("1,2\n2,3\n3,4,5\n")
    _expect_load_error(path, "line 3", "3 column(s)")


def test_extra_columns_use_the_second_as_y(tmp_path):
    path = tmp_path / "three.csv"
    path.write_text("1,10,100\n2,20,200\n3,30,300\n")
    sig = load_signal(path)
    np.testing.assert_array_equal(sig.y, [10, 20, 30])
    assert "3 columns" in sig.notes[0]


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_nonfinite_text_values_name_the_line(tmp_path, bad):
    path = tmp_path / "nan.csv"
    path.write_text(f"1,2\n2,3\n3,{bad}\n")
    _expect_load_error(path, "NaN or infinite", "line 3")


def test_nonmonotonic_x_names_the_lines(tmp_path):
    path = tmp_path / "zigzag.csv"
    path.write_text("1,2\n2,3\n1.5,4\n3,5\n")
    _expect_load_error(path, "not monotonic", "lines 2 and 3")


# --------------------------------------------------------------------------- numpy


def test_npy_one_d_round_trip(tmp_path):
    y = _tone(100)
    out = tmp_path / "y.npy"
    save_signal(y, out)
    assert np.load(out).shape == (100,)
    sig = load_signal(out)
    np.testing.assert_array_equal(sig.y, y)
    assert sig.unit == "" and sig.dx == 1.0
    assert load_signal(out, dx=0.5, unit="s").dx == 0.5


def test_npy_with_axis_round_trip(tmp_path):
    sig = Signal(_tone(100), dx=0.5, x0=400.0, unit="cm^-1", descending=True)
    out = tmp_path / "xy.npy"
    save_signal(sig, out)
    arr = np.load(out)
    assert arr.shape == (100, 2) and arr[0, 0] > arr[-1, 0]
    back = load_signal(out, unit="cm^-1")
    assert back.descending and back.unit == "cm^-1"
    np.testing.assert_array_equal(back.y, sig.y)
    assert back.x0 == pytest.approx(400.0) and back.dx == pytest.approx(0.5)


def test_npz_round_trip_keeps_units(tmp_path):
    sig = Signal(_tone(64), dx=0.25, x0=1000.0, unit="nm", y_unit="absorbance",
                 descending=True)
    out = tmp_path / "s.npz"
    save_signal(sig, out)
    back = load_signal(out)
    assert (back.unit, back.y_unit, back.descending) == ("nm", "absorbance", True)
    np.testing.assert_array_equal(back.y, sig.y)
    assert back.x0 == pytest.approx(1000.0) and back.dx == pytest.approx(0.25)


def test_npz_without_y_is_an_error(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, z=np.arange(5.0))
    _expect_load_error(path, "no array 'y'", "'z'")


@pytest.mark.parametrize("arr,frag", [
    (np.zeros((3, 4, 2)), "shape (3, 4, 2)"),
    (np.zeros((5, 3)), "shape (5, 3)"),
    (np.arange(5) * 1j, "complex128"),
    (np.array([1.0]), "1 sample(s)"),
    (np.array([1.0, np.nan, 2.0]), "NaN or infinite"),
    (np.array([1.0, np.inf, 2.0]), "NaN or infinite"),
])
def test_bad_npy_arrays(tmp_path, arr, frag):
    path = tmp_path / "bad.npy"
    np.save(path, arr)
    _expect_load_error(path, frag)


# --------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    _expect_load_error(tmp_path / "nope.wav", "no such file")


def test_folder_is_not_a_file(tmp_path):
    _expect_load_error(tmp_path, "is a folder")


@pytest.mark.parametrize("ext", ["wav", "csv", "npy", "jdx", "flac"])
def test_empty_file(tmp_path, ext):
    path = tmp_path / f"empty.{ext}"
    path.write_bytes(b"")
    _expect_load_error(path, "empty")


def test_one_sample_text(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("0.5\n")
    _expect_load_error(path, "1 sample(s)")


def test_one_sample_audio(tmp_path):
    path = tmp_path / "one.wav"
    sf.write(path, np.array([0.5]), FS)
    _expect_load_error(path, "1 sample(s)")


def test_header_only_text(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("time,value\n")
    _expect_load_error(path, "no data rows")


def test_binary_garbage_with_audio_extension(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(bytes(range(256)) * 4)
    _expect_load_error(path, "not a readable WAV file", "00 01 02")


def test_binary_garbage_with_text_extension(tmp_path):
    path = tmp_path / "noise.csv"
    path.write_bytes(bytes(range(256)) * 4)
    _expect_load_error(path, "named .csv", "not a known format", "00 01 02")


def test_corrupt_wav_header(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, _tone(), FS)
    path.write_bytes(path.read_bytes()[:30])
    _expect_load_error(path, "unreadable WAV audio")


def test_unknown_extension(tmp_path):
    path = tmp_path / "data.xyz"
    path.write_text("1,2\n3,4\n")
    _expect_load_error(path, "unknown extension '.xyz'")


def test_unknown_extension_binary(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\x01\x02" * 50)
    _expect_load_error(path, "unknown extension '.bin'")


def test_wav_named_csv_is_refused(tmp_path):
    path = tmp_path / "sound.csv"
    sf.write(path, _tone(), FS, format="WAV", subtype="FLOAT")
    _expect_load_error(path, "named .csv but holds WAV audio")


def test_text_named_wav_is_refused(tmp_path):
    path = tmp_path / "table.wav"
    path.write_text("time [s],v\n0,1\n0.5,2\n1,3\n")
    _expect_load_error(path, "named .wav but holds text")


@pytest.mark.parametrize("content,kind", [
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"), (b"fLaC\x00", "flac"), (b"OggS\x00", "ogg"),
    (b"\x93NUMPY\x01\x00", "npy"), (b"PK\x03\x04", "npz"), (b"\xef\xbb\xbf##TITLE=x", "jcamp"),
    (b"  \n##TITLE=x", "jcamp"), (b"1,2\n", "text"), (b"\x00\x01", None),
])
def test_sniff_format(content, kind):
    assert sniff_format(content) == kind


@pytest.mark.parametrize("make", ["wav", "csv", "npy", "npz"])
def test_loading_never_changes_the_input(tmp_path, make):
    path = tmp_path / f"in.{make}"
    save_signal(Signal(_tone(), dx=1 / FS), path)
    before = _digest(path)
    mtime = path.stat().st_mtime_ns
    load_signal(path)
    assert _digest(path) == before and path.stat().st_mtime_ns == mtime


def test_signal_from_xy_rejects_mismatched_lengths(tmp_path):
    with pytest.raises(LoadError, match="x has 3 values but y has 2"):
        signal_from_xy([1, 2, 3], [1, 2], path=tmp_path / "f")


def test_bad_dx_argument(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("1\n2\n")
    with pytest.raises(ParameterError, match="dx=-1"):
        load_signal(path, dx=-1)


# --------------------------------------------------------------------------- writing


def test_bare_array_csv_uses_sample_axis(tmp_path):
    out = tmp_path / "y.csv"
    save_signal([1.0, 2.0, 4.0], out)
    assert out.read_text().splitlines()[0] == "sample,y"
    sig = load_signal(out)
    assert sig.unit == "" and sig.dx == 1.0
    np.testing.assert_array_equal(sig.y, [1, 2, 4])


def test_fmt_overrides_extension(tmp_path):
    out = tmp_path / "y.dat"
    save_signal(Signal(_tone(20), dx=0.1, unit="s"), out, fmt="csv")
    assert out.read_text().startswith("time (s),y")


def test_unknown_save_extension(tmp_path):
    with pytest.raises(SaveError, match=r"\.xyz"):
        save_signal([1.0, 2.0], tmp_path / "y.xyz")
    with pytest.raises(ParameterError, match="fmt='mp3'"):
        save_signal([1.0, 2.0], tmp_path / "y.wav", fmt="mp3")


def test_audio_needs_a_rate(tmp_path):
    with pytest.raises(ParameterError, match="needs a sample rate") as info:
        save_signal([0.1, 0.2], tmp_path / "y.wav")
    assert "rate=" not in str(info.value) and "--rate" in str(info.value)
    spectrum = Signal(_tone(20), dx=2.0, unit="cm^-1")
    with pytest.raises(ParameterError, match="cm\\^-1"):
        save_signal(spectrum, tmp_path / "s.wav")
    save_signal(spectrum, tmp_path / "s.wav", rate=8000)
    assert load_signal(tmp_path / "s.wav").rate == 8000


def test_refuse_to_overwrite_the_input(tmp_path):
    src = tmp_path / "in.wav"
    save_signal(Signal(_tone(), dx=1 / FS), src)
    before = _digest(src)
    with pytest.raises(SaveError, match="input file"):
        save_signal(load_signal(src), tmp_path / "." / "in.wav", refuse=src)
    assert _digest(src) == before
    save_signal(load_signal(src), tmp_path / "out.wav", refuse=src)  # another name is fine


def test_written_file_gets_normal_permissions(tmp_path):
    out = tmp_path / "p.csv"
    save_signal([1.0, 2.0], out)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


# --------------------------------------------------------------------------- atomic


def test_atomic_write_keeps_old_file_when_writer_raises(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("old content")

    def broken(fh):
        fh.write("half of the new")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(path, broken)
    assert path.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]  # temp file removed


def test_save_signal_failure_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.wav"
    save_signal(Signal(_tone(), dx=1 / FS), path)
    before = _digest(path)

    def fail(*args, **kwargs):
        raise RuntimeError("encoder crashed")

    monkeypatch.setattr(sf, "write", fail)
    with pytest.raises(SaveError, match="encoder crashed"):
        save_signal(Signal(_tone() * 0.1, dx=1 / FS), path)
    assert _digest(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]


def test_atomic_write_variants(tmp_path):
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    atomic_write_text(tmp_path / "t.txt", "héllo\n")
    atomic_write(tmp_path / "n.npy", lambda fh: np.save(fh, np.arange(3)), binary=True)
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "héllo\n"
    np.testing.assert_array_equal(np.load(tmp_path / "n.npy"), np.arange(3))


def test_parent_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SaveError, match="is not a folder") as info:
        save_signal([1.0, 2.0], blocker / "out.csv")
    assert isinstance(info.value, PhaseBrushError)
    assert str(info.value).startswith(str(blocker / "out.csv"))


def test_missing_folder(tmp_path):
    with pytest.raises(SaveError, match="does not exist"):
        save_signal([1.0, 2.0], tmp_path / "no" / "such" / "out.csv")


def test_target_is_a_folder(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(SaveError, match="is a folder"):
        save_signal([1.0, 2.0], tmp_path / "d.csv")


def test_read_only_folder_emulated(tmp_path, monkeypatch):
    # root ignores permissions, so make mkstemp fail the way a read-only folder does
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    with pytest.raises(SaveError, match="permission denied"):
        save_signal([1.0, 2.0], tmp_path / "out.csv")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root ignores folder permissions")
def test_read_only_folder_real(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(SaveError, match="permission denied"):
            save_signal([1.0, 2.0], folder / "out.csv")
    finally:
        folder.chmod(0o700)


def test_truncated_npy(tmp_path):
    path = tmp_path / "cut.npy"
    np.save(path, np.arange(1000.0))
    path.write_bytes(path.read_bytes()[:500])
    _expect_load_error(path, "shape (1000,)", "truncated")


def test_object_npz_is_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, y=np.array([{"a": 1}, None], dtype=object))
    _expect_load_error(path, "unreadable NumPy file")


def test_quoted_csv_from_a_spreadsheet(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('"Wavelength (nm)","Absorbance"\n"400","0.1"\n"401","0.2"\n"402","0.4"\n')
    sig = load_signal(path)
    assert sig.unit == "nm" and sig.y_unit == "Absorbance"
    np.testing.assert_allclose(sig.y, [0.1, 0.2, 0.4])


# --------------------------------------------------------------------------- real files (issue 9)


def test_repeated_x_values_are_merged_with_a_note(tmp_path):
    # NIST UV-Vis exports repeat an x now and then; the mean of the repeated y is kept
    path = tmp_path / "uvvis.csv"
    path.write_text("nm,abs\n400,1\n401,2\n401,4\n402,5\n403,6\n403,8\n403,9\n404,10\n")
    sig = load_signal(path)
    assert sig.unit == "nm" and sig.n == 5 and sig.x0 == 400 and sig.dx == 1
    np.testing.assert_allclose(sig.y, [1, 3, 5, (6 + 8 + 9) / 3, 10])
    merged = [n for n in sig.notes if "merged" in n]
    assert len(merged) == 1 and "3 point(s)" in merged[0], sig.notes


def test_repeated_x_on_a_descending_axis(tmp_path):
    path = tmp_path / "ir.csv"
    path.write_text("4000,1\n3999,2\n3999,4\n3998,6\n3997,7\n")
    sig = load_signal(path)
    assert sig.descending and sig.n == 4
    np.testing.assert_allclose(sig.y, [7, 6, 3, 1])


def test_all_x_equal_is_refused(tmp_path):
    path = tmp_path / "flat.csv"
    path.write_text("5,1\n5,2\n5,3\n")
    _expect_load_error(path, "x")


def test_nonmonotonic_x_message_has_plain_numbers_and_1_based_points(tmp_path):
    path = tmp_path / "zz.csv"
    path.write_text("749.0,1\n749.5,2\n749.25,3\n")
    msg = _expect_load_error(path, "not monotonic", "749.5 then 749.25", "lines 2 and 3")
    assert "np.float64" not in msg
    with pytest.raises(LoadError) as info:
        signal_from_xy(np.array([1.0, 2.0, 1.5]), np.zeros(3), path=tmp_path / "f")
    assert "points 2 and 3" in str(info.value) and "np." not in str(info.value)


@pytest.mark.parametrize("encoding,bom", [
    ("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"),
    ("utf-16-be", b"\xfe\xff"), ("latin-1", b""),
])
def test_text_encodings(tmp_path, encoding, bom):
    # Excel's "Unicode text" is UTF-16 LE with a BOM, tab-separated
    text = "Wellenlänge (nm)\tExtinktion µ\n400\t0.5\n401\t0.25\n402\t0.125\n"
    path = tmp_path / f"excel_{encoding}.txt"
    path.write_bytes(bom + text.encode(encoding))
    sig = load_signal(path)
    assert sig.unit == "nm" and sig.y_unit == "Extinktion µ"
    np.testing.assert_array_equal(sig.y, [0.5, 0.25, 0.125])


def test_utf16_jcamp_is_recognised(tmp_path):
    text = ("##TITLE=t\n##JCAMP-DX=4.24\n##XUNITS=NANOMETERS\n##YUNITS=ABSORBANCE\n"
            "##NPOINTS=3\n##XYPOINTS=(XY..XY)\n400,1\n401,2\n402,3\n##END=\n")
    path = tmp_path / "u16.jdx"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    sig = load_signal(path)
    assert sig.unit == "nm" and sig.n == 3


def test_sniff_format_utf16_text():
    assert sniff_format(b"\xff\xfe" + "1\t2\n".encode("utf-16-le")) == "text"
    assert sniff_format(b"\xfe\xff" + "##TITLE=x\n".encode("utf-16-be")) == "jcamp"


def test_decimal_comma_after_line_50(tmp_path):
    lines = [f"{i};{i * 2}" for i in range(60)] + ["60,5;121,25", "61;122"]
    path = tmp_path / "late.csv"
    path.write_text("\n".join(lines) + "\n")
    sig = load_signal(path)
    assert sig.n == 62
    assert sig.notes and "resampled" in sig.notes[0]  # 60, 60.5, 61: non-uniform


def test_decimal_comma_tsv(tmp_path):
    path = tmp_path / "de.tsv"
    path.write_text("x\ty\n1,5\t2,25\n2,5\t3,5\n3,5\t4,75\n")
    sig = load_signal(path)
    assert sig.x0 == 1.5 and sig.dx == 1.0
    np.testing.assert_array_equal(sig.y, [2.25, 3.5, 4.75])


def test_comma_delimited_integers_stay_two_columns(tmp_path):
    path = tmp_path / "xy.csv"
    path.write_text("".join(f"{i},{i + 10}\n" for i in range(80)))
    sig = load_signal(path)
    assert sig.n == 80 and sig.y[0] == 10 and sig.dx == 1


@pytest.mark.parametrize("shape", [(50, 1), (1, 50)])
def test_npy_single_row_or_column_is_one_d(tmp_path, shape):
    y = _tone(50).reshape(shape)
    path = tmp_path / "col.npy"
    np.save(path, y)
    np.testing.assert_array_equal(load_signal(path).y, y.ravel())


def test_npy_two_rows_are_x_and_y(tmp_path):
    x = np.arange(10.0) * 0.5 + 3
    path = tmp_path / "rows.npy"
    np.save(path, np.vstack([x, x ** 2]))
    sig = load_signal(path)
    assert sig.x0 == 3 and sig.dx == 0.5 and sig.n == 10
    assert any("rows" in n for n in sig.notes)


def test_npz_column_y_is_one_d(tmp_path):
    path = tmp_path / "col.npz"
    np.savez(path, y=np.arange(6.0).reshape(6, 1))
    np.testing.assert_array_equal(load_signal(path).y, np.arange(6.0))


@pytest.mark.parametrize("content", [
    b"RIFX\x24\x00\x00\x00WAVEfmt " + bytes(40),  # damaged RIFF magic
    b"RIFF\x24\x00\x00\x00AVI LIST" + bytes(40),  # another RIFF kind
    bytes(range(256)) * 4,
    b"\xc3\x28\xa0\xa1\xe2\x28\xa1\x7fzq\x8f\x90\xf0\x28\x8c\xbc" * 3,  # no NUL, not text
])
def test_corrupt_wav_is_not_called_text(tmp_path, content):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    msg = _expect_load_error(path, "not a readable WAV file")
    assert "text" not in msg and "CSV" not in msg
    assert f"{content[0]:02x} {content[1]:02x}" in msg  # shows the first bytes


def test_nan_sample_index_is_1_based(tmp_path):
    path = tmp_path / "nan.npy"
    np.save(path, np.array([np.nan, 1.0, 2.0]))
    _expect_load_error(path, "first at sample 1")
    with pytest.raises(ParameterError, match="first at sample 1:"):
        Signal(np.array([np.inf, 1.0]))


# --------------------------------------------------------------------------- finite, scaled outputs


@pytest.mark.parametrize("ext", ["csv", "npy", "npz", "wav"])
def test_nonfinite_samples_are_never_written(tmp_path, ext):
    path = tmp_path / f"bad.{ext}"
    with pytest.raises(SaveError) as info:
        save_signal(np.array([1.0, np.nan, 2.0, np.inf]), path, rate=FS)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "2 of 4" in msg and "first at sample 2" in msg, msg
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("peak,subtype", [(1e300, None), (1e-300, None), (5e-324, None),
                                          (1e-6, "PCM_16"), (1e40, "PCM_24")])
def test_audio_out_of_the_format_range_is_scaled_with_a_note(tmp_path, peak, subtype):
    y = peak * np.sin(np.linspace(0, 20, 500))
    y[100] = peak  # the exact peak
    out = tmp_path / "x.wav"
    notes = save_signal(y, out, rate=FS, subtype=subtype)
    assert len(notes) == 1 and f"peak {peak:.4g}" in notes[0] and "scaled by" in notes[0]
    back = load_signal(out).y
    assert np.all(np.isfinite(back)) and np.max(np.abs(back)) == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(back, y / peak, atol=1e-4)


def test_float_wav_in_range_is_not_scaled(tmp_path):
    y = 1e30 * _tone()
    out = tmp_path / "big.wav"
    assert save_signal(y, out, rate=FS) == ()
    np.testing.assert_allclose(load_signal(out).y, y, rtol=1e-6)


def test_float64_formats_keep_extreme_values(tmp_path):
    y = np.array([1e300, -1e-300, 5e-324, 0.0])
    for ext in ("csv", "npy", "npz"):
        out = tmp_path / f"e.{ext}"
        assert save_signal(y, out) == ()
        np.testing.assert_array_equal(load_signal(out).y, y)


def test_audio_header_claiming_terabytes_is_not_allocated(tmp_path):
    # a flipped bit in FLAC's STREAMINFO claimed 2^36 frames: soundfile allocated 512 GiB
    path = tmp_path / "huge.flac"
    sf.write(path, _tone(64), FS)
    data = bytearray(path.read_bytes())
    data[21] |= 0x0F
    data[22:26] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert sf.info(path).frames > 2 ** 35
    try:
        sig = load_signal(path)
    except LoadError:
        return
    assert sig.n <= 64


def test_metadata_lines_above_the_labels_are_skipped_with_a_note(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Sample: benzene in hexane\nDate: 2024-05-01\n"
                    "Wavelength (nm),Absorbance\n400,0.1\n401,0.2\n402,0.4\n")
    sig = load_signal(path)
    assert sig.unit == "nm" and sig.y_unit == "Absorbance"
    np.testing.assert_allclose(sig.y, [0.1, 0.2, 0.4])
    assert any("skipped 2 text line(s)" in n and "lines 1 to 2" in n for n in sig.notes)


def test_text_after_numbers_is_still_an_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\noops,here\n3,4\n")
    _expect_load_error(path, "line 3")
