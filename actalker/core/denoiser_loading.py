"""Loading a denoiser's weights without building a random backbone first.

A denoiser's UNet is most of its memory (SVD-xt: 1.5 G parameters). Built normally, a
random UNet exists before the weights arrive, then the weights beside it: twice the model
at the peak. Here the backbone is built on the meta device (no storage; ``empty_backbone``),
and the loaded tensors are assigned in place of its parameters, so the peak is the weights
once plus the small modules the control path adds (built normally: their parameters carry
attributes an empty-weights rebuild would lose, e.g. MambaBlock's ``_no_weight_decay``).

Folder layout of a saved denoiser: ``actalker_denoiser.json`` (``CONFIG_NAME``; deliberately
not ``config.json``, so diffusers' ``UNetSpatioTemporalConditionModel.from_pretrained``
pointed at it fails loudly instead of building a random full-size UNet) and
``diffusion_pytorch_model[.VARIANT].safetensors``. Folders saved before kept ``config.json``
and still load.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Optional

import torch

from actalker.errors import InputError

CONFIG_NAME = "actalker_denoiser.json"
LEGACY_CONFIG_NAME = "config.json"
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
BACKBONE = "backbone."

_EMPTY_BACKBONE: ContextVar[bool] = ContextVar("actalker_empty_backbone", default=False)


def backbone_device() -> Optional[torch.device]:
    """The device a denoiser under construction builds its backbone on: meta inside
    ``empty_backbone()``, else None (the default device)."""
    return torch.device("meta") if _EMPTY_BACKBONE.get() else None


@contextmanager
def empty_backbone():
    token = _EMPTY_BACKBONE.set(True)
    try:
        yield
    finally:
        _EMPTY_BACKBONE.reset(token)


def read_config(folder: Path) -> dict:
    for name in (CONFIG_NAME, LEGACY_CONFIG_NAME):
        if (folder / name).is_file():
            try:
                return json.loads((folder / name).read_text())
            except (OSError, ValueError) as err:
                raise InputError(f"cannot read {folder / name}: {err}") from None
    raise InputError(f"no denoiser in '{folder}' (expected {CONFIG_NAME} and {WEIGHTS_NAME})")


def weights_file(folder: Path, variant: Optional[str] = None) -> Path:
    """``diffusion_pytorch_model[.variant].safetensors``; a missing variant names the ones there."""
    stem, suffix = WEIGHTS_NAME.rsplit(".", 1)
    path = folder / (f"{stem}.{variant}.{suffix}" if variant else WEIGHTS_NAME)
    if not path.is_file():
        there = sorted(p.name for p in folder.glob(f"{stem}*.{suffix}")) or ["none"]
        raise InputError(f"no denoiser weights {path.name} in '{folder}' (weights there: {', '.join(there)})")
    return path


def assign_backbone(den, state: dict, where: str) -> None:
    """Put the UNet tensors (diffusers' names) in place of the meta backbone's parameters."""
    result = den.backbone.load_state_dict(state, strict=False, assign=True)
    if result.missing_keys or result.unexpected_keys:
        what = (f"missing {result.missing_keys[0]}" if result.missing_keys
                else f"unexpected {result.unexpected_keys[0]}")
        n = len(result.missing_keys) + len(result.unexpected_keys)
        raise InputError(f"the UNet weights in '{where}' do not fit the model: {what}"
                         + (f" (and {n - 1} more)" if n > 1 else ""))
    left = [n for n, t in [*den.backbone.named_parameters(), *den.backbone.named_buffers()] if t.is_meta]
    if left:
        raise InputError(f"the UNet weights in '{where}' leave {left[0]} unset")


def load_weights(den, path: Path) -> dict:
    """A saved denoiser's safetensors: backbone tensors assigned (every one required), the
    rest copied; returns {"missing_keys", "unexpected_keys"} of the rest, as diffusers'
    ``output_loading_info`` does (the caller says what is wrong: model_folder.check_loaded_tensors)."""
    from safetensors.torch import load_file

    state = load_file(str(path))
    backbone = {k[len(BACKBONE):]: state.pop(k) for k in [k for k in state if k.startswith(BACKBONE)]}
    assign_backbone(den, backbone, str(path))
    result = den.load_state_dict(state, strict=False)
    return {"missing_keys": [k for k in result.missing_keys if not k.startswith(BACKBONE)],
            "unexpected_keys": list(result.unexpected_keys)}


def load_svd_unet_state(udir: Path, variant: Optional[str], torch_dtype: Optional[torch.dtype]) -> dict:
    """The UNet of a diffusers folder as a state dict, loaded by diffusers' own loader (its
    variants, shards and dtype handling; low_cpu_mem_usage: no random UNet either)."""
    from diffusers.models import UNetSpatioTemporalConditionModel

    kwargs = {k: v for k, v in (("variant", variant), ("torch_dtype", torch_dtype)) if v is not None}
    try:
        unet = UNetSpatioTemporalConditionModel.from_pretrained(udir, low_cpu_mem_usage=True, **kwargs)
    except (OSError, EnvironmentError, ValueError) as err:
        raise InputError(f"cannot load the UNet weights in '{udir}': {str(err).splitlines()[0]}") from err
    return unet.state_dict()


__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "assign_backbone", "backbone_device", "empty_backbone", "load_svd_unet_state",
           "load_weights", "read_config", "weights_file"]
