"""A whole-recording overview image, computed tile by tile so it can be shown as it grows.

A display source's LRU cache cannot hold every tile of an hour of audio, so
the overview is not "one image of the cached tiles": it is built once, in
pixel groups that each span about one tile, and handed over after every
group (left to right, the part not yet computed is NaN).
"""

from __future__ import annotations

import numpy as np

from phasebrush.core.engine.blocks import Steps

__all__ = ["overview_image", "pixel_edges", "spectral_overview", "row_power_filters",
           "OVERVIEW_FFT", "SPECTRAL_ABOVE_SAMPLES"]


def pixel_edges(c0: int, c1: int, width: int) -> np.ndarray:
    """First column of each pixel, and the end [shape=(width + 1,), int64]:
    pixel p covers ``[e[p], e[p + 1])`` (the display sources' convention)."""
    return int(c0) + (np.arange(int(width) + 1, dtype=np.int64) * (int(c1) - int(c0))) // int(width)


def overview_image(source, *, width: int, c0: int = 0, c1: int | None = None,
                   mode: str = "peak", group_columns: int | None = None, partial=None,
                   cancel=None, progress=None) -> np.ndarray:
    """The dB image of columns ``[c0, c1)`` at ``width`` pixels, group by group.

    Parameters
    ----------
    source : display source
        Anything with ``image(a, b, *, width, mode, db, cancel)`` and
        ``n_columns`` (:mod:`core.engine.display`, MagnitudePyramid).
    width : int >= 1
    group_columns : int or None
        Columns per group (about one of the source's tiles; None = its
        ``tile_length`` or 2**18).
    partial : callable (image, fraction) -> None, or None
        Called after each group with the image so far [float32, NaN where not
        yet computed] - the same array each time, so a caller that keeps it
        must copy.
    cancel, progress
        As everywhere in the engine.

    Returns
    -------
    np.ndarray [shape=(n_rows, width), float32, dB]
        Row 0 = lowest frequency.
    """
    steps = Steps.of(cancel, progress, "overview")
    n = int(source.n_columns) if c1 is None else int(c1)
    width = max(1, min(int(width), n - int(c0)))
    edges = pixel_edges(c0, n, width)
    G = int(group_columns or getattr(source, "tile_length", 0) or (1 << 18))
    out = None
    p = 0
    while p < width:
        # the most pixels whose columns stay within about one group (at least one pixel)
        q = int(np.searchsorted(edges, edges[p] + G, side="right")) - 1
        q = min(max(q, p + 1), width)
        part = steps.part(p / width, q / width)
        img = source.image(int(edges[p]), int(edges[q]), width=q - p, mode=mode, db=True,
                           cancel=part)
        if out is None:
            out = np.full((img.shape[0], width), np.nan, dtype=np.float32)
        out[:, p:q] = img
        p = q
        steps.check(p / width)
        if partial is not None:
            partial(out, p / width)
    return out


# -- a fast RMS overview from frame power spectra ----------------------------------------

#: Frame length of :func:`spectral_overview` (2.7 Hz bins at 44.1 kHz).
OVERVIEW_FFT = 1 << 14
#: Images whose pixels span this many samples or more are estimated from frame spectra
#: by the GUI and the CLI (the exact path would compute every coefficient of the range
#: to show a few thousand pixels); narrower pixels get the exact peak / RMS.
SPECTRAL_ABOVE_SAMPLES = 8192
_FRAME_CHUNK = 256   # frames whose spectra are held at once (~17 MB at the default length)


def row_power_filters(spec, n_samples: int, *, dx: float = 1.0, M: int = OVERVIEW_FFT,
                      rows=None) -> np.ndarray:
    """|filter|^2 of each TFR row on the rfft bins of an M grid.

    ``F[r, k]`` is such that, for a stationary stretch of signal with frame
    power spectrum ``P[k] = |rfft(w x)|^2 / sum(w^2)``, the mean of
    ``|C[r, t]|^2`` over the stretch is ``sum_k P[k] F[r, k] / M`` (Parseval,
    negative frequencies folded onto positive ones).

    The synchrosqueezed kinds have no filter per row: the squeeze moves a
    coefficient into the row whose frequency bin holds its instantaneous
    frequency (the nearest row in log2 frequency for 'ssq_cwt', in frequency
    for 'ssq_stft'). Their ``F[r]`` is the row's bin (between the midpoints
    to the neighbouring rows), each rfft bin weighted by its share of it,
    times ``(2 R / w_r)^2``: a component squeezed into one row comes back as
    ``sum_r w_r Re Tx[r]``, so a tone of amplitude A reaches its row with
    ``|Tx| = A R / w_r`` (``R`` the wavelets' total response, 1 inside their
    range; 1 for the STFT). An SSQ-CWT's edge rows are not squeezed: their
    ``F`` is their filter's, ``4 |G|^2`` on either side of the split.
    Measured against the exact RMS (tests/core/engine/test_engine_overview.py):
    tones and chirps, whose coefficients add coherently in the squeeze, are
    within ~0.5 dB; a broadband noise floor, whose coefficients add
    incoherently, comes out too high by ~3 dB (SSQ-STFT; SSQ-CWT at nv 8),
    ~5 dB (nv 16), ~7 dB (nv 32). On tones + chirp + noise the median
    deviation over the cells within 30 dB of the peak is 0.5-1 dB (nv 8 and
    SSQ-STFT), 1.5-2.5 dB at nv 32.

    Parameters
    ----------
    spec : TransformSpec
        Any kind.
    n_samples : int
        The whole signal's length (the CWT kinds' rows depend on it).
    dx : float
    M : int
        The frames' length.
    rows : sequence of int or None
        TFR rows; None = all.

    Returns
    -------
    np.ndarray [shape=(n_rows, M // 2 + 1), float32]
    """
    from phasebrush.core.engine import cwt_blocks as CB
    from phasebrush.core.tf import transforms as T

    M = int(M)
    k = np.arange(M // 2 + 1)
    if spec.kind in ("ssq_cwt", "ssq_stft"):
        return _ssq_power_filters(spec, int(n_samples), float(dx), M, rows)
    if spec.kind == "cwt":
        from dataclasses import replace

        geom = CB.cwt_geometry(replace(spec, kind="cwt"), int(n_samples), dx=dx)
        rows = np.arange(geom.n_rows) if rows is None else np.asarray(rows, np.intp)
        out = np.empty((len(rows), M // 2 + 1), np.float32)
        for i in range(0, len(rows), 64):
            f = CB.row_filters(geom, rows[i:i + 64], M) ** 2
            fold = f[:, k] + f[:, (M - k) % M]
            fold[:, 0] = f[:, 0]
            if M % 2 == 0:
                fold[:, -1] = f[:, M // 2]
            out[i:i + 64] = fold
        return out
    # STFT: row f is the window's transform shifted to bin f; on the M grid the
    # window (n_fft long) zero-padded, its |G|^2 placed at f * M / n_fft.
    g = np.asarray(T.stft_window(spec), float)
    n_fft = int(spec.n_fft)
    G2 = np.abs(np.fft.fft(g, M)) ** 2
    n_rows = n_fft // 2 + 1
    rows = np.arange(n_rows) if rows is None else np.asarray(rows, np.intp)
    out = np.empty((len(rows), M // 2 + 1), np.float32)
    for i, r in enumerate(rows):
        shift = int(round(r * M / n_fft))
        pos = G2[(k - shift) % M]
        neg = G2[(-k - shift) % M]
        out[i] = pos + np.where((k == 0) | (k == M // 2), 0.0, neg)
    return out


def _ssq_power_filters(spec, n: int, dx: float, M: int, rows) -> np.ndarray:
    """:func:`row_power_filters` of a synchrosqueezed transform (the bins' rule)."""
    from phasebrush.core.engine.ssq_blocks import SSQ_TOL, _CWTFilters, _rows_of, ssq_grid

    K = M // 2 + 1
    df = 1.0 / (M * dx)
    fk = np.arange(K) * df                      # rfft bin frequencies
    if spec.kind == "ssq_stft":
        freqs, w, _ = ssq_grid(spec, n, dx=dx)
        h = 0.5 / (int(spec.n_fft) * dx)
        lo, hi = freqs - h, freqs + h           # the squeeze's nearest linear bin
        cover = np.ones(K)
        edges = None
    else:
        filt = _CWTFilters(spec, n, dx, SSQ_TOL)
        freqs, w, _ = _rows_of(spec, n, dx, filt.ssq_freqs)
        f = filt.ssq_freqs
        # the squeeze's nearest bin in log2 frequency: midpoints in log between the rows
        mid = np.sqrt(f[1:] * f[:-1])
        lo = np.concatenate([[f[0] ** 2 / mid[0]], mid])
        hi = np.concatenate([mid, [f[-1] ** 2 / mid[-1]]])
        # the wavelets' real-part response R: what a component at fk reaches the rows with
        u = 2.0 * np.pi * np.arange(K) / M
        R = filt._edge_R(K, u)
        cover = R * R
        edges = None
        if filt.edge:
            G2 = (1.0 - R) ** 2
            analytic = np.full(K, 4.0)
            analytic[0] = 1.0
            if M % 2 == 0:
                analytic[-1] = 1.0
            below = u < 2.0 * np.pi * filt.k_mid
            edges = (analytic * G2 * below, analytic * G2 * ~below)
    # each bin's share of the row's band (bands narrower than a bin take a fraction)
    a = np.maximum(lo[:, None], fk[None, :] - 0.5 * df)
    b = np.minimum(hi[:, None], fk[None, :] + 0.5 * df)
    share = np.clip(b - a, 0.0, None) / df
    wav = share * cover[None, :] * ((2.0 / w[1:-1] if edges else 2.0 / w) ** 2)[:, None]
    out = np.vstack([edges[0][None], wav, edges[1][None]]) if edges else wav
    out = out.astype(np.float32)
    return out if rows is None else out[np.asarray(rows, np.intp)]


def spectral_overview(y, spec, *, dx: float = 1.0, width: int, c0: int = 0,
                      c1: int | None = None, M: int = OVERVIEW_FFT, hop: int | None = None,
                      filters: np.ndarray | None = None, partial=None, cancel=None,
                      progress=None) -> np.ndarray:
    """A fast RMS overview: each pixel's mean |C|^2 per row from frame power spectra.

    For a pixel covering columns ``[e_p, e_p+1)`` the image holds
    ``10 log10(mean_t |C[r, t]|^2)`` estimated by Parseval from the mean
    power spectrum of Hann frames of ``M`` samples centred in the pixel
    (Welch), weighted by each row's ``|filter|^2``
    (:func:`row_power_filters`): one FFT per frame and one matrix product,
    instead of every coefficient. It is the RMS image smoothed over
    ``M`` samples (~0.4 s at 44.1 kHz): exact for stationary stretches, blurred
    at onsets, and the rows whose filters are narrower than a bin
    (``1 / (M dx)``) are estimated from few bins. For a whole-recording view,
    where a pixel spans many frames; zoomed views use the exact display
    sources.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), float]
    spec : TransformSpec
        Any kind (the SSQ kinds' rows as their frequency bins, see
        :func:`row_power_filters`).
    width : int
    c0, c1 : int
        Sample range (hop-1 columns).
    M, hop : int
        Frame length and hop (None: M // 2, or less so every pixel gets a frame).
    filters : np.ndarray or None
        :func:`row_power_filters` for this ``spec`` and ``M`` (computed if None).
    partial, cancel, progress
        As :func:`overview_image`.

    Returns
    -------
    np.ndarray [shape=(n_rows, width), float32, dB re 1]
        Row 0 = lowest frequency.
    """
    steps = Steps.of(cancel, progress, "overview")
    y = np.asarray(y, dtype=np.float64).ravel()
    n = len(y)
    c1 = n if c1 is None else int(c1)
    c0 = int(c0)
    width = max(1, min(int(width), c1 - c0))
    M = int(min(M, 1 << int(np.floor(np.log2(max(16, n))))))
    F = row_power_filters(spec, n, dx=dx, M=M) if filters is None else filters
    edges = pixel_edges(c0, c1, width)
    px = max(1, (c1 - c0) // width)
    hop = int(hop or max(1, min(M // 2, px)))
    centres = np.arange(c0 + hop // 2, c1, hop)
    pix = np.clip(np.searchsorted(edges, centres, side="right") - 1, 0, width - 1)
    w = np.hanning(M + 2)[1:-1]
    norm = float(np.sum(w * w)) * M
    acc = np.zeros((width, M // 2 + 1), np.float64)
    count = np.zeros(width, np.int64)
    out = np.full((F.shape[0], width), np.nan, np.float32)
    offs = np.arange(M) - M // 2
    done_px = 0
    for i in range(0, len(centres), _FRAME_CHUNK):
        steps.check(i / max(1, len(centres)))
        cc = centres[i:i + _FRAME_CHUNK]
        idx = cc[:, None] + offs[None, :]
        # reflect at the ends, as the transforms pad
        idx = np.abs(idx)
        idx = np.where(idx >= n, 2 * (n - 1) - idx, idx)
        frames = y[np.clip(idx, 0, n - 1)] * w
        P = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        p = pix[i:i + _FRAME_CHUNK]
        # frames are in column order, so each pixel's frames are one run
        starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
        acc[p[starts]] += np.add.reduceat(P, starts, axis=0)
        count[p[starts]] += np.diff(np.r_[starts, len(p)])
        if partial is not None or i + _FRAME_CHUNK >= len(centres):
            # pixels before the last one touched are complete
            hi = int(p[-1]) if i + _FRAME_CHUNK < len(centres) else width
            if hi > done_px:
                seg = acc[done_px:hi] / np.maximum(count[done_px:hi], 1)[:, None] / norm
                val = (seg.astype(np.float32) @ F.T).T
                with np.errstate(divide="ignore"):
                    out[:, done_px:hi] = 10.0 * np.log10(np.maximum(val, 1e-30))
                done_px = hi
                if partial is not None:
                    partial(out, done_px / width)
    steps.check(1.0)
    return out
