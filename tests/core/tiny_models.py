"""Tiny configs for denoiser tests (importable by other tests): a 2-level SVD UNet, a registry
with two fake modalities and three box regions, and matching random inputs."""
from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from actalker.plugins.registry import Registry
from actalker.plugins.spec import ModalitySpec, PluginInfo, RegionSpec


def tiny_unet_config(**overrides) -> dict:
    """Both levels have spatio-temporal transformers, so PCM runs at two grid sizes."""
    cfg = dict(
        sample_size=8, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "CrossAttnDownBlockSpatioTemporal"),
        up_block_types=("CrossAttnUpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        block_out_channels=(32, 64),  # GroupNorm(32) inside diffusers' blocks needs multiples of 32
        addition_time_embed_dim=8, projection_class_embeddings_input_dim=24, layers_per_block=1,
        cross_attention_dim=16, num_attention_heads=(2, 4), num_frames=3,
    )
    cfg.update(overrides)
    return cfg


def tiny_pcm_config(**overrides) -> dict:
    cfg = dict(down_levels=[0, 1], up_levels=[0, 1], d_state=4, d_conv=2, width=16)
    cfg.update(overrides)
    return cfg


class FakeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokens: int = 2


class FlatEncoder(nn.Module):
    """(B, F, *feat) -> (B, F, tokens, dim)."""

    def __init__(self, n_in: int, tokens: int, dim: int):
        super().__init__()
        self.tokens, self.dim = tokens, dim
        self.proj = nn.Linear(n_in, tokens * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, f = x.shape[:2]
        return self.proj(x.reshape(b, f, -1)).reshape(b, f, self.tokens, self.dim)


def _modality(name: str, shape: tuple, region: str, gate: float = 1.0) -> ModalitySpec:
    n_in = 1
    for s in shape:
        n_in *= s

    def unused(*args, **kwargs):
        raise NotImplementedError("fake modality: tests pass features directly")

    return ModalitySpec(
        name=name, options_model=FakeOptions, feature_shape=lambda opts: shape, load=unused, from_clip=unused,
        build_encoder=lambda opts, dim: FlatEncoder(n_in, opts.tokens, dim),
        default_region=region, solo_region="whole", default_gate=gate,
    )


def _box_region(name: str, y0: float, y1: float) -> RegionSpec:
    def mask(landmarks, boxes, height, width):
        out = torch.zeros(boxes.shape[0], height, width)
        for i, (bx0, by0, bx1, by1) in enumerate(boxes.tolist()):
            top, bottom = by0 + (by1 - by0) * y0, by0 + (by1 - by0) * y1
            out[i, int(top * height):int(bottom * height), int(bx0 * width):int(bx1 * width)] = 1.0
        return out

    return RegionSpec(name=name, mask=mask)


def tiny_registry(with_b: bool = True) -> Registry:
    regions = {r.name: r for r in (_box_region("whole", 0, 1), _box_region("upper", 0, 0.5),
                                    _box_region("lower", 0.5, 1))}
    mods = {"sig_a": _modality("sig_a", (3, 5), "lower")}
    if with_b:
        mods["sig_b"] = _modality("sig_b", (6,), "upper", gate=0.5)
    owners = {f"modality:{m}": "fake" for m in mods}
    info = PluginInfo(name="fake", version="0", source="entry point of actalker-fake", modalities=tuple(mods))
    return Registry(modalities=mods, regions=regions, plugins=[info], owners=owners)


def tiny_branches() -> dict:
    return {"a": {"modality": "sig_a"}, "b": {"modality": "sig_b", "options": {"tokens": 1}}}


def tiny_denoiser(registry: Registry | None = None, **overrides):
    from actalker.core.denoiser import ACTalkerDenoiser

    kwargs = dict(unet=tiny_unet_config(), pcm=tiny_pcm_config(), branches=tiny_branches(), cond_dim=8,
                  identity={"kind": "learned", "dim": 12}, face_guider=True)
    kwargs.update(overrides)
    return ACTalkerDenoiser(registry=registry or tiny_registry(), **kwargs)


def randomize_new_modules(den, scale: float = 0.2) -> None:
    """Give zero-initialised modules (PCM out-projections, guider) weights, as after training."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in den.named_parameters():
            if not name.startswith("backbone."):
                p.copy_(torch.randn(p.shape, generator=gen) * scale)


def perturb_parameters(module: torch.nn.Module, scale: float = 0.3, seed: int = 1) -> torch.nn.Module:
    """Move every parameter off its init (D = 1, zero biases and out-projections hide terms),
    so an oracle comparison sees every term."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return module


def tiny_inputs(batch: int = 2, frames: int = 3, size: int = 8, mask_size: int = 32, seed: int = 0) -> dict:
    """Forward kwargs for tiny_denoiser: boxes differ per sample so masks differ in a batch."""
    gen = torch.Generator().manual_seed(seed)
    boxes = torch.tensor([[0.1, 0.1, 0.9, 0.9], [0.25, 0.0, 0.75, 1.0], [0.0, 0.0, 1.0, 1.0]])[:batch]
    reg = tiny_registry()
    masks = {name: torch.stack([spec.mask(None, bx[None], mask_size, mask_size)[0] for bx in boxes])
             for name, spec in reg.regions.items()}
    return dict(
        sample=torch.randn(batch, frames, 8, size, size, generator=gen),
        timestep=torch.tensor(3.0),
        added_time_ids=torch.tensor([[6.0, 127.0, 0.02]]).repeat(batch, 1),
        conditions={"a": torch.randn(batch, frames, 3, 5, generator=gen),
                    "b": torch.randn(batch, frames, 6, generator=gen)},
        region_masks=masks,
        face_mask=masks["whole"][:, None],
    )
