"""Property tests: whatever the file holds, a signal loader returns a valid Signal or says why.

Each example writes one file into a fresh temporary folder (hypothesis runs the
test body many times, so a pytest ``tmp_path`` would be shared) and asserts:
``load_signal`` either returns a Signal with finite samples, n >= 2 and a
positive finite spacing, or raises a PhaseBrushError; nothing else escapes,
and the input file's bytes are unchanged. Clean tables must load, and give the
values written (repeated x merged to their mean).
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from phasebrush.core.errors import PhaseBrushError
from phasebrush.core.io.signals import LOAD_EXTENSIONS, load_signal
from phasebrush.core.signal import Signal

# database=None: no .hypothesis folder in the checkout; deadline=None: file I/O varies.
# PHASEBRUSH_FUZZ_EXAMPLES=2000 for a longer hunt than the suite's default.
# A loader may not print "Exception ignored from cffi callback" either
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

FUZZ = settings(deadline=None, database=None,
                max_examples=int(os.environ.get("PHASEBRUSH_FUZZ_EXAMPLES", "100")),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

EXTENSIONS = list(LOAD_EXTENSIONS) + [".json", ".bin", ""]
MAGICS = [b"", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"RIFF\xff\xff\xff\xffWAVE", b"RF64",
          b"fLaC\x00\x00\x00\x22", b"OggS\x00\x02", b"FORM\x00\x00\x00\x10AIFF",
          b"\x93NUMPY\x01\x00", b"PK\x03\x04", b"##TITLE=x\n", b"\xef\xbb\xbf", b"\xff\xfe",
          b"\xfe\xff", b"\xff\xfe\x00\x00", b"1,2\n", b"[" * 64]


def _check_load(name: str, content: bytes, **kwargs) -> Signal | None:
    """Load ``content`` saved as ``name``; assert the contract; return the Signal or None."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a warning is not a failure; only errors count
                sig = load_signal(path, **kwargs)
        except PhaseBrushError as exc:
            assert str(exc).strip(), "an error needs a message"
            sig = None
        assert path.read_bytes() == content, "loading modified the input file"
        assert sorted(p.name for p in Path(folder).iterdir()) == [name]
    if sig is not None:
        assert isinstance(sig, Signal)
        assert sig.n >= 2 and sig.y.dtype == np.float64 and np.isfinite(sig.y).all()
        assert np.isfinite(sig.dx) and sig.dx > 0 and np.isfinite(sig.x0)
        assert np.all(np.diff(sig.x) > 0)
    return sig


# --------------------------------------------------------------------------- random bytes


@FUZZ
@given(ext=st.sampled_from(EXTENSIONS), magic=st.sampled_from(MAGICS),
       body=st.binary(max_size=600))
def test_random_bytes_under_every_extension(ext, magic, body):
    _check_load(f"f{ext}", magic + body)


@FUZZ
@given(ext=st.sampled_from([".wav", ".flac", ".ogg", ".aiff", ".npy", ".npz"]),
       cut=st.integers(1, 400), flips=st.lists(st.tuples(st.integers(0, 399),
                                                        st.integers(0, 255)), max_size=6))
def test_damaged_real_files(ext, cut, flips):
    # a real file, truncated and with a few bytes changed: reaches the decoders' insides
    buf = io.BytesIO()
    y = np.sin(np.arange(64) * 0.3)
    if ext == ".npy":
        np.save(buf, y)
    elif ext == ".npz":
        np.savez(buf, y=y, x=np.arange(64.0))
    else:
        import soundfile as sf

        fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF"}[ext]
        sf.write(buf, y * 0.5, 8000, format=fmt)
    data = bytearray(buf.getvalue()[:cut])
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    _check_load(f"d{ext}", bytes(data))


def test_deeply_nested_brackets():
    for ext in (".csv", ".txt", ".json", ".npy", ".jdx"):
        _check_load(f"nest{ext}", b"[" * 100_000)


# --------------------------------------------------------------------------- CSV dialects

_HEADERS = ["x,y", "time (s),value", "Wavelength (nm),Absorbance", "wavenumber [cm-1],T",
            "t;v", "sample", "Wellenlänge (nm)\tExtinktion", "\"x\",\"y\""]
_ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "latin-1",
              "cp1252"]


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-le-bom":
        return b"\xff\xfe" + text.encode("utf-16-le")
    if encoding == "utf-16-be-bom":
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(encoding, errors="replace")


def _number(v: float, decimal_comma: bool, style: str) -> str:
    if not np.isfinite(v):
        return {True: "nan", False: "inf" if v > 0 else "-inf"}[bool(np.isnan(v))]
    text = {"repr": repr(float(v)), "g": f"{v:g}", "e": f"{v:.6e}"}[style]
    return text.replace(".", ",") if decimal_comma else text


@st.composite
def csv_tables(draw, *, clean: bool):
    """A text table and, when ``clean``, the (x, y) it must load as."""
    n = draw(st.integers(2 if clean else 0, 40))
    x0 = draw(st.integers(-500, 500))
    step = draw(st.sampled_from([0.25, 0.5, 1.0, 2.0, 10.0]))
    x = x0 + step * np.arange(n)
    y_values = st.floats(-1e6, 1e6, allow_nan=False) if clean else st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e3, 1e3))
    y = np.array(draw(st.lists(y_values, min_size=n, max_size=n)), dtype=np.float64)
    if n and draw(st.booleans()):  # repeat some x values, keeping the order
        reps = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
        idx = np.repeat(np.arange(n), reps)
        x, y = x[idx], np.array([y[i] if k == 0 else draw(y_values)
                                 for k, i in enumerate(idx)], dtype=np.float64)
    if clean and np.unique(x).size < 2:
        x[-1] = x[0] + step
    descending = draw(st.booleans())
    if descending:
        x, y = x[::-1], y[::-1]
    if not clean:
        order = draw(st.sampled_from(["keep", "shuffle", "gap"]))
        if order == "shuffle" and n:
            perm = draw(st.permutations(range(len(x))))
            x, y = x[list(perm)], y[list(perm)]
        elif order == "gap" and len(x) > 3:
            x = np.delete(x, 1)
            y = np.delete(y, 1)
    n_cols = draw(st.sampled_from([2, 2, 3] if clean else [1, 2, 3]))
    delim = draw(st.sampled_from([",", ";", "\t", " ", "  "]))
    decimal_comma = delim != "," and draw(st.booleans())
    style = draw(st.sampled_from(["repr", "g", "e"])) if not clean else "repr"
    if decimal_comma and delim == " " and n_cols == 1:
        decimal_comma = False
    lines = []
    if draw(st.booleans()):
        lines.append("# " + draw(st.sampled_from(["made by hand", "NIST, UV-Vis", "ä µ ü"])))
    if draw(st.booleans()):
        header = draw(st.sampled_from(_HEADERS))
        lines.append(header.replace(",", delim) if clean else header)
    blank = draw(st.sampled_from(["", "   "]))
    for i in range(len(x)):
        cols = [x[i], y[i], 1.0][:n_cols] if n_cols > 1 else [y[i]]
        lines.append(delim.join(_number(c, decimal_comma, style) for c in cols))
        if draw(st.integers(0, 9)) == 0:
            lines.append(blank if draw(st.booleans()) else "% comment")
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    raw = _encode(text, draw(st.sampled_from(_ENCODINGS)))
    ext = draw(st.sampled_from([".csv", ".txt", ".tsv", ".dat"]))
    return ext, raw, (x, y, n_cols)


def _expected(x, y):
    """Mean y per distinct x, ascending x: what a clean table loads as."""
    xs, inverse = np.unique(x, return_inverse=True)
    return xs, np.bincount(inverse, weights=y) / np.bincount(inverse)


@FUZZ
@given(table=csv_tables(clean=False))
def test_random_csv_dialects(table):
    ext, raw, _ = table
    _check_load(f"t{ext}", raw)


@FUZZ
@given(table=csv_tables(clean=True))
def test_clean_csv_dialects_load_their_values(table):
    ext, raw, (x, y, _) = table
    sig = _check_load(f"c{ext}", raw)
    assert sig is not None, raw[:200]
    xs, ys = _expected(x, y)
    assert sig.n == xs.size
    np.testing.assert_allclose(sig.x, xs, rtol=0, atol=1e-9 * max(1.0, np.abs(xs).max()))
    np.testing.assert_allclose(sig.y, ys, rtol=1e-12, atol=1e-9)


# --------------------------------------------------------------------------- NumPy payloads

_DTYPES = st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.boolean_dtypes(),
                    hnp.complex_number_dtypes(), hnp.unicode_string_dtypes(max_len=3),
                    hnp.datetime64_dtypes())
_ARRAYS = hnp.arrays(_DTYPES, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                max_side=12))


@FUZZ
@given(arr=_ARRAYS)
def test_random_npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    _check_load("a.npy", buf.getvalue())


@FUZZ
@given(arrays=st.dictionaries(st.sampled_from(["y", "x", "unit", "y_unit", "arr_0", "z"]),
                              _ARRAYS, max_size=4),
       compressed=st.booleans())
def test_random_npz(arrays, compressed):
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    _check_load("a.npz", buf.getvalue())


@FUZZ
@given(members=st.dictionaries(st.sampled_from(["y.npy", "x.npy", "unit.npy", "y"]),
                               st.binary(max_size=200), max_size=3),
       method=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
def test_npz_with_broken_members(members, method):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, b"\x93NUMPY" + data if data[:1] == b"\x01" else data)
    _check_load("b.npz", buf.getvalue())


# --------------------------------------------------------------------------- JCAMP-DX

_LABELS = ["TITLE", "JCAMP-DX", "DATA TYPE", "XUNITS", "YUNITS", "XFACTOR", "YFACTOR",
           "FIRSTX", "LASTX", "NPOINTS", "FIRSTY", "DELTAX", "BLOCKS", "XYDATA", "XYPOINTS",
           "PEAK TABLE", "END"]
_VALUES = ["", "1", "0", "-1", "3", "1E300", "NAN", "1/CM", "NANOMETERS", "(X++(Y..Y))",
           "(XY..XY)", "LINK", "x"]
_DATA = st.text(alphabet="0123456789.,;+- \t@ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs%$?",
                max_size=40)


@FUZZ
@given(lines=st.lists(st.one_of(
    st.tuples(st.sampled_from(_LABELS), st.sampled_from(_VALUES)).map(lambda t: f"##{t[0]}={t[1]}"),
    _DATA), max_size=25))
def test_random_jcamp(lines):
    text = "##TITLE=fuzz\n" + "\n".join(lines) + "\n##END=\n"
    _check_load("j.jdx", text.encode())
