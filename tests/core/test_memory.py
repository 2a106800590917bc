"""Tests for core/memory.py and the memory checks of core.tf.transforms.transform."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import phasebrush.core.memory as M
import phasebrush.core.tf.transforms as T
from phasebrush.core.errors import OutOfMemoryError, ParameterError, PhaseBrushError, format_bytes
from phasebrush.core.signal import Signal


@pytest.fixture(autouse=True)
def _default_budget(monkeypatch):
    monkeypatch.delenv(M.ENV_VAR, raising=False)
    M.set_budget(None)
    yield
    M.set_budget(None)


@pytest.mark.parametrize("text, n", [("1000", 1000), ("8G", 8 << 30), ("512M", 512 << 20),
                                     ("1.5GiB", 3 << 29), (" 2 kb ", 2048), ("1e3", 1000)])
def test_parse_bytes(text, n):
    assert M.parse_bytes(text) == n


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "8X", "nan"])
def test_parse_bytes_refuses_what_is_not_a_size(text):
    with pytest.raises(ParameterError, match="memory size"):
        M.parse_bytes(text)


def test_available_bytes_reads_the_machine():
    avail = M.available_bytes()
    assert isinstance(avail, int) and avail > 0


def test_budget_order_set_then_env_then_fraction(monkeypatch):
    monkeypatch.setattr(M, "available_bytes", lambda: 10_000)
    assert M.budget_bytes() == int(10_000 * M.DEFAULT_FRACTION)
    monkeypatch.setenv(M.ENV_VAR, "4K")
    assert M.budget_bytes() == 4096
    M.set_budget("1M")
    assert M.budget_bytes() == 1 << 20
    M.set_budget(None)
    monkeypatch.setenv(M.ENV_VAR, "plenty")
    with pytest.raises(ParameterError, match=M.ENV_VAR):
        M.budget_bytes()
    monkeypatch.delenv(M.ENV_VAR)
    monkeypatch.setattr(M, "available_bytes", lambda: None)
    assert M.budget_bytes() is None
    M.check_fits("anything", 1e18)          # unknown memory: nothing refused


def test_check_fits_message_has_the_estimate_the_budget_and_the_hint():
    M.set_budget(1000)
    M.check_fits("small work", 1000)
    with pytest.raises(OutOfMemoryError) as err:
        M.check_fits("CWT of a.wav", 3 << 30, hint="use fewer voices")
    msg = str(err.value)
    assert isinstance(err.value, PhaseBrushError) and isinstance(err.value, MemoryError)
    assert msg.startswith("CWT of a.wav needs about 3.0 GiB")
    assert format_bytes(1000) in msg and "use fewer voices" in msg and M.ENV_VAR in msg


@pytest.mark.parametrize("kind, kw", [("cwt", {}), ("ssq_cwt", dict(nv=16)),
                                      ("stft", dict(n_fft=256)), ("ssq_stft", dict(n_fft=256)),
                                      ("stft", dict(n_fft=512, hop=8))])
def test_transform_refuses_what_exceeds_the_budget_naming_file_and_fix(kind, kw):
    spec = T.TransformSpec(kind=kind, **kw)
    sig = Signal(np.zeros(8000), dx=1e-3, name="song", source="/music/song.wav")
    est = T.estimate_transform_bytes(sig.n, spec, sig.dx)
    M.set_budget(est // 2)
    with pytest.raises(OutOfMemoryError) as err:
        T.transform(sig, spec)
    msg = str(err.value)
    assert "/music/song.wav" in msg and "8000 samples" in msg
    assert format_bytes(est) in msg
    assert ("nv" in msg) if spec.is_cwt else ("hop" in msg)
    M.set_budget(est * 2)
    assert T.transform(sig, spec).n_samples == 8000


@pytest.mark.parametrize("kind, kw, n", [
    ("cwt", {}, 6000), ("ssq_cwt", dict(nv=16), 6000), ("cwt", dict(nv=8), 40000),
    ("stft", dict(n_fft=256), 20000), ("ssq_stft", dict(n_fft=256), 20000),
])
def test_estimate_follows_the_measured_peak(kind, kw, n):
    spec = T.TransformSpec(kind=kind, **kw)
    sig = Signal(np.random.default_rng(0).standard_normal(n), dx=1 / 8000)
    T.transform(Signal(sig.y[:3000], dx=sig.dx), spec)     # warm caches outside the trace
    T._FB_CACHE.clear()
    tracemalloc.start()
    try:
        tfr = T.transform(sig, spec)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    est = T.estimate_transform_bytes(n, spec, sig.dx)
    assert tfr.coefficients.nbytes < peak
    # a little under is covered by the budget's margin; over is only caution
    assert 0.9 * peak <= est <= 1.6 * peak


def test_memory_error_inside_transform_becomes_out_of_memory_with_the_estimate(monkeypatch):
    def boom(*a, **k):
        raise MemoryError()

    monkeypatch.setattr(T, "apply_filterbank", boom)
    sig = Signal(np.zeros(4000), dx=1e-3, name="long.wav")
    with pytest.raises(OutOfMemoryError, match=r"CWT of long.wav \(4000 samples\) needs about"):
        T.transform(sig, T.TransformSpec(nv=8))


def test_memory_error_in_the_scale_setup_is_not_called_too_few_samples(monkeypatch):
    import ssqueezepy.utils

    def boom(*a, **k):
        raise MemoryError()

    T._all_scales.cache_clear()
    T._min_cwt_samples.cache_clear()
    monkeypatch.setattr(ssqueezepy.utils, "process_scales", boom)
    monkeypatch.setattr(T, "_lean_scales", boom)     # core's own path to the same scales
    try:
        with pytest.raises(OutOfMemoryError) as err:
            T.transform(Signal(np.zeros(5000), name="big.wav"), T.TransformSpec(nv=8))
        assert "too few" not in str(err.value) and "big.wav" in str(err.value)
    finally:
        T._all_scales.cache_clear()
        T._min_cwt_samples.cache_clear()
