"""Tests for core.analysis.attribution: heatmap -> soft mask -> inversion, attribution curve."""

import numpy as np
import pytest

from phasebrush.core.analysis.attribution import attribution_curve, heatmap_to_mask, threshold_mask
from phasebrush.core.analysis.heatmap import load_heatmap
from phasebrush.core.errors import ParameterError, ShapeError
from phasebrush.core.signal import Signal
from phasebrush.core.tf.inversion import invert
from phasebrush.core.tf.masks import fill_polygon, fill_rectangle, inner_rows
from phasebrush.core.tf.transforms import TransformSpec, transform

RATE = 1000.0


@pytest.fixture(scope="module")
def tfr():
    n = 1024
    t = np.arange(n) / RATE
    y = np.sin(2 * np.pi * 40 * t) + np.sin(2 * np.pi * 200 * t)
    return transform(Signal(y, dx=1 / RATE), TransformSpec(kind="cwt", nv=16))


def _hand_rectangle(tfr, frac_rows, frac_cols):
    """The cells whose centres lie inside fractions of the image (rows of the non-edge part).

    Built from the grid geometry alone: the heatmap spans rows a-1/2 .. b-1/2 and
    columns -1/2 .. n-1/2, so a fraction q of it is at a - 1/2 + q (b - a).
    """
    a, b = inner_rows(tfr)
    r_lo = a - 0.5 + frac_rows[0] * (b - a)
    r_hi = a - 0.5 + frac_rows[1] * (b - a)
    c_lo = -0.5 + frac_cols[0] * tfr.n_frames
    c_hi = -0.5 + frac_cols[1] * tfr.n_frames
    for v in (r_lo, r_hi, c_lo, c_hi):  # no cell centre on the boundary: no ties
        assert abs(v - round(v)) > 1e-3
    mask = np.zeros(tfr.shape, dtype=bool)
    return fill_rectangle(mask, np.ceil(r_lo), np.floor(r_hi), np.ceil(c_lo), np.floor(c_hi))


def test_heatmap_of_other_shape_inverts_like_hand_painted_mask(tmp_path, tfr):
    # A lasso painted by hand on the transform's grid, over the 200 Hz tone.
    a, b = inner_rows(tfr)
    r200 = int(np.argmin(np.abs(tfr.frequencies - 200)))
    hand = fill_polygon(np.zeros(tfr.shape, bool),
                        [(r200 - 9, 300), (r200 + 7, 340), (r200 + 10, 700), (r200 - 6, 650)])
    assert hand.sum() > 1000 and not hand[:a].any() and not hand[b:].any()
    # The same picture as a saliency map of another shape (each cell -> 2 x 3 pixels,
    # as an image pipeline would upscale it), saved the image way up, unnormalised.
    heat = np.repeat(np.repeat(hand[a:b].astype(float), 2, axis=0), 3, axis=1)
    np.save(tmp_path / "gradcam.npy", 7.0 * heat[::-1])
    loaded = load_heatmap(tmp_path / "gradcam.npy")
    assert loaded.shape == (2 * (b - a), 3 * tfr.n_frames)

    soft = heatmap_to_mask(loaded, tfr)
    assert soft.shape == tfr.shape and soft.min() >= 0 and soft.max() <= 1
    binary = threshold_mask(soft, 0.5)
    np.testing.assert_array_equal(binary, hand)
    np.testing.assert_array_equal(invert(tfr, binary), invert(tfr, hand))

    # What the inversion shows: the 200 Hz tone where the lasso is, ~nothing elsewhere.
    band = invert(tfr, binary)
    mid = slice(400, 600)
    tone = np.sin(2 * np.pi * 200 * np.arange(tfr.n_samples) / RATE)
    assert np.corrcoef(band[mid], tone[mid])[0, 1] > 0.9
    far = np.r_[0:200, 850:tfr.n_samples]
    assert np.sqrt(np.mean(band[far] ** 2)) < 0.1 * np.sqrt(np.mean(band[mid] ** 2))


def test_coarser_heatmap_block_maps_to_the_same_rectangle(tfr):
    # Half the rows and columns of the grid: a pixel block thresholds at its pixel edges.
    a, b = inner_rows(tfr)
    assert (b - a) % 2 == 0 and tfr.n_frames % 2 == 0
    h, w = (b - a) // 2, tfr.n_frames // 2
    i0, i1, j0, j1 = h // 2, h // 2 + 9, w // 4, w // 2
    heat = np.zeros((h, w))
    heat[i0:i1, j0:j1] = 1.0
    binary = threshold_mask(heatmap_to_mask(heat, tfr), 0.5)
    hand = _hand_rectangle(tfr, (i0 / h, i1 / h), (j0 / w, j1 / w))
    np.testing.assert_array_equal(binary, hand)


def test_odd_shaped_block_differs_from_rectangle_only_at_corners(tfr):
    # Bilinear is separable: at a corner the weight is a product of two fractions,
    # so a thresholded block has slightly rounded corners and is exact elsewhere.
    h, w = 37, 53
    i0, i1, j0, j1 = 24, 31, 15, 34
    heat = np.zeros((h, w))
    heat[i0:i1, j0:j1] = 1.0
    binary = threshold_mask(heatmap_to_mask(heat, tfr), 0.5)
    hand = _hand_rectangle(tfr, (i0 / h, i1 / h), (j0 / w, j1 / w))
    assert not (binary & ~hand).any()
    rows, cols = np.flatnonzero(hand.any(axis=1)), np.flatnonzero(hand.any(axis=0))
    for r, c in np.argwhere(hand & ~binary):
        assert min(r - rows[0], rows[-1] - r) <= 2 and min(c - cols[0], cols[-1] - c) <= 20
    assert (hand & ~binary).sum() < 0.01 * hand.sum()


def test_soft_mask_inverse_is_weighted_sum_of_coefficients(tfr):
    rng = np.random.default_rng(1)
    soft = heatmap_to_mask(rng.random((9, 12)), tfr)
    expected = np.einsum("r,rt,rt->t", tfr.row_weights, soft.astype(np.float64),
                         tfr.coefficients.real)
    np.testing.assert_allclose(invert(tfr, soft), expected, rtol=1e-10, atol=1e-12)


def test_edge_rows_get_no_weight(tfr):
    soft = heatmap_to_mask(np.ones((4, 4)), tfr)
    a, b = inner_rows(tfr)
    assert a > 0 and b < tfr.n_rows
    assert not soft[:a].any() and not soft[b:].any() and np.all(soft[a:b] == 1)


def test_ranges_place_the_heatmap(tfr):
    soft = heatmap_to_mask(np.ones((5, 5)), tfr, time_range=(0.2, 0.6),
                           freq_range=(100.0, 300.0))
    f, t = tfr.frequencies, tfr.times
    inside = np.outer((f > 105) & (f < 290), (t > 0.21) & (t < 0.59))
    outside = np.outer((f < 95) | (f > 310), np.ones(t.size, bool)) | np.outer(
        np.ones(f.size, bool), (t < 0.19) | (t > 0.61))
    assert np.all(soft[inside] == 1)
    assert not soft[outside].any()


def test_bilinear_resampling_is_smooth_and_exact_on_a_ramp(tfr):
    a, b = inner_rows(tfr)
    ramp = np.tile(np.linspace(0, 1, 11)[:, None], (1, 3))
    soft = heatmap_to_mask(ramp, tfr)[a:b, 0]
    # Pixel centres at (i + 1/2) / 11 of the span; linear between them, flat beyond.
    q = (np.arange(b - a) + 0.5) / (b - a)
    expected = np.clip((q * 11 - 0.5) / 10, 0, 1)
    np.testing.assert_allclose(soft, expected, atol=1e-6)


def test_bad_heatmaps(tfr):
    with pytest.raises(ShapeError):
        heatmap_to_mask(np.ones(5), tfr)
    with pytest.raises(ParameterError, match="not \\[0, 1\\]"):
        heatmap_to_mask(np.full((3, 3), 2.0), tfr)
    with pytest.raises(ParameterError, match="freq_range"):
        heatmap_to_mask(np.ones((3, 3)), tfr, freq_range=(300, 100))
    with pytest.raises(ParameterError):
        threshold_mask(np.ones((3, 3)), 0.0)


def test_attribution_curve_peaks_where_band_energy_is():
    n = 2000
    x = np.zeros(n)
    x[800:1200] = np.sin(np.arange(400) * 0.5)
    curve = attribution_curve(x, smooth_samples=25)
    assert curve.shape == (n,) and curve.min() >= 0 and curve.max() == pytest.approx(1.0)
    assert curve[900:1100].min() > 0.5 and curve[:700].max() < 1e-12 and curve[1300:].max() < 1e-12
    assert not attribution_curve(np.zeros(10), smooth_samples=3).any()
    np.testing.assert_allclose(attribution_curve(np.array([1.0, -2.0]), smooth_samples=1),
                               [0.5, 1.0])
    with pytest.raises(ParameterError):
        attribution_curve(x, smooth_samples=0)
