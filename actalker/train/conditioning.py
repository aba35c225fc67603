"""Per-item and per-batch conditioning for training.

Per item (in the dataset, so DataLoader workers share the work): each branch's raw
features from its plugin's ``from_clip`` on the training window, and the masks of every
region a branch may steer, from the window's landmarks and boxes via the region plugins.

Per batch (from the run's generator, so it is reproducible and resumable):
- gate training (the paper's random open/close): each branch's gate is closed for a
  sample with probability ``gate_dropout``; the denoiser applies the solo region rule
  from the gates (``actalker.core.masks``), so a branch left alone learns its solo region;
- condition dropout: a branch's features become its plugin's ``null_features`` with
  probability ``condition_dropout`` (the "null" input classifier-free guidance uses);
- reference dropout: the reference latents (and identity) are dropped with probability
  ``reference_dropout`` (guidance's unconditional stage);
- reference blur: per configured region, whether the reference is blurred there
  (``reference_blur``, ``actalker.train.reference_blur``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from actalker.core.branches import needed_regions
from actalker.core.controls import conditions_from_clip, region_masks
from actalker.train.data import WindowClip
from actalker.train.reference_blur import draw_reference_blur


def training_regions(train_cfg) -> list[str]:
    """Regions a training item needs masks of beyond its branches' and the face's: those the
    reference is blurred in and those with a loss weight of their own."""
    return list(dict.fromkeys([*train_cfg.reference_blur, *train_cfg.part_loss_weight]))


class ItemConditioning:
    """Dataset transform: adds ``features`` {branch: (F, *feat)} and ``region_masks``
    {region: (H, W)} to a window dict (kept if the dataset already provides them).

    ``branches`` are the pipeline's ``ControlBranch`` records; ``registry`` gives the regions.
    Masks come from the reference frame (the window's first frame, or the item's
    ``reference`` drawn elsewhere in the clip), as the pipeline takes them from the
    reference face at generation time (static per clip, as in the paper), so training
    sees exactly the masks sampling will use.
    """

    def __init__(self, branches, registry, fps: float, face_region: Optional[str], extra_regions=()):
        self.branches = branches
        self.registry = registry
        self.regions = list(dict.fromkeys([*needed_regions(branches, face_region), *extra_regions]))
        for name in self.regions:
            registry.region(name)  # a missing region plugin is an error now, not at the first item
        self.fps = fps

    def __call__(self, item: dict) -> dict:
        feats = dict(item.get("features") or {})
        missing = [b for b in self.branches if b.name not in feats]
        if missing:
            feats.update(conditions_from_clip(missing, WindowClip.from_item(item, self.fps)))
        item["features"] = feats
        masks = dict(item.get("region_masks") or {})
        h, w = item["frames"].shape[-2:]
        if "reference_boxes" in item:  # a reference drawn elsewhere in the clip: its face, as sampling does
            landmarks, boxes = item.get("reference_landmarks"), item["reference_boxes"]
        else:
            landmarks = item.get("landmarks")
            landmarks, boxes = (landmarks[:1] if landmarks is not None else None), item["boxes"][:1]
        todo = [name for name in self.regions if name not in masks]
        masks.update({k: m[0] for k, m in region_masks(self.registry, todo, landmarks, boxes, h, w).items()})
        item["region_masks"] = masks
        return item


@dataclass
class Controls:
    conditions: dict[str, torch.Tensor]  # branch -> (B, F, *feat)
    gates: dict[str, torch.Tensor]  # branch -> (B,)
    region_masks: dict[str, torch.Tensor]  # region -> (B, H, W)
    keep_reference: torch.Tensor  # (B,) bool
    blur_reference: dict[str, torch.Tensor]  # region -> (B,) bool


def _bernoulli(p: float, n: int, generator: torch.Generator) -> torch.Tensor:
    # Always draw, even for p = 0, so the random stream does not depend on the settings.
    return torch.rand(n, generator=generator) < p


def randomize_controls(batch: dict, branches, train_cfg, generator: torch.Generator) -> Controls:
    """Draw this batch's gates, condition dropout, reference dropout and blur (on the CPU)."""
    n = batch["frames"].shape[0]
    conditions, gates = {}, {}
    for b in branches:
        feats = batch["features"][b.name].float()
        drop = _bernoulli(train_cfg.condition_dropout, n, generator)
        if drop.any():
            null = b.null_features(feats).to(feats)
            feats = torch.where(drop.view(-1, *[1] * (feats.dim() - 1)), null, feats)
        conditions[b.name] = feats
        closed = _bernoulli(train_cfg.gate_dropout, n, generator)
        gates[b.name] = (~closed).float()
    keep_ref = ~_bernoulli(train_cfg.reference_dropout, n, generator)
    blur = draw_reference_blur(train_cfg.reference_blur, n, generator)
    return Controls(conditions, gates, dict(batch.get("region_masks") or {}), keep_ref, blur)
