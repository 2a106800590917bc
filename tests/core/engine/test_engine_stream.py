"""core.engine.stream: band and residual block by block vs core.tf.inversion."""

from __future__ import annotations

import numpy as np
import pytest

from phasebrush.core import memory
from phasebrush.core.engine import choose_block_length, estimate_stream_bytes, stream_band
from phasebrush.core.engine import cwt_blocks as CB
from phasebrush.core.errors import Cancelled, OutOfMemoryError, ParameterError, ShapeError
from phasebrush.core.signal import Signal
from phasebrush.core.tf import transforms as T
from phasebrush.core.tf.inversion import RangeInverter
from phasebrush.core.tf.masks import merge_ranges

FS, N = 16000.0, 20000


@pytest.fixture(scope="module")
def y():
    rng = np.random.default_rng(2)
    t = np.arange(N) / FS
    return (np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * (200 + 3000 * t) * t)
            + 0.3 + 0.2 * rng.standard_normal(N))


@pytest.fixture(scope="module")
def cwt_inverter(y):
    return RangeInverter(T.transform(Signal(y, dx=1 / FS)))


def _bands(n_rows):
    """A wavy band in the mid rows and one up to the top edge row from column 5000."""
    cols = np.arange(N)
    s1 = (250 + 20 * np.sin(cols / 700)).astype(np.intp)
    s2 = np.full(N, 280)
    e2 = np.full(N, n_rows)
    e2[:5000] = 280
    return np.stack([s1, s2]), np.stack([s1 + 40, e2])


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def _reference(inverter, S, E):
    return inverter.band_and_residual(*merge_ranges(S, E))


def test_band_crossing_small_blocks_equals_the_whole_signal_inverse(y, cwt_inverter):
    S, E = _bands(cwt_inverter.tfr.n_rows)
    band_ref, res_ref = _reference(cwt_inverter, S, E)
    got = stream_band(y, intervals=(S, E), dx=1 / FS, block_length=1500)
    assert got.n_blocks == 14
    assert _rel(got.band, band_ref) < 1e-6
    assert _rel(got.residual, res_ref) < 1e-6


def test_mid_rows_take_the_block_grid_and_still_agree(y, cwt_inverter):
    # rows ~700 Hz .. 4 kHz have a short support: blocks far smaller than the padded grid
    geom = CB.cwt_geometry(T.TransformSpec(), N, dx=1 / FS)
    rows = np.arange(230, 310)
    assert CB.block_grid(geom, 0, 1000, CB.row_support(geom, rows, part="real"))[1] < geom.n_pad
    cols = np.arange(N)
    S = (240 + 15 * np.sin(cols / 300)).astype(np.intp)
    E = np.full(N, 305)
    band_ref, res_ref = cwt_inverter.band_and_residual(S, E)
    got = stream_band(y, intervals=(S, E), dx=1 / FS, block_length=1000)
    assert _rel(got.band, band_ref) < 1e-8
    assert _rel(got.residual, res_ref) < 1e-8


def test_callable_intervals_are_asked_per_block(y, cwt_inverter):
    S, E = _bands(cwt_inverter.tfr.n_rows)
    asked = []

    def intervals(c0, c1):
        asked.append((c0, c1))
        return S[:, c0:c1], E[:, c0:c1]

    got = stream_band(y, intervals=intervals, dx=1 / FS, block_length=4000)
    assert asked == [(c, min(N, c + 4000)) for c in range(0, N, 4000)]
    band_ref, _ = _reference(cwt_inverter, S, E)
    assert _rel(got.band, band_ref) < 1e-6


def test_stft_band_and_residual(y):
    spec = T.TransformSpec(kind="stft", n_fft=256)
    inv = RangeInverter(T.transform(Signal(y, dx=1 / FS), spec))
    cols = np.arange(N)
    S = np.stack([(10 + 5 * np.sin(cols / 500)).astype(np.intp), np.full(N, 60)])
    E = np.stack([np.full(N, 40), np.full(N, 129)])
    band_ref, res_ref = _reference(inv, S, E)
    got = stream_band(y, spec, intervals=(S, E), dx=1 / FS, block_length=3000)
    assert _rel(got.band, band_ref) < 1e-10
    assert _rel(got.residual, res_ref) < 1e-10


def test_without_edge_rows_the_residual_keeps_the_mean(y):
    spec = T.TransformSpec(edge_rows=False)
    inv = RangeInverter(T.transform(Signal(y, dx=1 / FS), spec))
    S, E = np.full(N, 200), np.full(N, 260)
    band_ref, res_ref = inv.band_and_residual(S, E)
    got = stream_band(y, spec, intervals=(S, E), dx=1 / FS, block_length=5000)
    assert _rel(got.band, band_ref) < 1e-6
    assert _rel(got.residual, res_ref) < 1e-6


def test_outputs_written_into_given_arrays(tmp_path, y, cwt_inverter):
    S, E = np.full(N, 250), np.full(N, 300)
    band = np.lib.format.open_memmap(tmp_path / "band.npy", mode="w+", dtype=np.float64,
                                     shape=(N,))
    res = np.zeros(N)
    got = stream_band(y, intervals=(S, E), dx=1 / FS, out_band=band, out_residual=res,
                      block_length=7000)
    assert got.band is band and got.residual is res
    band.flush()
    band_ref, res_ref = cwt_inverter.band_and_residual(S, E)
    assert _rel(np.load(tmp_path / "band.npy"), band_ref) < 1e-8
    assert _rel(res, res_ref) < 1e-8
    with pytest.raises(ShapeError, match="out_band"):
        stream_band(y, intervals=(S, E), dx=1 / FS, out_band=np.zeros(5))


def test_cancel_and_progress(y):
    S, E = np.full(N, 250), np.full(N, 300)
    seen = []
    stream_band(y, intervals=(S, E), dx=1 / FS, block_length=5000, progress=seen.append,
                residual=False)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 4
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        stream_band(y, intervals=(S, E), dx=1 / FS, block_length=2000, cancel=cancel)


def test_memory_budget_chooses_smaller_blocks_or_refuses(y):
    n = 26_460_000
    roomy = choose_block_length(n, budget=1 << 34)
    tight = choose_block_length(n, budget=estimate_stream_bytes(n, 65536))
    assert tight < roomy
    assert estimate_stream_bytes(n, tight) <= estimate_stream_bytes(n, 65536)
    with pytest.raises(OutOfMemoryError, match="streaming inversion"):
        choose_block_length(n, budget=1 << 20)
    memory.set_budget("1M")
    try:
        with pytest.raises(OutOfMemoryError, match="needs about"):
            stream_band(y, intervals=(np.full(N, 250), np.full(N, 300)), dx=1 / FS,
                        block_length=5000)
    finally:
        memory.set_budget(None)


def test_bad_intervals_and_kinds(y):
    with pytest.raises(ParameterError, match="must lie in"):
        stream_band(y, intervals=(np.full(N, 0), np.full(N, 5000)), dx=1 / FS)
    with pytest.raises(ShapeError, match="row ranges"):
        stream_band(y, intervals=(np.zeros(7, int), np.ones(7, int)), dx=1 / FS)
    with pytest.raises(ParameterError, match="integers"):
        stream_band(y, intervals=(np.zeros(N), np.ones(N)), dx=1 / FS)
    with pytest.raises(ParameterError, match="hop"):
        stream_band(y, T.TransformSpec(kind="stft", hop=4), intervals=(np.zeros(N, int),) * 2)


def test_ssq_cwt_whole_grid_rows_once_per_run(y, monkeypatch):
    # the low edge row and the longest wavelets: one whole-grid pass for all blocks
    import sys

    SB = sys.modules["phasebrush.core.engine.ssq_blocks"]
    made = []
    real = SB._CWTImpl._make_whole
    monkeypatch.setattr(SB._CWTImpl, "_make_whole",
                        lambda self, a, b, steps: made.append((a, b)) or real(self, a, b, steps))
    spec = T.TransformSpec(kind="ssq_cwt", nv=8)
    x = y[:12000]
    got = stream_band(x, spec, intervals=(np.full(12000, 10), np.full(12000, 40)), dx=1 / FS,
                      block_length=2000)
    assert got.n_blocks == 6 and made == [(0, 12000)]
    # (the values: tests/core/engine/test_engine_agreement.py against the whole-signal inverse)
    assert np.isfinite(got.band).all() and np.abs(got.band).max() > 0.01
