"""PhaseBrush core: numerics and I/O, with no Qt import (tests/core/test_core_is_qt_free.py).

Modules:
    errors           exception types
    signal           the Signal dataclass (uniformly sampled 1-D data)
    io, jcamp_io     loaders and writers for signals (audio, CSV/TXT, NPY/NPZ, JCAMP-DX)
    atomic           atomic file writes (temp file + rename)
    demo             built-in demo signals from resources/
    transforms       CWT, SSQ-CWT, STFT, SSQ-STFT over ssqueezepy -> TFR
    tfr_io           TFR / magnitude targets as NPZ
    bands, masks     bands (edge polylines) and painted / soft masks
    selection_table  Raven / Audacity selection tables
    inversion        one-integral inverse of any mask, plus residual
    torch_transforms differentiable STFT / CWT operators (torch)
    retrieval        phase retrieval from magnitudes (retrieval_methods: the loops)
    metrics          spectral convergence, rel-L2, SNR
    device           torch device / dtype / thread choice
    heatmap, attribution  saliency maps as masks, attribution curves
    ridges           ridge proposals as bands
    coherence        wavelet coherence and phase difference
    playback         Qt-free helpers for listening (rates, A/B positions, sonification)
    session          session files
    memory           memory estimates and the budget work is checked against
    engine/          the bounded-memory engine for long signals (column ranges, streaming
                     inversion, multirate CWT, magnitude images)
    lean_imports     ssqueezepy imported without torch (torch only for retrieval)
    indices          the selection as per-column row intervals ("indices"), CSV / NPZ
    feature_width    calibrated peak widths (FWHM) of CWT rows, for spectra
"""

from phasebrush.core import lean_imports as _lean_imports

_lean_imports.install()
