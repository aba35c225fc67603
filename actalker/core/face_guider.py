"""Face-region guider: the face mask, as a feature map added after the UNet's ``conv_in``.

Small convs at latent resolution; the last conv is zero-initialised so a fresh guider
adds exactly 0 (the backbone is unchanged until training moves it).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FaceGuider(nn.Module):
    def __init__(self, out_channels: int, hidden: int = 16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, hidden, 3, padding=1), nn.SiLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1), nn.SiLU(),
            nn.Conv2d(hidden, out_channels, 3, padding=1),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """mask (N, 1, H, W) at any resolution -> (N, out_channels, height, width)."""
        if mask.shape[-2:] != (height, width):
            mask = F.adaptive_avg_pool2d(mask, (height, width))
        return self.net(mask)
