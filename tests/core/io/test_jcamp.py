"""Tests for core.io.jcamp, against the synthetic files in resources/spectra."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from phasebrush.core.errors import LoadError
from phasebrush.core.io.jcamp import _expand_dup, jcamp_blocks, jcamp_unit, load_jcamp
from phasebrush.core.io.signals import list_jcamp_blocks, load_signal

SPECTRA = Path(__file__).resolve().parents[3] / "resources" / "spectra"


def _maker():
    spec = importlib.util.spec_from_file_location("make_test_jcamp",
                                                  SPECTRA / "make_test_jcamp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKER = _maker()
IR_FILES = [name for name, (_, truth) in MAKER.FILES.items() if truth == "synthetic_ir"]


def test_shipped_files_match_the_generator(tmp_path):
    MAKER.write_all(tmp_path)
    for name in MAKER.FILES:
        assert (tmp_path / name).read_bytes() == (SPECTRA / name).read_bytes(), name


@pytest.mark.parametrize("name", IR_FILES)
def test_each_encoding_decodes_to_the_truth(name):
    x, y_int = MAKER.synthetic_ir()
    sig = load_signal(SPECTRA / name)
    assert sig.n == len(x) == 120
    assert sig.unit == "cm^-1" and sig.y_unit == "absorbance"
    assert sig.x0 == pytest.approx(x[0]) and sig.dx == pytest.approx(x[1] - x[0])
    assert sig.x[-1] == pytest.approx(x[-1])
    np.testing.assert_allclose(sig.y, y_int * MAKER.Y_FACTOR, rtol=0, atol=1e-12)
    assert sig.descending == (name == "synthetic_descending.jdx")
    assert sig.notes == ()


def test_difdup_file_really_uses_long_dup_runs():
    text = (SPECTRA / "synthetic_difdup.jdx").read_text()
    assert "%T0" in text  # a 20-fold DUP the jcamp package alone misreads


@pytest.mark.parametrize("line,expanded", [
    ("1000I50%T0", "1000I50" + "%" * 20),
    ("10A5JT", "10A5JJ"),
    ("10A5T", "10A5A5"),
    ("10 5 6T", "10 5 6 6"),
])
def test_expand_dup(line, expanded):
    assert _expand_dup(line) == expanded


def test_link_file_blocks():
    path = SPECTRA / "synthetic_link.jdx"
    titles = list_jcamp_blocks(path)
    assert titles == ["synthetic peak table", "synthetic IR (SQZ)", "synthetic UV-vis"]
    info = jcamp_blocks(path)
    assert [b.has_xy for b in info] == [False, True, True]
    assert [b.n_points for b in info] == [0, 120, 50]


def test_link_default_takes_first_block_with_data():
    sig = load_signal(SPECTRA / "synthetic_link.jdx")
    x, y_int = MAKER.synthetic_ir()
    np.testing.assert_allclose(sig.y, y_int * MAKER.Y_FACTOR, atol=1e-12)
    assert sig.notes == ("loaded block 2 of 3 ('synthetic IR (SQZ)'), the first with x/y data",)
    assert "synthetic IR (SQZ)" in sig.name


def test_link_explicit_block():
    sig = load_signal(SPECTRA / "synthetic_link.jdx", block=2)
    x, y_int = MAKER.synthetic_uv()
    assert sig.unit == "nm" and sig.n == 50
    assert sig.x0 == pytest.approx(x[0]) and sig.dx == pytest.approx(x[1] - x[0])
    np.testing.assert_allclose(sig.y, y_int * MAKER.Y_FACTOR, atol=1e-12)
    assert "block 3 of 3" in sig.notes[0]


@pytest.mark.parametrize("block,frag", [(0, "holds no x/y"), (3, "block 3 does not exist"),
                                        (-1, "block -1 does not exist")])
def test_link_bad_block_lists_blocks(block, frag):
    path = SPECTRA / "synthetic_link.jdx"
    with pytest.raises(LoadError) as info:
        load_jcamp(path, block=block)
    msg = str(info.value)
    assert msg.startswith(str(path)) and frag in msg
    assert "'synthetic UV-vis' (50 points)" in msg


def test_ethanol():
    sig = load_signal(SPECTRA / "ethanol.jdx")
    assert sig.n == 3570
    assert sig.unit == "cm^-1" and sig.y_unit == "transmittance"
    assert sig.x0 == pytest.approx(461.563) and sig.x[-1] == pytest.approx(3807.5)
    assert sig.dx == pytest.approx(0.9375, rel=1e-6)
    assert 0.1 < sig.y.min() and sig.y.max() < 1.1
    assert not sig.descending and sig.notes == ()


@pytest.mark.parametrize("label,unit", [
    ("1/CM", "cm^-1"), ("MICROMETERS", "µm"), ("NANOMETERS", "nm"), ("PPM", "ppm"),
    ("SECONDS", "s"), ("HZ", "Hz"), ("ARBITRARY UNITS", ""), ("Furlongs", "furlongs"),
])
def test_jcamp_unit(label, unit):
    assert jcamp_unit(label) == unit


def _affn_file(path, *, xunits="1/CM", yunits="ABSORBANCE", npoints=6, lines=None, end=True):
    head = ["##TITLE=t", "##JCAMP-DX=4.24", "##DATA TYPE=SPECTRUM", f"##XUNITS={xunits}",
            f"##YUNITS={yunits}", "##XFACTOR=1", "##YFACTOR=1", "##FIRSTX=10",
            "##LASTX=15", f"##NPOINTS={npoints}", "##XYDATA=(X++(Y..Y))"]
    body = lines if lines is not None else ["10 1 2 3", "13 4 5 6"]
    path.write_text("\n".join(head + body + (["##END="] if end else [])) + "\n")
    return path


@pytest.mark.parametrize("xunits,unit", [("MICROMETERS", "µm"), ("PPM", "ppm"),
                                         ("SECONDS", "s"), ("HZ", "Hz")])
def test_x_units(tmp_path, xunits, unit):
    sig = load_signal(_affn_file(tmp_path / "u.jdx", xunits=xunits))
    assert sig.unit == unit and sig.n == 6
    np.testing.assert_array_equal(sig.y, [1, 2, 3, 4, 5, 6])


def test_jcamp_named_txt_is_sniffed(tmp_path):
    sig = load_signal(_affn_file(tmp_path / "spectrum.txt"))
    assert sig.n == 6 and sig.notes == ()


def test_missing_end_means_truncated(tmp_path):
    path = _affn_file(tmp_path / "cut.jdx", end=False)
    with pytest.raises(LoadError, match="truncated"):
        load_signal(path)


def test_too_few_points_for_npoints(tmp_path):
    path = _affn_file(tmp_path / "short.jdx", npoints=8)
    with pytest.raises(LoadError, match=r"decoded 6 points but ##NPOINTS=8"):
        load_signal(path)


def test_truncated_real_file(tmp_path):
    text = (SPECTRA / "ethanol.jdx").read_text()
    cut = tmp_path / "ethanol_cut.jdx"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(LoadError, match="truncated"):
        load_signal(cut)
    cut.write_text(text[: len(text) // 2].rsplit("\n", 1)[0] + "\n##END=\n")
    with pytest.raises(LoadError, match="NPOINTS=3570"):
        load_signal(cut)


def test_corrupt_dif_y_check(tmp_path):
    text = (SPECTRA / "synthetic_difdup.jdx").read_text()
    # the third data line's y-check no longer matches the end of the second line
    bad = text.replace("\n1160I50", "\n1160I60", 1)
    assert bad != text
    path = tmp_path / "corrupt.jdx"
    path.write_text(bad)
    with pytest.raises(LoadError, match="corrupt"):
        load_signal(path)


def test_garbage_in_data(tmp_path):
    path = _affn_file(tmp_path / "junk.jdx", lines=["10 1 2 3", "13 4 <5> 6"])
    with pytest.raises(LoadError, match="not a readable JCAMP-DX"):
        load_signal(path)


def test_missing_required_label(tmp_path):
    path = tmp_path / "nonpoints.jdx"
    path.write_text("##TITLE=t\n##XUNITS=1/CM\n##FIRSTX=1\n##LASTX=3\n"
                    "##XYDATA=(X++(Y..Y))\n1 1 2 3\n##END=\n")
    with pytest.raises(LoadError, match="##NPOINTS"):
        load_signal(path)


def test_no_data_block(tmp_path):
    path = tmp_path / "peaks.jdx"
    path.write_text("##TITLE=p\n##JCAMP-DX=4.24\n##PEAK TABLE=(XY..XY)\n1,2 3,4\n##END=\n")
    with pytest.raises(LoadError, match="no block holds x/y"):
        load_signal(path)


def test_inline_comments_are_ignored(tmp_path):
    path = _affn_file(tmp_path / "c.jdx", lines=["10 1 2 3 $$ first line", "13 4 5 6"])
    np.testing.assert_array_equal(load_signal(path).y, [1, 2, 3, 4, 5, 6])


@pytest.mark.parametrize("name", ["ethanol.jdx", "synthetic_link.jdx", "synthetic_difdup.jdx"])
def test_loading_never_changes_the_input(name):
    path = SPECTRA / name
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    load_signal(path)
    list_jcamp_blocks(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_label_without_equals_names_the_line(tmp_path):
    path = tmp_path / "noeq.jdx"
    path.write_text("##TITLE=t\n##XUNITS\n##END=\n")
    with pytest.raises(LoadError, match="line 2: label without '='"):
        load_signal(path)


def test_unreadable_xy_pair_names_the_line(tmp_path):
    path = tmp_path / "pairs.jdx"
    path.write_text("##TITLE=t\n##XUNITS=NANOMETERS\n##XYPOINTS=(XY..XY)\n"
                    "200, 1\n202, ?\n204, 3\n##END=\n")
    with pytest.raises(LoadError, match=r"line 5: '\?' is not a number"):
        load_signal(path)


def test_xy_pairs_without_npoints(tmp_path):
    path = tmp_path / "pairs.jdx"
    path.write_text("##TITLE=t\n##XUNITS=NANOMETERS\n##YUNITS=ABSORBANCE\n"
                    "##XYPOINTS=(XY..XY)\n200, 1; 202, 2\n204, 3 206,4\n##END=\n")
    sig = load_signal(path)
    assert sig.unit == "nm" and sig.x0 == 200 and sig.dx == 2
    np.testing.assert_array_equal(sig.y, [1, 2, 3, 4])


def test_nist_uvvis_repeated_x_is_merged(tmp_path):
    # NIST UV-Vis files list (XY..XY) pairs and repeat an x where two scans meet
    path = tmp_path / "uvvis.jdx"
    path.write_text("##TITLE=benzene\n##JCAMP-DX=4.24\n##DATA TYPE=UV/VISIBLE SPECTRUM\n"
                    "##XUNITS=NANOMETERS\n##YUNITS=LOGARITHM EPSILON\n##NPOINTS=7\n"
                    "##XYPOINTS=(XY..XY)\n230,1.0\n231,2.0\n232,3.0\n232,3.5\n233,4.0\n"
                    "234,5.0\n234,6.0\n##END=\n")
    sig = load_signal(path)
    assert sig.unit == "nm" and sig.n == 5 and sig.x0 == 230 and sig.dx == 1
    np.testing.assert_allclose(sig.y, [1.0, 2.0, 3.25, 4.0, 5.5])
    assert any("merged 2 point(s)" in n for n in sig.notes), sig.notes


def test_nonmonotonic_pairs_name_points_with_plain_numbers(tmp_path):
    path = tmp_path / "zigzag.jdx"
    path.write_text("##TITLE=t\n##XUNITS=NANOMETERS\n##XYPOINTS=(XY..XY)\n"
                    "749.0, 1\n749.5, 2\n749.25, 3\n##END=\n")
    with pytest.raises(LoadError) as info:
        load_signal(path)
    msg = str(info.value)
    assert "749.5 then 749.25" in msg and "points 2 and 3" in msg and "np." not in msg
