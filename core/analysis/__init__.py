"""Analysis on top of a transform: saliency heatmaps, attributions, ridges, coherence.

Modules:
    heatmap      a saliency heatmap (NPY or image) read as a 2-D array, oriented to a TFR
    attribution  heatmap-weighted inversion and the per-sample attribution curve
    ridges       bands proposed around a transform's strongest ridges
    coherence    wavelet coherence and phase difference of two signals
"""
