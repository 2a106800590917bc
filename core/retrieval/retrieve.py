"""Phase retrieval: a signal from the magnitude of its STFT or CWT (torch).

One entry point, :func:`retrieve`. Every method costs one analysis and one
synthesis per iteration (L-BFGS: per evaluation), with closed-form gradients
instead of an autograd tape:

``gla``   Griffin-Lim: alternate the magnitude and consistency projections.
``fgla``  fast Griffin-Lim (Perraudin et al.), momentum ``alpha``.
``raar``  relaxed averaged alternating reflections (Luke), relaxation ``beta``
          (a float or a ``(start, end)`` linear schedule).
``dm``    difference map (Elser) with gamma_C = -1, gamma_M = 1/beta.
``gd``    gradient descent on ``0.5 * sum w (|A z| - S)^2`` with an optimiser
          ("sgdm", "adam", "rmsprop", "lbfgs"), in coordinates preconditioned by
          the frame operator, so that "sgdm" with ``lr=1`` and no momentum is
          exactly Griffin-Lim.
``lbfgs`` a ``gd`` stage with the L-BFGS optimiser whatever ``optimizer`` says
          (so that a default can end in L-BFGS).
``lbfgs-raar`` L-BFGS that, whenever it stalls (< 5 % better in 20 iterations),
          spends 30 % of the iterations left on a RAAR burst from
          where it stopped, then goes on; it ends on the best estimate seen.
Hybrids chain methods, ``"raar+fgla"``, ``"raar:0.7+fgla+gd"``: each stage
gets a fraction of ``n_iter`` (explicit after a colon, else defaults).

The projections work in coefficient space: ``P_M`` sets the magnitude to
``S`` where the mask is set (and keeps the rest), ``P_C = A A^+`` is the
least-squares projection onto consistent coefficients. For the CWT the
projection methods work on the whole padded domain (an exact, diagonal in
frequency, projection; the target only covers the signal's columns) and
``gd`` on the signal through the exact cropped transform.

See ``core.retrieval.methods`` for the iteration kernels.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from phasebrush.core.errors import ParameterError, ShapeError

__all__ = [
    "METHODS",
    "OPTIMIZERS",
    "INITS",
    "DEFAULT_METHOD",
    "default_method",
    "RetrievalResult",
    "parse_method",
    "check_options",
    "retrieve",
    "estimate_retrieval_bytes",
    "RETRIEVAL_TRANSFORMS",
]

#: Arrays a retrieval holds at once, in units of the transform's own peak: the target
#: magnitude, the estimate's transform and its adjoint's work, the method's state
#: (momentum, previous iterate, best estimate). A rough count, not yet measured.
RETRIEVAL_TRANSFORMS = 4


def estimate_retrieval_bytes(n_samples: int, spec, dx: float = 1.0) -> int:
    """Rough peak bytes of phase retrieval through ``spec`` over ``n_samples``:
    :data:`RETRIEVAL_TRANSFORMS` times :func:`estimate_transform_bytes`."""
    from phasebrush.core.tf.transforms import estimate_transform_bytes

    return RETRIEVAL_TRANSFORMS * int(estimate_transform_bytes(n_samples, spec, dx))


METHODS = ("gd", "gla", "fgla", "raar", "dm", "lbfgs", "lbfgs-raar")
OPTIMIZERS = ("sgdm", "adam", "rmsprop", "lbfgs")
INITS = ("zeros", "random", "noise", "fgla", "pghi")
# the best measured per transform (tests/benchmarks/bench_retrieval.py)
# CWT: the same RAAR stage, then L-BFGS on the exact loss instead of FGLA: on
# the seed chirp scalogram (pghi init) 2-3x lower final inconsistency on
# every seed that reached the basin (median of 5: 5.5e-4 vs 1.2e-3).
# "cwt-short": GMW with time_bandwidth <= 90 (MATLAB's 60): there L-BFGS from
# pghi keeps the start's basin (seed chirp median 2e-6), while any projection
# stage first lost it on the chirp (dm, raar, fgla at 20-80 %: 1e-2 on most
# seeds); on speech L-BFGS stalls at -53 dB, and a RAAR kick at each stall
# takes it to -108.5 dB ("lbfgs-raar"; on the chirp kicks change nothing)
DEFAULT_METHOD = {"stft": "raar:0.8+fgla", "cwt": "raar:0.8+lbfgs", "cwt-short": "lbfgs-raar"}
_SHORT_TIME_BANDWIDTH = 90.0


def default_method(spec) -> str:
    """The method "auto" stands for with transform ``spec`` (a TransformSpec
    or a kind name)."""
    kind = getattr(spec, "kind", spec)
    if kind != "cwt":
        return DEFAULT_METHOD["stft"]
    tb = getattr(spec, "time_bandwidth", None)
    if getattr(spec, "wavelet", None) == "gmw" and tb is not None \
            and float(tb) <= _SHORT_TIME_BANDWIDTH:
        return DEFAULT_METHOD["cwt-short"]
    return DEFAULT_METHOD["cwt"]
_DEFAULT_FRACTIONS = {2: (0.8,), 3: (0.6, 0.25)}


@dataclass(frozen=True, eq=False)
class RetrievalResult:
    """What :func:`retrieve` found.

    Attributes
    ----------
    y : np.ndarray [shape=(n_samples,), float64]
        The last estimate (the best one when cancelled or non-finite).
    best_y : np.ndarray [shape=(n_samples,), float64]
        The estimate with the lowest inconsistency seen.
    loss_history : np.ndarray [shape=(n_iter,), float64]
        Weighted squared relative misfit ``sum w (|A y| - S)^2 / sum w S^2``
        of each iteration's estimate (w: the full-spectrum bin weights).
    inconsistency_history : np.ndarray [shape=(n_iter,), float64]
        ``||(|A y| - S) * mask||_F / ||S * mask||_F`` of each iteration's
        estimate, in the method's own model (with ``padding`` free samples).
        After a "non_finite" stop its last entries are NaN or inf (on a GPU
        up to 16 of them: the check runs every 16 iterations there).
    inconsistency : float
        Of ``y`` through the exact transform of its ``n_samples`` samples.
    stop_reason : {"converged", "max_iter", "cancelled", "non_finite"}
        "converged": ``tol`` reached; "max_iter": ``n_iter`` run;
        "cancelled": ``cancel()`` returned True; "non_finite": an iterate
        became NaN or infinite (the method diverged), the run stopped there
        and ``y`` and ``best_y`` are the best finite estimate before it.
    n_iter : int
        Iterations run.
    n_eval : int
        Analysis + synthesis pairs spent (L-BFGS line searches add some).
    wall_s : float
    device : str
    method : str
        The method as run (``"auto"`` resolved).
    """

    y: np.ndarray
    best_y: np.ndarray
    loss_history: np.ndarray
    inconsistency_history: np.ndarray
    inconsistency: float
    stop_reason: str
    n_iter: int
    n_eval: int
    wall_s: float
    device: str
    method: str


def parse_method(method: str, kind="stft") -> list[tuple[str, float]]:
    """Stages ``[(name, fraction), ...]`` of a method string; fractions sum to 1.

    ``kind``: a kind name or a TransformSpec, for what "auto" stands for
    (:func:`default_method`).

    Raises
    ------
    ParameterError
        Unknown stage name, fraction outside (0, 1), or fractions over 1.
    """
    if not isinstance(method, str) or not method.strip():
        raise ParameterError(f"method={method!r}: expected a name such as 'raar+fgla'")
    if method == "auto":
        method = default_method(kind)
    parts = [p.strip() for p in method.lower().split("+")]
    names, fracs = [], []
    for p in parts:
        name, _, frac = p.partition(":")
        if name not in METHODS:
            raise ParameterError(f"method={method!r}: unknown stage {name!r}; known: {METHODS}")
        names.append(name)
        if frac:
            try:
                f = float(frac)
            except ValueError:
                raise ParameterError(f"method={method!r}: bad fraction {frac!r}") from None
            if not 0 < f < 1:
                raise ParameterError(f"method={method!r}: fraction {f} not in (0, 1)")
            fracs.append(f)
        else:
            fracs.append(None)
    if fracs[-1] is not None and len(parts) > 1:
        raise ParameterError(f"method={method!r}: the last stage takes the rest; give no fraction")
    defaults = _DEFAULT_FRACTIONS.get(len(parts), ())
    out = []
    for i, (n, f) in enumerate(zip(names, fracs, strict=True)):
        if i == len(parts) - 1:
            f = 1.0 - sum(x for _, x in out)
        elif f is None:
            f = defaults[i] if i < len(defaults) else (1.0 - sum(x for _, x in out)) / (
                len(parts) - i)
        out.append((n, f))
    if out[-1][1] <= 0:
        raise ParameterError(f"method={method!r}: stage fractions add up to 1 or more")
    return out


def _show(value) -> str:
    """``value`` as a user would type it: ``nan``, ``0.1``, never ``np.float64(0.1)``."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _whole(name, value, minimum) -> int:
    """``value`` as an int >= ``minimum`` (integral floats such as 300.0 pass)."""
    if isinstance(value, (bool, np.bool_)):
        value = None
    try:
        v = int(value) if float(value).is_integer() else None
    except (TypeError, ValueError, OverflowError):
        v = None
    if v is None:
        raise ParameterError(f"{name}={_show(value)}: need a whole number >= {minimum}")
    if v < minimum:
        raise ParameterError(f"{name}={_show(value)}: need at least {minimum}")
    return v


def _real(name, value, *, low, high=math.inf, low_open=False, high_open=False,
          what="a number"):
    """``value`` as a finite float in the interval; the message says which."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={_show(value)}: need {what}") from None
    lo_ok = v > low if low_open else v >= low
    hi_ok = v < high if high_open else v <= high
    if not (math.isfinite(v) and lo_ok and hi_ok):
        lo = f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high == math.inf else f" and {'<' if high_open else '<='} {high:g}"
        raise ParameterError(f"{name}={_show(value)}: need {what}, finite, {lo}{hi}")
    return v


def _validate_options(*, n_samples, n_iter, tol, optimizer, lr, momentum, alpha, beta, init,
                      seed, n_starts, padding, dx):
    """Every scalar option, checked before any work; returns the ints and floats."""
    n_samples = _whole("n_samples", n_samples, 2)
    n_iter = _whole("n_iter", n_iter, 1)
    if tol is not None:
        tol = _real("tol", tol, low=0.0, what="a non-negative inconsistency")
    if optimizer not in OPTIMIZERS:
        raise ParameterError(f"optimizer={optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
    if lr is not None:
        # torch refuses lr < 0 with its own ValueError, and lr = nan runs NaN
        lr = _real("lr", lr, low=0.0, low_open=True, what="a learning rate")
    if momentum is not None:
        # mu >= 1 never forgets a step: it cannot converge
        momentum = _real("momentum", momentum, low=0.0, high=1.0, high_open=True)
    alpha = _real("alpha", alpha, low=0.0, what="an fgla momentum")
    if beta is not None:
        pair = isinstance(beta, (tuple, list, np.ndarray))
        if pair and len(beta) != 2:
            raise ParameterError(f"beta={_show(beta)}: give one number or a (start, end) pair")
        for b in (beta if pair else (beta,)):
            # dm divides by beta
            _real("beta", b, low=0.0, low_open=True, what="a relaxation")
    if isinstance(init, str) and init not in INITS:
        raise ParameterError(f"init={init!r}: expected one of {', '.join(INITS)} or an array")
    seed = _whole("seed", seed, 0)
    n_starts = _whole("n_starts", n_starts, 1)
    padding = _whole("padding", padding, 0)
    dx = _real("dx", dx, low=0.0, low_open=True, what="a sample spacing")
    return dict(n_samples=n_samples, n_iter=n_iter, tol=tol, lr=lr, momentum=momentum,
                alpha=alpha, seed=seed, n_starts=n_starts, padding=padding, dx=dx)


def check_options(spec, *, method: str = "auto", optimizer: str = "sgdm",
                  lr: float | None = None, momentum: float | None = None, alpha: float = 0.99,
                  beta=None, n_iter: int = 300, tol: float | None = None, init="zeros",
                  seed: int = 0, n_starts: int = 1, padding: int = 0, device="auto",
                  dtype="float64", dx: float = 1.0) -> None:
    """Check :func:`retrieve`'s options (all but the data) before any work,
    e.g. before the transform that makes its target. Same arguments, same
    errors; ``n_samples`` is not checked here.

    Raises
    ------
    ParameterError
        A bad option; the message repeats its value.
    """
    from phasebrush.core.retrieval.device import resolve_device, resolve_dtype

    _validate_options(n_samples=2, n_iter=n_iter, tol=tol, optimizer=optimizer, lr=lr,
                      momentum=momentum, alpha=alpha, beta=beta, init=init, seed=seed,
                      n_starts=n_starts, padding=padding, dx=dx)
    parse_method(method, spec)
    resolve_device(device)
    resolve_dtype(dtype)


def _validate(S, spec, mask):
    S = np.asarray(S)
    if S.ndim != 2:
        raise ShapeError(f"target magnitude must be 2-D (n_rows, n_frames), got shape {S.shape}")
    if np.iscomplexobj(S):
        raise ParameterError("target magnitude is complex; pass its absolute value")
    S = S.astype(np.float64)
    if not np.all(np.isfinite(S)):
        raise ParameterError("target magnitude holds NaN or infinite values")
    if np.any(S < 0):
        raise ParameterError(f"target magnitude has negative values (min {float(S.min()):.6g})")
    if not np.any(S > 0):
        raise ParameterError("target magnitude is all zero: nothing to retrieve")
    if spec.kind not in ("stft", "cwt"):
        raise ParameterError(
            f"kind={spec.kind!r}: retrieval needs a frame transform, 'stft' or 'cwt'")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != S.shape:
            raise ShapeError(f"mask shape {mask.shape} does not match magnitude shape {S.shape}")
        mask = mask.astype(np.float64)
        if not np.all(np.isfinite(mask)) or mask.min() < 0 or mask.max() > 1:
            raise ParameterError("mask weights must lie in [0, 1]")
        if not np.any(mask > 0):
            raise ParameterError("mask is empty: nothing constrains the retrieval")
    return S, mask


def retrieve(S, spec, *, n_samples: int, method: str = "auto", optimizer: str = "sgdm",
             lr: float | None = None, momentum: float | None = None,
             alpha: float = 0.99, beta=None, n_iter: int = 300, tol: float | None = None,
             init="zeros", seed: int = 0, n_starts: int = 1, padding: int = 0,
             device="auto",
             dtype="float64", mask=None, progress=None, cancel=None,
             dx: float = 1.0) -> RetrievalResult:
    """Recover a real signal whose ``spec`` transform has magnitude ``S``.

    Parameters
    ----------
    S : np.ndarray [shape=(n_rows, n_frames), float, non-negative]
        Target magnitude, as ``np.abs(core.tf.transforms.transform(sig, spec).coefficients)``.
    spec : core.tf.transforms.TransformSpec
        kind "stft" or "cwt".
    n_samples : int
        Length of the signal to recover.
    method : str
        "auto" (:func:`default_method` of ``spec``), one of ``METHODS``, or a
        hybrid such as "raar+fgla", "raar:0.6+fgla+gd".
    optimizer : {"sgdm", "adam", "rmsprop", "lbfgs"}
        For "gd" stages ("lbfgs" stages always use L-BFGS).
    lr : float or None
        gd learning rate in preconditioned coordinates; None = per-optimiser
        default (sgdm 1.0 = Griffin-Lim's step; adam/rmsprop a fraction of
        the signal's scale; lbfgs 1.0 with a strong-Wolfe line search).
        An "lbfgs" stage takes ``lr`` only with ``optimizer="lbfgs"``.
    momentum : float or None
        sgdm momentum (Nesterov); None = 0.99.
    alpha : float
        fgla momentum.
    beta : float, (float, float) or None
        raar / dm relaxation; a pair is a linear schedule over the stage.
        None = (1.02, 0.95) for raar, 1.0 for dm.
    n_iter : int >= 1
        An iterate that turns NaN or infinite stops the run early (stop
        reason "non_finite") with the best finite estimate.
    tol : float or None
        Stop ("converged") once the inconsistency is at or below ``tol``.
    init : {"zeros", "random", "noise", "fgla", "pghi"} or np.ndarray [shape=(n_samples,)]
        "zeros": zero phase (deterministic; better than random phase);
        "random": uniformly random phase (``seed``); "noise": a Gaussian
        noise signal (``seed``) scaled to the target's energy; "fgla": the
        first 20 % of the iterations run fgla from random phase; "pghi":
        phase gradient heuristic integration (Prusa; for the CWT a
        filterbank version, see ``core.retrieval.methods.cwt_phase``), a
        one-off cost (speech STFT: ~0.1 s; seed chirp CWT: ~1 s), the
        measured best start for both kinds.
    seed : int
    n_starts : int >= 1
        Run that many starts side by side (a batch: each iteration costs
        ``n_starts`` evaluations) until the end of the first stage (half the
        iterations for a one-stage method), then keep the best-fitting one.
        Histories book the best start of each iteration.
    padding : int >= 0
        Free samples added at each end of the unknown (symmetric extension
        at the start); the transform's remaining padding stays tied to the
        estimate. 0 (default) = the exact transform throughout. The
        reference uses 10; measured here, free samples only raise the exact
        transform's final inconsistency (seed chirp, raar+fgla: 0.026-0.028
        with 10, 0.008 or less with 0), since the returned signal is scored
        with the transform's own reflect padding.
    device : {"auto", "cpu", "cuda", "mps"}
    dtype : {"float64", "float32"}
    mask : np.ndarray [shape of S, bool or weights in [0, 1]] or None
        Constrain the magnitude only where set (weights blend the target
        with the estimate's own magnitude).
    progress : callable(iteration, loss, inconsistency, estimate) or None
        Called at most ~20 times a second and at the end; ``estimate`` is
        the current ``(n_samples,)`` float64 signal.
    cancel : callable() -> bool or None
        Checked every iteration; True stops with the best estimate so far.
    dx : float
        Sample spacing (the CWT's frequency limits depend on it).

    Returns
    -------
    RetrievalResult

    Raises
    ------
    ShapeError
        ``S`` (or ``mask``) does not have the shape ``spec`` gives an
        ``n_samples`` signal.
    ParameterError
        Negative, NaN or all-zero magnitudes; bad options (the message repeats
        the value); a run whose every iterate was non-finite (nothing finite
        to return).
    """
    import torch

    from phasebrush.core.retrieval import methods as RM
    from phasebrush.core.retrieval.device import cpu_threads, resolve_device, resolve_dtype

    o = _validate_options(n_samples=n_samples, n_iter=n_iter, tol=tol, optimizer=optimizer,
                          lr=lr, momentum=momentum, alpha=alpha, beta=beta, init=init,
                          seed=seed, n_starts=n_starts, padding=padding, dx=dx)
    n_samples, n_iter, tol, lr, momentum, alpha = (
        o["n_samples"], o["n_iter"], o["tol"], o["lr"], o["momentum"], o["alpha"])
    seed, n_starts, padding, dx = o["seed"], o["n_starts"], o["padding"], o["dx"]
    S, mask = _validate(S, spec, mask)
    stages = parse_method(method, spec)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    # one CPU thread: see core.retrieval.device.cpu_threads (2 threads measured ~50x slower here)
    with cpu_threads(dev):
        t0 = time.perf_counter()
        problem = RM.Problem.build(S, spec, int(n_samples), mask=mask, padding=int(padding),
                                   dx=dx, device=dev, dtype=dt)
        stages, init = with_init_stages(stages, init, int(n_iter))
        loop = RM.Loop(problem, n_iter=int(n_iter), tol=tol, progress=progress, cancel=cancel)
        state = RM.initial_state(problem, init, seed, loop, int(n_starts))
        if int(n_starts) > 1:
            # select at the first stage boundary (or half way through one stage)
            if len(stages) == 1:
                stages = [(stages[0][0], 0.5), (stages[0][0], 0.5)]
            select_after = 0
        else:
            select_after = None
        counts = _stage_counts(stages, int(n_iter))
        # iterates decay towards zero where S ~ 0: denormal floats there slowed
        # whole runs 10-50x (measured); flush them for the run, then restore
        flushed = torch.set_flush_denormal(True)
        try:
            state = _run(stages, counts, select_after, problem, state, loop, optimizer=optimizer,
                         lr=lr, momentum=momentum, alpha=alpha, beta=beta)
        finally:
            if flushed:
                torch.set_flush_denormal(False)
        y, best_y = loop.finish(state)
    return result_of(loop, problem, y, best_y, wall=time.perf_counter() - t0, device=dev,
                     method=stages_label(stages), lr=lr)


def stages_label(stages) -> str:
    """The method as run: "raar:0.8+fgla" (every stage's share but the last)."""
    return "+".join(f"{n}:{f:.3g}" if i < len(stages) - 1 else n
                    for i, (n, f) in enumerate(stages))


def result_of(loop, problem, y, best_y, *, wall: float, device, method: str, lr,
              what: str = "") -> RetrievalResult:
    """The RetrievalResult of a finished ``loop`` (``what`` prefixes its error).

    Raises ParameterError when no iterate was finite."""
    if not loop.best_found:
        given = "" if lr is None else f" with lr={_show(lr)}"
        raise ParameterError(
            f"{what}method {method!r}{given} diverged: every estimate was NaN or infinite, "
            f"from iteration 1 to {loop.iteration}; nothing finite to return (try a smaller "
            "lr, another method or init)")
    return RetrievalResult(
        y=y, best_y=best_y, loss_history=loop.loss_history(),
        inconsistency_history=loop.inconsistency_history(),
        inconsistency=problem.true_inconsistency(y), stop_reason=loop.stop_reason,
        n_iter=loop.iteration, n_eval=loop.n_eval, wall_s=wall, device=str(device),
        method=method)


def with_init_stages(stages, init, n_iter: int):
    """``(stages, init)`` as run: init "fgla" is a first fgla stage of 20 % of the
    iterations from random phase (the method's stages share the rest)."""
    if not (isinstance(init, str) and init == "fgla"):
        return stages, init
    k = max(1, int(round(0.2 * n_iter)))
    if len(stages) == 1:
        return [("fgla", k / n_iter), (stages[0][0], 1 - k / n_iter)], "random"
    return [("fgla", k / n_iter)] + [(n, f * (1 - k / n_iter)) for n, f in stages], "random"


def _run(stages, counts, select_after, problem, state, loop, **opts):
    from phasebrush.core.retrieval import methods as RM

    for i, ((stage, _), count) in enumerate(zip(stages, counts, strict=True)):
        if count > 0:
            state = RM.run_stage(stage, problem, state, count, loop, **opts)
        if i == select_after:
            state = RM.select_start(state, loop)
        if loop.stopped:
            break
    return state


def _stage_counts(stages, n_iter):
    counts, used = [], 0
    for i, (_, f) in enumerate(stages):
        if i == len(stages) - 1:
            c = n_iter - used
        else:
            c = min(n_iter - used, int(math.floor(f * n_iter + 0.5)))
        counts.append(max(c, 0))
        used += counts[-1]
    return counts
