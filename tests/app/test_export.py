"""Tests for app.export: signals, masks, bands, selection tables; failures lose nothing."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from phasebrush.app import export
from phasebrush.core.io.selection_table import band_boxes
from phasebrush.core.io.signals import load_signal
from phasebrush.core.signal import Signal
from phasebrush.core.tf.bands import Band, load_bands
from phasebrush.core.tf.masks import load_mask
from phasebrush.core.tf.transforms import TransformSpec, transform

RATE = 8000.0


@pytest.fixture
def errors(monkeypatch):
    """Message boxes recorded instead of shown: (title, text)."""
    seen = []
    monkeypatch.setattr(QMessageBox, "critical",
                        staticmethod(lambda parent, title, text, *a: seen.append((title, text))))
    return seen


@pytest.fixture
def audio():
    t = np.arange(4000) / RATE
    return Signal(0.5 * np.sin(2 * np.pi * 440 * t), dx=1 / RATE, name="tone")


@pytest.fixture
def spectrum():
    # A descending IR axis (the file ran 4000 -> 400 cm^-1), stored ascending.
    x = np.linspace(400.0, 4000.0, 1801)
    y = np.exp(-((x - 1700) / 30) ** 2) + 0.3 * np.exp(-((x - 2900) / 60) ** 2)
    return Signal(y, dx=float(x[1] - x[0]), x0=400.0, unit="cm^-1", name="ir",
                  y_unit="absorbance", descending=True)


def test_reconstruction_as_wav_round_trips(tmp_path, audio, errors):
    y = 0.9 * audio.y
    notes = []
    p = export.export_signal(None, audio, y, what="reconstruction",
                             path=tmp_path / "rec.wav", notify=notes.append)
    assert p == tmp_path / "rec.wav" and not errors
    back = load_signal(p)
    assert back.rate == RATE and back.n == audio.n
    np.testing.assert_allclose(back.y, y, atol=1e-7)  # 32-bit float WAV
    assert notes and str(p) in notes[0]


def test_flac_scaling_is_reported(tmp_path, audio, errors):
    notes = []
    export.export_signal(None, audio, 3.0 * audio.y, what="band", path=tmp_path / "b.flac",
                         notify=notes.append)
    assert not errors and "scal" in notes[0].lower()
    assert np.abs(load_signal(tmp_path / "b.flac").y).max() <= 1.0


def test_descending_spectrum_band_as_csv_keeps_the_axis(tmp_path, spectrum, errors):
    band = spectrum.y * (spectrum.x < 2000)
    p = export.export_signal(None, spectrum, band, what="band", path=tmp_path / "band.csv")
    assert not errors
    text = p.read_text().splitlines()
    assert "cm^-1" in text[0]
    assert float(text[1].split(",")[0]) == pytest.approx(4000.0)  # file order: high to low
    back = load_signal(p)
    assert back.unit == "cm^-1" and back.descending and back.n == spectrum.n
    assert back.x0 == pytest.approx(400.0) and back.dx == pytest.approx(spectrum.dx)
    np.testing.assert_allclose(back.y, band, atol=1e-12)


def test_missing_folder_is_reported_and_nothing_is_written(tmp_path, audio, errors):
    target = tmp_path / "no such folder" / "rec.wav"
    assert export.export_signal(None, audio, audio.y, path=target) is None
    (title, text), = errors
    assert str(target) in text and "does not exist" in text and "Nothing was lost" in text
    assert not target.parent.exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs a POSIX user who cannot write a 0o555 folder")
def test_read_only_folder_keeps_the_old_file(tmp_path, audio, errors):
    folder = tmp_path / "ro"
    folder.mkdir()
    old = folder / "rec.wav"
    old.write_bytes(b"the previous export")
    folder.chmod(0o555)
    try:
        assert export.export_signal(None, audio, audio.y, path=old) is None
    finally:
        folder.chmod(0o755)
    (title, text), = errors
    assert str(old) in text and "permission denied" in text
    assert old.read_bytes() == b"the previous export"
    assert sorted(p.name for p in folder.iterdir()) == ["rec.wav"]  # no temp file left


def test_unwritable_folder_is_reported_for_any_user(tmp_path, audio, errors, monkeypatch):
    # What a read-only folder does to the atomic writer, also when tests run as root.
    import phasebrush.core.io.atomic  # noqa: F401 (loaded for the name below)
    from phasebrush import core

    old = tmp_path / "rec.wav"
    old.write_bytes(b"the previous export")

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(core.io.atomic.tempfile, "mkstemp", refuse)
    assert export.export_signal(None, audio, audio.y, path=old) is None
    (title, text), = errors
    assert str(old) in text and "permission denied" in text
    assert old.read_bytes() == b"the previous export"


def test_input_file_is_never_overwritten(tmp_path, audio, errors):
    src = tmp_path / "input.wav"
    export.export_signal(None, audio, audio.y, path=src)
    original = load_signal(src)
    before = src.read_bytes()
    assert export.export_signal(None, original, 0 * original.y, path=src) is None
    assert "input file" in errors[-1][1]
    assert src.read_bytes() == before


def test_interactive_export_asks_again_after_a_failure(tmp_path, audio, errors, monkeypatch):
    answers = iter([(str(tmp_path / "gone" / "x.wav"), export.AUDIO_FILTER.split(";;")[0]),
                    (str(tmp_path / "second"), "FLAC audio (*.flac)")])
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: next(answers)))
    p = export.export_signal(None, audio, audio.y, what="residual")
    assert len(errors) == 1 and "gone" in errors[0][1]
    assert p == tmp_path / "second.flac" and p.is_file()  # extension from the chosen filter


def test_cancel_writes_nothing(tmp_path, audio, errors, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
    assert export.export_signal(None, audio, audio.y) is None
    assert not errors and not list(tmp_path.iterdir())


def test_nothing_to_export(errors, audio):
    assert export.export_signal(None, audio, None, what="band") is None
    assert "no band" in errors[0][1]


def test_mask_as_npz_round_trips(tmp_path, audio, errors):
    tfr = transform(audio, TransformSpec(kind="cwt", nv=8))
    mask = np.zeros(tfr.shape, bool)
    mask[10:20, 100:3000] = True
    p = export.export_mask(None, mask, tfr, name="painted", path=tmp_path / "m.npz")
    saved = load_mask(p)
    np.testing.assert_array_equal(saved.mask, mask)
    np.testing.assert_array_equal(saved.frequencies, tfr.frequencies)
    assert saved.name == "painted" and saved.edge_row_indices == tuple(tfr.edge_row_indices)
    assert not errors


def test_bands_as_json_round_trip(tmp_path, errors):
    bands = [Band.rectangle(0.1, 0.4, 200, 800, name="whistle", color="#ff0000"),
             Band([[0, 100], [0.5, 300]], [[0, 50], [0.5, 120]], name="sweep")]
    p = export.export_bands(None, bands, path=tmp_path / "bands.json")
    back = load_bands(p)
    assert [b.name for b in back] == ["whistle", "sweep"]
    for a, b in zip(bands, back, strict=True):
        np.testing.assert_array_equal(a.upper, b.upper)
        np.testing.assert_array_equal(a.lower, b.lower)
        assert a.color == b.color


@pytest.mark.parametrize("audacity", [False, True])
def test_selection_table_round_trips(tmp_path, errors, audacity):
    bands = [Band.rectangle(0.5, 1.25, 200.0, 800.0, name="whistle"),
             Band.rectangle(2.0, 2.5, 1000.0, 3000.0, name="chirp two")]
    p = export.export_selection_table(None, bands, unit="s", path=tmp_path / "sel.txt",
                                      audacity=audacity)
    notes = []
    back = export.import_selection_table(None, unit="s", path=p, notify=notes.append)
    assert not errors
    assert [b.name for b in back] == ["whistle", "chirp two"]
    np.testing.assert_array_equal(band_boxes(back), band_boxes(bands))
    assert "2 selection(s)" in notes[0]
    first = p.read_text().splitlines()[0]
    assert ("Begin Time (s)" in first) != audacity


def test_selection_table_import_reports_bad_rows(tmp_path, errors):
    p = tmp_path / "bad.txt"
    p.write_text("Selection\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\n"
                 "1\t0.5\tsoon\t100\t200\n")
    assert export.import_selection_table(None, unit="s", path=p) is None
    (title, text), = errors
    assert str(p) in text and "line 2" in text


def test_zero_duration_rows_are_skipped_and_said(tmp_path, errors):
    p = tmp_path / "sel.txt"
    p.write_text("Begin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tAnnotation\n"
                 "0.5\t0.5\t100\t200\tpoint\n1\t2\t100\t200\tkept\n")
    notes = []
    bands = export.import_selection_table(None, unit="s", path=p, notify=notes.append)
    assert [b.name for b in bands] == ["kept"] and "1 skipped" in notes[0]


def test_layers_to_bands_and_masks(qtbot, audio):
    from phasebrush.app.layers import LayerModel

    tfr = transform(audio, TransformSpec(kind="cwt", nv=8))
    model = LayerModel()
    model.set_tfr(tfr)
    model.add_band([[0.1, 900], [0.4, 900]], [[0.1, 200], [0.4, 200]], name="b")
    m = np.zeros(tfr.shape, bool)
    m[5:9, 10:50] = True
    model.add_paint_layer(name="mask", mask=m)
    model.add_paint_layer(name="mask", mask=~m)
    bands = export.bands_from_layers(model)
    assert [b.name for b in bands] == ["b"] and bands[0].freq_span == (200.0, 900.0)
    masks = export.masks_from_layers(model)
    assert list(masks) == ["mask", "mask (2)"]
    np.testing.assert_array_equal(masks["mask (2)"], ~m)
