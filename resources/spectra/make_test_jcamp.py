"""Write the synthetic JCAMP-DX test files in this folder from known spectra.

Run ``python resources/spectra/make_test_jcamp.py`` to regenerate them. The
tests import this file for the truth (``synthetic_ir``, ``synthetic_uv``) and
compare every decoded value with it, so each encoding is checked exactly.

Files (all hold the same IR spectrum unless said otherwise):

- ``synthetic_xypoints.jdx``   ##XYPOINTS=(XY..XY), AFFN x,y pairs
- ``synthetic_affn.jdx``       ##XYDATA=(X++(Y..Y)), AFFN, 10 values a line
- ``synthetic_sqz.jdx``        (X++(Y..Y)), SQZ, x scaled by XFACTOR=0.01
- ``synthetic_difdup.jdx``     (X++(Y..Y)), DIFDUP with y-checks and
                               two-digit DUP counts (a flat baseline)
- ``synthetic_descending.jdx`` (X++(Y..Y)), AFFN, x from high to low
- ``synthetic_link.jdx``       LINK with 3 blocks: a peak table (no
                               continuous data), the IR spectrum in SQZ,
                               a UV-vis spectrum in nm as (XY..XY)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["synthetic_ir", "synthetic_uv", "Y_FACTOR", "FILES", "write_all"]

HERE = Path(__file__).resolve().parent

#: The samples are integers times this factor (ASDF encodes integers).
Y_FACTOR = 0.001


def synthetic_ir() -> tuple[np.ndarray, np.ndarray]:
    """The IR test spectrum: x = 1000, 1004 ... 1476 cm^-1 (120 points), absorbance.

    Returns integer-valued counts ``y_int`` (multiply by ``Y_FACTOR``) so that
    every encoding is exact. Flat at 950 for the first ~40 points so DUP runs
    longer than 9 occur.
    """
    x = 1000.0 + 4.0 * np.arange(120)
    y = (950 - 600 * np.exp(-(((x - 1260) / 30) ** 2))
         - 300 * np.exp(-(((x - 1390) / 15) ** 2)) + 40 * np.sin(x / 37.0) * (x > 1180))
    return x, np.round(y).astype(np.int64)


def synthetic_uv() -> tuple[np.ndarray, np.ndarray]:
    """The UV-vis test spectrum: x = 200, 202 ... 298 nm (50 points), integer counts."""
    x = 200.0 + 2.0 * np.arange(50)
    y = 100 + 800 * np.exp(-(((x - 250) / 12) ** 2))
    return x, np.round(y).astype(np.int64)


def _sqz(v: int) -> str:
    s = str(abs(int(v)))
    lead = "@ABCDEFGHI"[int(s[0])] if v >= 0 else "@abcdefghi"[int(s[0])]
    return lead + s[1:]


def _dif(d: int) -> str:
    s = str(abs(int(d)))
    lead = "%JKLMNOPQR"[int(s[0])] if d >= 0 else "%jklmnopqr"[int(s[0])]
    return lead + s[1:]


def _dup(count: int) -> str:
    s = str(int(count))
    return "?STUVWXYZs"[int(s[0])] + s[1:]


def _header(title, *, x_units, y_units, first_x, last_x, n, data_label, x_factor=1,
            data_type="INFRARED SPECTRUM", extra=()):
    lines = [f"##TITLE={title}", "##JCAMP-DX=4.24", f"##DATA TYPE={data_type}",
             "##ORIGIN=PhaseBrush resources/spectra/make_test_jcamp.py (synthetic)",
             "##OWNER=public domain", *extra,
             f"##XUNITS={x_units}", f"##YUNITS={y_units}",
             f"##XFACTOR={x_factor}", f"##YFACTOR={Y_FACTOR}",
             f"##FIRSTX={first_x:g}", f"##LASTX={last_x:g}",
             f"##DELTAX={(last_x - first_x) / (n - 1):g}", f"##NPOINTS={n}",
             data_label]
    return lines


def _lines_affn(x, y, per_line=10):
    return [f"{x[i]:g} " + " ".join(str(v) for v in y[i:i + per_line])
            for i in range(0, len(y), per_line)]


def _lines_sqz(x_raw, y, per_line=10):
    return [f"{x_raw[i]:g}" + "".join(_sqz(v) for v in y[i:i + per_line])
            for i in range(0, len(y), per_line)]


def _lines_difdup(x, y, per_line=20):
    """DIFDUP: each line repeats the previous line's last value (the y-check)."""
    out, start, n = [], 0, len(y)
    while start < n - 1:
        stop = min(start + per_line, n - 1)
        tokens = [_dif(d) for d in np.diff(y[start:stop + 1])]
        body, i = "", 0
        while i < len(tokens):
            j = i
            while j < len(tokens) and tokens[j] == tokens[i]:
                j += 1
            body += tokens[i] + (_dup(j - i) if j - i > 1 else "")
            i = j
        out.append(f"{x[start]:g}{_sqz(y[start])}{body}")
        start = stop
    # The last line holds only the y-check of the final point: x of it, its value.
    out.append(f"{x[n - 1]:g}{_sqz(y[n - 1])}")
    return out


def _ir_block(kind: str, title: str) -> list[str]:
    x, y = synthetic_ir()
    n = len(x)
    if kind == "xypoints":
        head = _header(title, x_units="1/CM", y_units="ABSORBANCE", first_x=x[0],
                       last_x=x[-1], n=n, data_label="##XYPOINTS=(XY..XY)")
        body = [f"{xi:g}, {yi}" for xi, yi in zip(x, y, strict=True)]
    elif kind == "affn":
        head = _header(title, x_units="1/CM", y_units="ABSORBANCE", first_x=x[0],
                       last_x=x[-1], n=n, data_label="##XYDATA=(X++(Y..Y))")
        body = _lines_affn(x, y)
    elif kind == "sqz":
        head = _header(title, x_units="1/CM", y_units="ABSORBANCE", first_x=x[0],
                       last_x=x[-1], n=n, data_label="##XYDATA=(X++(Y..Y))", x_factor=0.01)
        body = _lines_sqz(np.round(x / 0.01), y)
    elif kind == "difdup":
        head = _header(title, x_units="1/CM", y_units="ABSORBANCE", first_x=x[0],
                       last_x=x[-1], n=n, data_label="##XYDATA=(X++(Y..Y))")
        body = _lines_difdup(x, y)
    elif kind == "descending":
        xd, yd = x[::-1], y[::-1]
        head = _header(title, x_units="1/CM", y_units="ABSORBANCE", first_x=xd[0],
                       last_x=xd[-1], n=n, data_label="##XYDATA=(X++(Y..Y))")
        body = _lines_affn(xd, yd)
    else:
        raise ValueError(kind)
    return head + body + ["##END="]


def _link_file() -> list[str]:
    xu, yu = synthetic_uv()
    peaks = ["##TITLE=synthetic peak table", "##JCAMP-DX=4.24",
             "##DATA TYPE=INFRARED PEAK TABLE", "##BLOCK_ID=1", "##XUNITS=1/CM",
             "##YUNITS=ABSORBANCE", "##NPOINTS=2", "##PEAK TABLE=(XY..XY)",
             "1260, 0.6 1390, 0.3", "##END="]
    ir = _ir_block("sqz", "synthetic IR (SQZ)")
    ir.insert(3, "##BLOCK_ID=2")
    uv = _header("synthetic UV-vis", x_units="NANOMETERS", y_units="ABSORBANCE",
                 first_x=xu[0], last_x=xu[-1], n=len(xu), data_label="##XYPOINTS=(XY..XY)",
                 data_type="UV/VIS SPECTRUM", extra=("##BLOCK_ID=3",))
    uv += [f"{a:g}, {b}" for a, b in zip(xu, yu, strict=True)] + ["##END="]
    return (["##TITLE=synthetic LINK file", "##JCAMP-DX=5.01", "##DATA TYPE=LINK",
             "##BLOCKS=3"] + peaks + ir + uv + ["##END="])


#: file name -> (encoding, truth function name)
FILES = {
    "synthetic_xypoints.jdx": ("xypoints", "synthetic_ir"),
    "synthetic_affn.jdx": ("affn", "synthetic_ir"),
    "synthetic_sqz.jdx": ("sqz", "synthetic_ir"),
    "synthetic_difdup.jdx": ("difdup", "synthetic_ir"),
    "synthetic_descending.jdx": ("descending", "synthetic_ir"),
    "synthetic_link.jdx": ("link", None),
}


def write_all(folder=HERE) -> list[Path]:
    """Write every file in ``FILES`` into ``folder``; return their paths."""
    folder = Path(folder)
    written = []
    for name, (kind, _) in FILES.items():
        lines = _link_file() if kind == "link" else _ir_block(kind, f"synthetic IR ({kind})")
        path = folder / name
        path.write_text("\n".join(lines) + "\n", encoding="ascii")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all():
        print(p)
