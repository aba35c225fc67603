"""Small builders for plugin tests: a valid ModalitySpec and throwaway plugin modules."""
from __future__ import annotations

import types

import torch
from pydantic import BaseModel, ConfigDict

from actalker.plugins import ModalitySpec, hookimpl


class ToyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = 2


def toy_spec(name: str = "toy", **overrides) -> ModalitySpec:
    kw = dict(
        name=name,
        options_model=ToyOptions,
        feature_shape=lambda o: (o.size,),
        load=lambda path, n, fps, o, on_short="error": torch.zeros(n, o.size),
        from_clip=lambda clip, o: torch.zeros(clip.num_frames, o.size),
        build_encoder=lambda o, dim: torch.nn.Linear(o.size, dim),
        default_region="face",
    )
    kw.update(overrides)
    return ModalitySpec(**kw)


def plugin_module(name: str, modalities=(), regions=(), **hooks) -> types.ModuleType:
    """A module object implementing register_modalities/register_regions (+ extra hooks)."""
    mod = types.ModuleType(name)
    if modalities:
        @hookimpl
        def register_modalities(register):
            for spec in modalities:
                register(spec)
        mod.register_modalities = register_modalities
    if regions:
        @hookimpl
        def register_regions(register):
            for spec in regions:
                register(spec)
        mod.register_regions = register_regions
    for hook_name, fn in hooks.items():
        setattr(mod, hook_name, hookimpl(fn))
    return mod
