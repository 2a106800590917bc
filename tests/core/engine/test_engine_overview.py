"""The overview images: pixel groups of a display source, and frame-spectra estimates."""

import numpy as np
import pytest

from phasebrush.core.engine.display import display_source
from phasebrush.core.engine.overview import (
    overview_image,
    pixel_edges,
    row_power_filters,
    spectral_overview,
)
from phasebrush.core.errors import Cancelled
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform

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


# --- the synchrosqueezed kinds: each row's frequency bin --------------------------------

N_SSQ = 1 << 15
SSQ_SPECS = [TransformSpec(kind="ssq_cwt", nv=8, fmin=50.0),
             TransformSpec(kind="ssq_stft", n_fft=256)]


def _exact_rms_db(y, spec, width):
    tfr = transform(Signal(y, dx=1 / FS), spec)
    edges = pixel_edges(0, len(y), width)
    mag2 = np.abs(tfr.coefficients) ** 2
    ms = np.stack([mag2[:, a:b].mean(axis=1)
                   for a, b in zip(edges[:-1], edges[1:], strict=True)], 1)
    return tfr, 10 * np.log10(np.maximum(ms, 1e-30))


@pytest.mark.parametrize("spec", SSQ_SPECS, ids=["ssq_cwt", "ssq_stft"])
def test_ssq_spectral_overview_is_close_to_the_exact_rms(spec):
    # tones, a chirp and a little noise: the components squeeze coherently into their rows
    t = np.arange(N_SSQ) / FS
    rng = np.random.default_rng(4)
    y = (np.sin(2 * np.pi * 500 * t) + 0.5 * np.sin(2 * np.pi * 2000 * t) * (t > 2)
         + 0.3 * np.sin(2 * np.pi * (100 * t + 0.5 * (1500 / t[-1]) * t * t))
         + 0.05 * rng.standard_normal(N_SSQ))
    tfr, exact = _exact_rms_db(y, spec, 16)
    fast = spectral_overview(y, spec, dx=1 / FS, width=16, M=4096)
    assert fast.shape == exact.shape == (tfr.n_rows, 16)
    strong = exact > exact.max() - 30
    assert strong.sum() > 50
    # measured: 0.6 dB (ssq_cwt nv 8), 0.7 dB (ssq_stft)
    assert np.median(np.abs(fast - exact)[strong]) < 1.5
    r = int(np.argmin(np.abs(tfr.frequencies - 500.0)))
    assert abs(np.mean(fast[r] - exact[r])) < 1.0                 # the tone's row
    r = int(np.argmin(np.abs(tfr.frequencies - 2000.0)))
    assert fast[r, -2] > fast[r, 1] + 20                          # the tone starting at 2 s


@pytest.mark.parametrize("spec", SSQ_SPECS, ids=["ssq_cwt", "ssq_stft"])
def test_ssq_noise_floor_is_a_few_db_high(spec):
    # noise adds incoherently in the squeeze: the bins' rule (right for tones) reads high
    y = np.random.default_rng(3).standard_normal(N_SSQ)
    tfr, exact = _exact_rms_db(y, spec, 8)
    fast = spectral_overview(y, spec, dx=1 / FS, width=8, M=4096)
    inner = (tfr.frequencies > 100) & (tfr.frequencies < 3500)
    d = np.median((fast - exact)[inner])
    assert 1.5 < d < 4.5                                          # measured 3.0, 2.8 dB


def test_ssq_row_power_filters_are_the_rows_bins():
    from phasebrush.core.engine.long_tfr import long_tfr

    M = 4096
    spec = TransformSpec(kind="ssq_stft", n_fft=64)
    F = row_power_filters(spec, N_SSQ, dx=1 / FS, M=M)
    grid = long_tfr(Signal(np.zeros(N_SSQ), dx=1 / FS), spec)
    assert F.shape == (grid.n_rows, M // 2 + 1) and F.dtype == np.float32
    # every bin belongs to the rows' bins once: the shares sum to (2 / w)^2
    w = grid.row_weights[0]
    np.testing.assert_allclose(F.sum(axis=0), (2 / w) ** 2, rtol=1e-5)
    # row 10's bin is 125 Hz wide around 1250 Hz: nothing of it outside
    k = np.arange(M // 2 + 1) * FS / M
    assert np.all(F[10][np.abs(k - 1250.0) > 62.5 + FS / M] == 0)
    assert np.all(F[10][np.abs(k - 1250.0) < 62.5 - FS / M] > 0)
    cwt = TransformSpec(kind="ssq_cwt", nv=8, fmin=50.0)
    Fc = row_power_filters(cwt, N_SSQ, dx=1 / FS, M=M, rows=[0, 5, 6])
    assert Fc.shape == (3, M // 2 + 1)
    # the edge row low-passes; wavelet rows 5 and 6 hold neighbouring bins, sharing one at most
    assert Fc[0, 1] > 0 and Fc[0, -1] == 0
    assert np.flatnonzero(Fc[2])[0] >= np.flatnonzero(Fc[1])[-1]
