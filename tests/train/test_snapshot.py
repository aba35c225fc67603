"""A checkpoint written out as a model folder (python -m actalker.train.snapshot)."""
import pytest
import torch
from safetensors.torch import load_file

from actalker.core.config import Config
from actalker.errors import InputError
from actalker.train.loop import train
from actalker.train.snapshot import main, snapshot
from tests.train.helpers import TINY_VAE, tiny_config, tiny_parts, train_registry


def _denoiser_weights(model_dir):
    return load_file(str(model_dir / "denoiser" / "diffusion_pytorch_model.safetensors"))


def _config_with_saved_vae(tmp_path, **train_kw) -> Config:
    from diffusers import AutoencoderKLTemporalDecoder

    torch.manual_seed(1)
    AutoencoderKLTemporalDecoder(**TINY_VAE).save_pretrained(tmp_path / "vae_stage" / "vae")
    data = tiny_config(tmp_path / "run", **train_kw).model_dump()
    data["model"]["vae"] = {"pretrained_path": str(tmp_path / "vae_stage"), "subfolder": "vae"}
    return Config.model_validate(data)


def test_snapshot_of_the_last_step_is_the_finished_model(tmp_path):
    cfg = _config_with_saved_vae(tmp_path, max_steps=4, checkpoint_every=2, keep_checkpoints=0, ema_decay=0.9)
    result = train(cfg, parts=tiny_parts(cfg), progress=False)
    out = snapshot(tmp_path / "run", tmp_path / "snap4", registry=train_registry())
    final, snap = _denoiser_weights(result.model_dir), _denoiser_weights(out)
    assert final.keys() == snap.keys()
    assert all(torch.equal(final[k], snap[k]) for k in final)  # EMA over the live weights, as training ends
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in result.model_dir.iterdir())

    early = _denoiser_weights(snapshot(tmp_path / "run", tmp_path / "snap2", step=2, registry=train_registry()))
    assert any(not torch.equal(early[k], final[k]) for k in final)


def test_snapshot_errors_name_the_run_and_what_it_has(tmp_path):
    cfg = _config_with_saved_vae(tmp_path, max_steps=2, checkpoint_every=2)
    train(cfg, parts=tiny_parts(cfg), progress=False)
    with pytest.raises(InputError, match=r"no checkpoint at step 7 \(have 2\)"):
        snapshot(tmp_path / "run", tmp_path / "x", step=7, registry=train_registry())
    assert not (tmp_path / "x").exists()
    with pytest.raises(InputError, match="no config.yaml"):
        snapshot(tmp_path, tmp_path / "x", registry=train_registry())


def test_snapshot_refuses_a_run_whose_vae_was_built_from_kwargs(tmp_path):
    cfg = tiny_config(tmp_path / "run", max_steps=2, checkpoint_every=2)
    train(cfg, parts=tiny_parts(cfg), progress=False)
    with pytest.raises(InputError, match="model.vae has no pretrained_path"):
        snapshot(tmp_path / "run", tmp_path / "x", registry=train_registry())


def test_cli_prints_one_line_error_for_a_missing_run(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
