"""core.engine.ssq_blocks: synchrosqueezed columns block by block vs the whole-signal path."""

from __future__ import annotations

import numpy as np
import pytest

from phasebrush.core.engine import SSQBlocks, ssq_blocks, ssq_cwt_columns, ssq_stft_columns
from phasebrush.core.engine.ssq_blocks import WHOLE_ROWS_BYTES, _fn, ssq_grid
from phasebrush.core.errors import Cancelled, ParameterError
from phasebrush.core.signal import Signal
from phasebrush.core.tf import transforms as T

FS, N = 16000.0, 20000
CLICK = 7000
SSQ_CWT = T.TransformSpec(kind="ssq_cwt", nv=8)
SSQ_STFT = T.TransformSpec(kind="ssq_stft", n_fft=256)


@pytest.fixture(scope="module")
def y():
    rng = np.random.default_rng(4)
    t = np.arange(N) / FS
    x = (np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * (200 + 3000 * t) * t)
         + 0.2 * rng.standard_normal(N))
    x[CLICK] += 3.0                  # broadband: reaches the rows cut at Nyquist
    return x


@pytest.fixture(scope="module")
def whole(y):
    return {spec.kind: T.transform(Signal(y, dx=1 / FS), spec) for spec in (SSQ_CWT, SSQ_STFT)}


@pytest.fixture(scope="module")
def cwt_blocks(y):
    return ssq_blocks(y, SSQ_CWT, dx=1 / FS)


def _rel(a, ref_all):
    return float(np.abs(a).max() / np.abs(ref_all).max())


# a block ending at the click, one starting at it, one holding it, and both true ends
SPANS = [(0, 2500), (CLICK - 1500, CLICK), (CLICK, CLICK + 1500), (CLICK - 700, CLICK + 900),
         (N - 2500, N)]


@pytest.mark.parametrize("c0, c1", SPANS)
def test_ssq_cwt_block_columns_equal_the_whole_transform(cwt_blocks, whole, c0, c1):
    ref = whole["ssq_cwt"].coefficients
    got = cwt_blocks.columns(c0, c1)
    assert got.shape == (ref.shape[0], c1 - c0) and got.dtype == np.complex128
    # the squeeze moves whole coefficients between bins: any real mismatch is large
    assert _rel(got - ref[:, c0:c1], ref) < 1e-8


def test_ssq_cwt_click_is_in_the_block_and_the_top_rows(cwt_blocks, whole):
    # the click must matter where it is tested: the rows above ~5 kHz light up at CLICK
    tfr = whole["ssq_cwt"]
    ref = tfr.coefficients
    top = slice(int(np.searchsorted(tfr.frequencies, 5000.0)), tfr.n_rows - 1)
    column = np.abs(ref[top]).sum(axis=0)
    assert column[CLICK - 2:CLICK + 3].max() > 3 * np.median(column)
    got = cwt_blocks.columns(CLICK - 3, CLICK + 3)
    assert _rel(got - ref[:, CLICK - 3:CLICK + 3], ref) < 1e-8


def test_ssq_cwt_adjacent_blocks_join_without_seams(cwt_blocks, whole):
    ref = whole["ssq_cwt"].coefficients
    joined = np.hstack([cwt_blocks.columns(a, b) for a, b in ((5000, CLICK), (CLICK, 9000))])
    assert _rel(joined - ref[:, 5000:9000], ref) < 1e-8


def test_ssq_cwt_object_describes_the_whole_rows(cwt_blocks, whole):
    tfr = whole["ssq_cwt"]
    assert isinstance(cwt_blocks, SSQBlocks)
    assert cwt_blocks.n_rows == tfr.n_rows
    np.testing.assert_allclose(cwt_blocks.frequencies, tfr.frequencies, rtol=1e-12)
    np.testing.assert_allclose(cwt_blocks.row_weights, tfr.row_weights, rtol=1e-12)
    assert cwt_blocks.edge_row_indices == tfr.edge_row_indices
    assert cwt_blocks.offset == tfr.offset


def test_ssq_cwt_columns_function_and_other_wavelets(y):
    # Morlet leaks to negative frequencies (the n filter); no edge rows gives an offset
    spec = T.TransformSpec(kind="ssq_cwt", nv=8, wavelet="morlet", edge_rows=False)
    yy = y[:8192]
    ref = T.transform(Signal(yy, dx=1 / FS), spec).coefficients
    got = ssq_cwt_columns(yy, 3000, 5000, spec=spec, dx=1 / FS)
    assert got.shape == (ref.shape[0], 2000)
    assert _rel(got - ref[:, 3000:5000], ref) < 1e-8


def test_kept_whole_grid_rows_give_the_same_columns(y, cwt_blocks, whole):
    # the low edge row and the longest wavelets, once for the whole signal
    kept = ssq_blocks(y, SSQ_CWT, dx=1 / FS, whole_bytes=WHOLE_ROWS_BYTES)
    assert cwt_blocks.whole_span == 0 and kept.whole_span == N
    ref = whole["ssq_cwt"].coefficients
    for c0, c1 in SPANS:
        got = kept.columns(c0, c1)
        np.testing.assert_array_equal(got, cwt_blocks.columns(c0, c1))
        assert _rel(got - ref[:, c0:c1], ref) < 1e-8
    assert kept.whole_computed == 1
    per_column = kept._impl.whole_column_bytes()
    assert per_column >= 32 * 2 + 16                    # some wavelets and the edge row
    assert kept.whole_bytes() >= N * per_column
    assert cwt_blocks.whole_bytes() == 0


def test_a_span_of_whole_grid_rows_when_the_signal_does_not_fit(y, cwt_blocks):
    per_column = cwt_blocks._impl.whole_column_bytes()
    b = ssq_blocks(y, SSQ_CWT, dx=1 / FS, whole_bytes=3000 * per_column)
    assert b.whole_span == 3000
    made = []
    for c0, c1 in [(0, 2500), (2500, 5000), (4000, 5000), (N - 100, N), (0, 4000)]:
        np.testing.assert_array_equal(b.columns(c0, c1), cwt_blocks.columns(c0, c1))
        made.append(b.whole_computed)
    # a span from the block on; the next block inside it reuses it; longer blocks go direct
    assert made == [1, 2, 2, 3, 3]


@pytest.mark.parametrize("spec", [SSQ_CWT, SSQ_STFT,
                                  T.TransformSpec(kind="ssq_cwt", nv=8, edge_rows=False)])
def test_ssq_grid_is_the_whole_transforms(y, spec):
    tfr = T.transform(Signal(y[:6000], dx=1 / FS), spec)
    f, w, edge = ssq_grid(spec, 6000, dx=1 / FS)
    np.testing.assert_allclose(f, tfr.frequencies, rtol=1e-12)
    np.testing.assert_allclose(w, tfr.row_weights, rtol=1e-12)
    assert edge == tfr.edge_row_indices
    with pytest.raises(ParameterError):
        ssq_grid(T.TransformSpec(kind="cwt"), 6000)


def test_closed_form_gmw_is_ssqueezepys_formula(cwt_blocks):
    impl = cwt_blocks._impl
    assert impl.cf is not None
    w = np.concatenate([[-3.0, 0.0, 1e-9], np.geomspace(1e-3, 1e4, 5000)])
    ref = _fn(impl.wav, w)
    got = impl._psi(w)
    assert np.all(np.abs(got - ref) <= 1e-12 * np.abs(ref).max())
    assert np.all(got[:2] == 0) and ref.max() > 1.9


@pytest.mark.parametrize("c0, c1", SPANS)
def test_ssq_stft_block_columns_are_exact(y, whole, c0, c1):
    ref = whole["ssq_stft"].coefficients
    got = ssq_stft_columns(y, c0, c1, spec=SSQ_STFT, dx=1 / FS)
    assert got.shape == (129, c1 - c0) and got.dtype == np.complex128
    assert _rel(got - ref[:, c0:c1], ref) < 1e-12


def test_ssq_stft_weights_match_the_whole_path(y, whole):
    b = ssq_blocks(y, SSQ_STFT, dx=1 / FS)
    np.testing.assert_allclose(b.row_weights, whole["ssq_stft"].row_weights, rtol=1e-14)
    np.testing.assert_allclose(b.frequencies, whole["ssq_stft"].frequencies, rtol=1e-14)


def test_cancel_and_progress(cwt_blocks, y):
    seen = []
    cwt_blocks.columns(100, 600, progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        cwt_blocks.columns(0, 1000, cancel=lambda: True)
    with pytest.raises(Cancelled):
        ssq_stft_columns(y, 0, 1000, spec=SSQ_STFT, cancel=lambda: True)


def test_bad_kinds_and_ranges(y, cwt_blocks):
    with pytest.raises(ParameterError, match="ssq_cwt"):
        ssq_blocks(y, T.TransformSpec(kind="cwt"))
    with pytest.raises(ParameterError, match="ssq_stft"):
        ssq_stft_columns(y, 0, 10, spec=SSQ_CWT)
    with pytest.raises(ParameterError, match="ssq_cwt"):
        ssq_cwt_columns(y, 0, 10, spec=SSQ_STFT)
    with pytest.raises(ParameterError, match="not inside"):
        cwt_blocks.columns(0, N + 1)
    with pytest.raises(ParameterError, match="not inside"):
        cwt_blocks.columns(10, 10)
    with pytest.raises(ParameterError, match="larger than the signal"):
        ssq_blocks(y[:100], SSQ_STFT)
    with pytest.raises(ParameterError, match="dx"):
        ssq_blocks(y, SSQ_STFT, dx=0.0)
