"""The Parallel-Control Mamba layer: one branch per control signal, gated, as a residual.

    out = x + P( sum_k g_k * w_k * LN_k(branch_k(x, cond_k, id)) )

with P zero-initialised and bias-free, so a fresh layer is the identity (a fresh denoiser
is exactly its pretrained backbone) and a token no open branch covers is left unchanged.

Why the norm is per branch and before the gate (the released code normalises the sum):
LayerNorm of a gated sum cancels the gate whenever one branch is open (LN(0.5 y) ~ LN(y)),
so float gates would do nothing, and a closed branch would still shift the statistics of
the others unless exactly 0. Here a gate scales its branch linearly, gate 0 is exactly the
branch being absent (its term is skipped or exactly 0), and every branch's scale is set
by its own norm.
"""
from __future__ import annotations

from typing import Mapping, Optional

import torch
from torch import nn

from actalker.core.schema import COND_INJECTS, MASK_MODES, MIXERS, SCAN_MODES
from actalker.core.pcm.branch import PCMBranch
from actalker.errors import ConfigError


class PCMLayer(nn.Module):
    def __init__(self, channels: int, branches: Mapping[str, int], scan_mode: str = "spatiotemporal",
                 mask_mode: str = "drop", mixer: str = "mamba", d_state: int = 16, d_conv: int = 4,
                 expand: int = 1, bidirectional: bool = True, id_token: bool = True,
                 id_dim: Optional[int] = None, width: Optional[int] = None, cond_inject: str = "every_token"):
        super().__init__()
        for key, value, allowed in (("scan_mode", scan_mode, SCAN_MODES), ("mask_mode", mask_mode, MASK_MODES),
                                    ("mixer", mixer, MIXERS), ("cond_inject", cond_inject, COND_INJECTS)):
            if value not in allowed:
                raise ConfigError(f"model.pcm.{key} is {value!r}; expected one of {', '.join(allowed)}")
        self.scan_mode, self.mask_mode = scan_mode, mask_mode
        width = width or channels
        use_id = id_dim if id_token else None
        self.branches = nn.ModuleDict({
            name: PCMBranch(channels, width, int(cond_dim), use_id,
                            mixer=mixer, d_state=d_state, d_conv=d_conv, expand=expand, bidirectional=bidirectional,
                            cond_inject=cond_inject)
            for name, cond_dim in branches.items()
        })
        self.out_proj = nn.Linear(width, channels, bias=False)
        nn.init.zeros_(self.out_proj.weight)

    def forward(self, x: torch.Tensor, conds: Mapping[str, torch.Tensor], gates: Mapping[str, torch.Tensor],
                weights: Optional[Mapping[str, Optional[torch.Tensor]]] = None,
                ident: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x (B,F,L,C); per branch: conds (B,F,T,cond_dim), gates (B,F) (or (B,)), weights (B,F,L) | None;
        ident (B,id_dim) | None. Branches missing from ``conds`` or with all gates 0 are skipped."""
        weights = {} if (weights is None or self.mask_mode == "none") else weights
        total = None
        for name, cond in conds.items():
            gate = gates[name]
            if gate.dim() == 1:
                gate = gate[:, None].expand(x.shape[0], x.shape[1])
            if not bool((gate != 0).any()):
                continue  # exactly the branch being absent, and free
            y = self.branches[name](x, cond.to(x.dtype), ident, weights.get(name), self.mask_mode,
                                    self.scan_mode == "spatiotemporal")
            y = y * gate[:, :, None, None].to(y.dtype)
            total = y if total is None else total + y
        if total is None:
            return x
        return x + self.out_proj(total)
