"""classifier_image: the ordinary rows, ssqueezepy's row order, linear / dB, area resize."""

import numpy as np
import pytest

from phasebrush.core.analysis.classifier_image import classifier_image
from phasebrush.core.errors import ParameterError
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform


@pytest.fixture(scope="module")
def tfr():
    t = np.arange(2048) / 1000.0
    return transform(Signal(np.sin(2 * np.pi * 50 * t) + 0.3 * np.sin(2 * np.pi * 200 * t),
                            dx=1e-3), TransformSpec(nv=8))


def test_full_resolution_is_the_ordinary_rows_highest_first(tfr):
    img = classifier_image(tfr)
    inner = np.abs(tfr.coefficients[1:-1])
    assert tfr.edge_row_indices == (0, tfr.n_rows - 1)
    np.testing.assert_array_equal(img.values, inner[::-1].astype(np.float32))
    assert np.all(np.diff(img.row_frequencies[:, 0]) < 0)
    np.testing.assert_array_equal(img.source_rows[:, 0], np.arange(tfr.n_rows - 2, 0, -1))
    low = classifier_image(tfr, row_order="low-first")
    np.testing.assert_array_equal(low.values, img.values[::-1])


def test_db_has_a_floor_below_the_peak(tfr):
    img = classifier_image(tfr, scale="db", db_range=60.0)
    lin = classifier_image(tfr).values
    top = 20 * np.log10(lin.max())
    assert img.values.max() == pytest.approx(top, abs=1e-4)
    assert img.values.min() == pytest.approx(top - 60.0, abs=1e-4) == img.db_floor
    keep = 20 * np.log10(lin) > top - 60
    np.testing.assert_allclose(img.values[keep], 20 * np.log10(lin[keep]), atol=1e-4)


def test_resize_averages_areas_and_says_which_rows_each_pixel_covers(tfr):
    full = classifier_image(tfr).values
    h, w = full.shape
    img = classifier_image(tfr, size=(w // 4, h))      # columns only: 4-column means
    np.testing.assert_allclose(img.values, full.reshape(h, w // 4, 4).mean(axis=2), rtol=1e-5)
    small = classifier_image(tfr, size=(64, 10))
    assert small.values.shape == (10, 64) and small.row_frequencies.shape == (10, 2)
    assert np.all(small.row_frequencies[:, 0] <= small.row_frequencies[:, 1])
    assert small.source_rows[0, 1] == tfr.n_rows - 2 and small.source_rows[-1, 0] == 1


@pytest.mark.parametrize("kw", [{"scale": "log"}, {"row_order": "up"}, {"size": (0, 3)},
                                {"db_range": -1.0}])
def test_bad_options_are_refused(tfr, kw):
    with pytest.raises(ParameterError):
        classifier_image(tfr, **kw)
