"""Trainable selection, EMA, checkpoint RNG capture and the stop flag."""
import random
import signal

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from actalker.errors import ConfigError
from actalker.train.checkpoint import StopFlag, capture_rng, restore_rng
from actalker.train.ema import EMA
from actalker.train.trainable import select_trainable
from tests.core.tiny_models import tiny_denoiser, tiny_pcm_config
from tests.train.helpers import TINY_UNET


def _names(model, mode):
    return {n for n, _ in select_trainable(model, mode)}


def test_trainable_modes_freeze_the_right_parameters():
    den = tiny_denoiser(unet=TINY_UNET, pcm=tiny_pcm_config(down_levels=[0], up_levels=[0]))
    everything = {n for n, _ in den.named_parameters()}
    backbone = {n for n in everything if n.startswith("backbone.")}
    new = everything - backbone
    assert any(n.startswith("pcm_layers.") for n in new) and any(n.startswith("encoders.") for n in new)
    assert any(n.startswith("guider.") for n in new) and any(n.startswith("id_") for n in new)

    assert _names(den, "pcm") == new
    assert {n for n, p in den.named_parameters() if p.requires_grad} == new

    temporal = _names(den, "pcm+temporal") - new
    assert temporal and temporal < backbone
    assert all(any(k in n for k in ("temporal", "time_mixer", "time_pos_embed")) for n in temporal)
    assert "backbone.conv_in.weight" not in temporal
    assert any(".transformer_blocks." in n for n in backbone - temporal)  # spatial attention stays frozen

    assert _names(den, "all") == everything
    with pytest.raises(ConfigError, match="trainable"):
        select_trainable(den, "lora")


def test_ema_follows_the_average_and_round_trips(tmp_path):
    p = torch.nn.Parameter(torch.zeros(3))
    ema = EMA([("w", p)], decay=0.9, warmup=False)
    expect = torch.zeros(3)
    for value in (1.0, 2.0, 3.0):
        p.data.fill_(value)
        ema.update([("w", p)])
        expect = 0.9 * expect + 0.1 * value
    torch.testing.assert_close(ema.shadow["w"], expect)
    save_file(ema.state_dict(), str(tmp_path / "ema.safetensors"))
    other = EMA([("w", torch.nn.Parameter(torch.ones(3)))], decay=0.5)
    other.load_state_dict(load_file(str(tmp_path / "ema.safetensors")))
    assert other.num_updates == 3 and other.decay == 0.9
    torch.testing.assert_close(other.shadow["w"], expect)
    model = torch.nn.Module()
    model.w = torch.nn.Parameter(torch.zeros(3))
    other.copy_to(model)
    torch.testing.assert_close(model.w.data, expect)


def test_rng_states_survive_safetensors(tmp_path):
    gen = torch.Generator().manual_seed(5)
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    random.gauss(0, 1)  # leaves a cached gaussian in python's state
    state = capture_rng(gen)
    save_file(state, str(tmp_path / "rng.safetensors"))
    first = (random.random(), random.gauss(0, 1), np.random.rand(), np.random.randn(), torch.rand(2), torch.rand(2, generator=gen))
    random.seed(9), np.random.seed(9), torch.manual_seed(9), gen.manual_seed(9)
    restore_rng(load_file(str(tmp_path / "rng.safetensors")), gen)
    again = (random.random(), random.gauss(0, 1), np.random.rand(), np.random.randn(), torch.rand(2), torch.rand(2, generator=gen))
    assert first[:4] == again[:4]
    assert torch.equal(first[4], again[4]) and torch.equal(first[5], again[5])


def test_stop_flag_sets_on_signal_and_restores_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with StopFlag() as stop:
        assert stop.requested is None
        signal.raise_signal(signal.SIGTERM)  # the real handler, in this process
        assert stop.requested == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before


def test_warm_start_copies_only_the_named_prefixes(tmp_path):
    from actalker.train.warm_start import warm_start

    pcm = tiny_pcm_config(down_levels=[0], up_levels=[0])
    torch.manual_seed(0)
    trained = tiny_denoiser(unet=TINY_UNET, pcm=pcm)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)  # unlike any fresh init (PCM out-projections start at zero)
    (tmp_path / "model" / "denoiser").mkdir(parents=True)
    save_file(trained.state_dict(), str(tmp_path / "model" / "denoiser" / "diffusion_pytorch_model.safetensors"))

    torch.manual_seed(1)
    fresh = tiny_denoiser(unet=TINY_UNET, pcm=pcm)
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    n = warm_start(fresh, str(tmp_path / "model"), ["backbone."])
    after, src = fresh.state_dict(), trained.state_dict()
    assert n["copied"] == sum(1 for k in src if k.startswith("backbone.")) and n["mismatched"] == 0
    for k, v in after.items():
        expect = src[k] if k.startswith("backbone.") else before[k]
        assert torch.equal(v, expect), k

    with pytest.raises(ConfigError, match="no denoiser weights"):
        warm_start(fresh, str(tmp_path / "nowhere"), ["backbone."])
    with pytest.raises(ConfigError, match="matches"):
        warm_start(fresh, str(tmp_path / "model"), ["no_such_prefix."])
