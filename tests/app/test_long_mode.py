"""The document and the view on a long recording: no rows x samples held, the overview
grows, details come for the visible columns, and the selection's inverse - bands,
strokes, rectangles, lassos - equals core's whole-signal inverse.

The recordings here are short (5 s at 8 kHz) so that core's whole transform can be
the reference; ``long_above_bytes = 0`` makes the document treat them as long.
"""

from __future__ import annotations

import numpy as np
import pytest

from phasebrush.app.long_inverse import edge_diff_span, merge_spans
from phasebrush.core.engine.display import display_source
from phasebrush.core.engine.long_tfr import LongTFR, needs_long_mode
from phasebrush.core.engine.tiled_mask import TiledMask
from phasebrush.core.signal import Signal
from phasebrush.core.tf import masks as cmasks
from phasebrush.core.tf.bands import Band, band_ranges
from phasebrush.core.tf.inversion import RangeInverter, invert_with_residual
from phasebrush.core.tf.transforms import TransformSpec, transform
from tests.app.conftest import open_long_window

FS = 8000.0
N = 40_000
SPEC = TransformSpec(kind="cwt", nv=8, fmin=100.0)


def recording() -> Signal:
    rng = np.random.default_rng(3)
    t = np.arange(N) / FS
    y = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 1500 * t) * (t > 2.0)
         + 0.01 * rng.standard_normal(N))
    y[N // 3] += 2.0   # a click: every row lights up at one column
    return Signal(y, dx=1 / FS, unit="s", name="long test")


@pytest.fixture(scope="module")
def reference():
    sig = recording()
    return sig, transform(sig, SPEC)


@pytest.fixture
def long_window(qtbot, settings):
    win = open_long_window(qtbot, settings, recording(), SPEC)
    yield win
    win.close()


def settle(qtbot, doc):
    qtbot.waitUntil(lambda: not doc.long_inverse.pending, timeout=120_000)


def band_edges(t0=0.5, t1=4.5):
    return [(t0, 700.0), (2.5, 900.0), (t1, 700.0)], [(t0, 300.0), (2.5, 250.0), (t1, 300.0)]


def peak_image_db(tfr, det):
    """The brute-force image of a detail's columns: each pixel's peak |C| in dB, and the
    cells within 60 dB of the image's peak."""
    mag = np.abs(tfr.coefficients[:, det.c0:det.c1])
    edges = (np.arange(det.width + 1) * (det.c1 - det.c0)) // det.width
    ref = np.stack([mag[:, a:b].max(axis=1)
                    for a, b in zip(edges[:-1], edges[1:], strict=True)], axis=1)
    ref_db = 20 * np.log10(np.maximum(ref, 1e-30))
    return ref_db, ref_db > ref_db.max() - 60


def close(a, b, tol=1e-9):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)) < tol


def test_long_document_holds_the_grid_not_the_coefficients(long_window, reference):
    doc = long_window.doc
    sig, tfr = reference
    assert doc.is_long and isinstance(doc.tfr, LongTFR)
    assert not hasattr(doc.tfr, "coefficients")
    assert doc.tfr.shape == tfr.shape
    np.testing.assert_allclose(doc.tfr.frequencies, tfr.frequencies, rtol=1e-12)
    np.testing.assert_allclose(doc.tfr.column_times(10, 13), tfr.times[10:13])
    assert doc.image_db.shape[0] == tfr.n_rows and np.isfinite(doc.image_db).all()


def test_overview_is_close_to_the_exact_rms_image(long_window, reference):
    doc = long_window.doc
    sig, tfr = reference
    width = doc.image_db.shape[1]
    exact = display_source(sig.y, SPEC, dx=sig.dx).image(0, N, width=width, mode="rms")
    strong = exact > exact.max() - 40
    # frame spectra smooth over ~2 s here, so the click column is blurred: a median
    assert np.median(np.abs(doc.image_db - exact)[strong]) < 1.5


def test_overview_arrives_in_parts(qtbot, settings):
    from phasebrush.app.document import DocumentModel

    doc = DocumentModel()
    doc.long_above_bytes = 0
    parts = []
    doc.overview_progressed.connect(parts.append)
    with qtbot.waitSignal(doc.busy_changed, timeout=120_000, check_params_cb=lambda b: not b):
        doc.set_signal(recording(), SPEC)
    assert parts[-1] == 1.0 and parts == sorted(parts) and len(parts) >= 2
    doc.shutdown()


def test_zoom_gets_the_exact_detail_of_the_visible_columns(qtbot, long_window, reference):
    from PySide6.QtCore import QRectF

    win, (sig, tfr) = long_window, reference
    view, doc = win.tfr_view, win.doc
    x, y, w, h = view.grid.rect()
    with qtbot.waitSignal(doc.detail_ready, timeout=60_000) as got:
        view.vb.setRange(QRectF(1.0, y, 0.5, h), padding=0)
    det = got.args[0]
    assert det.c0 <= int(1.0 * FS) and det.c1 >= int(1.5 * FS)
    ref_db, strong = peak_image_db(tfr, det)
    # the engine reduces each row's samples at its own rate (core.engine.pyramid): the
    # exact display source's image, within a fraction of a dB of every column's peak
    exact = display_source(sig.y, SPEC, dx=sig.dx).image(det.c0, det.c1, width=det.width)
    np.testing.assert_allclose(det.image, exact, atol=1e-4)
    assert np.median(np.abs(det.image - ref_db)[strong]) < 0.5
    assert view.long.detail.isVisible()


def test_a_zoom_computes_its_tiles_middle_first_and_shows_each(qtbot, monkeypatch):
    import phasebrush.app.document as D

    monkeypatch.setattr(D, "DETAIL_TILE", 4096)
    doc = D.DocumentModel()
    doc.long_above_bytes = 0
    with qtbot.waitSignal(doc.busy_changed, timeout=120_000, check_params_cb=lambda b: not b):
        doc.set_signal(recording(), SPEC)
    qtbot.waitUntil(lambda: doc._detail_worker is None, timeout=60_000)   # the warm-up
    assert doc.source.exact.tile_length == 4096
    c0 = 2 * 4096
    assert doc.source.exact.missing(c0, c0 + 5 * 4096) == [2, 3, 4, 5, 6]
    steps = []
    doc.detail_progressed.connect(steps.append)
    with qtbot.waitSignal(doc.detail_ready, timeout=60_000) as got:
        doc.request_detail(c0, c0 + 5 * 4096, 500)    # 40.96 columns a pixel
    final = got.args[0]
    assert final.complete and (final.c0, final.c1) == (c0, c0 + 5 * 4096)
    assert np.isfinite(final.image).all()
    assert len(steps) == 4 and not any(s.complete for s in steps)
    have = [np.isfinite(s.image).all(axis=0) for s in steps]
    # tile 4 (pixels 200..299) first, then its neighbours, the ends last
    assert have[0][200:300].all() and not have[0][:190].any() and not have[0][310:].any()
    assert have[2][100:400].all() and not have[2][:90].any()
    assert [h.sum() for h in have] == sorted(h.sum() for h in have)
    for s, h in zip(steps, have, strict=True):
        # low rows sample a pixel next to a tile's edge in the next tile: a step shows
        # those from the tiles it has, so only the pixels a few away from holes are final
        inner = h.copy()
        for k in range(1, 4):
            inner &= np.roll(h, k) & np.roll(h, -k)
        np.testing.assert_array_equal(s.image[:, inner], final.image[:, inner])
    doc.shutdown()


def test_a_partial_detail_shows_the_overview_in_its_holes(long_window):
    from phasebrush.app.document import DetailImage

    win = long_window
    doc, long = win.doc, win.tfr_view.long
    img = doc.source.exact.image(0, N, width=400)
    img[:, 100:300] = np.nan
    doc.detail_progressed.emit(DetailImage(doc.key, 0, N, 400, img, False))
    shown = long.detail.image
    assert long.detail.isVisible() and np.isfinite(shown).all()
    np.testing.assert_array_equal(shown[:, :100], img[:, :100])
    ov = doc.image_db
    centre = int((200.5 * N / 400) * ov.shape[1] / N)
    np.testing.assert_array_equal(shown[:, 200], ov[:, centre])


def test_band_inverse_equals_the_whole_signal_path(qtbot, long_window, reference):
    doc = long_window.doc
    sig, tfr = reference
    upper, lower = band_edges()
    doc.layers.add_band(upper, lower)
    settle(qtbot, doc)
    s, e = band_ranges(Band(np.array(upper), np.array(lower)), tfr)
    band, res = RangeInverter(tfr).band_and_residual(s, e)
    assert close(doc.inversion, band) and close(doc.residual, res)
    assert np.abs(doc.inversion).max() > 0.1   # the 440 Hz tone is inside
    # a handle drag moves the band: the inverse follows the new edges
    up2 = [(0.5, 1800.0), (2.5, 1800.0), (4.5, 1800.0)]
    doc.layers.set_band_edges(0, up2, lower)
    settle(qtbot, doc)
    s, e = band_ranges(Band(np.array(up2), np.array(lower)), tfr)
    band, res = RangeInverter(tfr).band_and_residual(s, e)
    assert close(doc.inversion, band) and close(doc.residual, res)


def test_100_strokes_rectangles_lassos_and_undos_equal_the_dense_inverse(qtbot, long_window,
                                                                    reference):
    doc = long_window.doc
    sig, tfr = reference
    L = doc.layers
    upper, lower = band_edges(1.0, 3.0)
    L.add_band(upper, lower)
    rng = np.random.default_rng(11)
    n_rows = tfr.n_rows
    for _ in range(100):
        what = rng.integers(4)
        if what == 0:
            L.begin_stroke(erase=bool(rng.integers(3) == 0), radius_rows=2.0, radius_cols=150.0)
            c = rng.uniform(0, N)
            for k in range(5):
                L.extend_stroke(rng.uniform(0, n_rows), c + 900 * k)   # across block edges
            L.end_stroke()
        elif what == 1:
            r0, c0 = rng.uniform(0, n_rows), rng.uniform(0, N)
            L.edit_shape(["add", "subtract"][rng.integers(2)], "rect",
                         (r0, r0 + 6, c0, c0 + 3000), text="Rectangle")
        elif what == 2:
            cx, cy = rng.uniform(0, N), rng.uniform(5, n_rows - 5)
            poly = [(cy - 4, cx - 2000), (cy + 5, cx), (cy - 3, cx + 2500)]
            L.edit_shape("add", "polygon", poly, text="Lasso")
        else:
            L.undo_stack.undo()
    settle(qtbot, doc)
    dense = np.zeros(tfr.shape, bool)
    for lay in L.visible_layers():
        if lay.is_band:
            s, e = band_ranges(lay.band(), tfr)
            dense |= cmasks.ranges_to_mask(s, e, n_rows)
        else:
            assert isinstance(lay.mask, TiledMask)
            dense |= lay.mask.to_dense()
    assert dense.any()
    band, res = invert_with_residual(tfr, dense)
    assert close(doc.inversion, band) and close(doc.residual, res)


def test_a_stroke_updates_the_visible_inverse_live(qtbot, long_window, reference):
    from PySide6.QtCore import QRectF

    win, (_, tfr) = long_window, reference
    doc, view = win.doc, win.tfr_view
    x, y, w, h = view.grid.rect()
    view.vb.setRange(QRectF(2.0, y, 0.5, h), padding=0)
    win.signal_view.plot.getViewBox().setXRange(2.0, 2.5, padding=0)
    live = []
    doc.inversion_changed.connect(lambda: live.append(doc.inversion_cols))
    L = doc.layers
    L.begin_stroke(erase=False, radius_rows=3.0, radius_cols=100.0)
    row = float(np.searchsorted(tfr.frequencies, 1500.0))
    for k in range(6):
        L.extend_stroke(row, 2.1 * FS + 300 * k)
        qtbot.waitUntil(lambda: bool(live) and live[-1] is not None, timeout=5_000)
    assert L.live
    L.end_stroke()
    settle(qtbot, doc)
    assert live[-1] is None   # the last update is the whole recording's
    band, res = invert_with_residual(tfr, L[0].mask.to_dense())
    assert close(doc.inversion, band) and np.abs(doc.inversion).max() > 0.05


def test_a_stroke_allocates_only_its_tiles(long_window):
    L = long_window.doc.layers
    L.begin_stroke(erase=False, radius_rows=2.0, radius_cols=50.0)
    L.extend_stroke(10.0, 100.0)
    L.extend_stroke(12.0, 400.0)
    L.end_stroke()
    m = L[0].mask
    assert isinstance(m, TiledMask) and m.n_tiles == 1 and m.count() > 0


def test_a_new_file_drops_the_running_inversion(qtbot, long_window):
    from phasebrush.core.signal import Signal

    doc = long_window.doc
    upper, lower = band_edges()
    doc.layers.add_band(upper, lower)
    assert doc.long_inverse.pending
    y = np.sin(np.arange(5000) / 7.0)
    with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
        doc.set_signal(Signal(y, dx=1 / FS, unit="s", name="other"))
    qtbot.waitUntil(lambda: not doc.workers(), timeout=60_000)
    assert doc.inversion is None and len(doc.layers) == 0


def test_whole_selection_operations_say_why_they_are_missing(long_window):
    L = long_window.doc.layers
    notes = []
    L.noted.connect(notes.append)
    upper, lower = band_edges()
    L.add_band(upper, lower)
    L.invert_selection()
    assert notes and "not available" in notes[-1]
    with pytest.raises(ValueError, match="not held as one mask"):
        L.selection_mask()


def test_long_mode_threshold_and_audio_fmin():
    from phasebrush.core.engine.long_tfr import long_spec

    assert not needs_long_mode(65_536, TransformSpec(), 1 / 16000)        # the demos
    assert needs_long_mode(44_100 * 600, TransformSpec(), 1 / 44100)      # 10 minutes
    # the synchrosqueezed kinds go long too, and earlier (their whole path holds three
    # transforms): the 4-s speech demo's SSQ-CWT does, its plain CWT does not
    assert needs_long_mode(44_100 * 600, TransformSpec(kind="ssq_cwt"), 1 / 44100)
    assert needs_long_mode(64_000, TransformSpec(kind="ssq_cwt", fmin=20.0), 1 / 16000)
    assert not needs_long_mode(64_000, TransformSpec(kind="cwt", fmin=20.0), 1 / 16000)
    # a hop > 1 STFT has no block-wise path: never long
    assert not needs_long_mode(44_100 * 600, TransformSpec(kind="stft", hop=64), 1 / 44100)
    assert long_spec(TransformSpec(), "s", 1 / 44100).fmin == 20.0
    assert long_spec(TransformSpec(), "cm^-1", 1.0).fmin is None
    assert long_spec(TransformSpec(fmin=5.0), "s", 1 / 44100).fmin == 5.0


def test_dirty_spans():
    assert merge_spans([(5, 9), (0, 3), (3, 4), (8, 12)]) == [(0, 4), (5, 12)]
    a = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 1.0]])
    b = a.copy()
    assert edge_diff_span(a, b) is None
    b[1, 1] = 5.0
    assert edge_diff_span(a, b) == (0.0, 2.0)
    c = np.array([[0.0, 1.0], [1.0, 2.0], [3.0, 1.0]])   # the last vertex moved later
    lo, hi = edge_diff_span(a, c)
    assert lo == 1.0 and hi == 3.0


def test_session_keeps_a_long_recordings_masks_as_runs(qtbot, long_window, tmp_path):
    import soundfile as sf

    from phasebrush.app import session_io as sio
    from phasebrush.core.io.session import load_session

    win = long_window
    doc = win.doc
    wav = tmp_path / "long.wav"
    sf.write(wav, recording().y, int(FS), subtype="FLOAT")
    with qtbot.waitSignal(doc.busy_changed, timeout=120_000, check_params_cb=lambda b: not b):
        assert win.open_path(str(wav), ask=False)
    L = doc.layers
    upper, lower = band_edges()
    L.add_band(upper, lower)
    L.begin_stroke(erase=False, radius_rows=3.0, radius_cols=80.0)
    for k in range(4):
        L.extend_stroke(20.0 + k, 9000.0 + 700 * k)
    L.end_stroke()
    painted = L[1].mask.to_dense()
    path = tmp_path / "work.pbsession"
    assert sio.save_session_to(win, doc, path, state=win.session)
    saved = load_session(path)
    (m,) = saved.masks.values()
    assert isinstance(m, TiledMask) and np.array_equal(m.to_dense(), painted)
    assert len(saved.bands) == 1
    # open it again: the mask comes back on the long grid
    L.clear()
    assert win.open_session(path)
    qtbot.waitUntil(lambda: len(doc.layers) == 2, timeout=120_000)
    lay = [x for x in doc.layers if not x.is_band][0]
    assert isinstance(lay.mask, TiledMask) and np.array_equal(lay.mask.to_dense(), painted)


def test_grid_wide_features_are_refused_with_the_reason(long_window):
    win = long_window
    upper, lower = band_edges()
    win.doc.layers.add_band(upper, lower)
    assert win.export_mask(path="/nonexistent/never-written.npz") is None
    assert "block by block" in win.last_error
    assert win.propose_ridge_bands() == 0 and "Ridge tracking" in win.last_error
    assert win.import_heatmap_mask() is False and "heatmap" in win.last_error


def test_retrieval_runs_on_the_visible_range_with_its_estimate(qtbot, long_window):
    from PySide6.QtCore import QRectF

    from phasebrush.app.document import RangeRetrieval, RetrievalParams

    win = long_window
    doc, view = win.doc, win.tfr_view
    x, y, w, h = view.grid.rect()
    view.vb.setRange(QRectF(1.0, y, 0.25, h), padding=0)
    doc.set_view_range(1.0, 1.25)
    notes = []
    doc.noted.connect(notes.append)
    with qtbot.waitSignal(doc.retrieval_ended, timeout=300_000):
        assert doc.start_retrieval(RetrievalParams(n_iter=5, device="cpu",
                                                   spec=TransformSpec(kind="stft", n_fft=128,
                                                                      hop=32)))
    assert notes and "of memory" in notes[-1]
    res = doc.retrieval
    assert isinstance(res, RangeRetrieval)
    c0, c1 = res.c0, res.c1
    assert c0 <= int(1.0 * FS) and int(1.25 * FS) <= c1 < N // 2
    yb = doc.retrieval_y()
    assert yb.shape == (N,) and not yb[:c0].any() and not yb[c1:].any() and yb[c0:c1].any()
    assert "sc_db" in doc.retrieval_metrics


def test_retrieval_of_too_much_is_refused_with_the_estimate(long_window):
    from phasebrush.app.document import RetrievalParams
    from phasebrush.core import memory

    doc = long_window.doc
    msgs = []
    doc.failed.connect(msgs.append)
    memory.set_budget("1M")
    try:
        assert not doc.start_retrieval(RetrievalParams())
    finally:
        memory.set_budget(None)
    assert "needs about" in msgs[-1] and "zoom in" in msgs[-1]
    assert not doc.retrieval_running


def test_a_whole_transform_over_the_budget_is_refused_before_computing(qtbot, settings):
    from phasebrush.app.document import DocumentModel
    from phasebrush.core import memory

    doc = DocumentModel()
    msgs = []
    doc.failed.connect(msgs.append)
    memory.set_budget("16M")
    try:
        # a hop > 1 STFT has no block-wise path: the whole path, refused up front
        doc.set_signal(recording(), TransformSpec(kind="stft", n_fft=256, hop=4))
    finally:
        memory.set_budget(None)
    assert not doc.busy and doc.tfr is None and not doc.workers()
    assert "needs about" in msgs[-1] and "block by block" in msgs[-1]
    doc.shutdown()


@pytest.mark.parametrize("spec", [TransformSpec(kind="ssq_cwt", nv=8, fmin=100.0),
                                  TransformSpec(kind="ssq_stft", n_fft=256)],
                         ids=["ssq_cwt", "ssq_stft"])
def test_a_synchrosqueezed_long_recording_shows_paints_and_inverts_like_the_whole_path(
        qtbot, settings, spec):
    from PySide6.QtCore import QRectF

    sig = recording()
    tfr = transform(sig, spec)
    win = open_long_window(qtbot, settings, sig, spec)
    doc = win.doc
    assert doc.tfr.shape == tfr.shape
    np.testing.assert_allclose(doc.tfr.frequencies, tfr.frequencies, rtol=1e-12)
    # the zoomed detail is the exact squeezed magnitude, pixel by pixel
    view = win.tfr_view
    x, y, w, h = view.grid.rect()
    with qtbot.waitSignal(doc.detail_ready, timeout=120_000) as got:
        view.vb.setRange(QRectF(2.0, y, 0.3, h), padding=0)
    det = got.args[0]
    ref_db, strong = peak_image_db(tfr, det)
    assert np.abs(det.image - ref_db)[strong].max() < 1e-3
    # a band and a painted rectangle: the inverse equals the whole path's to 1e-9
    upper, lower = band_edges()
    doc.layers.add_band(upper, lower)
    R, C = doc.tfr.shape
    doc.layers.edit_shape("add", "rect", (0.6 * R, 0.8 * R, 0.55 * C, 0.7 * C), text="Rect")
    settle(qtbot, doc)
    mask = doc.layers.selection_block(0, C)
    band, res = invert_with_residual(tfr, mask)
    assert np.abs(band).max() > 0.05
    assert close(doc.inversion, band) and close(doc.residual, res)
    win.close()


def test_a_long_stft_on_a_log_frequency_axis_draws_overview_detail_and_layers(qtbot, settings):
    from PySide6.QtCore import QRectF

    win = open_long_window(qtbot, settings, recording(), TransformSpec(kind="stft", n_fft=256))
    doc, view = win.doc, win.tfr_view
    upper, lower = band_edges()
    doc.layers.add_band(upper, lower)
    settle(qtbot, doc)
    win.log_freq_action.setChecked(True)
    g = view.grid
    assert g.rows_linear and g.n_rows == doc.tfr.n_rows
    ov = view.image.image
    assert ov.shape[0] == g.display_rows(ov.shape[1]) > g.n_rows
    x, y, w, h = g.rect()
    with qtbot.waitSignal(doc.detail_ready, timeout=120_000,
                          check_params_cb=lambda d: d.complete) as got:
        view.vb.setRange(QRectF(2.0, y, 0.3, h), padding=0)
    det = got.args[0]
    shown = view.long.detail.image
    assert det.image.shape[0] == g.n_rows
    assert shown.shape == (g.display_rows(det.image.shape[1]), det.image.shape[1])
    # every drawn row is the strongest of the bins it covers
    starts = g.display_row_starts(shown.shape[0])
    i = shown.shape[0] // 2
    b = max(starts[i], starts[i + 1] - 1)
    np.testing.assert_allclose(shown[i], np.nanmax(det.image[starts[i]:b + 1], axis=0),
                               atol=1e-4)
    band_item = view._overlays[0].image
    assert band_item.shape[0] == g.display_rows(band_item.shape[1])
    win.close()


def test_a_stroke_redraws_only_its_groups_yet_the_drawing_equals_a_fresh_one(
        qtbot, long_window, monkeypatch):
    from PySide6.QtCore import QRectF

    win = long_window
    doc, view, L = win.doc, win.tfr_view, win.doc.layers
    x, y, w, h = view.grid.rect()
    view.vb.setRange(QRectF(1.0, y, 2.0, h), padding=0)
    view.long.refresh()
    row = 0.5 * doc.tfr.n_rows

    def stroke(c0):
        L.begin_stroke(erase=False, radius_rows=2.0, radius_cols=40.0)
        for k in range(12):
            L.extend_stroke(row + k, c0 + 700 * k)
        L.end_stroke()

    stroke(1.2 * FS)
    i = L.active_index
    first = view._overlays[i].image.copy()
    widths = []
    real = TiledMask.pooled
    monkeypatch.setattr(TiledMask, "pooled",
                        lambda self, k, c0=0, c1=None: widths.append(c1 - c0) or
                        real(self, k, c0, c1))
    stroke(1.5 * FS)
    v0, v1, _ = view.long.visible_columns()
    assert widths and max(widths) < (v1 - v0) / 4      # the groups a move touched, not all
    drawn = view._overlays[i].image.copy()
    assert drawn.sum() > first.sum()
    view.long._pooled.clear()                          # a drawing from scratch
    view.long.draw_overlay(i, view._overlays[i], L[i])
    np.testing.assert_array_equal(view._overlays[i].image, drawn)
    L.undo_stack.undo()                                # the second stroke's cells go
    np.testing.assert_array_equal(view._overlays[i].image, first)


def test_the_overview_is_not_drawn_under_a_detail_that_covers_the_view(qtbot, long_window):
    from PySide6.QtCore import QRectF

    win = long_window
    doc, view = win.doc, win.tfr_view
    x, y, w, h = view.grid.rect()
    assert view.image.isVisible()
    with qtbot.waitSignal(doc.detail_ready, timeout=120_000):
        view.vb.setRange(QRectF(2.0, y, 0.5, h), padding=0)
    qtbot.waitUntil(lambda: not view.image.isVisible(), timeout=10_000)
    a, b = view.long._detail_cols
    # a pan past the detail's columns shows the overview at once, before any new tile
    view.vb.setRange(QRectF(x + (b + 2000) * view.grid.dx_col, y, 0.5, h), padding=0)
    assert view.image.isVisible()
    view.vb.setRange(QRectF(x, y, w, h), padding=0)
    assert view.image.isVisible()
