"""Results belong to their document (issue 9): a run, a transform or a comparison that
outlives its file is cancelled and dropped, never attached to the next file."""

from __future__ import annotations

import numpy as np
import pytest

from phasebrush.app.document import DocumentModel, RetrievalParams
from phasebrush.app.session_io import SessionState, apply_session, open_session, save_session_to
from phasebrush.core.io.signals import load_signal, save_signal
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec
from tests.app.conftest import deliver_posted_events, short_chirp

LONG_RUN = RetrievalParams(method="gla", n_iter=100_000, init="zeros")



def tone_file(tmp_path, n: int, name: str = "b") -> str:
    t = np.arange(n) / 1024.0
    path = tmp_path / f"{name}.wav"
    save_signal(Signal(0.4 * np.sin(2 * np.pi * 60.0 * t), dx=1 / 1024.0, name=name), path)
    return str(path)


def no_worker(doc, name: str) -> bool:
    return all(w.name != name for w in doc.workers())


def start_long_run(qtbot, doc) -> None:
    with qtbot.waitSignal(doc.retrieval_progressed, timeout=60_000):
        assert doc.start_retrieval(LONG_RUN)


@pytest.mark.parametrize("n_b", [1024, 1500], ids=["same length", "other length"])
def test_opening_a_file_during_a_retrieval_drops_its_result(qtbot, window, tmp_path, errors,
                                                             n_b):
    doc = window.doc
    start_long_run(qtbot, doc)
    with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
        assert window.open_path(tone_file(tmp_path, n_b), ask=False)
    doc.cancel_retrieval()   # (the old code let the run go on; end it either way)
    qtbot.waitUntil(lambda: no_worker(doc, "retrieval"), timeout=10_000)
    deliver_posted_events()  # queued result signals of the ended thread

    assert doc.retrieval is None and doc.retrieval_y() is None
    assert not window.export_action.isEnabled()
    assert not window.retrieval_panel.export_button.isEnabled()
    out = tmp_path / "b reconstruction.wav"
    assert window.export_reconstruction(out) is None and not out.exists()
    assert "Nothing to export" in window.last_error
    # The panel is free for a run on the new file.
    assert window.retrieval_panel.run_button.isEnabled() and not doc.retrieval_running


def test_a_run_on_the_current_file_is_kept_and_exported(qtbot, window, tmp_path):
    doc = window.doc
    with qtbot.waitSignal(doc.retrieval_finished, timeout=60_000):
        doc.start_retrieval(RetrievalParams(method="gla", n_iter=3, init="zeros"))
    assert doc.is_current(doc.retrieval_key, transform=False)
    assert window.export_action.isEnabled()
    out = tmp_path / "chirp reconstruction.wav"
    assert window.export_reconstruction(out) == out and out.exists()


def test_a_new_transform_keeps_the_retrieval_of_the_same_signal(qtbot, window):
    doc = window.doc
    with qtbot.waitSignal(doc.retrieval_finished, timeout=60_000):
        doc.start_retrieval(RetrievalParams(method="gla", n_iter=3, init="zeros"))
    key = doc.retrieval_key
    with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
        doc.set_spec(TransformSpec(kind="stft", n_fft=128, hop=1))
    assert not doc.is_current(key) and doc.is_current(key, transform=False)
    assert doc.retrieval_y() is not None and window.export_action.isEnabled()


def test_export_of_a_result_of_another_length_is_refused_with_a_message(window, tmp_path):
    doc = window.doc
    doc.inversion = np.zeros(doc.signal.n + 7)   # as if left over from another file
    out = tmp_path / "band.wav"
    assert window.export_selection(out) is None and not out.exists()
    assert "another signal" in window.last_error


def test_a_superseded_transform_is_cancelled_and_never_shown(qtbot):
    doc = DocumentModel()
    shown = []
    doc.tfr_changed.connect(lambda: shown.append(doc.tfr.spec))
    # Long enough that the first transform is still running when the second is asked for.
    sig = Signal(np.random.default_rng(0).standard_normal(2**17), dx=1 / 8000.0, name="noise")
    first, second = TransformSpec(kind="cwt", nv=16), TransformSpec(kind="stft", n_fft=256)
    try:
        doc.set_signal(sig, first)
        doc.set_spec(second)
        qtbot.waitUntil(lambda: not doc.busy and not doc.workers(), timeout=60_000)
        assert shown == [second] and doc.tfr.spec == second
    finally:
        doc.shutdown()


def test_a_coherence_of_the_previous_file_is_not_shown(qtbot, window, tmp_path):
    view, doc = window.coherence_view, window.doc
    view.compare(doc.signal, doc.signal.y[::-1].copy(), doc.tfr.spec)
    assert view.busy
    with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
        window.open_path(tone_file(tmp_path, 1024), ask=False)
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    deliver_posted_events()
    assert view.result is None


def test_a_session_restores_onto_its_own_file_only(qtbot, tmp_path, errors):
    a_file = tmp_path / "a.wav"
    save_signal(short_chirp(), a_file)
    spec = TransformSpec(kind="cwt", nv=8)
    src = DocumentModel()
    with qtbot.waitSignal(src.tfr_changed, timeout=60_000):
        src.set_signal(load_signal(a_file), spec)
    src.layers.add_band([[0.1, 100.0], [0.5, 100.0]], [[0.1, 20.0], [0.5, 20.0]], name="low")
    path = tmp_path / "a.pbsession"
    assert save_session_to(None, src, path, state=SessionState(src)), errors
    src.shutdown()

    session, sig, _ = open_session(None, path)
    doc = DocumentModel()
    try:
        apply_session(doc, session, sig, state=SessionState(doc), path=path)
        # Another file is opened before the session's transform arrived.
        other = Signal(np.zeros(1024) + 1.0, dx=sig.dx, name="other")
        with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
            doc.set_signal(other, spec)
        qtbot.waitUntil(lambda: not doc.busy, timeout=60_000)
        assert doc.signal is other and len(doc.layers) == 0
    finally:
        doc.shutdown()
