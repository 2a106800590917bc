"""Phase retrieval from the panel: live progress, cancel, errors, closing mid-run."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

LEFT = Qt.MouseButton.LeftButton


def _setup(panel, *, n_iter, method="auto"):
    panel.n_iter.setValue(n_iter)
    panel.tol.setText("")
    panel.device.setCurrentText("cpu")
    panel.method.setCurrentIndex(panel.method.findData(method))


def test_panel_choices_are_what_core_accepts():
    import core.retrieval as R
    from app import retrieval_panel as P

    for m in P.METHODS:
        if m != "auto":
            assert R.parse_method(m, "cwt")
    assert set(P.OPTIMIZERS) == set(R.OPTIMIZERS)
    assert set(P.INITS) == set(R.INITS)


@pytest.fixture
def errors(monkeypatch, window):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical",
                        staticmethod(lambda parent, title, text, *a, **k: shown.append(text)))
    window.error_dialogs = True
    return shown


def test_run_updates_loss_curve_while_event_loop_keeps_running(qtbot, window):
    doc, panel = window.doc, window.retrieval_panel
    _setup(panel, n_iter=10)
    ticks, reports = [], []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    doc.retrieval_progressed.connect(reports.append)
    with qtbot.waitSignal(doc.retrieval_finished, timeout=120_000) as blocker:
        qtbot.mouseClick(panel.run_button, LEFT)
        assert not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
    timer.stop()
    result = blocker.args[0]
    assert len(ticks) > 0                      # the GUI thread was never blocked
    assert len(reports) > 0 and all(np.isfinite(r["loss"]) for r in reports)
    iters, losses = panel.loss_data()
    assert len(losses) > 0 and np.all(losses > 0)
    assert len(losses) <= len(result.loss_history)
    assert panel.loss_plot.getPlotItem().ctrl.logYCheck.isChecked()
    y = window.signal_view.curves["retrieval"].yData
    assert y is not None and len(y) == doc.signal.n and np.all(np.isfinite(y))
    assert "SC" in panel.status.text() and "rel-L2" in panel.status.text()
    assert np.isfinite(doc.retrieval_metrics["sc_db"])
    qtbot.waitUntil(lambda: panel.run_button.isEnabled())
    assert panel.export_button.isEnabled()


def test_cancel_mid_run_keeps_best_so_far(qtbot, window):
    doc, panel = window.doc, window.retrieval_panel
    _setup(panel, n_iter=100_000)
    with qtbot.waitSignal(doc.retrieval_progressed, timeout=120_000):
        qtbot.mouseClick(panel.run_button, LEFT)
    with qtbot.waitSignal(doc.retrieval_finished, timeout=5_000) as blocker:
        qtbot.mouseClick(panel.cancel_button, LEFT)
    result = blocker.args[0]
    assert "cancel" in str(result.stop_reason).lower()
    assert len(result.loss_history) < 100_000
    y = doc.retrieval_y()
    assert y is not None and y.shape == (doc.signal.n,) and np.all(np.isfinite(y))
    assert window.signal_view.curves["retrieval"].yData is not None
    qtbot.waitUntil(lambda: not doc.retrieval_running)


def test_exception_in_worker_shows_error_and_app_survives(qtbot, window, errors, monkeypatch):
    import core.retrieval

    def boom(*args, **kwargs):
        raise RuntimeError("optimiser exploded")

    monkeypatch.setattr(core.retrieval, "retrieve", boom)
    doc, panel = window.doc, window.retrieval_panel
    with qtbot.waitSignal(doc.retrieval_ended, timeout=60_000):
        qtbot.mouseClick(panel.run_button, LEFT)
    assert len(errors) == 1 and "optimiser exploded" in errors[0]
    assert "optimiser exploded" in window.statusBar().currentMessage()
    assert panel.run_button.isEnabled() and not doc.retrieval_running
    assert doc.retrieval is None
    # Still alive: edits keep working.
    doc.layers.add_paint_layer(mask=np.ones(doc.tfr.shape, bool))
    assert doc.inversion is not None


def test_region_target_without_selection_is_refused(qtbot, window, errors):
    panel = window.retrieval_panel
    panel.target.setCurrentIndex(panel.target.findData("region"))
    qtbot.mouseClick(panel.run_button, LEFT)
    assert errors and "nothing is painted" in errors[0]
    assert not window.doc.retrieval_running


def test_closing_window_mid_run_stops_worker_cleanly(qtbot, window, qtlog):
    doc, panel = window.doc, window.retrieval_panel
    _setup(panel, n_iter=100_000)
    with qtbot.waitSignal(doc.retrieval_progressed, timeout=120_000):
        qtbot.mouseClick(panel.run_button, LEFT)
    workers = doc.workers()
    assert workers and all(w.isRunning() for w in workers)
    window.close()
    assert all(w.isFinished() for w in workers)
    assert not any("QThread" in rec.message for rec in qtlog.records)


def test_region_target_runs_on_the_painted_band(qtbot, window):
    doc, panel = window.doc, window.retrieval_panel
    T = doc.signal.x[-1]
    doc.layers.add_band([(0.2 * T, 60.0), (0.8 * T, 200.0)], [(0.2 * T, 20.0), (0.8 * T, 80.0)])
    _setup(panel, n_iter=5)
    panel.target.setCurrentIndex(panel.target.findData("region"))
    with qtbot.waitSignal(doc.retrieval_finished, timeout=120_000):
        qtbot.mouseClick(panel.run_button, LEFT)
    assert doc.retrieval_y().shape == (doc.signal.n,)
    assert "vs selection" in panel.status.text()


def test_closing_window_during_a_transform_waits_for_it(qtbot, window, qtlog):
    from core.transforms import TransformSpec

    doc = window.doc
    doc.set_spec(TransformSpec(kind="ssq_cwt", nv=16))
    workers = doc.workers()
    assert workers and doc.busy
    window.close()
    assert all(w.isFinished() for w in workers)
    assert not any("QThread" in rec.message for rec in qtlog.records)


def test_hint_suggests_time_bandwidth_60_for_broad_band_scalograms(qtbot, window):
    from dataclasses import replace

    doc, panel = window.doc, window.retrieval_panel
    qtbot.waitUntil(lambda: doc.tfr is not None and not doc.busy, timeout=60_000)
    assert doc.spec.kind in ("cwt", "ssq_cwt") and doc.spec.time_bandwidth is None
    assert not panel.hint.isHidden()
    panel.kind.setCurrentIndex(panel.kind.findData("stft"))
    assert panel.hint.isHidden()                      # the STFT has no wavelet
    panel.kind.setCurrentIndex(panel.kind.findData(None))
    assert not panel.hint.isHidden()
    with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
        doc.set_spec(replace(doc.spec, time_bandwidth=60.0))
    assert panel.hint.isHidden()
