"""The ``motion`` ModalitySpec: a driving video's facial motion -> condition tokens."""
from __future__ import annotations

import numpy as np
import torch

from actalker.errors import InputError
from actalker.plugins.builtin.motion.encoder import build_motion_encoder
from actalker.plugins.builtin.motion.features import COLUMNS, select, video_motion
from actalker.plugins.builtin.motion.options import MotionOptions
from actalker.plugins.spec import ControlTarget, ModalitySpec


def feature_shape(opts: MotionOptions) -> tuple[int, ...]:
    cols = COLUMNS[opts.features]
    return (cols.stop - cols.start,)


def load(path, num_frames: int | None, fps: float, opts: MotionOptions, on_short: str = "error") -> torch.Tensor:
    """Driving video -> (F, n_features); F = the whole video at ``fps`` when num_frames is None."""
    return select(video_motion(path, num_frames, fps, opts, on_short), opts)


def from_clip(clip, opts: MotionOptions) -> torch.Tensor:
    if clip.motion is None:
        raise InputError(f"clip {clip.id} has no motion features; re-run preprocessing")
    return select(clip.motion, opts)


def build_encoder(opts: MotionOptions, dim: int) -> torch.nn.Module:
    return build_motion_encoder(feature_shape(opts), opts.hidden, opts.tokens, dim)


def eye_track(clip, num_frames: int):
    """The driver's eye openness (what the eyes should follow)."""
    from actalker.eval.control import motion_eye_track  # numpy only

    return motion_eye_track(np.asarray(clip.motion))[:num_frames]


def driver_mouth_track(clip, num_frames: int):
    """The driver's own mouth (jawOpen): it must not reach the generated mouth."""
    from actalker.eval.control import motion_mouth_track

    return motion_mouth_track(np.asarray(clip.motion))[:num_frames]


MOTION = ModalitySpec(
    name="motion",
    options_model=MotionOptions,
    feature_shape=feature_shape,
    load=load,
    from_clip=from_clip,
    build_encoder=build_encoder,
    default_region="upper_face",
    solo_region="face",
    default_gate=1.0,
    cli_flag="video",
    # null input = zeros (default): no expression, no pose, as the paper's "projection of zeros"
    description="Facial motion of a driving video (MediaPipe: 52 blendshapes + head pose per frame), "
    "steering the face outside the mouth.",
    drives=(ControlTarget("eyes", truth="eye_open", track=eye_track),
            ControlTarget(None, track=driver_mouth_track, name="driver")),
)
