"""app/grid.py: cells <-> display coordinates, and the STFT's log-frequency axis."""

from __future__ import annotations

import numpy as np
import pytest

from phasebrush.app.grid import ImageGrid
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform


def _stft(log: bool, n_fft: int = 256):
    t = np.arange(4096) / 4000.0
    sig = Signal(np.sin(2 * np.pi * 440.0 * t), dx=1 / 4000.0, unit="s")
    tfr = transform(sig, TransformSpec(kind="stft", n_fft=n_fft, hop=64))
    return tfr, ImageGrid.from_tfr(tfr, log_frequency=log)


def test_stft_grid_is_linear_unless_asked_and_cwt_is_always_log():
    tfr, g = _stft(False)
    assert not g.log_y and not g.rows_linear
    assert g.display_image(np.ones((g.n_rows, 3))).shape == (g.n_rows, 3)
    _, g = _stft(True)
    assert g.log_y and g.rows_linear
    sig = Signal(np.random.default_rng(0).standard_normal(512), dx=1e-3, unit="s")
    cwt = transform(sig, TransformSpec(kind="cwt", nv=8))
    for log in (False, True):
        gc = ImageGrid.from_tfr(cwt, log_frequency=log)
        assert gc.log_y and not gc.rows_linear     # its rows are log-spaced already


def test_log_stft_rows_sit_at_their_frequencies():
    tfr, g = _stft(True)
    f = np.asarray(tfr.frequencies)
    rows = np.arange(1, g.n_rows)
    # a row's centre is drawn at log10 of its frequency, and maps back to that row
    _, y = g.to_display(rows, np.zeros(rows.size))
    np.testing.assert_allclose(y, np.log10(f[1:]), rtol=0, atol=1e-12)
    r, _ = g.to_index(np.zeros(rows.size), np.log10(f[1:]))
    np.testing.assert_allclose(r, rows, atol=1e-9)
    # the cell under a frequency is the bin nearest to it
    for freq in (20.0, 440.0, 1234.0, 1990.0):
        y = float(g.freq_to_y(freq))
        assert g.cell_at(0.0, y)[0] == int(np.argmin(np.abs(f - freq)))
    x0, y0, w, h = g.rect()
    assert g.cell_at(0.0, y0 - 1e-3) is None and g.cell_at(0.0, y0 + h + 1e-3) is None
    assert y0 + h == pytest.approx(np.log10(f[-1] + 0.5 * (f[1] - f[0])))


def test_log_stft_display_keeps_every_peak_and_every_painted_cell():
    _, g = _stft(True, n_fft=512)
    n = g.display_rows(64)
    assert g.n_rows < n <= 4 * g.n_rows
    starts = g.display_row_starts(n)
    assert starts[0] == 0 and np.all(np.diff(starts) >= 0)   # the last drawn row covers to the top
    rng = np.random.default_rng(1)
    for r in (0, 1, 2, 50, g.n_rows - 2, g.n_rows - 1):
        img = rng.uniform(-80, -60, (g.n_rows, 64)).astype(np.float32)
        img[r, 7] = 5.0
        d = g.display_image(img)
        assert d.shape == (n, 64) and d.dtype == np.float32
        assert d[:, 7].max() == 5.0                    # the peak is on screen
        # ... in the drawn rows whose frequency span holds that bin
        hit = np.flatnonzero(d[:, 7] == 5.0)
        shown = [(starts[i], max(starts[i], starts[i + 1] - 1) if i + 1 < n else g.n_rows - 1)
                 for i in hit]
        assert all(a <= r <= b for a, b in shown)
        m = np.zeros((g.n_rows, 64), bool)
        m[r, 3] = True
        dm = g.display_image(m)
        assert dm.dtype == bool and dm[:, 3].any() and dm.sum() == dm[:, 3].sum()
    # a drawn row shows the maximum of exactly the bins it covers
    img = rng.standard_normal((g.n_rows, 5))
    d = g.display_image(img)
    for i in (0, n // 3, n - 1):
        b = max(starts[i], starts[i + 1] - 1) if i + 1 < n else g.n_rows - 1
        np.testing.assert_array_equal(d[i], img[starts[i]:b + 1].max(axis=0))


def test_log_stft_display_rows_stay_within_the_memory_cap():
    _, g = _stft(True, n_fft=1024)
    assert g.display_rows(10) == 4 * g.n_rows            # small: the top bin gets a row
    n = g.display_rows(1_000_000, max_bytes=64 << 20)
    assert n * 1_000_000 * 4 <= max(64 << 20, 4 * g.n_rows * 1_000_000)
    assert n >= g.n_rows


def test_local_row_scale_matches_the_map():
    _, g = _stft(True)
    for y in (1.5, 2.5, 3.2):
        eps = 1e-6
        r1, _ = g.to_index(0.0, y - eps)
        r2, _ = g.to_index(0.0, y + eps)
        assert float(g.rows_per_y(y)) == pytest.approx((r2 - r1) / (2 * eps), rel=1e-5)
    _, lin = _stft(False)
    assert float(lin.rows_per_y(100.0)) == pytest.approx(1.0 / lin.dy_row)
