"""A model folder carries the encoders its branches need (issue 13): the Whisper folder of an
audio branch is copied (hard-linked) into ``assets/`` and referenced relatively, so moving
the original Whisper folder, and the model folder itself, does not break generation."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from actalker.core.assets import asset_fields
from actalker.core.denoiser import ACTalkerDenoiser
from actalker.core.denoiser_loading import CONFIG_NAME
from actalker.core.pipeline import ACTalkerPipeline
from actalker.core.schema import Config
from actalker.plugins import load_registry
from actalker.plugins.builtin.audio import features as F
from actalker.plugins.builtin.audio.options import AudioOptions
from tests.core.tiny_models import tiny_pcm_config, tiny_unet_config

SIZE = 16


def tiny_whisper(path):
    import transformers

    cfg = transformers.WhisperConfig(
        d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=32, decoder_ffn_dim=32, num_mel_bins=80, vocab_size=64, max_target_positions=16,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    torch.manual_seed(0)
    transformers.WhisperModel(cfg).save_pretrained(path)
    return path


def audio_model(whisper) -> ACTalkerPipeline:
    from tests.core.test_pipeline import tiny_vae

    cfg = Config.model_validate({
        "sampling": dict(steps=1, height=SIZE, width=SIZE, decode_chunk=2),
        "model": {
            "unet": {"config": tiny_unet_config()},
            "branches": {"audio": {"options": {"encoder": "whisper", "whisper_path": str(whisper), "tokens": 2,
                                               "hidden": 16}}},
            "pcm": tiny_pcm_config(mixer="attention"), "cond_dim": 8, "identity": {"kind": "learned", "dim": 12},
        },
    })
    reg = load_registry()
    den = ACTalkerDenoiser.from_model_config(cfg.model, registry=reg).eval()
    pipe = ACTalkerPipeline(den, tiny_vae().eval(), None, None, cfg, reg)
    pipe.progress = False
    return pipe


def generate(pipe) -> np.ndarray:
    opts = pipe.branch("audio").options
    audio = np.sin(np.linspace(0, 400, F.SR)).astype(np.float32)
    feats = F.audio_features(audio, 2, 12.5, opts)
    img = np.random.RandomState(0).randint(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    return pipe(img, {"audio": feats}, boxes=[0.1, 0.1, 0.9, 0.9], seed=0, fps=12.5)


def test_audio_marks_whisper_path_as_an_asset():
    assert asset_fields(AudioOptions) == ["whisper_path"]


def test_moving_the_whisper_folder_and_the_model_keeps_generation(tmp_path):
    pipe = audio_model(tiny_whisper(tmp_path / "whisper"))
    before = generate(pipe)
    folder = pipe.save_pretrained(tmp_path / "model")
    copied = folder / "assets" / "audio" / "whisper_path"
    assert (copied / "config.json").is_file()
    saved = json.loads((folder / "denoiser" / CONFIG_NAME).read_text())
    assert saved["branches"]["audio"]["options"]["whisper_path"] == "assets/audio/whisper_path"
    assert "whisper_path: assets/audio/whisper_path" in (folder / "config.yaml").read_text()

    (tmp_path / "whisper").rename(tmp_path / "whisper_moved")
    folder = folder.rename(tmp_path / "elsewhere")
    loaded = ACTalkerPipeline.from_pretrained(folder)
    loaded.progress = False
    assert loaded.branch("audio").options.whisper_path == str((folder / "assets/audio/whisper_path").resolve())
    assert loaded.config.model.branches["audio"].options["whisper_path"] == loaded.branch("audio").options.whisper_path
    assert np.array_equal(generate(loaded), before)
    again = loaded.save_pretrained(tmp_path / "again")  # a loaded model saves its assets again
    assert (again / "assets" / "audio" / "whisper_path" / "config.json").is_file()


@pytest.mark.parametrize("name", ["config.yaml", f"denoiser/{CONFIG_NAME}"])
def test_no_absolute_asset_path_is_saved(tmp_path, name):
    pipe = audio_model(tiny_whisper(tmp_path / "whisper"))
    folder = pipe.save_pretrained(tmp_path / "model")
    assert str(tmp_path / "whisper") not in (folder / name).read_text()
