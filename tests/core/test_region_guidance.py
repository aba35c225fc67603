"""Region-confined guidance (``guidance.outside_scale``): a branch's guidance scale applies
inside its own region (the solo rule does not widen it), the outside scale elsewhere.
Checked per latent pixel against unconfined guidance with the scales that pixel should see."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from actalker.core.guidance import chained_guidance, confine_scales, plan_guidance
from tests.core.test_pipeline import BOX, SIZE, pipe, portrait, signals  # noqa: F401  (pipe is a fixture)


def test_confined_plan_is_the_chained_formula_with_each_pixels_scales():
    g = torch.Generator().manual_seed(0)
    eps = [torch.randn(1, 2, 3, 1, 3, generator=g) for _ in range(4)]  # uncond, ref, ref+a, ref+a+b
    region = torch.tensor([1.0, 0.0, 0.25]).view(1, 1, 1, 1, 3).expand(1, 2, 1, 1, 3)  # a's region: in, out, a quarter
    plan = plan_guidance(["a", "b"], 2.0, {"a": 3.0, "b": 1.5}, regions={"a": region}, outside_scale=1.0)
    got = plan.combine([eps[0] if not p.reference else eps[1 + len(p.branches)] for p in plan.passes])
    inside = chained_guidance(eps[0], eps[1], eps[2:], 2.0, [3.0, 1.5])
    outside = chained_guidance(eps[0], eps[1], eps[2:], 2.0, [1.0, 1.5])
    torch.testing.assert_close(got[..., 0], inside[..., 0])
    torch.testing.assert_close(got[..., 1], outside[..., 1])
    torch.testing.assert_close(got[..., 2], 0.25 * inside[..., 2] + 0.75 * outside[..., 2])  # linear in the scale


def test_confine_scales_leaves_branches_without_a_region_alone():
    region = torch.ones(1, 1, 1, 2, 2)
    out = confine_scales({"a": 3.0, "b": 2.0}, {"a": region}, 1.0)
    assert out["b"] == 2.0 and torch.equal(out["a"], torch.full((1, 1, 1, 2, 2), 3.0))


def _step0_prediction(pipe, gates, **kw):
    seen = []
    pipe(portrait(), signals(3, seed=7), gates=gates, boxes=BOX, seed=5, output_type="latent",
         callback_on_window=lambda p, step, w, idx, pred: seen.append(pred) if step == 0 else None, **kw)
    return seen[0]


def _grid_mask(pipe, region: str, grid) -> torch.Tensor:
    mask = pipe.registry.region(region).mask(None, torch.tensor([BOX]), SIZE, SIZE)
    return F.adaptive_avg_pool2d(torch.as_tensor(mask, dtype=torch.float32)[None], grid)[0, 0]


@pytest.mark.parametrize("gates,cases", [
    # both open: a steers "lower", b steers "upper"
    ({"a": 1.0, "b": 0.5}, [({"lower": 1, "upper": 0}, {"a": 3.0, "b": 1.0}),
                            ({"lower": 0, "upper": 1}, {"a": 1.0, "b": 1.5}),
                            ({"whole": 0}, {"a": 1.0, "b": 1.0})]),
    # a alone: the solo rule lets it steer "whole", but guidance amplifies only its own "lower"
    ({"a": 1.0, "b": 0.0}, [({"lower": 1}, {"a": 3.0}), ({"lower": 0, "whole": 1}, {"a": 1.0}),
                            ({"whole": 0}, {"a": 1.0})]),
])
def test_pipeline_confines_each_branchs_scale_to_its_own_region(pipe, gates, cases):
    confined = _step0_prediction(pipe, gates, guidance_outside_scale=1.0)
    grid = confined.shape[-2:]
    for where, scales in cases:
        pick = torch.ones(grid, dtype=torch.bool)
        for region, value in where.items():
            pick &= _grid_mask(pipe, region, grid) == value
        assert pick.any(), f"no latent pixel with {where}"
        plain = _step0_prediction(pipe, gates, guidance_scales=scales)
        torch.testing.assert_close(confined[..., pick], plain[..., pick], rtol=1e-4, atol=1e-4)


def test_outside_scale_is_recorded_and_defaults_to_the_config(pipe):
    out = pipe(portrait(), signals(2), boxes=BOX, seed=1, output_type="latent", return_dict=True,
               guidance_outside_scale=1.0)
    assert out.settings.guidance_outside_scale == 1.0
    out = pipe(portrait(), signals(2), boxes=BOX, seed=1, output_type="latent", return_dict=True)
    assert out.settings.guidance_outside_scale is None  # the tiny config leaves it unset: the paper's guidance
