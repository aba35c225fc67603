"""Which parameters train: ``pcm`` (the new modules), ``pcm+temporal``, or ``all``.

New modules are everything the denoiser adds to the SVD UNet (PCM layers, branch
encoders, identity encoder and projection, face guider): every parameter outside its
``backbone`` (the diffusers UNet). Temporal parts of the UNet are found by diffusers'
module names.
"""
from __future__ import annotations

import torch

from actalker.errors import ConfigError

MODES = ("pcm", "pcm+temporal", "all")
# Sub-module names diffusers uses for the temporal half of UNetSpatioTemporalConditionModel.
TEMPORAL_KEYS = ("temporal_transformer_blocks", "temporal_res_block", "time_mixer", "time_pos_embed")
BACKBONE = "backbone."  # ACTalkerDenoiser's UNet attribute


def is_new(name: str) -> bool:
    return not name.startswith(BACKBONE)


def is_temporal(name: str) -> bool:
    return any(k in name.split(".") for k in TEMPORAL_KEYS)


def select_trainable(model: torch.nn.Module, mode: str) -> list[tuple[str, torch.nn.Parameter]]:
    """Set ``requires_grad`` by ``mode`` and return the (name, param) pairs that train."""
    if mode not in MODES:
        raise ConfigError(f"train.trainable is '{mode}'; expected one of {', '.join(MODES)}")
    chosen = []
    for name, p in model.named_parameters():
        train = mode == "all" or is_new(name) or (mode == "pcm+temporal" and is_temporal(name))
        p.requires_grad_(train)
        if train:
            chosen.append((name, p))
    if not chosen:
        raise ConfigError(f"train.trainable='{mode}' selects no parameters of {type(model).__name__}")
    return chosen
