"""The torch transforms agree with core.tf.transforms and have the right adjoints."""

import numpy as np
import pytest
import torch

from phasebrush.core.errors import ParameterError
from phasebrush.core.retrieval.torch_transforms import operator_for, transform
from phasebrush.core.signal import Signal
from phasebrush.core.tf.transforms import TransformSpec
from phasebrush.core.tf.transforms import transform as np_transform

SPECS = [
    TransformSpec(kind="stft", window="hann", n_fft=64, hop=16),
    TransformSpec(kind="stft", window="hamming", n_fft=50, win_len=40, hop=7),
    TransformSpec(kind="stft", window="hann", n_fft=31, hop=1),
    TransformSpec(kind="cwt", nv=8),
    TransformSpec(kind="cwt", nv=8, edge_rows=False),
]


@pytest.fixture
def x():
    rng = np.random.default_rng(1)
    t = np.arange(300)
    return np.cos(2 * np.pi * 0.05 * t + 1e-4 * t**2) + 0.1 * rng.standard_normal(300)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{s.n_fft}-{s.hop}-{s.edge_rows}")
def test_matches_numpy_transform(spec, x):
    ref = np_transform(Signal(y=x), spec).coefficients
    got = transform(x, spec).numpy()
    assert got.shape == ref.shape
    assert np.max(np.abs(got - ref)) <= 1e-6 * np.max(np.abs(ref))


@pytest.mark.parametrize("spec", SPECS[:1] + SPECS[3:4], ids=["stft", "cwt"])
def test_batched_rows_equal_single(spec, x):
    xb = np.stack([x, -2 * x, x[::-1].copy()])
    got = transform(xb, spec).numpy()
    for b in range(3):
        ref = np_transform(Signal(y=xb[b]), spec).coefficients
        assert np.max(np.abs(got[b] - ref)) <= 1e-6 * np.max(np.abs(ref))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{s.n_fft}-{s.hop}-{s.edge_rows}")
@pytest.mark.parametrize("padding", [0, 5])
def test_adjoint_identity(spec, padding):
    op = operator_for(spec, 300, padding=padding)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(op.n_internal, generator=g, dtype=torch.float64)
    c = torch.randn(op.shape, generator=g, dtype=torch.complex128)
    w = op.weights if op.weights is not None else 1.0
    lhs = (op.analysis(z).conj() * c * w).sum().real
    rhs = (z * op.adjoint(c)).sum()
    assert torch.isclose(lhs, rhs, rtol=1e-10)


@pytest.mark.parametrize("spec", SPECS[:3], ids=["hann", "hamming-short", "hop1"])
@pytest.mark.parametrize("padding", [0, 5])
def test_stft_pinv_inverts_exactly(spec, x, padding):
    op = operator_for(spec, 300, padding=padding)
    z = op.from_signal(torch.as_tensor(x))
    back = op.to_signal(op.pinv(op.analysis(z)))
    assert torch.allclose(back, torch.as_tensor(x), atol=1e-10)


def test_full_cwt_pinv_inverts_padded_domain(x):
    op = operator_for(SPECS[3], 300).full
    z = op.from_signal(torch.as_tensor(x))
    assert torch.allclose(op.pinv(op.analysis(z)), z, atol=1e-10)


@pytest.mark.parametrize("spec", [SPECS[0], SPECS[3]], ids=["stft", "cwt"])
def test_gradcheck_magnitude_loss(spec):
    n = 40 if spec.kind == "stft" else 128
    spec = TransformSpec(kind="stft", n_fft=16, hop=4) if spec.kind == "stft" else TransformSpec(
        kind="cwt", nv=8)
    target = transform(np.cos(0.3 * np.arange(n)), spec).abs()
    x = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    x.requires_grad_(True)

    def loss(v):
        return ((transform(v, spec).abs() - target) ** 2).sum()

    assert torch.autograd.gradcheck(loss, (x,), eps=1e-6, atol=1e-5)


def test_closed_form_gradient_matches_autograd():
    spec = TransformSpec(kind="stft", n_fft=32, hop=8)
    op = operator_for(spec, 100)
    g = torch.Generator().manual_seed(4)
    S = op.analysis(torch.randn(100, generator=g, dtype=torch.float64)).abs()
    z = torch.randn(100, generator=g, dtype=torch.float64, requires_grad=True)
    c = op.analysis(z)
    loss = 0.5 * (op.weights * (c.abs() - S) ** 2).sum()
    loss.backward()
    with torch.no_grad():
        c = op.analysis(z)
        closed = op.adjoint(c - S * c / c.abs())
    assert torch.allclose(z.grad, closed, rtol=1e-8, atol=1e-10)


def test_float32_close_to_float64(x):
    spec = SPECS[0]
    a = transform(x, spec, dtype="float32").numpy()
    b = transform(x, spec).numpy()
    assert a.dtype == np.complex64
    assert np.max(np.abs(a - b)) <= 1e-4 * np.max(np.abs(b))


def test_ssq_kind_is_rejected():
    with pytest.raises(ParameterError, match="ssq_cwt"):
        operator_for(TransformSpec(kind="ssq_cwt"), 256)


@pytest.mark.parametrize("spec", SPECS[:3], ids=["hann", "hamming-short", "odd-hop1"])
def test_unmodulated_stft_differs_only_by_the_modulation(spec, x):
    mod = operator_for(spec, 300)
    plain = operator_for(spec, 300, modulated=False)
    z = torch.as_tensor(x)
    cm, cp = mod.analysis(z), plain.analysis(z)
    assert torch.allclose(cm, cp * plain.modulation, rtol=0, atol=1e-12 * cm.abs().max())
    # same frame operator up to a unitary: the synthesis inverts it as well
    assert torch.allclose(plain.pinv(cp), z, atol=1e-10)
    c = torch.randn(plain.shape, generator=torch.Generator().manual_seed(2),
                    dtype=torch.complex128)
    lhs = (cp.conj() * c * plain.weights).sum().real
    assert torch.isclose(lhs, (z * plain.adjoint(c)).sum(), rtol=1e-10)


def test_reused_cwt_buffers_never_leak_between_calls(x):
    # analysis / adjoint / pinv reuse zero-padded work arrays: results handed out
    # must not change on the next call, and batch shapes may alternate
    spec = TransformSpec(kind="cwt", nv=8, time_bandwidth=60.0)
    op = operator_for(spec, x.size)
    z1 = torch.as_tensor(x)
    z2 = torch.as_tensor(np.sin(np.arange(x.size) * 0.3))
    a1 = op.analysis(z1)
    kept = a1.clone()
    ab = op.analysis(torch.stack([z2, z1]))
    a2 = op.analysis(z2)
    torch.testing.assert_close(a1, kept, rtol=0, atol=0)
    torch.testing.assert_close(ab[1], kept)
    torch.testing.assert_close(ab[0], a2)
    ref = np_transform(Signal(y=z2.numpy()), spec).coefficients
    assert np.max(np.abs(a2.numpy() - ref)) <= 1e-9 * np.max(np.abs(ref))
    g1 = op.adjoint(a1)
    g1_kept = g1.clone()
    op.adjoint(torch.stack([a2, a1]))
    torch.testing.assert_close(op.adjoint(a1), g1_kept)
    # the buffered adjoint equals the autograd-safe one
    g_tape = op.adjoint(a1.clone().requires_grad_(True)).detach()
    torch.testing.assert_close(g_tape, g1_kept)
    torch.testing.assert_close(op.pinv(a1), op.pinv(a1.clone().requires_grad_(True)).detach())
