"""A tiny training world: registry with two modalities that read the clip, a small
in-memory dataset producing ClipDataset's dict, and a tiny config and pipeline."""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from actalker.core.config import Config
from actalker.plugins.registry import Registry
from actalker.plugins.spec import ModalitySpec
from tests.core.tiny_models import FakeOptions, FlatEncoder, tiny_pcm_config, tiny_registry, tiny_unet_config

FRAMES, SIZE = 2, 8  # 8 px frames -> 4x4 latents through the tiny VAE
MIXER = "mamba"


def _clip_modality(name: str, shape: tuple, region: str, cols: slice) -> ModalitySpec:
    n_in = 1
    for s in shape:
        n_in *= s

    def from_clip(clip, opts):  # reads the clip's motion track, like a real plugin would
        m = torch.as_tensor(clip.motion)[:, cols]
        return m.reshape(m.shape[0], *shape).float()

    def load(*args, **kwargs):
        raise NotImplementedError

    return ModalitySpec(name=name, options_model=FakeOptions, feature_shape=lambda o: shape, load=load,
                        from_clip=from_clip, build_encoder=lambda o, dim: FlatEncoder(n_in, o.tokens, dim),
                        default_region=region, solo_region="whole")


def train_registry() -> Registry:
    base = tiny_registry()
    mods = {"sig_a": _clip_modality("sig_a", (3, 5), "lower", slice(0, 15)),
            "sig_b": _clip_modality("sig_b", (6,), "upper", slice(15, 21))}
    return Registry(modalities=mods, regions=base.regions, plugins=base.plugins,
                    owners={f"modality:{m}": "fake" for m in mods})


class TinyClips(Dataset):
    """ClipDataset's item dict. The window start is random (global torch RNG), as a real
    loader's is, so tests see whether items are seeded per key."""

    def __init__(self, n: int = 8, frames: int = FRAMES, size: int = SIZE, length: int = 6, keyed: bool = False):
        self.n, self.frames, self.size, self.length = n, frames, size, length
        self.keyed = keyed  # items name their clip and frames, as ClipDataset's do (train.cache_latents)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(1000 + i)
        video = torch.rand(self.length, 3, self.size, self.size, generator=g) * 2 - 1
        motion = torch.randn(self.length, 58, generator=g)
        start = int(torch.randint(0, self.length - self.frames + 1, ()))
        sl = slice(start, start + self.frames)
        box = torch.tensor([0.2, 0.1, 0.8, 0.9]) + 0.05 * (i % 3)
        item = {"frames": video[sl], "landmarks": torch.rand(self.frames, 478, 3, generator=g),
                "boxes": box.clamp(0, 1).repeat(self.frames, 1), "motion": motion[sl], "audio": None,
                "truth": {}, "clip_id": f"clip{i}"}
        if self.keyed:
            item.update(clip_path=f"clip{i}", frame_index=torch.arange(start, start + self.frames))
        return item


# One UNet level (the smallest SVD UNet diffusers builds): a training step takes ~0.2 s.
TINY_UNET = tiny_unet_config(block_out_channels=(32,), down_block_types=("CrossAttnDownBlockSpatioTemporal",),
                             up_block_types=("CrossAttnUpBlockSpatioTemporal",), num_attention_heads=(2,),
                             num_frames=FRAMES, sample_size=4)
TINY_VAE = dict(block_out_channels=(32, 32), down_block_types=("DownEncoderBlock2D",) * 2,
                layers_per_block=1, latent_channels=4)


def tiny_config(out_dir, **train) -> Config:
    cfg = Config.model_validate({
        "model": {
            "unet": {"config": TINY_UNET},
            "vae": {"config": TINY_VAE},
            "pcm": tiny_pcm_config(mixer=MIXER, down_levels=[0], up_levels=[0]),
            "branches": {"a": {"modality": "sig_a"}, "b": {"modality": "sig_b", "options": {"tokens": 1}}},
            "cond_dim": 8,
            "identity": {"kind": "learned", "dim": 12},
        },
        "data": {"num_frames": FRAMES, "size": SIZE, "fps": 12.5},
        "sampling": {"steps": 2, "height": SIZE, "width": SIZE, "window": FRAMES},
        "train": {"output_dir": str(out_dir), "max_steps": 4, "batch_size": 2, "lr": 1e-3, "checkpoint_every": 2,
                  "log_every": 1, "tensorboard": False, **train},
    })
    return cfg


def tiny_parts(cfg, n: int = 8, val: bool = False):
    from actalker.train.build import build_pipeline
    from actalker.train.loop import TrainParts

    torch.manual_seed(0)
    pipe = build_pipeline(cfg, train_registry())
    return TrainParts(pipe, TinyClips(n), TinyClips(2) if val else None)
