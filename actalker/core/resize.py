"""Stable Video Diffusion's antialiased resize of the reference image for its CLIP encoder.

diffusers' ``StableVideoDiffusionPipeline._encode_image`` resizes the portrait to 224x224
with a private helper (``_resize_with_antialiasing``, from kornia): a separable Gaussian
blur with skimage's sigma ``(factor - 1) / 2`` and a kernel of ``4 sigma`` (odd, >= 3),
reflect padding, then bicubic interpolation with ``align_corners=True``. This is the same
arithmetic, op for op, so an embedding here equals SVD's bit for bit (a test compares it
with diffusers' own helper); torch's ``antialias=True`` bicubic differs by up to 3e-2.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _gaussian(size: int, sigma: torch.Tensor) -> torch.Tensor:
    """(1, size) normalised Gaussian taps; sigma (1, 1)."""
    x = (torch.arange(size, dtype=sigma.dtype) - size // 2).expand(1, -1)
    if size % 2 == 0:
        x = x + 0.5
    g = torch.exp(-x.pow(2.0) / (2 * sigma.pow(2.0)))
    return g / g.sum(-1, keepdim=True)


def _filter(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Depthwise 2-D filter with reflect padding (front gets the smaller half)."""
    b, c, h, w = x.shape
    k = kernel[:, None].to(x.device, x.dtype).expand(-1, c, -1, -1)
    kh, kw = k.shape[-2:]
    pad = [(kw - 1) // 2, kw - 1 - (kw - 1) // 2, (kh - 1) // 2, kh - 1 - (kh - 1) // 2]
    x = F.pad(x, pad, mode="reflect")
    k = k.reshape(-1, 1, kh, kw)
    x = x.view(-1, k.size(0), x.size(-2), x.size(-1))
    return F.conv2d(x, k, groups=k.size(0)).view(b, c, h, w)


def svd_resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, *size), blurred then bicubic, exactly as SVD's pipeline does."""
    h, w = image.shape[-2:]
    sigmas = (max((h / size[0] - 1.0) / 2.0, 0.001), max((w / size[1] - 1.0) / 2.0, 0.001))
    ky, kx = (int(max(4.0 * s, 3)) for s in sigmas)
    ky, kx = ky + 1 - ky % 2, kx + 1 - kx % 2  # odd
    sigma = torch.tensor([sigmas], dtype=image.dtype)
    kernel_x = _gaussian(kx, sigma[:, 1].view(1, 1))
    kernel_y = _gaussian(ky, sigma[:, 0].view(1, 1))
    x = _filter(_filter(image, kernel_x[..., None, :]), kernel_y[..., None])
    return F.interpolate(x, size=size, mode="bicubic", align_corners=True)


__all__ = ["svd_resize"]
