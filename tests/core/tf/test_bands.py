import json

import numpy as np
import pytest

from phasebrush.core.errors import LoadError, ParameterError
from phasebrush.core.tf.bands import (
    PALETTE,
    Band,
    band_mask,
    band_ranges,
    bands_from_dict,
    bands_to_dict,
    freq_unit,
    load_bands,
    map_band,
    save_bands,
)
from phasebrush.core.tf.masks import Grid, ranges_to_mask
from phasebrush.core.tf.transforms import TFR, TransformSpec


def log_grid(n_inner=40, n_frames=60, f0=20.0, f1=2000.0, edges=True):
    """A CWT-like grid: log-spaced rows plus an edge row at each end."""
    f = np.geomspace(f0, f1, n_inner)
    edge_rows = ()
    if edges:
        f = np.r_[f0 / 2, f, f1 * 1.5]
        edge_rows = (0, f.size - 1)
    return Grid(f, np.linspace(0.0, 1.0, n_frames), edge_rows)


def lin_grid(n_rows=33, n_frames=50, fs=1000.0):
    """An STFT-like grid: 0 .. Nyquist, uniform."""
    return Grid(np.linspace(0.0, fs / 2, n_rows), np.linspace(0.0, 2.0, n_frames))


def make_tfr(kind, frequencies, times, edge_rows=()):
    n_rows, n_frames = len(frequencies), len(times)
    return TFR(coefficients=np.zeros((n_rows, n_frames), complex), frequencies=frequencies,
               times=times, row_weights=np.ones(n_rows), offset=0.0,
               spec=TransformSpec(kind=kind), n_samples=n_frames, dx=times[1] - times[0],
               edge_row_indices=edge_rows)


# ------------------------------------------------------------------ Band validation

def test_band_sorts_vertices_by_time_and_is_read_only():
    b = Band(upper=[[0.9, 500], [0.1, 300], [0.5, 400]], lower=[[0.2, 100]])
    np.testing.assert_array_equal(b.upper[:, 0], [0.1, 0.5, 0.9])
    np.testing.assert_array_equal(b.upper[:, 1], [300, 400, 500])
    assert not b.upper.flags.writeable
    with pytest.raises(ValueError):
        b.upper[0, 0] = 3.0


def test_single_vertex_edges_are_constant_everywhere():
    b = Band(upper=[[0.3, 400]], lower=[[0.7, 100]])
    assert b.time_span == (-np.inf, np.inf)
    g = log_grid()
    s, e = band_ranges(b, g)
    assert np.all(e > s)  # every column selected
    f = g.frequencies
    assert np.all(f[s] >= 100) and np.all(f[s - 1] < 100)
    assert np.all(f[e - 1] <= 400) and np.all(f[e] > 400)


@pytest.mark.parametrize("upper, lower, match", [
    ([[0, 1, 2]], [[0, 1]], "upper edge must be"),
    ([], [[0, 1]], "upper edge must be"),
    ([[0, np.nan]], [[0, 1]], "NaN"),
    ([[0, 1]], [[0, -5]], "negative frequency"),
    ([[0, 1], [0, 2]], [[0, 1]], "two vertices at time 0"),
    ([[0, 10], [1, 10]], [[2, 5], [3, 5]], "do not overlap"),
])
def test_bad_band_raises(upper, lower, match):
    with pytest.raises(ParameterError, match=match):
        Band(upper=upper, lower=lower, name="b1")


@pytest.mark.parametrize("color", ["red", "#12345", "#1234567", "#gggggg", 3])
def test_bad_color_raises(color):
    with pytest.raises(ParameterError, match="color"):
        Band([[0, 2]], [[0, 1]], color=color)


def test_rectangle():
    b = Band.rectangle(0.5, 1.5, 100, 900, name="r")
    assert b.time_span == (0.5, 1.5)
    assert b.freq_span == (100, 900)


# ------------------------------------------------------------------ band_ranges

def _log_line(t, t0, f0, t1, f1):
    return f0 * (f1 / f0) ** ((t - t0) / (t1 - t0))


def test_log_straight_band_matches_hand_computation():
    g = log_grid(n_inner=50, n_frames=101, f0=10.0, f1=1000.0)
    # Upper edge 600 -> 60 over t 0.1..0.9, lower 40 -> 15 over t 0.2..1.0:
    # both straight lines in log-frequency.
    b = Band(upper=[[0.1, 600.0], [0.9, 60.0]], lower=[[1.0, 15.0], [0.2, 40.0]], name="x")
    start, end = band_ranges(b, g)  # CWT-like grid: log interpolation by default

    inner = g.frequencies[1:-1]
    exp_start = np.zeros(g.times.size, dtype=np.int64)
    exp_end = np.zeros(g.times.size, dtype=np.int64)
    live = np.zeros(g.times.size, dtype=bool)
    for j, t in enumerate(g.times):
        if not (0.2 <= t <= 0.9):  # where both edges are defined
            continue
        live[j] = True
        hi = _log_line(t, 0.1, 600.0, 0.9, 60.0)
        lo = _log_line(t, 0.2, 40.0, 1.0, 15.0)
        # The test is only exact if no row sits on an edge within rounding.
        assert np.min(np.abs(inner / hi - 1)) > 1e-9
        assert np.min(np.abs(inner / lo - 1)) > 1e-9
        exp_start[j] = 1 + np.searchsorted(inner, lo, side="left")
        exp_end[j] = 1 + np.searchsorted(inner, hi, side="right")

    assert live.sum() > 50
    np.testing.assert_array_equal(start[live], exp_start[live])
    np.testing.assert_array_equal(end[live], exp_end[live])
    np.testing.assert_array_equal(start[~live], end[~live])
    assert start.dtype == np.int64 and end.dtype == np.int64


def test_linear_interp_differs_from_log_between_vertices():
    g = log_grid(n_inner=80)
    b = Band(upper=[[0.0, 1500.0], [1.0, 30.0]], lower=[[0.0, 20.0]])
    s_log, e_log = band_ranges(b, g)
    s_lin, e_lin = band_ranges(b, g, interp="linear")
    np.testing.assert_array_equal(s_log, s_lin)  # constant lower edge
    # A straight line in frequency lies above the log-straight line in between.
    assert np.all(e_lin[1:-1] >= e_log[1:-1]) and np.any(e_lin > e_log)
    assert e_lin[0] == e_log[0] and e_lin[-1] == e_log[-1]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("grid", ["log", "lin"])
def test_ranges_match_brute_force_cell_test(seed, grid):
    rng = np.random.default_rng(seed)
    g = log_grid(n_inner=30, n_frames=40) if grid == "log" else lin_grid(n_rows=30, n_frames=40)
    t_all = g.times
    f_inner = g.frequencies[1:-1] if g.edge_row_indices else g.frequencies
    fmin, fmax = max(f_inner[0], 1.0), f_inner[-1]

    def polyline(k):
        t = np.sort(rng.uniform(t_all[0] - 0.2, t_all[-1] + 0.2, k))
        return np.c_[t, np.exp(rng.uniform(np.log(fmin), np.log(fmax), k))]

    b = Band(upper=polyline(rng.integers(1, 6)), lower=polyline(rng.integers(1, 6)))
    interp = "log" if g.log_rows else "linear"
    s, e = band_ranges(b, g)
    got = ranges_to_mask(s, e, g.shape[0])

    want = np.zeros(g.shape, dtype=bool)
    t0, t1 = b.time_span
    for j, t in enumerate(t_all):
        if not t0 <= t <= t1:
            continue
        if interp == "log":
            u = np.exp(np.interp(t, b.upper[:, 0], np.log(b.upper[:, 1])))
            l = np.exp(np.interp(t, b.lower[:, 0], np.log(b.lower[:, 1])))
        else:
            u = np.interp(t, b.upper[:, 0], b.upper[:, 1])
            l = np.interp(t, b.lower[:, 0], b.lower[:, 1])
        for r, f in enumerate(g.frequencies):
            if r in g.edge_row_indices:
                continue
            want[r, j] = min(u, l) <= f <= max(u, l)
    np.testing.assert_array_equal(got, want)


def test_swapped_edges_select_the_same_rows():
    g = log_grid()
    up, lo = [[0.1, 800], [0.9, 200]], [[0.0, 50], [1.0, 90]]
    a = band_ranges(Band(up, lo), g)
    b = band_ranges(Band(lo, up), g)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_edge_rows_are_selected_only_by_a_band_reaching_past_the_wavelets():
    g = log_grid()
    notes = []
    s, e = band_ranges(Band([[0, 1e9]], [[0, 1e-9]], name="all"), g, notes=notes)
    m = ranges_to_mask(s, e, g.shape[0])
    assert m.all()                            # clamped to both edge rows
    assert len(notes) == 2 and all("band 'all'" in n and "clamped" in n for n in notes)
    inner = g.frequencies[1:-1]
    notes = []
    s, e = band_ranges(Band([[0, inner[-1]]], [[0, inner[0]]]), g, notes=notes)
    m = ranges_to_mask(s, e, g.shape[0])
    assert not m[0].any() and not m[-1].any() and m[1:-1].all() and notes == []


def test_band_outside_frequency_range_names_band_and_range():
    g = Grid(np.geomspace(1.0, 1024.0, 11), np.linspace(0, 1, 10))
    b = Band([[0, 3000]], [[0, 2000]], name="x")
    with pytest.raises(ParameterError) as err:
        band_ranges(b, g)
    assert str(err.value) == "band 'x' lies 2000-3000 Hz, outside the transform's 1-1024 Hz"


def test_band_outside_time_range_raises():
    g = log_grid()
    b = Band([[5, 300], [6, 300]], [[5, 100], [6, 100]], name="late")
    with pytest.raises(ParameterError, match=r"band 'late' spans 5-6 s, outside .*0-1 s"):
        band_ranges(b, g)


@pytest.mark.parametrize("grid", ["log", "lin"])
def test_a_0_hz_bottom_selects_from_the_bottom_row_with_a_note(grid):
    g = log_grid() if grid == "log" else lin_grid()
    b = Band([[0, 300]], [[0, 0.0]], name="dc")
    notes = []
    s, e = band_ranges(b, g, notes=notes)
    assert np.all(s == 0)  # the low-pass edge row / the 0 Hz row
    assert np.all(e == np.searchsorted(g.frequencies, 300, side="right"))
    if grid == "log":
        assert notes and "band 'dc'" in notes[0] and "low-pass edge row" in notes[0]
    else:
        assert notes == []    # 0 Hz is a row of the linear grid: nothing clamped


def test_bad_interp_raises():
    with pytest.raises(ParameterError, match="interp='cubic'"):
        band_ranges(Band([[0, 300]], [[0, 100]]), log_grid(), interp="cubic")


def test_tfr_kind_decides_default_interp():
    f = np.geomspace(10, 1000, 30)
    t = np.linspace(0, 1, 20)
    b = Band([[0.0, 900.0], [1.0, 20.0]], [[0.0, 15.0]])
    g = Grid(f, t)
    log_end, lin_end = (band_ranges(b, g, interp=i)[1] for i in ("log", "linear"))
    assert np.any(log_end != lin_end)
    np.testing.assert_array_equal(band_ranges(b, make_tfr("cwt", f, t))[1], log_end)
    # Same rows, but an STFT's grid counts as linear.
    np.testing.assert_array_equal(band_ranges(b, make_tfr("stft", f, t))[1], lin_end)


@pytest.mark.parametrize("interp", ["log", "linear"])
def test_edges_on_row_frequencies_are_inclusive(interp):
    g = log_grid(n_inner=30, n_frames=11, edges=False)
    f, t = g.frequencies, g.times
    # Constant edges exactly on rows 5 and 12.
    s, e = band_ranges(Band([[0, f[12]]], [[0, f[5]]]), g, interp=interp)
    assert np.all(s == 5) and np.all(e == 13)
    # Sloped edges whose vertices sit on grid points (t[2], f[20]) and (t[8], f[26]).
    b = Band([[t[2], f[20]], [t[8], f[26]]], [[t[2], f[3]], [t[8], f[9]]])
    s, e = band_ranges(b, g, interp=interp)
    assert (s[2], e[2], s[8], e[8]) == (3, 21, 9, 27)


def test_map_band_is_band_ranges_on_the_other_grid():
    b = Band([[0.1, 400], [0.8, 250]], [[0.1, 100], [0.8, 150]])
    src, dst = log_grid(n_frames=30), lin_grid()
    for g in (src, dst):
        np.testing.assert_array_equal(np.stack(map_band(b, g)), np.stack(band_ranges(b, g)))


def test_band_mask_is_union_of_bands():
    g = log_grid()
    b1 = Band([[0, 100]], [[0, 50]])
    b2 = Band([[0, 1000]], [[0, 500]])
    m = band_mask([b1, b2], g)
    np.testing.assert_array_equal(m, band_mask(b1, g) | band_mask(b2, g))
    assert m.dtype == bool and m.shape == g.shape


def test_freq_unit():
    assert freq_unit("s") == "Hz"
    assert freq_unit("cm^-1") == "cycles/cm^-1"


# ------------------------------------------------------------------ end to end with transform()

def test_band_on_a_real_cwt_and_stft_follows_a_chirp():
    from phasebrush.core.signal import Signal
    from phasebrush.core.tf.transforms import transform

    fs, n = 1000.0, 1024
    t = np.arange(n) / fs

    def f_inst(x):  # a 60 -> 210 Hz linear chirp
        return 60.0 + 150.0 * x / t[-1]

    y = np.sin(2 * np.pi * np.cumsum(f_inst(t)) / fs)
    sig = Signal(y=y, dx=1 / fs)
    b = Band(upper=[[0.1, 1.4 * f_inst(0.1)], [0.9, 1.4 * f_inst(0.9)]],
             lower=[[0.1, 0.7 * f_inst(0.1)], [0.9, 0.7 * f_inst(0.9)]])
    for spec in (TransformSpec(kind="cwt", nv=16), TransformSpec(kind="stft", n_fft=128)):
        tfr = transform(sig, spec)
        s, e = band_ranges(b, tfr)
        live = e > s
        assert live.sum() > 0.6 * tfr.n_frames
        a, z = (1, tfr.n_rows - 1) if tfr.edge_row_indices else (0, tfr.n_rows)
        peak = a + np.argmax(tfr.magnitude[a:z], axis=0)
        # The ridge of the chirp lies inside the band wherever the band exists.
        assert np.all((peak[live] >= s[live]) & (peak[live] < e[live])), spec.kind


# ------------------------------------------------------------------ JSON

def _bands():
    return [
        Band(upper=[[0.1, 800.5], [0.5, 640.25], [0.9, 1e3 / 3]], lower=[[0.1, 100.0]],
             name="whistle", color="#112233", visible=False),
        Band.rectangle(0.25, 0.75, 50.0, 70.0, name="hum ünïcode", color="#aabbccdd"),
    ]


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.upper, y.upper)
        np.testing.assert_array_equal(x.lower, y.lower)
        assert (x.name, x.color, x.visible) == (y.name, y.color, y.visible)


def test_json_round_trip_is_exact(tmp_path):
    bands = _bands()
    _same(bands_from_dict(bands_to_dict(bands)), bands)
    p = tmp_path / "bands.json"
    save_bands(p, bands)
    _same(load_bands(p), bands)
    assert list(tmp_path.iterdir()) == [p]  # no temp files left behind
    d = json.loads(p.read_text())
    assert set(d) == {"bands"} and d["bands"][0]["upper"][0] == [0.1, 800.5]


def test_json_defaults_for_name_color_visible():
    d = {"bands": [{"upper": [[0, 2]], "lower": [[0, 1]]},
                   {"upper": [[0, 2]], "lower": [[0, 1]]}]}
    a, b = bands_from_dict(d)
    assert (a.name, a.color, a.visible) == ("band 1", PALETTE[0], True)
    assert (b.name, b.color) == ("band 2", PALETTE[1])


@pytest.mark.parametrize("doc, message", [
    ('[1, 2]', "top level must be an object with a 'bands' list"),
    ('{"bands": 3}', "'bands' must be a list"),
    ('{"bands": [{"upper": [[0, 2]], "lower": [[0, 1]]}, {"upper": [[0]], "lower": [[0, 1]]}]}',
     "band 2: 'upper' must be a list of [t, f] pairs"),
    ('{"bands": [{"upper": [], "lower": [[0, 1]]}]}', "band 1: 'upper' must be a list"),
    ('{"bands": [{"upper": [[0, "x"]], "lower": [[0, 1]]}]}', "band 1: 'upper' must be a list"),
    ('{"bands": [{"upper": [[0, 2]]}]}', "band 1: 'lower' is missing"),
    ('{"bands": [{"uper": [[0, 2]], "upper": [[0, 2]], "lower": [[0, 1]]}]}',
     "band 1: unknown key(s) ['uper']"),
    ('{"bands": [{"upper": [[0, 2]], "lower": [[0, 1]], "name": 5}]}',
     "band 1: 'name' must be a str"),
    ('{"bands": [{"upper": [[0, 2]], "lower": [[0, 1]], "color": "blue"}]}',
     "band 1: band 'band 1': color 'blue'"),
    ('{"bands": [{"upper": [[0, 2], [0, 3]], "lower": [[0, 1]]}]}', "band 1: band 'band 1'"),
    ('{"bands": [', "not valid JSON (line 1"),
])
def test_load_bands_errors_name_file_and_problem(tmp_path, doc, message):
    p = tmp_path / "b.json"
    p.write_text(doc)
    with pytest.raises(LoadError) as err:
        load_bands(p)
    assert err.value.path == str(p)
    assert message in str(err.value)
    assert str(err.value).startswith(str(p))


def test_load_bands_missing_file(tmp_path):
    with pytest.raises(LoadError, match="no such file"):
        load_bands(tmp_path / "nope.json")


def test_merged_band_ranges_feed_the_range_inverter_as_a_union():
    from phasebrush.core.signal import Signal
    from phasebrush.core.tf.inversion import RangeInverter, invert
    from phasebrush.core.tf.masks import merge_ranges
    from phasebrush.core.tf.transforms import transform

    rng = np.random.default_rng(3)
    tfr = transform(Signal(y=rng.standard_normal(512), dx=1 / 1000),
                    TransformSpec(kind="cwt", nv=8))
    b1 = Band([[0.05, 300.0], [0.45, 120.0]], [[0.05, 40.0], [0.45, 30.0]])
    b2 = Band([[0.2, 200.0]], [[0.2, 80.0]])  # overlaps b1
    stacked = [np.stack(x) for x in zip(*(band_ranges(b, tfr) for b in (b1, b2)), strict=True)]
    fast = RangeInverter(tfr).band(*merge_ranges(*stacked))
    np.testing.assert_allclose(fast, invert(tfr, band_mask([b1, b2], tfr)), atol=1e-10)


# -- band files that are not what they should be (issue 9) ------------------------

def _write(tmp_path, text, name="b.json"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_an_empty_band_list_is_a_load_error(tmp_path):
    p = _write(tmp_path, '{"bands": []}')
    with pytest.raises(LoadError, match="holds no bands") as err:
        load_bands(p)
    assert str(err.value).startswith(str(p))


def test_deep_nesting_is_a_load_error_not_a_recursion_error(tmp_path):
    p = _write(tmp_path, "[" * 100_000)
    with pytest.raises(LoadError, match="nested too deeply") as err:
        load_bands(p)
    assert str(err.value).startswith(str(p))


@pytest.mark.parametrize("text", ["1" * 5000,
                                  '{"bands": [{"upper": [[0, ' + "9" * 400 + ']], '
                                  '"lower": [[0, 1]]}]}'])
def test_numbers_python_cannot_hold_are_load_errors(tmp_path, text):
    with pytest.raises(LoadError):
        load_bands(_write(tmp_path, text))


def test_messages_use_plain_numbers_and_count_from_one(tmp_path):
    doc = {"bands": [{"upper": [[0, 10.0]], "lower": [[0, 20.0]]},
                     {"upper": [[0, 10.0]], "lower": [[0, -749.5]]}]}
    with pytest.raises(LoadError) as err:
        load_bands(_write(tmp_path, json.dumps(doc)))
    msg = str(err.value)
    assert "band 2" in msg and "-749.5" in msg and "np." not in msg
    doc = {"bands": [{"upper": [[0, 1], "x"], "lower": [[0, 2]]}]}
    with pytest.raises(LoadError, match="item 2 is"):
        load_bands(_write(tmp_path, json.dumps(doc)))


# -- bands from 0 Hz on real transforms (issue 9) -------------------------------------

def _transform(kind, sig):
    from phasebrush.core.tf.transforms import transform
    spec = TransformSpec(kind=kind, nv=16) if kind in ("cwt", "ssq_cwt") else \
        TransformSpec(kind=kind, n_fft=256)
    return transform(sig, spec)


@pytest.mark.parametrize("kind", ["cwt", "ssq_cwt", "stft", "ssq_stft"])
def test_a_band_from_0_hz_inverts_on_every_kind(kind, speech_slice):
    from phasebrush.core.tf.inversion import invert

    sig = speech_slice
    tfr = _transform(kind, sig)
    nyq = 0.5 / sig.dx
    low = band_mask(Band.rectangle(0.0, 1.0, 0.0, 1000.0, name="low"), tfr)
    high = band_mask(Band.rectangle(0.0, 1.0, 1000.0 * 1.0001, nyq, name="high"), tfr)
    assert low[0].all()                      # the bottom row (low-pass edge / DC) is in
    y_low, y_high = invert(tfr, low), invert(tfr, high)
    assert np.all(np.isfinite(y_low)) and np.linalg.norm(y_low) > 0
    # the two bands tile the plane, so together they give back the signal
    # (without the mean, which a mask never carries)
    assert not (low & high).any()
    full = invert(tfr, low | high)
    ref = invert(tfr, np.ones(tfr.shape, dtype=bool))
    np.testing.assert_allclose(y_low + y_high, full, atol=1e-9 * np.abs(ref).max())


def test_full_band_cwt_of_a_recording_from_0_hz_to_nyquist_is_the_identity(speech_slice,
                                                                          rel_error):
    from phasebrush.core.tf.inversion import invert

    sig = speech_slice
    tfr = _transform("cwt", sig)
    notes = []
    m = band_mask(Band.rectangle(sig.x0, sig.x0 + sig.dx * (sig.n - 1), 0.0, 0.5 / sig.dx),
                  tfr, notes=notes)
    assert m.all() and notes                    # 0 Hz clamped to the low-pass row
    y = invert(tfr, m) + tfr.offset
    assert rel_error(y, sig.y, trim=0.0) < 1e-2
