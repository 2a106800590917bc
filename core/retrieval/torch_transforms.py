"""Differentiable STFT and CWT in torch, matching core's numpy transforms.

Both transforms are written as *frame operators* on an internal signal ``z``
(the signal itself, optionally extended by ``padding`` free samples at each
end), with four methods:

``analysis(z)``
    Coefficients ``(..., n_rows, n_frames)``, complex; differentiable.
``adjoint(c)``
    The adjoint of ``analysis`` for the inner products used by retrieval
    (STFT: full-spectrum, i.e. every rfft bin but DC/Nyquist counted twice,
    so that the coefficient norm is a time-domain energy).
``pinv(c)``
    Least-squares synthesis ``(A^H A)^{-1} A^H c``. Exact for the STFT
    (``A^H A`` is diagonal in time, the sum of squared windows folded by the
    padding) and for :class:`FullCWTOperator` (diagonal in frequency); the
    cropped CWT has no cheap exact inverse, see :class:`CWTOperator`.
``precondition(g, power=1)``
    Apply ``(A^H A)^{-power}`` (or its diagonal approximation) to a gradient.

STFT convention (ssqueezepy ``stft(..., padtype='reflect', modulated=True)``):
reflect-pad ``x`` to ``N + n_fft - 1`` (left ``ceil((n_fft-1)/2)``), frames
every ``hop``, each frame circularly shifted by ``-(n_fft // 2)`` and
multiplied by the ifftshifted window, then rfft; rows ascending frequency.

CWT convention (core.tf.transforms): ``W = ifft(fft(reflect_pad(x)) * psi)``
cropped to ``[pad_left, pad_left + N)``; ``psi`` rows ascending frequency.

torch is imported here, at module level: import this module lazily.
"""

from __future__ import annotations

import numpy as np
import torch

from phasebrush.core.retrieval.device import resolve_device, resolve_dtype

__all__ = [
    "STFTOperator",
    "CWTOperator",
    "FullCWTOperator",
    "TiedCWTOperator",
    "operator_for",
    "transform",
    "stft",
    "cwt",
]


def _reflect_index(n: int, left: int, right: int) -> np.ndarray:
    """Source index in a length-``n`` vector of each sample of its reflect pad."""
    idx = np.arange(n)
    # np.pad's reflect mode repeats the reflection when the pad exceeds n - 1
    return np.pad(idx, (left, right), mode="reflect")


class _FreeSamples:
    """The unknown of an operator with ``padding`` free samples at each end (its
    ``n_samples`` signal samples in the middle)."""

    padding: int
    n_samples: int

    def from_signal(self, x):
        """Internal ``z`` from a signal ``x (..., N)``: symmetric extension by ``padding``."""
        if self.padding == 0:
            return x
        p = self.padding
        return torch.cat([x[..., :p].flip(-1), x, x[..., -p:].flip(-1)], dim=-1)

    def to_signal(self, z):
        """The ``N`` signal samples of an internal ``z``."""
        p = self.padding
        return z[..., p: p + self.n_samples] if p else z


class STFTOperator(_FreeSamples):
    """ssqueezepy's modulated STFT of an ``n_samples`` signal as a frame operator.

    Analysis is a strided view (``unfold``) of the reflect-padded signal, and
    synthesis a block overlap-add (``n_fft % hop == 0``) folded back by the
    padding: no per-sample gather of the ``(n_frames, n_fft)`` frames, which
    cost 5x the FFTs (measured). Coefficients are computed ``(..., n_frames,
    n_rows)`` contiguous and returned as their transposed view ``(..., n_rows,
    n_frames)``; :meth:`layout` puts other tensors in that memory order so
    elementwise passes stay contiguous.

    Parameters
    ----------
    window : np.ndarray [shape=(n_fft,), float64]
        ``core.tf.transforms.stft_window(spec)``.
    hop : int >= 1
    n_samples : int
        Length N of the signal the target magnitude belongs to.
    padding : int >= 0
        Free samples added at each end of the unknown: the internal signal
        ``z`` has ``N + 2 * padding`` samples and only the rest of the
        transform's reflect padding is tied to it. 0 = the exact transform.
    modulated : bool
        True: ssqueezepy's phase (frames centred on their window's peak), as
        core.tf.transforms. False: the plain frame-start phase, the same
        magnitudes, one complex pass cheaper; :attr:`modulation` maps one to
        the other (``modulated = plain * modulation``).
    device, dtype : torch device / dtype (strings accepted)
    """

    kind = "stft"

    def __init__(self, window: np.ndarray, hop: int, n_samples: int, *, padding: int = 0,
                 modulated: bool = True, device="cpu", dtype="float64"):
        window = np.asarray(window, dtype=np.float64)
        n_fft = len(window)
        self.n_fft, self.hop, self.n_samples = n_fft, int(hop), int(n_samples)
        self.device, self.dtype = resolve_device(device), resolve_dtype(dtype)
        cdtype = torch.complex128 if self.dtype == torch.float64 else torch.complex64
        # ssqueezepy's padsignal: total n_fft - 1, the odd sample on the left
        right = (n_fft - 1) // 2
        left = n_fft - 1 - right
        p = int(min(max(padding, 0), left, right))
        self.padding = p
        self.n_internal = self.n_samples + 2 * p
        pad_idx = _reflect_index(self.n_internal, left - p, right - p)
        self.n_padded = n_padded = len(pad_idx)
        self.n_frames = (n_padded - n_fft) // self.hop + 1
        self.n_rows = n_fft // 2 + 1
        # full-spectrum weights: rfft bins other than DC/Nyquist stand for two
        wts = np.full(self.n_rows, 2.0)
        wts[0] = 1.0
        if n_fft % 2 == 0:
            wts[-1] = 1.0
        # frame t, slot m holds padded[t*hop + m]; the modulated STFT rolls
        # each frame by -(n_fft // 2), i.e. multiplies bin k by exp(2j pi k s / n_fft)
        pos = np.arange(self.n_frames)[:, None] * self.hop + np.arange(n_fft)[None, :]
        self.covered = int(pos.max()) + 1  # padded samples some frame reaches
        # A^H A = n_fft * P^T diag(sum of squared windows) P: diagonal in z
        diag = np.zeros(self.n_internal)
        np.add.at(diag, pad_idx[pos].ravel(), np.broadcast_to(window**2, pos.shape).ravel())
        diag *= n_fft
        if diag.min() <= 0:
            from phasebrush.core.errors import ParameterError

            raise ParameterError(
                f"STFT window (n_fft={n_fft}) with hop={hop} leaves samples uncovered (NOLA fails)"
            )
        t = dict(device=self.device)
        self._pad_idx = torch.as_tensor(pad_idx, dtype=torch.long, **t)
        self._fold_idx = self._pad_idx[: self.covered]
        self._block = n_fft % self.hop == 0
        self._pos_flat = torch.as_tensor(pos.ravel(), dtype=torch.long, **t)
        self._win = torch.as_tensor(window, dtype=self.dtype, **t)
        self._win_syn = self._win * n_fft
        self._wts = torch.as_tensor(wts, dtype=self.dtype, **t)
        self._dinv = torch.as_tensor(1.0 / diag, dtype=self.dtype, **t)
        self.cdtype = cdtype
        self.modulated = bool(modulated)
        k = np.arange(self.n_rows)
        mod = np.exp(2j * np.pi * k * (n_fft // 2) / n_fft)
        if n_fft % 2 == 0:
            mod = np.round(mod.real) + 0j  # exactly +-1
        self.modulation = torch.as_tensor(mod, **t).to(cdtype)[:, None]  # (n_rows, 1)
        self._mod_tf = self.modulation[:, 0]
        self.shape = (self.n_rows, self.n_frames)
        # bins weighted for the coefficient inner product (retrieval losses)
        self.weights = self._wts[:, None].expand(self.shape)

    def layout(self, t):
        """``t (..., n_rows, n_frames)`` stored in the coefficients' memory order."""
        return t.transpose(-1, -2).contiguous().transpose(-1, -2)

    # -- frame operator -------------------------------------------------------
    def analysis(self, z):
        frames = z[..., self._pad_idx].unfold(-1, self.n_fft, self.hop) * self._win
        c = torch.fft.rfft(frames, dim=-1)  # (..., T, F)
        if self.modulated:
            c = c * self._mod_tf
        return c.transpose(-1, -2)

    def _fold(self, frames):
        """Overlap-add ``(..., T, n_fft)`` frames onto the padded axis, then fold
        the padding back onto ``z``."""
        lead = frames.shape[:-2]
        T, h = self.n_frames, self.hop
        if self._block:
            r = self.n_fft // h
            fb = frames.reshape(lead + (T, r, h))
            buf = frames.new_zeros(lead + (T + r - 1, h))
            for j in range(r):
                buf[..., j: j + T, :] += fb[..., :, j, :]
            flat = buf.reshape(lead + ((T + r - 1) * h,))[..., : self.covered]
        else:
            flat = frames.new_zeros(lead + (self.n_padded,))
            flat = flat.index_add_(-1, self._pos_flat, frames.reshape(lead + (-1,)))
            flat = flat[..., : self.covered]
        out = frames.new_zeros(lead + (self.n_internal,))
        return out.index_add_(-1, self._fold_idx, flat)

    def adjoint(self, c):
        c = c.transpose(-1, -2)
        if self.modulated:
            c = c * self._mod_tf.conj()
        frames = torch.fft.irfft(c, n=self.n_fft, dim=-1) * self._win_syn
        return self._fold(frames)

    def precondition(self, g, power: float = 1.0):
        return g * (self._dinv if power == 1.0 else self._dinv**power)

    def pinv(self, c):
        return self.adjoint(c) * self._dinv


class FullCWTOperator:
    """Hop-1 filterbank over the whole padded domain (circular), a frame operator.

    The unknown is the padded signal (``n_pad`` samples); coefficients cover
    every padded column, of which only ``[pad_left, pad_left + N)`` carry the
    target. ``A^H A`` is diagonal in frequency, so :meth:`pinv` is exact.

    Parameters
    ----------
    psi : np.ndarray [shape=(n_rows, n_pad), real or complex]
        Filterbank in the frequency domain (numpy FFT order), rows ascending
        frequency.
    n_samples, pad_left : int
    """

    kind = "cwt_full"

    def __init__(self, psi: np.ndarray, n_samples: int, pad_left: int, *, device="cpu",
                 dtype="float64"):
        self.device, self.dtype = resolve_device(device), resolve_dtype(dtype)
        self.cdtype = torch.complex128 if self.dtype == torch.float64 else torch.complex64
        psi = np.array(psi)
        # GMW tails reach 1e-300: products with them are denormal floats, which
        # slow every FFT pass many times over; below 1e-16 of the peak they
        # change no coefficient at double precision
        psi[np.abs(psi) < 1e-16 * np.abs(psi).max()] = 0
        self.n_rows, self.n_pad = psi.shape
        self.n_samples, self.pad_left = int(n_samples), int(pad_left)
        self.n_internal = self.n_pad
        self.n_frames = self.n_pad
        self.shape = (self.n_rows, self.n_pad)
        d = np.sum(np.abs(psi) ** 2, axis=0)
        # real z: the normal operator sees the symmetrised power
        d = 0.5 * (d + np.roll(d[::-1], 1))
        # frequencies no filter reaches (DC without edge rows) cannot be
        # recovered: the inverse leaves them out instead of amplifying noise
        covered = d > 1e-10 * d.max()
        dinv = np.where(covered, 1.0 / np.where(covered, d, 1.0), 0.0)
        self._psi = torch.as_tensor(np.array(psi), device=self.device).to(self.cdtype)
        self._psic = self._psi.conj()
        # analytic filters (nothing on negative frequencies, as every GMW / Morlet
        # row and the edge rows): work on the rfft half, ~30 % less per pass
        half = self.n_pad // 2 + 1
        self._analytic = not np.any(psi[:, half:])
        # real filters (every wavelet row and edge row core builds): multiply the
        # (re, im) pairs by a real factor, half the work of a complex product
        self._real = not np.iscomplexobj(psi) or not np.any(np.imag(psi))
        self._half = half
        self._buffers = {}
        if self._analytic:
            self._psi_h = self._psi[:, :half].contiguous()
            self._psic_h = self._psi_h.conj()
            # Re(ifft(X)) for X on bins 0..n/2 is irfft of X with the inner
            # bins halved (irfft doubles them and drops DC/Nyquist imaginary parts)
            wh = np.full(half, 0.5)
            wh[0] = 1.0
            if self.n_pad % 2 == 0:
                wh[-1] = 1.0
            self._psic_h = self._psic_h * torch.as_tensor(wh, device=self.device,
                                                          dtype=self.dtype)
            if self._real:
                self._psi_hr = self._psi_h.real.contiguous().unsqueeze(-1)
                self._psic_hr = self._psic_h.real.contiguous().unsqueeze(-1)
        self._dinv = torch.as_tensor(dinv, dtype=self.dtype, device=self.device)
        self.weights = None
        idx = _reflect_index(n_samples, pad_left, self.n_pad - n_samples - pad_left)
        self._pad_idx = torch.as_tensor(idx, dtype=torch.long, device=self.device)

    def from_signal(self, x):
        return x[..., self._pad_idx]

    def to_signal(self, z):
        return z[..., self.pad_left: self.pad_left + self.n_samples]

    def zero_buffer(self, shape, key):
        """A cached complex ``shape`` tensor whose entries are zero except where
        the caller writes (the same places every call), so that no pass pays
        for clearing the whole array; not for autograd."""
        buf = self._buffers.get(key)
        if buf is None or buf.shape != tuple(shape):
            buf = torch.zeros(shape, dtype=self.cdtype, device=self.device)
            self._buffers[key] = buf
        return buf

    def analysis(self, z):
        if self._analytic:
            X = torch.fft.rfft(z, dim=-1).unsqueeze(-2)
            if self._real and not z.requires_grad:
                # the spectrum's upper half stays zero in the buffer: ifft(n=...)
                # would clear and copy a padded array every pass
                buf = self.zero_buffer(X.shape[:-2] + (self.n_rows, self.n_pad), "analysis")
                torch.mul(torch.view_as_real(X), self._psi_hr,
                          out=torch.view_as_real(buf[..., : self._half]))
                return torch.fft.ifft(buf, dim=-1)
            half = X * self._psi_h
            return torch.fft.ifft(half, n=self.n_pad, dim=-1)
        return torch.fft.ifft(torch.fft.fft(z, dim=-1).unsqueeze(-2) * self._psi, dim=-1)

    def adjoint(self, c):
        if self._analytic:
            spec = torch.fft.fft(c, dim=-1)[..., : self._half]
            if self._real and not c.requires_grad:
                prod = torch.view_as_real(spec) * self._psic_hr
                return torch.fft.irfft(torch.view_as_complex(prod.sum(-3)), n=self.n_pad,
                                       dim=-1)
            return torch.fft.irfft((spec * self._psic_h).sum(-2), n=self.n_pad, dim=-1)
        spec = (torch.fft.fft(c, dim=-1) * self._psic).sum(-2)
        return torch.fft.ifft(spec, dim=-1).real

    def precondition(self, g, power: float = 1.0):
        dinv = self._dinv if power == 1.0 else self._dinv**power
        # dinv is symmetric (d(k) = d(-k)): a real filter, rfft suffices
        half = dinv[: self.n_pad // 2 + 1]
        return torch.fft.irfft(torch.fft.rfft(g, dim=-1) * half, n=self.n_pad, dim=-1)

    def pinv(self, c):
        # Re(ifft(spec)) = ifft of the Hermitian part; filter that by 1/D
        return self.precondition(self.adjoint(c))


class CWTOperator(_FreeSamples):
    """core's CWT of an ``n_samples`` signal (reflect pad, filterbank, crop).

    ``analysis`` is exact (and differentiable); ``adjoint`` is its exact
    adjoint. ``precondition`` / ``pinv`` use the diagonal-in-frequency normal
    operator of the uncropped filterbank, a close approximation away from the
    ends.

    Parameters
    ----------
    psi : np.ndarray [shape=(n_rows, n_pad)]
    n_samples, pad_left : int
    padding : int >= 0
        Free samples at each end of the unknown (the rest of the reflect
        padding is tied to it).
    """

    kind = "cwt"

    def __init__(self, psi: np.ndarray, n_samples: int, pad_left: int, *, padding: int = 0,
                 device="cpu", dtype="float64"):
        self.full = FullCWTOperator(psi, n_samples, pad_left, device=device, dtype=dtype)
        self.device, self.dtype, self.cdtype = self.full.device, self.full.dtype, self.full.cdtype
        self.n_rows, self.n_pad = self.full.n_rows, self.full.n_pad
        self.n_samples, self.pad_left = int(n_samples), int(pad_left)
        right = self.n_pad - self.n_samples - self.pad_left
        p = int(min(max(padding, 0), self.pad_left, right))
        self.padding = p
        self.n_internal = self.n_samples + 2 * p
        self.n_frames = self.n_samples
        self.shape = (self.n_rows, self.n_samples)
        self.weights = None
        idx = _reflect_index(self.n_internal, self.pad_left - p, right - p)
        self._pad_idx = torch.as_tensor(idx, dtype=torch.long, device=self.device)

    def analysis(self, z):
        full = self.full.analysis(z[..., self._pad_idx])
        return full[..., self.pad_left: self.pad_left + self.n_samples]

    def _embed(self, c):
        """``c`` in the middle of zero padding columns (a reused buffer unless
        autograd needs a fresh tensor)."""
        shape = c.shape[:-1] + (self.n_pad,)
        if c.requires_grad or c.dtype != self.cdtype:
            ext = c.new_zeros(shape)
        else:
            ext = self.full.zero_buffer(shape, "embed")
        ext[..., self.pad_left: self.pad_left + self.n_samples] = c
        return ext

    def adjoint(self, c):
        g = self.full.adjoint(self._embed(c))
        out = g.new_zeros(g.shape[:-1] + (self.n_internal,))
        return out.index_add_(-1, self._pad_idx, g)

    def precondition(self, g, power: float = 1.0):
        # (A^H A)^-1 ~ restrict (C^H C)^-1 extend: the crop and the fold are ignored
        return self._restrict(self.full.precondition(self._extend(g), power))

    def _extend(self, g):
        p = self.padding
        a = self.pad_left - p
        out = g.new_zeros(g.shape[:-1] + (self.n_pad,))
        out[..., a: a + self.n_internal] = g
        return out

    def _restrict(self, zfull):
        p = self.padding
        a = self.pad_left - p
        return zfull[..., a: a + self.n_internal]

    def pinv(self, c):
        return self._restrict(self.full.pinv(self._embed(c)))


class TiedCWTOperator:
    """The uncropped filterbank restricted to reflect-padded signals.

    Coefficients cover the whole padded domain (so a projection method can
    leave the columns outside the signal free), but the synthesis returns
    the reflect padding of the least-squares signal: ``pinv(c) =
    pad(crop(FullCWTOperator.pinv(c)))``. Every estimate is thus a real
    signal's padding and its inconsistency is the exact transform's; the
    projection is not exactly orthogonal (the crop), a close approximation.
    """

    kind = "cwt_tied"

    def __init__(self, full: FullCWTOperator):
        self.full = full
        for k in ("device", "dtype", "cdtype", "n_rows", "n_pad", "n_samples", "pad_left",
                  "n_internal", "n_frames", "shape"):
            setattr(self, k, getattr(full, k))
        self.weights = None

    def from_signal(self, x):
        return self.full.from_signal(x)

    def to_signal(self, z):
        return self.full.to_signal(z)

    def analysis(self, z):
        return self.full.analysis(z)

    def adjoint(self, c):
        return self.full.adjoint(c)

    def precondition(self, g, power: float = 1.0):
        return self.full.precondition(g, power)

    def pinv(self, c):
        return self.full.from_signal(self.full.to_signal(self.full.pinv(c)))


def _as_tensor(x, device, dtype):
    if isinstance(x, torch.Tensor):
        return x
    return torch.as_tensor(np.array(x), device=resolve_device(device), dtype=resolve_dtype(dtype))


def _check_kind(spec):
    from phasebrush.core.errors import ParameterError

    if spec.kind not in ("stft", "cwt"):
        raise ParameterError(
            f"kind={spec.kind!r}: only 'stft' and 'cwt' are frame transforms with a torch twin "
            "(synchrosqueezed magnitudes cannot be retrieved)")


def operator_for(spec, n_samples: int, *, dx: float = 1.0, padding: int = 0, device="cpu",
                 dtype="float64", modulated: bool = True):
    """The frame operator of ``spec`` for ``n_samples`` signals.

    Parameters
    ----------
    spec : core.tf.transforms.TransformSpec
        kind "stft" or "cwt".
    n_samples : int
    dx : float
        Sample spacing (CWT frequency limits depend on it).
    padding : int >= 0
        Free samples at each end of the unknown (see :class:`STFTOperator`).
    modulated : bool
        STFT only: False gives the frame-start phase (same magnitudes, cheaper;
        see :class:`STFTOperator`).

    Returns
    -------
    STFTOperator or CWTOperator

    Raises
    ------
    ParameterError
        ssq kinds, or a spec core.tf.transforms rejects.
    """
    from phasebrush.core.tf import transforms as T

    _check_kind(spec)
    if spec.kind == "stft":
        g = T.stft_window(spec)
        return STFTOperator(g, spec.hop, n_samples, padding=padding, modulated=modulated,
                            device=device, dtype=dtype)
    fb = T.cwt_filterbank(spec, int(n_samples), dx=dx)
    return CWTOperator(fb.psi, n_samples, fb.pad_left, padding=padding, device=device,
                       dtype=dtype)


def transform(x, spec, *, dx: float = 1.0, device=None, dtype="float64"):
    """core.tf.transforms' STFT or CWT coefficients of ``x``, in torch and differentiable.

    Parameters
    ----------
    x : torch.Tensor or np.ndarray [shape=(N,) or (B, N), float]
        A tensor keeps its device and dtype; an array goes to ``device``
        (None = cpu) as ``dtype``.
    spec : core.tf.transforms.TransformSpec
        kind "stft" or "cwt".
    dx : float

    Returns
    -------
    torch.Tensor [shape=(..., n_rows, n_frames), complex]
        Row 0 = lowest frequency, equal to ``core.tf.transforms.transform``'s
        coefficients (to ~1e-15 relative in float64).
    """
    x = _as_tensor(x, device or "cpu", dtype)
    op = operator_for(spec, x.shape[-1], dx=dx, device=x.device, dtype=x.dtype)
    return op.analysis(x)


def stft(x, spec, *, device=None, dtype="float64"):
    """:func:`transform` for an STFT spec."""
    return transform(x, spec, device=device, dtype=dtype)


def cwt(x, spec, *, dx: float = 1.0, device=None, dtype="float64"):
    """:func:`transform` for a CWT spec."""
    return transform(x, spec, dx=dx, device=device, dtype=dtype)
