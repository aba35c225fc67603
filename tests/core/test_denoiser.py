"""ACTalkerDenoiser on a tiny random SVD UNet: backbone equivalence, gates, masks, save/load, SVD loading."""
from __future__ import annotations

import pytest
import torch
from diffusers.models import UNetSpatioTemporalConditionModel

from actalker.core.denoiser import ACTalkerDenoiser
from actalker.errors import ConfigError, InputError, PluginError, ShapeError
from tests.core.tiny_models import (randomize_new_modules, tiny_denoiser, tiny_inputs, tiny_registry,
                                    tiny_unet_config)


def run(den, **inp):
    with torch.no_grad():
        return den(**inp).sample


@pytest.fixture(scope="module")
def trained():
    """A tiny denoiser whose new modules are non-zero (as after training)."""
    torch.manual_seed(0)
    den = tiny_denoiser().eval()
    randomize_new_modules(den)
    return den


def test_fresh_denoiser_equals_plain_unet():
    den = tiny_denoiser().eval()
    inp = tiny_inputs()
    out = run(den, **inp)
    unet = UNetSpatioTemporalConditionModel(**tiny_unet_config()).eval()
    unet.load_state_dict(den.backbone.state_dict())
    with torch.no_grad():
        ctx = den.identity_token(None, inp["sample"])
        ref = unet(inp["sample"], inp["timestep"], ctx, inp["added_time_ids"]).sample
    assert out.shape == (2, 3, 4, 8, 8)
    assert (out - ref).abs().max() <= 1e-6


def test_trained_modules_change_output(trained):
    inp = tiny_inputs()
    plain = run(trained, **{**inp, "conditions": {}, "face_mask": None})
    assert (run(trained, **inp) - plain).abs().max() > 1e-3


def test_gate_zero_equals_model_without_branch(trained):
    only_a = tiny_denoiser(branches={"a": {"modality": "sig_a"}}).eval()
    missing, unexpected = only_a.load_state_dict(trained.state_dict(), strict=False)
    assert not missing and any(".b." in k for k in unexpected)
    inp = tiny_inputs()
    closed = run(trained, **{**inp, "gates": {"b": 0.0}})
    without = run(only_a, **{**inp, "conditions": {"a": inp["conditions"]["a"]}})
    assert torch.equal(closed, without)
    absent = run(trained, **{**inp, "conditions": {"a": inp["conditions"]["a"]}})
    assert torch.equal(closed, absent)


def test_gates_floats_tensors_and_frame_schedules(trained):
    inp = tiny_inputs()
    as_float = run(trained, **{**inp, "gates": {"a": 0.7}})
    as_frames = run(trained, **{**inp, "gates": {"a": torch.full((2, 3), 0.7)}})
    torch.testing.assert_close(as_float, as_frames, rtol=0, atol=0)
    assert torch.equal(trained._gates({"a": 0.7}, ["a"], 2, 3, as_float)["a"],
                       trained._gates({"a": torch.full((2,), 0.7)}, ["a"], 2, 3, as_float)["a"])
    sched = run(trained, **{**inp, "gates": {"a": torch.tensor([[0.7, 0.0, 0.7]] * 2)}})
    assert (sched - as_float).abs().max() > 1e-4
    default = run(trained, **inp)  # b's default gate is the plugin's 0.5
    assert torch.equal(default, run(trained, **{**inp, "gates": {"a": 1.0, "b": 0.5}}))


def test_mixed_masks_in_batch_equal_per_sample(trained):
    inp = tiny_inputs()  # the two samples have different face boxes, so different region masks
    assert not torch.equal(inp["region_masks"]["lower"][0], inp["region_masks"]["lower"][1])
    both = run(trained, **inp)
    for i in range(2):
        one = {k: (v[i:i + 1] if torch.is_tensor(v) and v.dim() else v) for k, v in inp.items()}
        one["conditions"] = {n: c[i:i + 1] for n, c in inp["conditions"].items()}
        one["region_masks"] = {n: m[i:i + 1] for n, m in inp["region_masks"].items()}
        torch.testing.assert_close(run(trained, **one), both[i:i + 1], rtol=1e-4, atol=1e-5)


def test_save_load_roundtrip(trained, tmp_path):
    trained.save_pretrained(tmp_path / "model")
    assert (tmp_path / "model" / "diffusion_pytorch_model.safetensors").is_file()
    loaded = ACTalkerDenoiser.from_pretrained(tmp_path / "model", registry=tiny_registry()).eval()
    inp = tiny_inputs()
    assert torch.equal(run(loaded, **inp), run(trained, **inp))
    br = loaded.config.branches
    assert br["b"]["region"] == "upper" and br["b"]["gate"] == 0.5 and br["b"]["options"] == {"tokens": 1}
    assert loaded.config.required_plugins == {"sig_a": "actalker-fake", "sig_b": "actalker-fake"}


def test_missing_plugin_names_package(trained, tmp_path):
    trained.save_pretrained(tmp_path / "model")
    with pytest.raises(PluginError, match="sig_b.*actalker-fake"):
        ACTalkerDenoiser.from_pretrained(tmp_path / "model", registry=tiny_registry(with_b=False))
    with pytest.raises(InputError, match="no denoiser"):
        ACTalkerDenoiser.from_pretrained(tmp_path / "nothing", registry=tiny_registry())


def test_from_svd_loads_diffusers_unet(tmp_path):
    torch.manual_seed(3)
    unet = UNetSpatioTemporalConditionModel(**tiny_unet_config()).eval()
    unet.save_pretrained(tmp_path / "svd" / "unet")
    den = ACTalkerDenoiser.from_svd(tmp_path / "svd", branches={"a": {"modality": "sig_a"}},
                                    pcm={"down_levels": [0], "up_levels": [1], "d_state": 4},
                                    cond_dim=8, identity={"kind": "clip", "dim": 16}, registry=tiny_registry()).eval()
    inp = tiny_inputs()
    clip = torch.randn(2, 16)
    inp["conditions"] = {"a": inp["conditions"]["a"]}
    out = run(den, **{**inp, "identity": clip})
    with torch.no_grad():  # identity-initialised clip projection: SVD sees its own context
        ref = unet(inp["sample"], inp["timestep"], clip[:, None], inp["added_time_ids"]).sample
    assert (out - ref).abs().max() <= 1e-6
    with pytest.raises(InputError, match="identity is required"):
        den(**inp)
    with pytest.raises(InputError, match="no diffusers UNet"):
        ACTalkerDenoiser.from_svd(tmp_path / "empty", registry=tiny_registry())


def test_gradient_checkpointing_gives_same_grads(trained):
    den = tiny_denoiser().train()
    den.load_state_dict(trained.state_dict())
    inp = tiny_inputs(batch=1)
    inp["region_masks"] = {n: m[:1] for n, m in inp["region_masks"].items()}

    def grads():
        den.zero_grad()
        den(**inp).sample.square().mean().backward()
        return {n: p.grad.clone() for n, p in den.named_parameters() if "pcm_layers" in n and p.grad is not None}

    plain = grads()
    den.enable_gradient_checkpointing()
    ckpt = grads()
    assert plain and plain.keys() == ckpt.keys()
    for name in plain:
        torch.testing.assert_close(ckpt[name], plain[name], rtol=1e-4, atol=1e-6)


def test_attention_mixer_and_spatial_scan_run():
    den = tiny_denoiser(pcm={"down_levels": [1], "up_levels": [0], "mixer": "attention", "scan_mode": "spatial"})
    randomize_new_modules(den)
    out = run(den.eval(), **tiny_inputs())
    assert out.shape == (2, 3, 4, 8, 8) and torch.isfinite(out).all()
    assert list(den.pcm_layers) == ["down1_0_0", "up0_0_0", "up0_1_0"]  # up levels have one more


def test_token_count_pcm_off_and_model_config():
    from actalker.core.config import ModelConfig

    den = tiny_denoiser(branches={"a": {"modality": "sig_a", "tokens": 1}})
    assert den.encode_conditions({"a": torch.randn(1, 3, 3, 5)})["a"].shape == (1, 3, 1, 8)
    off = tiny_denoiser(pcm={"enabled": False})
    assert len(off.pcm_layers) == 0
    cfg = ModelConfig(unet={"config": tiny_unet_config()}, pcm={"down_levels": [1], "up_levels": []},
                      branches={"a": {"modality": "sig_a", "region": "upper"}}, cond_dim=4,
                      identity={"kind": "arcface", "dim": 8}, face_guider=False)
    built = ACTalkerDenoiser.from_model_config(cfg, registry=tiny_registry())
    assert list(built.pcm_layers) == ["down1_0_0"] and built.guider is None and built.id_encoder is None
    assert built.config.branches["a"]["region"] == "upper" and built.config.branches["a"]["solo_region"] == "whole"


def test_level_config_errors():
    with pytest.raises(ConfigError, match=r"model\.pcm\.down_levels has level 2.*2 down levels"):
        tiny_denoiser(pcm={"down_levels": [2], "up_levels": []})
    plain_top = tiny_unet_config(down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
                                 up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"))
    with pytest.raises(ConfigError, match=r"model\.pcm\.up_levels has level 0, a UpBlockSpatioTemporal"):
        tiny_denoiser(unet=plain_top, pcm={"down_levels": [0], "up_levels": [0]})
    with pytest.raises(ConfigError, match=r"model\.pcm: unknown key 'levels'"):
        tiny_denoiser(pcm={"levels": [0]})


def test_user_errors_are_one_line(trained):
    inp = tiny_inputs()
    with pytest.raises(InputError, match="gates names unknown branch 'c'"):
        trained(**{**inp, "gates": {"c": 1.0}})
    with pytest.raises(InputError, match="no region mask 'upper' for branch 'b'"):
        trained(**{**inp, "region_masks": {"lower": inp["region_masks"]["lower"]}})
    with pytest.raises(ShapeError, match=r"conditions\['a'\] has shape"):
        trained(**{**inp, "conditions": {"a": torch.zeros(2, 3, 4)}})
    with pytest.raises(ShapeError, match="sample has shape"):
        trained(**{**inp, "sample": inp["sample"][:, :, :4]})
