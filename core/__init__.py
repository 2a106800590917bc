"""PhaseBrush core: numerics and I/O, with no Qt import (tests/core/test_core_is_qt_free.py).

Subpackages, each with an ``__init__`` that lists its modules:
    io/         reading and writing: signals, JCAMP-DX, transforms as NPZ, selection
                tables, sessions, atomic writes, the demo signals
    tf/         time-frequency and selection: transforms, inversion, bands, masks,
                indices, peak widths
    engine/     the bounded-memory engine for long signals (column ranges, streaming
                inversion, multirate CWT, magnitude images)
    retrieval/  phase retrieval from magnitudes (torch): the entry point, the
                iteration kernels, differentiable transforms, device choice, metrics
    analysis/   saliency heatmaps and attributions, ridges, coherence

Modules:
    errors        exception types
    signal        the Signal dataclass (uniformly sampled 1-D data)
    memory        the memory budget work is checked against (estimates live with the
                  work they estimate: tf.transforms, retrieval.retrieve)
    playback      Qt-free helpers for listening (rates, A/B positions, sonification)
    lean_imports  ssqueezepy imported without torch (torch only for retrieval)
"""

from phasebrush.core import lean_imports as _lean_imports

_lean_imports.install()
