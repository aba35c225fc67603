"""The ``audio`` ModalitySpec: speech -> per-frame feature windows -> condition tokens."""
from __future__ import annotations

import math

import numpy as np
import torch

from actalker.errors import InputError
from actalker.media.audio import read_audio
from actalker.media.timing import fit_length
from actalker.plugins.builtin.audio import features as F
from actalker.plugins.builtin.audio.encoder import FrameMLP
from actalker.plugins.builtin.audio.options import AudioOptions
from actalker.plugins.spec import ControlTarget, ModalitySpec


def feature_shape(opts: AudioOptions) -> tuple[int, ...]:
    w = F.window_len(opts)
    if opts.encoder == "logmel":
        return (w, opts.n_mels)
    return (w, *F.whisper_shape(opts.whisper_path))


def fit_audio(audio: np.ndarray, num_frames: int, fps: float, on_short: str, name: str,
              margin_s: float = 0.0) -> np.ndarray:
    """Audio cut or extended to cover ``num_frames`` at ``fps``.

    Up to ``margin_s`` of real audio past the end is kept (context for the last windows).
    A shortfall under half a frame (codec padding, rounding) is padded silently.
    """
    need = int(round(num_frames / fps * F.SR))
    if len(audio) >= need:
        return audio[: need + int(margin_s * F.SR)]
    if len(audio) < need and need - len(audio) <= F.SR / (2 * fps):
        on_short = "pad"
    describe = (f"audio {name} is {len(audio) / F.SR:.2f} s but {num_frames} frames at {fps:g} fps "
                f"need {need / F.SR:.2f} s")
    return fit_length(audio, need, on_short, pad_value=0.0, describe=describe, pad_means="silence")


def load(path, num_frames: int | None, fps: float, opts: AudioOptions, on_short: str = "error") -> torch.Tensor:
    """Audio (or video-with-sound) file -> (F, *feature_shape); F = whole file when num_frames is None."""
    audio = read_audio(path, F.SR)
    if num_frames is None:
        num_frames = max(1, math.floor(len(audio) / F.SR * fps + 1e-6))
    audio = fit_audio(audio, num_frames, fps, on_short, str(path), margin_s=opts.window_s)
    return F.audio_features(audio, num_frames, fps, opts)


def from_clip(clip, opts: AudioOptions) -> torch.Tensor:
    if clip.audio is None:
        raise InputError(f"clip {clip.id} has no audio; the audio branch needs 16 kHz audio in every clip")
    audio = fit_audio(np.asarray(clip.audio, np.float32), clip.num_frames, clip.fps, "pad", f"of clip {clip.id}",
                      margin_s=opts.window_s)
    return F.audio_features(audio, clip.num_frames, clip.fps, opts)


def build_encoder(opts: AudioOptions, dim: int) -> torch.nn.Module:
    return FrameMLP(feature_shape(opts), opts.hidden, opts.tokens, dim)


def envelope_track(clip, num_frames: int):
    """The speech envelope per frame (what the mouth should follow), None without audio."""
    from actalker.eval.control import audio_envelope  # numpy only

    return None if clip.audio is None else audio_envelope(clip.audio, clip.fps, num_frames)


AUDIO = ModalitySpec(
    name="audio",
    options_model=AudioOptions,
    feature_shape=feature_shape,
    load=load,
    from_clip=from_clip,
    build_encoder=build_encoder,
    default_region="mouth",
    solo_region="face",
    default_gate=1.0,
    cli_flag="audio",
    # null input = zeros: for logmel that is the average speech level (fixed normalisation),
    # for whisper the origin of every hidden state, as in the paper
    description="Speech (any audio or video-with-sound file, 16 kHz): a ~0.2 s window of log-mel or "
    "Whisper features per frame, steering the mouth.",
    drives=(ControlTarget("mouth", truth="mouth_open", track=envelope_track),),
)
