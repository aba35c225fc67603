"""MambaBlock against an independent oracle: mamba_ssm's recurrent step (Mamba.step), written
out token by token with its rolling conv state, so the block's conv padding, gate, D-skip,
dt bias and softplus are checked against code that shares none of them. Also the CUDA
branch of the causal conv (causal_conv1d's kernel), reached with a stand-in kernel."""
import sys
import types

import pytest
import torch
import torch.nn.functional as F

from actalker.core import mamba as mamba_mod
from actalker.core.mamba import MambaBlock
from tests.core.tiny_models import perturb_parameters

D_MODEL = 6


def _direction_step_by_step(m: MambaBlock, xi: torch.Tensor, z: torch.Tensor, sfx: str) -> torch.Tensor:
    """One direction as mamba_ssm's Mamba.step runs it: xi, z (b, L, d_inner) -> y (b, L, d_inner)."""
    b, L, di = xi.shape
    x_proj, dt_proj = getattr(m, "x_proj" + sfx), getattr(m, "dt_proj" + sfx)
    A = -torch.exp(getattr(m, "A_b_log" if sfx else "A_log"))
    D = getattr(m, "D" + sfx)
    conv = getattr(m, "conv1d" + sfx, None)
    conv_state = torch.zeros(b, di, m.d_conv, dtype=xi.dtype)
    ssm_state = torch.zeros(b, di, m.d_state, dtype=xi.dtype)
    ys = []
    for t in range(L):
        x = xi[:, t]
        if conv is not None:
            conv_state = torch.roll(conv_state, shifts=-1, dims=-1)
            conv_state[:, :, -1] = x
            x = (conv_state * conv.weight[:, 0, :]).sum(-1)
            if conv.bias is not None:
                x = x + conv.bias
        x = x * torch.sigmoid(x)
        dt, B, C = x_proj(x).split([m.dt_rank, m.d_state, m.d_state], dim=-1)
        dt = torch.log1p(torch.exp(dt @ dt_proj.weight.T + dt_proj.bias))  # softplus
        ssm_state = ssm_state * torch.exp(dt[..., None] * A) + x[..., None] * (dt[..., None] * B[:, None, :])
        y = (ssm_state * C[:, None, :]).sum(-1) + D * x
        ys.append(y * (z[:, t] * torch.sigmoid(z[:, t])))
    return torch.stack(ys, dim=1)


def oracle(m: MambaBlock, x: torch.Tensor) -> torch.Tensor:
    xi, z = m.in_proj(x).chunk(2, dim=-1)
    y = _direction_step_by_step(m, xi, z, "")
    if m.bidirectional:
        y = y + _direction_step_by_step(m, xi.flip(1), z.flip(1), "_b").flip(1)
    return m.out_proj(y)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("conv", [True, False], ids=["conv", "noconv"])
@pytest.mark.parametrize("backend", ["chunked", "reference"])
def test_block_equals_the_recurrent_step(bidirectional, conv, backend):
    torch.manual_seed(0)
    m = perturb_parameters(MambaBlock(D_MODEL, d_state=3, d_conv=3, bias=True, conv=conv,
                              bidirectional=bidirectional, backend=backend).double())
    x = torch.randn(2, 11, D_MODEL, dtype=torch.float64)
    with torch.no_grad():
        # the block keeps A, D and the dt bias in float32 (mamba_ssm's layout), the oracle
        # in float64: they agree to float32 rounding, far below any term's size
        torch.testing.assert_close(m(x), oracle(m, x), rtol=1e-5, atol=1e-6)


class _ClaimsCuda(torch.Tensor):
    """A CPU tensor that answers is_cuda=True, to reach the CUDA branch without a GPU."""

    @property
    def is_cuda(self):
        return True


def _stand_in_kernel(calls):
    def causal_conv1d_fn(x, weight, bias=None, seq_idx=None, activation=None):
        # causal_conv1d's contract: x (b, d, L) contiguous, weight (d, width), silu or none
        assert x.is_contiguous() and weight.dim() == 2 and weight.shape[0] == x.shape[1]
        if activation not in (None, "silu", "swish"):
            raise NotImplementedError("activation must be None, silu, or swish")
        calls.append(activation)
        L = x.shape[-1]
        y = F.conv1d(x.as_subclass(torch.Tensor), weight[:, None, :], bias,
                     padding=weight.shape[1] - 1, groups=weight.shape[0])[..., :L]
        return F.silu(y) if activation else y
    return causal_conv1d_fn


def test_cuda_branch_calls_causal_conv1d_and_matches_the_torch_path(monkeypatch):
    conv = torch.nn.Conv1d(5, 5, 4, groups=5, padding=3).double()
    x = torch.randn(2, 5, 9, dtype=torch.float64)
    calls = []
    monkeypatch.setitem(sys.modules, "causal_conv1d",
                        types.SimpleNamespace(causal_conv1d_fn=_stand_in_kernel(calls)))
    with torch.no_grad():
        via_kernel = mamba_mod._causal_conv_silu(x.as_subclass(_ClaimsCuda), conv)
        torch_path = mamba_mod._causal_conv_silu(x, conv)
    assert calls == ["silu"]
    torch.testing.assert_close(via_kernel.as_subclass(torch.Tensor), torch_path, rtol=1e-12, atol=1e-12)


def test_cuda_branch_falls_back_to_torch_without_causal_conv1d(monkeypatch):
    conv = torch.nn.Conv1d(5, 5, 4, groups=5, padding=3).double()
    x = torch.randn(2, 5, 9, dtype=torch.float64)
    monkeypatch.setitem(sys.modules, "causal_conv1d", None)  # import raises ImportError
    with torch.no_grad():
        out = mamba_mod._causal_conv_silu(x.as_subclass(_ClaimsCuda), conv)
        torch.testing.assert_close(out.as_subclass(torch.Tensor), mamba_mod._causal_conv_silu(x, conv))
