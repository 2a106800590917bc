"""core.engine.stream_band vs core.tf.inversion on the whole transform, for the four hop-1 kinds.

Selections: a band between two edge curves (intervals from phasebrush.core.tf.bands, and
the same cells as a mask), a rectangle, a lasso polygon and a brush stroke
(core.tf.masks), streamed in blocks small enough that each crosses block
boundaries. The 30-s 16 kHz case of issue 10 is
tests/benchmarks/bench_engine_agreement.py (its whole-signal SSQ-CWT
reference alone takes minutes and ~3.5 GB); here the same comparison runs at
20000 samples.
"""

from __future__ import annotations

import numpy as np
import pytest

from phasebrush.core import memory
from phasebrush.core.engine import stream_band
from phasebrush.core.errors import Cancelled, OutOfMemoryError, ParameterError, ShapeError
from phasebrush.core.signal import Signal
from phasebrush.core.tf import transforms as T
from phasebrush.core.tf.inversion import RangeInverter, invert_with_residual

FS, N = 16000.0, 20000
BLOCK = 3000
SPECS = {
    "cwt": T.TransformSpec(kind="cwt", nv=8),
    "ssq_cwt": T.TransformSpec(kind="ssq_cwt", nv=8),
    "stft": T.TransformSpec(kind="stft", n_fft=256),
    "ssq_stft": T.TransformSpec(kind="ssq_stft", n_fft=256),
}
SELECTIONS = ("band", "rectangle", "lasso", "brush")


def recording(n: int, fs: float = FS, seed: int = 0) -> np.ndarray:
    """Two tones, a rising chirp, clicks every 0.37 s and white noise [shape=(n,)]."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    dur = n / fs
    y = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 2500 * t)
         + 0.4 * np.sin(2 * np.pi * (150 * t + 0.5 * (5000 / dur) * t * t))
         + 0.05 * rng.standard_normal(n))
    y[np.arange(int(0.1 * fs), n, int(0.37 * fs))] += 2.0
    return y


def selections(tfr):
    """{name: (mask [shape=tfr.shape, bool], intervals (start, end) or None)} on ``tfr``'s grid.

    A band between two rising edges (its intervals and their mask), a
    rectangle, a lasso polygon and a brush stroke, placed by fractions of the
    grid and of the frequency range so that every kind gets the same picture.
    """
    from phasebrush.core.tf import masks as MK
    from phasebrush.core.tf.bands import Band, band_ranges
    from phasebrush.core.tf.inversion import check_row_ranges

    R, C = tfr.shape
    dur = tfr.times[-1]
    band = Band(upper=[[0.1 * dur, 1500.0], [0.9 * dur, 5000.0]],
                lower=[[0.1 * dur, 400.0], [0.9 * dur, 1800.0]])
    s, e = band_ranges(band, tfr)
    s2, e2 = check_row_ranges(R, s, e, C)
    out = {"band": (MK.ranges_to_mask(s2[0], e2[0], R), (s, e))}
    m = np.zeros((R, C), dtype=bool)
    MK.fill_rectangle(m, 0.3 * R, 0.7 * R, 0.15 * C, 0.55 * C)
    out["rectangle"] = (m, None)
    m = np.zeros((R, C), dtype=bool)
    MK.fill_polygon(m, [(0.2 * R, 0.05 * C), (0.85 * R, 0.3 * C), (0.5 * R, 0.7 * C),
                        (0.7 * R, 0.95 * C), (0.1 * R, 0.6 * C)])
    out["lasso"] = (m, None)
    m = np.zeros((R, C), dtype=bool)
    MK.paint_stroke(m, [(0.6 * R, 0.1 * C), (0.9 * R, 0.4 * C), (0.35 * R, 0.75 * C),
                        (0.5 * R, 0.9 * C)], 0.04 * R, 0.01 * C)
    out["brush"] = (m, None)
    return out


@pytest.fixture(scope="module")
def y():
    return recording(N, FS, seed=3)


@pytest.fixture(scope="module")
def cases(y):
    """{kind: (tfr, selections, RangeInverter)}, each whole transform made once."""
    out = {}
    for kind, spec in SPECS.items():
        tfr = T.transform(Signal(y, dx=1 / FS), spec)
        out[kind] = (tfr, selections(tfr), RangeInverter(tfr))
    return out


def _rel(a, b, y):
    return float(np.abs(a - b).max() / np.abs(y).max())


def _crosses_blocks(m):
    cols = np.flatnonzero(m.any(axis=0))
    return cols[0] // BLOCK != cols[-1] // BLOCK


@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize("kind", SPECS)
def test_mask_stream_equals_the_whole_signal_inverse(y, cases, kind, selection):
    tfr, sel, _ = cases[kind]
    m, _ = sel[selection]
    assert m.any() and not m.all() and _crosses_blocks(m)
    band_ref, res_ref = invert_with_residual(tfr, m)
    asked = []

    def mask(c0, c1):
        asked.append((c0, c1))
        return m[:, c0:c1]

    got = stream_band(y, SPECS[kind], mask=mask, dx=1 / FS, block_length=BLOCK)
    assert asked == [(c, min(N, c + BLOCK)) for c in range(0, N, BLOCK)]
    assert got.n_blocks == 7
    assert _rel(got.band, band_ref, y) < 1e-6
    assert _rel(got.residual, res_ref, y) < 1e-6
    # a wrong selection is far off: the check above is not vacuous
    assert _rel(got.band, np.zeros(N), y) > 1e-3


@pytest.mark.parametrize("kind", SPECS)
def test_band_intervals_stream_equals_the_range_inverter(y, cases, kind):
    tfr, sel, inverter = cases[kind]
    m, (s, e) = sel["band"]
    band_ref, res_ref = inverter.band_and_residual(s, e)
    got = stream_band(y, SPECS[kind], intervals=(s, e), dx=1 / FS, block_length=BLOCK)
    assert _rel(got.band, band_ref, y) < 1e-6
    assert _rel(got.residual, res_ref, y) < 1e-6
    # the band's intervals and its mask select the same cells
    via_mask = stream_band(y, SPECS[kind], mask=lambda c0, c1: m[:, c0:c1], dx=1 / FS,
                           block_length=BLOCK, residual=False)
    assert _rel(via_mask.band, got.band, y) < 1e-12


@pytest.mark.parametrize("kind", SPECS)
def test_full_selection_is_the_identity(y, cases, kind):
    tfr = cases[kind][0]
    full = np.ones(tfr.shape, dtype=bool)
    got = stream_band(y, SPECS[kind], mask=lambda c0, c1: full[:, c0:c1], dx=1 / FS,
                      block_length=BLOCK)
    assert _rel(got.band, y, y) < 1e-6
    assert np.abs(got.residual).max() < 1e-6 * np.abs(y).max()


def test_several_runs_per_column_in_a_plain_kind_mask(y, cases):
    # two lassos stacked in frequency: columns with two runs become two intervals
    tfr, sel, _ = cases["cwt"]
    m = sel["lasso"][0] | sel["brush"][0]
    runs = (np.diff(m.astype(np.int8), axis=0) == 1).sum(axis=0)
    assert runs.max() >= 2
    band_ref, res_ref = invert_with_residual(tfr, m)
    got = stream_band(y, SPECS["cwt"], mask=lambda c0, c1: m[:, c0:c1], dx=1 / FS,
                      block_length=BLOCK)
    assert _rel(got.band, band_ref, y) < 1e-6
    assert _rel(got.residual, res_ref, y) < 1e-6


@pytest.mark.parametrize("kind", SPECS)
def test_cancel_raises_cancelled(y, cases, kind):
    m = cases[kind][1]["lasso"][0]
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        stream_band(y, SPECS[kind], mask=lambda c0, c1: m[:, c0:c1], dx=1 / FS,
                    block_length=BLOCK, cancel=cancel)


@pytest.mark.parametrize("kind", ["ssq_cwt", "ssq_stft", "cwt"])
def test_too_small_budget_is_out_of_memory_not_memory_error(y, cases, kind):
    m = cases[kind][1]["rectangle"][0]
    memory.set_budget("2M")
    try:
        with pytest.raises(OutOfMemoryError, match="needs about") as info:
            stream_band(y, SPECS[kind], mask=lambda c0, c1: m[:, c0:c1], dx=1 / FS,
                        block_length=BLOCK)
        assert type(info.value) is OutOfMemoryError
        with pytest.raises(OutOfMemoryError):
            stream_band(y, SPECS[kind], mask=lambda c0, c1: m[:, c0:c1], dx=1 / FS)
    finally:
        memory.set_budget(None)


def test_ssq_estimate_grows_with_the_block(y):
    from phasebrush.core.engine import estimate_ssq_stream_bytes

    for spec in (SPECS["ssq_cwt"], SPECS["ssq_stft"]):
        small = estimate_ssq_stream_bytes(N, 1000, spec, dx=1 / FS)
        big = estimate_ssq_stream_bytes(N, 10000, spec, dx=1 / FS)
        assert big > small > 3 * 8 * N


def test_exactly_one_of_intervals_and_mask(y, cases):
    tfr = cases["stft"][0]
    iv = (np.zeros(N, int), np.full(N, 10))
    with pytest.raises(ParameterError, match="exactly one.*both"):
        stream_band(y, SPECS["stft"], intervals=iv, mask=lambda c0, c1: None)
    with pytest.raises(ParameterError, match="exactly one.*neither"):
        stream_band(y, SPECS["stft"])
    with pytest.raises(ParameterError, match="callable"):
        stream_band(y, SPECS["stft"], mask=np.ones(tfr.shape, bool))


@pytest.mark.parametrize("kind", ["stft", "ssq_stft"])
def test_bad_mask_blocks(y, cases, kind):
    R = cases[kind][0].n_rows
    with pytest.raises(ShapeError, match=r"expected \(129, 3000\)"):
        stream_band(y, SPECS[kind], mask=lambda c0, c1: np.ones((R - 1, c1 - c0), bool),
                    dx=1 / FS, block_length=BLOCK)
    with pytest.raises(ParameterError, match="boolean"):
        stream_band(y, SPECS[kind], mask=lambda c0, c1: np.ones((R, c1 - c0)),
                    dx=1 / FS, block_length=BLOCK)


def test_kinds_the_stream_refuses(y):
    with pytest.raises(ParameterError, match="hop-1"):
        stream_band(y, T.TransformSpec(kind="stft", hop=4), mask=lambda c0, c1: None)
