"""ColumnInverter: the band and residual of column ranges equal the whole stream's."""

import numpy as np
import pytest

from phasebrush.core.engine.column_inverse import ColumnInverter
from phasebrush.core.engine.stream import stream_band
from phasebrush.core.errors import Cancelled, ParameterError
from phasebrush.core.signal import Signal
from phasebrush.core.tf.inversion import RangeInverter
from phasebrush.core.tf.transforms import TransformSpec, transform

FS = 8000.0
N = 30_000
N_SSQ = 20_000
RANGES = [(0, N), (4000, 4100), (4090, 8200), (N - 77, N), (12_345, 12_346)]


@pytest.fixture(scope="module")
def y():
    t = np.arange(N) / FS
    rng = np.random.default_rng(5)
    out = np.sin(2 * np.pi * 440 * t) + 0.4 * np.sin(2 * np.pi * 1500 * t) * (t > 1.5)
    out += 0.01 * rng.standard_normal(N)
    out[N // 2] += 3.0
    return out


def intervals(n_rows):
    def get(c0, c1):
        cols = np.arange(c0, c1)
        s = np.full(c1 - c0, n_rows // 3) + (cols // 2000) % 3     # edges that move
        return s, s + n_rows // 4
    return get


@pytest.mark.parametrize("spec", [TransformSpec(kind="cwt", nv=8, fmin=100.0),
                                  TransformSpec(kind="cwt", nv=8, fmin=100.0, edge_rows=False),
                                  TransformSpec(kind="stft", n_fft=128)])
def test_ranges_equal_the_whole_stream(y, spec):
    inv = ColumnInverter(y, spec, dx=1 / FS, block_length=4096)
    get = intervals(inv.n_rows)
    whole = stream_band(y, spec, intervals=get, dx=1 / FS)
    scale = np.abs(y).max()
    for c0, c1 in RANGES:
        band, res = inv.band_and_residual(c0, c1, get)
        assert np.max(np.abs(band - whole.band[c0:c1])) < 1e-9 * scale
        assert np.max(np.abs(res - whole.residual[c0:c1])) < 1e-9 * scale


SSQ_SPECS = [TransformSpec(kind="ssq_cwt", nv=8, fmin=100.0),
             TransformSpec(kind="ssq_cwt", nv=8, edge_rows=False),
             TransformSpec(kind="ssq_stft", n_fft=128)]


@pytest.mark.parametrize("spec", SSQ_SPECS, ids=["ssq_cwt", "ssq_cwt-no-edges", "ssq_stft"])
def test_ssq_ranges_equal_the_stream_and_the_whole_inverse(y, spec):
    x = y[:N_SSQ]
    inv = ColumnInverter(x, spec, dx=1 / FS, block_length=4096)
    get = intervals(inv.n_rows)
    whole = stream_band(x, spec, intervals=get, dx=1 / FS, block_length=4096)
    tfr = transform(Signal(x, dx=1 / FS), spec)
    band_ref, res_ref = RangeInverter(tfr).band_and_residual(*get(0, N_SSQ))
    scale = np.abs(x).max()
    # the whole path's inverse: the selection is not vacuous, the residual is not the rest
    assert np.abs(band_ref).max() > 0.01 * scale and np.abs(res_ref).max() > 0.01 * scale
    for c0, c1 in [(0, N_SSQ), (4000, 4100), (4090, 8200), (N_SSQ - 77, N_SSQ),
                   (12_345, 12_346)]:
        band, res = inv.band_and_residual(c0, c1, get)
        for got, ref in ((band, whole.band), (res, whole.residual),
                         (band, band_ref), (res, res_ref)):
            assert np.max(np.abs(got - ref[c0:c1])) < 1e-9 * scale
    if spec.kind == "ssq_cwt":
        # one engine: the whole-grid rows were made once for every call above
        assert inv.engine.whole_span == N_SSQ and inv.engine.whole_computed == 1


def test_ssq_engine_shared_with_the_display_source(y):
    from phasebrush.core.engine.display import display_source

    x = y[:N_SSQ]
    spec = SSQ_SPECS[0]
    src = display_source(x, spec, dx=1 / FS, tile_length=4096)
    live = ColumnInverter(x, spec, dx=1 / FS, block_length=4096, engine=src.engine)
    own = ColumnInverter(x, spec, dx=1 / FS, block_length=4096)
    assert live.engine is src.engine and own.engine is not src.engine
    get = intervals(live.n_rows)
    src.image(width=32)
    for c0, c1 in [(100, 5000), (15_000, N_SSQ)]:
        for a, b in zip(live.band_and_residual(c0, c1, get), own.band_and_residual(c0, c1, get),
                        strict=True):
            np.testing.assert_array_equal(a, b)
    # one probe, one set of whole-grid rows for the source and the inverter
    assert src.engine.whole_computed == 1
    with pytest.raises(ParameterError, match="engine is for"):
        ColumnInverter(x[:-1], spec, dx=1 / FS, engine=src.engine)
    with pytest.raises(ParameterError, match="engine is for"):
        ColumnInverter(x, SSQ_SPECS[1], dx=1 / FS, engine=src.engine)
    with pytest.raises(ParameterError, match="has none"):
        ColumnInverter(x, TransformSpec(kind="cwt", nv=8), dx=1 / FS, engine=src.engine)


def test_ssq_cancel_progress_and_output_arrays(y):
    spec = TransformSpec(kind="ssq_stft", n_fft=128)
    inv = ColumnInverter(y[:N_SSQ], spec, dx=1 / FS, block_length=2048)
    get = intervals(inv.n_rows)
    # the default block: ~1 Mi cells of squeeze work, not stream_band's 4 Mi
    default = ColumnInverter(y[:N_SSQ], spec, dx=1 / FS).block_length
    assert (1 << 20) - inv.n_rows < default * inv.n_rows <= 1 << 20
    with pytest.raises(Cancelled):
        inv.band_and_residual(0, 5000, get, cancel=lambda: True)
    seen = []
    b32, r32 = np.zeros(5000, np.float32), np.zeros(5000, np.float32)
    inv.band_and_residual(1000, 6000, get, out_band=b32, out_residual=r32,
                          progress=seen.append)
    assert seen[-1] == 1.0 and np.all(np.diff(seen) >= 0) and len(seen) > 3
    b, r = inv.band_and_residual(1000, 6000, get)
    np.testing.assert_allclose(b32, b, atol=1e-6)
    np.testing.assert_allclose(r32, r, atol=1e-6)


def test_writes_into_given_arrays_of_any_float_dtype(y):
    spec = TransformSpec(kind="cwt", nv=8, fmin=100.0)
    inv = ColumnInverter(y, spec, dx=1 / FS, block_length=4096)
    get = intervals(inv.n_rows)
    b32, r32 = np.zeros(3000, np.float32), np.zeros(3000, np.float32)
    inv.band_and_residual(1000, 4000, get, out_band=b32, out_residual=r32)
    b, r = inv.band_and_residual(1000, 4000, get)
    np.testing.assert_allclose(b32, b, atol=1e-6)
    np.testing.assert_allclose(r32, r, atol=1e-6)


def test_bad_ranges_and_kinds(y):
    inv = ColumnInverter(y, TransformSpec(kind="stft", n_fft=128), dx=1 / FS)
    with pytest.raises(ParameterError, match="not inside"):
        inv.band_and_residual(-1, 10, intervals(inv.n_rows))
    with pytest.raises(ParameterError, match="hop-1"):
        ColumnInverter(y, TransformSpec(kind="stft", n_fft=128, hop=4), dx=1 / FS)
