"""The built-in audio modality: options, log-mel and Whisper features, loading, encoder."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from actalker.errors import InputError, ShapeError
from actalker.media import write_video, write_wav
from actalker.plugins.builtin.audio import features as F
from actalker.plugins.builtin.audio.modality import AUDIO
from actalker.plugins.builtin.audio.options import AudioOptions

SR = 16000


def _speechy(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise bursts at a syllable rate: loud and quiet stretches."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 4 * t) > 0)).astype(np.float32)


def test_options_validate():
    with pytest.raises(ValidationError):
        AudioOptions(windw_s=0.2)
    with pytest.raises(ValidationError, match="whisper_path"):
        AudioOptions(encoder="whisper")
    with pytest.raises(ValidationError, match="not supported"):
        AudioOptions(freeze_whisper=False)
    assert all(f.description for f in AudioOptions.model_fields.values())


def test_declaration():
    assert (AUDIO.name, AUDIO.cli_flag, AUDIO.default_region, AUDIO.solo_region) == ("audio", "audio", "mouth", "face")
    assert AUDIO.default_gate == 1.0 and AUDIO.feature_shape(AudioOptions()) == (20, 80)


def test_registered_as_builtin():
    from actalker.plugins import load_registry

    assert load_registry("builtin").modality("audio").default_region == "mouth"


@pytest.mark.parametrize("fps,frames", [(25, 50), (12.5, 25)])
def test_logmel_shapes(fps, frames):
    opts = AudioOptions(n_mels=40)
    feats = F.audio_features(_speechy(2.0), frames, fps, opts)
    assert feats.shape == (frames, 20, 40) and feats.dtype == torch.float32 and torch.isfinite(feats).all()


def test_logmel_follows_loudness():
    audio = np.concatenate([np.zeros(SR, np.float32), _speechy(1.0)])
    feats = F.audio_features(audio, 50, 25, AudioOptions())
    assert feats[:20].max() < -5  # digital silence sits at the floor...
    assert feats[30:].mean() > feats[:20].mean() + 2  # ...far below the bursts


def test_windows_are_centred_and_edge_padded():
    seq = torch.arange(100.0)  # item k centred at k / 100 s
    win = F.frame_windows(seq, 100, 25, 25, 9)
    assert win.shape == (25, 9)
    centres = (torch.arange(25) + 0.5) / 25 * 100
    assert (win[2:-2].mean(1) - centres[2:-2]).abs().max() <= 0.5
    assert win[0, :4].tolist() == [0, 0, 0, 1] and win[-1, -3:].tolist() == [99, 99, 99]  # edge-padded


def _clip(audio, n=20, fps=25):
    return SimpleNamespace(id="c0", fps=fps, num_frames=n, audio=audio)


def test_load_file_short_pad_loop(tmp_path):
    write_wav(tmp_path / "a.wav", _speechy(2.0))
    opts = AudioOptions()
    assert AUDIO.load(tmp_path / "a.wav", 40, 25, opts).shape == (40, 20, 80)
    assert AUDIO.load(tmp_path / "a.wav", None, 25, opts).shape == (50, 20, 80)
    with pytest.raises(InputError) as err:
        AUDIO.load(tmp_path / "a.wav", 75, 25, opts)
    msg = str(err.value)
    assert "a.wav" in msg and "2.00 s" in msg and "3.00 s" in msg and "on_short='pad'" in msg and "loop" in msg
    padded = AUDIO.load(tmp_path / "a.wav", 75, 25, opts, on_short="pad")
    silence = F.audio_features(np.zeros(SR, np.float32), 5, 25, opts)
    torch.testing.assert_close(padded[-3:], silence[:3])  # pad = silence
    looped = AUDIO.load(tmp_path / "a.wav", 75, 25, opts, on_short="loop")
    assert looped.shape == (75, 20, 80) and looped[-5:].mean() > silence.mean() + 1


def test_load_video_with_sound_and_from_clip(tmp_path):
    audio = _speechy(1.0)
    video = write_video(tmp_path / "v.mp4", np.zeros((25, 32, 32, 3), np.uint8), 25, audio=audio)
    assert AUDIO.load(video, 25, 25, AudioOptions()).shape == (25, 20, 80)
    assert AUDIO.from_clip(_clip(audio), AudioOptions()).shape == (20, 20, 80)
    with pytest.raises(InputError, match="clip c0 has no audio"):
        AUDIO.from_clip(_clip(None), AudioOptions())


def test_encoder_shapes_and_errors():
    opts = AudioOptions(tokens=3, hidden=32)
    enc = AUDIO.build_encoder(opts, 24)
    x = torch.randn(2, 5, 20, 80, requires_grad=True)
    y = enc(x)
    assert y.shape == (2, 5, 3, 24)
    y.sum().backward()
    assert x.grad.abs().sum() > 0
    with pytest.raises(ShapeError, match=r"\(B, F, 20, 80\)"):
        enc(torch.randn(2, 5, 10, 80))


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.WhisperConfig(
        d_model=16, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=32, decoder_ffn_dim=32, num_mel_bins=80, vocab_size=64, max_target_positions=16,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("whisper")
    transformers.WhisperModel(cfg).save_pretrained(path)
    return path


def test_whisper_end_to_end(tiny_whisper, tmp_path):
    opts = AudioOptions(encoder="whisper", whisper_path=str(tiny_whisper), tokens=2, hidden=16)
    assert AUDIO.feature_shape(opts) == (10, 3, 16)  # 0.2 s at 50 tokens/s, 2 layers + embeddings
    write_wav(tmp_path / "a.wav", _speechy(1.5))
    feats = AUDIO.load(tmp_path / "a.wav", 30, 25, opts)
    assert feats.shape == (30, 10, 3, 16) and torch.isfinite(feats).all()
    assert not torch.allclose(feats[:, :, 0], feats[:, :, 2])  # distinct layers, not copies
    assert AUDIO.build_encoder(opts, 8)(feats[None]).shape == (1, 30, 2, 8)


def test_whisper_long_audio_in_chunks(tiny_whisper):
    audio = _speechy(31.0)
    hidden = F.whisper_hidden(audio, str(tiny_whisper))
    assert hidden.shape == (1550, 3, 16)  # 30 s + 1 s chunks, 50 tokens/s
    torch.testing.assert_close(hidden[:1500], F.whisper_hidden(audio[: 30 * SR], str(tiny_whisper)))


def test_whisper_bad_path(tmp_path):
    opts = AudioOptions(encoder="whisper", whisper_path=str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match="nowhere"):
        AUDIO.feature_shape(opts)
