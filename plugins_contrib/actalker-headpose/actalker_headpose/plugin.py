"""The ``headpose`` modality: head rotation and translation per frame, steering the whole frame.

Features per frame, in the units of ``actalker.media.face.motion_features`` (so stored
clips' ``motion[:, 52:58]`` can be used directly): yaw, pitch, roll in radians, then
tx, ty, tz in centimetres / ``TRANSLATION_SCALE_CM``.

Inputs:
  CSV    header ``frame,yaw,pitch,roll,tx,ty,tz``; ``frame`` is the output frame index,
         angles in degrees, translation in centimetres (MediaPipe's camera space: x right,
         y up, z towards the viewer). Missing frames are interpolated linearly.
  video  any other file is read as a driving video and tracked with MediaPipe Face
         Landmarker (needs `mediapipe` and a model file: options.face_model or
         ACTALKER_FACE_MODEL).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from actalker.errors import InputError
from actalker.media.timing import fit_length
from actalker.plugins import ModalitySpec, hookimpl
from actalker.plugins.helpers import PerFrameMLP, read_frame_csv

COLUMNS = ("frame", "yaw", "pitch", "roll", "tx", "ty", "tz")
POSE_SLICE = slice(52, 58)  # pose part of the 58 motion features


class HeadPoseOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    translation: bool = Field(True, description="Use tx, ty, tz besides the three angles.")
    face_model: Optional[str] = Field(None, description="MediaPipe face_landmarker .task file for driving videos.")
    hidden: int = Field(64, ge=1, description="Hidden width of the encoder MLP.")
    tokens: int = Field(2, ge=1, description="Condition tokens per frame.")


def feature_shape(opts: HeadPoseOptions) -> tuple[int, ...]:
    return (6 if opts.translation else 3,)


def _translation_scale() -> float:
    from actalker.media.face import TRANSLATION_SCALE_CM  # numpy-only module

    return TRANSLATION_SCALE_CM


def read_pose_csv(path: str | Path) -> np.ndarray:
    """CSV -> (F, 6) radians / scaled translation, F = last listed frame + 1."""
    pose = read_frame_csv(path, COLUMNS[1:], what="head pose file").astype(np.float64)
    pose[:, :3] = np.deg2rad(pose[:, :3])
    pose[:, 3:] /= _translation_scale()
    return pose.astype(np.float32)


def read_pose_video(path: str | Path, fps: float, opts: HeadPoseOptions) -> np.ndarray:
    from actalker.media.face import FaceTracker, motion_features  # lazy: needs mediapipe
    from actalker.media.video import read_video, resample_frames

    frames, src_fps = read_video(path)
    frames = resample_frames(frames, src_fps, fps)
    track = FaceTracker(opts.face_model).track(frames, fps)
    return motion_features(track)[:, POSE_SLICE].astype(np.float32)


def _select(pose: np.ndarray, opts: HeadPoseOptions) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(pose if opts.translation else pose[:, :3], dtype=np.float32))


def load(path, num_frames, fps, opts: HeadPoseOptions, on_short="error") -> torch.Tensor:
    is_csv = Path(path).suffix.lower() == ".csv"
    pose = read_pose_csv(path) if is_csv else read_pose_video(path, fps, opts)
    if num_frames is None:
        num_frames = len(pose)
    pose = fit_length(pose, num_frames, on_short, describe=f"head pose from {path} has {len(pose)} frames but {num_frames} are needed")
    return _select(pose, opts)


def from_clip(clip, opts: HeadPoseOptions) -> torch.Tensor:
    motion = np.asarray(clip.motion, dtype=np.float32)
    if motion.ndim != 2 or motion.shape[1] < POSE_SLICE.stop:
        raise InputError(f"clip {getattr(clip, 'id', '?')}: motion must be (frames, 58), got {motion.shape}")
    return _select(motion[:, POSE_SLICE], opts)


class HeadPoseEncoder(PerFrameMLP):
    """(B, F, 6 or 3) pose -> (B, F, tokens, dim)."""

    def __init__(self, opts: HeadPoseOptions, dim: int):
        super().__init__(feature_shape(opts)[0], opts.hidden, opts.tokens, dim)


HEADPOSE = ModalitySpec(
    name="headpose",
    options_model=HeadPoseOptions,
    feature_shape=feature_shape,
    load=load,
    from_clip=from_clip,
    build_encoder=HeadPoseEncoder,
    default_region="full",
    solo_region="full",
    default_gate=1.0,
    cli_flag="headpose",
    description="Head rotation and translation per frame (CSV frame,yaw,pitch,roll,tx,ty,tz or a driving video).",
)


@hookimpl
def register_modalities(register):
    register(HEADPOSE)
