"""Classifier-free guidance over N control branches, in the paper's chained form.

With a branch order b1..bN, stage 0 is unconditional (no reference, every branch null),
stage 1 adds the reference (image latent and identity), and stage 1+k adds branch bk to
stage k. The guided prediction is

    eps = eps_0 + s_ref (eps_1 - eps_0) + sum_k s_k (eps_{1+k} - eps_k)

which is a linear combination ``sum_j c_j eps_j`` with c_j = S_j - S_{j+1} (S_0 = 1,
S_1 = s_ref, S_{1+k} = s_k, S_{N+2} = 0). Stages whose coefficient is exactly zero are
never computed, so every scale 1 is one fully conditional pass, and a branch that is
closed (gate 0 everywhere, which equals the branch being absent) is left out of the chain,
saving its pass. "Null" for a branch means its plugin's ``null_features``.

No signal is named here: branches are whatever names the caller passes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

import torch

from actalker.core.guidance_order import DEFAULT_BRANCH_SCALE, complete_guidance, resolve_order


@dataclass(frozen=True)
class GuidancePass:
    """One denoiser evaluation: whether the reference is on, which branches get real features."""

    reference: bool
    branches: tuple[str, ...]
    coefficient: float | torch.Tensor  # a tensor (1, F, 1, 1 or h, 1 or w): per-frame reference scale, confined scales


@dataclass(frozen=True)
class GuidancePlan:
    """The passes to run and how to combine them."""

    order: tuple[str, ...]
    passes: tuple[GuidancePass, ...]

    @property
    def num_passes(self) -> int:
        return len(self.passes)

    def combine(self, predictions: Sequence[torch.Tensor]) -> torch.Tensor:
        """``sum_j c_j eps_j`` over this plan's passes (in float32, returned in the inputs' dtype)."""
        if len(predictions) != len(self.passes):
            raise ValueError(f"expected {len(self.passes)} predictions, got {len(predictions)}")
        out = None
        for p, pred in zip(self.passes, predictions):
            coef = p.coefficient.to(pred.device) if torch.is_tensor(p.coefficient) else p.coefficient
            term = pred.float() if _all_equal(coef, 1.0) else pred.float() * coef
            out = term if out is None else out + term
        return out.to(predictions[0].dtype)


def _all_equal(value: float | torch.Tensor, number: float) -> bool:
    return bool((value == number).all()) if torch.is_tensor(value) else value == number


def reference_ramp(scale_min: float, scale_max: float, num_frames: int) -> torch.Tensor:
    """SVD's per-frame guidance (``min_guidance_scale`` .. ``max_guidance_scale``): (F,)
    float32 ``linspace`` from the first frame to the last, as diffusers computes it."""
    return torch.linspace(scale_min, scale_max, num_frames)


def window_reference_scale(scale: float, scale_min: Optional[float], num_frames: int,
                           idx: torch.Tensor) -> float | torch.Tensor:
    """The reference scale of a window's frames: ``scale``, or with ``scale_min`` set, the
    video's ramp at the window's frame indices as (1, F_window, 1, 1, 1)."""
    if scale_min is None:
        return float(scale)
    return reference_ramp(scale_min, scale, num_frames)[idx.cpu()].view(1, -1, 1, 1, 1)


def confine_scales(scales: Mapping[str, float], regions: Mapping[str, torch.Tensor],
                   outside: float) -> dict[str, float | torch.Tensor]:
    """Each branch's scale inside its own region, ``outside`` elsewhere:
    ``outside + (s - outside) * m`` per latent pixel, m the fraction of the pixel inside the
    region ((1, 1, 1, h, w) from the pipeline's ``guidance_regions``). A branch without a region (no face given,
    ``mask_mode: none``) keeps its number."""
    return {b: (outside + (s - outside) * regions[b].float()) if b in regions else s for b, s in scales.items()}


def plan_guidance(
    branches: Iterable[str],
    reference_scale: float | torch.Tensor = 2.0,
    scales: Mapping[str, float] | None = None,
    order: Sequence[str] = (),
    closed: Iterable[str] = (),
    regions: Optional[Mapping[str, torch.Tensor]] = None,
    outside_scale: Optional[float] = None,
) -> GuidancePlan:
    """Build the chained guidance plan.

    branches: every branch of the model; order: chain order (missing ones follow in
    ``branches`` order); reference_scale: a number, or per frame (``window_reference_scale``);
    scales: scale per branch stage (missing = 1.0); closed: branches
    whose gate is 0 everywhere (their stage equals the previous one and is left out);
    regions + outside_scale: confine each branch's scale to its region (``confine_scales``).
    """
    full_order, scales = complete_guidance(branches, order, scales)  # one owner of order, scales and defaults
    if outside_scale is not None and regions:
        scales = confine_scales(scales, regions, float(outside_scale))
    closed = set(closed)
    chain = tuple(b for b in full_order if b not in closed)

    # S_0 = 1 (coefficient of eps_0 is 1 - s_ref), S_1 = s_ref, S_{1+k} = s_k, S_{N+2} = 0.
    ref = reference_scale.float() if torch.is_tensor(reference_scale) else float(reference_scale)
    stage_scales = [1.0, ref] + [scales[b] for b in chain] + [0.0]
    passes = []
    for j in range(len(chain) + 2):
        coef = stage_scales[j] - stage_scales[j + 1]
        if _all_equal(coef, 0.0):
            continue
        passes.append(GuidancePass(reference=j >= 1, branches=chain[: max(j - 1, 0)], coefficient=coef))
    # The coefficients sum to S_0 - S_{N+2} = 1, so at least one pass is always left.
    return GuidancePlan(order=chain, passes=tuple(passes))


def chained_guidance(
    eps_uncond: torch.Tensor,
    eps_ref: torch.Tensor,
    eps_branches: Sequence[torch.Tensor],
    reference_scale: float,
    branch_scales: Sequence[float],
) -> torch.Tensor:
    """The paper's formula written out literally (for checks and readers).

    eps_branches[k] is the prediction with the reference and branches 1..k+1 on.
    """
    out = eps_uncond + reference_scale * (eps_ref - eps_uncond)
    prev = eps_ref
    for eps_k, s_k in zip(eps_branches, branch_scales):
        out = out + s_k * (eps_k - prev)
        prev = eps_k
    return out


__all__ = ["DEFAULT_BRANCH_SCALE", "GuidancePass", "GuidancePlan", "chained_guidance", "complete_guidance", "confine_scales",
           "plan_guidance", "reference_ramp", "resolve_order", "window_reference_scale"]
