"""The ``blink`` modality: a per-frame eye-closure curve (0 = open, 1 = closed) steers the eyes.

Input file: a CSV with a header and the columns ``frame,closure``; ``frame`` is the
output video's frame index (0, 1, ...), ``closure`` a number in [0, 1]. Missing frames
are filled by linear interpolation. From stored clips it uses ``1 - clip.truth["eye_open"]``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from actalker.errors import InputError
from actalker.media.timing import fit_length
from actalker.plugins import ControlTarget, ModalitySpec, hookimpl
from actalker.plugins.helpers import PerFrameMLP, read_frame_csv


class BlinkOptions(BaseModel):
    """Options of the blink branch (``model.branches.blink.options`` in a config)."""

    model_config = ConfigDict(extra="forbid")

    smooth: int = Field(1, ge=1, description="Moving-average width in frames; 1 = no smoothing.")
    hidden: int = Field(32, ge=1, description="Hidden width of the encoder MLP.")
    tokens: int = Field(1, ge=1, description="Condition tokens per frame.")


def feature_shape(opts: BlinkOptions) -> tuple[int, ...]:
    return (1,)  # one number per frame


def read_closure_csv(path: str | Path) -> np.ndarray:
    """CSV ``frame,closure`` -> closure per frame from 0 to the last listed frame."""
    return read_frame_csv(path, ["closure"], what="blink file", value_range=(0.0, 1.0))[:, 0]


def _finish(curve: np.ndarray, opts: BlinkOptions) -> torch.Tensor:
    if opts.smooth > 1:  # same-length moving average, edges padded with the edge value
        pad = np.pad(curve, (opts.smooth // 2, opts.smooth - 1 - opts.smooth // 2), mode="edge")
        curve = np.convolve(pad, np.ones(opts.smooth) / opts.smooth, mode="valid")
    return torch.from_numpy(np.ascontiguousarray(curve, dtype=np.float32))[:, None]  # (F, 1)


def load(path, num_frames, fps, opts: BlinkOptions, on_short="error") -> torch.Tensor:
    curve = read_closure_csv(path)
    if num_frames is None:
        num_frames = len(curve)
    curve = fit_length(curve, num_frames, on_short, describe=f"blink file {path} has {len(curve)} frames but {num_frames} are needed")
    return _finish(curve, opts)


def from_clip(clip, opts: BlinkOptions) -> torch.Tensor:
    eye_open = (getattr(clip, "truth", None) or {}).get("eye_open")
    if eye_open is None:
        raise InputError(f"clip {getattr(clip, 'id', '?')} has no truth['eye_open'] curve for the blink branch")
    return _finish(1.0 - np.asarray(eye_open, dtype=np.float32), opts)


class BlinkEncoder(PerFrameMLP):
    """(B, F, 1) closure -> (B, F, tokens, dim) condition tokens."""

    def __init__(self, opts: BlinkOptions, dim: int):
        super().__init__(1, opts.hidden, opts.tokens, dim)


BLINK = ModalitySpec(
    name="blink",
    options_model=BlinkOptions,
    feature_shape=feature_shape,
    load=load,
    from_clip=from_clip,
    build_encoder=BlinkEncoder,
    default_region="eyes",
    solo_region="eyes",
    default_gate=1.0,
    cli_flag="blink",
    description="Eye closure per frame (CSV frame,closure in [0, 1]) steering the eyes.",
    drives=(ControlTarget("eyes", truth="eye_open"),),  # what `actalker eval control` scores
)


@hookimpl
def register_modalities(register):
    register(BLINK)
