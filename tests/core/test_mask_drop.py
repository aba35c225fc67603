"""Mask-drop: a branch never sees the tokens outside its region.

With ``mask_mode=drop`` the tokens outside a branch's region are removed from its scan, so
changing them (by any amount, even to NaN) must leave the branch's output inside the region
exactly as it was, while the same change does reach the inside under ``mask_mode=none``
(so the perturbation is large enough for the check to fail when a token leaks).
"""
from __future__ import annotations

import pytest
import torch

from actalker.core.pcm import PCMBranch, PCMLayer

B, FR, H, W, C, T, D, ID = 2, 3, 4, 4, 8, 2, 6, 5
L = H * W


def region() -> torch.Tensor:
    """(B, F, L) 0/1 weights, different per sample and per frame, with different token counts
    (so packed rows of a batch are padded: padding must not leak either)."""
    m = torch.zeros(B, FR, H, W)
    m[0, :, 1:] = 1  # sample 0: bottom three rows (12 tokens)
    m[1, :, :, 1:3] = 1  # sample 1: two middle columns (8) ...
    m[1, 2] = 0
    m[1, 2, :1, :] = 1  # ... and the top row (4) in frame 2
    return m.flatten(2)


def data(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, FR, L, C, generator=g)
    cond = torch.randn(B, FR, T, D, generator=g)
    ident = torch.randn(B, ID, generator=g)
    return x, cond, ident


def perturbed_outside(x: torch.Tensor, weight: torch.Tensor, value=None) -> torch.Tensor:
    outside = (weight < 0.5)[..., None]
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(7)) * 10.0
    if value is not None:
        noise = torch.full_like(x, value)
    return torch.where(outside, x + noise if value is None else noise, x)


def make_branch(mixer, seed=0, **kw):
    torch.manual_seed(seed)
    return PCMBranch(C, 16, D, ID, mixer=mixer, d_state=4, d_conv=2, **kw).eval()


@pytest.mark.parametrize("cond_inject", ["every_token", "sequence"])
@pytest.mark.parametrize("spatiotemporal", [False, True], ids=["spatial", "spatiotemporal"])
@pytest.mark.parametrize("mixer", ["mamba", "attention"])
def test_branch_output_inside_ignores_tokens_outside(mixer, spatiotemporal, cond_inject):
    branch = make_branch(mixer, cond_inject=cond_inject)
    x, cond, ident = data()
    weight = region()
    inside = weight > 0.5
    with torch.no_grad():
        out = branch(x, cond, ident, weight, "drop", spatiotemporal)
        moved = branch(perturbed_outside(x, weight), cond, ident, weight, "drop", spatiotemporal)
        nan = branch(perturbed_outside(x, weight, float("nan")), cond, ident, weight, "drop", spatiotemporal)
        # control: the same perturbation without the mask reaches the region
        free = branch(x, cond, ident, weight, "none", spatiotemporal)
        free_moved = branch(perturbed_outside(x, weight), cond, ident, weight, "none", spatiotemporal)
    assert inside.any() and (~inside).any()
    torch.testing.assert_close(moved[inside], out[inside], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(nan[inside], out[inside], rtol=1e-6, atol=1e-6)
    assert (out[~inside] == 0).all() and (moved[~inside] == 0).all()
    assert (free_moved[inside] - free[inside]).abs().max() > 1e-2
    assert out[inside].abs().max() > 0.1  # the branch does write inside its region


@pytest.mark.parametrize("mixer", ["mamba", "attention"])
def test_region_equals_branch_run_on_the_region_alone(mixer):
    """Spatial scan, drop: per frame, the region's outputs equal the branch run on a grid that
    holds only the region's tokens (in scan order) with an all-ones mask."""
    branch = make_branch(mixer)
    x, cond, ident = data(1)
    weight = region()
    with torch.no_grad():
        out = branch(x, cond, ident, weight, "drop", False)
        for b in range(B):
            for f in range(FR):
                k = weight[b, f] > 0.5
                xs = x[b:b + 1, f:f + 1, k]
                alone = branch(xs, cond[b:b + 1, f:f + 1], ident[b:b + 1], torch.ones(1, 1, int(k.sum())),
                               "drop", False)
                torch.testing.assert_close(out[b, f, k], alone[0, 0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scan_mode", ["spatial", "spatiotemporal"])
@pytest.mark.parametrize("mixer", ["mamba", "attention"])
def test_layer_branch_term_inside_ignores_tokens_outside(mixer, scan_mode):
    """At the layer: branch a's term (out - x) inside its region is unchanged when the tokens
    outside it change; branch b (the complement region) is open at the same time and its
    term is what moves there."""
    torch.manual_seed(0)
    layer = PCMLayer(C, {"a": D, "b": D}, scan_mode=scan_mode, mask_mode="drop", mixer=mixer, d_state=4,
                     d_conv=2, id_dim=ID).eval()
    with torch.no_grad():
        layer.out_proj.weight.copy_(torch.randn_like(layer.out_proj.weight) * 0.3)
    x, cond, ident = data(2)
    wa = region()
    weights = {"a": wa, "b": 1 - wa}
    conds = {"a": cond, "b": torch.randn(B, FR, T, D)}
    gates = {"a": torch.ones(B, FR), "b": torch.ones(B, FR)}
    inside_a = wa > 0.5
    x2 = perturbed_outside(x, wa)
    with torch.no_grad():
        only_a = layer(x, {"a": conds["a"]}, {"a": gates["a"]}, weights, ident) - x
        only_a2 = layer(x2, {"a": conds["a"]}, {"a": gates["a"]}, weights, ident) - x2
        both = layer(x, conds, gates, weights, ident) - x
        both2 = layer(x2, conds, gates, weights, ident) - x2
    torch.testing.assert_close(only_a2[inside_a], only_a[inside_a], rtol=1e-6, atol=1e-6)
    assert only_a[inside_a].abs().max() > 1e-2
    assert (only_a[~inside_a] == 0).all() and (only_a2[~inside_a] == 0).all()
    # b sees only the outside of a: inside a, the sum of both is a's term alone
    torch.testing.assert_close(both2[inside_a], only_a[inside_a], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(both[inside_a], only_a[inside_a], rtol=1e-5, atol=1e-6)
    assert (both2[~inside_a] - both[~inside_a]).abs().max() > 1e-2
