"""Load a signal from a file (audio, CSV/text, NumPy, JCAMP-DX) and save one.

The format is read from the file's content (RIFF/fLaC/OggS/NumPy/zip magic,
``##`` labels for JCAMP-DX, else text); the extension only decides when the
content does not. Whatever loading did that the user should know (a channel
mixed, a grid resampled, a block chosen, a misleading extension) is returned
in :attr:`Signal.notes`. Every failure is a :class:`LoadError` (or, when
writing, a :class:`~core.io.atomic.SaveError`) whose message starts with the path.
Input files are only ever opened for reading.
"""

from __future__ import annotations

import io as _pyio
import re
from pathlib import Path

import numpy as np
import soundfile as sf

from phasebrush.core.errors import (
    LoadError,
    OutOfMemoryError,
    ParameterError,
    PhaseBrushError,
    format_bytes,
)
from phasebrush.core.io.atomic import SaveError, atomic_write, atomic_write_text
from phasebrush.core.io.common import (
    _bom_encoding,
    _make_signal,
    decode_text,
    read_input_bytes,
    signal_from_xy,
)
from phasebrush.core.signal import Signal

__all__ = [
    "load_signal",
    "needs_spacing",
    "save_signal",
    "signal_from_xy",
    "read_input_bytes",
    "decode_text",
    "sniff_format",
    "unit_from_label",
    "list_jcamp_blocks",
    "check_save_target",
    "LOAD_EXTENSIONS",
    "SAVE_EXTENSIONS",
    "SaveError",
]

AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".ogg", ".oga", ".aif", ".aiff")
TEXT_EXTENSIONS = (".csv", ".txt", ".tsv", ".dat", ".xy", ".asc", ".prn")
JCAMP_EXTENSIONS = (".jdx", ".dx", ".jcamp", ".jcm")
NUMPY_EXTENSIONS = (".npy", ".npz")
#: Every extension :func:`load_signal` accepts (for file dialogs).
LOAD_EXTENSIONS = AUDIO_EXTENSIONS + TEXT_EXTENSIONS + JCAMP_EXTENSIONS + NUMPY_EXTENSIONS
#: format name -> extension, for :func:`save_signal`.
SAVE_EXTENSIONS = {"wav": ".wav", "flac": ".flac", "ogg": ".ogg", "csv": ".csv",
                   "npy": ".npy", "npz": ".npz"}

_FAMILY = {"wav": "audio", "flac": "audio", "ogg": "audio", "aiff": "audio",
           "npy": "npy", "npz": "npz", "jcamp": "jcamp", "text": "text"}


def _ext_family(ext: str) -> str | None:
    for family, exts in (("audio", AUDIO_EXTENSIONS), ("text", TEXT_EXTENSIONS),
                         ("jcamp", JCAMP_EXTENSIONS), ("npy", (".npy",)), ("npz", (".npz",))):
        if ext in exts:
            return family
    return None


# --------------------------------------------------------------------------- reading


# C0 control characters other than tab, LF, VT, FF and CR, plus DEL: plain text has none
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _looks_like_text(head: bytes) -> str | None:
    """The decoded head if it reads as text (no control characters), else None."""
    encoding, _ = _bom_encoding(head)
    if encoding is None and b"\x00" in head:
        return None
    text, _ = decode_text(head, final=False)
    if _CONTROL.search(text) or "\ufffd" in text:
        return None
    return text


def sniff_format(head: bytes) -> str | None:
    """Name the format of a file from its first bytes.

    Returns "wav", "flac", "ogg", "aiff", "npy", "npz", "jcamp", "text" or
    None (binary content of no known kind). Text may be UTF-8, UTF-16/32 with
    a BOM, or an 8-bit encoding; bytes with control characters are not text.
    """
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE" or head[:4] in (b"RF64", b"BW64"):
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if head[:4] == b"PK\x03\x04":
        return "npz"
    text = _looks_like_text(head)
    if text is None:
        return None
    if text.lstrip("\ufeff \t\r\n").startswith("##"):
        return "jcamp"
    return "text"


def _first_bytes(head: bytes, n: int = 12) -> str:
    """``b"RIFX..."`` -> ``"52 49 46 58 ... ('RIFX....')"``: hex, then printable ASCII."""
    shown = head[:n]
    ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in shown)
    return f"{' '.join(f'{b:02x}' for b in shown)} ({ascii_!r})"


_AUDIO_MAGIC = {".wav": ("WAV", "'RIFF....WAVE'"), ".wave": ("WAV", "'RIFF....WAVE'"),
                ".flac": ("FLAC", "'fLaC'"), ".ogg": ("OGG", "'OggS'"), ".oga": ("OGG", "'OggS'"),
                ".aif": ("AIFF", "'FORM....AIFF'"), ".aiff": ("AIFF", "'FORM....AIFF'")}


def load_signal(path, *, channel="first", block: int | None = None,
                dx: float | None = None, unit: str | None = None,
                rate: float | None = None) -> Signal:
    """Load a 1-D signal from a file.

    Parameters
    ----------
    path : str or Path
        WAV/FLAC/OGG/AIFF audio, CSV/TXT text (one column, or x and y
        columns), ``.npy`` (1-D, or (n, 2) as x, y), ``.npz`` (arrays ``y``
        and optional ``x``) or JCAMP-DX (``.jdx``, ``.dx``).
    channel : "first", "mix" or int
        For multichannel audio: the first channel, the mean of all, or the
        channel with that 0-based index.
    block : int or None
        For multi-block JCAMP-DX files: the 0-based block to load; None picks
        the first block with x/y data (see :func:`list_jcamp_blocks`).
    dx : float > 0, optional
        Sample spacing for files with no x axis (one text column, 1-D
        ``.npy``, an ``.npz`` without ``x``: see :func:`needs_spacing`).
        Default 1.
    unit : str, optional
        Axis unit for files that do not name one. Default "" (samples).
    rate : float > 0, optional
        Sample rate in Hz for files with no x axis: the same as
        ``dx=1/rate, unit="s"`` (not with ``dx`` or ``unit``). Files with an
        axis of their own (audio, x and y columns, JCAMP-DX) keep it; as with
        ``dx``, the argument does not apply to them.

    Returns
    -------
    Signal
        Ascending axis (a descending file sets ``descending=True``), uniform
        spacing, ``name`` = file stem, ``source`` = ``path``, and ``notes`` the
        messages the caller must show.

    Raises
    ------
    LoadError
        The file is missing, empty, unreadable, of an unknown kind, holds text
        where numbers belong, NaN/inf, fewer than 2 samples, ...
    """
    p = Path(path)
    if rate is not None:
        if not (isinstance(rate, (int, float, np.number)) and np.isfinite(rate) and rate > 0):
            raise ParameterError(f"rate={rate!r} must be a finite number of Hz > 0")
        if dx is not None or unit is not None:
            raise ParameterError(f"rate={rate!r} with dx={dx!r} / unit={unit!r}: give the "
                                 "sample rate or the spacing and unit, not both")
        # Seconds only for samples with no axis: the unit of an x column is not a rate's.
        dx, bare_unit = 1.0 / float(rate), "s"
    else:
        bare_unit = unit
    if dx is not None and not (np.isfinite(dx) and dx > 0):
        raise ParameterError(f"dx={dx!r} must be a finite number > 0")
    head = read_input_bytes(p, limit=4096)
    kind = sniff_format(head)
    ext = p.suffix.lower()
    expected = _ext_family(ext)
    if kind is None:
        if expected == "audio":
            name, magic = _AUDIO_MAGIC[ext]
            raise LoadError(p, f"is not a readable {name} file: it starts with bytes "
                               f"{_first_bytes(head)}, and a {name} file starts with {magic}; "
                               "it is damaged or not audio")
        if expected is None:
            raise LoadError(p, f"unknown extension {ext or '(none)'!r} and unrecognised "
                               f"content; readable: {', '.join(LOAD_EXTENSIONS)}")
        raise LoadError(p, f"named {ext} but its content is not a known format "
                           f"(it starts with bytes {_first_bytes(head)})")
    if kind == "text" and expected is None:
        raise LoadError(p, f"unknown extension {ext or '(none)'!r}; text files are read "
                           f"as {', '.join(TEXT_EXTENSIONS)}")
    family = _FAMILY[kind]
    if expected is not None and family != expected and not (
            family == "jcamp" and expected == "text"):
        # A mislabelled file is refused rather than guessed at: the name is the user's claim
        # about the content, and a silent reinterpretation hides a mix-up of files.
        what = {"audio": f"{kind.upper()} audio", "text": "text (CSV)", "jcamp": "JCAMP-DX",
                "npy": "a NumPy array", "npz": "a NumPy archive"}[family]
        raise LoadError(p, f"file is named {ext} but holds {what}; rename it to match "
                           f"its content")
    if family == "audio":
        sig = _load_audio(p, kind, channel=channel)
    elif kind == "npy" or kind == "npz":
        sig = _load_numpy(p, kind, dx=dx, unit=unit, bare_unit=bare_unit)
    elif kind == "jcamp":
        from phasebrush.core.io.jcamp import load_jcamp  # the jcamp package, when needed

        sig = load_jcamp(p, block=block)
    else:
        sig = _load_text(p, dx=dx, unit=unit, bare_unit=bare_unit)
    return sig


def needs_spacing(path) -> bool:
    """Whether ``path`` holds samples with no x axis of their own.

    True for one column of text, a 1-D (or one-column / one-row) ``.npy`` and
    an ``.npz`` without an ``x`` array: :func:`load_signal` gives those the
    spacing ``dx`` / ``unit`` or ``rate`` it is passed, else 1 sample. False
    for audio, JCAMP-DX, x and y columns, and for anything unreadable (which
    :func:`load_signal` then reports). Reads only the file's head (the text's
    first rows, the NumPy header or the archive's list of names).
    """
    p = Path(path)
    try:
        head = read_input_bytes(p, limit=_SPACING_HEAD)
        kind = sniff_format(head[:4096])
        if kind == "npy":
            with open(p, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                read = {(1, 0): np.lib.format.read_array_header_1_0,
                        (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read is None:   # a newer header: numpy's loader reads the shape
                    shape = np.load(p, mmap_mode="r", allow_pickle=False).shape
                else:
                    shape = read(fh)[0]
            return len(shape) == 1 or (len(shape) == 2 and 1 in shape)
        if kind == "npz":
            with np.load(p, allow_pickle=False) as z:
                return "x" not in z.files
        if kind == "text":
            return _text_columns(head) == 1
    except Exception:  # unreadable here: load_signal says why
        return False
    return False


#: How much of a text file :func:`needs_spacing` reads to count its columns.
_SPACING_HEAD = 1 << 16


def _text_columns(head: bytes) -> int | None:
    """The number of columns of the first row of numbers in a text file's head."""
    text, _ = decode_text(head, final=False)
    lines = text.splitlines()
    if len(head) >= _SPACING_HEAD and lines:
        lines = lines[:-1]   # the last line may be cut short
    first = next((i for i, ln in enumerate(lines) if _is_data(ln)), None)
    if first is None:
        return None
    sample = next((ln.strip() for ln in lines[first:first + 50]
                   if re.match(r"\s*[\"']?[-+.\d]", ln)), lines[first].strip())
    delim = _sniff_delimiter(sample)
    for ln in lines[first:first + _MAX_PREAMBLE + 1]:
        if _is_data(ln) and _is_number_row(ln.strip(), delim):
            return len(_split_fields(ln.strip(), delim))
    return None


def list_jcamp_blocks(path) -> list[str]:
    """Titles of the blocks of a JCAMP-DX file, in order (index = ``block``)."""
    from phasebrush.core.io.jcamp import list_jcamp_blocks as _list

    return _list(path)


def _load_audio(p: Path, kind: str, *, channel) -> Signal:
    try:
        # By name, not through a Python file object: libsndfile then reads with its own
        # read-only descriptor, and a corrupt header's wild seek is its error to return, not
        # an OSError raised inside a cffi callback (printed as "Exception ignored ...").
        data, rate = _read_audio(p)
    except (RuntimeError, sf.LibsndfileError, ValueError, TypeError) as exc:
        reason = str(exc)
        if reason.startswith("Error opening"):
            reason = reason.split(": ", 1)[-1]  # drop "Error opening <path>"
        raise LoadError(p, f"unreadable {kind.upper()} audio ({reason})") from None
    n_channels = data.shape[1]
    notes = []
    if kind == "wav":
        missing = _wav_missing_bytes(p)
        if missing:
            notes.append(f"the WAV header promises {missing} more bytes of audio than the "
                         "file holds; it looks truncated (loaded what is there)")
    if channel == "mix":
        y = data.mean(axis=1)
        if n_channels > 1:
            notes.append(f"mixed {n_channels} channels to mono")
    elif channel == "first" or isinstance(channel, (int, np.integer)):
        i = 0 if channel == "first" else int(channel)
        if not 0 <= i < n_channels:
            raise LoadError(p, f"channel {channel} does not exist; the file has "
                               f"{n_channels} channel(s), 0 to {n_channels - 1}")
        y = data[:, i]
        if n_channels > 1:
            notes.append(f"used channel {i + 1} of {n_channels}")
    else:
        raise ParameterError(f"channel={channel!r} must be 'first', 'mix' or an int")
    return _make_signal(p, y, dx=1.0 / rate, x0=0.0, unit="s", notes=notes)


#: Decoded float64 bytes per file byte beyond which a header's frame count is not believed
#: (FLAC of silence reaches ~100; a flipped bit in STREAMINFO claims 2^36 frames).
_PLAUSIBLE_EXPANSION = 256
_BLOCK_FRAMES = 1 << 20


def _read_audio(p: Path) -> tuple[np.ndarray, int]:
    """Samples [shape=(frames, channels), float64] and rate of an audio file.

    soundfile allocates what the header claims before decoding; when that is
    implausible for the file's size, decode block by block instead, so the
    memory used is what the file really holds.
    """
    with sf.SoundFile(str(p)) as f:
        claimed = f.frames * f.channels * 8
        if claimed <= _PLAUSIBLE_EXPANSION * p.stat().st_size + (16 << 20):
            try:
                return f.read(dtype="float64", always_2d=True), f.samplerate
            except MemoryError:
                raise OutOfMemoryError(f"decoding {p} ({f.frames:,} frames x {f.channels} "
                                       "channel(s))", claimed) from None
        blocks = []
        while True:
            block = f.read(_BLOCK_FRAMES, dtype="float64", always_2d=True)
            if block.shape[0]:
                blocks.append(block)
            if block.shape[0] < _BLOCK_FRAMES:
                break
        data = np.concatenate(blocks) if blocks else np.zeros((0, f.channels))
        return data, f.samplerate


def _wav_missing_bytes(p: Path) -> int:
    """Bytes the RIFF ``data`` chunk declares beyond the end of the file (0 if none)."""
    size = p.stat().st_size
    with open(p, "rb") as fh:
        offset = 12
        for _ in range(64):  # chunks before 'data' are few (fmt, LIST, fact ...)
            fh.seek(offset)
            head = fh.read(8)
            if len(head) < 8:
                return 0
            declared = int.from_bytes(head[4:], "little")
            if head[:4] == b"data":
                if declared == 0xFFFFFFFF:  # streaming writers leave the size open
                    return 0
                return max(0, declared - (size - offset - 8))
            offset += 8 + declared + (declared & 1)
    return 0


def _npy_shortfall(p: Path) -> str | None:
    """Why an .npy header promises more data than the file holds, or None.

    Checked before ``np.load``, which would first allocate what a corrupt header
    claims (a flipped byte can ask for terabytes).
    """
    from numpy.lib import format as npformat

    with open(p, "rb") as fh:
        version = npformat.read_magic(fh)
        read_header = {(1, 0): npformat.read_array_header_1_0,
                       (2, 0): npformat.read_array_header_2_0}.get(version)
        if read_header is None:
            return None  # np.load names the version it cannot read
        shape, _, dtype = read_header(fh)
        have = p.stat().st_size - fh.tell()
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need > have:
        return (f"its header describes an array of shape {tuple(int(n) for n in shape)} "
                f"({format_bytes(need)}) but the file holds {format_bytes(have)} of data; "
                "it is truncated or corrupt")
    return None


def _text_scalar(value) -> str | None:
    a = np.asarray(value)
    return str(a.reshape(()).item()) if a.size == 1 and a.dtype.kind in "US" else None


def _load_numpy(p: Path, kind: str, *, dx, unit, bare_unit=None) -> Signal:
    y_unit = ""
    notes = []
    try:
        if kind == "npy":
            short = _npy_shortfall(p)
            if short:
                raise LoadError(p, short)
        loaded = np.load(p, allow_pickle=False)
        if kind == "npz":
            with loaded:
                keys = list(loaded.files)
                if "y" not in keys:
                    raise LoadError(p, f"the archive has no array 'y' (it holds {keys})")
                y = loaded["y"]
                x = loaded["x"] if "x" in keys else None
                for key in ("unit", "y_unit"):
                    if key in keys:
                        text = _text_scalar(loaded[key])
                        if text is None:
                            notes.append(f"ignored the archive's '{key}': not one text value")
                        elif key == "unit":
                            unit = text
                        else:
                            y_unit = text
            arr = y if x is None else None
        else:
            arr, x, y = loaded, None, None
    except PhaseBrushError:
        raise
    except MemoryError:
        raise OutOfMemoryError(f"loading {p}", p.stat().st_size,
                               hint="the file holds more than this machine can load") from None
    except Exception as exc:
        # numpy's header parser lets SyntaxError/TokenError through, zipfile and zlib
        # their own errors (BadZipFile, zlib.error, NotImplementedError ...): a corrupt file
        # can raise any of them, and each means the same to the user
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise LoadError(p, f"unreadable NumPy file ({reason})") from None
    if arr is not None:
        arr = np.asarray(arr)
        if arr.ndim == 2 and 1 in arr.shape:
            y = arr.ravel()  # one column or one row of a spreadsheet-shaped array
        elif arr.ndim == 2 and arr.shape[1] == 2 and kind == "npy":
            x, y = arr[:, 0], arr[:, 1]
        elif arr.ndim == 2 and arr.shape[0] == 2 and kind == "npy":
            # (2, n) is x and y stacked as rows (np.vstack([x, y])); (2, 2) stays columns
            x, y = arr[0], arr[1]
            notes.append(f"read the array of shape {arr.shape} as two rows, x and y")
        elif arr.ndim == 1:
            y = arr
        else:
            raise LoadError(p, f"array of shape {arr.shape}; a 1-D array, (n, 2) x,y "
                               "columns or (2, n) x,y rows is needed")
    elif y is not None and np.ndim(y) == 2 and 1 in np.shape(y):
        y = np.asarray(y).ravel()
    if x is not None and np.ndim(x) == 2 and 1 in np.shape(x):
        x = np.asarray(x).ravel()
    for name, a in (("y", y), ("x", x)):
        if a is None:
            continue
        if np.iscomplexobj(a) or not np.issubdtype(np.asarray(a).dtype, np.number):
            raise LoadError(p, f"{name} has dtype {np.asarray(a).dtype}; real numbers are needed")
        if np.asarray(a).ndim != 1:
            raise LoadError(p, f"{name} has shape {np.asarray(a).shape}; a 1-D array is needed")
    if x is None:
        return _make_signal(p, y, dx=dx or 1.0, x0=0.0, unit=unit or bare_unit or "",
                            y_unit=y_unit, notes=notes)
    return signal_from_xy(x, y, path=p, unit=unit or "", y_unit=y_unit, notes=notes)


# --------------------------------------------------------------------------- text

_COMMENT = ("#", "%", "//")
_UNIT_WORDS = {
    "cm-1": "cm^-1", "cm^-1": "cm^-1", "1/cm": "cm^-1", "cm**-1": "cm^-1", "/cm": "cm^-1",
    "cm^{-1}": "cm^-1", "wavenumber": "cm^-1", "wavenumbers": "cm^-1",
    "nm": "nm", "nanometers": "nm", "nanometres": "nm", "nanometer": "nm",
    "um": "µm", "micrometers": "µm", "micrometres": "µm", "micron": "µm", "microns": "µm",
    "ppm": "ppm", "hz": "Hz",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s", "time": "s",
    "ms": "ms", "msec": "ms", "milliseconds": "ms",
    "sample": "", "samples": "", "index": "",
}


_LABELS = re.compile(r"[^\s(\[]+(?:\s*[(\[][^)\]]*[)\]])?")


def _norm_word(w: str) -> str:
    return (w.strip().lower().replace(" ", "").replace("\u2212", "-").replace("\u207b\u00b9", "^-1")
            .replace("µ", "u").replace("μ", "u"))


def unit_from_label(label: str) -> str | None:
    """The axis unit a column label names, or None.

    "wavenumber (cm-1)" -> "cm^-1", "time [s]" -> "s", "ppm" -> "ppm",
    "Wavelength (nm)" -> "nm", "t (ms)" -> "ms"; an unknown unit in brackets
    is returned as written.
    """
    m = re.search(r"[(\[]([^)\]]*)[)\]]", label)
    if m:
        inner = m.group(1).strip()
        return _UNIT_WORDS.get(_norm_word(inner), inner)
    for word in re.findall(r"[^\s,;:/_]+(?:/[^\s,;:_]+)?", label):
        hit = _UNIT_WORDS.get(_norm_word(word))
        if hit is not None:
            return hit
    return None


def _split_fields(line: str, delim: str | None) -> list[str]:
    fields = line.split() if delim is None else [f.strip().strip("\"'") for f in line.split(delim)]
    if delim is not None and len(fields) > 1 and fields[-1] == "":
        fields = fields[:-1]  # a trailing delimiter
    return fields


def _values(fields: list[str], decimal_comma: bool) -> list[float]:
    return [float(f.replace(",", ".") if decimal_comma else f) for f in fields]


def _parse_rows(p: Path, lines, delim, decimal_comma) -> np.ndarray:
    rows, first = [], None
    for lineno, ln in lines:
        try:
            values = _values(_split_fields(ln, delim), decimal_comma)
        except ValueError:
            raise LoadError(p, f"line {lineno} holds text where numbers are expected: "
                               f"{ln[:80]!r}") from None
        if rows and len(values) != len(rows[0]):
            raise LoadError(p, f"line {lineno} has {len(values)} column(s) but line "
                               f"{first} has {len(rows[0])}")
        first = first or lineno
        rows.append(values)
    return np.asarray(rows, dtype=np.float64)


def _sniff_delimiter(line: str) -> str | None:
    for d in ("\t", ";"):
        if d in line:
            return d
    if "," in line:
        tokens = line.split()
        if len(tokens) > 1 and all(_COMMA_NUMBER.fullmatch(t) for t in tokens):
            return None  # "1,5 2,25": two columns with decimal commas, not "1", "5 2", "25"
        return ","
    return None


_COMMA_NUMBER = re.compile(r"[-+]?(\d+(,\d*)?|,\d+)([eE][-+]?\d+)?")


class _LineNumbers:
    """File line number of each data row, worked out only when a message needs one."""

    def __init__(self, lines: list[str], start: int):
        self._lines, self._start, self._numbers = lines, start, None

    def __getitem__(self, row: int) -> int:
        if self._numbers is None:
            self._numbers = [i + 1 for i in range(self._start, len(self._lines))
                             if _is_data(self._lines[i])]
        return self._numbers[row]


def _is_data(line: str) -> bool:
    line = line.strip()
    return bool(line) and not line.startswith(_COMMENT)


#: Text lines looked through for the first row of numbers (metadata above the labels).
_MAX_PREAMBLE = 100


def _is_number_row(line: str, delim: str | None) -> bool:
    try:
        _values(_split_fields(line, delim), delim != "," and "," in line)
    except ValueError:
        return False
    return True


def _load_text(p: Path, *, dx, unit, bare_unit=None) -> Signal:
    text, _ = decode_text(read_input_bytes(p))
    all_lines = text.splitlines()
    first = next((i for i, ln in enumerate(all_lines) if _is_data(ln)), None)
    if first is None:
        raise LoadError(p, "holds no data rows (only blank or comment lines)")
    first_line = all_lines[first].strip()
    sample = next((ln.strip() for ln in all_lines[first:first + 50]
                   if re.match(r"\s*[\"']?[-+.\d]", ln)), first_line)
    delim = _sniff_delimiter(sample)
    header = None
    notes = []
    if _is_number_row(first_line, delim):
        start = first
    else:
        # Instrument exports put a few lines of metadata ("Sample: ...", "Date: ...")
        # above the column labels: the labels are the last text line before the numbers.
        lead = [i for i in range(first, min(len(all_lines), first + _MAX_PREAMBLE))
                if _is_data(all_lines[i])]
        number_row = next((i for i in lead if _is_number_row(all_lines[i].strip(), delim)),
                          None)
        labels = first
        if number_row is not None and number_row > first:
            labels = max(i for i in lead if i < number_row)
            skipped = sum(1 for i in lead if i < labels)
            if skipped:
                notes.append(f"skipped {skipped} text line(s) above the column labels "
                             f"(lines {first + 1} to {labels})")
        label_line = all_lines[labels].strip()
        # whitespace-separated labels keep "time [s]" as one label
        header = (_split_fields(label_line, delim) if delim is not None
                  else _LABELS.findall(label_line))
        start = labels + 1
    row_lines = _LineNumbers(all_lines, start)
    body = "\n".join(all_lines[start:])
    if not body.strip():
        raise LoadError(p, "holds a header but no data rows")
    # Decided from every row, not a sample: a file's first decimal comma can come late
    # ("1;2" for 50 lines, then "3,5;4"). With "," as the delimiter a comma is a column.
    # A comma in a comment line makes this True harmlessly: only data rows are parsed.
    decimal_comma = delim != "," and "," in body
    try:  # fast path in C; the loop below finds and names the line on any failure
        data = np.loadtxt(_pyio.StringIO(body.replace(",", ".") if decimal_comma else body),
                          delimiter=delim, ndmin=2, dtype=np.float64, comments="#")
    except ValueError:
        data = None
    if data is None or data.size == 0:
        lines = [(i + 1, ln.strip()) for i, ln in enumerate(all_lines)
                 if i >= start and _is_data(ln)]
        if not lines:
            raise LoadError(p, "holds a header but no data rows")
        data = _parse_rows(p, lines, delim, decimal_comma)
    bad = ~np.isfinite(data)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise LoadError(p, f"{int(bad.sum())} value(s) are NaN or infinite "
                           f"(first on line {row_lines[r]}, column {c + 1})")
    n_cols = data.shape[1]
    if n_cols == 1:
        y_unit = _y_label(header[0]) if header else ""
        return _make_signal(p, data[:, 0], dx=dx or 1.0, x0=0.0, unit=bare_unit or "",
                            y_unit=y_unit, notes=notes)
    x_unit, y_unit = None, ""
    if header:
        if len(header) == n_cols:
            x_unit = unit_from_label(header[0])
            y_unit = _y_label(header[1])
        else:
            x_unit = unit_from_label(" ".join(header))
    if n_cols > 2:
        notes.append(f"file has {n_cols} columns; used column 1 as x and column 2 as y")
    return signal_from_xy(data[:, 0], data[:, 1], path=p,
                          unit=x_unit if x_unit is not None else (unit or ""),
                          y_unit=y_unit, notes=notes, line_numbers=row_lines)


def _y_label(label: str) -> str:
    return "" if label.strip().lower() in ("y", "value", "values", "") else label.strip()


# --------------------------------------------------------------------------- building


# --------------------------------------------------------------------------- writing

_AXIS_NAMES = {"s": "time", "cm^-1": "wavenumber", "nm": "wavelength", "µm": "wavelength",
               "ppm": "shift", "Hz": "frequency", "": "sample"}


def _format_for(p: Path, fmt: str | None) -> str:
    if fmt is not None:
        f = fmt.lower().lstrip(".")
        if f not in SAVE_EXTENSIONS:
            raise ParameterError(f"fmt={fmt!r}; use one of {', '.join(SAVE_EXTENSIONS)}")
        return f
    ext = p.suffix.lower()
    for f, e in SAVE_EXTENSIONS.items():
        if ext == e or (f == "wav" and ext == ".wave") or (f == "ogg" and ext == ".oga"):
            return f
    raise SaveError(p, f"cannot tell the format from the extension {ext or '(none)'!r}; "
                       f"use one of {', '.join(SAVE_EXTENSIONS.values())} or pass fmt=")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return a.resolve() == b.resolve()


def check_save_target(path, *, signal: Signal | None = None, rate: float | None = None,
                      fmt: str | None = None, refuse=None, suffixes=None) -> str:
    """Check, before any work, that :func:`save_signal` could write ``path``.

    Call it first, compute second: a run of minutes must not end in "folder
    does not exist". Nothing is created or modified.

    Parameters
    ----------
    path : str or Path
        The planned output.
    signal : Signal, optional
        What will be written (its axis decides whether audio needs ``rate``).
    rate : float, optional
        Samples per second the caller will pass to :func:`save_signal`.
    fmt : str, optional
        Format overriding the extension, as for :func:`save_signal`.
    refuse : str or Path, optional
        A file that must not be overwritten (the input).
    suffixes : sequence of str, optional
        The extensions this caller accepts (default: every signal format).

    Returns
    -------
    str
        The format that will be written ("wav", "csv", ...).

    Raises
    ------
    SaveError
        ``path`` is a folder, its folder is missing, not a folder or not
        writable, the extension is unknown or not in ``suffixes``, or ``path``
        is the ``refuse`` file.
    ParameterError
        Audio output for a signal whose axis is not in seconds and no ``rate``.
    """
    import os

    p = Path(path)
    if p.is_dir():
        raise SaveError(p, "is a folder; give a file name inside it")
    if suffixes is not None and fmt is None and p.suffix.lower() not in suffixes:
        raise SaveError(p, f"cannot write {p.suffix or 'a file without an extension'} here; "
                           f"use one of {', '.join(suffixes)}")
    f = _format_for(p, fmt)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.exists():
        raise SaveError(p, f"folder {folder} does not exist")
    if not folder.is_dir():
        raise SaveError(p, f"{folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SaveError(p, f"cannot write in folder {folder} (permission denied)")
    if p.exists() and not os.access(p, os.W_OK) and not os.access(folder, os.W_OK):
        raise SaveError(p, "the file exists and cannot be replaced (permission denied)")
    if refuse is not None and _same_file(p, Path(refuse)):
        raise SaveError(p, "refusing to overwrite the input file; choose another name")
    if f in ("wav", "flac", "ogg") and rate is None and signal is not None \
            and signal.unit != "s":
        raise ParameterError(
            f"{p}: audio needs a sample rate, and the signal's axis is in "
            f"{signal.unit or 'samples'!r}, not seconds; give a rate (the CLI's --rate) or "
            "save as .csv/.npy")
    return f


def save_signal(signal_or_y, path, *, rate: float | None = None, fmt: str | None = None,
                subtype: str | None = None, refuse=None) -> tuple[str, ...]:
    """Write a signal to a file, atomically.

    Parameters
    ----------
    signal_or_y : Signal or array_like [shape=(n,), real]
        What to write. A bare array has the axis ``arange(n) / rate`` in
        seconds when ``rate`` is given, else sample indices.
    path : str or Path
        Target; the format comes from its extension unless ``fmt`` is given.
    rate : float, optional
        Samples per second for audio formats; default ``signal.rate`` when the
        signal's unit is "s". Rounded to an integer for audio files.
    fmt : {"wav", "flac", "ogg", "csv", "npy", "npz"}, optional
        Format, overriding the extension.
    subtype : str, optional
        soundfile subtype for audio. WAV defaults to "FLOAT" (32-bit float:
        values beyond +-1 are kept, nothing clips). FLAC defaults to "PCM_24"
        and OGG to "VORBIS". Audio is never written as inf or as silence
        that was not silence: samples are **scaled** to a peak of 1, with a
        note giving the factor, when their peak exceeds what the subtype holds
        (1 for PCM, FLAC and OGG; about 3.4e38 for FLOAT, beyond which float32
        is inf) or is so small that every sample would be written as 0 (below
        one step of a PCM subtype; below float32's smallest normal number,
        about 1.2e-38, for FLOAT and the lossy codecs). CSV, NPY and NPZ hold
        float64 and are written as they are.
    refuse : str or Path, optional
        A file that must not be overwritten (the signal's input file).

    Formats: CSV holds two columns, x and y, with a header naming the unit;
    a ``descending`` signal is written high-to-low again, so loading the file
    gives back the same signal. NPY holds y alone when the axis is plain
    sample indices, else (n, 2) x,y columns in file order. NPZ holds ``y``,
    ``x`` (file order), ``unit`` and ``y_unit``.

    Returns
    -------
    tuple of str
        Notes for the user (scaling applied, rate rounded ...).

    Raises
    ------
    SaveError
        The target is the refused file, the folder is missing or read-only,
        the extension is unknown, the samples hold NaN or inf, or the write
        failed (disk full, file too large, permission denied, encoder error).
        Nothing is left behind then and an old file at ``path`` is kept.
    ParameterError
        Audio output without a rate.
    """
    p = Path(path)
    f = _format_for(p, fmt)
    if refuse is not None and _same_file(p, Path(refuse)):
        raise SaveError(p, "refusing to overwrite the input file; choose another name")
    if isinstance(signal_or_y, Signal):
        sig = signal_or_y
    else:
        try:
            y = np.asarray(signal_or_y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise SaveError(p, f"the samples are not real numbers ({exc})") from None
        bad = ~np.isfinite(y)
        if bad.any():
            raise SaveError(p, f"{int(bad.sum())} of {y.size} sample(s) are NaN or infinite "
                               f"(first at sample {int(np.flatnonzero(bad)[0]) + 1}); "
                               "nothing was written")
        try:
            sig = Signal(y, dx=1.0 / rate if rate else 1.0, unit="s" if rate else "",
                         name=str(p))
        except ParameterError as exc:
            raise SaveError(p, str(exc).removeprefix(f"{p}: ")) from None
    notes = []
    if f in ("wav", "flac", "ogg"):
        _save_audio(sig, p, f, rate=rate, subtype=subtype, notes=notes)
    elif f == "csv":
        atomic_write_text(p, _csv_text(sig))
    elif f == "npy":
        plain = sig.unit == "" and sig.x0 == 0 and sig.dx == 1 and not sig.descending
        arr = sig.y if plain else np.column_stack(_file_order(sig))
        # Through a plain write(): given a real file, np.save uses tofile, whose short
        # write error carries no errno ("N requested and M written": disk full? too big?)
        atomic_write(p, lambda fh: np.save(_WriteOnly(fh), arr), binary=True)
    else:
        x, y = _file_order(sig)
        atomic_write(p, lambda fh: np.savez(fh, y=y, x=x, unit=np.array(sig.unit),
                                            y_unit=np.array(sig.y_unit)), binary=True)
    return tuple(notes)


def _file_order(sig: Signal) -> tuple[np.ndarray, np.ndarray]:
    x, y = sig.x, sig.y
    return (x[::-1], y[::-1]) if sig.descending else (x, y)


def _csv_text(sig: Signal) -> str:
    x, y = _file_order(sig)
    unit_label = f"{_AXIS_NAMES.get(sig.unit, 'x')} ({sig.unit})" if sig.unit else "sample"
    y_label = sig.y_unit.replace(",", ";") or "y"
    buf = _pyio.StringIO()
    buf.write(f"{unit_label},{y_label}\n")
    # repr gives the shortest text that reads back to the same float
    buf.writelines(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist(), strict=True))
    return buf.getvalue()


class _WriteOnly:
    """Just ``write``: makes numpy write through the buffered file, which raises with errno."""

    def __init__(self, fh):
        self.write = fh.write


class _GuardedSink:
    """A write-only file for soundfile that never raises into libsndfile's callbacks.

    soundfile hands libsndfile Python callbacks through cffi; an OSError raised
    in one is printed ("Exception ignored from cffi callback") and swallowed,
    then soundfile fails an ``assert``. So the first OSError is kept here,
    later writes are dropped while reporting success (the encoder finishes
    quietly, its output is discarded anyway), and the caller raises the kept
    error. The position is tracked here so seek/tell stay consistent after one.
    """

    def __init__(self, fh):
        self._fh, self.error, self._pos, self._size = fh, None, 0, 0

    def write(self, data) -> int:
        n = len(data)
        if self.error is None:
            try:
                self._fh.write(data)  # buffered: writes all of it or raises
            except OSError as exc:
                self.error = exc
        self._pos += n
        self._size = max(self._size, self._pos)
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = {0: 0, 1: self._pos, 2: self._size}[whence] + offset
        if self.error is None:
            try:
                self._fh.seek(self._pos)
            except OSError as exc:
                self.error = exc
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        return b""  # libsndfile does not read back what it writes to WAV/FLAC/OGG


#: Bits of the PCM-like soundfile subtypes: a peak below one step writes as all zeros.
_SUBTYPE_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32,
                 "ULAW": 14, "ALAW": 13}
_FLOAT32 = np.finfo(np.float32)


def _audio_range(subtype: str) -> tuple[float, float]:
    """(largest peak written faithfully, smallest peak not written as all zeros)."""
    if subtype == "DOUBLE":
        return np.inf, 0.0
    if subtype == "FLOAT":
        return float(_FLOAT32.max), float(_FLOAT32.tiny)
    if subtype in _SUBTYPE_BITS:
        return 1.0, 2.0 ** -(_SUBTYPE_BITS[subtype] - 1)
    return 1.0, float(_FLOAT32.tiny)  # lossy codecs work in float32


def _soundfile_reason(exc: Exception) -> str:
    reason = str(exc) or type(exc).__name__
    if reason.startswith("Error opening"):
        reason = reason.split(": ", 1)[-1]  # drop soundfile's repr of the file object
    return reason


def _save_audio(sig: Signal, p: Path, f: str, *, rate, subtype, notes) -> None:
    if rate is None:
        if sig.unit != "s":
            raise ParameterError(
                f"{p}: audio needs a sample rate, and the signal's axis is in "
                f"{sig.unit or 'samples'!r}, not seconds; give a rate (the CLI's --rate) or "
                "save as .csv/.npy")
        rate = sig.rate
    if not np.isfinite(rate):
        raise ParameterError(f"{p}: rate={float(rate)} Hz; audio needs a finite rate >= 1 Hz")
    sr = int(round(rate))
    if sr < 1:
        raise ParameterError(f"{p}: rate={float(rate):g} Hz is below 1 Hz; audio needs >= 1")
    if abs(sr - rate) > 1e-6 * rate:
        notes.append(f"sample rate {rate:.6g} Hz rounded to {sr} Hz for {f.upper()}")
    subtype = subtype or {"wav": "FLOAT", "flac": "PCM_24", "ogg": "VORBIS"}[f]
    fmt_name = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG"}[f]
    if not sf.check_format(fmt_name, subtype):
        raise ParameterError(f"{p}: subtype {subtype!r} is not available for {fmt_name}")
    y = sig.y
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    largest, smallest = _audio_range(subtype)
    if peak > largest or 0.0 < peak < smallest:
        # y / peak, not y * (1 / peak): 1 / 5e-324 is inf
        y = y / peak
        why = (f"exceeds what {fmt_name} {subtype} holds ({largest:.4g})" if peak > largest
               else f"is too small for {fmt_name} {subtype} (every sample would be written "
                    "as 0)")
        notes.append(f"peak {peak:.4g} {why}; scaled by 1/{peak:.4g} to a peak of 1")

    def write(fh):
        sink = _GuardedSink(fh)
        try:
            sf.write(sink, y, sr, format=fmt_name, subtype=subtype)
        except (RuntimeError, ValueError, TypeError, AssertionError) as exc:
            if sink.error is None:
                raise SaveError(p, f"could not be encoded as {fmt_name} {subtype} "
                                   f"({_soundfile_reason(exc)})") from None
        if sink.error is not None:
            raise sink.error

    atomic_write(p, write, binary=True)
