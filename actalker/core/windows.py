"""Long videos: overlapping windows whose origin shifts every denoising step.

A video of F frames longer than the model's window W is denoised window by window. At
step ``i`` the windows start at ``origin = (i * shift) mod F`` and are spread evenly around
the frame circle (wrap-around), ``k = ceil(F / (W - overlap))`` of them, so every frame is
in at least one window; where windows overlap their predictions are averaged. Because
the origin moves each step, window borders never stay at the same frames, which blends
the windows into one video. With F <= W there is exactly one window, the frames in order,
and the result equals one plain call.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from actalker.errors import ConfigError


def window_indices(num_frames: int, window: int, shift: int = 0, step: int = 0, overlap: int = 0) -> list[torch.Tensor]:
    """Frame indices (LongTensor of length ``min(window, num_frames)``) of each window at ``step``."""
    if num_frames < 1:
        raise ConfigError(f"num_frames must be >= 1, got {num_frames}")
    if window < 1:
        raise ConfigError(f"sampling.window must be >= 1, got {window}")
    if shift < 0:
        raise ConfigError(f"sampling.window_shift must be >= 0, got {shift}")
    if not 0 <= overlap < window:
        raise ConfigError(f"window overlap must be in [0, window={window}), got {overlap}")
    if num_frames <= window:
        return [torch.arange(num_frames)]
    stride = window - overlap
    count = math.ceil(num_frames / stride)
    origin = (step * shift) % num_frames
    # Even spacing: consecutive starts are at most ceil(F / count) <= stride <= window apart.
    starts = [origin + round(j * num_frames / count) for j in range(count)]
    return [(start + torch.arange(window)) % num_frames for start in starts]


def window_coverage(num_frames: int, window: int, shift: int = 0, step: int = 0, overlap: int = 0) -> torch.Tensor:
    """How many windows cover each frame at ``step`` (LongTensor (F,))."""
    counts = torch.zeros(num_frames, dtype=torch.long)
    for idx in window_indices(num_frames, window, shift, step, overlap):
        counts.index_add_(0, idx, torch.ones_like(idx))
    return counts


def predict_windowed(
    predict: Callable[[torch.Tensor], torch.Tensor],
    num_frames: int,
    window: int,
    shift: int = 0,
    step: int = 0,
    overlap: int = 0,
    frame_dim: int = 1,
) -> torch.Tensor:
    """Run ``predict(frame_indices) -> tensor with len(frame_indices) frames along frame_dim``
    on each window and average overlapping predictions (sums in float32)."""
    windows = window_indices(num_frames, window, shift, step, overlap)
    if len(windows) == 1 and windows[0].numel() == num_frames:
        return predict(windows[0])
    total = None
    counts = None
    for idx in windows:
        pred = predict(idx)
        if total is None:
            shape = list(pred.shape)
            shape[frame_dim] = num_frames
            total = torch.zeros(shape, dtype=torch.float32, device=pred.device)
            counts = torch.zeros(num_frames, dtype=torch.float32, device=pred.device)
        idx_dev = idx.to(pred.device)
        total.index_add_(frame_dim, idx_dev, pred.float())
        counts.index_add_(0, idx_dev, torch.ones(idx.numel(), device=pred.device))
    view = [1] * total.ndim
    view[frame_dim] = num_frames
    return (total / counts.view(view)).to(pred.dtype)


__all__ = ["predict_windowed", "window_coverage", "window_indices"]
