"""478-point landmarks (MediaPipe layout) of a synthetic face, frame by frame.

The template (``actalker/assets/face_template_478.npy``, made by
``scripts/make_face_template.py``) is deformed once per identity (proportions) and then per
frame (mouth, eyelids, brows, head yaw and shift). The renderer draws the face FROM these
points, so the landmarks are exactly the drawn geometry and region masks built from them
cover the drawn mouth, eyes and brows.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from actalker.data.synth import topology as T
from actalker.data.synth.identity import Identity

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "assets" / "face_template_478.npy"
MOUTH_OPEN_AMP = 0.12   # inner lower-lip drop at mouth_open = 1, in face heights
OUTER_LIP_DROP = 0.8    # the outer lower lip drops less: the lip thins, the chin stays clear
BROW_RAISE_AMP = 0.08   # brow lift from brow_raise 0 -> 1, in face heights
YAW_PIVOT_Z = 0.35      # rotation axis depth behind the face plane, in face heights
EYE_TALL = 2.0          # eyes drawn taller than the template (stylised) so eyelid motion reads at 64 px

_LIPS = sorted(set(T.LIPS_OUTER + T.LIPS_INNER))
_LOWER_LIP = sorted(set(T.LIPS_OUTER_LOWER[1:-1] + T.LIPS_INNER_LOWER[1:-1]))
_UPPER_LIP = sorted(set(T.LIPS_OUTER_UPPER[1:-1] + T.LIPS_INNER_UPPER[1:-1]))
_SIDES = (  # (eye loop, lower lid, upper lid, iris, brow)
    (T.RIGHT_EYE, T.RIGHT_EYE_LOWER, T.RIGHT_EYE_UPPER, T.RIGHT_IRIS, T.RIGHT_BROW),
    (T.LEFT_EYE, T.LEFT_EYE_LOWER, T.LEFT_EYE_UPPER, T.LEFT_IRIS, T.LEFT_BROW),
)


@lru_cache(maxsize=1)
def load_template() -> np.ndarray:
    """(478, 3) float32: frontal face, face-oval box centred at 0, face height 1, y down."""
    return np.load(TEMPLATE_PATH).astype(np.float32)


def _taper(x: np.ndarray, centre: float, half_width: float) -> np.ndarray:
    """1 at the centre, 0 at +-half_width (lip/eyelid corners stay put)."""
    return np.sqrt(np.clip(1 - ((x - centre) / half_width) ** 2, 0, 1))


def identity_shape(ident: Identity) -> np.ndarray:
    """Template deformed to this identity's proportions (face-height units, (478, 3))."""
    p = load_template().astype(np.float64).copy()
    for eye, _, _, iris, brow in _SIDES:
        idx = list(eye + iris)
        c = p[list(eye)].mean(0)
        p[idx, :2] = c[:2] + (p[idx, :2] - c[:2]) * ident.eye_size
        p[list(eye), 1] = c[1] + (p[list(eye), 1] - c[1]) * EYE_TALL
        b = list(brow)
        bc = p[b].mean(0)
        p[b, 1] = bc[1] + (p[b, 1] - bc[1]) * ident.brow_thick + ident.brow_y
        p[idx + b, 0] += c[0] * (ident.eye_spacing - 1)
    m = _LIPS
    mc = p[m].mean(0)
    p[m, 0] = mc[0] + (p[m, 0] - mc[0]) * ident.mouth_w
    p[m, 1] = mc[1] + (p[m, 1] - mc[1]) * ident.lip_thick + ident.mouth_y
    p[:, 0] *= ident.face_w
    p[:, 2] *= ident.face_w
    p[:, 1] *= ident.face_h
    return p.astype(np.float32)


def pose_frame(shape: np.ndarray, face_size: float, mouth_open: float, eye_open: float,
               brow_raise: float, yaw: float, shift_x: float, shift_y: float) -> np.ndarray:
    """One frame's landmarks in normalised image coordinates (x, y in [0, 1], z scaled like x)."""
    p = shape.astype(np.float64).copy()
    # Mouth: lower lip drops, upper lip lifts a little, corners fixed.
    outer = p[list(T.LIPS_OUTER)]
    cx, hw = outer[:, 0].mean(), (outer[:, 0].max() - outer[:, 0].min()) / 2 * 1.02
    drop = mouth_open * MOUTH_OPEN_AMP * _taper(p[:, 0], cx, hw)
    p[_LOWER_LIP, 1] += drop[_LOWER_LIP] * np.where(np.isin(_LOWER_LIP, T.LIPS_OUTER_LOWER), OUTER_LIP_DROP, 1.0)
    p[_UPPER_LIP, 1] -= 0.2 * drop[_UPPER_LIP]
    # Eyelids: distances from the corner-to-corner line scale with openness; at 0 they meet.
    for eye, lower, upper, _, brow in _SIDES:
        a, b = p[lower[0]], p[lower[-1]]
        ecx, ehw = (a[0] + b[0]) / 2, abs(b[0] - a[0]) / 2
        line = lambda x: a[1] + (x - a[0]) * (b[1] - a[1]) / (b[0] - a[0])  # noqa: E731
        lo, up = list(lower[1:-1]), list(upper[1:-1])
        d_low = p[lo, 1] - line(p[lo, 0])
        meet = 0.5 * d_low.max() * _taper(p[up, 0], ecx, ehw)
        p[up, 1] = line(p[up, 0]) + (p[up, 1] - line(p[up, 0])) * eye_open + (1 - eye_open) * meet
        p[lo, 1] = line(p[lo, 0]) + d_low * (0.5 + 0.5 * eye_open)
        p[list(brow), 1] -= (brow_raise - 0.3) * BROW_RAISE_AMP
    # Head yaw about a vertical axis behind the face, then place in the frame.
    c, s = np.cos(yaw), np.sin(yaw)
    x, z = p[:, 0].copy(), p[:, 2] - YAW_PIVOT_Z
    p[:, 0] = c * x - s * z
    p[:, 2] = s * x + c * z + YAW_PIVOT_Z
    out = p * face_size
    out[:, 0] += 0.5 + shift_x
    out[:, 1] += 0.5 + shift_y
    return out.astype(np.float32)


def face_box(landmarks: np.ndarray) -> np.ndarray:
    """(..., 478, 3) -> (..., 4) normalised xyxy box of all landmarks."""
    xy = landmarks[..., :2]
    return np.concatenate([xy.min(-2), xy.max(-2)], -1).astype(np.float32)
