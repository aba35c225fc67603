"""Back to diffusers: a trained model's backbone as diffusers folders.

- ``export_unet(pipe, out)``: the backbone alone, a ``UNetSpatioTemporalConditionModel``
  folder (diffusers' own weight names: the backbone never renamed them).
- ``export_svd(pipe, out)``: a ``StableVideoDiffusionPipeline`` folder (unet/, vae/,
  image_encoder/, scheduler/, feature_extractor/) for backbone-only use: what SVD's pipeline
  computes with it is this model with every branch closed. It needs the ``clip`` identity
  (SVD's image encoder); the identity projection is folded into CLIP's ``visual_projection``,
  so SVD's pipeline feeds the backbone the very token this model does. The control branches,
  face guider and their encoders stay behind (they need the actalker model folder).

Both write atomically; ``variant`` names the weight files as diffusers does
(``diffusion_pytorch_model.fp16.safetensors``) and ``dtype`` casts the written weights.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Optional

import torch

from actalker.core.identity import ClipIdentityEncoder
from actalker.errors import InputError
from actalker.utils.atomic import atomic_dir


def _cast(module: torch.nn.Module, dtype: Optional[torch.dtype]) -> torch.nn.Module:
    """``module`` itself, or a copy in ``dtype`` built on the meta device and given cast
    tensors (no deepcopy: the backbone's hooks would drag the whole denoiser along)."""
    if dtype is None:
        return module
    with torch.device("meta"):
        fresh = type(module).from_config(module.config)
    fresh.load_state_dict({k: v.to(dtype) for k, v in module.state_dict().items()}, assign=True)
    return fresh.eval()


def export_unet(pipe, out: str | os.PathLike, variant: Optional[str] = None,
                dtype: Optional[torch.dtype] = None) -> Path:
    """The denoiser's backbone as a diffusers UNet folder."""
    with atomic_dir(out) as tmp:
        _cast(pipe.denoiser.backbone, dtype).save_pretrained(tmp, variant=variant)
    return Path(out)


def folded_image_encoder(pipe):
    """SVD's CLIP with the identity projection folded into ``visual_projection``: its
    ``image_embeds`` are the token this model gives the backbone's cross-attention."""
    enc = pipe.identity_encoder
    kind = (pipe.denoiser.config.identity or {}).get("kind")
    if not isinstance(enc, ClipIdentityEncoder):
        raise InputError(f"a StableVideoDiffusionPipeline needs SVD's CLIP image encoder, but this model's identity is "
                         f"'{kind}': export the backbone alone (--format unet)")
    proj = pipe.denoiser.id_proj.proj
    if proj.bias is not None and bool(proj.bias.detach().abs().max() > 0):
        raise InputError("the model's identity projection has a bias, which CLIP's visual_projection cannot carry: "
                         "export the backbone alone (--format unet)")
    clip = copy.deepcopy(enc.model).float()
    weight = proj.weight.detach().float() @ clip.visual_projection.weight.detach().float()
    clip.config.projection_dim = weight.shape[0]
    clip.visual_projection = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    clip.visual_projection.weight.data.copy_(weight)
    return clip


def export_svd(pipe, out: str | os.PathLike, variant: Optional[str] = None,
               dtype: Optional[torch.dtype] = None) -> Path:
    """The backbone, VAE, folded CLIP and scheduler as a StableVideoDiffusionPipeline folder."""
    import warnings

    from diffusers import StableVideoDiffusionPipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' note that torchvision would be faster
        from transformers import CLIPImageProcessor

        processor = CLIPImageProcessor(image_mean=list(ClipIdentityEncoder.MEAN),
                                       image_std=list(ClipIdentityEncoder.STD))
    svd = StableVideoDiffusionPipeline(
        vae=_cast(pipe.vae, dtype), image_encoder=folded_image_encoder(pipe).to(dtype or torch.float32),
        unet=_cast(pipe.denoiser.backbone, dtype), scheduler=pipe.scheduler, feature_extractor=processor)
    with atomic_dir(out) as tmp:
        svd.save_pretrained(tmp, variant=variant)
    return Path(out)


__all__ = ["export_svd", "export_unet", "folded_image_encoder"]
