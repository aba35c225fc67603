"""Checks a plugin author's tests can call (the contrib plugins' tests use them).

``check_per_frame_encoder`` is what a shape check cannot see about a condition encoder:
frame f's tokens come from frame f's features only (no frame or sample mixing), they change
with them, the tokens of a frame differ from each other, and every parameter gets a gradient
(a zero, constant or frame-mixing encoder fails it).
"""
from __future__ import annotations

import torch


def check_per_frame_encoder(enc: torch.nn.Module, x: torch.Tensor, bump) -> None:
    """``x`` (B >= 2, F >= 3, *feat); ``bump`` is added to sample 1, frame 2 (a number or a
    tensor of the feature shape). Raises AssertionError naming what failed."""
    x = x.clone()
    y = enc(x)
    b, f = x.shape[:2]
    moved = x.clone()
    moved[1, 2] = moved[1, 2] + bump
    change = (enc(moved) - y).abs().flatten(2).amax(-1)  # (B, F)
    assert change[1, 2] > 1e-3, "the tokens of a frame do not change with its features"
    change[1, 2] = 0
    assert torch.equal(change, torch.zeros(b, f)), "changing one frame changed other frames or samples"
    assert torch.isfinite(y).all() and (y[:, :, 0] - y[:, :, 1]).abs().max() > 1e-4, "a frame's tokens are all alike"
    enc.zero_grad()
    y.square().sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"parameter {name} gets no gradient"
