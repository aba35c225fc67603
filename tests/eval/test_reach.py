"""The condition-reach diagnostic tells a scan that reaches its whole region from one that does not."""
from __future__ import annotations

import pytest
import torch

from actalker.core.pcm import PCMLayer
from actalker.eval.reach import branch_reach


def _layer(cond_inject: str) -> PCMLayer:
    torch.manual_seed(0)
    return PCMLayer(8, {"a": 6}, scan_mode="spatial", mask_mode="drop", d_state=4, d_conv=2, cond_inject=cond_inject)


@pytest.mark.parametrize("change", ["shift", "random"])
def test_reach_quarters_follow_the_condition_placement(change):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 4, 96, 8, generator=gen)
    cond = torch.randn(1, 4, 2, 6, generator=gen)
    weight = torch.zeros(1, 4, 96)
    weight[..., 8:88] = 1  # 80 region tokens per frame; 8 outside at each end
    kwargs = {"ident": None}
    args = (x, {"a": cond}, {"a": torch.ones(1)}, {"a": weight})
    far = branch_reach(_layer("sequence"), args, kwargs, change)["a"]
    near = branch_reach(_layer("every_token"), args, kwargs, change)["a"]
    assert len(far) == len(near) == 4
    assert far[-1] > 0 and far[0] < 0.05 * far[-1]  # only the tokens next to the condition respond
    assert min(near) > 0.3 * max(near)  # every quarter responds
