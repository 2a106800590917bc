"""The overview images: pixel groups of a display source, and frame-spectra estimates."""

import numpy as np
import pytest

from core.engine.display import display_source
from core.engine.overview import (
    overview_image,
    pixel_edges,
    row_power_filters,
    spectral_overview,
)
from core.errors import Cancelled
from core.signal import Signal
from core.transforms import TransformSpec, transform

FS = 8000.0
N = 1 << 16


@pytest.fixture(scope="module")
def y():
    t = np.arange(N) / FS
    rng = np.random.default_rng(2)
    return (np.sin(2 * np.pi * 500 * t) + 0.5 * np.sin(2 * np.pi * 2000 * t) * (t > 4)
            + 0.01 * rng.standard_normal(N))


def test_pixel_edges_cover_the_range():
    e = pixel_edges(10, 1010, 7)
    assert e[0] == 10 and e[-1] == 1010 and np.all(np.diff(e) > 0) and len(e) == 8


def test_overview_in_groups_equals_the_sources_images(y):
    spec = TransformSpec(kind="stft", n_fft=128)
    src = display_source(y, spec, dx=1 / FS)
    parts = []
    img = overview_image(src, width=64, c1=N, group_columns=4096,
                         partial=lambda im, f: parts.append((np.isnan(im).sum(), f)))
    assert parts[-1][1] == 1.0 and parts[0][0] > 0 == parts[-1][0]   # grows left to right
    edges = pixel_edges(0, N, 64)
    for p in (0, 17, 63):
        one = src.image(int(edges[p]), int(edges[p + 1]), width=1)
        np.testing.assert_allclose(img[:, p], one[:, 0], atol=1e-4)


@pytest.mark.parametrize("spec", [TransformSpec(kind="cwt", nv=8, fmin=100.0),
                                  TransformSpec(kind="stft", n_fft=256)])
def test_spectral_overview_is_close_to_the_exact_rms(y, spec):
    tfr = transform(Signal(y, dx=1 / FS), spec)
    width = 16
    edges = pixel_edges(0, N, width)
    mag2 = np.abs(tfr.coefficients) ** 2
    exact = 10 * np.log10(np.stack([mag2[:, a:b].mean(axis=1)
                                    for a, b in zip(edges[:-1], edges[1:], strict=True)], 1))
    fast = spectral_overview(y, spec, dx=1 / FS, width=width, M=4096)
    assert fast.shape == exact.shape
    strong = exact > exact.max() - 30
    assert np.median(np.abs(fast - exact)[strong]) < 1.0
    # the 2 kHz tone starts at 4 s: the second half of the image shows it, the first not
    r = int(np.argmin(np.abs(tfr.frequencies - 2000.0)))
    assert fast[r, -2] > fast[r, 1] + 20


def test_spectral_overview_partial_and_cancel(y):
    spec = TransformSpec(kind="stft", n_fft=128)
    F = row_power_filters(spec, N, dx=1 / FS, M=1024)
    seen = []
    spectral_overview(y, spec, dx=1 / FS, width=512, M=1024, filters=F,
                      partial=lambda im, f: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 1
    with pytest.raises(Cancelled):
        spectral_overview(y, spec, dx=1 / FS, width=512, M=1024, filters=F, cancel=lambda: True)


def test_row_power_filters_fold_to_parseval(y):
    # white noise of variance s2: mean |C_r|^2 = s2 * sum_k F[r, k] / M over the rfft bins
    spec = TransformSpec(kind="stft", n_fft=64)
    M = 1024
    F = row_power_filters(spec, N, dx=1 / FS, M=M)
    noise = np.random.default_rng(0).standard_normal(N)
    tfr = transform(Signal(noise, dx=1 / FS), spec)
    measured = (np.abs(tfr.coefficients) ** 2).mean(axis=1)
    predicted = F.sum(axis=1) / M
    np.testing.assert_allclose(measured[2:-2], predicted[2:-2], rtol=0.1)
