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

from pathlib import Path
from typing import Mapping, Optional, Protocol, runtime_checkable

import torch
from torch import nn

from actalker.core.schema import IDENTITY_KINDS  # noqa: F401  (re-exported: the kinds this module implements)
from actalker.core.resize import svd_resize
from actalker.errors import ConfigError, InputError


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


class ClipIdentityEncoder(nn.Module):
    """SVD's own image encoder (CLIP ViT-H/14 with projection) as the identity encoder:
    images (B, 3, H, W) in [-1, 1] -> (B, projection_dim) ``image_embeds``."""

    MEAN = (0.48145466, 0.4578275, 0.40821073)
    STD = (0.26862954, 0.26130258, 0.27577711)

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.dim = int(model.config.projection_dim)
        self.size = int(model.config.image_size)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """SVD's own preprocessing (``_encode_image``): its antialiased resize in [-1, 1], back
        to [0, 1] (no clamp), CLIP's mean/std; the embedding equals SVD's for the same image."""
        x = svd_resize(images.float(), (self.size, self.size))
        x = (x + 1.0) / 2.0
        mean = torch.tensor(self.MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.STD, device=x.device).view(1, 3, 1, 1)
        x = ((x - mean) / std).to(next(self.model.parameters()).dtype)
        return self.model(pixel_values=x).image_embeds

    def save_pretrained(self, path) -> None:
        self.model.save_pretrained(path)

    @classmethod
    def from_pretrained(cls, path, variant: Optional[str] = None,
                        torch_dtype: Optional[torch.dtype] = None) -> "ClipIdentityEncoder":
        from transformers import CLIPVisionModelWithProjection

        path = Path(path).expanduser()
        if not (path / "config.json").is_file():
            raise InputError(f"no CLIP image encoder in {path} (expected config.json and weights)")
        kwargs = {k: v for k, v in (("variant", variant), ("dtype", torch_dtype)) if v is not None}
        return cls(CLIPVisionModelWithProjection.from_pretrained(path, **kwargs))


def build_identity_encoder(identity: Mapping, svd_dir=None, variant: Optional[str] = None):
    """The external encoder of ``model.identity`` (None for ``learned``): SVD's CLIP image
    encoder (``weights_path``, else ``SVD_DIR/image_encoder``) or the user's ArcFace model
    (``weights_path``: ONNX or TorchScript). Its embedding size must be ``identity.dim``."""
    kind, path = identity.get("kind", "learned"), identity.get("weights_path")
    if kind == "learned":
        return None
    if kind == "clip":
        if not path and svd_dir is None:
            raise ConfigError("model.identity.kind 'clip' needs model.identity.weights_path or an SVD folder "
                              "(model.unet.pretrained_path) with image_encoder/")
        enc = ClipIdentityEncoder.from_pretrained(path or Path(svd_dir) / "image_encoder",
                                                  variant=None if path else variant)
    else:
        from actalker.core.arcface import ArcFaceIdentityEncoder

        if not path:
            raise ConfigError("model.identity.kind 'arcface' needs model.identity.weights_path "
                              "(an ArcFace model: .onnx, or TorchScript .pt)")
        enc = ArcFaceIdentityEncoder.from_pretrained(path)
    if enc.dim != identity.get("dim"):
        raise ConfigError(f"model.identity.dim is {identity.get('dim')} but the {kind} encoder gives {enc.dim}-dim "
                          f"embeddings: set model.identity.dim={enc.dim}")
    return enc
