"""Audio features per video frame: a window of feature frames centred on each video frame.

Two feature sequences, both at 16 kHz input:
- ``logmel``: log-mel spectrogram from ``torch.stft`` (25 ms Hann window, 10 ms hop ->
  100 frames/s), no weights. Normalised with fixed constants measured on speech, so a zero
  input (the null condition) means "average speech level" and features of a clip never
  depend on the rest of the recording.
- ``whisper``: every hidden state of a local Whisper encoder (embeddings + each layer),
  50 tokens/s, computed in 30 s chunks (Whisper's fixed input length).

Video frame i covers [i/fps, (i+1)/fps); its window is the ``window`` sequence frames whose
centres are nearest the frame's centre, edge-padded at both ends of the recording.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch

from actalker.errors import InputError

SR = 16000
LOGMEL_RATE = 100  # feature frames per second (hop 160 samples)
WHISPER_RATE = 50  # encoder tokens per second
WHISPER_CHUNK_S = 30
_N_FFT, _HOP = 400, 160
# mean / std of log10 mel power measured on real speech (../shared/media/speech_52s.mp3)
LOGMEL_MEAN, LOGMEL_STD, LOGMEL_FLOOR = 0.7, 1.5, 1e-8


def rate_of(encoder: str) -> int:
    return LOGMEL_RATE if encoder == "logmel" else WHISPER_RATE


def window_len(opts) -> int:
    """Sequence frames per video frame: ``window_s`` at the encoder's rate, at least 1."""
    return max(1, int(round(opts.window_s * rate_of(opts.encoder))))


@functools.lru_cache(maxsize=8)
def mel_filterbank(n_mels: int, n_fft: int = _N_FFT, sr: int = SR) -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) triangular filters on the HTK mel scale, 0 Hz to sr / 2."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = hz(np.linspace(mel(0.0), mel(sr / 2), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    return torch.from_numpy(tri.T.astype(np.float32))


def logmel(audio: np.ndarray, n_mels: int = 80) -> torch.Tensor:
    """(T, n_mels) normalised log-mel at 100 frames/s of float mono 16 kHz audio."""
    x = torch.as_tensor(np.asarray(audio, np.float32))
    if len(x) < _N_FFT:  # stft needs at least one full window
        x = torch.nn.functional.pad(x, (0, _N_FFT - len(x)))
    spec = torch.stft(x, _N_FFT, _HOP, window=torch.hann_window(_N_FFT), center=True, return_complex=True)
    power = spec.abs().pow(2).T  # (T, n_fft // 2 + 1)
    mel = power @ mel_filterbank(n_mels)
    return (torch.log10(mel.clamp_min(LOGMEL_FLOOR)) - LOGMEL_MEAN) / LOGMEL_STD


@functools.lru_cache(maxsize=2)
def _load_whisper(path: str):
    """(feature extractor, frozen encoder) for a local Whisper folder, loaded once per process."""
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel
    from transformers.utils import logging as hf_logging

    p = Path(path)
    hf_logging.disable_progress_bar()  # a loading bar per call is noise in CLI output
    try:
        config = WhisperConfig.from_pretrained(p, local_files_only=True)
        model = WhisperModel.from_pretrained(p, local_files_only=True)
    except Exception as err:
        raise InputError(
            f"cannot load a Whisper model from {p}: expected a transformers Whisper folder (config.json + weights)"
        ) from err
    finally:
        hf_logging.enable_progress_bar()
    if (p / "preprocessor_config.json").is_file():
        fe = WhisperFeatureExtractor.from_pretrained(p, local_files_only=True)
    else:  # a bare model folder: the standard extractor with the model's mel count
        fe = WhisperFeatureExtractor(feature_size=config.num_mel_bins)
    encoder = model.get_encoder().eval().requires_grad_(False)
    return fe, encoder


def check_whisper_path(path: str | None) -> Path:
    if not path:
        raise InputError("the whisper audio encoder needs whisper_path, the folder of a local Whisper model")
    p = Path(path).expanduser()
    if not (p / "config.json").is_file():
        raise InputError(f"Whisper model folder not found or without config.json: {p}")
    return p


def whisper_shape(path: str | None) -> tuple[int, int]:
    """(hidden states = layers + 1, width) of the Whisper model at ``path``, from its config."""
    import json

    cfg = json.loads((check_whisper_path(path) / "config.json").read_text())
    return int(cfg["encoder_layers"]) + 1, int(cfg["d_model"])


@torch.no_grad()
def whisper_hidden(audio: np.ndarray, path: str | None, batch: int = 4) -> torch.Tensor:
    """(T, layers + 1, d) all Whisper encoder hidden states at 50 tokens/s."""
    fe, encoder = _load_whisper(str(check_whisper_path(path).resolve()))
    chunk = WHISPER_CHUNK_S * SR
    pieces = [audio[s : s + chunk] for s in range(0, max(len(audio), 1), chunk)]
    out = []
    for b in range(0, len(pieces), batch):
        group = pieces[b : b + batch]
        feats = fe(list(group), sampling_rate=SR, return_tensors="pt").input_features
        dtype = next(encoder.parameters()).dtype
        hidden = encoder(feats.to(dtype), output_hidden_states=True).hidden_states
        stacked = torch.stack(hidden, 1).float()  # (n, layers + 1, 1500, d)
        for piece, h in zip(group, stacked):
            n_tok = max(1, math.ceil(len(piece) * WHISPER_RATE / SR))
            out.append(h[:, :n_tok].transpose(0, 1))  # (n_tok, layers + 1, d)
    return torch.cat(out)


# time (s) of the centre of sequence item 0: stft frames are centred on k * hop; a Whisper
# token pools two of its own 10 ms mel frames (conv stride 2), so it is centred about 5 ms later
FIRST_CENTRE_S = {"logmel": 0.0, "whisper": 0.005}


def frame_windows(seq: torch.Tensor, rate: float, num_frames: int, fps: float, window: int,
                  first_centre: float = 0.0) -> torch.Tensor:
    """(T, *f) at ``rate`` per second -> (num_frames, window, *f), centred, edge-padded.

    Item k of ``seq`` is centred at ``first_centre + k / rate`` seconds.
    """
    centres = (torch.arange(num_frames, dtype=torch.float64) + 0.5) / fps  # seconds
    start = torch.round((centres - first_centre) * rate - (window - 1) / 2).long()
    idx = (start[:, None] + torch.arange(window)[None]).clamp(0, len(seq) - 1)
    return seq[idx]


def audio_features(audio: np.ndarray, num_frames: int, fps: float, opts) -> torch.Tensor:
    """(num_frames, window, n_mels) for logmel or (num_frames, window, layers + 1, d) for whisper."""
    if opts.encoder == "logmel":
        seq = logmel(audio, opts.n_mels)
    else:
        seq = whisper_hidden(audio, opts.whisper_path)
    windows = frame_windows(seq, rate_of(opts.encoder), num_frames, fps, window_len(opts), FIRST_CENTRE_S[opts.encoder])
    return windows.float().contiguous()
