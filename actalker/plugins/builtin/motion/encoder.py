"""Motion encoder: the shared per-frame MLP, (B, F, n_features) -> (B, F, tokens, dim)."""
from __future__ import annotations

import torch

from actalker.plugins.builtin.audio.encoder import FrameMLP


def build_motion_encoder(feature_shape: tuple[int, ...], hidden: int, tokens: int, dim: int) -> torch.nn.Module:
    return FrameMLP(feature_shape, hidden, tokens, dim)
