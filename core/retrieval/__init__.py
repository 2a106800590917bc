"""Phase retrieval: a signal back from the magnitudes of its STFT or CWT (torch).

Modules:
    retrieve          the entry point :func:`retrieve.retrieve`, its options and result
    batched           several targets of one shape retrieved side by side in one tensor
    methods           the iteration kernels (Griffin-Lim family, RAAR, DM, gradient descent)
    torch_transforms  differentiable STFT / CWT operators matching the numpy transforms
    device            torch device, dtype and thread choice (cuda, mps, cpu)
    metrics           spectral convergence, relative L2, SNR

Nothing is imported here: torch loads only when retrieval runs.
"""
