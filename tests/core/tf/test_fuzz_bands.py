"""Property tests: band files and selection tables either load or raise PhaseBrushError."""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from phasebrush.core.errors import PhaseBrushError
from phasebrush.core.io.selection_table import load_selections
from phasebrush.core.tf.bands import band_ranges, load_bands
from phasebrush.core.tf.masks import Grid

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

numbers = st.one_of(st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0, 0.0, -0.0, 1e308, -1e308, 5e-324, 0.5, 1000]))
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8))
json_values = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)),
    max_leaves=20)
pair = st.lists(numbers, min_size=0, max_size=3)
band_like = st.fixed_dictionaries(
    {}, optional={"upper": st.one_of(st.lists(pair, max_size=4), json_values),
                  "lower": st.one_of(st.lists(pair, max_size=4), json_values),
                  "name": st.one_of(st.text(max_size=8), json_values),
                  "color": st.one_of(st.sampled_from(["#ff0000", "#12345678", "red"]),
                                     json_values),
                  "visible": st.one_of(st.booleans(), json_values),
                  "extra": json_values})
documents = st.one_of(json_values, st.fixed_dictionaries(
    {"bands": st.one_of(st.lists(band_like, max_size=3), json_values)}))

GRIDS = [
    Grid(np.r_[5.0, np.geomspace(10.0, 4000.0, 24), 4200.0], np.linspace(0, 1, 16), (0, 25)),
    Grid(np.linspace(0.0, 4000.0, 17), np.linspace(0, 1, 16)),
]


def _ranges_ok(bands):
    for b in bands:
        for g in GRIDS:
            try:
                s, e = band_ranges(b, g, notes=[])
            except PhaseBrushError:
                continue
            assert s.shape == e.shape == (g.shape[1],) and np.all(s <= e)
            assert s.min() >= 0 and e.max() <= g.shape[0]


def _dump(doc) -> str:
    return json.dumps(doc, allow_nan=True)


@SETTINGS
@given(doc=documents)
@example(doc={"bands": []})
@example(doc={"bands": [{"upper": [[0, 10**400]], "lower": [[0, 1]]}]})
def test_random_band_json_loads_or_raises_the_project_error(doc, tmp_path_factory):
    p = tmp_path_factory.mktemp("fz") / "b.json"
    p.write_text(_dump(doc), encoding="utf-8")
    try:
        bands = load_bands(p)
    except PhaseBrushError:
        return
    assert bands
    _ranges_ok(bands)


@SETTINGS
@given(data=st.binary(max_size=300))
@example(data=b"[" * 100_000)
@example(data=b"1" * 5000)
def test_random_bytes_as_bands_or_selections_raise_only_the_project_error(data,
                                                                          tmp_path_factory):
    p = tmp_path_factory.mktemp("fz") / "f.txt"
    p.write_bytes(data)
    for reader in (load_bands, load_selections):
        try:
            bands = reader(p)
        except PhaseBrushError:
            continue
        _ranges_ok(bands)


cell = st.one_of(numbers.map(lambda v: repr(v) if not isinstance(v, float) or math.isfinite(v)
                             else str(v)), st.text(alphabet="0123456789.-eE nainf\t", max_size=6))


@SETTINGS
@given(rows=st.lists(st.lists(cell, min_size=0, max_size=7), max_size=4),
       header=st.permutations(["Selection", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)",
                               "High Freq (Hz)", "Annotation", "View"]),
       audacity=st.booleans())
# a row shorter than the header, ending before its Selection column (found by this test)
@example(rows=[["0", "0", "0", "0", "0"]],
         header=["Begin Time (s)", "End Time (s)", "View", "Low Freq (Hz)", "High Freq (Hz)",
                 "Annotation", "Selection"], audacity=False)
def test_random_selection_tables_load_or_raise_the_project_error(rows, header, audacity,
                                                                 tmp_path_factory):
    lines = [] if audacity else ["\t".join(header)]
    for r in rows:
        lines.append("\t".join(("\\" if audacity and i == 0 and len(r) % 2 else c)
                               for i, c in enumerate(r)))
    p = tmp_path_factory.mktemp("fz") / "t.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kw = {"freq_range": (0.0, 4000.0)} if audacity else {"unit": "s"}
    try:
        bands = load_selections(p, **kw)
    except PhaseBrushError:
        return
    _ranges_ok(bands)
