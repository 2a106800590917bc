"""The command-line interface over core: ``phasebrush transform|invert|retrieve``.

Pure core: no Qt import, so scripts and batch jobs start fast and run headless.
Every error a user can cause ends in one line on stderr and exit status 2, as
does running out of memory; Ctrl-C (or SIGTERM) ends in "interrupted" and exit
status 130, leaving no partial file. Anything else is a bug and keeps its
traceback.

Every command checks all its outputs (folder, permission, suffix, not the
input, audio only with a rate) before it loads or computes anything.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal as _signal
import sys
import threading
import time
from pathlib import Path

__all__ = ["single_item_parser", "add_parsers", "new_parser", "COMMANDS", "SIGNAL_SUFFIXES",
           "IMAGE_SUFFIXES", "INTERRUPTED"]

COMMANDS = ("transform", "invert", "retrieve", "batch")
#: What ``core.io.signals.save_signal`` writes (a test checks that they agree).
SIGNAL_SUFFIXES = (".wav", ".flac", ".ogg", ".csv", ".npy", ".npz")
#: Exit status after Ctrl-C / SIGTERM (128 + SIGINT, as shells report it).
INTERRUPTED = 130
#: What ``transform --image`` writes: an 8-bit PNG, or float32 dB as NPY (+ a JSON sidecar).
IMAGE_SUFFIXES = (".png", ".npy")


def _add_load_options(p: argparse.ArgumentParser, *, input_rate: bool = False) -> None:
    """--channel, --block, and the axis of an input without one: --dx / --unit (and
    --rate when the command has no output rate of its own)."""
    p.add_argument("--channel", default="first",
                   help="multichannel audio: 'first', 'mix' or a channel number (default first)")
    p.add_argument("--block", type=int, default=None,
                   help="JCAMP-DX multi-block file: block index (default: first with data)")
    g = p.add_argument_group(
        "input axis", "for an input with no x axis: one column of text, a 1-D .npy, an .npz "
                      "without x (otherwise 1 sample apart, unit 'samples')")
    if input_rate:
        g.add_argument("--rate", type=_rate, default=None, metavar="HZ",
                       help="the input's sample rate: the same as --dx 1/HZ --unit s")
    g.add_argument("--dx", type=_spacing, default=None, metavar="DX",
                   help="the input's sample spacing, in --unit (default 1)")
    g.add_argument("--unit", default=None, metavar="UNIT",
                   help="the input's axis unit when the file names none: s, ms, cm^-1, nm, "
                        "ppm ... (default: samples)")


def _add_rate_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rate", type=_rate, default=None, metavar="HZ",
                   help="sample rate of audio outputs (.wav/.flac/.ogg); needed for a signal "
                        "whose axis is not in seconds (a spectrum), default: the input's. "
                        "For an input with no x axis (one column) also the input's sample "
                        "rate, unless --dx or --unit is given")


def _add_transform_options(p: argparse.ArgumentParser, *, kinds, default_kind) -> None:
    from phasebrush.core.tf.transforms import WAVELETS

    g = p.add_argument_group("transform")
    g.add_argument("--kind", "--tfr", dest="kind", choices=kinds, default=default_kind,
                   help=f"transform kind (default {default_kind})")
    g.add_argument("--wavelet", choices=WAVELETS, default="gmw", help="CWT wavelet (default gmw)")
    g.add_argument("--time-bandwidth", type=float, default=None, metavar="P2",
                   help="GMW time-bandwidth product beta*gamma (6-600; default 180 = "
                        "ssqueezepy's; 60 = MATLAB's, better for retrieve)")
    g.add_argument("--nv", type=int, default=32, help="CWT voices per octave (default 32)")
    g.add_argument("--scales", choices=("log", "log-piecewise"), default="log",
                   help="CWT scale distribution (default log: inverts best)")
    g.add_argument("--fmin", type=float, default=None, help="CWT lowest frequency (signal units)")
    g.add_argument("--fmax", type=float, default=None, help="CWT highest frequency")
    g.add_argument("--no-edge-rows", dest="edge_rows", action="store_false",
                   help="CWT: drop the low/high-pass rows that make the full inverse exact")
    g.add_argument("--window", default="hann", help="STFT window name (default hann)")
    g.add_argument("--n-fft", type=int, default=256, help="STFT FFT length (default 256)")
    g.add_argument("--win-len", type=int, default=None, help="STFT window length (default n-fft)")
    g.add_argument("--hop", type=int, default=None,
                   help="STFT hop (default 1 for transform/invert, n-fft/4 for retrieve)")


def _spec_from_args(args, *, default_hop: int):
    from phasebrush.core.tf.transforms import TransformSpec

    return TransformSpec(
        kind=args.kind, wavelet=args.wavelet, time_bandwidth=args.time_bandwidth,
        nv=args.nv, scales=args.scales,
        fmin=args.fmin, fmax=args.fmax, edge_rows=args.edge_rows, window=args.window,
        n_fft=args.n_fft, win_len=args.win_len,
        hop=default_hop if args.hop is None else args.hop)


def _channel(value: str):
    return int(value) if value.lstrip("-").isdigit() else value


def _load(args):
    from phasebrush.core.errors import ParameterError
    from phasebrush.core.io.signals import load_signal, needs_spacing

    dx, unit, rate = args.dx, args.unit, getattr(args, "rate", None)
    input_rate = args.command == "transform"   # invert / retrieve: --rate is the outputs'
    if input_rate and rate is not None and (dx is not None or unit is not None):
        raise ParameterError(f"--rate {rate:g} with --dx / --unit: give the input's sample "
                             "rate or its spacing and unit, not both")
    bare = needs_spacing(args.input)
    options = {"channel": _channel(args.channel), "block": args.block}
    if dx is not None:
        options["dx"] = dx
    if unit is not None:
        options["unit"] = unit
    if rate is not None and bare and dx is None and unit is None:
        options["rate"] = rate
    signal = load_signal(args.input, **options)
    notes = list(signal.notes)
    if not bare and dx is not None:
        notes.append(f"--dx {dx:g} ignored: the file has its own x axis")
    if not bare and input_rate and rate is not None:
        notes.append(f"--rate {rate:g} ignored: the file has its own x axis")
    for note in notes:
        print(f"phasebrush: {args.input}: {note}", file=sys.stderr)
    return signal


def _spacing(value: str) -> float:
    try:
        dx = float(value)
    except ValueError:
        dx = math.nan
    if not (math.isfinite(dx) and dx > 0):
        raise argparse.ArgumentTypeError(f"{value!r}: need a sample spacing > 0")
    return dx


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = math.nan
    if not (math.isfinite(rate) and rate >= 1):
        raise argparse.ArgumentTypeError(f"{value!r}: need a sample rate in Hz, >= 1")
    return rate


def _check_outputs(args, outputs, *, signal=None) -> None:
    """Refuse, before any work, outputs that could not be written.

    ``outputs``: ``(option, path, kind)`` with kind "signal" (a file
    ``core.io.signals.save_signal`` writes, audio only with a rate), "npz", "image"
    (.png or .npy), "indices" (.csv or .npz) or "report" (any name). Called once
    before loading (``signal`` None) and once the input is loaded, when its axis
    says whether audio needs ``--rate``.
    """
    from phasebrush.core.errors import ParameterError
    from phasebrush.core.io.atomic import SaveError
    from phasebrush.core.io.signals import check_save_target

    seen = {}
    for option, path, kind in outputs:
        if path is None:
            continue
        if kind == "signal":
            check_save_target(path, signal=signal, rate=getattr(args, "rate", None),
                              refuse=args.input, suffixes=SIGNAL_SUFFIXES)
        elif kind == "npz":
            check_save_target(path, refuse=args.input, suffixes=(".npz",))
        elif kind == "indices":
            from phasebrush.core.tf.indices import INDEX_SUFFIXES

            check_save_target(path, refuse=args.input, suffixes=INDEX_SUFFIXES)
        elif kind == "image":
            suffix = Path(path).suffix
            if suffix.lower() not in IMAGE_SUFFIXES:
                raise SaveError(path, f"cannot write {suffix or 'a file without an extension'} "
                                      f"with --image; use one of {', '.join(IMAGE_SUFFIXES)}")
            # fmt: the folder, permission and input checks (PNG is not a signal format)
            check_save_target(path, fmt="npy", refuse=args.input)
        else:
            # a report may have any name: fmt only skips the extension test
            check_save_target(path, fmt="csv", refuse=args.input)
        key = os.path.abspath(path)
        if key in seen:
            raise ParameterError(f"{path}: given as both {seen[key]} and {option}; "
                                 "each output needs its own file")
        seen[key] = option


def _save(signal, y, out: Path, name: str, rate=None) -> None:
    import numpy as np

    from phasebrush.core.io.atomic import SaveError
    from phasebrush.core.io.signals import save_signal

    if not np.all(np.isfinite(y)):
        # never write what no reader can use (core.io.signals refuses it too)
        raise SaveError(out, "the result holds NaN or infinite values; nothing written")
    notes = save_signal(signal.with_samples(y, name=name), out, rate=rate, refuse=signal.source)
    for note in notes:
        print(f"phasebrush: {out}: {note}", file=sys.stderr)


def _add_image_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "image", "a dB magnitude image of WxH pixels instead of the coefficients, in bounded "
                 "memory whatever the length (kinds cwt and stft; the SSQ kinds while their "
                 "whole transform fits). PNG: 8-bit, low frequencies at the bottom. NPY: "
                 "float32 dB [H, W], row 0 = lowest frequency, described by OUTPUT.json "
                 "(row frequencies, pixel edges in signal units, spec)")
    g.add_argument("--image", type=_image_size, default=None, metavar="WxH",
                   help="image size in pixels, e.g. 1600x400")
    g.add_argument("--image-mode", choices=("peak", "rms"), default=None,
                   help="per pixel: the peak (default) or the RMS of |C| over its columns "
                        "and rows")
    g.add_argument("--image-exact", action="store_true",
                   help="compute every coefficient even where a pixel spans more than "
                        "8192 samples (by default those pixels' RMS comes from frame "
                        "spectra: seconds for an hour of audio, within ~0.5 dB)")
    g.add_argument("--db-range", type=_positive_db, default=None, metavar="DB",
                   help="PNG: colours span this many dB below the image's peak (default 80)")
    g.add_argument("--db-floor", type=_finite_db, default=None, metavar="DB",
                   help="PNG: the dB value shown darkest (default: peak - --db-range)")
    g.add_argument("--colormap", default=None,
                   help="PNG: a matplotlib colormap name (default magma) when matplotlib is "
                        "installed; without it 'grey' (black = floor, white = peak) is the one")


def _finite_db(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{value!r}: need a finite dB value")
    return v


def _positive_db(value: str) -> float:
    v = _finite_db(value)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{value!r}: need a dB range > 0")
    return v


def _add_range_options(p: argparse.ArgumentParser, what: str) -> None:
    g = p.add_argument_group("range")
    g.add_argument("--start", type=float, default=None, metavar="T0",
                   help=f"{what} from this axis value on (signal units: s, cm^-1 ...; "
                        "default the first sample)")
    g.add_argument("--end", type=float, default=None, metavar="T1",
                   help=f"{what} up to this axis value, included (default the last sample)")


def _range_columns(args, signal, spec):
    """``(c0, c1)``: the half-open sample range of ``--start/--end`` on ``signal``, or
    None when neither is given.

    Raises ParameterError, naming the file and the values in the signal's units,
    for an empty or reversed range, one outside the signal, or one shorter than
    ``core.tf.transforms.min_samples``.
    """
    from phasebrush.core.errors import ParameterError
    from phasebrush.core.tf.transforms import min_samples

    t0, t1 = args.start, args.end
    if t0 is None and t1 is None:
        return None
    name, u = args.input, f" {signal.unit}" if signal.unit else ""
    for option, value in (("--start", t0), ("--end", t1)):
        if value is not None and not math.isfinite(value):
            raise ParameterError(f"{name}: {option} {value!r} is not a finite axis value")
    first, dx = signal.x0, signal.dx
    last = first + (signal.n - 1) * dx
    a = first if t0 is None else t0
    b = last if t1 is None else t1
    if not a < b:
        raise ParameterError(f"{name}: --start {a:g}{u} must be below --end {b:g}{u}")
    slack = 1e-6 * dx          # axis values read from text differ in the last digits
    if a < first - slack or b > last + slack:
        raise ParameterError(f"{name}: the range {a:g} to {b:g}{u} is not inside the signal "
                             f"({first:g} to {last:g}{u})")
    c0 = max(0, math.ceil((a - first) / dx - 1e-6))
    c1 = min(signal.n, math.floor((b - first) / dx + 1e-6) + 1)
    need = min_samples(spec, dx)
    if c1 - c0 < need:
        raise ParameterError(
            f"{name}: the range {a:g} to {b:g}{u} holds {c1 - c0} samples; this "
            f"{spec.kind.upper()} needs at least {need} ({(need - 1) * dx:g}{u}); "
            "widen --start/--end")
    return c0, c1


def _excerpt(signal, c0: int, c1: int):
    """Samples ``c0:c1`` of ``signal`` as a signal of their own, on the same axis."""
    from dataclasses import replace

    return replace(signal, y=signal.y[c0:c1].copy(), x0=signal.x0 + c0 * signal.dx,
                   notes=())


def _columns_bytes(signal, spec, c0: int, c1: int) -> int:
    """Estimated peak bytes of ``cwt_columns`` / ``stft_columns`` for columns c0..c1.

    The result (rows x columns complex128) plus the block's FFT grid of ``M``
    samples: its spectrum, segment, the edge filters cached on it, and one
    batch of filters with its inverse FFT (core.engine.cwt_blocks works in
    batches of ~1 Mi elements, at least one row). Low rows of a long signal may
    need the whole padded grid, so ``M`` is asked of the engine, not assumed.
    """
    from phasebrush.core.engine.cwt_blocks import block_grid, cwt_geometry, row_support

    B = c1 - c0
    if spec.kind == "cwt":
        import numpy as np

        geom = cwt_geometry(spec, signal.n, dx=signal.dx)
        rows = np.arange(geom.n_rows)
        _, M, _ = block_grid(geom, c0, c1, row_support(geom, rows, part="complex"))
        batch = max(M, min(geom.n_rows * M, 1 << 20))
        return int(16 * geom.n_rows * B + 80 * M + 32 * batch)
    rows, n_fft = int(spec.n_fft) // 2 + 1, int(spec.n_fft)
    return int(16 * rows * B + 40 * min(1 << 22, B * n_fft) + 16 * (B + n_fft))


def _range_tfr(args, signal, spec, c0: int, c1: int):
    """The TFR of columns c0..c1: the whole transform's own columns (cwt, hop-1 stft:
    padding from the true neighbours), else the transform of the excerpt, with a note."""
    import numpy as np

    from phasebrush.core.memory import check_fits
    from phasebrush.core.tf.transforms import TFR, stft_row_weights, transform

    B = c1 - c0
    if spec.kind == "cwt" or (spec.kind == "stft" and int(spec.hop) == 1):
        n_bytes = _columns_bytes(signal, spec, c0, c1)
        check_fits(f"{spec.kind.upper()} of {args.input}, samples {c0} to {c1 - 1} of "
                   f"{signal.n}", n_bytes,
                   hint="use a shorter --start/--end range, fewer voices per octave (--nv), "
                        "a higher --fmin or a smaller --n-fft")
        if spec.kind == "cwt":
            from phasebrush.core.engine.cwt_blocks import cwt_columns, cwt_geometry

            geom = cwt_geometry(spec, signal.n, dx=signal.dx)
            C = cwt_columns(signal.y, c0, c1, spec=spec, dx=signal.dx)
            freqs, weights, edges = geom.frequencies, geom.row_weights, geom.edge_row_indices
            offset = 0.0 if spec.edge_rows else float(signal.y.mean())
        else:
            from phasebrush.core.engine.stft_blocks import stft_columns

            C = stft_columns(signal.y, c0, c1, spec=spec)
            n_fft = int(spec.n_fft)
            freqs = np.arange(n_fft // 2 + 1) / (n_fft * signal.dx)
            weights, edges, offset = stft_row_weights(spec), (), 0.0
        x0 = signal.x0 + c0 * signal.dx
        return TFR(coefficients=C, frequencies=np.array(freqs),
                   times=x0 + signal.dx * np.arange(B), row_weights=np.array(weights),
                   offset=offset, spec=spec, n_samples=B, dx=signal.dx, x0=x0,
                   unit=signal.unit, edge_row_indices=tuple(edges))
    hop = f" with hop {spec.hop}" if not spec.is_cwt else ""
    print(f"phasebrush: {args.input}: {spec.kind}{hop} has no block-wise path: the range is "
          "transformed as a signal of its own (reflect padding at its ends, not the true "
          "neighbours)", file=sys.stderr)
    return transform(_excerpt(signal, c0, c1), spec)


class _StopRequest:
    """SIGINT / SIGTERM while a retrieval runs: the first asks it to stop (it
    returns its best estimate, which is then written); a second aborts at once
    (KeyboardInterrupt). Call it as the retrieval's ``cancel``.

    Only the main thread may set signal handlers; elsewhere this is inert.
    """

    SIGNALS = (_signal.SIGINT, _signal.SIGTERM)

    def __init__(self):
        self.signum = None
        self._previous = {}

    def __call__(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame):
        # no printing here: the handler may run inside a write to stderr
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._previous[s] = _signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            _signal.signal(s, handler)
        self._previous.clear()
        return False


def _terminate_as_interrupt(signum, frame):
    # SIGTERM unwinds like Ctrl-C, so atomic writes remove their temp files
    raise KeyboardInterrupt


# --- commands -------------------------------------------------------------------------------

def _transform_output(args):
    """OUTPUT or --out (one of them, or both naming the same file)."""
    from phasebrush.core.errors import ParameterError

    out, opt = args.output, args.out
    if out is None and opt is None:
        raise ParameterError("transform needs an output: give OUTPUT (or --out)")
    if out is not None and opt is not None and os.path.abspath(out) != os.path.abspath(opt):
        raise ParameterError(f"transform: two outputs, {out} and --out {opt}; give one")
    return out if out is not None else opt


_IMAGE_OPTIONS = ("image_mode", "db_range", "db_floor", "colormap", "image_exact")


def _image_size(value: str) -> tuple[int, int]:
    """``"1600x400"`` -> (1600, 400): width (columns) x height (frequency rows)."""
    w, sep, h = value.lower().partition("x")
    if not (sep and w.strip().isdigit() and h.strip().isdigit()):
        raise argparse.ArgumentTypeError(f"{value!r}: need WIDTHxHEIGHT in pixels, e.g. 1600x400")
    size = int(w), int(h)
    if not all(1 <= n <= _MAX_IMAGE_SIDE for n in size):
        raise argparse.ArgumentTypeError(
            f"{value!r}: width and height must lie in 1..{_MAX_IMAGE_SIDE}")
    return size


_MAX_IMAGE_SIDE = 32768


def _full_resolution_check(args, signal, spec, cols, out) -> None:
    """Refuse, before computing, a full-resolution transform that exceeds the memory budget."""
    from phasebrush.core.memory import check_fits
    from phasebrush.core.tf.transforms import _check_spec, estimate_transform_bytes

    # the spec's own errors first, as the transform would report them
    _check_spec(spec)
    if cols is None:
        what = f"{args.input} ({signal.n} samples)"
        n_bytes = estimate_transform_bytes(signal.n, spec, signal.dx)
    else:
        c0, c1 = cols
        what = f"{args.input}, samples {c0} to {c1 - 1} of {signal.n}"
        blockwise = spec.kind == "cwt" or (spec.kind == "stft" and int(spec.hop) == 1)
        n_bytes = (_columns_bytes(signal, spec, c0, c1) if blockwise
                   else estimate_transform_bytes(c1 - c0, spec, signal.dx))
    fewer = ("fewer voices per octave (--nv) or a higher --fmin" if spec.is_cwt
             else "a smaller --n-fft or a larger --hop")
    check_fits(f"the full-resolution {spec.kind.upper()} of {what}", n_bytes,
               hint=f"write a display image instead (--image WxH, e.g. {out.with_suffix('.png')} "
                    f"--image 1600x400), or use a shorter --start/--end range or {fewer}")


def cmd_transform(args) -> int:
    from phasebrush.core.errors import ParameterError
    from phasebrush.core.io.tfr import save_tfr
    from phasebrush.core.tf.transforms import transform

    out = Path(_transform_output(args))
    label = "OUTPUT" if args.output is not None else "--out"
    if args.image is None:
        given = [o for o in _IMAGE_OPTIONS if getattr(args, o) not in (None, False)]
        if given:
            raise ParameterError(f"--{given[0].replace('_', '-')} needs --image WxH")
        _check_outputs(args, [(label, out, "npz")])
    else:
        outputs = [(label, out, "image")]
        if out.suffix.lower() == ".npy":
            outputs.append(("the NPY's description", out.with_suffix(".json"), "report"))
        _check_outputs(args, outputs)
        _image_colours(args)          # an unknown colormap fails now, not after the work
    signal = _load(args)
    spec = _spec_from_args(args, default_hop=1)
    cols = _range_columns(args, signal, spec)
    if args.image is not None:
        return _transform_image(args, signal, spec, cols, out)
    _full_resolution_check(args, signal, spec, cols, out)
    if cols is None:
        tfr = transform(signal, spec)
    else:
        tfr = _range_tfr(args, signal, spec, *cols)
    save_tfr(out, tfr)
    if not args.quiet:
        span = "" if cols is None else (
            f", {tfr.times[0]:g} to {tfr.times[-1]:g} {signal.unit}".rstrip())
        print(f"{out}: {tfr.n_rows} rows x {tfr.n_frames} frames ({tfr.spec.kind}{span})",
              file=sys.stderr)
    return 0


def _image_colours(args):
    """The PNG colour table for ``--colormap`` [shape=(256, 3), uint8], or None for grey.

    matplotlib's colormaps when it is installed (default magma); without it the
    only map is 'grey' (a linear ramp, black = the dB floor, white = the peak).
    """
    import numpy as np

    from phasebrush.core.errors import ParameterError

    if args.image is None or Path(args.output or args.out).suffix.lower() != ".png":
        return None
    name = args.colormap
    try:
        import matplotlib
    except ImportError:
        if name not in (None, "grey", "gray"):
            raise ParameterError(f"--colormap {name}: matplotlib is not installed; the only "
                                 "colormap without it is 'grey'") from None
        return None
    if name in ("grey", "gray"):
        return None
    try:
        cmap = matplotlib.colormaps[name or "magma"]
    except KeyError:
        raise ParameterError(f"--colormap {name}: not a matplotlib colormap (try magma, "
                             "viridis, inferno, grey)") from None
    return np.asarray(cmap(np.linspace(0.0, 1.0, 256), bytes=True))[:, :3]


def _png_bytes(pixels) -> bytes:
    """An 8-bit PNG of ``pixels`` [shape=(H, W) grey or (H, W, 3) RGB, uint8], row 0 on top."""
    import struct
    import zlib

    import numpy as np

    a = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w = a.shape[:2]
    colour = 2 if a.ndim == 3 else 0
    raw = np.concatenate([np.zeros((h, 1), np.uint8), a.reshape(h, -1)], axis=1)  # filter 0

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))


def _db_levels(image, args) -> tuple[float, float]:
    """(floor, top) of the PNG's colour scale in dB: top = the image's peak."""
    import numpy as np

    from phasebrush.core.errors import ParameterError

    finite = image[np.isfinite(image)]
    top = float(finite.max()) if len(finite) else 0.0
    floor = args.db_floor if args.db_floor is not None else top - (args.db_range or 80.0)
    if not floor < top:
        raise ParameterError(f"--db-floor {floor:g} dB must be below the image's peak, "
                             f"{top:g} dB")
    return floor, top


def _transform_image(args, signal, spec, cols, out: Path) -> int:
    """``transform --image WxH``: the display image of the (range of the) signal."""
    import numpy as np

    from phasebrush.core.engine.display import display_source, resize_rows, row_groups, stream_image
    from phasebrush.core.engine.overview import SPECTRAL_ABOVE_SAMPLES, spectral_overview
    from phasebrush.core.errors import ParameterError
    from phasebrush.core.io.atomic import atomic_write, atomic_write_bytes, atomic_write_text

    width, height = args.image
    mode = args.image_mode or "peak"
    colours = _image_colours(args)
    c0, c1 = cols if cols is not None else (0, signal.n)
    y, first = signal.y, 0
    if spec.is_ssq and cols is not None:
        # synchrosqueezing is not local in time: only the excerpt can be bounded
        print(f"phasebrush: {args.input}: {spec.kind} has no block-wise path: the range is "
              "transformed as a signal of its own (reflect padding at its ends, not the true "
              "neighbours)", file=sys.stderr)
        y, first, c0, c1 = signal.y[c0:c1], c0, 0, c1 - c0
    step = 1 if spec.is_cwt else int(spec.hop)
    # the columns (frames, for an STFT) centred on the samples of the range
    f0, f1 = -(-c0 // step), -(-c1 // step)
    if f1 <= f0:
        raise ParameterError(f"{args.input}: the range holds no frame of hop {step}; widen "
                             "--start/--end")
    # no cache: each tile is needed once, and one alive at a time bounds the memory
    src = display_source(y, spec, dx=signal.dx, cache_bytes=0)
    bar = None if args.quiet else _FractionBar("image")
    spectral = (not args.image_exact and step == 1 and not spec.is_ssq
                and (f1 - f0) / width >= SPECTRAL_ABOVE_SAMPLES)
    if spectral:
        mode = "rms"
        if not args.quiet:
            print(f"phasebrush: {args.input}: a pixel spans {(f1 - f0) // width} samples: its "
                  "RMS is estimated from frame spectra (~0.5 dB); --image-exact computes "
                  "every coefficient instead", file=sys.stderr)
    try:
        if spectral:
            im = spectral_overview(y, spec, dx=signal.dx, width=width, c0=f0, c1=f1,
                                   progress=bar)
        else:
            im = stream_image(src, f0, f1, width=width, mode=mode, db=True, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    im = resize_rows(im, height, mode=mode, db=True)
    x0 = signal.x0 + first * signal.dx
    edges = f0 + (np.arange(width + 1, dtype=np.int64) * (f1 - f0)) // width
    times = x0 + edges * step * signal.dx
    if out.suffix.lower() == ".npy":
        start, stop = row_groups(len(src.rows), height)
        f = np.asarray(src.frequencies, dtype=np.float64)
        unit = signal.unit
        meta = {
            "format": "phasebrush display image",
            "image": out.name, "shape": [height, width], "dtype": "float32",
            "values": (f"dB, 20 log10 of the {mode} of |C| per pixel (columns, then rows)"
                       + (", estimated from frame power spectra" if spectral else "")),
            "rows": "row 0 = lowest frequency",
            "mode": mode, "input": str(args.input), "kind": spec.kind, "spec": spec.to_dict(),
            "unit": unit,
            "frequency_unit": "Hz" if unit == "s" else f"cycles per {unit or 'sample'}",
            "row_frequencies": [[float(f[a]), float(f[b - 1])]
                                for a, b in zip(start, stop, strict=True)],
            "time_range": [float(times[0]), float(x0 + (f1 - 1) * step * signal.dx)],
            "time_range_note": "axis values of the first and the last column",
            "pixel_edges": [float(t) for t in times],
            "pixel_edges_note": "axis value where pixel p starts; the last: one column past "
                                "the end (columns are samples for CWT kinds, frames centred "
                                f"on samples k * {step} for STFT kinds)",
        }
        atomic_write(out, lambda fh: np.save(fh, im.astype(np.float32)), binary=True)
        atomic_write_text(out.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    else:
        floor, top = _db_levels(im, args)
        level = np.clip((np.nan_to_num(im, nan=floor) - floor) / (top - floor), 0.0, 1.0)
        index = np.round(255 * level[::-1]).astype(np.uint8)        # high frequencies on top
        atomic_write_bytes(out, _png_bytes(index if colours is None else colours[index]))
    if not args.quiet:
        last = x0 + (f1 - 1) * step * signal.dx
        print(f"{out}: {width}x{height} {mode} dB image of {len(src.rows)} rows x "
              f"{f1 - f0} {'samples' if spec.is_cwt else 'frames'} ({spec.kind}, "
              f"{times[0]:g} to {last:g} {signal.unit})".rstrip(), file=sys.stderr)
    return 0


# Above this length `invert` streams even where the whole transform would fit: the
# whole path needs ~0.94 GB per second of 44.1 kHz audio, the streaming one a few
# hundred MB whatever the length, at the same accuracy (1e-9 of the peak).
_STREAM_ABOVE_SAMPLES = 1 << 21


def _whole_invert_fits(signal, spec) -> bool:
    """Whether the whole-signal transform plus RangeInverter's cumulative sum fit the
    memory budget."""
    from phasebrush.core.errors import OutOfMemoryError, ParameterError
    from phasebrush.core.memory import budget_bytes
    from phasebrush.core.tf.transforms import estimate_transform_bytes

    try:
        n_bytes = estimate_transform_bytes(signal.n, spec, signal.dx)
        budget = budget_bytes()
    except (MemoryError, ParameterError, OutOfMemoryError):
        return False
    rows = n_bytes / max(16 * signal.n, 1)          # the coefficients dominate the estimate
    n_bytes += 8 * (rows + 1) * signal.n
    return budget is None or n_bytes <= budget


def _streams(signal, spec) -> bool:
    """Whether `invert` takes the streaming path for ``spec`` on ``signal``."""
    streamable = spec.kind == "cwt" or (spec.kind == "stft" and int(spec.hop) == 1)
    if not streamable:
        return False
    return signal.n > _STREAM_ABOVE_SAMPLES or not _whole_invert_fits(signal, spec)


def _band_intervals(bands, signal, spec, notes=None):
    """A callable (c0, c1) -> merged (start, end) row ranges of ``bands`` for those columns,
    on the grid the whole transform would have (rasterised per block).

    The bands are checked against the whole time range first (the whole path's
    errors, and the notes of edges clamped to the analysed range go to
    ``notes``); a block a band does not reach gets empty ranges for it."""
    from types import SimpleNamespace

    import numpy as np

    from phasebrush.core.engine.cwt_blocks import cwt_geometry
    from phasebrush.core.tf.bands import band_ranges
    from phasebrush.core.tf.masks import merge_ranges

    if spec.kind == "cwt":
        geom = cwt_geometry(spec, signal.n, dx=signal.dx)
        freqs, edges = geom.frequencies, geom.edge_row_indices
    else:
        freqs, edges = np.arange(int(spec.n_fft) // 2 + 1) / (int(spec.n_fft) * signal.dx), ()

    def axes(times):
        # what band_ranges reads of a TFR (dx: the high edge row's reach)
        return SimpleNamespace(frequencies=freqs, times=times, spec=spec, edge_row_indices=edges,
                               unit=signal.unit, dx=signal.dx)

    ends = signal.x0 + signal.dx * np.array([0, signal.n - 1])
    for b in bands:
        band_ranges(b, axes(ends), notes=notes)

    def intervals(c0, c1):
        times = signal.x0 + signal.dx * np.arange(c0, c1)
        zero = np.zeros(c1 - c0, dtype=np.int64)
        ranges = []
        for b in bands:
            t0, t1 = b.time_span
            ranges.append((zero, zero) if t1 < times[0] or t0 > times[-1]
                          else band_ranges(b, axes(times)))
        # Overlapping bands must count their shared rows once: merge to disjoint ranges.
        return merge_ranges(np.stack([r[0] for r in ranges]), np.stack([r[1] for r in ranges]))

    return intervals


def cmd_invert(args) -> int:
    import numpy as np

    from phasebrush.core.tf.bands import band_ranges, load_bands
    from phasebrush.core.tf.inversion import RangeInverter
    from phasebrush.core.tf.masks import merge_ranges
    from phasebrush.core.tf.transforms import transform

    outputs = [("--out", args.out, "signal"), ("--residual", args.residual, "signal"),
               ("--indices-out", args.indices_out, "indices")]
    _check_outputs(args, outputs)
    out, res = args.out, args.residual
    bands = load_bands(args.bands)
    signal = _load(args)
    _check_outputs(args, outputs, signal=signal)
    spec = _spec_from_args(args, default_hop=1)
    how = spec.kind
    notes: list[str] = []
    cols = _range_columns(args, signal, spec)
    streamable = spec.kind == "cwt" or (spec.kind == "stft" and int(spec.hop) == 1)
    if _streams(signal, spec) or (cols is not None and streamable):
        from phasebrush.core.engine import stream_band

        bar = None if args.quiet else _FractionBar("invert")
        try:
            intervals = _band_intervals(bands, signal, spec, notes)
            if cols is not None:
                # rows outside the range are never asked for, so blocks there cost nothing
                intervals = _only_columns(intervals, *cols)
            _print_notes(args.bands, notes)
            result = stream_band(signal.y, spec, intervals=intervals,
                                 dx=signal.dx, residual=res is not None, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        band, residual = result.band, result.residual
        how = f"{spec.kind}, streamed in {result.n_blocks} blocks"
        write_indices = _streamed_indices_writer(args, signal, spec, intervals, cols)
    else:
        tfr = transform(signal, spec)
        ranges = [band_ranges(b, tfr, notes=notes) for b in bands]
        _print_notes(args.bands, notes)
        # Overlapping bands must count their shared rows once: merge to disjoint ranges.
        start, end = merge_ranges(np.stack([r[0] for r in ranges]),
                                  np.stack([r[1] for r in ranges]))
        band, residual = RangeInverter(tfr).band_and_residual(start, end)
        if cols is not None:
            print(f"phasebrush: {args.input}: {spec.kind} with hop {spec.hop} has no "
                  "column-range path; inverted the whole signal, then cut the range",
                  file=sys.stderr)
        write_indices = _whole_indices_writer(args, signal, tfr, start, end, cols)
    if cols is not None:
        c0, c1 = cols
        band = band[c0:c1]
        residual = None if residual is None else residual[c0:c1]
        signal = _excerpt(signal, c0, c1)
    _save(signal, band, out, f"{signal.name} band", rate=args.rate)
    if res is not None:
        _save(signal, residual, res, f"{signal.name} residual", rate=args.rate)
    if not args.quiet:
        print(f"{out}: {len(bands)} band(s) inverted from {how}", file=sys.stderr)
    if args.indices_out is not None:
        n, n_cols = write_indices()
        if not args.quiet:
            print(f"{args.indices_out}: {n} row interval(s) in {n_cols} column(s) "
                  "(end_row exclusive)", file=sys.stderr)
    return 0


def _whole_indices_writer(args, signal, tfr, start, end, cols):
    """A callable writing ``--indices-out`` from the whole transform's merged ranges
    (restricted to the frames inside ``--start/--end``); returns (records, columns)."""
    from phasebrush.core.tf.indices import indices_from_ranges, write_indices

    def write():
        s, e = start, end
        if cols is not None:
            t = tfr.times
            lo, hi = signal.x0 + cols[0] * signal.dx, signal.x0 + (cols[1] - 1) * signal.dx
            outside = (t < lo - 1e-9 * signal.dx) | (t > hi + 1e-9 * signal.dx)
            e = e.copy()
            e[:, outside] = s[:, outside]
        ind = indices_from_ranges(s, e, tfr)
        write_indices(args.indices_out, ind)
        return len(ind), ind.n_columns

    return write


def _streamed_indices_writer(args, signal, spec, intervals, cols):
    """A callable streaming ``--indices-out`` block by block from ``intervals`` (the
    callable the streamed inverse used), over ``--start/--end``'s columns only; returns
    (records, columns). Memory: one block, whatever the length."""
    from phasebrush.core.engine.long_tfr import long_tfr
    from phasebrush.core.tf.indices import iter_indices, write_indices

    def write():
        grid = long_tfr(signal, spec)
        c0, c1 = cols if cols is not None else (0, grid.n_frames)
        bar = None if args.quiet else _FractionBar("indices")
        counts = [0, 0]

        def counted(chunks):
            for chunk in chunks:
                counts[0] += len(chunk)
                counts[1] += chunk.n_columns
                yield chunk

        try:
            write_indices(args.indices_out,
                          counted(iter_indices(intervals, grid, c0=c0, c1=c1, progress=bar)),
                          unit=signal.unit, shape=grid.shape)
        finally:
            if bar is not None:
                bar.close()
        return tuple(counts)

    return write


def _only_columns(intervals, c0: int, c1: int):
    """``intervals`` (a callable (a, b) -> (start, end) row ranges) emptied outside c0..c1."""
    import numpy as np

    def restricted(a, b):
        start, end = intervals(a, b)
        start, end = start.copy(), end.copy()
        cols = np.arange(a, b)
        outside = (cols < c0) | (cols >= c1)
        end[..., outside] = start[..., outside]
        return start, end

    return restricted


def _print_notes(path, notes) -> None:
    for note in dict.fromkeys(notes):   # once each, in order
        print(f"phasebrush: {path}: {note}", file=sys.stderr)


def _tqdm(**options):
    """A tqdm bar on stderr, redrawn at most ~10 times a second, left on its line at close.

    tqdm is imported here, not at the top: only a command that shows progress pays for it.
    ``file`` is read when called (tests and the GUI swap sys.stderr); ``miniters=1`` keeps
    the time check on every update (tqdm's adaptive skipping misjudges irregular updates).
    """
    from tqdm import tqdm

    return tqdm(file=options.pop("file", None) or sys.stderr, mininterval=0.1, miniters=1,
                leave=True, dynamic_ncols=True, **options)


class _FractionBar:
    """Progress of a fraction 0..1 (the ``progress`` callback of streaming work), via tqdm."""

    _STEPS = 1000  # integer steps: tqdm redraws only after a change of >= miniters (1)

    def __init__(self, label: str, stream=None):
        self._bar = _tqdm(total=self._STEPS, desc=label, file=stream,
                          bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")

    def __call__(self, fraction: float):
        step = round(min(max(float(fraction), 0.0), 1.0) * self._STEPS)
        self._bar.update(step - self._bar.n)

    def close(self):
        # ends the bar's line, so an error printed after it starts on its own
        self._bar.close()


class _ProgressBar:
    """Progress of an iterative retrieval (its ``progress`` callback), via tqdm."""

    def __init__(self, total: int, stream=None):
        self._bar = _tqdm(total=max(int(total), 1), desc="retrieve", unit="it", file=stream)

    def __call__(self, iteration, loss, inconsistency, estimate=None):
        self._bar.set_postfix_str(f"inconsistency {inconsistency:.3e}", refresh=False)
        self._bar.update(min(int(iteration), self._bar.total) - self._bar.n)

    def close(self):
        self._bar.close()


def _retrieval_input(args):
    """(S, spec, n_samples, dx, template, original) of the input: a magnitude
    NPZ from `transform`, or any signal file (a signal NPZ included)."""
    import numpy as np

    from phasebrush.core.errors import ParameterError
    from phasebrush.core.io.tfr import load_magnitude, npz_kind
    from phasebrush.core.signal import Signal

    if Path(args.input).suffix.lower() == ".npz" and npz_kind(args.input) == "magnitude":
        if args.start is not None or args.end is not None:
            raise ParameterError(
                f"{args.input}: --start/--end need a signal file; a magnitude NPZ holds the "
                "range it was made for (make it with `phasebrush transform --start/--end`)")
        target = load_magnitude(args.input)
        if args.dx is not None or args.unit is not None:
            print(f"phasebrush: {args.input}: --dx / --unit ignored: a magnitude NPZ holds "
                  "its axis", file=sys.stderr)
        template = Signal(np.zeros(target.n_samples), dx=target.dx, x0=target.x0,
                          unit=target.unit, name=Path(args.input).stem)
        return target.S, target.spec, target.n_samples, target.dx, template, None
    original = _load(args)
    spec = _spec_from_args(args, default_hop=max(args.n_fft // 4, 1))
    cols = _range_columns(args, original, spec)
    if cols is not None:
        original = _excerpt(original, *cols)
    return None, spec, original.n, original.dx, original, original




def _check_retrieval_memory(args, spec, n: int, dx: float) -> None:
    """Estimate the retrieval's peak before it starts; say it (unless -q) and refuse it
    when it exceeds the budget."""
    from phasebrush.core.errors import format_bytes
    from phasebrush.core.memory import budget_bytes, check_fits
    from phasebrush.core.retrieval.retrieve import estimate_retrieval_bytes

    n_bytes = estimate_retrieval_bytes(n, spec, dx)
    what = f"retrieval of {args.input} ({n} samples, {spec.kind})"
    check_fits(what, n_bytes, hint="use a shorter --start/--end range, a larger --hop or "
                                   "fewer voices per octave (--nv)")
    if not args.quiet:
        budget = budget_bytes()
        within = "" if budget is None else f" (budget {format_bytes(budget)})"
        print(f"phasebrush: {what}: about {format_bytes(n_bytes)} of memory{within}",
              file=sys.stderr)


def retrieval_problem(args):
    """What ``phasebrush retrieve`` retrieves, loaded and checked: (S, spec, n, dx,
    template, original, options) - ``options`` as ``retrieve`` takes them."""
    from phasebrush.core.retrieval.retrieve import check_options
    from phasebrush.core.tf.transforms import transform

    outputs = [("OUTPUT", args.output, "signal"), ("--report", args.report, "report")]
    _check_outputs(args, outputs)
    S, spec, n, dx, template, original = _retrieval_input(args)
    _check_outputs(args, outputs, signal=template)
    options = dict(method=args.method, optimizer=args.optimizer, lr=args.lr, n_iter=args.iters,
                   tol=args.tol, seed=args.seed, device=args.device, init=args.init,
                   padding=args.padding)
    check_options(spec, dx=dx, **options)
    _check_retrieval_memory(args, spec, n, dx)
    if S is None:
        S = transform(original, spec).magnitude
    return S, spec, n, dx, template, original, options


def cmd_retrieve(args) -> int:
    from phasebrush.core.retrieval.retrieve import retrieve

    out = args.output
    S, spec, n, dx, template, original, options = retrieval_problem(args)

    progress = None if args.quiet else _ProgressBar(args.iters)
    t0 = time.perf_counter()
    with _StopRequest() as stop:
        try:
            result = retrieve(S, spec, n_samples=n, dx=dx, progress=progress, cancel=stop,
                              **options)
        finally:
            # an error message must not land on the progress bar's line
            if progress is not None:
                progress.close()
        wall = time.perf_counter() - t0
        interrupted = stop()
        stop_reason = "interrupted" if interrupted and result.stop_reason == "cancelled" \
            else result.stop_reason
        if interrupted:
            print("phasebrush: interrupted; writing the best estimate so far "
                  "(interrupt again to abort)", file=sys.stderr)
        elif result.stop_reason == "non_finite":
            print(f"phasebrush: {args.method}: the iterates turned NaN or infinite by "
                  f"iteration {result.n_iter}; writing the best estimate before that",
                  file=sys.stderr)
        summary = write_retrieval(args, result, S, spec, template, original, wall,
                                  stop_reason)
    if not args.quiet:
        rl2 = "" if summary["rel_l2"] is None else f", rel-L2 {summary['rel_l2']:.4f}"
        print(f"{out}: {summary['iterations']} iterations, inconsistency "
              f"{summary['inconsistency']:.3e}, SC {summary['sc_db']:.2f} dB{rl2}, "
              f"{summary['wall_s']:.2f} s ({stop_reason})", file=sys.stderr)
    return INTERRUPTED if interrupted else 0


def write_retrieval(args, result, S, spec, template, original, wall: float,
                    stop_reason: str) -> dict:
    """Save the best estimate to ``args.output`` and the report to ``args.report``
    (if given); return the report (shared with ``phasebrush batch retrieve``)."""
    import numpy as np

    from phasebrush.core.io.atomic import atomic_write_text
    from phasebrush.core.retrieval.metrics import rel_l2, spectral_convergence_db
    from phasebrush.core.tf.transforms import transform

    # the best estimate, not the last: a run may end on a worse one
    y = np.asarray(result.best_y, dtype=np.float64)
    _save(template, y, args.output, f"{template.name} retrieved", rate=args.rate)
    S_hat = transform(template.with_samples(y), spec).magnitude
    summary = {
        "input": str(args.input), "output": str(args.output), "method": result.method,
        "optimizer": args.optimizer if "gd" in result.method else None,
        "iterations": int(result.n_iter), "evaluations": int(result.n_eval),
        "wall_s": round(wall, 4), "stop_reason": stop_reason,
        "device": str(result.device),
        "inconsistency": float(np.linalg.norm(S_hat - S) / np.linalg.norm(S)),
        "sc_db": float(spectral_convergence_db(S, S_hat)),
        "rel_l2": None if original is None else float(rel_l2(original.y, y)),
        "spec": spec.to_dict(),
    }
    if args.report is not None:
        atomic_write_text(args.report, json.dumps(summary, indent=2) + "\n")
    return summary


def single_item_parser() -> argparse.ArgumentParser:
    """The parser of transform, invert and retrieve alone (batch jobs parse each item's
    command line with it); :func:`phasebrush.cli.main.build_parser` adds batch."""
    parser, sub, common = new_parser()
    add_parsers(sub, common)
    return parser


def new_parser():
    """(parser, its subparsers, the options every command shares)."""
    parser = argparse.ArgumentParser(
        prog="phasebrush",
        description="Time-frequency painting and phase retrieval. "
                    "Run without a command to open the app.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress or summary")
    return parser, sub, common


def add_parsers(sub, common) -> None:
    """Add transform, invert and retrieve to ``sub``."""
    from phasebrush.core.tf.transforms import KINDS

    p = sub.add_parser("transform", parents=[common],
                       help="transform a signal and save the coefficients (NPZ) or, with "
                            "--image, a magnitude image (PNG/NPY)")
    p.add_argument("input", type=Path, help="signal file (WAV/FLAC/OGG, CSV/TXT, NPY, JCAMP-DX)")
    p.add_argument("output", type=Path, nargs="?", default=None,
                   help="output: .npz (the coefficients), or with --image .png / .npy")
    p.add_argument("--out", type=Path, default=None, help="the output, as an option")
    _add_load_options(p, input_rate=True)
    _add_range_options(p, "transform")
    _add_transform_options(p, kinds=KINDS, default_kind="cwt")
    _add_image_options(p)
    p.set_defaults(func=cmd_transform)

    p = sub.add_parser("invert", parents=[common],
                       help="invert the bands of BANDS.json to a signal")
    p.add_argument("input", type=Path, help="signal file")
    p.add_argument("--bands", type=Path, required=True,
                   help='JSON: {"bands": [{"upper": [[t, f], ...], "lower": [[t, f], ...]}]}')
    p.add_argument("--out", type=Path, required=True,
                   help="band signal (.wav/.flac/.ogg/.csv/.npy/.npz)")
    p.add_argument("--residual", type=Path, default=None, help="also write the residual here")
    p.add_argument("--indices-out", type=Path, default=None, metavar="IDX",
                   help="also write the selection as indices (.csv or .npz): per TFR column, "
                        "the selected rows start_row..end_row-1 (end_row exclusive) with "
                        "their time and frequencies; long inputs stream")
    _add_rate_option(p)
    _add_load_options(p)
    _add_range_options(p, "invert")
    _add_transform_options(p, kinds=KINDS, default_kind="cwt")
    p.set_defaults(func=cmd_invert)

    p = sub.add_parser("retrieve", parents=[common],
                       help="recover a signal from a magnitude (phase retrieval)")
    p.add_argument("input", type=Path,
                   help="signal file, a signal NPZ (x, y) included (its magnitude is the "
                        "target), or a magnitude NPZ from `transform`")
    p.add_argument("output", type=Path,
                   help="recovered signal (.wav/.flac/.ogg/.csv/.npy/.npz)")
    _add_rate_option(p)
    _add_load_options(p)
    _add_range_options(p, "retrieve")
    _add_transform_options(p, kinds=("stft", "cwt"), default_kind="stft")
    g = p.add_argument_group("retrieval")
    g.add_argument("--method", default="auto",
                   help="auto (best measured), gd, gla, fgla, raar, dm, lbfgs, lbfgs-raar, "
                        "or hybrids like raar+gd")
    g.add_argument("--optimizer", choices=("adam", "sgdm", "lbfgs", "rmsprop"), default="sgdm",
                   help="optimiser for gd (default sgdm)")
    g.add_argument("--iters", type=int, default=300, help="maximum iterations (default 300)")
    g.add_argument("--tol", type=float, default=None,
                   help="stop when the normalised inconsistency falls below this")
    g.add_argument("--lr", type=float, default=None,
                   help="gd learning rate (default per optimiser)")
    g.add_argument("--init", default="pghi", choices=("zeros", "random", "noise", "fgla", "pghi"),
                   help="initial phase: pghi (phase-gradient heap integration, default: best "
                        "measured), zeros, random, noise signal, or an fgla warm start")
    # core's default: free samples let the estimate fit the magnitudes with an
    # extension the exact transform (reflect padding) never sees
    g.add_argument("--padding", type=int, default=0,
                   help="free samples added at each end of the unknown (default 0; the MATLAB "
                        "reference uses 10, which measured worse here: seed chirp scalogram "
                        "4.8e-5 inconsistency with 0, 5.1e-3 with 10)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    g.add_argument("--report", type=Path, default=None, help="write a JSON report here")
    p.set_defaults(func=cmd_retrieve)
