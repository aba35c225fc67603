"""Region masks per branch: which region each branch steers, and masks on each token grid.

Masks arrive from the caller at any resolution, keyed by region name (as in a branch's
``region`` / ``solo_region``) or by branch name (overrides that branch's region in both
cases). The solo rule: where exactly one branch is open (gate > 0) for a sample and frame,
that branch steers its ``solo_region`` instead of its ``region`` (one signal alone drives
the whole face).

On a token grid a mask is area-pooled (the fraction of each token's cell inside the
region). ``drop`` keeps a token when more than half its cell is inside (> 0.5). The
released code resized bicubically and then truncated to int, which kept only tokens at
exactly 1.0 and silently dropped every boundary token; area pooling + 0.5 is symmetric.
"""
from __future__ import annotations

from typing import Mapping, Optional

import torch
import torch.nn.functional as F

from actalker.core.schema import MASK_MODES
from actalker.errors import InputError, ShapeError


def as_frames(mask: torch.Tensor, batch: int, frames: int, what: str) -> torch.Tensor:
    """(B,H,W), (B,1,H,W) or (B,F,H,W) -> float (B,F,H,W)."""
    if not torch.is_tensor(mask):
        raise ShapeError(f"{what} must be a tensor, got {type(mask).__name__}")
    if mask.dim() == 3:
        mask = mask[:, None]
    if mask.dim() != 4 or mask.shape[0] != batch or mask.shape[1] not in (1, frames):
        raise ShapeError(
            f"{what} has shape {tuple(mask.shape)}; expected (B, H, W), (B, 1, H, W) or (B, F, H, W) "
            f"with B={batch}, F={frames}"
        )
    return mask.float().expand(batch, frames, *mask.shape[-2:])


def open_gates(gates: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """(B,F) bool per branch: gate > 0."""
    return {name: g > 0 for name, g in gates.items()}


def resolve_branch_masks(
    gates: Mapping[str, torch.Tensor],
    regions: Mapping[str, str],
    solo_regions: Mapping[str, str],
    masks: Optional[Mapping[str, torch.Tensor]],
    batch: int,
    frames: int,
) -> dict[str, torch.Tensor]:
    """Per open branch, its full-resolution mask (B,F,H,W) after the solo rule.

    ``gates``: (B,F) per branch that takes part in this forward (absent branches left out).
    """
    masks = dict(masks or {})
    is_open = open_gates(gates)
    n_open = sum(o.long() for o in is_open.values()) if is_open else None
    out = {}
    for name, gate_open in is_open.items():
        if not bool(gate_open.any()):
            continue  # closed everywhere: the branch is skipped, no mask needed
        normal = _lookup(masks, name, regions[name], batch, frames)
        if name in masks:
            out[name] = normal  # an explicit per-branch mask wins in both cases
            continue
        solo = gate_open & (n_open == 1)  # (B,F)
        if not bool(solo.any()):
            out[name] = normal
            continue
        solo_mask = _lookup(masks, name, solo_regions[name], batch, frames)
        if solo_mask.shape[-2:] != normal.shape[-2:]:
            solo_mask = F.interpolate(solo_mask, size=normal.shape[-2:], mode="area")
        out[name] = torch.where(solo[:, :, None, None], solo_mask, normal)
    return out


def _lookup(masks: dict, branch: str, region: str, batch: int, frames: int) -> torch.Tensor:
    key = branch if branch in masks else region
    if key not in masks:
        given = ", ".join(sorted(masks)) or "none"
        raise InputError(
            f"no region mask '{region}' for branch '{branch}' (given: {given}); pass region_masks['{region}'] "
            f"or set model.pcm.mask_mode=none"
        )
    return as_frames(masks[key], batch, frames, f"region_masks['{key}']")


def pool_to_grid(mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B,F,H,W) -> (B,F,height,width): fraction of each token's cell inside the region."""
    if mask.shape[-2:] == (height, width):
        return mask
    return F.adaptive_avg_pool2d(mask, (height, width))


def token_weights(pooled: torch.Tensor, mode: str) -> Optional[torch.Tensor]:
    """(B,F,h,w) pooled mask -> (B,F,h*w) weights: drop 0/1, soft the fraction, none -> None."""
    if mode == "none":
        return None
    flat = pooled.flatten(2)
    if mode == "drop":
        return (flat > 0.5).to(flat.dtype)
    if mode == "soft":
        return flat.clamp(0, 1)
    raise ValueError(f"unknown mask mode {mode!r}; expected one of {MASK_MODES}")
