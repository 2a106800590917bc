"""Tests for core.io.session: save -> load restores everything; bad files say why."""

import json
import os
import shutil

import numpy as np
import pytest

from phasebrush.core.errors import LoadError, ParameterError
from phasebrush.core.io.atomic import SaveError
from phasebrush.core.io.session import (
    MissingSourceError,
    Session,
    SessionResult,
    SignalRef,
    load_session,
    save_session,
)
from phasebrush.core.io.signals import save_signal
from phasebrush.core.signal import Signal
from phasebrush.core.tf.bands import Band
from phasebrush.core.tf.transforms import TransformSpec


@pytest.fixture
def parts():
    rng = np.random.default_rng(7)
    bands = (
        Band.rectangle(0.1, 0.4, 100.0, 250.0, name="whistle", color="#ff7f0e"),
        Band(upper=[[0.0, 300.5], [0.25, 310.125], [0.5, 290.0]],
             lower=[[0.0, 200.0], [0.5, 180.75]], name="chirp", color="#11223344",
             visible=False),
    )
    masks = {"painted": rng.random((40, 300)) > 0.7,
             "heatmap": rng.random((40, 300)).astype(np.float32)}
    results = (SessionResult(
        name="retrieval 1",
        arrays={"y": rng.standard_normal(300), "loss": np.geomspace(1, 1e-3, 50)},
        params={"n_iter": np.int64(200), "lr": 0.05, "init": "random", "betas": (0.9, 0.99)},
        metrics={"snr_db": np.float64(23.5), "spectral_convergence": 0.0123,
                 "worst": float("inf")}),)
    spec = TransformSpec(kind="ssq_cwt", wavelet="morlet", nv=24, fmin=20.0, fmax=400.0)
    return bands, masks, results, spec


def _assert_same(loaded: Session, bands, masks, results, spec):
    assert loaded.spec == spec
    assert [b.name for b in loaded.bands] == [b.name for b in bands]
    for a, b in zip(loaded.bands, bands, strict=True):
        assert np.array_equal(a.upper, b.upper) and np.array_equal(a.lower, b.lower)
        assert (a.color, a.visible) == (b.color, b.visible)
    assert list(loaded.masks) == list(masks)
    for name, m in masks.items():
        assert loaded.masks[name].dtype == m.dtype
        assert np.array_equal(loaded.masks[name], m)
    (r,) = loaded.results
    (e,) = results
    assert r.name == e.name and set(r.arrays) == set(e.arrays)
    for k in e.arrays:
        assert np.array_equal(r.arrays[k], e.arrays[k])
    assert r.params == {"n_iter": 200, "lr": 0.05, "init": "random", "betas": [0.9, 0.99]}
    assert r.metrics["snr_db"] == 23.5 and r.metrics["worst"] == float("inf")


def test_embedded_signal_round_trip(tmp_path, parts):
    bands, masks, results, spec = parts
    sig = Signal(np.sin(np.arange(300) * 0.1), dx=1 / 1000, name="demo chirp")
    s = Session(signal=SignalRef.from_signal(sig), spec=spec, bands=bands, masks=masks,
                results=results, view={"zoom": [0.1, 0.2], "levels_db": -60})
    p = save_session(tmp_path / "work.pbsession", s)
    loaded = load_session(p)
    _assert_same(loaded, bands, masks, results, spec)
    assert loaded.view == {"zoom": [0.1, 0.2], "levels_db": -60}
    assert loaded.signal.embedded
    back = loaded.signal.to_signal()
    assert np.array_equal(back.y, sig.y) and back.dx == sig.dx and back.name == sig.name
    # the JSON is readable and names exactly one sidecar next to it
    doc = json.loads(p.read_text())
    assert doc["format"] == "phasebrush-session" and doc["version"] == 1
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted([p.name, doc["arrays"]])


def test_file_signal_round_trip_and_resave_cleans_old_sidecar(tmp_path, parts):
    bands, masks, results, spec = parts
    wav = tmp_path / "tone.wav"
    save_signal(Signal(np.sin(np.arange(800) * 0.05) * 0.5, dx=1 / 8000, name="tone"), wav)
    from phasebrush.core.io.signals import load_signal
    sig = load_signal(wav)
    s = Session(signal=SignalRef.from_signal(sig, options={"channel": "mix"}), spec=spec,
                bands=bands, masks=masks, results=results)
    p = tmp_path / "work.pbsession"
    save_session(p, s)
    first = json.loads(p.read_text())["arrays"]
    loaded = load_session(p)
    _assert_same(loaded, bands, masks, results, spec)
    assert not loaded.signal.embedded and loaded.signal.path.samefile(wav)
    assert loaded.signal.options == {"channel": "mix"}
    assert np.array_equal(loaded.signal.to_signal().y, sig.y)

    save_session(p, loaded)  # a second save replaces the sidecar and deletes the old one
    second = json.loads(p.read_text())["arrays"]
    assert second != first and not (tmp_path / first).exists() and (tmp_path / second).exists()


def test_moved_folder_finds_signal_by_relative_path(tmp_path, parts):
    bands, masks, results, spec = parts
    src = tmp_path / "a"
    src.mkdir()
    np.save(src / "x.npy", np.arange(50.0))
    from phasebrush.core.io.signals import load_signal
    s = Session(signal=SignalRef.from_signal(load_signal(src / "x.npy")), spec=spec)
    save_session(src / "s.pbsession", s)
    shutil.move(src, tmp_path / "b")
    loaded = load_session(tmp_path / "b" / "s.pbsession")
    assert loaded.signal.path.samefile(tmp_path / "b" / "x.npy")


def test_missing_signal_asks_to_locate_it(tmp_path, parts):
    bands, masks, results, spec = parts
    np.save(tmp_path / "x.npy", np.arange(50.0))
    from phasebrush.core.io.signals import load_signal
    s = Session(signal=SignalRef.from_signal(load_signal(tmp_path / "x.npy")), spec=spec,
                bands=bands, masks=masks)
    p = save_session(tmp_path / "s.pbsession", s)
    (tmp_path / "moved").mkdir()
    os.replace(tmp_path / "x.npy", tmp_path / "moved" / "y.npy")
    with pytest.raises(MissingSourceError) as err:
        load_session(p)
    e = err.value
    assert e.missing == tmp_path / "x.npy" and e.session_path == p
    assert "x.npy" in str(e) and "locate" in str(e)
    # the GUI asks the user, then either completes the parsed session ...
    fixed = e.session.relocated(tmp_path / "moved" / "y.npy")
    assert np.array_equal(fixed.signal.to_signal().y, np.arange(50.0))
    assert np.array_equal(fixed.masks["painted"], masks["painted"])
    # ... or loads again with the new place
    again = load_session(p, source=tmp_path / "moved" / "y.npy")
    assert again.signal.path == (tmp_path / "moved" / "y.npy").absolute()
    with pytest.raises(MissingSourceError):
        load_session(p, source=tmp_path / "nowhere.npy")


def test_changed_source_file_is_reported(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(50.0))
    from phasebrush.core.io.signals import load_signal
    s = Session(signal=SignalRef.from_signal(load_signal(tmp_path / "x.npy")))
    p = save_session(tmp_path / "s.pbsession", s)
    np.save(tmp_path / "x.npy", np.arange(60.0))
    with pytest.raises(LoadError, match="60 samples.*50"):
        load_session(p).signal.to_signal()


@pytest.mark.parametrize("text,words", [
    ("{not json", "not valid JSON"),
    ('{"format": "something else"}', "not a PhaseBrush session"),
    ('{"format": "phasebrush-session", "version": 99}', "newer"),
])
def test_corrupt_session_files(tmp_path, text, words):
    p = tmp_path / "bad.pbsession"
    p.write_text(text)
    with pytest.raises(LoadError, match=words) as err:
        load_session(p)
    assert "bad.pbsession" in str(err.value)


def test_damaged_content_is_a_load_error(tmp_path, parts):
    bands, masks, results, spec = parts
    sig = Signal(np.ones(10), name="c")
    p = save_session(tmp_path / "s.pbsession", Session(SignalRef.from_signal(sig), spec=spec,
                                                        bands=bands, masks=masks))
    doc = json.loads(p.read_text())
    bad = dict(doc, bands=[{"upper": "nope", "lower": [[0, 1]]}])
    (tmp_path / "b.pbsession").write_text(json.dumps(bad))
    with pytest.raises(LoadError, match="band 1"):
        load_session(tmp_path / "b.pbsession")
    bad = dict(doc, transform={"kind": "cwt", "bogus": 1})
    (tmp_path / "t.pbsession").write_text(json.dumps(bad))
    with pytest.raises(LoadError, match="bogus"):
        load_session(tmp_path / "t.pbsession")
    (tmp_path / doc["arrays"]).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(LoadError, match="array file"):
        load_session(p)
    (tmp_path / doc["arrays"]).unlink()
    with pytest.raises(LoadError, match="missing"):
        load_session(p)


def test_unstorable_values_write_nothing(tmp_path):
    s = Session(SignalRef.from_signal(Signal(np.ones(10))), view={"widget": object()})
    with pytest.raises(ParameterError, match="view"):
        save_session(tmp_path / "s.pbsession", s)
    assert list(tmp_path.iterdir()) == []


def test_read_only_folder_keeps_previous_session(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    s = Session(SignalRef.from_signal(Signal(np.ones(10))), masks={"m": np.ones((2, 3), bool)})
    p = save_session(folder / "s.pbsession", s)
    before = sorted(folder.iterdir())
    os.chmod(folder, 0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(SaveError):
            save_session(p, Session(SignalRef.from_signal(Signal(np.zeros(10)))))
    finally:
        os.chmod(folder, 0o700)
    assert sorted(folder.iterdir()) == before
    assert np.array_equal(load_session(p).signal.to_signal().y, np.ones(10))


def test_failed_json_write_keeps_previous_session_and_no_orphan(tmp_path, monkeypatch):
    import phasebrush.core.io.session as session_mod

    s = Session(SignalRef.from_signal(Signal(np.ones(10))), masks={"m": np.ones((2, 3), bool)})
    p = save_session(tmp_path / "s.pbsession", s)
    before = sorted(tmp_path.iterdir())

    def fail(path, text):
        raise SaveError(path, "disk full")

    monkeypatch.setattr(session_mod, "atomic_write_text", fail)
    with pytest.raises(SaveError, match="disk full"):
        save_session(p, Session(SignalRef.from_signal(Signal(np.zeros(10)))))
    monkeypatch.undo()
    assert sorted(tmp_path.iterdir()) == before
    loaded = load_session(p)
    assert np.array_equal(loaded.signal.to_signal().y, np.ones(10))
    assert np.array_equal(loaded.masks["m"], np.ones((2, 3), bool))


def test_retrieval_result_keeps_loss_history_and_run_record(tmp_path):
    """The GUI's retrieval result (loss curve, run record, panel settings in the view)
    round-trips exactly; a result with the estimate alone (older sessions) still loads."""
    sig = Signal(np.sin(np.arange(256) / 5.0), dx=1e-3, name="x")
    hist = np.geomspace(1.0, 1e-4, 50)
    full = SessionResult("retrieval", arrays={"y": sig.y * 0.5, "loss_history": hist},
                         params={"n_iter_run": 50, "stop_reason": "max_iter", "target": "whole",
                                 "run": {"method": "auto", "tol": None, "transform": "auto"}},
                         metrics={"inconsistency": 1e-3, "sc_db": -60.0, "rel_l2": float("nan")})
    old = SessionResult("retrieval", arrays={"y": sig.y * 0.5})
    view = {"retrieval_panel": {"method": "gd", "n_iter": 300, "tol": ""}}
    for res in (full, old):
        path = save_session(tmp_path / "s.pbsession",
                            Session(signal=SignalRef.from_signal(sig), results=[res], view=view))
        (r,) = load_session(path).results
        assert set(r.arrays) == set(res.arrays) and dict(r.params) == dict(res.params)
        for k, a in res.arrays.items():
            np.testing.assert_array_equal(r.arrays[k], a)
        assert load_session(path).view == view
        assert set(r.metrics) == set(res.metrics)
        if res is full:
            assert r.metrics["sc_db"] == -60.0 and np.isnan(r.metrics["rel_l2"])
