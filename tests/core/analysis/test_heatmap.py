"""Tests for core.analysis.heatmap: PNG and other images (via Pillow), colormap un-mapping, NPY."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from phasebrush.core.analysis.heatmap import colormap_table, load_heatmap, read_png, unmap_colors
from phasebrush.core.errors import LoadError, OutOfMemoryError, ParameterError
from phasebrush.core.memory import set_budget

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


# Adam7 passes: (first column, first row, column step, row step)
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2))


def _scanlines(samples, depth, filters) -> bytes:
    """Pack and filter ``samples`` [h, w, c] (ints at ``depth`` bits), cycling row filters."""
    h, w, c = samples.shape
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
    return raw


def write_png(path, samples, *, color_type, depth=8, palette=None, trns=None,
              interlace=0, filters=(0, 1, 2, 3, 4)):
    """Encode ``samples`` [h, w, c] (ints at ``depth`` bits) as a PNG, cycling row filters."""
    samples = np.asarray(samples)
    if samples.ndim == 2:
        samples = samples[:, :, None]
    h, w, c = samples.shape
    assert c == CHANNELS[color_type]
    if interlace:  # Adam7: seven sub-images, each filtered on its own; empty passes omitted
        raw = b"".join(_scanlines(samples[y0::dy, x0::dx], depth, filters)
                       for x0, y0, dx, dy in ADAM7 if x0 < w and y0 < h)
    else:
        raw = _scanlines(samples, depth, filters)
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


def _expected(data, color_type, depth):
    """What read_png returns for ``data``: samples over full scale; Pillow reads 16-bit
    colour (and gray + alpha) at 8 bits, the high byte, and keeps 16-bit gray whole."""
    if depth == 16 and color_type != 0:
        return (data >> 8) / 255
    return data / ((1 << depth) - 1)


@pytest.mark.parametrize("interlace", [0, 1])
@pytest.mark.parametrize("color_type,depth", [(0, 8), (0, 16), (2, 8), (2, 16), (4, 8),
                                              (4, 16), (6, 8), (6, 16), (0, 1), (0, 2),
                                              (0, 4)])
def test_read_png_decodes_every_filter_and_layout(tmp_path, rng, color_type, depth, interlace):
    c = CHANNELS[color_type]
    data = rng.integers(0, 1 << depth, size=(11, 13, c))
    p = write_png(tmp_path / "x.png", data, color_type=color_type, depth=depth,
                  interlace=interlace)
    img = read_png(p)
    assert img.shape == (11, 13, c) and img.dtype == np.float64
    np.testing.assert_allclose(img, _expected(data, color_type, depth), atol=1e-12)


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
    assert img.shape == (6, 9, 4)
    np.testing.assert_allclose(img[..., :3], palette[idx] / 255)
    np.testing.assert_allclose(img[..., 3], full_alpha[idx] / 255)


@pytest.mark.parametrize("depth", [2, 8])
def test_interlaced_palette_png_without_transparency_is_rgb(tmp_path, rng, depth):
    n = 1 << depth
    palette = rng.integers(0, 256, size=(n, 3))
    idx = rng.integers(0, n, size=(10, 7))
    p = write_png(tmp_path / "p.png", idx, color_type=3, depth=depth, palette=palette,
                  interlace=1)
    img = read_png(p)
    assert img.shape == (10, 7, 3)
    np.testing.assert_allclose(img, palette[idx] / 255)


def test_png_written_by_pillow_palette_and_16_bit_gray(tmp_path, rng):
    idx = rng.integers(0, 5, size=(6, 8)).astype(np.uint8)
    palette = rng.integers(0, 256, size=(5, 3)).astype(np.uint8)
    im = Image.fromarray(idx, mode="P")
    im.putpalette(palette.ravel().tolist())
    im.save(tmp_path / "pal.png")
    np.testing.assert_allclose(read_png(tmp_path / "pal.png"), palette[idx] / 255)

    gray = rng.integers(0, 65536, size=(7, 9)).astype(np.uint16)
    Image.fromarray(gray).save(tmp_path / "g16.png")
    img = read_png(tmp_path / "g16.png")
    assert img.shape == (7, 9, 1)
    np.testing.assert_allclose(img[..., 0], gray / 65535, atol=1e-12)
    np.testing.assert_allclose(load_heatmap(tmp_path / "g16.png", origin="lower"),
                               gray / 65535, atol=1e-12)


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
    with pytest.raises(LoadError, match="t.png: PNG is truncated"):
        load_heatmap(tmp_path / "t.png")
    (tmp_path / "h.png").write_bytes(data[:20])  # inside IHDR
    with pytest.raises(LoadError, match="h.png: PNG is truncated"):
        read_png(tmp_path / "h.png")
    bad = bytearray(data)
    bad[45] ^= 0xFF  # inside the first IDAT's data: its CRC no longer matches
    (tmp_path / "c.png").write_bytes(bytes(bad))
    with pytest.raises(LoadError, match="c.png: PNG is corrupt.*CRC"):
        load_heatmap(tmp_path / "c.png")
    bad = bytearray(data)
    bad[40] ^= 0xFF  # the first IDAT's type: not a chunk name
    (tmp_path / "n.png").write_bytes(bytes(bad))
    with pytest.raises(LoadError, match="n.png: PNG is corrupt"):
        read_png(tmp_path / "n.png")


def test_corrupt_zlib_stream_with_valid_crcs(tmp_path):
    z = zlib.compress(bytes(9 * 8))
    body = z[:2] + bytes(b ^ 0x5A for b in z[2:])  # the deflate data scrambled
    p = tmp_path / "z.png"
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body)
                  + _chunk(b"IEND", b""))
    with pytest.raises(LoadError, match="z.png: PNG is (corrupt|truncated)"):
        load_heatmap(p)


@pytest.mark.parametrize("side", [9000, 20000])  # above our limit; above Pillow's bomb limit
def test_decompression_bomb_is_refused_before_decoding(tmp_path, side):
    z = zlib.compress(bytes(side + 1) * 16)  # a few rows only: never decoded
    p = tmp_path / "bomb.png"
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", z)
                  + _chunk(b"IEND", b""))
    with pytest.raises(LoadError, match="bomb.png: PNG size .* too large"):
        load_heatmap(p)
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "small.bmp")
    data = bytearray((tmp_path / "small.bmp").read_bytes())
    data[18:26] = struct.pack("<ii", side, side)  # the BMP header claims side x side
    (tmp_path / "bomb.bmp").write_bytes(bytes(data))
    with pytest.raises(LoadError, match="bomb.bmp: image .*too large"):
        load_heatmap(tmp_path / "bomb.bmp")


def test_heatmap_larger_than_memory_budget(tmp_path, rng):
    p = write_png(tmp_path / "g.png", rng.integers(0, 256, (64, 64)), color_type=0)
    set_budget("64K")
    try:
        with pytest.raises(OutOfMemoryError, match="g.png"):
            load_heatmap(p)
    finally:
        set_budget(None)


def test_other_image_formats_load(tmp_path, rng):
    rgb = rng.integers(0, 256, size=(6, 9, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "h.bmp")
    np.testing.assert_allclose(load_heatmap(tmp_path / "h.bmp", origin="lower"),
                               unmap_colors(rgb / 255))
    gray = rng.integers(0, 65536, size=(5, 7)).astype(np.uint16)
    Image.fromarray(gray).save(tmp_path / "h.tif")
    np.testing.assert_allclose(load_heatmap(tmp_path / "h.tif"), gray[::-1] / 65535,
                               atol=1e-12)
    smooth = np.tile(np.linspace(0, 255, 16), (16, 1)).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "h.jpg", quality=95)
    assert np.max(np.abs(load_heatmap(tmp_path / "h.jpg", origin="lower")
                         - smooth / 255)) < 0.03  # lossy
    Image.fromarray(rng.random((4, 4)).astype(np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(LoadError, match="f.tif: .*32-bit float.*NPY"):
        load_heatmap(tmp_path / "f.tif")


def test_interlaced_png_equals_the_plain_one(tmp_path, rng):
    data = rng.integers(0, 256, (9, 10, 3))
    plain = write_png(tmp_path / "p.png", data, color_type=2)
    laced = write_png(tmp_path / "i.png", data, color_type=2, interlace=1)
    assert laced.read_bytes() != plain.read_bytes()
    np.testing.assert_array_equal(load_heatmap(laced), load_heatmap(plain))
    np.testing.assert_allclose(read_png(laced), data / 255)


def test_bad_options():
    with pytest.raises(ParameterError, match="origin"):
        load_heatmap("x.npy", origin="top")
    with pytest.raises(ParameterError, match="colormap"):
        load_heatmap("x.npy", colormap="parula")
