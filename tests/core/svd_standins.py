"""Tiny random Stable Video Diffusion folders, saved by diffusers' own
``StableVideoDiffusionPipeline.save_pretrained`` (the layout of stable-video-diffusion-img2vid-xt:
unet/, vae/, image_encoder/, scheduler/, feature_extractor/, model_index.json), and configs
that train or generate from them. No downloads."""
from __future__ import annotations

from pathlib import Path

import torch

from actalker.core.schema import Config
from actalker.core.sampling import svd_scheduler_config
from tests.core.tiny_models import tiny_pcm_config, tiny_unet_config

SIZE = 16
CROSS = 16  # the tiny UNet's cross_attention_dim = the tiny CLIP's projection_dim (as SVD: 1024 both)


def tiny_svd_pipeline():
    import warnings

    from diffusers import (AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, StableVideoDiffusionPipeline,
                           UNetSpatioTemporalConditionModel)
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from transformers import CLIPImageProcessor

        processor = CLIPImageProcessor()
    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(**tiny_unet_config(cross_attention_dim=CROSS))
    vae = AutoencoderKLTemporalDecoder(block_out_channels=(32, 32), down_block_types=("DownEncoderBlock2D",) * 2,
                                       layers_per_block=1, latent_channels=4, sample_size=SIZE)
    # 224: SVD's pipeline resizes to 224 x 224 whatever the encoder's config says
    clip = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=224, patch_size=32,
        projection_dim=CROSS))
    scheduler = EulerDiscreteScheduler(**svd_scheduler_config())
    return StableVideoDiffusionPipeline(vae=vae.eval(), image_encoder=clip.eval(), unet=unet.eval(),
                                        scheduler=scheduler, feature_extractor=processor)


def save_tiny_svd(path: Path, variant: str | None = None) -> Path:
    tiny_svd_pipeline().save_pretrained(path, variant=variant)
    return path


def svd_config(svd: Path, kind: str = "clip", **guidance) -> Config:
    """One fake branch (``a``, modality sig_a of tests.core.tiny_models.tiny_registry)."""
    return Config.model_validate({
        "sampling": dict(steps=2, height=SIZE, width=SIZE, window=25, window_shift=0, decode_chunk=2, fps=7),
        "guidance": {"reference_scale": 2.0, **guidance},
        "model": {
            "unet": {"pretrained_path": str(svd), "subfolder": "unet"},
            "vae": {"subfolder": "vae"},
            "branches": {"a": {"modality": "sig_a"}},
            "pcm": tiny_pcm_config(mixer="attention"),
            "cond_dim": 8,
            "identity": {"kind": kind, "dim": CROSS},
        },
    })
