"""core.engine: block plans, padded segments and column-range coefficients."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

from phasebrush.core.engine import blocks as B
from phasebrush.core.engine import cwt_blocks as CB
from phasebrush.core.engine import cwt_columns, cwt_geometry, plan_blocks, row_support, stft_columns
from phasebrush.core.errors import Cancelled, ParameterError
from phasebrush.core.signal import Signal
from phasebrush.core.tf import transforms as T

FS, N = 16000.0, 20000
SPEC = T.TransformSpec()


def _signal(white: bool = False) -> np.ndarray:
    """Tone + chirp + DC + noise low-passed to 0.7 Nyquist (or white noise)."""
    rng = np.random.default_rng(1)
    if white:
        return rng.standard_normal(N)
    t = np.arange(N) / FS
    b, a = ss.butter(8, 0.7)
    return (np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * (200 + 3000 * t) * t) + 0.3
            + 0.2 * ss.filtfilt(b, a, rng.standard_normal(N)))


@pytest.fixture(scope="module")
def whole():
    """(y, coefficients) of the whole-signal path, band-limited and white."""
    out = {}
    for white in (False, True):
        y = _signal(white)
        out[white] = (y, T.transform(Signal(y, dx=1 / FS), SPEC).coefficients)
    return out


def _rel(a, b) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_padded_indices_match_numpy_reflect_with_pads_longer_than_the_signal():
    x = np.arange(7.0)
    n_pad, left = 40, 15
    xp = np.pad(x, (left, n_pad - 7 - left), mode="reflect")
    assert np.array_equal(B.padded_segment(x, 0, n_pad, n_pad, left), xp)
    # the FFT grid is circular: a segment running past either end wraps
    seg = B.padded_segment(x, -5, n_pad + 10, n_pad, left)
    assert np.array_equal(seg, np.concatenate([xp[-5:], xp, xp[:5]]))


def test_plan_blocks_covers_every_column_once():
    plan = plan_blocks(10, 4)
    assert list(plan.spans()) == [(0, 4), (4, 8), (8, 10)]
    assert plan.n_blocks == 3
    with pytest.raises(ParameterError, match="block_length=0"):
        plan_blocks(10, 0)


def test_geometry_matches_the_whole_signal_filterbank():
    geom = cwt_geometry(SPEC, N, dx=1 / FS)
    fb = T.cwt_filterbank(SPEC, N, dx=1 / FS)
    assert geom.n_rows == fb.n_rows and geom.n_pad == fb.n_pad
    np.testing.assert_array_equal(geom.row_weights, fb.row_weights)
    np.testing.assert_array_equal(geom.frequencies, fb.frequencies)
    rows = [0, 1, 150, fb.n_rows - 2, fb.n_rows - 1]
    np.testing.assert_allclose(CB.row_filters(geom, rows, fb.n_pad), fb.psi[rows],
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("c0, c1", [(0, 2500), (9000, 11000), (N - 2500, N)])
def test_mid_rows_on_a_block_grid_equal_the_whole_transform(whole, c0, c1):
    geom = cwt_geometry(SPEC, N, dx=1 / FS)
    rows = np.arange(230, 310)                    # ~700 Hz .. 4.2 kHz
    support = row_support(geom, rows)
    _, M, _ = CB.block_grid(geom, c0, c1, support)
    assert M < geom.n_pad                         # the block path, not the whole grid
    for white in (False, True):
        y, C = whole[white]
        got = cwt_columns(y, c0, c1, dx=1 / FS, rows=rows)
        assert _rel(got, C[rows, c0:c1]) < 1e-8


def test_rows_reaching_nyquist_agree_in_their_real_parts(whole):
    geom = cwt_geometry(SPEC, N, dx=1 / FS)
    rows = np.arange(330, geom.n_rows)            # the top rows and the high edge row
    for white in (False, True):
        y, C = whole[white]
        got = CB.cwt_columns(y, 4000, 6000, dx=1 / FS, rows=rows, nyquist_overlap=1 << 12)
        # a short overlap goes to the block path; the real parts are still close
        assert _rel(got.real, C[rows, 4000:6000].real) < 1e-4
    y, C = whole[True]
    got = cwt_columns(y, 4000, 6000, dx=1 / FS, rows=rows)
    np.testing.assert_allclose(got, C[rows, 4000:6000], rtol=0,
                               atol=1e-6 * np.abs(C[rows]).max())


def test_long_rows_use_the_whole_grid_exactly(whole):
    y, C = whole[False]
    rows = np.arange(0, 40)                       # the low edge row and the lowest wavelets
    assert row_support(cwt_geometry(SPEC, N, dx=1 / FS), rows) is None
    got = cwt_columns(y, 100, 900, dx=1 / FS, rows=rows)
    assert _rel(got, C[rows, 100:900]) < 1e-12


def test_block_boundaries_are_invisible(whole):
    y, C = whole[False]
    rows = np.arange(200, 320)
    edges = [0, 700, 1500, 1501, 4000]
    parts = [cwt_columns(y, a, b, dx=1 / FS, rows=rows)
             for a, b in zip(edges[:-1], edges[1:], strict=True)]
    joined = np.hstack(parts)
    assert _rel(joined, C[rows, :4000]) < 1e-8
    # each seam: the step across it is the whole transform's step
    for k in edges[1:-1]:
        np.testing.assert_allclose(joined[:, k] - joined[:, k - 1], C[rows, k] - C[rows, k - 1],
                                   atol=1e-8 * np.abs(C[rows]).max())


@pytest.mark.parametrize("c0, c1", [(0, 300), (5000, 7000), (N - 300, N)])
def test_stft_columns_equal_the_whole_stft(c0, c1):
    y = _signal()
    spec = T.TransformSpec(kind="stft", n_fft=256, window="hann")
    S = T.transform(Signal(y, dx=1 / FS), spec).coefficients
    got = stft_columns(y, c0, c1, spec=spec)
    assert _rel(got, S[:, c0:c1]) < 1e-12
    got = stft_columns(y, c0, c1, spec=spec, rows=[3, 50])
    assert _rel(got, S[[3, 50], c0:c1]) < 1e-12


def test_cancel_stops_and_progress_ascends_to_one():
    y = _signal()
    seen = []
    cwt_columns(y, 0, 1000, dx=1 / FS, rows=np.arange(200, 300), progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        cwt_columns(y, 0, 1000, dx=1 / FS, rows=np.arange(200, 300), cancel=lambda: True)


def test_bad_requests_are_parameter_errors():
    y = _signal()
    with pytest.raises(ParameterError, match="kind 'cwt'"):
        cwt_columns(y, 0, 10, spec=T.TransformSpec(kind="ssq_cwt"))
    with pytest.raises(ParameterError, match=r"\[0, 30000\)"):
        cwt_columns(y, 0, 30000)
    with pytest.raises(ParameterError, match="rows must lie"):
        cwt_columns(y, 0, 10, rows=[5000])
    with pytest.raises(ParameterError, match="hop 1"):
        stft_columns(y, 0, 10, spec=T.TransformSpec(kind="stft", hop=2))
