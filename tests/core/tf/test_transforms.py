"""Tests for core/tf/transforms.py: conventions, exact full-mask identity, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import ssqueezepy

from phasebrush.core.errors import Cancelled, ParameterError
from phasebrush.core.signal import Signal
from phasebrush.core.tf import transforms as T
from phasebrush.core.tf.transforms import (
    KINDS,
    TFR,
    WAVELETS,
    TransformSpec,
    apply_filterbank,
    cwt_filterbank,
    cwt_padding,
    min_samples,
    reflect_pad,
    stft_frames,
    stft_row_weights,
    stft_window,
    transform,
)

SMALL_STFT = dict(n_fft=128)


def full_inverse(tfr: TFR) -> np.ndarray:
    return tfr.row_weights @ tfr.coefficients.real + tfr.offset


def spec_for(kind, **kw):
    if kind in ("stft", "ssq_stft"):
        kw = {**SMALL_STFT, **kw}
    return TransformSpec(kind=kind, **kw)


# -- full mask = identity ---------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fixture", ["chirp_signal", "voice_like", "speech_slice"])
def test_full_inverse_reproduces_signal(kind, fixture, request, rel_error):
    sig = request.getfixturevalue(fixture)
    if isinstance(sig, tuple):
        sig = sig[0]
    tfr = transform(sig, spec_for(kind))
    err = rel_error(full_inverse(tfr), sig.y)
    assert err <= (1e-2 if kind in ("cwt", "ssq_cwt") else 1e-6)
    # the edge rows make the CWT kinds exact, not just within tolerance
    assert err < 1e-8


@pytest.mark.parametrize("kind", ["cwt", "ssq_cwt"])
@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("scales", ["log", "log-piecewise"])
def test_cwt_identity_every_wavelet_and_scale_kind(kind, wavelet, scales, two_components,
                                                   rel_error):
    sig, _ = two_components
    tfr = transform(sig, TransformSpec(kind=kind, wavelet=wavelet, scales=scales, nv=16))
    assert rel_error(full_inverse(tfr), sig.y, trim=0.0) < 1e-8
    assert tfr.edge_row_indices == (0, tfr.n_rows - 1)
    assert list(tfr.row_weights[[0, -1]]) == [1.0, 1.0]


@pytest.mark.parametrize("kind", ["cwt", "ssq_cwt"])
def test_without_edge_rows_the_mean_is_the_offset_and_some_signal_is_lost(
        kind, speech_slice, rel_error):
    tfr = transform(speech_slice, TransformSpec(kind=kind, edge_rows=False))
    assert tfr.edge_row_indices == ()
    assert tfr.offset == pytest.approx(speech_slice.y.mean())
    err = rel_error(full_inverse(tfr), speech_slice.y)
    assert 1e-6 < err <= 1e-1  # what plain ssqueezepy loses; edge rows recover it


def test_fmin_fmax_limit_the_wavelet_rows_and_edges_keep_the_identity(chirp_signal, rel_error):
    spec = TransformSpec(kind="cwt", fmin=30.0, fmax=200.0, nv=16)
    tfr = transform(chirp_signal, spec)
    wav = tfr.frequencies[1:-1]
    assert wav[0] >= 30.0 and wav[-1] <= 200.0
    assert wav[0] < 30.0 * 2 ** (2 / 16) and wav[-1] > 200.0 / 2 ** (2 / 16)
    assert rel_error(full_inverse(tfr), chirp_signal.y, trim=0.0) < 1e-8
    # ssq_cwt of the same spec has the same rows and frequencies
    tsq = transform(chirp_signal, spec.__class__(**{**spec.to_dict(), "kind": "ssq_cwt"}))
    np.testing.assert_allclose(tsq.frequencies, tfr.frequencies, rtol=1e-12)


@pytest.mark.parametrize("kind", ["cwt", "ssq_cwt"])
def test_time_bandwidth_shapes_the_morse_wavelet_and_keeps_the_identity(
        kind, two_components, rel_error):
    sig, _ = two_components
    wide = transform(sig, TransformSpec(kind=kind, nv=16))
    short = transform(sig, TransformSpec(kind=kind, nv=16, time_bandwidth=60.0))
    assert rel_error(full_inverse(short), sig.y, trim=0.0) < 1e-8
    # shorter in time = wider in frequency: the lower time-bandwidth covers
    # more octaves with its rows at the same nv (ssqueezepy picks the scales)
    assert short.n_rows != wide.n_rows or not np.allclose(short.magnitude, wide.magnitude)
    fb = cwt_filterbank(TransformSpec(kind="cwt", nv=16, time_bandwidth=60.0), sig.n, dx=sig.dx)
    fb0 = cwt_filterbank(TransformSpec(kind="cwt", nv=16), sig.n, dx=sig.dx)
    e0, e1 = fb.edge_row_indices
    row = fb.psi[e0 + 1 + (e1 - e0) // 2]
    row0 = fb0.psi[fb0.edge_row_indices[0] + 1 + (e1 - e0) // 2]

    def rel_bandwidth(r):
        w = np.arange(r.size)
        c = (w * r).sum() / r.sum()
        return np.sqrt(((w - c) ** 2 * r).sum() / r.sum()) / c

    assert rel_bandwidth(row) > 1.4 * rel_bandwidth(row0)


def test_time_bandwidth_only_shapes_gmw_and_round_trips(two_components):
    sig, _ = two_components
    spec = TransformSpec(kind="cwt", wavelet="morlet", nv=16, time_bandwidth=60.0)
    plain = transform(sig, TransformSpec(kind="cwt", wavelet="morlet", nv=16))
    np.testing.assert_array_equal(transform(sig, spec).coefficients, plain.coefficients)
    d = TransformSpec(kind="cwt", time_bandwidth=60.0).to_dict()
    assert d["time_bandwidth"] == 60.0
    assert TransformSpec.from_dict(d).time_bandwidth == 60.0
    old = {k: v for k, v in d.items() if k != "time_bandwidth"}  # files from before the field
    assert TransformSpec.from_dict(old).time_bandwidth is None


# -- agreement with ssqueezepy and with the documented building blocks ------------

def test_cwt_rows_are_ssqueezepy_cwt_flipped(two_components):
    from phasebrush.core.tf.transforms import _selected_scales, _wavelet

    sig, _ = two_components
    spec = TransformSpec(kind="cwt", nv=16)
    tfr = transform(sig, spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scales = _selected_scales(spec, sig.n, sig.dx)
        Wx, _ = ssqueezepy.cwt(sig.y.copy(), _wavelet("gmw"), scales=scales, padtype="reflect")
    np.testing.assert_allclose(tfr.coefficients[1:-1], np.asarray(Wx)[::-1], atol=1e-12)


def test_ssq_cwt_rows_are_ssqueezepy_flipped(chirp_signal):
    from phasebrush.core.tf.transforms import _selected_scales, _wavelet

    spec = TransformSpec(kind="ssq_cwt", nv=16)
    tfr = transform(chirp_signal, spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scales = _selected_scales(spec, chirp_signal.n, chirp_signal.dx)
        Tx, _, f, _ = ssqueezepy.ssq_cwt(chirp_signal.y.copy(), _wavelet("gmw"), scales=scales,
                                         fs=1 / chirp_signal.dx, maprange="peak")
    np.testing.assert_allclose(tfr.coefficients[1:-1], np.asarray(Tx)[::-1], atol=1e-12)
    np.testing.assert_allclose(tfr.frequencies[1:-1], np.asarray(f)[::-1], rtol=1e-12)


def test_filterbank_formula_and_padding_match_ssqueezepy(chirp_signal):
    from ssqueezepy.utils import p2up, padsignal

    x = chirp_signal.y
    n_pad, pad_left = cwt_padding(x.size)
    assert (n_pad, pad_left) == p2up(x.size)[:2]
    np.testing.assert_array_equal(reflect_pad(x, n_pad, pad_left), padsignal(x, "reflect"))
    spec = TransformSpec(kind="cwt", nv=8)
    fb = cwt_filterbank(spec, x.size, dx=chirp_signal.dx)
    assert fb is cwt_filterbank(spec, x.size, dx=chirp_signal.dx)  # cached
    assert fb.psi.shape == (fb.n_rows, n_pad) and fb.psi.dtype == np.float64
    assert not fb.psi.flags.writeable
    W = np.fft.ifft(np.fft.fft(reflect_pad(x, n_pad, pad_left)) * fb.psi)[:, pad_left:pad_left
                                                                          + x.size]
    np.testing.assert_allclose(apply_filterbank(x, fb), W, atol=1e-12)
    np.testing.assert_allclose(fb.row_weights @ W.real, x, atol=1e-10)
    assert np.all(np.isnan(fb.scales[[0, -1]])) and np.all(np.diff(fb.scales[1:-1]) < 0)
    # edge rows are analytic filters: nothing on negative frequencies
    assert np.all(fb.psi[[0, -1], n_pad // 2 + 1:] == 0)


def test_stft_convention_frame_centred_on_k_hop(chirp_signal):
    spec = TransformSpec(kind="stft", n_fft=64, win_len=48, hop=5, window="hamming")
    tfr = transform(chirp_signal, spec)
    g = stft_window(spec)
    assert g.shape == (64,) and g[:8].max() == 0 and g[-8:].max() == 0
    x = chirp_signal.y
    xp = np.pad(x, (32, 31), mode="reflect")
    assert tfr.n_frames == stft_frames(x.size, 5) == (x.size - 1) // 5 + 1
    for k in (0, 7, tfr.n_frames - 1):
        frame = xp[k * 5:k * 5 + 64] * g
        m = np.arange(64) - 32
        ref = (frame[None, :] * np.exp(-2j * np.pi * np.arange(33)[:, None] * m / 64)).sum(1)
        np.testing.assert_allclose(tfr.coefficients[:, k], ref, atol=1e-10)
    np.testing.assert_allclose(tfr.times, chirp_signal.x0 + 5 * chirp_signal.dx
                               * np.arange(tfr.n_frames))


def test_stft_row_weights_constants():
    spec = TransformSpec(kind="stft", n_fft=64)
    w = stft_row_weights(spec)
    gc = stft_window(spec)[32]
    assert w[0] == w[-1] == pytest.approx(1 / (64 * gc))
    np.testing.assert_allclose(w[1:-1], 2 / (64 * gc))
    odd = stft_row_weights(TransformSpec(kind="stft", n_fft=63))
    assert odd[-1] == pytest.approx(2 * odd[0])


# -- row order and physical frequencies -------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dx, unit, f_tone", [(1e-3, "s", 50.0), (0.5, "cm^-1", 0.13)])
def test_rows_ascend_and_a_tone_peaks_at_its_frequency(kind, dx, unit, f_tone):
    n = 2048
    x = np.cos(2 * np.pi * f_tone * dx * np.arange(n))
    sig = Signal(x, dx=dx, x0=400.0, unit=unit)
    tfr = transform(sig, spec_for(kind, n_fft=256))
    assert np.all(np.diff(tfr.frequencies) > 0)
    assert tfr.coefficients.dtype == np.complex128 and tfr.frequencies.dtype == np.float64
    assert tfr.times[0] == 400.0 and tfr.times[1] == pytest.approx(400.0 + dx * tfr.spec.hop)
    mag = tfr.magnitude[:, tfr.n_frames // 2]
    peak = tfr.frequencies[int(np.argmax(mag))]
    tol = 0.05 if kind in ("cwt", "ssq_cwt") else 1 / (256 * dx * f_tone)
    assert abs(peak - f_tone) <= tol * f_tone
    assert tfr.frequencies[-1] >= 0.5 / dx * (1 - 1e-12)


# -- bad inputs --------------------------------------------------------------------

@pytest.mark.parametrize("spec, match", [
    (TransformSpec(kind="wigner"), "unknown transform kind 'wigner'"),
    (TransformSpec(kind="cwt", wavelet="haar"), "unknown wavelet 'haar'"),
    (TransformSpec(kind="cwt", time_bandwidth=3.0), r"time_bandwidth=3.0: expected .*\[6, 600\]"),
    (TransformSpec(kind="ssq_cwt", time_bandwidth="wide"), "time_bandwidth='wide'"),
    (TransformSpec(kind="cwt", nv=2), "nv=2"),
    (TransformSpec(kind="cwt", scales="linear"), "'linear'"),
    (TransformSpec(kind="stft", hop=0), "hop=0"),
    (TransformSpec(kind="ssq_stft", hop=4), "hop=4"),
    (TransformSpec(kind="stft", n_fft=4096), "n_fft=4096 is larger than the signal"),
    (TransformSpec(kind="stft", n_fft=64, win_len=65), "win_len=65"),
    (TransformSpec(kind="cwt", fmin=100.0, fmax=50.0), "fmin=100.0 must be below fmax=50.0"),
    (TransformSpec(kind="cwt", fmax=900.0), "fmax=900.0 is above the Nyquist"),
    (TransformSpec(kind="cwt", fmin=0.1), "fmin=0.1 is below the lowest frequency"),
    (TransformSpec(kind="cwt", fmin=300.0, fmax=301.0), "leave fewer than 2 wavelets"),
    (TransformSpec(kind="stft", window="nonesuch", n_fft=64), "window='nonesuch'"),
    (TransformSpec(kind="stft", n_fft=64, window_array=(1.0, 2.0)), "window_array has 2"),
    (TransformSpec(kind="stft", n_fft=64, win_len=16, hop=32), "NOLA"),
])
def test_bad_specs_raise_parameter_error(spec, match, chirp_signal):
    with pytest.raises(ParameterError, match=match):
        transform(chirp_signal, spec)


def test_transform_needs_a_signal():
    with pytest.raises(ParameterError, match="needs a Signal"):
        transform(np.zeros(16), TransformSpec())


def test_filterbank_rejects_stft_kind_and_window_rejects_cwt_kind():
    with pytest.raises(ParameterError, match="kind='stft'"):
        cwt_filterbank(TransformSpec(kind="stft"), 1024)
    with pytest.raises(ParameterError, match="kind='cwt'"):
        stft_window(TransformSpec(kind="cwt"))


@pytest.mark.parametrize("kind", ["stft", "ssq_stft"])
@pytest.mark.parametrize("n_fft, win_len", [(63, None), (64, 40), (2, None)])
def test_stft_identity_odd_even_and_tiny_ffts(kind, n_fft, win_len, voice_like, rel_error):
    tfr = transform(voice_like, TransformSpec(kind=kind, n_fft=n_fft, win_len=win_len))
    assert tfr.n_rows == n_fft // 2 + 1
    assert rel_error(full_inverse(tfr), voice_like.y, trim=0.0) < 1e-10


def test_too_short_for_a_cwt_is_a_parameter_error():
    with pytest.raises(ParameterError, match="40 samples are too few for a gmw CWT"):
        transform(Signal(np.random.default_rng(0).standard_normal(40)), TransformSpec())


def test_filterbank_cache_ignores_stft_only_fields():
    a = cwt_filterbank(TransformSpec(kind="cwt", nv=8), 1024)
    b = cwt_filterbank(TransformSpec(kind="cwt", nv=8, n_fft=64, window="hamming"), 1024)
    assert a is b


def test_non_numeric_limit_is_a_parameter_error(chirp_signal):
    with pytest.raises(ParameterError, match="fmin='low'"):
        transform(chirp_signal, TransformSpec(fmin="low"))


# -- cancel and progress ------------------------------------------------------------

class _CancelAfter:
    """A cancel flag that turns True on its ``n``-th call (and counts calls)."""

    def __init__(self, n: int | None):
        self.n, self.calls = n, 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.n is not None and self.calls >= self.n


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few thousand elements, so a small transform has many of them."""
    import phasebrush.core.tf.transforms as T

    monkeypatch.setattr(T, "_BLOCK_ELEMS", 4096)
    T._FB_CACHE.clear()
    yield
    T._FB_CACHE.clear()


@pytest.mark.parametrize("kind", KINDS)
def test_blocked_transform_is_bit_identical_and_reports_progress(kind, chirp_signal,
                                                                 small_blocks):
    import phasebrush.core.tf.transforms as T

    spec = spec_for(kind, nv=16)
    blocked = transform(chirp_signal, spec)
    T._FB_CACHE.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(T, "_BLOCK_ELEMS", 1 << 22)
        whole = transform(chirp_signal, spec)
    np.testing.assert_array_equal(blocked.coefficients, whole.coefficients)

    seen, flag = [], _CancelAfter(None)
    T._FB_CACHE.clear()
    again = transform(chirp_signal, spec, cancel=flag, progress=seen.append)
    np.testing.assert_array_equal(again.coefficients, whole.coefficients)
    assert flag.calls >= 8          # checked between many blocks, not once
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert np.all(np.diff(seen) >= 0) and 0.0 <= min(seen) and max(seen) <= 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_stops_a_transform_early(kind, chirp_signal, small_blocks):
    total = _CancelAfter(None)
    transform(chirp_signal, spec_for(kind, nv=16), cancel=total)
    import phasebrush.core.tf.transforms as T
    T._FB_CACHE.clear()

    seen, flag = [], _CancelAfter(3)
    with pytest.raises(Cancelled, match="transform cancelled"):
        transform(chirp_signal, spec_for(kind, nv=16), cancel=flag, progress=seen.append)
    assert flag.calls == 3 < total.calls      # stopped at the first check that saw the flag
    assert max(seen) < 0.5


def test_cancelled_filterbank_build_caches_nothing(small_blocks):
    import phasebrush.core.tf.transforms as T

    spec = TransformSpec(kind="cwt", nv=8)
    with pytest.raises(Cancelled):
        cwt_filterbank(spec, 2048, cancel=_CancelAfter(2))
    assert not T._FB_CACHE
    fb = cwt_filterbank(spec, 2048, cancel=_CancelAfter(None))
    assert cwt_filterbank(spec, 2048) is fb


# -- clear minimums -----------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [2, 7])
def test_too_short_names_the_file_its_length_and_the_minimum(kind, n):
    spec = TransformSpec(kind=kind)
    sig = Signal(np.ones(n), dx=1e-3, name="clip", source="/data/clip.wav")
    with pytest.raises(ParameterError) as err:
        transform(sig, spec)
    msg = str(err.value)
    need = min_samples(spec, 1e-3)
    assert msg.startswith("/data/clip.wav: ")
    assert f"{n} samples are too few" in msg and f"at least {need}" in msg
    assert "suffciently" not in msg and "ssqueezepy" not in msg
    assert ("n_fft" in msg) if kind in ("stft", "ssq_stft") else ("scales=" in msg)


@pytest.mark.parametrize("spec", [
    TransformSpec(), TransformSpec(kind="ssq_cwt", wavelet="morlet"),
    TransformSpec(wavelet="bump", nv=8), TransformSpec(scales="log-piecewise", nv=8),
    TransformSpec(kind="stft", n_fft=64), TransformSpec(kind="ssq_stft", n_fft=33),
], ids=repr)
def test_min_samples_is_the_real_minimum(spec):
    need = min_samples(spec)
    rng = np.random.default_rng(3)
    tfr = transform(Signal(rng.standard_normal(need)), spec)
    assert tfr.n_samples == need and np.all(np.isfinite(tfr.coefficients))
    if need > 2:
        with pytest.raises(ParameterError, match=f"at least {need}"):
            transform(Signal(rng.standard_normal(need - 1)), spec)


def test_min_samples_follows_fmin_and_dx():
    # fmin must be resolved: 1 / (N dx) <= fmin
    assert min_samples(TransformSpec(fmin=20.0), dx=1 / 8000) == 400
    assert min_samples(TransformSpec(fmin=20.0), dx=1 / 16000) == 800


def test_settings_that_never_work_are_refused_with_what_to_change():
    with pytest.raises(ParameterError, match="change nv or scales"):
        min_samples(TransformSpec(wavelet="bump", nv=4))


# -- scales and row frequencies without full-grid arrays -------------------------------
# ssqueezepy computes both from wavelets sampled on the p2up(N) grid (2 GB at 10 min of
# 44.1 kHz); core computes the same floating-point values from a few bins. Equality is
# exact (np.array_equal), not to a tolerance.

WAVELET_KEYS = ("gmw", "gmw:60.0", "gmw:6.0", "morlet", "bump")
# tiny lengths (ssqueezepy's own edge cases), around the minimums, odd sizes, a power of
# two, and large ones (full grids of 2**21 and, for the default wavelet, 2**23 bins). A
# wider sweep (60 lengths from 2 to 3e6, nv 4 to 64, every wavelet) agreed as well.
LENGTHS = (2, 12, 23, 91, 92, 257, 1000, 4097, 30001, 1 << 20)


def _ssqueezepy_scales(wk, scales, nv, n):
    from ssqueezepy.utils import process_scales

    try:
        return np.asarray(process_scales(scales, n, T._wavelet(wk), nv=nv)).ravel()
    except Exception as exc:
        return type(exc)


def _ssqueezepy_frequencies(wk, s, n, dx):
    from ssqueezepy.ssqueezing import _compute_associated_frequencies
    from ssqueezepy.utils import infer_scaletype

    kind, _ = infer_scaletype(s)
    return np.asarray(_compute_associated_frequencies(
        s, n, T._wavelet(wk), kind, "peak", True, dx, "cwt")).ravel()


@pytest.mark.parametrize("wk", WAVELET_KEYS)
@pytest.mark.parametrize("scales", ["log", "log-piecewise"])
def test_scales_and_frequencies_equal_ssqueezepys_full_grid_ones(wk, scales):
    from ssqueezepy.utils import infer_scaletype

    warnings.simplefilter("ignore")
    for n in LENGTHS + ((3_000_001,) if wk == "gmw" else ()):
        for nv in ((4, 64) if n == 4097 else (32,)):
            want = _ssqueezepy_scales(wk, scales, nv, n)
            lean = T._lean_scales_or_none(wk, scales, nv, n)
            if isinstance(want, type):       # ssqueezepy fails: core must not invent scales
                assert lean is None, (wk, scales, nv, n)
                continue
            if n >= 1000:                    # the point: long signals never fall back
                assert lean is not None, (wk, scales, nv, n)
            assert np.array_equal(T._all_scales(wk, scales, nv, n), want), (wk, scales, nv, n)
            # the whole set and a subset as fmin/fmax leave it (log-piecewise: one piece)
            for s in (want, want[1:-1], want[: max(3, len(want) // 3)]):
                if len(s) < 3:
                    continue
                try:
                    f_want = _ssqueezepy_frequencies(wk, s, n, 1e-3)
                except Exception:
                    continue
                f = T._associated_frequencies(wk, s, n, 1e-3)
                assert np.array_equal(f, f_want, equal_nan=True), (wk, scales, nv, n, len(s))
                if n >= 1000 and np.all(np.isfinite(f_want)):
                    kind, _ = infer_scaletype(s)
                    assert T._lean_frequencies(wk, s, n, 1e-3, kind) is not None


@pytest.mark.parametrize("scales", ["log", "log-piecewise"])
def test_scale_setup_of_a_long_signal_allocates_no_full_grid(scales):
    """10 min of 44.1 kHz audio: ssqueezepy's grid is 2**26 bins (512 MiB per float64
    array); the scales and frequencies of a CWT of it now take O(n_scales)."""
    import tracemalloc

    n = 26_460_000
    spec = TransformSpec(nv=32, scales=scales, fmin=60.0)
    T._selected_scales(spec, 4096, 1 / 44100)   # first-call caches (wavelet peak searches)
    tracemalloc.start()
    try:
        s = T._selected_scales(spec, n, 1 / 44100)
        f = T._associated_frequencies(T._wavelet_key(spec), s, n, 1 / 44100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(s) == len(f) > 100 and np.all(np.diff(f) > 0) and f[0] >= 60.0
    # log-piecewise tests its scales for redundancy on 2048 bins each (~12 MB here)
    assert peak < 32 << 20


def test_window_argmax_refuses_what_it_cannot_prove(monkeypatch):
    monkeypatch.setattr(T, "_WINDOW_BINS", (2, 4))
    ramp = np.arange(100.0)
    # the windows around bin 10 end on their largest value: no proof
    assert T._window_argmax(lambda lo, hi: ramp[lo:hi], 10, 100) is None
    assert T._window_argmax(lambda lo, hi: ramp[lo:hi], 98, 100) == 99   # the last bin
    assert T._window_argmax(lambda lo, hi: np.zeros(hi - lo), 3, 8) is None   # all zero
    bell = 1e4 - (np.arange(100.0) - 40.0) ** 2
    assert T._window_argmax(lambda lo, hi: bell[lo:hi], 43, 100) == 40   # widened to reach it
    flat = np.r_[np.zeros(5), np.ones(20), np.zeros(5)]
    assert T._window_argmax(lambda lo, hi: flat[lo:hi], 15, 30) is None  # a plateau past both ends


def test_an_audio_recording_s_cwt_starts_at_20_hz_unless_set():
    from phasebrush.core.tf.transforms import AUDIO_FMIN, spec_for_signal

    speech = Signal(np.zeros(64000), dx=1 / 16000, unit="s")
    slow = Signal(np.zeros(8192), dx=1 / 2048, unit="s")          # the chirp demo's rate
    spectrum = Signal(np.zeros(4000), dx=0.5, unit="cm^-1")
    assert spec_for_signal(TransformSpec(), speech).fmin == AUDIO_FMIN == 20.0
    assert spec_for_signal(TransformSpec(kind="ssq_cwt"), speech).fmin == AUDIO_FMIN
    assert spec_for_signal(TransformSpec(fmin=5.0), speech).fmin == 5.0
    assert spec_for_signal(TransformSpec(kind="stft"), speech).fmin is None
    assert spec_for_signal(TransformSpec(), slow).fmin is None
    assert spec_for_signal(TransformSpec(), spectrum).fmin is None
