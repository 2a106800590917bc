"""Several retrievals of one shape side by side: one tensor, one FFT per iteration for all.

On a GPU one item's transform rarely fills the device: stacked, a batch of
``n_items`` costs little more per iteration than one item. The result of each
item is the one :func:`core.retrieval.retrieve.retrieve` gives it alone (same
options, same seed): the stages that treat every coefficient on its own - the
projections (gla, fgla, raar, dm) and gradient descent with sgdm, or adam /
rmsprop with a given ``lr`` - run on the stack, while L-BFGS, whose line search
and history would couple the items, runs item by item from where the stack
stood. Each item keeps its own loop: histories, best estimate, tolerance and
non-finite stop; an item that stopped is no longer booked while the others go on.

No Qt here; torch is imported lazily, as by ``retrieve``.
"""

from __future__ import annotations

import time

import numpy as np

from phasebrush.core.errors import ParameterError, ShapeError
from phasebrush.core.retrieval.retrieve import (
    RetrievalResult,
    _stage_counts,
    _validate,
    _validate_options,
    parse_method,
    result_of,
    stages_label,
    with_init_stages,
)

__all__ = ["retrieve_batch", "BATCHED_STAGES"]

#: Stages that treat each item's coefficients independently: run on the stack.
BATCHED_STAGES = frozenset({"gla", "fgla", "raar", "dm", "gd"})


def retrieve_batch(items, spec, *, n_samples: int, method: str = "auto",
                   optimizer: str = "sgdm", lr: float | None = None,
                   momentum: float | None = None, alpha: float = 0.99, beta=None,
                   n_iter: int = 300, tol: float | None = None, init="zeros", seed: int = 0,
                   device="auto", dtype="float64", masks=None, cancel=None,
                   dx: float = 1.0) -> list[RetrievalResult]:
    """:func:`~core.retrieval.retrieve.retrieve` of each target in ``items``, batched.

    Parameters
    ----------
    items : sequence of np.ndarray [shape=(n_rows, n_frames), float, non-negative]
        Target magnitudes, all of the shape ``spec`` gives ``n_samples`` samples.
    masks : sequence of (np.ndarray or None) or None
        One per item (as ``retrieve``'s ``mask``), or None for none.
    spec, n_samples, method, optimizer, lr, momentum, alpha, beta, n_iter, tol,
    init, seed, device, dtype, cancel, dx
        As for ``retrieve`` (one start, no free padding samples); ``init`` may
        not be an array (one start signal would not fit every item).

    Returns
    -------
    list of RetrievalResult
        In the order of ``items``; each one's ``wall_s`` is the batch's wall
        time divided among its items.

    Raises
    ------
    ShapeError
        Targets of different shapes (batch those of one shape together), or not
        the shape of the ``spec`` transform of ``n_samples`` samples.
    ParameterError
        As ``retrieve``; an adaptive optimiser (adam, rmsprop) without an ``lr``
        (its default step follows each item's scale); an item whose every
        iterate was non-finite.
    """
    import torch

    from phasebrush.core.retrieval import methods as RM
    from phasebrush.core.retrieval.device import cpu_threads, resolve_device, resolve_dtype

    items = list(items)
    if not items:
        return []
    if not isinstance(init, str):
        raise ParameterError("batched retrieval: init must be one of 'zeros', 'random', "
                             "'noise', 'fgla', 'pghi' (a start signal fits one item only)")
    if optimizer in ("adam", "rmsprop") and lr is None:
        raise ParameterError(f"batched retrieval with optimizer={optimizer!r} needs an lr "
                             "(its default step follows each item's own scale)")
    o = _validate_options(n_samples=n_samples, n_iter=n_iter, tol=tol, optimizer=optimizer,
                          lr=lr, momentum=momentum, alpha=alpha, beta=beta, init=init,
                          seed=seed, n_starts=1, padding=0, dx=dx)
    masks = [None] * len(items) if masks is None else list(masks)
    if len(masks) != len(items):
        raise ParameterError(f"{len(masks)} masks for {len(items)} items")
    checked = [_validate(S, spec, m) for S, m in zip(items, masks, strict=True)]
    shapes = {S.shape for S, _ in checked}
    if len(shapes) > 1:
        raise ShapeError(f"batched retrieval needs targets of one shape, got "
                         f"{sorted(shapes)}: batch those of each shape together")
    stages, init = with_init_stages(parse_method(method, spec), init, o["n_iter"])
    n_iter = o["n_iter"]
    counts = _stage_counts(stages, n_iter)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    n = int(o["n_samples"])
    with cpu_threads(dev):
        t0 = time.perf_counter()
        first = RM.Problem.build(checked[0][0], spec, n, mask=checked[0][1], padding=0,
                                 dx=o["dx"], device=dev, dtype=dt)
        probs = [first] + [first.for_target(S, m) for S, m in checked[1:]]
        loops = [RM.Loop(p, n_iter=n_iter, tol=o["tol"], progress=None, cancel=cancel)
                 for p in probs]
        states = [RM.initial_state(p, init, o["seed"], lp, 1)
                  for p, lp in zip(probs, loops, strict=True)]
        stacked = None
        if any(name in BATCHED_STAGES for name, _ in stages):
            all_masks = None if all(m is None for _, m in checked) else np.stack(
                [np.ones(S.shape) if m is None else m for S, m in checked])
            stacked = first.for_target(np.stack([S for S, _ in checked]), all_masks)
        opts = dict(optimizer=optimizer, lr=o["lr"], momentum=o["momentum"],
                    alpha=o["alpha"], beta=beta)
        flushed = torch.set_flush_denormal(True)
        try:
            for (name, _), count in zip(stages, counts, strict=True):
                if count <= 0:
                    continue
                if all(lp.stopped for lp in loops):
                    break
                if name in BATCHED_STAGES and not (name == "gd" and optimizer == "lbfgs"):
                    state = RM.run_stage(name, stacked, _stack(states, loops), count,
                                         _Loops(loops), **opts)
                    states = _unstack(state, len(loops))
                else:
                    states = [s if lp.stopped else RM.run_stage(name, p, s, count, lp, **opts)
                              for p, s, lp in zip(probs, states, loops, strict=True)]
        finally:
            if flushed:
                torch.set_flush_denormal(False)
        ends = [lp.finish(s) for lp, s in zip(loops, states, strict=True)]
    wall = (time.perf_counter() - t0) / len(items)
    label = stages_label(stages)
    return [result_of(lp, p, y, best_y, wall=wall, device=dev, method=label, lr=lr,
                      what=f"item {k}: ")
            for k, (p, lp, (y, best_y)) in enumerate(zip(probs, loops, ends, strict=True))]


class _Loops:
    """The items' loops behind one loop's face, for a stage run on the stack.

    ``record`` books item k's slice in loop k (an item that stopped is no longer
    booked); ``stopped`` once every item has; evaluations are shared out among
    the items still running."""

    def __init__(self, loops):
        self.loops = loops

    @property
    def stopped(self) -> bool:
        return all(lp.stopped for lp in self.loops)

    def record(self, z, c, g, domain):
        for k, lp in enumerate(self.loops):
            if not lp.stopped:
                lp.record(z[k], c[k], g, domain)

    @property
    def n_eval(self) -> int:
        return sum(lp.n_eval for lp in self.loops)

    @n_eval.setter
    def n_eval(self, value) -> None:
        # ``loop.n_eval += B`` for a batch of B: one evaluation each
        per = (int(value) - self.n_eval) // len(self.loops)
        for lp in self.loops:
            if not lp.stopped:
                lp.n_eval += per


def _stack(states, loops):
    """One state of the items' states. The items still running went through the same
    stages, so theirs agree in domain and shape; an item that stopped may have
    stopped elsewhere: it rides along on a running item's values (never booked)."""
    import torch

    from phasebrush.core.retrieval.methods import State

    running = [s for s, lp in zip(states, loops, strict=True) if not lp.stopped]
    ref = running[0] if running else states[0]
    states = [s if s.domain == ref.domain and _like(s, ref) else ref for s in states]

    def both(name):
        vals = [getattr(s, name) for s in states]
        return None if any(v is None for v in vals) else torch.stack(vals)

    return State(z=both("z"), domain=ref.domain, c=both("c"), pc=both("pc"))


def _like(s, ref) -> bool:
    """Same tensors present, of the same shapes."""
    for name in ("z", "c", "pc"):
        a, b = getattr(s, name), getattr(ref, name)
        if (a is None) != (b is None) or (a is not None and a.shape != b.shape):
            return False
    return True


def _unstack(state, n: int):
    from phasebrush.core.retrieval.methods import State

    def part(t, k):
        return None if t is None else t[k]

    return [State(z=part(state.z, k), domain=state.domain, c=part(state.c, k),
                  pc=part(state.pc, k)) for k in range(n)]
