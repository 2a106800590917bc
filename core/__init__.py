"""PhaseBrush core: numerics and I/O, with no Qt import.

Modules:
    errors      exception types
    signal      the Signal dataclass (uniformly sampled 1-D data)
    io          loaders and atomic writers for signals
    transforms  CWT, SSQ-CWT, STFT, SSQ-STFT over ssqueezepy -> TFR
    masks       bands (edge polylines) and painted / soft masks
    inversion   one-integral inverse of any mask, plus residual
    retrieval   phase retrieval from magnitudes (torch)
    metrics     spectral convergence, rel-L2, SNR
"""
