"""Mamba's selective-SSM mixer, optionally bidirectional, with token removal (``keep``).

Parameter names follow mamba_ssm's ``Mamba`` (in_proj, conv1d, x_proj, dt_proj, A_log, D,
out_proj) and, for the reversed direction, Vision Mamba's bidirectional variant (conv1d_b,
x_proj_b, dt_proj_b, A_b_log, D_b), so their checkpoints load by name.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from actalker.core.scan import selective_scan
from actalker.errors import ShapeError


def _causal_conv_silu(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """silu(depthwise causal conv) of x (b, d, L); causal_conv1d's kernel on CUDA when installed."""
    if x.is_cuda:
        try:
            from causal_conv1d import causal_conv1d_fn
        except Exception:
            causal_conv1d_fn = None
        if causal_conv1d_fn is not None:
            return causal_conv1d_fn(x.contiguous(), conv.weight.squeeze(1), conv.bias, activation="silu")
    L = x.shape[-1]
    return F.silu(F.conv1d(x, conv.weight, conv.bias, padding=conv.kernel_size[0] - 1, groups=conv.groups)[..., :L])


class MambaBlock(nn.Module):
    """x (b, L, d_model) -> (b, L, d_model); with ``keep`` (b, L) bool the removed tokens give 0
    and the kept ones equal the block run on each sample's packed kept tokens, conv included."""

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 dt_rank="auto", dt_min: float = 0.001, dt_max: float = 0.1, dt_init_floor: float = 1e-4,
                 conv: bool = True, bidirectional: bool = False, bias: bool = False,
                 conv_bias: bool = True, backend: str = "auto"):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.use_conv, self.bidirectional, self.backend = conv, bidirectional, backend
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        for sfx in ("", "_b") if bidirectional else ("",):
            self._init_direction(sfx, conv_bias, dt_min, dt_max, dt_init_floor)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def _init_direction(self, sfx, conv_bias, dt_min, dt_max, dt_init_floor):
        di, N = self.d_inner, self.d_state
        if self.use_conv:
            # a weight holder: the causal padding is _causal_conv_silu's (the kernel's and the torch path's)
            setattr(self, "conv1d" + sfx, nn.Conv1d(di, di, self.d_conv, groups=di, bias=conv_bias))
        setattr(self, "x_proj" + sfx, nn.Linear(di, self.dt_rank + 2 * N, bias=False))
        dt_proj = nn.Linear(self.dt_rank, di, bias=True)
        # Mamba's init: dt log-uniform in [dt_min, dt_max], bias = softplus^-1(dt)
        std = self.dt_rank ** -0.5
        nn.init.uniform_(dt_proj.weight, -std, std)
        dt = torch.exp(torch.rand(di) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_init_floor)
        with torch.no_grad():
            dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        dt_proj.bias._no_reinit = True
        setattr(self, "dt_proj" + sfx, dt_proj)
        # S4D-real: A = -(1..N) per channel, stored as log
        A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(di, 1))
        A_log._no_weight_decay = True
        setattr(self, "A_b_log" if sfx else "A_log", A_log)
        D = nn.Parameter(torch.ones(di))
        D._no_weight_decay = True
        setattr(self, "D" + sfx, D)

    def _scan(self, x, z, keep, sfx):
        """One direction on (b, d_inner, L) inputs."""
        x = _causal_conv_silu(x, getattr(self, "conv1d" + sfx)) if self.use_conv else F.silu(x)
        dt, Bm, Cm = getattr(self, "x_proj" + sfx)(x.transpose(1, 2)).split([self.dt_rank, self.d_state, self.d_state], -1)
        dt_proj = getattr(self, "dt_proj" + sfx)
        dt = F.linear(dt, dt_proj.weight).transpose(1, 2)
        A = -torch.exp(getattr(self, "A_b_log" if sfx else "A_log").float())
        return selective_scan(x, dt, A, Bm.transpose(1, 2), Cm.transpose(1, 2), D=getattr(self, "D" + sfx).float(),
                              z=z, delta_bias=dt_proj.bias.float(), delta_softplus=True, keep=keep, backend=self.backend)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ShapeError(f"MambaBlock: x must have shape (b, L, d_model={self.d_model}), got {tuple(x.shape)}")
        b, L, dm = x.shape
        order = None
        if keep is not None:
            if keep.shape != (b, L) or keep.dtype != torch.bool or keep.device != x.device:
                raise ShapeError(f"MambaBlock: keep must be a bool tensor of shape (b, L) = ({b}, {L}) on {x.device}, "
                                 f"got {keep.dtype} {tuple(keep.shape)} on {keep.device}")
            # pack: each sample's kept tokens first, in order, so the causal conv sees only them;
            # removed tokens are zeroed so nothing (not even NaN) leaks through their gradients
            order = torch.argsort((~keep).to(torch.uint8), dim=1, stable=True)
            keep = torch.gather(keep, 1, order)
            x = torch.gather(x, 1, order[..., None].expand(b, L, dm)).masked_fill(~keep[..., None], 0.0)
        xi, z = self.in_proj(x).transpose(1, 2).chunk(2, dim=1)
        # kept tokens come first, so the causal forward scan meets the removed ones only after
        # every kept token: it needs no keep (their outputs are zeroed below)
        y = self._scan(xi, z, None, "")
        if self.bidirectional:
            # reversed direction: kept tokens end up last after the flip, so its conv sees zeros
            # (the same as its padding) before them; the removed ones are skipped by the scan
            xr = xi if keep is None else xi.masked_fill(~keep[:, None, :], 0.0)
            kr = None if keep is None else keep.flip(-1)
            y = y + self._scan(xr.flip(-1), z.flip(-1), kr, "_b").flip(-1)
        out = self.out_proj(y.transpose(1, 2))
        if order is None:
            return out
        out = out.masked_fill(~keep[..., None], 0.0)
        return torch.empty_like(out).scatter_(1, order[..., None].expand(b, L, dm), out)
