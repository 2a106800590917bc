"""Reading and writing: signals, spectra, transforms, selections and sessions on disk.

Modules:
    signals          load and save signals (audio, CSV/TXT, NPY/NPZ; JCAMP-DX through jcamp)
    common           what both readers share: input bytes, text decoding, a Signal from x, y
    jcamp            JCAMP-DX spectra through the ``jcamp`` package, checked
    atomic           atomic file writes (temp file + rename)
    tfr              a TFR or a magnitude target and its parameters as NPZ
    selection_table  bands as Raven selection tables and Audacity label tracks
    session          session files (the work, not the data)
    demo             the built-in demo signals from ``phasebrush.resources``

Nothing is imported here, so ``import phasebrush.core.io.atomic`` stays light.
"""
