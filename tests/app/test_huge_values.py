"""Huge finite samples (issue 9): the dB image and the colour-bar levels come from finite
values only, so pyqtgraph never gets "Not setting range to [nan, nan]"."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from phasebrush.app.coherence_view import energy_opacity
from phasebrush.app.document import db_ceiling, db_image
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec
from tests.app.conftest import deliver_posted_events


def huge_tone(n: int = 2048, peak: float = 1e300) -> Signal:
    t = np.arange(n) / 1024.0
    return Signal(peak * np.sin(2 * np.pi * 50.0 * t), dx=1 / 1024.0, unit="s", name="huge")


def test_db_image_of_magnitudes_beyond_float32_is_finite():
    C = np.array([[1e300, 1e-3, 0.0], [np.nan, np.inf, 1.0 + 1e200j]], dtype=complex)
    img = db_image(SimpleNamespace(coefficients=C))
    assert img.dtype == np.float32 and np.all(np.isfinite(img))
    assert img[0, 0] == pytest.approx(6000.0) and img[0, 1] == pytest.approx(-60.0)
    assert img[0, 2] == img[1, 0] == -300.0          # zero and nan: the floor
    assert img[1, 1] == img.max() == img[0, 0]        # +inf: the largest finite value
    assert img[1, 2] == pytest.approx(4000.0)


def test_db_ceiling_ignores_non_finite_cells():
    img = np.array([[np.nan, np.inf, -np.inf], [10.0, 20.0, 30.0]])
    assert db_ceiling(img, 100.0) == 30.0
    assert db_ceiling(np.full((2, 2), np.nan)) == 0.0


def test_energy_opacity_of_huge_coefficients():
    C = np.array([[1e300, 1e299], [1e200, 0.0]], dtype=complex)
    op = energy_opacity(SimpleNamespace(coefficients=C))
    assert np.all(np.isfinite(op)) and op[0, 0] == 1.0 and op[1, 1] == 0.0


@pytest.mark.parametrize("spec", [TransformSpec(kind="cwt", nv=16),
                                  TransformSpec(kind="stft", n_fft=256)], ids=["cwt", "stft"])
def test_a_signal_of_huge_values_gets_finite_levels(qtbot, window, spec):
    doc, view = window.doc, window.tfr_view
    with qtbot.capture_exceptions() as caught:
        with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
            doc.set_signal(huge_tone(), spec)
        deliver_posted_events()   # the colour bar redraws on the next event-loop pass
    assert not caught, caught[0][1] if caught else ""
    lo, hi = view.levels()
    assert np.isfinite(lo) and np.isfinite(hi) and hi - lo == 80.0
    img = doc.image_db
    assert np.all(np.isfinite(img))
    # The ceiling sits at the strongest cells (above 5000 dB here), not at a floor.
    assert hi >= db_ceiling(img) > 5000.0
    panel = window.transform_panel
    assert (panel.floor.value(), panel.ceiling.value()) == (lo, hi)   # not clipped
