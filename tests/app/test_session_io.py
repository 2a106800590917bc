"""Tests for app.session_io: save -> open restores bands and masks exactly; moved files;
failed saves; the unsaved-changes prompt. Also app.jcamp_block_dialog."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtWidgets import QDialog, QMessageBox

from phasebrush.app import session_io
from phasebrush.app.document import DocumentModel
from phasebrush.app.session_io import (
    RestoredRetrieval,
    SessionState,
    apply_session,
    maybe_save,
    open_session,
    save_session_to,
    session_from_document,
)
from phasebrush.core.io.signals import load_signal, save_signal
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec

RATE = 4000.0
SPEC = TransformSpec(kind="cwt", nv=8)



@pytest.fixture
def wav(tmp_path):
    t = np.arange(2048) / RATE
    y = 0.5 * np.sin(2 * np.pi * 300 * t) + 0.3 * np.sin(2 * np.pi * 900 * t)
    p = tmp_path / "data" / "tones.wav"
    p.parent.mkdir()
    save_signal(Signal(y, dx=1 / RATE, name="tones"), p)
    return p


def make_doc(qtbot, signal, spec=SPEC):
    doc = DocumentModel()
    with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
        doc.set_signal(signal, spec)
    return doc


@pytest.fixture
def doc(qtbot, wav):
    d = make_doc(qtbot, load_signal(wav))
    yield d
    d.shutdown()


def edit(doc):
    """A band, a painted mask and a hidden band: what a user might have."""
    lay = doc.layers
    lay.add_band([[0.05, 400.0], [0.3, 500.0]], [[0.05, 200.0], [0.3, 250.0]], name="low")
    lay.add_band([[0.1, 1200.0], [0.4, 1200.0]], [[0.1, 700.0], [0.4, 700.0]], name="high",
                 color="#0a84ff")
    lay.set_visible(1, False)
    m = np.zeros(lay.shape, bool)
    m[5:12, 200:900] = True
    lay.add_paint_layer(name="painted", mask=m)
    return m


def restore(qtbot, path, **kw):
    opened = open_session(None, path, **kw)
    assert opened is not None
    session, sig, spath = opened
    assert spath == path
    doc2 = DocumentModel()
    state2 = SessionState(doc2)
    done = []
    apply_session(doc2, session, sig, state=state2, path=path,
                  on_restored=lambda: done.append(True))
    qtbot.waitUntil(lambda: bool(done), timeout=60_000)
    return doc2, state2, sig


def test_save_then_open_restores_bands_and_masks_exactly(qtbot, doc, tmp_path, errors):
    mask = edit(doc)
    state = SessionState(doc)
    assert state.modified
    path = tmp_path / "work.pbsession"
    assert save_session_to(None, doc, path, state=state)
    assert not state.modified and state.path == path and not errors

    doc2, state2, sig = restore(qtbot, path)
    try:
        assert sig.source == doc.signal.source and doc2.spec == SPEC
        a, b = list(doc.layers), list(doc2.layers)
        assert [(x.kind, x.name, x.color, x.visible) for x in a] == \
               [(x.kind, x.name, x.color, x.visible) for x in b]
        for x, y in zip(a, b, strict=True):
            if x.is_band:
                np.testing.assert_array_equal(x.upper, y.upper)
                np.testing.assert_array_equal(x.lower, y.lower)
            np.testing.assert_array_equal(x.mask, y.mask)
        np.testing.assert_array_equal(b[2].mask, mask)
        np.testing.assert_array_equal(doc2.inversion, doc.inversion)
        assert not state2.modified and state2.path == path
        assert doc2.layers.undo_stack.count() == 0  # opening is not an undoable edit
        doc2.layers.rename(0, "renamed")
        assert state2.modified
    finally:
        doc2.shutdown()


def test_retrieval_result_and_embedded_signal_round_trip(qtbot, tmp_path, errors):
    sig = Signal(np.cos(np.arange(1024) / 9.0), dx=1 / RATE, name="demo")  # no file
    doc = make_doc(qtbot, sig)
    try:
        y = 0.9 * sig.y
        doc.retrieval = RestoredRetrieval(y)
        doc.retrieval_metrics = {"sc_db": -31.5, "rel_l2": 0.1}
        path = tmp_path / "demo.pbsession"
        assert save_session_to(None, doc, path)
        doc2, _state, sig2 = restore(qtbot, path)
        np.testing.assert_array_equal(sig2.y, sig.y)
        np.testing.assert_array_equal(doc2.retrieval_y(), y)
        assert doc2.retrieval_metrics["sc_db"] == -31.5
        doc2.shutdown()
    finally:
        doc.shutdown()


def test_moved_signal_file_is_located(qtbot, doc, wav, tmp_path, errors):
    edit(doc)
    path = tmp_path / "work.pbsession"
    assert save_session_to(None, doc, path)
    moved = tmp_path / "elsewhere" / "renamed.wav"
    moved.parent.mkdir()
    shutil.move(wav, moved)
    asked = []

    def locate(missing, spath):
        asked.append((missing, spath))
        return moved

    doc2, state2, sig = restore(qtbot, path, locate=locate)
    try:
        assert asked == [(wav.absolute(), path)]
        assert sig.source == moved and len(doc2.layers) == 3
        assert not errors
    finally:
        doc2.shutdown()


def test_missing_signal_file_not_located_gives_a_message(doc, wav, tmp_path, errors):
    path = tmp_path / "work.pbsession"
    assert save_session_to(None, doc, path)
    wav.unlink()
    assert open_session(None, path, locate=lambda m, p: None) is None
    assert str(wav.name) in errors[-1] and "missing" in errors[-1]


def test_locating_the_wrong_file_asks_again(doc, wav, tmp_path, errors):
    path = tmp_path / "work.pbsession"
    assert save_session_to(None, doc, path)
    keep = tmp_path / "keep.wav"
    shutil.move(wav, keep)
    short = tmp_path / "short.wav"
    save_signal(Signal(np.zeros(100), dx=1 / RATE), short)
    answers = iter([short, keep])
    opened = open_session(None, path, locate=lambda m, p: next(answers))
    assert opened is not None and opened[1].source == keep
    assert "100 samples" in errors[0] and str(short) in errors[0]


def test_failed_save_keeps_the_previous_session(doc, tmp_path, errors, monkeypatch):
    import phasebrush.core.io.atomic  # noqa: F401 (loaded for the name below)
    from phasebrush import core

    path = tmp_path / "work.pbsession"
    assert save_session_to(None, doc, path)
    before = path.read_text()
    state = SessionState(doc)
    edit(doc)

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    mkstemp = core.io.atomic.tempfile.mkstemp
    monkeypatch.setattr(core.io.atomic.tempfile, "mkstemp", refuse)
    assert not save_session_to(None, doc, path, state=state)
    assert str(path.parent) in errors[-1] and "permission denied" in errors[-1]
    assert path.read_text() == before and state.modified
    monkeypatch.setattr(core.io.atomic.tempfile, "mkstemp", mkstemp)  # writable again
    assert save_session_to(None, doc, tmp_path / "missing dir" / "w.pbsession") is False
    assert "does not exist" in errors[-1]


def test_unreadable_session_is_reported(tmp_path, errors):
    p = tmp_path / "broken.pbsession"
    p.write_text("{not json")
    assert open_session(None, p) is None
    assert str(p) in errors[0] and "JSON" in errors[0]


@pytest.mark.parametrize("answer, expected", [
    (QMessageBox.StandardButton.Discard, True),
    (QMessageBox.StandardButton.Cancel, False),
])
def test_unsaved_changes_prompt(doc, monkeypatch, answer, expected):
    state = SessionState(doc)
    state.mark_saved(None)
    assert maybe_save(None, doc, state)  # nothing to save: no question
    edit(doc)
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: asked.append(a) or answer))
    assert maybe_save(None, doc, state) is expected and len(asked) == 1


def test_prompt_save_writes_the_session(doc, tmp_path, monkeypatch, errors):
    state = SessionState(doc)
    path = tmp_path / "w.pbsession"
    state.mark_saved(path)
    edit(doc)
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: QMessageBox.StandardButton.Save))
    assert maybe_save(None, doc, state)
    assert path.is_file() and not state.modified


def test_spec_change_counts_as_a_change(qtbot, doc):
    state = SessionState(doc)
    state.mark_saved(None)
    with qtbot.waitSignal(doc.tfr_changed, timeout=60_000):
        doc.set_spec(TransformSpec(kind="cwt", nv=10))
    assert state.modified


def test_retrieval_panel_settings_count_as_a_change(qtbot, window):
    state, panel = window.session, window.retrieval_panel
    state.mark_saved(None)
    assert not state.modified and not window.isWindowModified()
    panel.n_iter.setValue(panel.n_iter.value() + 7)
    assert state.modified and window.isWindowModified()     # the title's [*] follows
    state.mark_saved(None)
    assert not state.modified and not window.isWindowModified()


def test_session_from_document_needs_a_signal():
    from phasebrush.core.errors import PhaseBrushError

    with pytest.raises(PhaseBrushError, match="no signal"):
        session_from_document(DocumentModel())


# --------------------------------------------------------------------------- JCAMP blocks

def test_jcamp_block_dialog_lists_blocks_and_disables_empty_ones(qtbot, tmp_path):
    from phasebrush.app.jcamp_block_dialog import JcampBlockDialog, choose_jcamp_block
    from phasebrush.core.io.jcamp import JcampBlock

    blocks = [JcampBlock(0, "peaks", "INFRARED PEAK TABLE", 0, False),
              JcampBlock(1, "IR", "INFRARED SPECTRUM", 120, True),
              JcampBlock(2, "UV", "UV/VIS SPECTRUM", 50, True)]
    d = JcampBlockDialog("x.jdx", blocks)
    qtbot.addWidget(d)
    assert d.chosen() == 1  # the first block with data is preselected
    assert "no x/y data" in d.list.item(0).text() and "120 points" in d.list.item(1).text()
    d.list.setCurrentRow(0)
    assert d.chosen() is None
    d.list.setCurrentRow(2)
    assert d.chosen() == 2
    # One spectrum: no question asked.
    assert choose_jcamp_block(None, "x.jdx", blocks=blocks[:2]) == 1


def test_choose_jcamp_block_on_a_link_file(qtbot, monkeypatch):
    from pathlib import Path

    from phasebrush.app import jcamp_block_dialog as jbd

    link = Path(__file__).resolve().parents[2] / "resources" / "spectra" / "synthetic_link.jdx"
    if not link.is_file():
        pytest.skip("resources/spectra/synthetic_link.jdx is not there")

    def pick_last(self):
        self.list.setCurrentRow(self.list.count() - 1)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(jbd.JcampBlockDialog, "exec", pick_last)
    block = jbd.choose_jcamp_block(None, link)
    sig = load_signal(link, block=block)
    assert block == 2 and sig.n == 50
    monkeypatch.setattr(jbd.JcampBlockDialog, "exec", lambda self: QDialog.DialogCode.Rejected)
    assert jbd.choose_jcamp_block(None, link) is None


def test_module_exports():
    for name in session_io.__all__:
        assert hasattr(session_io, name)


SETTINGS = {"target": "whole", "transform": "view", "method": "fgla", "optimizer": "rmsprop",
            "n_iter": 250, "tol": "1e-5", "lr": 0.125, "seed": 11, "init": "zeros",
            "init_file": "", "padding": 3, "device": "cpu", "preview": False}


def test_session_keeps_loss_history_iterations_and_panel_settings(qtbot, tmp_path, errors):
    from phasebrush.app.document import RetrievalParams
    from phasebrush.app.retrieval_panel import RetrievalPanel

    sig = Signal(np.cos(np.arange(1024) / 9.0), dx=1 / RATE, name="demo")
    doc = make_doc(qtbot, sig)
    panel = RetrievalPanel(doc)
    qtbot.addWidget(panel)
    try:
        panel.apply_settings(SETTINGS)
        hist = np.geomspace(1.0, 1e-3, 37)
        doc.last_retrieval_params = RetrievalParams(method="fgla", n_iter=250, seed=11)
        doc.set_retrieval(RestoredRetrieval(0.9 * sig.y, loss_history=hist, n_iter=37,
                                            stop_reason="converged", restored=False),
                          {"inconsistency": 0.01, "sc_db": -40.0, "rel_l2": 0.05})
        path = tmp_path / "demo.pbsession"
        assert save_session_to(None, doc, path)
        opened = open_session(None, path)
        session, sig2, _ = opened
        params = session.results[0].params
        assert params["n_iter_run"] == 37 and params["stop_reason"] == "converged"
        assert params["run"]["method"] == "fgla" and params["run"]["transform"] == "auto"

        doc2 = DocumentModel()
        panel2 = RetrievalPanel(doc2)
        qtbot.addWidget(panel2)
        done = []
        apply_session(doc2, session, sig2, on_restored=lambda: done.append(True))
        qtbot.waitUntil(lambda: bool(done), timeout=60_000)
        res = doc2.retrieval
        np.testing.assert_array_equal(res.loss_history, hist)
        assert res.n_iter == 37 and res.stop_reason == "converged"
        assert panel2.settings() == SETTINGS and doc2.retrieval_settings == SETTINGS
        assert len(panel2.loss_data()[1]) == 37
        text = panel2.status.text()
        assert "restored from the session: converged after 37 it" in text
        assert "inconsistency 0.01" in text and "SC -40.0 dB" in text and "rel-L2 0.05" in text
        doc2.shutdown()
    finally:
        doc.shutdown()


def test_old_session_without_loss_history_or_settings_loads(qtbot, tmp_path, errors):
    """A session written before the loss curve and panel settings were kept."""
    import json

    from phasebrush.app.retrieval_panel import RetrievalPanel
    from phasebrush.core.io.session import Session, SessionResult, SignalRef, save_session

    sig = Signal(np.cos(np.arange(1024) / 9.0), dx=1 / RATE, name="demo")
    y = 0.8 * sig.y
    path = tmp_path / "old.pbsession"
    save_session(path, Session(signal=SignalRef.from_signal(sig), spec=SPEC, results=[
        SessionResult("retrieval", arrays={"y": y}, metrics={"sc_db": -30.0})]))
    doc_json = json.loads(path.read_text())
    assert doc_json["results"][0]["params"] == {} and doc_json["view"] == {}
    assert list(doc_json["results"][0]["arrays"]) == ["y"]

    opened = open_session(None, path)
    session, sig2, _ = opened
    doc2 = DocumentModel()
    panel = RetrievalPanel(doc2)
    qtbot.addWidget(panel)
    before = panel.settings()
    done = []
    apply_session(doc2, session, sig2, on_restored=lambda: done.append(True))
    qtbot.waitUntil(lambda: bool(done), timeout=60_000)
    try:
        np.testing.assert_array_equal(doc2.retrieval_y(), y)
        assert doc2.retrieval.n_iter is None and doc2.retrieval.loss_history.size == 0
        assert panel.settings() == before               # nothing to restore: defaults kept
        text = panel.status.text()
        assert "0 it" not in text and "saved without its iterations" in text
        assert "SC -30.0 dB" in text
    finally:
        doc2.shutdown()
