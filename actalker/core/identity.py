"""Identity: an embedding of the reference face -> one token (cross-attention context and PCM id token).

Kinds (``model.identity.kind``):
- ``learned``: ``LatentIdentityEncoder``, a small CNN over the reference latent trained with
  the model; the denoiser runs it itself when ``identity`` is None. Needs no weights.
- ``clip`` / ``arcface``: an external ``IdentityEncoder`` (SVD's CLIP image encoder from
  the local folder, or a user's ArcFace model) the pipeline runs on the reference image
  and passes as ``identity=(B, dim)``. For ``clip`` with ``dim == cross_attention_dim``
  the projection starts as the identity map, so a fresh ``from_svd`` model sees exactly
  the context SVD was trained with.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn

IDENTITY_KINDS = ("learned", "clip", "arcface")


@runtime_checkable
class IdentityEncoder(Protocol):
    """What the pipeline plugs in for ``clip`` / ``arcface``: images -> (B, dim) embeddings."""

    dim: int

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W) float in [-1, 1] -> (B, dim)."""
        ...


class LatentIdentityEncoder(nn.Module):
    """Reference latent (B, C, h, w) -> (B, dim): two strided convs and a global average."""

    def __init__(self, in_channels: int, dim: int, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1), nn.SiLU(),
            nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(hidden, dim, 3, stride=2, padding=1),
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.net(latent).mean(dim=(-2, -1))


class IdentityProjection(nn.Module):
    """(B, dim) -> (B, 1, out_dim) token."""

    def __init__(self, dim: int, out_dim: int, kind: str = "learned"):
        super().__init__()
        self.proj = nn.Linear(dim, out_dim)
        if kind == "clip" and dim == out_dim:
            nn.init.eye_(self.proj.weight)
            nn.init.zeros_(self.proj.bias)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.proj(embedding)[:, None, :]
