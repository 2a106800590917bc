"""TFR / magnitude NPZ files, and telling them from signal NPZs."""

import dataclasses

import numpy as np
import pytest

from phasebrush.core.errors import LoadError
from phasebrush.core.io.atomic import SaveError
from phasebrush.core.io.signals import load_signal, save_signal
from phasebrush.core.io.tfr import load_magnitude, npz_kind, save_tfr
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform


@pytest.fixture
def tfr():
    x = np.cos(2 * np.pi * 0.05 * np.arange(256))
    return transform(Signal(x, dx=1e-3), TransformSpec(kind="stft", n_fft=32, hop=8))


def test_round_trip_is_a_magnitude(tfr, tmp_path):
    path = save_tfr(tmp_path / "t.npz", tfr)
    assert npz_kind(path) == "magnitude"
    target = load_magnitude(path)
    np.testing.assert_array_equal(target.S, np.abs(tfr.coefficients))
    assert target.n_samples == 256 and target.dx == pytest.approx(1e-3)


def test_a_signal_npz_is_a_signal(tmp_path):
    path = tmp_path / "s.npz"
    save_signal(Signal(np.arange(5.0), dx=0.5, unit="nm"), path)
    assert npz_kind(path) == "signal"
    assert load_signal(path).n == 5


@pytest.mark.parametrize("make, says", [
    (lambda p: np.savez(p, something=np.zeros(3)), "neither a magnitude"),
    (lambda p: p.write_bytes(b"not a zip at all"), "not an NPZ archive"),
    (lambda p: np.save(p.with_suffix(".npy"), np.zeros(3))
     or p.with_suffix(".npy").rename(p), "bare array"),
    (lambda p: p.mkdir(), "folder"),
    (lambda p: None, "no such file"),
], ids=["other arrays", "garbage", "npy", "folder", "missing"])
def test_npz_kind_errors_name_the_file(tmp_path, make, says):
    path = tmp_path / "x.npz"
    make(path)
    with pytest.raises(LoadError) as info:
        npz_kind(path)
    assert str(info.value).startswith(str(path)) and says in str(info.value)


def test_non_finite_coefficients_are_not_written(tfr, tmp_path):
    coefs = tfr.coefficients.copy()
    coefs[3, 4] = np.inf
    bad = dataclasses.replace(tfr, coefficients=coefs)
    path = tmp_path / "t.npz"
    with pytest.raises(SaveError, match="1 of .* NaN or infinite"):
        save_tfr(path, bad)
    assert not path.exists()


def _spectrum(n=1024):
    x = 500.0 + 2.0 * np.arange(n)
    y = 1.0 - 0.5 * np.exp(-0.5 * ((x - 1500.0) / 12.0) ** 2)
    return Signal(y, dx=2.0, x0=500.0, unit="cm^-1")


@pytest.mark.parametrize("kind", ["cwt", "ssq_cwt"])
def test_a_spectrum_cwt_stores_its_feature_widths(tmp_path, kind):
    from phasebrush.core.tf.feature_width import width_axis

    tfr = transform(_spectrum(), TransformSpec(kind=kind, nv=8))
    path = save_tfr(tmp_path / "t.npz", tfr)
    with np.load(path) as z:
        stored = z["feature_widths"]
    np.testing.assert_array_equal(stored, width_axis(tfr).widths)
    assert stored.shape == (tfr.n_rows,) and np.all(np.diff(stored) < 0)
    target = load_magnitude(path)
    np.testing.assert_array_equal(target.feature_widths, stored)


@pytest.mark.parametrize("sig, spec", [
    (Signal(np.cos(np.arange(512.0)), dx=1e-3), TransformSpec(nv=8)),       # audio: Hz rows
    (_spectrum(), TransformSpec(kind="stft", n_fft=64, hop=16)),             # no width axis
], ids=["audio cwt", "spectrum stft"])
def test_no_feature_widths_where_rows_are_not_peak_widths(tmp_path, sig, spec):
    path = save_tfr(tmp_path / "t.npz", transform(sig, spec))
    with np.load(path) as z:
        assert "feature_widths" not in z.files
    assert load_magnitude(path).feature_widths is None


def test_an_old_npz_without_feature_widths_still_loads(tmp_path):
    tfr = transform(_spectrum(), TransformSpec(nv=8))
    path = save_tfr(tmp_path / "t.npz", tfr)
    with np.load(path) as z:
        old = {k: z[k] for k in z.files if k != "feature_widths"}
    np.savez(path, **old)
    target = load_magnitude(path)
    assert target.feature_widths is None
    np.testing.assert_array_equal(target.S, np.abs(tfr.coefficients))


def test_feature_widths_of_the_wrong_length_are_refused(tmp_path):
    tfr = transform(_spectrum(), TransformSpec(nv=8))
    path = save_tfr(tmp_path / "t.npz", tfr)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["feature_widths"] = arrays["feature_widths"][:-1]
    np.savez(path, **arrays)
    with pytest.raises(LoadError, match="feature_widths has"):
        load_magnitude(path)
