"""PCM layer: residual identity when fresh, exact gates, region isolation, batching, scan modes."""
from __future__ import annotations

import pytest
import torch

from actalker.core.masks import pool_to_grid, resolve_branch_masks, token_weights
from actalker.core.pcm import PCMLayer
from actalker.core.pcm.tokens import assemble, pack, unpack
from actalker.errors import ConfigError, InputError

B, FR, H, W, C, T, D = 2, 3, 4, 4, 8, 2, 6


def make_layer(mixer="mamba", scan_mode="spatiotemporal", mask_mode="drop", branches=("a", "b"), seed=0, **kw):
    torch.manual_seed(seed)
    layer = PCMLayer(C, {n: D for n in branches}, scan_mode=scan_mode, mask_mode=mask_mode, mixer=mixer,
                     d_state=4, d_conv=2, id_dim=5, **kw)
    with torch.no_grad():  # a trained layer: non-zero out-projection
        layer.out_proj.weight.copy_(torch.randn_like(layer.out_proj.weight) * 0.3)
    return layer


def inputs(seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, FR, H * W, C, generator=gen)
    conds = {n: torch.randn(B, FR, T, D, generator=gen) for n in ("a", "b")}
    ident = torch.randn(B, 5, generator=gen)
    lower = torch.zeros(B, FR, H, W)
    lower[0, :, 2:] = 1  # sample 0: bottom half; sample 1: right column only -> masks differ per sample
    lower[1, :, :, 3:] = 1
    weights = {"a": lower.flatten(2), "b": 1 - lower.flatten(2)}
    return x, conds, ident, weights


def ones_gates(value=1.0):
    return {n: torch.full((B, FR), value) for n in ("a", "b")}


def test_fresh_layer_is_identity():
    layer = PCMLayer(C, {"a": D}, d_state=4, id_dim=5)
    x, conds, ident, weights = inputs()
    out = layer(x, {"a": conds["a"]}, {"a": torch.ones(B)}, weights, ident)
    assert torch.equal(out, x)


@pytest.mark.parametrize("mixer", ["mamba", "attention"])
def test_gate_zero_equals_branch_absent(mixer):
    full = make_layer(mixer)
    only_b = make_layer(mixer, branches=("b",))
    missing, unexpected = only_b.load_state_dict(full.state_dict(), strict=False)
    assert not missing and unexpected  # same weights, branch a left out
    x, conds, ident, weights = inputs()
    gates = ones_gates()
    gates["a"] = torch.tensor([[0.0] * FR, [1.0] * FR])  # closed for sample 0 only: still computed
    out = full(x, conds, gates, weights, ident)
    ref = only_b(x, {"b": conds["b"]}, {"b": gates["b"]}, weights, ident)
    assert torch.equal(out[0], ref[0])
    assert not torch.allclose(out[1], ref[1])


def test_gate_scales_branch_linearly():
    layer = make_layer()
    x, conds, ident, weights = inputs()
    one = {"a": conds["a"]}
    d1 = layer(x, one, {"a": torch.ones(B)}, weights, ident) - x
    dh = layer(x, one, {"a": torch.full((B,), 0.5)}, weights, ident) - x
    torch.testing.assert_close(dh, 0.5 * d1, rtol=1e-5, atol=1e-6)


def test_per_frame_gate_schedule():
    layer = make_layer(scan_mode="spatial")
    x, conds, ident, weights = inputs()
    sched = torch.tensor([[1.0, 0.0, 0.25]] * B)
    out = layer(x, {"a": conds["a"]}, {"a": sched}, weights, ident)
    full = layer(x, {"a": conds["a"]}, {"a": torch.ones(B, FR)}, weights, ident)
    assert torch.equal(out[:, 1], x[:, 1])
    torch.testing.assert_close(out[:, 0], full[:, 0])
    torch.testing.assert_close(out[:, 2] - x[:, 2], 0.25 * (full[:, 2] - x[:, 2]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mixer", ["mamba", "attention"])
@pytest.mark.parametrize("scan_mode", ["spatial", "spatiotemporal"])
def test_drop_isolates_region(mixer, scan_mode):
    x, conds, ident, weights = inputs()
    outside = weights["a"] < 0.5  # (B, F, L)
    for mode, expect_zero in (("drop", True), ("none", False)):
        layer = make_layer(mixer, scan_mode, mask_mode=mode)
        cond_a = conds["a"].clone().requires_grad_(True)
        out = layer(x, {"a": cond_a, "b": conds["b"]}, ones_gates(), weights, ident)
        (out * outside[..., None]).sum().backward()
        if expect_zero:
            assert torch.equal(cond_a.grad, torch.zeros_like(cond_a))
        else:
            assert cond_a.grad.abs().max() > 1e-4
    assert outside.any() and (~outside).any()


@pytest.mark.parametrize("mixer", ["mamba", "attention"])
@pytest.mark.parametrize("mask_mode", ["drop", "soft"])
def test_mixed_masks_in_batch_equal_per_sample(mixer, mask_mode):
    layer = make_layer(mixer, mask_mode=mask_mode)
    x, conds, ident, weights = inputs()
    out = layer(x, conds, ones_gates(), weights, ident)
    for i in range(B):
        one = layer(x[i:i + 1], {n: c[i:i + 1] for n, c in conds.items()},
                    {n: g[i:i + 1] for n, g in ones_gates().items()},
                    {n: w[i:i + 1] for n, w in weights.items()}, ident[i:i + 1])
        torch.testing.assert_close(out[i:i + 1], one, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mixer", ["mamba", "attention"])
def test_scan_mode_controls_cross_frame_dependence(mixer):
    x, conds, ident, weights = inputs()
    grads = {}
    for scan_mode in ("spatial", "spatiotemporal"):
        layer = make_layer(mixer, scan_mode, mask_mode="none")
        cond_a = conds["a"].clone().requires_grad_(True)
        out = layer(x, {"a": cond_a}, {"a": torch.ones(B)}, None, ident)
        out[:, 0].sum().backward()  # frame 0's output ...
        grads[scan_mode] = cond_a.grad[:, 2]  # ... w.r.t. frame 2's condition
    assert torch.equal(grads["spatial"], torch.zeros_like(grads["spatial"]))
    assert grads["spatiotemporal"].abs().max() > 1e-4


def test_pack_roundtrip_and_mixer_contract():
    from actalker.core.pcm.mixers import build_mixer

    torch.manual_seed(0)
    x, conds, ident, weights = inputs()
    cond = torch.randn(B, FR, T, C)
    seq, keep, _ = assemble(x, cond, None, weights["a"] > 0.5, spatiotemporal=True)
    packed, pkeep, order = pack(seq, keep)
    assert packed.shape[1] == int(keep.sum(1).max()) < seq.shape[1]
    restored = unpack(packed, order, pkeep, seq.shape[1])
    assert torch.equal(restored, seq * keep[..., None])
    mixer = build_mixer("mamba", C, d_state=4, d_conv=2)
    direct = mixer(seq, keep)
    via_pack = unpack(mixer(packed, pkeep), order, pkeep, seq.shape[1])
    torch.testing.assert_close(via_pack, direct, rtol=1e-5, atol=1e-5)


def test_masks_area_pool_and_threshold():
    m = torch.zeros(1, 1, 8, 8)
    m[..., :, :3] = 1  # columns 0-2 of 8 -> on a 4-wide grid: cells 0 (full), 1 (half), 2, 3 (empty)
    pooled = pool_to_grid(m, 4, 4)
    assert torch.allclose(pooled[0, 0, 0], torch.tensor([1.0, 0.5, 0.0, 0.0]))
    drop = token_weights(pooled, "drop").reshape(4, 4)
    assert drop[0].tolist() == [1.0, 0.0, 0.0, 0.0]  # exactly half is not "inside"
    assert torch.equal(token_weights(pooled, "soft"), pooled.flatten(2))
    assert token_weights(pooled, "none") is None


def test_solo_rule_per_sample_and_frame():
    masks = {"lower": torch.zeros(2, 4, 4), "whole": torch.ones(2, 4, 4), "upper": torch.full((2, 4, 4), 0.5)}
    gates = {"a": torch.tensor([[1.0, 1.0], [1.0, 1.0]]), "b": torch.tensor([[0.0, 1.0], [0.0, 0.0]])}
    out = resolve_branch_masks(gates, {"a": "lower", "b": "upper"}, {"a": "whole", "b": "whole"}, masks, 2, 2)
    assert out["a"][0, 0].eq(1).all() and out["a"][0, 1].eq(0).all()  # solo in frame 0 only
    assert out["a"][1].eq(1).all()
    assert out["b"][0, 1].eq(0.5).all()
    with pytest.raises(InputError, match="region mask 'upper'"):
        resolve_branch_masks(gates, {"a": "lower", "b": "upper"}, {"a": "whole", "b": "whole"},
                             {"lower": masks["lower"], "whole": masks["whole"]}, 2, 2)


def test_bad_settings_raise_config_error():
    with pytest.raises(ConfigError, match="model.pcm.scan_mode"):
        PCMLayer(C, {"a": D}, scan_mode="zigzag")
    with pytest.raises(ConfigError, match="model.pcm.mixer"):
        PCMLayer(C, {"a": D}, mixer="rnn")


@pytest.mark.parametrize("cond_inject", ["sequence", "every_token"])
def test_condition_reaches_the_whole_region(cond_inject):
    """A condition appended after a long region reaches only its last tokens through the scan
    (the cause of the inert motion branch, docs/results.md); every_token reaches them all."""
    torch.manual_seed(0)
    length = 96
    layer = PCMLayer(C, {"a": D}, scan_mode="spatial", mask_mode="drop", d_state=4, d_conv=2, cond_inject=cond_inject)
    with torch.no_grad():
        layer.out_proj.weight.copy_(torch.randn_like(layer.out_proj.weight) * 0.3)
    x = torch.randn(1, 1, length, C)
    c1, c2 = torch.randn(1, 1, T, D), torch.randn(1, 1, T, D)
    gates = {"a": torch.ones(1)}
    weights = {"a": torch.ones(1, 1, length)}
    change = (layer(x, {"a": c1}, gates, weights) - layer(x, {"a": c2}, gates, weights)).norm(dim=-1)[0, 0]
    first, last = change[: length // 4].mean(), change[-4:].mean()
    assert last > 0
    if cond_inject == "sequence":
        assert first < 0.05 * last
    else:
        assert first > 0.3 * last


def test_unknown_cond_inject_is_a_config_error():
    with pytest.raises(ConfigError, match="cond_inject"):
        PCMLayer(C, {"a": D}, cond_inject="prepend")
