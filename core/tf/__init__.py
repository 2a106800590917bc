"""Time-frequency and selection: transforms, their inverse and what a user paints on them.

Modules:
    transforms     CWT, SSQ-CWT, STFT and SSQ-STFT over ssqueezepy -> ``TFR``
    inversion      the one-integral inverse of a whole TFR or of any mask, plus residual
    bands          bands: regions between two drawn edge curves, in physical units
    masks          painted and soft masks on a TFR's (row, column) grid
    indices        a selection as per-column row intervals (the "indices"), CSV / NPZ
    feature_width  calibrated peak widths (FWHM) of CWT rows, for spectra

The bounded-memory engine for long signals is :mod:`phasebrush.core.engine`.
"""
