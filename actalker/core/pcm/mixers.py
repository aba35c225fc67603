"""Sequence mixers of a PCM branch: ``forward(x (S, L, W), keep (S, L) bool | None) -> (S, L, W)``.

Both give 0 at tokens with keep False, and those tokens influence nothing.
- ``mamba``: the (bidirectional) Mamba block of ``actalker.core.mamba`` (linear in L).
- ``attention``: masked multi-head self-attention over the same tokens, for ablations
  (quadratic in L; no positional encoding, so token order does not matter to it).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from actalker.core.schema import MIXERS


class AttentionMixer(nn.Module):
    def __init__(self, width: int, head_dim: int = 32):
        super().__init__()
        self.heads = max(1, width // head_dim) if width % head_dim == 0 else 1
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, keep: Optional[torch.Tensor] = None) -> torch.Tensor:
        s, l, w = x.shape
        if keep is not None:  # a masked key still enters as 0 * value: NaN/inf there would leak
            x = x.masked_fill(~keep[..., None], 0.0)
        q, k, v = self.qkv(x).reshape(s, l, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        mask = None if keep is None else keep[:, None, None, :]  # dropped tokens are never keys
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = self.out(y.transpose(1, 2).reshape(s, l, w))
        return y if keep is None else y * keep[..., None].to(y.dtype)


def build_mixer(kind: str, width: int, d_state: int = 16, d_conv: int = 4, expand: int = 1,
                bidirectional: bool = True) -> nn.Module:
    if kind == "attention":
        return AttentionMixer(width)
    if kind == "mamba":
        from actalker.core.mamba import MambaBlock  # local: keeps `import actalker.core.pcm` light

        return MambaBlock(width, d_state=d_state, d_conv=max(d_conv, 1), expand=expand,
                          conv=d_conv > 0, bidirectional=bidirectional)
    raise ValueError(f"unknown PCM mixer {kind!r}; expected one of {MIXERS}")
