"""ColumnInverter: the band and residual of column ranges equal the whole stream's."""

import numpy as np
import pytest

from core.engine.column_inverse import ColumnInverter
from core.engine.stream import stream_band
from core.errors import ParameterError
from core.transforms import TransformSpec

FS = 8000.0
N = 30_000


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
    for c0, c1 in [(0, N), (4000, 4100), (4090, 8200), (N - 77, N), (12_345, 12_346)]:
        band, res = inv.band_and_residual(c0, c1, get)
        assert np.max(np.abs(band - whole.band[c0:c1])) < 1e-9 * scale
        assert np.max(np.abs(res - whole.residual[c0:c1])) < 1e-9 * scale


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
