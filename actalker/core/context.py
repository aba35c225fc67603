"""The conditioning one denoiser forward hands to its PCM layers and face guider.

The denoiser builds one ``PCMContext`` per forward and binds it to that call (a context
variable keyed by the denoiser, not an attribute, so forwards never see each other's);
the hooks around the UNet's blocks read it.
Pooled masks are cached per token grid, so the 15 layers of SVD pool each mask once per
resolution instead of once per layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

from actalker.core.masks import pool_to_grid, token_weights


@dataclass
class PCMContext:
    """Per-forward conditioning.

    batch, frames, height, width: the latent video (B, F, h, w) at UNet input resolution.
    tokens:    branch -> condition tokens (B, F, T, cond_dim), only branches open somewhere.
    gates:     branch -> (B, F) float gates, same keys as ``tokens``.
    masks:     branch -> (B, F, H, W) region mask after the solo rule (absent with mask_mode none).
    identity:  (B, D) identity token (the cross-attention context), or None.
    face_mask: (B, F, H, W) for the face guider, or None.
    """

    batch: int
    frames: int
    height: int
    width: int
    tokens: dict[str, torch.Tensor]
    gates: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    identity: Optional[torch.Tensor] = None
    face_mask: Optional[torch.Tensor] = None
    mask_mode: str = "drop"
    _cache: dict = field(default_factory=dict, repr=False)

    def weights(self, branch: str, height: int, width: int) -> Optional[torch.Tensor]:
        """(B, F, height*width) token weights of a branch on a grid, or None (no restriction)."""
        if self.mask_mode == "none" or branch not in self.masks:
            return None
        key = (branch, height, width)
        if key not in self._cache:
            pooled = pool_to_grid(self.masks[branch], height, width)
            self._cache[key] = token_weights(pooled, self.mask_mode)
        return self._cache[key]
