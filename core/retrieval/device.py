"""Torch device and dtype selection (torch imported lazily, so ``import core`` stays light)."""

from __future__ import annotations

import contextlib

from phasebrush.core.errors import ParameterError

__all__ = ["resolve_device", "resolve_dtype", "cpu_threads", "DEVICES", "DTYPES"]

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("float64", "float32")


def resolve_device(device="auto"):
    """A ``torch.device`` for ``device``.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "mps"} or torch.device
        "auto" = cuda when available, then mps, then cpu.

    Raises
    ------
    ParameterError
        Unknown name, or a device this torch build cannot use.
    """
    import torch

    if isinstance(device, torch.device):
        return device
    name = str(device).lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    base = name.split(":")[0]
    if base not in DEVICES:
        raise ParameterError(f"device={device!r}: expected one of {DEVICES}")
    if base == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device={device!r}: this torch build sees no CUDA device")
    if base == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ParameterError(f"device={device!r}: MPS is not available here")
    return torch.device(name)


def resolve_dtype(dtype="float64"):
    """``torch.float64`` or ``torch.float32`` from a name or a torch dtype.

    Raises
    ------
    ParameterError
        Anything else.
    """
    import torch

    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float64, torch.float32):
            raise ParameterError(f"dtype={dtype}: expected float64 or float32")
        return dtype
    name = str(dtype)
    if name not in DTYPES:
        raise ParameterError(f"dtype={dtype!r}: expected one of {DTYPES}")
    return torch.float64 if name == "float64" else torch.float32


@contextlib.contextmanager
def cpu_threads(device, n: int = 1):
    """Run torch's CPU kernels on ``n`` threads inside the block (no-op off the CPU).

    Retrieval's FFTs are small (a 256-point STFT of a few hundred frames): one thread
    measured 0.56 s for 300 speech iterations where torch's default two threads took
    29 s on a 2-core machine with another process running (`phasebrush retrieve`,
    OMP_NUM_THREADS=1 vs unset) — the threads spin-wait against each other.
    """
    import torch

    if getattr(device, "type", str(device)) != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
