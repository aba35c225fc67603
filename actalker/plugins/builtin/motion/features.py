"""Motion features per frame from a driving video: MediaPipe blendshapes and head pose.

Layout (F, 58) as ``actalker.media.face.MOTION_FEATURE_NAMES``; stored clips hold the same
layout (``clip.motion``), so training and inference see identical features.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from actalker.errors import InputError
from actalker.media.face import NUM_MOTION_FEATURES, FaceTracker, motion_features
from actalker.media.timing import fit_length, short_error
from actalker.media.video import probe_video, read_video, resample_frames

NUM_BLENDSHAPES = 52
COLUMNS = {
    "all": slice(0, NUM_MOTION_FEATURES),
    "blendshapes": slice(0, NUM_BLENDSHAPES),
    "pose": slice(NUM_BLENDSHAPES, NUM_MOTION_FEATURES),
}


def smooth(x: np.ndarray, k: int) -> np.ndarray:
    """Centred moving average over ``k`` frames (edge-padded, so the length is kept)."""
    if k <= 1 or len(x) < 2:
        return x
    left = (k - 1) // 2
    padded = np.pad(x, ((left, k - 1 - left), (0, 0)), mode="edge")
    csum = np.cumsum(np.pad(padded, ((1, 0), (0, 0))), axis=0, dtype=np.float64)
    return ((csum[k:] - csum[:-k]) / k).astype(np.float32)


def select(motion: np.ndarray, opts) -> torch.Tensor:
    """(F, 58) raw motion -> (F, feature_shape) float tensor after smoothing and selection."""
    motion = np.asarray(motion, np.float32)
    if motion.ndim != 2 or motion.shape[1] != NUM_MOTION_FEATURES:
        raise InputError(f"motion features must be (F, {NUM_MOTION_FEATURES}), got {motion.shape}")
    # np.array copies: stored clips are read-only memory maps, which torch must not alias
    return torch.from_numpy(np.array(smooth(motion, opts.smooth)[:, COLUMNS[opts.features]]))


def video_motion(path, num_frames: int | None, fps: float, opts, on_short: str = "error") -> np.ndarray:
    """(num_frames, 58) raw motion of the driving video at ``path``, resampled to ``fps``."""
    info = probe_video(path)
    max_src = None if num_frames is None else math.ceil(num_frames * info["fps"] / fps) + 1
    frames, src_fps = read_video(path, max_frames=max_src)
    frames = resample_frames(frames, src_fps, fps)
    if num_frames is None:
        num_frames = len(frames)
    describe = (f"driving video {path} gives {len(frames)} frames at {fps:g} fps "
                f"({len(frames) / fps:.2f} s) but {num_frames} are needed")
    if len(frames) < num_frames and on_short == "error":
        raise short_error(describe)  # before tracking: fail fast
    track = FaceTracker(opts.face_model).track(frames[:num_frames], fps)
    if not track.found.any():
        raise InputError(f"no face found in any frame of the driving video {path}")
    return fit_length(motion_features(track), num_frames, on_short, describe=describe)
