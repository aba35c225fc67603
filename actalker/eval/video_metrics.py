"""PSNR and SSIM between generated and ground-truth frames (self-reenactment).

Both take uint8 (or float in [0, data_range]) frames (F, H, W, 3) of equal shape and return
the mean over frames.

- PSNR: ``10 log10(data_range^2 / MSE)`` per frame over all pixels and channels (an
  identical frame gives ``inf``; the mean is then ``inf`` too, as the definition says).
- SSIM (Wang et al., 2004, the reference ``ssim.m``): an 11x11 Gaussian window with
  sigma 1.5, ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` with ``L = data_range``, valid
  filtering (no padding), the SSIM map averaged per channel and the channels averaged
  (as scikit-image with ``gaussian_weights=True, use_sample_covariance=False,
  channel_axis=-1``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from actalker.errors import ShapeError

WINDOW, SIGMA, K1, K2 = 11, 1.5, 0.01, 0.03


def _pair(a, b, what: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ShapeError(f"{what}: generated frames {a.shape} and reference frames {b.shape} must have the same shape")
    if a.ndim != 4 or a.shape[-1] not in (1, 3) or len(a) == 0:
        raise ShapeError(f"{what}: frames must have shape (F, H, W, 3), got {a.shape}")
    return a.astype(np.float64), b.astype(np.float64)


def psnr(generated, reference, data_range: float = 255.0) -> float:
    a, b = _pair(generated, reference, "PSNR")
    mse = ((a - b) ** 2).reshape(len(a), -1).mean(1)
    with np.errstate(divide="ignore"):
        per_frame = 10.0 * np.log10(data_range ** 2 / mse)
    return float(per_frame.mean())


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def ssim_frames(generated, reference, data_range: float = 255.0) -> np.ndarray:
    """SSIM of each frame (F,)."""
    a, b = _pair(generated, reference, "SSIM")
    if min(a.shape[1:3]) < WINDOW:
        raise ShapeError(f"SSIM needs frames of at least {WINDOW}x{WINDOW} pixels, got {a.shape[1]}x{a.shape[2]}")
    x = torch.from_numpy(a).permute(0, 3, 1, 2)  # (F, C, H, W)
    y = torch.from_numpy(b).permute(0, 3, 1, 2)
    c = x.shape[1]
    g = gaussian_window()
    wx = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    wy = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def filt(t):  # separable Gaussian, valid, per channel
        return F.conv2d(F.conv2d(t, wx, groups=c), wy, groups=c)

    mu_x, mu_y = filt(x), filt(y)
    sxx = filt(x * x) - mu_x ** 2
    syy = filt(y * y) - mu_y ** 2
    sxy = filt(x * y) - mu_x * mu_y
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (sxx + syy + c2))
    return s.mean(dim=(2, 3)).mean(dim=1).numpy()


def ssim(generated, reference, data_range: float = 255.0) -> float:
    return float(ssim_frames(generated, reference, data_range).mean())
