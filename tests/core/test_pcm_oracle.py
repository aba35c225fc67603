"""The PCM layer against an independent oracle written from its formula (layer.py):

    out = x + P( sum_k g_k * w_k * LN_k(mixer_k([v_k tokens of the region ; id ; cond_k])) )

The oracle builds each branch's sequence by hand, sample by sample and frame by frame (a
python list of the region's tokens, no pack / unpack / assemble), runs the branch's own
mixer on it without a keep mask, and puts the outputs back where the tokens came from. The
mixers have their own oracles (test_mamba_oracle.py; the attention one below), so this
checks what the layer adds: the token layout, the identity token, where the condition
enters, mask-drop and soft masks, per-frame gates, the norm, the projection and the sign
of the residual. Every parameter is moved off its init first (a fresh out-projection is 0,
which would hide every term behind it).
"""
from __future__ import annotations

import math

import pytest
import torch

from actalker.core.pcm import PCMLayer
from actalker.core.pcm.mixers import AttentionMixer
from tests.core.tiny_models import perturb_parameters

B, FR, L, C, T, D, ID = 2, 3, 6, 8, 2, 5, 4


def branch_oracle(br, x, cond, ident, weight, mask_mode, spatiotemporal):
    """One branch's term w * LN(mixer(...)) for every token, (B, F, L, W)."""
    v = br.in_proj(x)
    c = br.cond_proj(cond)
    if br.cond_every_token:
        v = v + c.mean(dim=2, keepdim=True)
    w = torch.ones(x.shape[:3], dtype=x.dtype) if weight is None else weight
    if mask_mode == "soft" and weight is not None:
        v = v * w[..., None]
    scanned = (w > 0.5) if (mask_mode == "drop" and weight is not None) else torch.ones_like(w, dtype=torch.bool)
    idt = None if (br.id_proj is None or ident is None) else br.id_proj(ident)
    out = torch.zeros(x.shape[0], x.shape[1], x.shape[2], v.shape[-1], dtype=x.dtype)
    for b in range(x.shape[0]):
        runs = []  # per scanned sequence: its tokens, and (index in it, frame, token) of each visual one
        for f in range(x.shape[1]):
            if not runs or not spatiotemporal:  # spatio-temporal: every frame's chunk in one sequence
                runs.append(([], []))
            seq, visual = runs[-1]
            for i in range(x.shape[2]):
                if scanned[b, f, i]:
                    visual.append((len(seq), f, i))
                    seq.append(v[b, f, i])
            seq += ([idt[b]] if idt is not None else []) + [c[b, f, t] for t in range(c.shape[2])]
        for seq, visual in runs:
            y = br.mixer(torch.stack(seq)[None])[0]
            for j, f, i in visual:
                out[b, f, i] = br.norm(y[j])
    return out * w[..., None]


def layer_oracle(layer, x, conds, gates, weights, ident):
    total = 0
    for name, cond in conds.items():
        weight = None if (weights is None or layer.mask_mode == "none") else weights.get(name)
        term = branch_oracle(layer.branches[name], x, cond, ident, weight, layer.mask_mode,
                             layer.scan_mode == "spatiotemporal")
        gate = gates[name] if gates[name].dim() == 2 else gates[name][:, None].expand(x.shape[0], x.shape[1])
        total = total + term * gate[:, :, None, None]
    return x + layer.out_proj(total)


def inputs(seed=0, mask_mode="soft"):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, FR, L, C, generator=g, dtype=torch.float64)
    conds = {n: torch.randn(B, FR, T, D, generator=g, dtype=torch.float64) for n in ("a", "b")}
    ident = torch.randn(B, ID, generator=g, dtype=torch.float64)
    a = torch.zeros(B, FR, L, dtype=torch.float64)
    a[0, :, 3:] = 1.0          # sample 0: the last half
    a[1, :, ::2] = 1.0         # sample 1: every other token
    a[1, 2, 1] = 0.5           # soft edges: in soft mode the weight scales the token
    a[0, 1, 0] = 0.75
    weights = {"a": a, "b": (1.0 - a).clamp(0, 1)}
    if mask_mode == "drop":  # drop's weights are 0/1 (masks.token_weights owns the threshold)
        weights = {k: (w > 0.5).to(w.dtype) for k, w in weights.items()}
    # per-frame gates: branch a closed in frame 1 of sample 0, b half open everywhere
    gates = {"a": torch.tensor([[1.0, 0.0, 0.7], [0.3, 1.0, 1.0]], dtype=torch.float64),
             "b": torch.full((B,), 0.5, dtype=torch.float64)}
    return x, conds, ident, weights, gates


def make_layer(mixer, scan_mode, mask_mode, cond_inject, id_token=True):
    torch.manual_seed(0)
    layer = PCMLayer(C, {"a": D, "b": D}, scan_mode=scan_mode, mask_mode=mask_mode, mixer=mixer,
                     d_state=3, d_conv=2, id_dim=ID, id_token=id_token, width=C, cond_inject=cond_inject)
    layer = layer.double()
    perturb_parameters(layer)
    return layer


@pytest.mark.parametrize("mixer", ["mamba", "attention"])
@pytest.mark.parametrize("scan_mode", ["spatial", "spatiotemporal"])
@pytest.mark.parametrize("mask_mode", ["drop", "soft", "none"])
@pytest.mark.parametrize("cond_inject", ["every_token", "sequence"])
def test_layer_equals_the_formula(mixer, scan_mode, mask_mode, cond_inject):
    layer = make_layer(mixer, scan_mode, mask_mode, cond_inject)
    x, conds, ident, weights, gates = inputs(mask_mode=mask_mode)
    with torch.no_grad():
        got = layer(x, conds, gates, weights, ident)
        want = layer_oracle(layer, x, conds, gates, weights, ident)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)  # the scan keeps A in float32


def test_a_closed_first_branch_skips_only_itself():
    layer = make_layer("mamba", "spatial", "drop", "every_token")
    x, conds, ident, weights, gates = inputs(mask_mode="drop")
    gates["a"] = torch.zeros(B, FR, dtype=torch.float64)
    with torch.no_grad():
        got = layer(x, conds, gates, weights, ident)
        want = layer_oracle(layer, x, {"b": conds["b"]}, gates, weights, ident)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert (got - x).abs().max() > 1e-3  # branch b is still there


def test_without_an_id_token_the_identity_is_ignored():
    layer = make_layer("mamba", "spatial", "drop", "every_token", id_token=False)
    x, conds, ident, weights, gates = inputs(mask_mode="drop")
    with torch.no_grad():
        torch.testing.assert_close(layer(x, conds, gates, weights, ident),
                                   layer(x, conds, gates, weights, None), rtol=0, atol=0)
        torch.testing.assert_close(layer(x, conds, gates, weights, ident),
                                   layer_oracle(layer, x, conds, gates, weights, None), rtol=1e-5, atol=1e-6)


def test_a_bfloat16_layer_takes_float32_conditions_and_gates():
    # conditions and gates come from float32 encoders and schedules; the layer casts them
    layer = make_layer("mamba", "spatial", "drop", "every_token").to(torch.bfloat16)
    x, conds, ident, weights, gates = inputs(mask_mode="drop")
    out = layer(x.to(torch.bfloat16), {k: v.float() for k, v in conds.items()},
                {k: v.float() for k, v in gates.items()}, {k: v.float() for k, v in weights.items()},
                ident.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()


def attention_oracle(m: AttentionMixer, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Multi-head attention by hand: head h uses channels [h*dh, (h+1)*dh) of q, k and v."""
    s, l, w = x.shape
    dh = w // m.heads
    q, k, v = m.qkv(x).split(w, dim=-1)
    out = torch.zeros_like(x)
    for h in range(m.heads):
        sl = slice(h * dh, (h + 1) * dh)
        scores = q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(dh)
        scores = scores.masked_fill(~keep[:, None, :], float("-inf"))
        out[..., sl] = torch.softmax(scores, dim=-1) @ v[..., sl]
    return m.out(out) * keep[..., None]


def test_attention_mixer_equals_multi_head_attention_by_hand():
    torch.manual_seed(0)
    m = AttentionMixer(64).double()  # 2 heads of 32
    assert m.heads == 2
    x = torch.randn(3, 7, 64, dtype=torch.float64)
    keep = torch.rand(3, 7) > 0.3
    keep[:, 0] = True
    with torch.no_grad():
        got = m(x, keep)
        torch.testing.assert_close(got, attention_oracle(m, x, keep), rtol=1e-10, atol=1e-10)
    assert (got[~keep] == 0).all()  # the mixer contract: dropped tokens give exactly 0


@pytest.mark.parametrize("width,head_dim,heads", [(64, 32, 2), (96, 32, 3), (32, 32, 1), (48, 32, 1),
                                                  (66, 33, 2), (40, 8, 5), (80, 32, 1)])
def test_attention_heads_are_width_over_head_dim_when_it_divides(width, head_dim, heads):
    assert AttentionMixer(width, head_dim).heads == heads
    if head_dim == 32:
        assert AttentionMixer(width).heads == heads  # 32 is the default


def test_pack_cuts_to_the_longest_row():
    from actalker.core.pcm.tokens import pack

    seq = torch.randn(3, 5, 2)
    keep = torch.zeros(3, 5, dtype=torch.bool)
    keep[1, 3] = True  # the longest row keeps one token
    packed, packed_keep, order = pack(seq, keep)
    assert packed.shape == (3, 1, 2) and packed_keep.tolist() == [[False], [True], [False]]
    assert torch.equal(packed[1, 0], seq[1, 3])
    assert pack(seq, torch.zeros_like(keep))[0].shape == (3, 1, 2)  # nothing kept: one padding slot


def test_layer_defaults():
    layer = PCMLayer(8, {"a": 4})
    mixer = layer.branches["a"].mixer
    assert (mixer.d_state, mixer.d_conv, mixer.d_inner, mixer.bidirectional) == (16, 4, 8, True)
    assert (layer.scan_mode, layer.mask_mode) == ("spatiotemporal", "drop")
    assert layer.branches["a"].id_proj is None and layer.branches["a"].cond_every_token


def test_layer_options_reach_every_branch():
    from actalker.core.mamba import MambaBlock

    layer = PCMLayer(8, {"a": 4, "b": 3}, mixer="mamba", d_state=3, d_conv=2, expand=2, bidirectional=False,
                     id_token=True, id_dim=5, width=6, cond_inject="sequence")
    for name, cond_dim in (("a", 4), ("b", 3)):
        br = layer.branches[name]
        assert isinstance(br.mixer, MambaBlock)
        assert (br.mixer.d_state, br.mixer.d_conv, br.mixer.d_inner, br.mixer.bidirectional) == (3, 2, 12, False)
        assert br.id_proj.in_features == 5 and br.cond_proj.in_features == cond_dim and not br.cond_every_token
    assert PCMLayer(8, {"a": 4}, id_dim=5).branches["a"].id_proj is not None  # id_token defaults on
    assert PCMLayer(8, {"a": 4}, id_dim=5, id_token=False).branches["a"].id_proj is None
    assert isinstance(PCMLayer(8, {"a": 4}, mixer="attention").branches["a"].mixer, AttentionMixer)


def test_branch_and_mixer_defaults():
    from actalker.core.pcm.branch import PCMBranch
    from actalker.core.pcm.mixers import build_mixer

    for mixer in (PCMBranch(8, 8, 4, None).mixer, build_mixer("mamba", 8)):
        assert (type(mixer).__name__, mixer.d_state, mixer.d_conv, mixer.d_inner, mixer.bidirectional) == \
            ("MambaBlock", 16, 4, 8, True)
    assert PCMBranch(8, 8, 4, None).cond_every_token
    no_conv = build_mixer("mamba", 8, d_conv=0)  # d_conv 0: the block without its causal conv
    assert not no_conv.use_conv and not hasattr(no_conv, "conv1d")
    width_one = build_mixer("mamba", 8, d_conv=1)  # the smallest conv is still a conv
    assert width_one.use_conv and width_one.d_conv == 1 and width_one.conv1d.weight.shape[-1] == 1
    with pytest.raises(ValueError) as err:
        build_mixer("rnn", 8)
    assert str(err.value) == "unknown PCM mixer 'rnn'; expected one of ('mamba', 'attention')"


@pytest.mark.parametrize("key,value,allowed", [
    ("scan_mode", "zigzag", "spatial, spatiotemporal"), ("mask_mode", "hard", "drop, soft, none"),
    ("mixer", "rnn", "mamba, attention"), ("cond_inject", "both", "sequence, every_token")])
def test_a_bad_setting_names_its_key_and_the_choices(key, value, allowed):
    from actalker.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        PCMLayer(8, {"a": 4}, **{key: value})
    assert str(err.value) == f"model.pcm.{key} is {value!r}; expected one of {allowed}"
