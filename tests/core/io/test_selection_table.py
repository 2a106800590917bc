import numpy as np
import pytest

from phasebrush.core.errors import LoadError, ParameterError
from phasebrush.core.io.selection_table import (
    band_boxes,
    load_audacity_labels,
    load_selection_table,
    load_selections,
    save_audacity_labels,
    save_selection_table,
)
from phasebrush.core.tf.bands import Band


def _bands():
    return [
        Band.rectangle(0.1, 0.35, 120.0, 880.125, name="whistle"),
        Band.rectangle(1 / 3, 2.0, 1e-3, 12345.678901234567, name="hum"),
    ]


def _boxes(bands):
    return np.array([[b.time_span[0], b.time_span[1], *b.freq_span] for b in bands])


def test_raven_round_trip_exact(tmp_path):
    p = tmp_path / "sel.txt"
    bands = _bands()
    save_selection_table(p, bands)
    header = p.read_text().splitlines()[0].split("\t")
    for col in ("Selection", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)",
                "High Freq (Hz)", "Annotation"):
        assert col in header
    back = load_selection_table(p, unit="s")
    np.testing.assert_array_equal(_boxes(back), _boxes(bands))
    assert [b.name for b in back] == ["whistle", "hum"]
    for b, orig in zip(back, bands, strict=True):  # rectangles come back as the same vertices
        np.testing.assert_array_equal(b.upper, orig.upper)
        np.testing.assert_array_equal(b.lower, orig.lower)


def test_export_uses_bounding_box():
    b = Band(upper=[[0.2, 500.0], [0.5, 900.0], [0.9, 600.0]],
             lower=[[0.1, 80.0], [0.6, 50.0], [1.0, 70.0]], name="blob")
    np.testing.assert_array_equal(band_boxes([b]), [[0.2, 0.9, 50.0, 900.0]])


def test_constant_band_needs_time_range(tmp_path):
    b = Band([[0.0, 300.0]], [[0.0, 100.0]], name="flat")
    with pytest.raises(ParameterError, match="band 'flat' is unbounded in time"):
        save_selection_table(tmp_path / "x.txt", [b])
    assert not list(tmp_path.iterdir())
    save_selection_table(tmp_path / "x.txt", [b], time_range=(0.0, 4.0))
    np.testing.assert_array_equal(_boxes(load_selection_table(tmp_path / "x.txt")),
                                  [[0.0, 4.0, 100.0, 300.0]])


def test_non_second_units(tmp_path):
    p = tmp_path / "ir.txt"
    save_selection_table(p, [Band.rectangle(1000.0, 1200.0, 0.01, 0.05)], unit="cm^-1")
    header = p.read_text().splitlines()[0].split("\t")
    assert "Begin (cm^-1)" in header and "Low Freq (cycles/cm^-1)" in header
    assert len(load_selection_table(p, unit="cm^-1")) == 1
    with pytest.raises(LoadError, match=r"times are in 'cm\^-1', the signal's in 's'"):
        load_selection_table(p, unit="s")


def test_reads_a_raven_table_with_extra_columns_in_any_order(tmp_path):
    p = tmp_path / "raven.txt"
    p.write_text(
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\t"
        "High Freq (Hz)\tDelta Time (s)\tAnnotation\n"
        "1\tSpectrogram 1\t1\t0.5\t1.25\t200.0\t800.0\t0.75\tsong\n"
        "2\tWaveform 1\t1\t2.0\t3.0\t1000\t500\t1.0\t\n"
        "\n", encoding="utf-8")
    a, b = load_selection_table(p)
    assert a.name == "song" and b.name == "selection 2"
    np.testing.assert_array_equal(_boxes([a, b]), [[0.5, 1.25, 200, 800], [2, 3, 500, 1000]])
    p.write_text("\ufeffHigh Freq (Hz)\tLow Freq (Hz)\tEnd Time (s)\tBegin Time (s)\n"
                 "900\t100\t2\t1\n", encoding="utf-8")  # BOM, reordered, no Annotation
    (c,) = load_selection_table(p)
    np.testing.assert_array_equal(_boxes([c]), [[1, 2, 100, 900]])


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("Selection\tBegin Time (s)\tEnd Time (s)\n1\t0\t1\n", "line 1: no Low Freq, High Freq"),
    ("Begin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\n0\t1\t2\t3\n0\tx\t2\t3\n",
     "line 3: End Time (s) is 'x', not a number"),
    ("Begin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\n0\t1\t2\n",
     "line 2: 3 field(s); the header needs 4"),
    ("Begin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\n0\t1\t2\tnan\n",
     "line 2: High Freq (Hz) is 'nan', not a finite number"),
    ("Begin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\n2\t1\t2\t3\n",
     "line 2: the selection ends (1) before it begins (2)"),
    ("Begin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\n0\t1\t-2\t3\n",
     "line 2: band 'selection 1': lower edge has a negative frequency"),
])
def test_bad_raven_tables(tmp_path, text, message):
    p = tmp_path / "t.txt"
    p.write_text(text)
    with pytest.raises(LoadError) as err:
        load_selection_table(p)
    assert err.value.path == str(p) and message in str(err.value)


def test_zero_duration_selection_is_skipped_with_warning(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("Begin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\n"
                 "1\t1\t2\t3\n1\t2\t2\t3\n")
    with pytest.warns(UserWarning, match="line 2: skipped a selection of zero duration"):
        bands = load_selection_table(p)
    assert len(bands) == 1


def test_names_with_tabs_are_cleaned(tmp_path):
    p = tmp_path / "t.txt"
    save_selection_table(p, [Band.rectangle(0, 1, 2, 3, name="a\tb\nc")])
    assert load_selection_table(p)[0].name == "a b c"


# ------------------------------------------------------------------ Audacity

def test_audacity_round_trip_exact(tmp_path):
    p = tmp_path / "labels.txt"
    bands = _bands()
    save_audacity_labels(p, bands)
    lines = p.read_text().splitlines()
    assert lines[1].startswith("\\\t")
    back = load_audacity_labels(p)
    np.testing.assert_array_equal(_boxes(back), _boxes(bands))
    assert [b.name for b in back] == ["whistle", "hum"]


def test_audacity_undefined_frequencies_use_freq_range(tmp_path):
    p = tmp_path / "labels.txt"
    p.write_text("1.000000\t1.000000\tpoint\n\\\t6928.456055\t6928.456055\n"
                 "2.000000\t2.500000\tno low\n\\\t-1.000000\t6334.588867\n"
                 "3.000000\t3.500000\tno high\n\\\t8908.015625\t-1.000000\n"
                 "4.000000\t4.500000\n")
    with pytest.warns(UserWarning, match="line 1: skipped"):
        bands = load_audacity_labels(p, freq_range=(10.0, 20000.0))
    np.testing.assert_array_equal(_boxes(bands), [[2.0, 2.5, 10.0, 6334.588867],
                                                  [3.0, 3.5, 8908.015625, 20000.0],
                                                  [4.0, 4.5, 10.0, 20000.0]])
    assert [b.name for b in bands] == ["no low", "no high", "label 3"]
    with pytest.raises(LoadError, match="line 3: label 'no low' has no low frequency"), \
            pytest.warns(UserWarning):
        load_audacity_labels(p)


@pytest.mark.parametrize("text, message", [
    ("", "no labels"),
    ("\\\t1\t2\n", "line 1: a frequency line must follow a label line"),
    ("0\t1\tx\n\\\t1\n", "line 2: a frequency line needs a low and a high value"),
    ("0\t1\tx\n\\\t1\t2\n\\\t1\t2\n", "line 3: a frequency line must follow"),
    ("0.5\n", "line 1: expected 'start<TAB>end<TAB>label'"),
    ("0\tabc\tx\n", "line 1: the end time is 'abc', not a number"),
    ("0\t1\tx\n\\\t1\tzz\n", "line 2: the high frequency is 'zz'"),
])
def test_bad_audacity_labels(tmp_path, text, message):
    p = tmp_path / "l.txt"
    p.write_text(text)
    with pytest.raises(LoadError) as err:
        load_audacity_labels(p, freq_range=(1, 2))
    assert message in str(err.value) and err.value.path == str(p)


def test_load_selections_detects_the_format(tmp_path):
    raven, aud = tmp_path / "r.txt", tmp_path / "a.txt"
    save_selection_table(raven, _bands())
    save_audacity_labels(aud, _bands())
    for p in (raven, aud):
        np.testing.assert_array_equal(_boxes(load_selections(p, unit="s", freq_range=(1, 2))),
                                      _boxes(_bands()))


def test_missing_file(tmp_path):
    with pytest.raises(LoadError, match="no such file"):
        load_selection_table(tmp_path / "none.txt")


@pytest.mark.parametrize("kind", ["cwt", "ssq_cwt", "stft", "ssq_stft"])
def test_a_raven_table_with_low_freq_0_loads_and_inverts_on_every_kind(kind, tmp_path,
                                                                        speech_slice):
    # Low Freq 0 is what Raven and Audacity write for "from the bottom"
    from phasebrush.core.tf.bands import band_mask
    from phasebrush.core.tf.inversion import invert
    from phasebrush.core.tf.transforms import TransformSpec, transform

    p = tmp_path / "sel.txt"
    p.write_text("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\t"
                 "High Freq (Hz)\tAnnotation\n"
                 "1\tSpectrogram 1\t1\t0.1\t0.6\t0\t1500\tvoice\n", encoding="utf-8")
    bands = load_selection_table(p, unit="s")
    spec = (TransformSpec(kind=kind, nv=16) if kind in ("cwt", "ssq_cwt")
            else TransformSpec(kind=kind, n_fft=256))
    tfr = transform(speech_slice, spec)
    notes = []
    m = band_mask(bands, tfr, notes=notes)
    cols = (tfr.times >= 0.1) & (tfr.times <= 0.6)
    assert m[0, cols].all() and not m[:, ~cols].any()
    assert bool(notes) == (kind in ("cwt", "ssq_cwt"))   # the STFT has a 0 Hz row
    y = invert(tfr, m)
    assert np.all(np.isfinite(y)) and np.linalg.norm(y) > 0
