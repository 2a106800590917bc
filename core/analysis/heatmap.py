"""Read a saliency heatmap (Grad-CAM and the like) from NPY or an image as a 2-D array.

A heatmap is what a classifier's explanation method says about the *image*
it was shown (an SSQ-CWT scalogram, say): one non-negative weight per pixel.
:func:`load_heatmap` returns it as float64 in [0, 1] with row 0 = the LOWEST
frequency, the TFR's convention; :mod:`core.analysis.attribution` resamples it onto a
transform's grid and turns it into a mask.

Orientation: image files (PNG, and NPY arrays saved from image code) put row
0 at the TOP of the picture, which for a scalogram drawn the usual way is the
HIGHEST frequency. ``origin="upper"`` (the default) says so and the rows are
flipped; pass ``origin="lower"`` for an array whose row 0 already is the
lowest frequency.

Images are decoded by Pillow (no Qt in ``core``): every PNG variant
(1-16-bit grayscale, grayscale + alpha, RGB, RGBA, 1/2/4/8-bit palettes,
interlaced or not), and the other formats Pillow reads (TIFF, JPEG, BMP, ...),
recognised by content. Pillow reads 16-bit colour at 8 bits; 16-bit gray keeps
its 16 bits. Every failure (truncated, corrupt, too many pixels for a
decompression-bomb guard) is a :class:`~core.errors.LoadError` naming the file.

Colour-mapped images (a jet or viridis rendering of the heatmap) are mapped
back to scalars by the nearest colour of the named colormap (``"viridis"``,
``"jet"``, ``"inferno"``, ``"gray"``); with ``colormap=None`` the Rec. 709
luminance is used, which is right for grayscale images but NOT monotonic for
jet. A heatmap blended over the input image ("overlay") cannot be unmixed:
export the raw heatmap instead. Alpha multiplies the value (a transparent
pixel highlights nothing).
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError
from scipy.spatial import cKDTree

from phasebrush.core.errors import LoadError, ParameterError, PhaseBrushError
from phasebrush.core.memory import check_fits

__all__ = ["COLORMAPS", "load_heatmap", "read_png", "colormap_table", "unmap_colors"]

COLORMAPS = ("viridis", "jet", "inferno", "gray")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Refuse absurd sizes before decoding: below Pillow's own bomb limit
# (Image.MAX_IMAGE_PIXELS, ~89 M), and 2 GiB as float64 RGBA.
_MAX_PIXELS = 1 << 26

# matplotlib's viridis and inferno (CC0, by N. J. Smith, S. van der Walt, E. Firing),
# 256 entries rounded to 8 bits, as hex RGB triplets.
_VIRIDIS_HEX = (
    "44015444025645045745055946075a46085c460a5d460b5e470d60470e61471063471164471365481467481668481769"
    "48186a481a6c481b6d481c6e481d6f481f70482071482173482374482475482576482677482878482979472a7a472c7a"
    "472d7b472e7c472f7d46307e46327e46337f463480453581453781453882443983443a83443b84433d84433e85423f85"
    "4240864241864142874144874045884046883f47883f48893e49893e4a893e4c8a3d4d8a3d4e8a3c4f8a3c508b3b518b"
    "3b528b3a538b3a548c39558c39568c38588c38598c375a8c375b8d365c8d365d8d355e8d355f8d34608d34618d33628d"
    "33638d32648e32658e31668e31678e31688e30698e306a8e2f6b8e2f6c8e2e6d8e2e6e8e2e6f8e2d708e2d718e2c718e"
    "2c728e2c738e2b748e2b758e2a768e2a778e2a788e29798e297a8e297b8e287c8e287d8e277e8e277f8e27808e26818e"
    "26828e26828e25838e25848e25858e24868e24878e23888e23898e238a8d228b8d228c8d228d8d218e8d218f8d21908d"
    "21918c20928c20928c20938c1f948c1f958b1f968b1f978b1f988b1f998a1f9a8a1e9b8a1e9c891e9d891f9e891f9f88"
    "1fa0881fa1881fa1871fa28720a38620a48621a58521a68522a78522a88423a98324aa8325ab8225ac8226ad8127ad81"
    "28ae8029af7f2ab07f2cb17e2db27d2eb37c2fb47c31b57b32b67a34b67935b77937b87838b9773aba763bbb753dbc74"
    "3fbc7340bd7242be7144bf7046c06f48c16e4ac16d4cc26c4ec36b50c46a52c56954c56856c66758c7655ac8645cc863"
    "5ec96260ca6063cb5f65cb5e67cc5c69cd5b6ccd5a6ece5870cf5773d05675d05477d1537ad1517cd2507fd34e81d34d"
    "84d44b86d54989d5488bd6468ed64590d74393d74195d84098d83e9bd93c9dd93ba0da39a2da37a5db36a8db34aadc32"
    "addc30b0dd2fb2dd2db5de2bb8de29bade28bddf26c0df25c2df23c5e021c8e020cae11fcde11dd0e11cd2e21bd5e21a"
    "d8e219dae319dde318dfe318e2e418e5e419e7e419eae51aece51befe51cf1e51df4e61ef6e620f8e621fbe723fde725"
)
_INFERNO_HEX = (
    "00000401000501010601010802010a02020c02020e03021004031204031405041706041907051b08051d09061f0a0722"
    "0b07240c08260d08290e092b10092d110a30120a32140b34150b37160b39180c3c190c3e1b0c411c0c431e0c451f0c48"
    "210c4a230c4c240c4f260c51280b53290b552b0b572d0b592f0a5b310a5c320a5e340a5f3609613809623909633b0964"
    "3d09653e0966400a67420a68440a68450a69470b6a490b6a4a0c6b4c0c6b4d0d6c4f0d6c510e6c520e6d540f6d550f6d"
    "57106e59106e5a116e5c126e5d126e5f136e61136e62146e64156e65156e67166e69166e6a176e6c186e6d186e6f196e"
    "71196e721a6e741a6e751b6e771c6d781c6d7a1d6d7c1d6d7d1e6d7f1e6c801f6c82206c84206b85216b87216b88226a"
    "8a226a8c23698d23698f24699025689225689326679526679727669827669a28659b29649d29649f2a63a02a63a22b62"
    "a32c61a52c60a62d60a82e5fa92e5eab2f5ead305dae305cb0315bb1325ab3325ab43359b63458b73557b93556ba3655"
    "bc3754bd3853bf3952c03a51c13a50c33b4fc43c4ec63d4dc73e4cc83f4bca404acb4149cc4248ce4347cf4446d04545"
    "d24644d34743d44842d54a41d74b3fd84c3ed94d3dda4e3cdb503bdd513ade5238df5337e05536e15635e25734e35933"
    "e45a31e55c30e65d2fe75e2ee8602de9612bea632aeb6429eb6628ec6726ed6925ee6a24ef6c23ef6e21f06f20f1711f"
    "f1731df2741cf3761bf37819f47918f57b17f57d15f67e14f68013f78212f78410f8850ff8870ef8890cf98b0bf98c0a"
    "f98e09fa9008fa9207fa9407fb9606fb9706fb9906fb9b06fb9d07fc9f07fca108fca309fca50afca60cfca80dfcaa0f"
    "fcac11fcae12fcb014fcb216fcb418fbb61afbb81dfbba1ffbbc21fbbe23fac026fac228fac42afac62df9c72ff9c932"
    "f9cb35f8cd37f8cf3af7d13df7d340f6d543f6d746f5d949f5db4cf4dd4ff4df53f4e156f3e35af3e55df2e661f2e865"
    "f2ea69f1ec6df1ed71f1ef75f1f179f2f27df2f482f3f586f3f68af4f88ef5f992f6fa96f8fb9af9fc9dfafda1fcffa4"
)

# matplotlib's jet, as its piecewise-linear segment data: (x, value) per channel.
_JET_SEGMENTS = (
    ((0.0, 0.0), (0.35, 0.0), (0.66, 1.0), (0.89, 1.0), (1.0, 0.5)),
    ((0.0, 0.0), (0.125, 0.0), (0.375, 1.0), (0.64, 1.0), (0.91, 0.0), (1.0, 0.0)),
    ((0.0, 0.5), (0.11, 1.0), (0.34, 1.0), (0.65, 0.0), (1.0, 0.0)),
)


def colormap_table(name: str) -> np.ndarray:
    """The 256 colours of a known colormap, low value first.

    Parameters
    ----------
    name : {"viridis", "jet", "inferno", "gray"}

    Returns
    -------
    np.ndarray [shape=(256, 3), float64, in [0, 1]]
        RGB of value ``i / 255`` in row ``i``.
    """
    if name == "viridis":
        return np.frombuffer(bytes.fromhex("".join(_VIRIDIS_HEX)), np.uint8).reshape(256, 3) / 255.0
    if name == "inferno":
        return np.frombuffer(bytes.fromhex("".join(_INFERNO_HEX)), np.uint8).reshape(256, 3) / 255.0
    v = np.linspace(0.0, 1.0, 256)
    if name == "gray":
        return np.repeat(v[:, None], 3, axis=1)
    if name == "jet":
        return np.stack([np.interp(v, [x for x, _ in seg], [c for _, c in seg])
                         for seg in _JET_SEGMENTS], axis=1)
    raise ParameterError(f"colormap={name!r} is not one of {COLORMAPS}")


def unmap_colors(rgb, colormap: str | None = None) -> np.ndarray:
    """Scalar value of each colour: its nearest entry in ``colormap``, or luminance.

    Parameters
    ----------
    rgb : array_like [shape=(..., 3), float, in [0, 1]]
    colormap : {"viridis", "jet", "inferno", "gray"} or None
        None: Rec. 709 luminance ``0.2126 R + 0.7152 G + 0.0722 B``.

    Returns
    -------
    np.ndarray [shape=rgb.shape[:-1], float64, in [0, 1]]
        For a colormap, ``i / 255`` where ``i`` is the nearest table entry
        (Euclidean distance in RGB).
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    if colormap is None:
        return np.clip(rgb @ np.array([0.2126, 0.7152, 0.0722]), 0.0, 1.0)
    table = colormap_table(colormap)
    # Images hold few distinct colours: match each once.
    q = np.clip(np.rint(rgb.reshape(-1, 3) * 255), 0, 255).astype(np.int64)
    packed = (q[:, 0] << 16) | (q[:, 1] << 8) | q[:, 2]
    uniq, inverse = np.unique(packed, return_inverse=True)
    ucol = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1) / 255.0
    _, best = cKDTree(table).query(ucol)
    return (best[inverse.reshape(-1)] / 255.0).reshape(rgb.shape[:-1])


def _ihdr_kind(head: bytes) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's first 26 bytes; None if they are not a PNG's.

    Pillow hides both (it reads 16-bit gray + alpha as RGBA, and 16-bit gray as
    "I" or "I;16" depending on its version); the IHDR says what the file holds.
    """
    if len(head) < 26 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _pillow_problem(exc: BaseException, kind: str) -> str:
    """A user-facing sentence for an exception Pillow (or zlib under it) raised."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if "truncated" in low or isinstance(exc, EOFError):
        return f"{kind} is truncated ({text})"
    if "checksum" in low or "crc" in low:
        return f"{kind} is corrupt (CRC mismatch: {text})"
    return f"{kind} is corrupt or unsupported ({text})"


def _pixels(im, path, kind: str, ihdr) -> np.ndarray:
    """A loaded PIL image -> float64 [h, w, c] in [0, 1] (c = 1, 2, 3 or 4)."""
    mode = im.mode
    if ihdr is not None and ihdr[1] == 4 and mode == "RGBA":
        # 16-bit gray + alpha: Pillow widens it to RGBA (gray in R, G and B)
        return np.asarray(im, dtype=np.float64)[..., [0, 3]] / 255.0
    if mode == "1":
        return np.asarray(im, dtype=np.float64)[..., None]
    if mode.startswith("I;16") or (mode == "I" and ihdr is not None):
        # 16-bit gray ("I" from Pillow < 10 for a PNG, whose gray is at most 16 bits)
        return np.asarray(im).astype(np.float64)[..., None] / 65535.0
    if mode in ("I", "F"):
        raise LoadError(path, f"{kind} holds 32-bit {'integer' if mode == 'I' else 'float'} "
                              "values; save the heatmap as an NPY array instead")
    if mode not in ("L", "LA", "RGB", "RGBA"):
        # palette (with transparency -> RGBA, as its tRNS says), CMYK, YCbCr, premultiplied ...
        has_alpha = "transparency" in im.info or "A" in im.getbands()
        im = im.convert("RGBA" if has_alpha else "RGB")
    a = np.asarray(im, dtype=np.float64)
    return (a[..., None] if a.ndim == 2 else a) / 255.0


def _read_image(path, *, formats=None, unknown: str = "not an image") -> np.ndarray:
    """Decode an image file with Pillow; see :func:`read_png`.

    ``formats``: Pillow format names to accept (None = any it reads);
    ``unknown``: the LoadError's text for a file it does not recognise.
    """
    path = Path(path)
    kind = "PNG" if formats == ("PNG",) else "image"
    try:
        with open(path, "rb") as fh:
            head = fh.read(26)
            ihdr = _ihdr_kind(head)
            if ihdr is None and head.startswith(_PNG_SIGNATURE):
                raise LoadError(path, f"PNG is truncated (its header ends after {len(head)} "
                                      "bytes)" if len(head) < 26 else
                                      "PNG is corrupt (it does not start with an IHDR chunk)")
            fh.seek(0)
            if ihdr is not None:
                # Opened by its plugin, not Image.open, which would hide why a damaged
                # header was refused behind "cannot identify image file".
                im = PngImagePlugin.PngImageFile(fh)
            elif formats == ("PNG",):
                raise LoadError(path, unknown)
            else:
                # Pillow warns between MAX_IMAGE_PIXELS and twice that and raises
                # above; both become a LoadError, as does our own lower limit below.
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    im = Image.open(fh, formats=formats)
            width, height = im.size
            if width == 0 or height == 0 or width * height > _MAX_PIXELS:
                raise LoadError(path, f"{kind} size {width} x {height} is empty or too large "
                                      f"(at most {_MAX_PIXELS} pixels)")
            # the float64 result and Pillow's buffer (<= 4 bytes a pixel), RGBA at worst
            check_fits(f"heatmap {path.name} ({width} x {height} pixels)",
                       width * height * (4 * 8 + 4), hint="use a smaller image")
            if ihdr is not None:
                # Pillow skips the image data's CRCs while decoding; verify() checks
                # every chunk's, so a damaged file is refused rather than read as pixels.
                im.verify()
                fh.seek(0)
                im = PngImagePlugin.PngImageFile(fh)
            im.load()
            return _pixels(im, path, kind, ihdr)
    except PhaseBrushError:
        raise
    except UnidentifiedImageError:
        raise LoadError(path, unknown) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LoadError(path, f"{kind} is too large to decode safely ({exc})") from None
    except MemoryError:
        raise LoadError(path, f"{kind} is too large: out of memory while decoding") from None
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error, struct.error) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise LoadError(path, f"cannot read file ({exc.strerror or exc})") from None
        raise LoadError(path, _pillow_problem(exc, kind)) from None


def read_png(path) -> np.ndarray:
    """Decode a PNG file (any variant Pillow reads, interlaced included).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    np.ndarray [shape=(height, width, c), float64, in [0, 1]]
        ``c`` = 1 (gray), 2 (gray, alpha), 3 (RGB) or 4 (RGBA); palette images
        come back as RGB, or RGBA when they carry transparency. Samples are
        divided by their full scale (1, 3, 15, 255 or 65535). 16-bit gray keeps
        its 16 bits; 16-bit colour and gray + alpha come through Pillow at 8
        bits (the high byte). Row 0 is the TOP of the picture, as stored.

    Raises
    ------
    LoadError
        Not a PNG, truncated, corrupt (bad CRC or zlib stream), or more than
        ``2**26`` pixels (a decompression bomb guard).
    OutOfMemoryError
        The decoded image would not fit in the memory budget (:mod:`core.memory`).
    """
    return _read_image(path, formats=("PNG",),
                       unknown="not a PNG file (the PNG signature is missing)")


def _to_2d(a: np.ndarray, path) -> np.ndarray:
    """Squeeze singleton axes; average a small channel axis (first or last)."""
    a = np.squeeze(a)
    if a.ndim == 3:
        if a.shape[-1] <= 4 and a.shape[-1] < min(a.shape[:2]):
            a = np.moveaxis(a, -1, 0)
        elif not (a.shape[0] <= 4 and a.shape[0] < min(a.shape[1:])):
            raise LoadError(path, f"heatmap of shape {a.shape} has no channel axis "
                                  "(expected a 2-D map, or 3-D with 1-4 channels)")
        # 2 = gray + alpha, 4 = RGBA: alpha is not part of the value
        a = a[0] if a.shape[0] == 2 else a[:3].mean(axis=0)
    if a.ndim != 2:
        raise LoadError(path, f"heatmap must be 2-D (or 3-D with a channel axis), "
                              f"got shape {a.shape}")
    if min(a.shape) < 2:
        raise LoadError(path, f"heatmap of shape {a.shape} needs at least 2 x 2 values")
    return a


def _load_npy(path: Path) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise LoadError(path, f"not a readable NPY array ({exc})") from None
    if not isinstance(a, np.ndarray):
        raise LoadError(path, "not a single NPY array")
    if np.iscomplexobj(a):
        raise LoadError(path, "heatmap is complex; a real saliency map is required")
    if a.dtype.kind not in "biuf":
        raise LoadError(path, f"heatmap dtype {a.dtype} is not numeric")
    integer_full_scale = None
    if a.dtype.kind in "iu" and a.dtype.itemsize <= 2:
        integer_full_scale = float(np.iinfo(a.dtype).max)  # 8/16-bit image data
    a = _to_2d(a.astype(np.float64), path)
    bad = ~np.isfinite(a)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise LoadError(path, f"heatmap holds {int(bad.sum())} NaN/inf value(s) "
                              f"(first at row {r}, column {c})")
    if integer_full_scale is not None and a.min() >= 0:
        return a / integer_full_scale
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0.0 and hi <= 1.0:
        return a
    if lo >= 0.0:
        return a / hi  # non-negative saliency: keep ratios
    if hi == lo:
        raise LoadError(path, f"heatmap is constant ({lo}); it highlights nothing")
    return (a - lo) / (hi - lo)  # signed map: min-max


def load_heatmap(path, *, colormap: str | None = None, origin: str = "upper") -> np.ndarray:
    """Load a saliency heatmap as weights in [0, 1], row 0 = lowest frequency.

    Parameters
    ----------
    path : str or Path
        An ``.npy`` array or an image: PNG, or any other format Pillow reads
        (TIFF, JPEG, BMP, ...), recognised by content, not name.
    colormap : {"viridis", "jet", "inferno", "gray"} or None
        Images only: the colormap the heatmap was rendered with; each pixel
        becomes the value of its nearest colour. None = luminance (grayscale
        images).
    origin : {"upper", "lower"}
        Where the file's row 0 is. "upper" (image convention, default): row 0
        is the top = highest frequency, so rows are flipped. "lower": row 0 is
        already the lowest frequency.

    Returns
    -------
    np.ndarray [shape=(n_rows, n_cols), float64, in [0, 1]]
        NPY values: kept if already in [0, 1]; 8/16-bit integers divided by
        their full scale; other non-negative maps divided by their maximum;
        signed maps min-max scaled. 3-D arrays: singleton axes squeezed; a
        channel axis (first or last) of 3 or 4 is averaged over RGB, of 2 is
        read as gray + alpha (the gray kept).
        Images: gray level (times alpha), or the unmapped colour (times alpha).

    Raises
    ------
    LoadError
        Not an NPY or image file, truncated or corrupt, too large, complex or
        non-finite, not 2-D.
    OutOfMemoryError
        The decoded image would not fit in the memory budget.
    ParameterError
        Unknown ``colormap`` or ``origin``.
    """
    if origin not in ("upper", "lower"):
        raise ParameterError(f"origin={origin!r} must be 'upper' or 'lower'")
    if colormap is not None and colormap not in COLORMAPS:
        raise ParameterError(f"colormap={colormap!r} is not one of {COLORMAPS}")
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(8)
    except OSError as exc:
        raise LoadError(path, f"cannot read file ({exc.strerror or exc})") from None
    if magic.startswith(b"\x93NUMPY"):
        heat = _load_npy(path)
    else:
        if magic.startswith(_PNG_SIGNATURE):
            img = read_png(path)
        else:
            img = _read_image(path, unknown="not a heatmap file: expected an NPY array or an "
                                            "image (PNG, TIFF, JPEG, BMP, ...)")
        c = img.shape[2]
        color = img[..., :3] if c >= 3 else np.repeat(img[..., :1], 3, axis=2)
        if colormap is None and c < 3:
            heat = img[..., 0].copy()
        else:
            heat = unmap_colors(color, colormap)
        if c in (2, 4):
            heat = heat * img[..., -1]
        if min(heat.shape) < 2:
            raise LoadError(path, f"heatmap of shape {heat.shape} needs at least 2 x 2 pixels")
    heat = np.clip(heat, 0.0, 1.0)
    if origin == "upper":
        heat = heat[::-1]
    return np.ascontiguousarray(heat, dtype=np.float64)
