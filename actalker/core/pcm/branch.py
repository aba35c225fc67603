"""One PCM branch: the visual tokens of its region, scanned together with its condition.

Where the condition enters (``cond_inject``): ``sequence`` (the paper) only appends the
condition tokens after the region's tokens, so the scan carries the condition to a token
only through the recurrence, and it fades within a few tokens: in the first demo models
the motion branch changed the last quarter of its 82-token upper-face region and left the
eyes (rows above) untouched (docs/results.md, "why the motion branch was inert").
``every_token`` also adds the frame's mean condition token to each visual token before the
scan, so every token of the region sees its condition, wherever it sits in the scan order.

Output per token: ``w * LayerNorm(mixer output)`` where ``w`` is the token's region weight
(drop: 0/1, soft: the mask, none: 1). The norm is per branch and the weight applied after
it, so a token outside the region gets exactly 0 (and no gradient to this condition) and a
gate scales the branch linearly (see layer.py for why the norm is not after the sum).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from actalker.core.pcm.mixers import build_mixer
from actalker.core.pcm.tokens import assemble, pack, unpack, visual_part


class PCMBranch(nn.Module):
    def __init__(self, channels: int, width: int, cond_dim: int, id_dim: Optional[int], mixer: str = "mamba",
                 d_state: int = 16, d_conv: int = 4, expand: int = 1, bidirectional: bool = True,
                 cond_inject: str = "every_token"):
        super().__init__()
        self.cond_every_token = cond_inject == "every_token"
        self.in_proj = nn.Linear(channels, width)
        self.cond_proj = nn.Linear(cond_dim, width)
        self.id_proj = nn.Linear(id_dim, width) if id_dim else None
        self.mixer = build_mixer(mixer, width, d_state=d_state, d_conv=d_conv, expand=expand,
                                 bidirectional=bidirectional)
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, ident: Optional[torch.Tensor],
                weight: Optional[torch.Tensor], mask_mode: str, spatiotemporal: bool) -> torch.Tensor:
        """x (B,F,L,C), cond (B,F,T,cond_dim), ident (B,id_dim) | None, weight (B,F,L) | None -> (B,F,L,W)."""
        v = self.in_proj(x)
        c = self.cond_proj(cond)
        if self.cond_every_token:
            v = v + c.mean(dim=2, keepdim=True)  # (B,F,1,W): each frame's tokens carry that frame's condition
        weight = None if weight is None else weight.to(v.dtype)
        keep = None
        if weight is not None and mask_mode == "soft":
            v = v * weight[..., None]
        elif weight is not None and mask_mode == "drop":
            keep = weight > 0.5
        idt = self.id_proj(ident) if (self.id_proj is not None and ident is not None) else None
        seq, seq_keep, layout = assemble(v, c, idt, keep, spatiotemporal)
        if seq_keep is not None:
            packed, packed_keep, order = pack(seq, seq_keep)
            y = unpack(self.mixer(packed, packed_keep), order, packed_keep, seq.shape[1])
        else:
            y = self.mixer(seq)
        out = self.norm(visual_part(y, layout))
        return out if weight is None else out * weight[..., None]
