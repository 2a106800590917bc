"""core.engine.multirate: each row at its own hop equals the whole transform there."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from phasebrush.core import memory
from phasebrush.core.engine import cwt_blocks as CB
from phasebrush.core.engine.multirate import cwt_multirate, estimate_multirate_bytes, plan_multirate
from phasebrush.core.errors import Cancelled, OutOfMemoryError, ParameterError
from phasebrush.core.signal import Signal
from phasebrush.core.tf import transforms as T

N = 32768
SPEC = T.TransformSpec(nv=12)        # the default filterbank code, fewer rows: a fast reference


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(3)
    t = np.arange(N)
    # noise, a tone and a click near each end: the padding and the first and
    # last blocks matter
    y = rng.standard_normal(N) + np.sin(2 * np.pi * 0.05 * t)
    y[3] += 20.0
    y[N - 5] -= 20.0
    C = T.transform(Signal(y, dx=1.0), SPEC).coefficients
    return y, C


def _errors(m, C):
    """Per row: max |multirate - whole at the row's times| / max |whole row|."""
    return np.array([np.abs(m.coefficients[i] - C[r, m.times(i)]).max() / np.abs(C[r]).max()
                     for i, r in enumerate(m.rows)])


def test_whole_grid_rows_equal_the_transform_at_their_hops(case):
    y, C = case
    m = cwt_multirate(y, SPEC, dtype=np.complex128)
    geom = CB.cwt_geometry(SPEC, N)
    assert plan_multirate(geom).whole.all()          # short signal: one exact grid
    assert np.array_equal(m.rows, np.arange(C.shape[0]))
    assert len(m.edge_row_indices) == 2
    assert np.all(m.hops >= 1) and np.all((m.hops & (m.hops - 1)) == 0)
    assert m.hops.max() >= 64                         # low rows are decimated
    # every row, edges and Nyquist rows too, interior and both ends (times 0 and N-1..)
    assert _errors(m, C).max() <= 1e-6
    np.testing.assert_allclose(m.frequencies, T.transform(Signal(y[:N], dx=1.0), SPEC).frequencies)


@pytest.mark.parametrize("c0, c1", [(0, N), (5, N - 7), (10000, 14001)])
def test_block_boundaries_are_invisible(case, c0, c1):
    y, C = case
    geom = CB.cwt_geometry(SPEC, N)
    plan = plan_multirate(geom, block_length=2048)
    assert (~plan.whole).sum() >= 40 and plan.whole.any()   # both kinds of rows are used
    m = cwt_multirate(y, SPEC, dtype=np.complex128, c0=c0, c1=c1, block_length=2048)
    assert m.c0 == c0 and m.c1 == c1
    for i in range(len(m.rows)):
        t = m.times(i)
        assert t[0] == c0 and t[-1] < c1 and t[-1] + m.hops[i] >= c1
    err = _errors(m, C)
    # rows away from Nyquist (block rows whose filter is cut there would carry
    # cwt_blocks' Nyquist error; at this length those rows are on the whole grid)
    assert err.max() <= 1e-6


def test_complex64_result_is_within_single_precision(case):
    y, C = case
    m = cwt_multirate(y, SPEC)
    assert all(c.dtype == np.complex64 for c in m.coefficients)
    assert _errors(m, C).max() <= 1e-6


def test_memory_is_far_below_rows_by_samples(case):
    y, C = case
    m = cwt_multirate(y, SPEC, block_length=4096)
    assert m.n_values < C.size / 5
    geom = CB.cwt_geometry(SPEC, N)
    est = estimate_multirate_bytes(plan_multirate(geom), N, itemsize=8)
    assert 8 * m.n_values < est < 16 * C.size / 3      # the whole coefficients: 16 B each


def test_headroom_halves_the_hops(case):
    y, _ = case
    geom = CB.cwt_geometry(SPEC, N)
    a, b = plan_multirate(geom), plan_multirate(geom, headroom=2.0)
    free = (a.hops > 1) & (a.hops < a.hops.max())
    assert np.array_equal(b.hops[free], a.hops[free] // 2)


def test_rows_subset_and_progress(case):
    y, C = case
    seen = []
    rows = [40, 7, 100]
    m = cwt_multirate(y, SPEC, rows=rows, dtype=np.complex128, progress=seen.append,
                      block_length=2048)
    assert list(m.rows) == sorted(rows)
    assert _errors(m, C).max() <= 1e-6
    assert seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:], strict=False))


def test_cancel_raises_cancelled(case):
    y, _ = case
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        cwt_multirate(y, SPEC, cancel=cancel, block_length=2048)


def test_small_budget_is_refused_before_work(case):
    y, _ = case
    memory.set_budget(1 << 20)
    try:
        with pytest.raises(OutOfMemoryError, match="multirate CWT"):
            cwt_multirate(y, SPEC)
    finally:
        memory.set_budget(None)


@pytest.mark.parametrize("kw", [dict(c0=-1), dict(c0=10, c1=10), dict(c1=N + 1),
                                dict(dtype=np.float32), dict(rows=[10_000]),
                                dict(headroom=0.5), dict(max_hop=3), dict(block_length=0)])
def test_bad_parameters(case, kw):
    y, _ = case
    with pytest.raises(ParameterError):
        cwt_multirate(y, SPEC, **kw)


def test_not_a_cwt_spec(case):
    y, _ = case
    with pytest.raises(ParameterError, match="kind"):
        cwt_multirate(y, T.TransformSpec(kind="stft"))


def test_estimate_covers_the_peak_with_whole_and_block_rows(case):
    y, C = case
    geom = CB.cwt_geometry(SPEC, N)
    kw = dict(block_length=2048, nyquist_overlap=4096)
    plan = plan_multirate(geom, **kw)
    # rows whose support is longer than half a block and the Nyquist overlap: whole grid
    assert plan.whole.any() and (~plan.whole).sum() >= 40
    assert plan.overlaps.max() <= 4096
    est = estimate_multirate_bytes(plan, N, itemsize=16)
    cwt_multirate(y, SPEC, dtype=np.complex128, **kw)            # numba, tables: not counted
    tracemalloc.start()
    m = cwt_multirate(y, SPEC, dtype=np.complex128, **kw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert m.estimated_bytes == est and peak <= est < 4 * peak
    # rows clear of Nyquist (the short Nyquist overlap leaves ~1e-2 on the rows cut there)
    assert _errors(m, C)[plan.f_hi < 0.5].max() <= 1e-6


def test_low_bins_by_phases_equal_the_whole_rfft(monkeypatch):
    from phasebrush.core.engine import multirate as MR
    from phasebrush.core.engine.blocks import Steps, padded_segment

    n = 40000
    y = np.random.default_rng(4).standard_normal(n)
    geom = CB.cwt_geometry(SPEC, n)
    plan = plan_multirate(geom, rows=range(30))            # low rows: few low bins
    ref = MR._Rows(y, plan).low_bins(Steps())
    monkeypatch.setattr(MR, "_POLY_P", 64)                 # the phase path on a short grid
    monkeypatch.setattr(MR, "_LOW_CHUNK", 1 << 13)         # several chunks of phases
    assert MR._low_phase_length(geom.n_pad, len(ref) - 1) < geom.n_pad
    got = MR._Rows(y, plan).low_bins(Steps())
    X = np.fft.rfft(padded_segment(y, 0, geom.n_pad, geom.n_pad, geom.pad_left))[:len(ref)]
    np.testing.assert_allclose(ref, X, rtol=0, atol=1e-12 * np.abs(X).max())
    np.testing.assert_allclose(got, X, rtol=0, atol=1e-12 * np.abs(X).max())


def test_closed_form_gmw_equals_ssqueezepy():
    from phasebrush.core.engine import multirate as MR

    geom = CB.cwt_geometry(SPEC, N)
    assert MR._closed_form(T._wavelet_key(SPEC)) is not None
    assert MR._closed_form("morlet") is None
    wav = T._wavelet(T._wavelet_key(SPEC))
    rows = geom.wavelet_rows[::7]
    for M in (4096, 65536, 65537):
        ev = MR._Evaluator(geom, M)
        ref = np.array([np.asarray(wav(scale=geom.scales[r], N=M, nohalf=False)).real
                        for r in rows])
        atol = 1e-13 * np.abs(ref).max()
        np.testing.assert_allclose(CB.row_filters(geom, rows, M), ref, rtol=1e-11, atol=atol)
        np.testing.assert_allclose(CB.row_filters(geom, rows[:1], M), ref[:1], rtol=1e-11,
                                   atol=atol)                   # one row: no tables
        for r, f in zip(rows, ref, strict=True):
            lo, hi = MR._bin_range(*[b[r] for b in MR._wavelet_bands(geom, 1e-10)], M)
            np.testing.assert_allclose(ev(int(r), lo, hi), f[np.arange(lo, hi + 1) % M],
                                       rtol=1e-11, atol=atol)


@pytest.mark.parametrize("n, n_pad, pad_left", [(1000, 4096, 1500), (3000, 4096, 548), (7, 64, 30)])
def test_phase_rows_are_the_padded_signal(n, n_pad, pad_left):
    from types import SimpleNamespace

    from phasebrush.core.engine import multirate as MR
    from phasebrush.core.engine.blocks import padded_segment

    y = np.random.default_rng(n).standard_normal(n)
    g = SimpleNamespace(n_samples=n, n_pad=n_pad, pad_left=pad_left)
    xp = padded_segment(y, 0, n_pad, n_pad, pad_left)
    D = 16
    for p0, c in [(0, 4), (5, 3), (12, 4)]:
        out = np.empty((n_pad // D, c))
        MR._phases(y, g, D, p0, out)
        np.testing.assert_array_equal(out, xp.reshape(-1, D)[:, p0:p0 + c])
