"""Warm start: copy some weights of a saved actalker model into a fresh denoiser.

``model.init_from`` names a model folder (``actalker train`` writes one to
``OUTPUT_DIR/model``); ``model.init_include`` names weight prefixes to copy. The default,
``backbone.``, is the paper's protocol on our own data: the diffusion backbone starts
trained, everything the control path adds (PCM, encoders, identity, guider) starts fresh,
the way ACTalker starts from SVD. Only tensors whose name and shape both match are copied.
"""
from __future__ import annotations

from pathlib import Path

import torch

from actalker.errors import ConfigError

WEIGHTS = "diffusion_pytorch_model.safetensors"


def find_weights(source: str) -> Path:
    """The denoiser weights of a model folder, its ``denoiser/`` folder, or the file itself."""
    p = Path(source)
    for cand in (p / "denoiser" / WEIGHTS, p / WEIGHTS, p):
        if cand.is_file() and cand.suffix == ".safetensors":
            return cand
    raise ConfigError(f"model.init_from {source}: no denoiser weights there "
                      f"(expected a model folder with denoiser/{WEIGHTS})")


def warm_start(denoiser: torch.nn.Module, source: str, include: list[str]) -> dict:
    """Copy matching tensors; returns counts for the log. Raises if nothing matches."""
    from safetensors.torch import load_file

    state = load_file(str(find_weights(source)))
    own = denoiser.state_dict()
    wanted = {k: v for k, v in state.items() if any(k.startswith(p) for p in include)}
    take = {k: v for k, v in wanted.items() if k in own and own[k].shape == v.shape}
    if not take:
        raise ConfigError(f"model.init_from {source}: no weight named {include} matches this model's names and shapes")
    denoiser.load_state_dict(take, strict=False)
    fresh = sum(1 for k in own if k not in take)
    return {"copied": len(take), "mismatched": len(wanted) - len(take), "fresh": fresh}
