"""Reference blur (``train.reference_blur``): hide a region of the reference frame from the denoiser.

The reference frame is drawn from the same clip as the training window, so its slow-moving
parts predict the window's (the eyes' openness at r 0.45 in the demo world, the mouth at
0.03): copying them from the reference lowers the loss without the branch that should
steer them, and that branch learns late. Blurring the region in the reference for a
random subset of samples takes the shortcut away there; the region's content must then
come from its branch's signal. Which regions and how often is configuration; this module
never names one.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from actalker.errors import ConfigError

_BLUR_FACTOR = 8  # the region keeps its colour at 1/8 of the resolution, never its shape


def draw_reference_blur(probabilities: dict[str, float], n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Region -> (n,) bool: which samples get that region blurred. Draws once per configured
    region, in the config's order, so an empty setting leaves the random stream unchanged."""
    return {region: torch.rand(n, generator=generator) < p for region, p in probabilities.items()}


def blur_reference_regions(image: torch.Tensor, masks: dict[str, torch.Tensor],
                           chosen: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, 3, H, W) reference images -> the same with each chosen region replaced by a
    heavy blur of the image (soft-edged), so its colours stay and its state is gone."""
    active = {r: c for r, c in chosen.items() if bool(c.any())}
    if not active:
        return image
    missing = sorted(set(active) - set(masks))
    if missing:
        raise ConfigError(f"train.reference_blur names region(s) {missing} that have no mask in this batch "
                          f"(masks: {sorted(masks)})")
    h, w = image.shape[-2:]
    k = max(2, min(h, w) // _BLUR_FACTOR)  # at least 2: below 16 px a 1-pixel pool would blur nothing
    blurred = F.interpolate(F.avg_pool2d(image, k, ceil_mode=True), size=(h, w), mode="bilinear", align_corners=False)
    alpha = torch.zeros(image.shape[0], 1, h, w, dtype=image.dtype, device=image.device)
    for region, c in active.items():
        m = masks[region].to(image)[:, None] * c.to(image).view(-1, 1, 1, 1)
        alpha = torch.maximum(alpha, m)
    alpha = F.avg_pool2d(alpha, 3, stride=1, padding=1, count_include_pad=False)  # soft edge: no seam to learn
    return image * (1 - alpha) + blurred * alpha


__all__ = ["blur_reference_regions", "draw_reference_blur"]
