"""EEG file reading and per-frame band powers.

File format (``.npz``, e.g. ``np.savez(path, data=..., sfreq=256.0)``):
  data           float array (channels, samples), any unit (log power removes the scale)
  sfreq          scalar, samples per second
  channel_names  optional str array (channels,), needed to pick channels by name
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from actalker.errors import InputError
from actalker_eeg.options import EEGOptions


def read_eeg(path: str | Path, opts: EEGOptions) -> tuple[np.ndarray, float]:
    """-> (data (C, S) float32 with the channels opts asks for, sfreq)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            data = np.asarray(f["data"], dtype=np.float32)
            sfreq = float(np.asarray(f["sfreq"]).reshape(()))
            names = [str(n) for n in f["channel_names"]] if "channel_names" in f.files else None
    except (OSError, KeyError, ValueError) as err:
        raise InputError(
            f"EEG file {path}: expected an .npz with 'data' (channels, samples) and 'sfreq' ({type(err).__name__}: {err})"
        ) from err
    if data.ndim != 2 or data.shape[1] < 2 or not np.isfinite(data).all() or not sfreq > 0:
        raise InputError(f"EEG file {path}: 'data' must be finite (channels, samples), 'sfreq' > 0; got {data.shape}, {sfreq}")
    if opts.channels is not None:
        if names is None:
            raise InputError(f"EEG file {path} has no channel_names, but options.channels asks for {opts.channels}")
        missing = [c for c in opts.channels if c not in names]
        if missing:
            raise InputError(f"EEG file {path} lacks channel(s) {missing}; it has {names}")
        data = data[[names.index(c) for c in opts.channels]]
    elif data.shape[0] != opts.num_channels:
        raise InputError(
            f"EEG file {path} has {data.shape[0]} channels but options.num_channels is {opts.num_channels}; set it or pick channels"
        )
    return data, sfreq


def band_powers(data: np.ndarray, sfreq: float, num_frames: int, fps: float, opts: EEGOptions) -> torch.Tensor:
    """(C, S) -> (num_frames, C, bands): log10 mean power of a Hann-windowed FFT over
    ``window_s`` seconds centred on each frame (the signal is zero-padded at both ends)."""
    x = torch.from_numpy(data)
    x = x - x.mean(dim=1, keepdim=True)  # drop DC offsets, they would leak into low bands
    win = max(4, int(round(opts.window_s * sfreq)))
    half = win // 2
    x = torch.nn.functional.pad(x, (half, win - half))
    centres = torch.round(torch.arange(num_frames, dtype=torch.float64) / fps * sfreq).long()
    idx = centres[:, None] + torch.arange(win)[None]  # (F, win), padded coordinates
    segs = x[:, idx].permute(1, 0, 2)  # (F, C, win)
    power = torch.fft.rfft(segs * torch.hann_window(win, periodic=False), dim=-1).abs().pow(2) / win
    freqs = torch.fft.rfftfreq(win, d=1.0 / sfreq)
    out = []
    for name, (lo, hi) in opts.bands.items():
        sel = (freqs >= lo) & (freqs < hi)
        if not bool(sel.any()):
            raise InputError(
                f"EEG band '{name}' [{lo}, {hi}) Hz has no frequency bin at sfreq {sfreq:g} and window {opts.window_s} s"
            )
        out.append(power[..., sel].mean(dim=-1))
    return torch.log10(torch.stack(out, dim=-1) + 1e-12).float()
