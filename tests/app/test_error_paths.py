"""No exception escapes a slot (issue 9): failed exports, failed transforms and failed
retrievals end in a message box and the status bar; a retrieval keeps its best estimate."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from phasebrush.app import slot_guard
from phasebrush.app.document import PartialRetrieval, RetrievalParams
from phasebrush.app.worker import Worker, describe_error
from phasebrush.core.errors import OutOfMemoryError
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec


@pytest.fixture
def boxes(monkeypatch, window):
    """Message boxes shown (text), with dialogs on as in the real app."""
    seen = []
    monkeypatch.setattr(QMessageBox, "critical",
                        staticmethod(lambda parent, title, text, *a: seen.append(text)))
    window.error_dialogs = True
    return seen


def status(window) -> str:
    return window.statusBar().currentMessage()


def test_an_export_whose_writer_breaks_shows_a_box_and_the_status_bar(window, boxes, tmp_path,
                                                                      monkeypatch):
    import phasebrush.app.export  # noqa: F401 (loaded for the name below)
    from phasebrush import app

    def short_write(*args, **kwargs):
        raise AssertionError   # what soundfile raises when the disk takes fewer bytes

    monkeypatch.setattr(app.export, "save_signal", short_write)
    window.doc.inversion = np.zeros(window.doc.signal.n)
    out = tmp_path / "band.wav"
    assert window.export_selection(out) is None and not out.exists()
    assert len(boxes) == 1 and "AssertionError" in boxes[0] and str(out) in boxes[0]
    assert "Could not write" in status(window)


def test_an_export_into_a_missing_folder_says_so(window, boxes, tmp_path):
    window.doc.inversion = np.zeros(window.doc.signal.n)
    out = tmp_path / "no such folder" / "band.wav"
    assert window.export_selection(out) is None
    assert len(boxes) == 1 and "does not exist" in boxes[0]
    assert "Could not write" in status(window)


def test_a_too_short_signal_shows_the_transform_error(qtbot, window, boxes):
    doc = window.doc
    with qtbot.waitSignal(doc.failed, timeout=30_000):
        doc.set_signal(Signal(np.array([1.0, -1.0]), dx=1e-3, name="two samples"),
                       TransformSpec(kind="cwt", nv=16))
    qtbot.waitUntil(lambda: not doc.busy, timeout=10_000)
    assert len(boxes) == 1 and "transform failed" in boxes[0]
    assert "Traceback" not in boxes[0]
    assert doc.tfr is None


def test_a_failed_transform_clears_the_previous_image_and_says_what_to_change(qtbot, window,
                                                                              boxes):
    doc, view = window.doc, window.tfr_view
    assert view.image.image is not None            # the chirp's image
    with qtbot.waitSignal(doc.transform_failed, timeout=30_000):
        doc.set_signal(Signal(np.random.default_rng(0).random(50), dx=1e-3, name="short"),
                       TransformSpec(kind="cwt", nv=32))
    qtbot.waitUntil(lambda: not doc.busy, timeout=10_000)
    assert view.image.image is None                # not the chirp's picture under "short"
    text = view._busy_text.toPlainText()
    assert view._busy_text.scene() is not None
    assert "No transform" in text and "needs at least" in text and "Recompute" in text
    # settings that work: the image comes back and the message goes
    with qtbot.waitSignal(doc.tfr_changed, timeout=30_000):
        doc.set_spec(TransformSpec(kind="cwt", nv=32, scales="log-piecewise"))
    qtbot.waitUntil(lambda: not doc.busy, timeout=10_000)
    assert view.image.image is not None and view._busy_text.scene() is None


def test_a_failed_recompute_keeps_the_signal_s_image(qtbot, window, boxes, monkeypatch):
    import phasebrush.app.document  # noqa: F401 (loaded for the name below)
    from phasebrush import app

    doc, view = window.doc, window.tfr_view
    shown = view.image.image

    def broken(signal, spec, **kw):
        raise ValueError("no")

    monkeypatch.setattr(app.document, "transform", broken)
    with qtbot.waitSignal(doc.transform_failed, timeout=10_000):
        doc.set_spec(TransformSpec(kind="cwt", nv=12))
    qtbot.waitUntil(lambda: not doc.busy, timeout=10_000)
    assert doc.tfr is not None and view.image.image is shown
    assert view._busy_text.scene() is None


def test_out_of_memory_keeps_its_size_and_hint(qtbot):
    exc = OutOfMemoryError("CWT of long.wav (10 samples, 3 rows)", 3 * 2**30,
                           hint="use fewer voices")
    w = Worker(lambda progress, cancel: (_ for _ in ()).throw(exc), name="transform")
    with qtbot.waitSignal(w.failed, timeout=5_000) as blocker:
        w.start()
    w.wait()
    assert blocker.args[0] == describe_error(exc, "transform")
    assert "3.0 GiB" in blocker.args[0] and "use fewer voices" in blocker.args[0]


def test_a_transform_out_of_memory_is_shown(qtbot, window, boxes, monkeypatch):
    import phasebrush.app.document  # noqa: F401 (loaded for the name below)
    from phasebrush import app

    def too_big(signal, spec, **kw):
        raise OutOfMemoryError(f"CWT of {signal.name}", 40 * 2**30, available=8 * 2**30)

    monkeypatch.setattr(app.document, "transform", too_big)
    with qtbot.waitSignal(window.doc.failed, timeout=10_000):
        window.doc.set_spec(TransformSpec(kind="cwt", nv=32))
    assert len(boxes) == 1 and "40.0 GiB" in boxes[0] and "8.0 GiB" in boxes[0]


def test_a_retrieval_failing_mid_run_keeps_its_best_estimate(qtbot, window, boxes,
                                                             monkeypatch):
    import phasebrush.core.retrieval.retrieve  # noqa: F401 (loaded for the name below)
    from phasebrush import core

    real = core.retrieval.retrieve.retrieve

    def dies_later(S, spec, *, progress, **kw):
        calls = []

        def report(*args):
            progress(*args)
            calls.append(args)
            if len(calls) == 3:
                raise RuntimeError("device lost")

        return real(S, spec, progress=report, **kw)

    monkeypatch.setattr(core.retrieval.retrieve, "retrieve", dies_later)
    doc, panel = window.doc, window.retrieval_panel
    with qtbot.waitSignal(doc.retrieval_finished, timeout=60_000) as blocker:
        doc.start_retrieval(RetrievalParams(method="gla", n_iter=100_000, init="zeros"))
    result = blocker.args[0]
    assert isinstance(result, PartialRetrieval) and result.stop_reason == "failed"
    y = doc.retrieval_y()
    assert y.shape == (doc.signal.n,) and np.all(np.isfinite(y)) and np.any(y)
    assert len(boxes) == 1 and "device lost" in boxes[0] and "best estimate" in boxes[0]
    assert "failed, best kept" in panel.status.text()
    assert window.export_action.isEnabled() and panel.export_button.isEnabled()


def test_a_cancelled_retrieval_shows_its_stop_reason(qtbot, window):
    doc, panel = window.doc, window.retrieval_panel
    with qtbot.waitSignal(doc.retrieval_progressed, timeout=60_000):
        doc.start_retrieval(RetrievalParams(method="gla", n_iter=100_000, init="zeros"))
    with qtbot.waitSignal(doc.retrieval_finished, timeout=10_000):
        doc.cancel_retrieval()
    assert "cancelled, best kept" in panel.status.text()
    assert doc.retrieval_y() is not None and window.export_action.isEnabled()


def test_an_exception_in_any_slot_becomes_a_message_box(qtbot, window, boxes, monkeypatch):
    def broken(path=None):
        raise KeyError("bands")

    monkeypatch.setattr(window, "export_bands", broken)
    with qtbot.capture_exceptions() as caught:
        slot_guard.install(window._show_error)   # over pytest-qt's capturing hook
        window.export_bands_action.trigger()
    assert len(caught) == 1 and caught[0][0] is KeyError   # the traceback still goes out
    assert len(boxes) == 1 and "KeyError" in boxes[0] and "stderr" in boxes[0]
    assert "Unexpected error" in status(window)
