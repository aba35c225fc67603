"""Per-frame MLP encoder: (B, F, *feature_shape) -> (B, F, tokens, dim).

Each video frame's feature window is flattened and mapped independently (time mixing is
the PCM scan's job). Shared by the built-in audio and motion modalities.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from actalker.errors import ShapeError


class FrameMLP(nn.Module):
    def __init__(self, feature_shape: tuple[int, ...], hidden: int, tokens: int, dim: int):
        super().__init__()
        self.feature_shape = tuple(int(s) for s in feature_shape)
        self.tokens, self.dim = int(tokens), int(dim)
        n_in = math.prod(self.feature_shape)
        self.net = nn.Sequential(
            nn.LayerNorm(n_in),  # whisper layers and log-mel differ in scale
            nn.Linear(n_in, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, self.tokens * self.dim),
        )
        self.out_norm = nn.LayerNorm(self.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = len(self.feature_shape)
        if x.dim() != 2 + k or tuple(x.shape[2:]) != self.feature_shape:
            raise ShapeError(f"encoder expects features (B, F, {', '.join(map(str, self.feature_shape))}), got {tuple(x.shape)}")
        b, f = x.shape[:2]
        y = self.net(x.reshape(b, f, -1).to(self.net[1].weight.dtype))
        return self.out_norm(y.reshape(b, f, self.tokens, self.dim))
