"""Chained N-branch classifier-free guidance: plan and combination."""
from __future__ import annotations

import pytest
import torch

from actalker.core.guidance import chained_guidance, plan_guidance, resolve_order
from actalker.errors import ConfigError

BRANCHES = ["b_one", "b_two", "b_three"]


def _fake_eps():
    """A distinct random prediction for every (reference, active branches) stage."""
    g = torch.Generator().manual_seed(1)
    table = {}
    for ref in (False, True):
        for k in range(len(BRANCHES) + 1):
            table[(ref, k)] = torch.randn(2, 3, 4, generator=g)
    return table


@pytest.mark.parametrize(
    "ref_scale,scales,order",
    [
        (2.0, {"b_one": 7.5, "b_two": 3.0, "b_three": 1.5}, ()),
        (1.5, {"b_two": 4.0}, ("b_three", "b_one")),
        (0.0, {"b_one": 0.0, "b_two": 2.0, "b_three": 0.0}, ("b_two",)),
    ],
)
def test_plan_equals_literal_chained_formula(ref_scale, scales, order):
    table = _fake_eps()
    plan = plan_guidance(BRANCHES, ref_scale, scales, order)
    chain = resolve_order(BRANCHES, order)
    assert plan.order == chain

    def eps_of(p):
        assert p.branches == chain[: len(p.branches)]  # each pass is a prefix of the chain
        return table[(p.reference, len(p.branches))] if p.reference else table[(False, 0)]

    got = plan.combine([eps_of(p) for p in plan.passes])
    want = chained_guidance(
        table[(False, 0)],
        table[(True, 0)],
        [table[(True, k + 1)] for k in range(len(chain))],
        ref_scale,
        [scales.get(b, 1.0) for b in chain],
    )
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_paper_setting_uses_four_passes_for_two_branches():
    plan = plan_guidance(["first", "second"], 2.0, {"first": 7.5, "second": 3.0})
    assert [(p.reference, p.branches) for p in plan.passes] == [
        (False, ()),
        (True, ()),
        (True, ("first",)),
        (True, ("first", "second")),
    ]
    assert [p.coefficient for p in plan.passes] == [1 - 2.0, 2.0 - 7.5, 7.5 - 3.0, 3.0]


def test_all_scales_one_is_a_single_fully_conditional_pass():
    plan = plan_guidance(BRANCHES, 1.0, {b: 1.0 for b in BRANCHES})
    assert len(plan.passes) == 1
    only = plan.passes[0]
    assert only.reference and set(only.branches) == set(BRANCHES) and only.coefficient == 1.0
    x = torch.randn(5)
    assert torch.equal(plan.combine([x]), x)


def test_closed_branch_is_left_out_of_the_chain():
    plan = plan_guidance(BRANCHES, 2.0, {"b_one": 3.0, "b_two": 5.0}, closed=["b_two"])
    assert plan.order == ("b_one", "b_three")
    assert all("b_two" not in p.branches for p in plan.passes)
    assert len(plan.passes) == 4


def test_unknown_branch_in_order_or_scales_is_a_config_error():
    with pytest.raises(ConfigError, match="guidance.order names branch 'nope'"):
        plan_guidance(BRANCHES, order=["nope"])
    with pytest.raises(ConfigError, match="guidance.scales has branch 'nope'"):
        plan_guidance(BRANCHES, scales={"nope": 2.0})


def test_default_reference_scale_is_two():
    plan = plan_guidance(["first"])  # reference 2, branch 1: coefficients 1 - 2, 2 - 1, 1 - 0
    assert [(p.reference, p.branches, p.coefficient) for p in plan.passes] == [
        (False, (), -1.0), (True, (), 1.0), (True, ("first",), 1.0)]


def test_combine_scales_every_coefficient_but_one():
    # coefficients -2, 2, 1 (reference 3, one branch at 1): 2.0 must scale, only 1.0 may skip
    plan = plan_guidance(["first"], 3.0)
    assert [p.coefficient for p in plan.passes] == [-2.0, 2.0, 1.0]
    e = [torch.full((2,), v) for v in (1.0, 10.0, 100.0)]
    assert plan.combine(e).tolist() == [-2.0 + 20.0 + 100.0] * 2
    half = [t.half() for t in e]
    assert plan.combine(half).dtype == torch.float16
    with pytest.raises(ValueError, match=r"^expected 3 predictions, got 2$"):
        plan.combine(e[:2])


def test_order_errors_name_the_branch_and_list_the_known_ones():
    with pytest.raises(ConfigError, match=r"'nope', which the model lacks \(branches: b_one, b_two, b_three\)$"):
        resolve_order(BRANCHES, ["nope"])
    with pytest.raises(ConfigError, match=r"'nope', which the model lacks \(branches: none\)$"):
        resolve_order([], ["nope"])
    with pytest.raises(ConfigError, match=r"^guidance.order lists a branch twice: \['b_one', 'b_one'\]$"):
        resolve_order(BRANCHES, ["b_one", "b_one"])
    with pytest.raises(ConfigError, match=r"'nope', which the model lacks \(branches: b_one, b_two, b_three\)$"):
        plan_guidance(BRANCHES, scales={"nope": 2.0})
    with pytest.raises(ConfigError, match=r"'nope', which the model lacks \(branches: none\)$"):
        plan_guidance([], scales={"nope": 2.0})
    assert resolve_order(BRANCHES, ["b_three"]) == ("b_three", "b_one", "b_two")
