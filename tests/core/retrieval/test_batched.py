"""core.retrieval.batched: several targets in one tensor give each item's own retrieval."""

import numpy as np
import pytest

from phasebrush.core.errors import ParameterError, ShapeError
from phasebrush.core.retrieval import methods as RM
from phasebrush.core.retrieval.batched import retrieve_batch
from phasebrush.core.retrieval.retrieve import retrieve
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform

STFT = TransformSpec(kind="stft", window="hann", n_fft=64, hop=16)
CWT = TransformSpec(kind="cwt", nv=8)
N = 512


def _signals(k=3):
    t = np.arange(N) / N
    rng = np.random.default_rng(4)
    return [np.cos(2 * np.pi * ((8 + 5 * i) * t + (40 + 20 * i) * t**2))
            + 0.2 * rng.standard_normal(N) for i in range(k)]


def _mag(x, spec):
    return np.abs(transform(Signal(y=x), spec).coefficients)


def _assert_same(batch, alone):
    for b, a in zip(batch, alone, strict=True):
        scale = np.abs(a.best_y).max()
        np.testing.assert_allclose(b.y, a.y, rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(b.best_y, a.best_y, rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(b.inconsistency_history, a.inconsistency_history,
                                   rtol=1e-7, atol=1e-12)
        assert (b.n_iter, b.stop_reason, b.method) == (a.n_iter, a.stop_reason, a.method)
        assert b.n_eval == a.n_eval
        assert b.inconsistency == pytest.approx(a.inconsistency, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("spec, method, init", [
    (STFT, "auto", "zeros"),              # raar:0.8+fgla: all on the stack
    (STFT, "gla+gd", "random"),           # gd sgdm on the stack too
    (STFT, "raar:0.5+lbfgs-raar", "pghi"),  # L-BFGS item by item after the stack
    (CWT, "auto", "pghi"),                # raar:0.8+lbfgs on the padded CWT grid
    (CWT, "fgla", "fgla"),                # init fgla: a first stage from random phase
])
def test_each_item_gets_what_it_gets_alone(spec, method, init):
    items = [_mag(x, spec) for x in _signals()]
    kw = dict(n_samples=N, method=method, n_iter=40, init=init, seed=3, device="cpu")
    batch = retrieve_batch(items, spec, **kw)
    alone = [retrieve(S, spec, **kw) for S in items]
    _assert_same(batch, alone)
    # the items really differ (not one result three times)
    assert np.abs(batch[0].y - batch[1].y).max() > 0.1


def test_masks_and_a_tolerance_stop_items_on_their_own():
    items = [_mag(x, STFT) for x in _signals()]
    masks = [None, (items[1] > 0.05 * items[1].max()).astype(float), None]
    # item 2's target is item 0's: a tolerance both meet at the same iteration
    items[2] = items[0].copy()
    kw = dict(n_samples=N, method="raar", n_iter=60, init="zeros", device="cpu")
    alone = [retrieve(S, STFT, mask=m, **kw) for S, m in zip(items, masks, strict=True)]
    tol = float(np.median([a.inconsistency_history[20] for a in alone]))
    alone = [retrieve(S, STFT, mask=m, tol=tol, **kw) for S, m in zip(items, masks, strict=True)]
    batch = retrieve_batch(items, STFT, masks=masks, tol=tol, **kw)
    _assert_same(batch, alone)
    # items stopped at different iterations: the earlier ones were no longer booked
    assert {r.stop_reason for r in batch} == {"converged"}
    assert len({r.n_iter for r in batch}) > 1


def test_one_fft_per_iteration_for_the_whole_stack(monkeypatch):
    items = [_mag(x, STFT) for x in _signals(4)]
    calls = []
    build = RM.Problem.build

    def counting_build(*a, **k):
        p = build(*a, **k)
        analysis = p.op.analysis

        def spy(z):
            calls.append(tuple(z.shape))
            return analysis(z)

        p.op.analysis = spy
        return p

    monkeypatch.setattr(RM.Problem, "build", classmethod(
        lambda cls, *a, **k: counting_build(*a, **k)))
    retrieve_batch(items, STFT, n_samples=N, method="raar", n_iter=10, device="cpu")
    stacked = [s for s in calls if len(s) == 2 and s[0] == 4]
    assert len(stacked) >= 10                 # every iteration: one analysis of 4 items


def test_refusals():
    a, b = _mag(_signals(1)[0], STFT), _mag(_signals(1)[0][:256], STFT)
    with pytest.raises(ShapeError, match="one shape"):
        retrieve_batch([a, b], STFT, n_samples=N, device="cpu")
    with pytest.raises(ParameterError, match="init must be one of"):
        retrieve_batch([a, a], STFT, n_samples=N, init=np.zeros(N), device="cpu")
    with pytest.raises(ParameterError, match="needs an lr"):
        retrieve_batch([a, a], STFT, n_samples=N, method="gd", optimizer="adam",
                       device="cpu")
    with pytest.raises(ParameterError, match="2 masks for 1 items"):
        retrieve_batch([a], STFT, n_samples=N, masks=[None, None], device="cpu")
    assert retrieve_batch([], STFT, n_samples=N) == []


def test_cancel_stops_every_item_with_its_best():
    items = [_mag(x, STFT) for x in _signals(2)]
    n = [0]

    def cancel():
        n[0] += 1
        return n[0] > 15

    out = retrieve_batch(items, STFT, n_samples=N, method="fgla", n_iter=200, cancel=cancel,
                         device="cpu")
    assert all(r.stop_reason == "cancelled" and r.n_iter < 200 for r in out)
    for r in out:
        np.testing.assert_array_equal(r.y, r.best_y)
