"""Tests for core.heatmap: PNG decoding, colormap un-mapping, NPY heatmaps."""

import struct
import zlib

import numpy as np
import pytest

from core.errors import LoadError, ParameterError
from core.heatmap import colormap_table, load_heatmap, read_png, unmap_colors

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(
        ">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def _filter_row(ftype: int, cur: np.ndarray, prior: np.ndarray, bpp: int) -> bytes:
    """Apply PNG filter ``ftype`` to one scanline (the encoder side, written independently)."""
    cur = cur.astype(np.int64)
    prior = prior.astype(np.int64)
    left = np.concatenate([np.zeros(bpp, np.int64), cur[:-bpp]])
    upleft = np.concatenate([np.zeros(bpp, np.int64), prior[:-bpp]])
    if ftype == 0:
        pred = np.zeros_like(cur)
    elif ftype == 1:
        pred = left
    elif ftype == 2:
        pred = prior
    elif ftype == 3:
        pred = (left + prior) // 2
    else:
        p = left + prior - upleft
        pa, pb, pc = np.abs(p - left), np.abs(p - prior), np.abs(p - upleft)
        pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prior, upleft))
    return bytes([ftype]) + ((cur - pred) % 256).astype(np.uint8).tobytes()


def write_png(path, samples, *, color_type, depth=8, palette=None, trns=None,
              interlace=0, filters=(0, 1, 2, 3, 4)):
    """Encode ``samples`` [h, w, c] (ints at ``depth`` bits) as a PNG, cycling row filters."""
    samples = np.asarray(samples)
    if samples.ndim == 2:
        samples = samples[:, :, None]
    h, w, c = samples.shape
    assert c == CHANNELS[color_type]
    if depth == 16:
        rows = samples.astype(">u2").reshape(h, -1).view(np.uint8)
    elif depth == 8:
        rows = samples.astype(np.uint8).reshape(h, -1)
    else:
        per_byte = 8 // depth
        padded = np.zeros((h, -(-w // per_byte) * per_byte), np.uint8)
        padded[:, :w] = samples[:, :, 0]
        grp = padded.reshape(h, -1, per_byte).astype(np.int64)
        shifts = depth * np.arange(per_byte - 1, -1, -1)
        rows = (grp << shifts).sum(axis=2).astype(np.uint8)
    bpp = max(1, c * depth // 8)
    raw = b""
    prior = np.zeros(rows.shape[1], np.uint8)
    for i in range(h):
        raw += _filter_row(filters[i % len(filters)], rows[i], prior, bpp)
        prior = rows[i]
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth,
                                                            color_type, 0, 0, interlace))
    if palette is not None:
        out += _chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes())
    if trns is not None:
        out += _chunk(b"tRNS", np.asarray(trns, np.uint8).tobytes())
    z = zlib.compress(raw)
    out += _chunk(b"IDAT", z[:len(z) // 2]) + _chunk(b"IDAT", z[len(z) // 2:])
    out += _chunk(b"IEND", b"")
    path.write_bytes(out)
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(5)


@pytest.mark.parametrize("color_type,depth", [(0, 8), (0, 16), (2, 8), (2, 16), (4, 8),
                                              (6, 8), (6, 16), (0, 1), (0, 2), (0, 4)])
def test_read_png_decodes_every_filter_and_layout(tmp_path, rng, color_type, depth):
    c = CHANNELS[color_type]
    data = rng.integers(0, 1 << depth, size=(11, 13, c))
    p = write_png(tmp_path / "x.png", data, color_type=color_type, depth=depth)
    img = read_png(p)
    assert img.shape == (11, 13, c)
    np.testing.assert_allclose(img, data / ((1 << depth) - 1), atol=1e-12)


@pytest.mark.parametrize("depth", [1, 2, 4, 8])
def test_read_png_palette_with_transparency(tmp_path, rng, depth):
    n = 1 << depth
    palette = rng.integers(0, 256, size=(n, 3))
    alpha = rng.integers(0, 256, size=n // 2 + 1)  # tRNS may be shorter than the palette
    idx = rng.integers(0, n, size=(6, 9))
    p = write_png(tmp_path / "p.png", idx, color_type=3, depth=depth, palette=palette,
                  trns=alpha)
    img = read_png(p)
    full_alpha = np.full(n, 255)
    full_alpha[:alpha.size] = alpha
    np.testing.assert_allclose(img[..., :3], palette[idx] / 255)
    np.testing.assert_allclose(img[..., 3], full_alpha[idx] / 255)


def test_grayscale_png_flips_to_lowest_frequency_first(tmp_path):
    img = np.tile(np.arange(8, dtype=np.uint8)[:, None] * 30, (1, 5))  # row 0 = top = dark
    p = write_png(tmp_path / "g.png", img, color_type=0)
    heat = load_heatmap(p)
    np.testing.assert_allclose(heat[:, 0], img[::-1, 0] / 255)
    np.testing.assert_allclose(load_heatmap(p, origin="lower")[:, 0], img[:, 0] / 255)


@pytest.mark.parametrize("name,tol", [("viridis", 1.5 / 255), ("inferno", 1.5 / 255),
                                      ("gray", 0.5 / 255), ("jet", 0.03)])
def test_colour_mapped_png_maps_back_to_values(tmp_path, rng, name, tol):
    values = rng.random((16, 20))
    table = colormap_table(name)
    rgb = np.rint(table[np.rint(values * 255).astype(int)] * 255)
    p = write_png(tmp_path / f"{name}.png", rgb, color_type=2)
    heat = load_heatmap(p, colormap=name, origin="lower")
    assert np.max(np.abs(heat - values)) <= tol + 0.5 / 255
    # luminance of jet is not monotonic: the colormap really is used
    if name == "jet":
        lum = load_heatmap(p, origin="lower")
        assert np.corrcoef(lum.ravel(), values.ravel())[0, 1] < 0.9


def test_rgba_alpha_scales_value(tmp_path):
    rgba = np.zeros((4, 4, 4))
    rgba[..., :3] = 255
    rgba[..., 3] = [[0, 255, 51, 255]] * 4
    p = write_png(tmp_path / "a.png", rgba, color_type=6)
    heat = load_heatmap(p, origin="lower")
    np.testing.assert_allclose(heat[0], [0, 1, 0.2, 1])


def test_unmap_colors_luminance_of_gray_is_level():
    v = np.linspace(0, 1, 7)
    np.testing.assert_allclose(unmap_colors(np.repeat(v[:, None], 3, axis=1)), v)


def test_npy_any_shape_and_channel_axes(tmp_path, rng):
    base = rng.random((9, 14))
    for arr in (base, base[None], base[:, :, None], base[None, None]):
        np.save(tmp_path / "h.npy", arr)
        np.testing.assert_allclose(load_heatmap(tmp_path / "h.npy"), base[::-1])
    rgb = np.stack([base, base, base], axis=-1)
    np.save(tmp_path / "rgb.npy", rgb)
    np.testing.assert_allclose(load_heatmap(tmp_path / "rgb.npy", origin="lower"), base)
    np.save(tmp_path / "chw.npy", np.moveaxis(rgb, -1, 0))
    np.testing.assert_allclose(load_heatmap(tmp_path / "chw.npy", origin="lower"), base)


def test_npy_scaling_rules(tmp_path):
    a = np.array([[0.0, 2.0], [1.0, 4.0]])
    np.save(tmp_path / "pos.npy", a)
    np.testing.assert_allclose(load_heatmap(tmp_path / "pos.npy", origin="lower"), a / 4)
    np.save(tmp_path / "signed.npy", a - 2)
    np.testing.assert_allclose(load_heatmap(tmp_path / "signed.npy", origin="lower"), a / 4)
    np.save(tmp_path / "u8.npy", np.array([[0, 51], [255, 102]], np.uint8))
    np.testing.assert_allclose(load_heatmap(tmp_path / "u8.npy", origin="lower"),
                               [[0, 0.2], [1, 0.4]])


@pytest.mark.parametrize("arr,words", [
    (np.ones((4, 4), complex), "complex"),
    (np.array([[0.1, np.nan], [0.2, 0.3]]), "NaN"),
    (np.ones(10), "2-D"),
    (np.ones((5, 6, 7)), "channel"),
    (np.full((3, 3), -1.0), "constant"),
])
def test_bad_npy_raises_load_error_naming_file(tmp_path, arr, words):
    p = tmp_path / "bad.npy"
    np.save(p, arr)
    with pytest.raises(LoadError, match=words) as err:
        load_heatmap(p)
    assert "bad.npy" in str(err.value)


def test_not_an_image_is_a_load_error(tmp_path):
    p = tmp_path / "heat.png"
    p.write_text("this is not an image\n")
    with pytest.raises(LoadError, match="heat.png.*not a heatmap file"):
        load_heatmap(p)
    with pytest.raises(LoadError, match="not a PNG"):
        read_png(p)
    with pytest.raises(LoadError, match="cannot read"):
        load_heatmap(tmp_path / "missing.png")


def test_truncated_and_corrupt_png(tmp_path, rng):
    good = write_png(tmp_path / "g.png", rng.integers(0, 256, (8, 8)), color_type=0)
    data = good.read_bytes()
    (tmp_path / "t.png").write_bytes(data[:len(data) // 2])
    with pytest.raises(LoadError, match="truncated"):
        load_heatmap(tmp_path / "t.png")
    bad = bytearray(data)
    bad[40] ^= 0xFF  # inside the first IDAT: CRC no longer matches
    (tmp_path / "c.png").write_bytes(bytes(bad))
    with pytest.raises(LoadError, match="CRC"):
        load_heatmap(tmp_path / "c.png")


def test_interlaced_png_is_refused_with_reason(tmp_path, rng):
    p = write_png(tmp_path / "i.png", rng.integers(0, 256, (4, 4)), color_type=0, interlace=1)
    with pytest.raises(LoadError, match="interlaced"):
        load_heatmap(p)


def test_bad_options():
    with pytest.raises(ParameterError, match="origin"):
        load_heatmap("x.npy", origin="top")
    with pytest.raises(ParameterError, match="colormap"):
        load_heatmap("x.npy", colormap="parula")
