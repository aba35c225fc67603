"""Landmark distance (LMD) between generated and ground-truth (or driving) frames.

LMD (Chen et al., "Lip Movements Generation at a Glance", ECCV 2018, and the talking-head
papers after it) is the mean Euclidean distance between corresponding landmarks of a
generated frame and the real frame at the same time, averaged over landmarks and frames.
Landmarks here are MediaPipe's 478 (``actalker.media.face.FaceTracker``), in pixels of
the frames. Normalisation, as the field does it:

- ``lmd_mouth`` / ``lmd_face``: the mouth's 40 lip landmarks / all 478, in pixels. Each
  frame's landmark set is first translated so its mean is at the origin (Chen et al.
  subtract the mean, so a head shift is not counted as a lip error).
- ``lmd_mouth_norm`` / ``lmd_face_norm``: the same distances divided by the real frame's
  inter-ocular distance (outer eye corners; normalised mean error of face alignment),
  which makes numbers comparable across resolutions.

The pixel numbers depend on the frame size: compare them only at the same resolution
(papers usually evaluate at 256 x 256 or 512 x 512).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from actalker.errors import InputError, ShapeError

# MediaPipe FaceMesh lip contours (outer 20 + inner 20), as in FACEMESH_LIPS.
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
        78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
OUTER_EYE_CORNERS = (33, 263)


def _pixels(lm: np.ndarray, height: int, width: int) -> np.ndarray:
    lm = np.asarray(lm, np.float64)
    if lm.ndim != 3 or lm.shape[1:] not in ((478, 3), (478, 2)):
        raise ShapeError(f"landmarks must have shape (F, 478, 3), got {lm.shape}")
    return lm[..., :2] * np.array([width, height], np.float64)


def landmark_distance(generated: np.ndarray, reference: np.ndarray, height: int, width: int,
                      valid: Optional[np.ndarray] = None) -> dict[str, float]:
    """LMD from normalised landmarks (F, 478, 3) of generated and real frames of size H x W.

    ``valid`` (F,) bool: frames where both faces were found (others are left out)."""
    g, r = _pixels(generated, height, width), _pixels(reference, height, width)
    if g.shape != r.shape:
        raise ShapeError(f"LMD: generated landmarks {g.shape} and reference landmarks {r.shape} differ in frames")
    keep = np.ones(len(g), bool) if valid is None else np.asarray(valid, bool)
    if not keep.any():
        raise InputError("LMD: no frame where a face was found in both videos")
    g, r = g[keep], r[keep]
    iod = np.linalg.norm(r[:, OUTER_EYE_CORNERS[0]] - r[:, OUTER_EYE_CORNERS[1]], axis=-1)  # (F,)
    out = {}
    for name, idx in (("mouth", list(LIPS)), ("face", slice(None))):
        a, b = g[:, idx], r[:, idx]
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean(axis=1, keepdims=True)
        d = np.linalg.norm(a - b, axis=-1)  # (F, K)
        out[f"lmd_{name}"] = float(d.mean())
        out[f"lmd_{name}_norm"] = float((d.mean(axis=1) / np.maximum(iod, 1e-6)).mean())
    out["lmd_frames"] = int(keep.sum())
    return out


def video_landmark_distance(generated: np.ndarray, reference: np.ndarray, fps: float, tracker) -> dict[str, float]:
    """LMD of two videos (uint8 (F, H, W, 3), same size; the shorter length is used) with a
    face tracker (``FaceTracker`` or anything with ``track(frames, fps)``)."""
    generated, reference = np.asarray(generated), np.asarray(reference)
    if generated.shape[1:] != reference.shape[1:]:
        raise ShapeError(f"LMD: generated frames {generated.shape[1:]} and reference frames "
                         f"{reference.shape[1:]} must have the same size")
    n = min(len(generated), len(reference))
    tg, tr = tracker.track(generated[:n], fps), tracker.track(reference[:n], fps)
    h, w = generated.shape[1:3]
    return landmark_distance(tg.landmarks, tr.landmarks, h, w, valid=np.asarray(tg.found) & np.asarray(tr.found))
