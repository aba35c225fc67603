"""MambaBlock: packed equivalence under keep (conv included), gradients, both directions, init."""
import math

import pytest
import torch

from actalker.core.mamba import MambaBlock
from actalker.errors import ShapeError

D_MODEL = 8


def block(**kw):
    torch.manual_seed(0)
    return MambaBlock(D_MODEL, d_state=4, **kw).double()


def inputs(b=3, L=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, L, D_MODEL, generator=g, dtype=torch.float64)
    keep = torch.rand(b, L, generator=g) > 0.4
    keep[-1, :3] = False  # removed tokens at the start, where the conv padding matters
    return x, keep


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("conv", [True, False], ids=["conv", "noconv"])
@pytest.mark.parametrize("backend", ["chunked", "reference"])
@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
def test_keep_equals_packed_kept_tokens(bidirectional, conv, backend, bias):
    # with bias, a removed token's in_proj output is not 0: the packing must zero it itself
    m = block(bidirectional=bidirectional, conv=conv, backend=backend, bias=bias)
    x, keep = inputs()
    x[~keep] = float("nan")  # removed tokens must not leak, not even as NaN
    out = m(x, keep)
    assert out.shape == x.shape
    for i in range(x.shape[0]):
        ref = m(x[i:i + 1, keep[i]])
        torch.testing.assert_close(out[i:i + 1, keep[i]], ref, rtol=1e-10, atol=1e-10)
        assert (out[i, ~keep[i]] == 0).all()


def test_all_true_keep_equals_no_keep_and_empty_keep_is_zero():
    m = block(bidirectional=True)
    x, _ = inputs()
    full = torch.ones(x.shape[:2], dtype=torch.bool)
    torch.testing.assert_close(m(x, full), m(x), rtol=0, atol=0)
    out = m(x, torch.zeros_like(full))
    assert (out == 0).all()


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_gradients_reach_every_parameter(bidirectional):
    m = block(bidirectional=bidirectional)
    x, keep = inputs()
    x.requires_grad_()
    x.detach()[~keep] = float("nan")
    m(x, keep).pow(2).sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    assert torch.isfinite(x.grad[keep]).all() and (x.grad[~keep] == 0).all()


def test_forward_is_causal_and_reversed_direction_sees_the_future():
    x, _ = inputs(b=1, L=20)
    x2 = x.clone()
    x2[:, 12:] += 1.0  # change only the future of position 11
    uni, bi = block(), block(bidirectional=True)
    torch.testing.assert_close(uni(x)[:, :12], uni(x2)[:, :12], rtol=0, atol=0)
    assert (bi(x)[:, :12] - bi(x2)[:, :12]).abs().max() > 1e-3
    # and the reversed direction alone is anti-causal: the past does not reach it
    x3 = x.clone()
    x3[:, :5] += 1.0
    m = block(bidirectional=True)
    with torch.no_grad():
        xi, z = m.in_proj(x).transpose(1, 2).chunk(2, dim=1)
        xi3, z3 = m.in_proj(x3).transpose(1, 2).chunk(2, dim=1)
        yb = m._scan(xi.flip(-1), z.flip(-1), None, "_b").flip(-1)
        yb3 = m._scan(xi3.flip(-1), z3.flip(-1), None, "_b").flip(-1)
    torch.testing.assert_close(yb[..., 5:], yb3[..., 5:], rtol=0, atol=0)
    assert (yb[..., :5] - yb3[..., :5]).abs().max() > 1e-6


def test_directions_have_their_own_parameters():
    m = block(bidirectional=True)
    names = {n for n, _ in m.named_parameters()}
    for n in ("conv1d.weight", "x_proj.weight", "dt_proj.bias", "A_log", "D"):
        assert n in names
    for n in ("conv1d_b.weight", "x_proj_b.weight", "dt_proj_b.bias", "A_b_log", "D_b"):
        assert n in names
    assert m.conv1d.weight.data_ptr() != m.conv1d_b.weight.data_ptr()


def test_mamba_initialisation():
    dt_min, dt_max = 0.002, 0.05
    m = MambaBlock(32, d_state=6, dt_min=dt_min, dt_max=dt_max)
    assert m.dt_rank == math.ceil(32 / 16) and m.d_inner == 64
    dt = torch.nn.functional.softplus(m.dt_proj.bias.detach())
    assert dt.min() >= dt_min * 0.999 and dt.max() <= dt_max * 1.001
    torch.testing.assert_close(-torch.exp(m.A_log.detach()), -torch.arange(1.0, 7.0).repeat(64, 1))
    assert (m.D.detach() == 1).all()
    assert m.conv1d.weight.shape == (64, 1, 4)
    # mamba_ssm's _init_weights (MixerModel) re-initialises every Linear bias unless it carries
    # this flag: the dt bias above must survive a model that applies it
    both = MambaBlock(8, bidirectional=True)
    assert all(bias._no_reinit is True for bias in (m.dt_proj.bias, both.dt_proj.bias, both.dt_proj_b.bias))


def test_defaults_are_mambas():
    m = MambaBlock(17)
    assert (m.d_state, m.d_conv, m.d_inner, m.dt_rank) == (16, 4, 34, 2)  # dt_rank = ceil(17 / 16)
    assert m.in_proj.bias is None and m.out_proj.bias is None and m.x_proj.bias is None
    assert m.conv1d.bias is not None and m.dt_proj.bias is not None
    dt = torch.nn.functional.softplus(MambaBlock(512).dt_proj.bias.detach())  # 1024 channels
    assert 0.001 * 0.999 <= dt.min() < 0.0015 and 0.07 < dt.max() <= 0.1 * 1.001


def test_options_reach_the_layers():
    m = MambaBlock(17, d_state=3, dt_rank=5, bias=True, conv_bias=False)
    assert m.dt_rank == 5 and m.x_proj.out_features == 5 + 2 * 3 and m.dt_proj.in_features == 5
    assert m.in_proj.bias is not None and m.out_proj.bias is not None
    assert m.conv1d.bias is None


def test_dt_proj_weight_is_uniform_in_plus_minus_rank_to_the_minus_half():
    torch.manual_seed(0)
    m = MambaBlock(256, dt_rank=4)  # 512 x 4 weights
    w, std = m.dt_proj.weight.detach(), 4 ** -0.5
    assert w.abs().max() <= std and w.min() < -0.9 * std and w.max() > 0.9 * std


@pytest.mark.parametrize("backend", ["chunked", "reference"])
def test_the_blocks_backend_reaches_the_scan(monkeypatch, backend):
    import actalker.core.mamba as mamba_mod
    seen = []
    real = mamba_mod.selective_scan

    def spy(*args, **kw):
        seen.append(kw["backend"])
        return real(*args, **kw)
    monkeypatch.setattr(mamba_mod, "selective_scan", spy)
    x, keep = inputs()
    block(bidirectional=True, backend=backend)(x, keep)
    assert seen == [backend, backend]


def test_backends_agree_in_the_block():
    x, keep = inputs()
    a = block(bidirectional=True, backend="chunked")(x, keep)
    b = block(bidirectional=True, backend="reference")(x, keep)
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_float32_default_runs_and_bad_shapes_raise():
    m = MambaBlock(D_MODEL, d_state=4)
    y = m(torch.randn(2, 5, D_MODEL))
    assert y.dtype == torch.float32 and y.shape == (2, 5, D_MODEL)
    with pytest.raises(ShapeError, match="x must have shape"):
        m(torch.randn(2, 5, D_MODEL + 1))
    with pytest.raises(ShapeError, match="keep must be a bool tensor of shape"):
        m(torch.randn(2, 5, D_MODEL), torch.ones(2, 5))
    with pytest.raises(ShapeError, match="keep must be a bool tensor of shape"):
        m(torch.randn(2, 5, D_MODEL), torch.ones(2, 4, dtype=torch.bool))
