"""The ``eeg`` modality: EEG band powers per video frame, steering the upper face."""
from __future__ import annotations

import math

import torch

from actalker.media.timing import fit_length
from actalker.plugins import ModalitySpec, hookimpl
from actalker.plugins.helpers import side_file
from actalker_eeg.features import band_powers, read_eeg
from actalker_eeg.options import EEGOptions

CLIP_FILE = "eeg.npz"  # optional, inside a stored clip's folder


def feature_shape(opts: EEGOptions) -> tuple[int, ...]:
    return (opts.n_channels, len(opts.bands))


def load(path, num_frames, fps, opts: EEGOptions, on_short="error") -> torch.Tensor:
    data, sfreq = read_eeg(path, opts)
    duration = data.shape[1] / sfreq
    available = max(1, math.floor(duration * fps + 1e-6))
    wanted = available if num_frames is None else num_frames
    feats = band_powers(data, sfreq, min(wanted, available), fps, opts).numpy()
    feats = fit_length(
        feats, wanted, on_short,
        describe=f"EEG file {path} lasts {duration:.2f} s but {wanted} frames at {fps:g} fps need {wanted / fps:.2f} s",
    )
    return torch.from_numpy(feats)


def from_clip(clip, opts: EEGOptions) -> torch.Tensor:
    path = side_file(clip, CLIP_FILE, "the eeg branch: put the recording in the clip folder")
    # A training window starts `clip.start` seconds into the recording: compute the frames up
    # to its end and keep the window's own.
    skip = int(round(getattr(clip, "start", 0.0) * clip.fps))
    return load(path, skip + clip.num_frames, clip.fps, opts, on_short="pad")[skip:]


class EEGEncoder(torch.nn.Module):
    """(B, F, C, bands) log powers -> (B, F, tokens, dim)."""

    def __init__(self, opts: EEGOptions, dim: int):
        super().__init__()
        n = opts.n_channels * len(opts.bands)
        self.tokens, self.dim = opts.tokens, dim
        self.net = torch.nn.Sequential(
            torch.nn.LayerNorm(n),  # log powers have an arbitrary offset per recording
            torch.nn.Linear(n, opts.hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(opts.hidden, opts.tokens * dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(2)).unflatten(-1, (self.tokens, self.dim))


EEG = ModalitySpec(
    name="eeg",
    options_model=EEGOptions,
    feature_shape=feature_shape,
    load=load,
    from_clip=from_clip,
    build_encoder=EEGEncoder,
    default_region="upper_face",
    solo_region="face",
    default_gate=1.0,
    cli_flag="eeg",
    description="EEG (.npz: data (channels, samples), sfreq) as log band powers per frame, steering the upper face.",
)


@hookimpl
def register_modalities(register):
    register(EEG)
