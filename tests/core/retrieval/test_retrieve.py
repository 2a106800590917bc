"""Phase retrieval from STFT and CWT magnitudes (small, fast cases)."""

import numpy as np
import pytest

from phasebrush.core.errors import ParameterError, ShapeError
from phasebrush.core.retrieval.metrics import inconsistency
from phasebrush.core.retrieval.retrieve import METHODS, parse_method, retrieve
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec, transform

STFT = TransformSpec(kind="stft", window="hann", n_fft=64, hop=16)
CWT = TransformSpec(kind="cwt", nv=8)
N = 512


@pytest.fixture(scope="module")
def chirp():
    t = np.arange(N) / N
    return np.cos(2 * np.pi * (10 * t + 60 * t**2)) + 0.3 * np.cos(2 * np.pi * 90 * t)


def _mag(x, spec):
    return np.abs(transform(Signal(y=x), spec).coefficients)


def _incon(x, y, spec):
    return inconsistency(_mag(x, spec), _mag(y, spec))


def _first_incon(S, spec, seed=0):
    r = retrieve(S, spec, n_samples=N, method="gla", n_iter=1, init="random", seed=seed,
                 device="cpu")
    return r.inconsistency


@pytest.mark.parametrize("method, factor", [
    ("raar+fgla", 10), ("raar", 5), ("gla", 3), ("fgla", 3), ("dm", 3), ("gd", 3)])
def test_stft_methods_lower_inconsistency(chirp, method, factor):
    S = _mag(chirp, STFT)
    start = _first_incon(S, STFT)
    r = retrieve(S, STFT, n_samples=N, method=method, n_iter=40, init="random", device="cpu")
    assert r.y.shape == (N,) and r.y.dtype == np.float64
    assert np.all(np.isfinite(r.y))
    # the reported figure is the exact transform's, not the method's own bookkeeping
    assert r.inconsistency == pytest.approx(_incon(chirp, r.y, STFT), rel=1e-6)
    assert r.inconsistency < start / factor
    assert r.n_iter == 40 and len(r.inconsistency_history) == 40
    assert len(r.loss_history) == 40
    assert r.stop_reason == "max_iter"
    assert r.n_eval >= 40


@pytest.mark.parametrize("optimizer", ["sgdm", "adam", "rmsprop", "lbfgs"])
def test_gd_optimizers_all_descend(chirp, optimizer):
    S = _mag(chirp, STFT)
    r = retrieve(S, STFT, n_samples=N, method="gd", optimizer=optimizer, n_iter=30,
                 init="noise", device="cpu")
    h = r.inconsistency_history
    assert h[-1] < 0.5 * h[0]
    if optimizer == "lbfgs":
        assert r.n_eval >= r.n_iter  # line-search evaluations are counted


def test_cwt_retrieval_lowers_inconsistency(chirp):
    S = _mag(chirp, CWT)
    start = _first_incon(S, CWT)
    r = retrieve(S, CWT, n_samples=N, method="raar+fgla", n_iter=30, init="random",
                 device="cpu")
    assert r.inconsistency < start / 10
    assert r.inconsistency == pytest.approx(_incon(chirp, r.y, CWT), rel=1e-6)
    g = retrieve(S, CWT, n_samples=N, method="gd", optimizer="lbfgs", n_iter=30,
                 init="noise", device="cpu")
    assert g.inconsistency_history[-1] < 0.2 * g.inconsistency_history[0]


def test_iteration_history_is_of_the_returned_estimate(chirp):
    S = _mag(chirp, STFT)
    r = retrieve(S, STFT, n_samples=N, method="fgla", n_iter=25, device="cpu")
    assert r.inconsistency_history[-1] == pytest.approx(r.inconsistency, rel=1e-9)
    best = _incon(chirp, r.best_y, STFT)
    assert best == pytest.approx(r.inconsistency_history.min(), rel=1e-9)


def test_tolerance_stops_early(chirp):
    S = _mag(chirp, STFT)
    r = retrieve(S, STFT, n_samples=N, method="raar+fgla", n_iter=300, tol=0.05,
                 device="cpu")
    assert r.stop_reason == "converged"
    assert r.n_iter < 300
    assert r.inconsistency_history[-1] <= 0.05
    assert np.all(r.inconsistency_history[:-1] > 0.05)


def test_cancel_returns_best_so_far(chirp):
    S = _mag(chirp, STFT)
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) >= 12

    r = retrieve(S, STFT, n_samples=N, method="fgla", n_iter=200, cancel=cancel,
                 init="random", device="cpu")
    assert r.stop_reason == "cancelled"
    assert r.n_iter == 12
    np.testing.assert_array_equal(r.y, r.best_y)
    assert _incon(chirp, r.y, STFT) == pytest.approx(r.inconsistency_history.min(), rel=1e-9)


def test_progress_is_called_with_estimates(chirp):
    S = _mag(chirp, STFT)
    seen = []

    def progress(it, loss, inc, est):
        seen.append((it, loss, inc, None if est is None else est.shape))

    r = retrieve(S, STFT, n_samples=N, method="gla", n_iter=20, progress=progress,
                 device="cpu")
    assert seen, "progress never called"
    its = [s[0] for s in seen]
    assert its == sorted(its) and its[-1] == r.n_iter
    assert all(np.isfinite(s[1]) and np.isfinite(s[2]) for s in seen)
    assert all(s[3] == (N,) for s in seen)


def test_mask_constrains_only_masked_cells(chirp):
    S = _mag(chirp, STFT)
    mask = np.zeros(S.shape, bool)
    mask[: S.shape[0] // 2] = True
    # the masked-out half of the target is garbage: it must not matter
    S_bad = S.copy()
    S_bad[~mask] = 1e3
    r = retrieve(S_bad, STFT, n_samples=N, method="raar+fgla", n_iter=60, mask=mask,
                 device="cpu")
    got = _mag(r.y, STFT)
    err = np.linalg.norm((got - S)[mask]) / np.linalg.norm(S[mask])
    assert err < 0.1
    assert r.inconsistency_history[-1] < 0.1


def test_init_array_and_seeds(chirp):
    S = _mag(chirp, STFT)
    r = retrieve(S, STFT, n_samples=N, method="gla", n_iter=3, init=chirp, device="cpu")
    assert r.inconsistency < 1e-8
    a = retrieve(S, STFT, n_samples=N, method="gla", n_iter=3, init="random", seed=1,
                 device="cpu")
    b = retrieve(S, STFT, n_samples=N, method="gla", n_iter=3, init="random", seed=1,
                 device="cpu")
    c = retrieve(S, STFT, n_samples=N, method="gla", n_iter=3, init="random", seed=2,
                 device="cpu")
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.allclose(a.y, c.y)


def test_float32(chirp):
    S = _mag(chirp, STFT)
    r = retrieve(S, STFT, n_samples=N, method="raar+fgla", n_iter=40, dtype="float32",
                 device="cpu")
    assert r.y.dtype == np.float64
    assert r.inconsistency < 0.05


@pytest.mark.parametrize("bad, error", [
    (lambda S: -S, ParameterError),
    (lambda S: np.where(np.arange(S.size).reshape(S.shape) == 5, np.nan, S), ParameterError),
    (lambda S: np.zeros_like(S), ParameterError),
    (lambda S: S[:, :-1], ShapeError),
    (lambda S: S[0], ShapeError),
], ids=["negative", "nan", "zero", "shape", "1-d"])
def test_bad_magnitudes(chirp, bad, error):
    S = _mag(chirp, STFT)
    with pytest.raises(error):
        retrieve(bad(S), STFT, n_samples=N, device="cpu")


def test_shape_error_names_both_shapes(chirp):
    S = _mag(chirp, STFT)
    with pytest.raises(ShapeError, match=r"\(33, 31\).*\(33, 32\)"):
        retrieve(S[:, :-1], STFT, n_samples=N, device="cpu")


@pytest.mark.parametrize("kw", [
    dict(method="nope"), dict(method="raar:1.5+fgla"), dict(optimizer="sgd"),
    dict(init="phase"), dict(n_iter=0), dict(tol=-1.0), dict(device="tpu"),
    dict(dtype="float16"), dict(padding=-1), dict(mask=np.ones((2, 2))),
], ids=lambda kw: next(iter(kw)))
def test_bad_options(chirp, kw):
    S = _mag(chirp, STFT)
    with pytest.raises((ParameterError, ShapeError)):
        retrieve(S, STFT, n_samples=N, **{"device": "cpu", **kw})


def test_ssq_kind_rejected(chirp):
    with pytest.raises(ParameterError, match="ssq"):
        retrieve(np.ones((10, N)), TransformSpec(kind="ssq_cwt"), n_samples=N)


def test_parse_method():
    assert parse_method("gd") == [("gd", 1.0)]
    stages = parse_method("raar:0.6+fgla+gd")
    assert [s for s, _ in stages] == ["raar", "fgla", "gd"]
    assert sum(f for _, f in stages) == pytest.approx(1.0)
    assert stages[0][1] == pytest.approx(0.6)
    assert all(s in METHODS for s, _ in parse_method("auto", "cwt"))


def test_auto_follows_the_wavelet_time_bandwidth():
    from phasebrush.core.retrieval.retrieve import DEFAULT_METHOD, default_method

    assert default_method(TransformSpec(kind="stft")) == DEFAULT_METHOD["stft"]
    assert default_method(TransformSpec(kind="cwt")) == DEFAULT_METHOD["cwt"]
    short = TransformSpec(kind="cwt", time_bandwidth=60.0)
    assert default_method(short) == DEFAULT_METHOD["cwt-short"] == "lbfgs-raar"
    assert parse_method("auto", short) == [("lbfgs-raar", 1.0)]
    # only the Morse wavelet has a time-bandwidth
    assert default_method(TransformSpec(kind="cwt", wavelet="morlet",
                                        time_bandwidth=60.0)) == DEFAULT_METHOD["cwt"]


def test_several_starts_keep_the_best_first_stage(chirp):
    S = _mag(chirp, STFT)
    single = [retrieve(S, STFT, n_samples=N, method="raar", n_iter=20, init="random", seed=s,
                       device="cpu").inconsistency_history[-1] for s in (5, 6, 7)]
    r = retrieve(S, STFT, n_samples=N, method="raar:0.5+fgla", n_iter=40, init="random",
                 seed=5, n_starts=3, device="cpu")
    assert r.y.shape == (N,)
    assert r.n_iter == 40 and len(r.inconsistency_history) == 40
    assert r.n_eval >= 3 * 20 + 20
    # the batch books the best start of each iteration: after the first stage
    # it is exactly the best single run's
    assert r.inconsistency_history[19] == pytest.approx(min(single), rel=1e-9)
    assert r.inconsistency < min(single)


def test_pghi_init_starts_closer_than_random_phase(chirp):
    S = _mag(chirp, STFT)
    pghi = retrieve(S, STFT, n_samples=N, method="gla", n_iter=1, init="pghi", device="cpu")
    assert pghi.inconsistency < 0.5 * _first_incon(S, STFT)
    S = _mag(chirp, CWT)
    pghi = retrieve(S, CWT, n_samples=N, method="gla", n_iter=1, init="pghi", device="cpu")
    assert pghi.inconsistency < 0.5 * _first_incon(S, CWT)


def test_lbfgs_stage_is_gd_with_lbfgs_whatever_the_optimizer(chirp):
    S = _mag(chirp, STFT)
    kw = dict(n_samples=N, n_iter=30, init="noise", device="cpu")
    a = retrieve(S, STFT, method="raar:0.5+lbfgs", optimizer="adam", lr=123.0, **kw)
    b = retrieve(S, STFT, method="raar:0.5+gd", optimizer="lbfgs", **kw)
    np.testing.assert_allclose(a.inconsistency_history, b.inconsistency_history, rtol=1e-9)
    np.testing.assert_allclose(a.y, b.y, rtol=1e-9, atol=1e-12)
    assert a.inconsistency_history[-1] < a.inconsistency_history[14]


def test_stall_watch_tells_a_plateau_from_progress():
    import torch

    from phasebrush.core.retrieval.methods import StallWatch

    class FakeLoop:
        def __init__(self, history):
            self._inc = [torch.tensor(v) for v in history]
            self.iteration = len(history)

    falling = list(np.geomspace(1.0, 1e-3, 60))
    assert not StallWatch(FakeLoop([]))()
    w = StallWatch(FakeLoop([]))
    w.loop = FakeLoop(falling)
    assert not w() and not w.stalled
    w.loop = FakeLoop(falling[:40] + [falling[39] * 0.99] * 20)
    assert w() and w.stalled


def test_lbfgs_raar_kicks_at_a_stall_and_ends_on_the_best(chirp, monkeypatch):
    import phasebrush.core.retrieval.methods as RM

    kicks = []
    real = RM._projection

    def spy(name, *a, **k):
        kicks.append(name)
        return real(name, *a, **k)

    monkeypatch.setattr(RM, "_projection", spy)
    # a watch that sees a stall 40 iterations into every L-BFGS run forces kicks
    monkeypatch.setattr(RM.StallWatch, "__call__", lambda self: setattr(
        self, "stalled", self.loop.iteration - self.first >= 40) or self.stalled)
    S = _mag(chirp, CWT)
    r = retrieve(S, CWT, n_samples=N, method="lbfgs-raar", n_iter=150, init="pghi",
                 device="cpu")
    assert kicks and set(kicks) == {"raar"} and r.n_iter == 150
    # whatever the kicks did, the run ends on its best estimate
    np.testing.assert_array_equal(r.y, r.best_y)
    assert r.inconsistency < 0.5 * r.inconsistency_history[0]


def test_lbfgs_raar_without_a_stall_is_lbfgs(chirp):
    S = _mag(chirp, CWT)
    a = retrieve(S, CWT, n_samples=N, method="lbfgs-raar", n_iter=30, init="pghi", device="cpu")
    b = retrieve(S, CWT, n_samples=N, method="lbfgs", n_iter=30, init="pghi", device="cpu")
    # 30 iterations: too few for a stall check (the first comes at 40)
    np.testing.assert_allclose(a.inconsistency_history, b.inconsistency_history)


def test_a_stage_after_lbfgs_raar_starts_from_its_best(chirp, monkeypatch):
    import phasebrush.core.retrieval.methods as RM

    starts, bests = [], []
    real_projection, real_adopt = RM._projection, RM.Loop.adopt_best

    def spy(name, P, state, *a, **k):
        if name == "gla":
            starts.append(P.signal(P.to_domain(state.z, state.domain, "g"), "g").numpy().copy())
        return real_projection(name, P, state, *a, **k)

    def adopt(self):
        # a marked copy, so that the next stage's start shows where it came from
        best = real_adopt(self) + 1e-3
        bests.append(best.numpy().copy())
        return best

    monkeypatch.setattr(RM, "_projection", spy)
    monkeypatch.setattr(RM.Loop, "adopt_best", adopt)
    monkeypatch.setattr(RM.StallWatch, "__call__", lambda self: setattr(
        self, "stalled", self.loop.iteration - self.first >= 40) or self.stalled)
    S = _mag(chirp, CWT)
    retrieve(S, CWT, n_samples=N, method="lbfgs-raar:0.5+gla", n_iter=200, init="pghi",
             device="cpu")
    assert len(starts) == 1 and len(bests) == 1
    np.testing.assert_allclose(starts[0], bests[0], atol=1e-12)


# --- reliability (issue 9) ----------------------------------------------------------------

@pytest.mark.parametrize("kw", [
    dict(method="raar", beta=5.0),  # diverges after a few hundred iterations
    dict(method="gd", optimizer="sgdm", lr=1e3, momentum=0.0),  # to inf within ~60
], ids=["raar", "gd"])
def test_divergence_stops_with_the_best_finite_estimate(chirp, kw):
    S = _mag(chirp, STFT)
    r = retrieve(S, STFT, n_samples=N, n_iter=3000, device="cpu", **kw)
    h = r.inconsistency_history
    assert r.stop_reason == "non_finite"
    assert r.n_iter < 3000 and not np.isfinite(h[-1])
    assert np.all(np.isfinite(r.y)) and np.all(np.isfinite(r.best_y))
    np.testing.assert_array_equal(r.y, r.best_y)
    assert r.inconsistency == pytest.approx(_incon(chirp, r.best_y, STFT), rel=1e-6)
    assert r.inconsistency_history[np.isfinite(h)].min() == pytest.approx(
        float(_incon(chirp, r.best_y, STFT)), rel=1e-6)


def test_a_late_nan_keeps_the_best_and_says_so_to_progress(chirp, monkeypatch):
    """A NaN after many good iterations (as a 10^7-iteration run met at ~36,000)."""
    import torch

    import phasebrush.core.retrieval.methods as RM

    real = RM.Problem.misfit
    calls = []

    def misfit(self, c, g):
        calls.append(1)
        inc, loss = real(self, c, g)
        if len(calls) > 30:
            inc = inc * torch.nan
        return inc, loss

    seen = []
    monkeypatch.setattr(RM.Problem, "misfit", misfit)
    S = _mag(chirp, STFT)
    r = retrieve(S, STFT, n_samples=N, method="fgla", n_iter=200, device="cpu",
                 progress=lambda it, loss, inc, est: seen.append((inc, est)))
    assert r.stop_reason == "non_finite" and r.n_iter == 31
    best = np.nanmin(r.inconsistency_history)
    assert best == pytest.approx(_incon(chirp, r.best_y, STFT), rel=1e-9)
    np.testing.assert_array_equal(r.y, r.best_y)
    # the last progress report is the estimate the run ends with
    assert seen[-1][0] == pytest.approx(best) and np.array_equal(seen[-1][1], r.best_y)


def test_a_run_with_nothing_finite_is_an_error(chirp, monkeypatch):
    import torch

    import phasebrush.core.retrieval.methods as RM

    real = RM.Problem.misfit
    monkeypatch.setattr(RM.Problem, "misfit",
                        lambda self, c, g: tuple(t * torch.nan for t in real(self, c, g)))
    with pytest.raises(ParameterError, match="NaN or infinite"):
        retrieve(_mag(chirp, STFT), STFT, n_samples=N, method="gla", n_iter=50, device="cpu")


def test_a_diverged_start_does_not_win_the_batch(chirp, monkeypatch):
    import torch

    import phasebrush.core.retrieval.methods as RM

    real = RM.Problem.misfit

    def misfit(self, c, g):
        inc, loss = real(self, c, g)
        if inc.ndim:  # start 0 of the batch is NaN
            inc = torch.where(torch.arange(inc.shape[0]) == 0, torch.nan, inc)
        return inc, loss

    monkeypatch.setattr(RM.Problem, "misfit", misfit)
    r = retrieve(_mag(chirp, STFT), STFT, n_samples=N, method="raar:0.5+fgla", n_iter=20,
                 init="random", n_starts=3, device="cpu")
    assert r.stop_reason == "max_iter" and np.all(np.isfinite(r.inconsistency_history))


@pytest.mark.parametrize("kw, shown", [
    (dict(method="gd", lr=-0.1), "lr=-0.1"),
    (dict(method="gd", lr=float("nan")), "lr=nan"),
    (dict(method="gd", lr=np.float64(np.inf)), "lr=inf"),
    (dict(method="gd", momentum=1.5), "momentum=1.5"),
    (dict(n_iter=2.5), "n_iter=2.5"),
    (dict(n_iter=np.int64(0)), "n_iter=0"),
    (dict(tol=float("nan")), "tol=nan"),
    (dict(method="raar", beta=(1.0, 0.0)), "beta=0.0"),
    (dict(method="fgla", alpha=-1.0), "alpha=-1.0"),
    (dict(n_starts=0), "n_starts=0"),
    (dict(seed=-1), "seed=-1"),
    (dict(dx=0.0), "dx=0.0"),
    (dict(n_samples=1), "n_samples=1"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_numbers_are_parameter_errors_repeating_the_value(chirp, kw, shown):
    S = _mag(chirp, STFT)
    with pytest.raises(ParameterError) as info:
        retrieve(S, STFT, **{"n_samples": N, "n_iter": 5, "device": "cpu", **kw})
    msg = str(info.value)
    assert msg.startswith(shown) and "np." not in msg


def test_beta_schedule_is_linear_without_a_list():
    from phasebrush.core.retrieval.methods import _beta_schedule

    b = _beta_schedule("raar", (1.0, 0.5), 10**7)
    assert b[0] == 1.0 and b[10**7 - 1] == pytest.approx(0.5)
    assert b[(10**7 - 1) // 2] == pytest.approx(0.75, abs=1e-6)
    assert _beta_schedule("dm", None, 1)[0] == 1.0


def test_history_blocks_keep_every_entry():
    import torch

    from phasebrush.core.retrieval.methods import History

    values = np.random.default_rng(0).random(2 * History.BLOCK + 7)
    h = History()
    for v in values:
        h.append(torch.tensor(v))
    assert len(h) == len(values) and float(h[-1]) == values[-1]
    np.testing.assert_array_equal(h.tensor().numpy(), values)
    a, b = History.BLOCK - 3, 2 * History.BLOCK + 2  # across two block boundaries
    np.testing.assert_array_equal(h.span(a, b).numpy(), values[a:b])


def test_stall_watch_running_minimum_matches_the_full_history():
    import torch

    from phasebrush.core.retrieval.methods import History, StallWatch

    class FakeLoop:
        def __init__(self):
            self._inc, self.iteration = History(), 0

    # falls, plateaus, falls again: stalls come and go
    rng = np.random.default_rng(1)
    values = np.concatenate([np.geomspace(1, 1e-2, 300), np.full(200, 1e-2),
                             np.geomspace(1e-2, 1e-4, 300)]) * (1 + 0.01 * rng.random(800))
    loop = FakeLoop()
    watch = StallWatch(loop)
    decisions, expected = [], []
    for v in values:
        loop._inc.append(torch.tensor(v))
        loop.iteration += 1
        n = loop.iteration
        if n >= watch.start and n % watch.every == 0:
            decisions.append(watch())
            h = values[:n]
            expected.append(h[-20:].min() > 0.95 * h[:-20].min())
        else:
            assert not watch()
    assert decisions == expected and any(expected) and not all(expected)


def test_check_options_refuses_what_retrieve_refuses_without_data():
    from phasebrush.core.retrieval.retrieve import check_options

    check_options(STFT, method="gd", lr=0.5, n_iter=10)
    for kw in (dict(lr=-0.1), dict(method="nope"), dict(device="tpu"), dict(n_iter=0)):
        with pytest.raises(ParameterError):
            check_options(STFT, **kw)
