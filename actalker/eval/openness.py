"""Mouth and eye openness measured from pixels, per frame (no pretrained weights).

The measure is hand-crafted so a generator cannot satisfy it without drawing an open mouth
or open eyes:

1. Regions: the ``mouth`` and ``eyes`` regions (asked of the plugin registry) from the reference face's landmarks
   (static per clip for generated videos; per-frame landmarks are used as given).
2. Alignment (static landmarks only): each frame's translation against the reference frame,
   by a weighted sum-of-squared-differences search over the face without its rim (on a
   <= 64 px copy, parabolic sub-pixel refinement), tracked from frame to frame so it cannot
   jump to a wrong match (brows onto eyes); the regions are shifted with it.
3. Colours from the reference frame: skin = median of the face outside mouth, eyes and
   brows; lips = upper quartile luminance inside the lip contour.
4. Mouth openness = the soft count of mouth-interior pixels in the mouth region, where a
   pixel is interior in proportion to how much darker it is than the lips and skin
   (``MOUTH_DARK`` = (start, full) relative darkness).
5. Eye openness = the soft count of eye pixels (sclera, iris, pupil) in the eye region:
   colour distance from the skin (closed lids are skin), full at ``EYE_DIST`` RGB units.
Both counts are divided by (part width x face height) in pixels, so they read as an
opening height in face heights, comparable across sizes and identities.

Validated on rendered synthetic clips with ground truth: ``actalker eval estimator``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from actalker.errors import ShapeError
from actalker.plugins.builtin import face_indices as fi

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
MOUTH_DARK = (0.10, 0.35)   # relative darkness vs min(lips, skin): starts / fully interior
EYE_DIST = 60.0             # RGB distance from skin at which a pixel is fully "eye"
EYE_WIDEN = 0.0             # optional sideways widening of the eye region (fraction of face size)
ALIGN_RANGE = 0.2           # search +- this fraction of the face size for the head shift
ALIGN_ERODE = 0.1           # alignment ignores the outer rim of the face: yaw moves the outline less than the features
ALIGN_STEP = 0.06            # the most the head moves between frames (face sizes): tracking, no jumps
ALIGN_SIZE = 64             # alignment runs on a copy at most this many pixels high
REGIONS = ("mouth", "eyes", "face", "brows")  # looked up by name in the plugin registry


@dataclass
class Openness:
    """Per-frame measures (F,): ``mouth`` and ``eyes`` in face heights of opening;
    ``shifts`` (F, 2) the estimated head translation in pixels (0 with per-frame landmarks)."""

    mouth: np.ndarray
    eyes: np.ndarray
    shifts: np.ndarray


def _as_face(landmarks, boxes, n: int):
    """-> (landmarks (k, 478, 3) or None, boxes (k, 4)), k = 1 (static) or n (per frame)."""
    bx = np.array(boxes, np.float32)  # a copy: clip arrays are read-only memory maps
    bx = bx.reshape(-1, 4) if bx.size % 4 == 0 and bx.ndim <= 2 else None
    if bx is None or len(bx) not in (1, n):
        raise ShapeError(f"boxes must have shape (4,), (1, 4) or ({n}, 4), got {np.shape(boxes)}")
    if landmarks is None:
        return None, bx
    lm = np.array(landmarks, np.float32)
    lm = lm[None] if lm.ndim == 2 else lm
    if lm.ndim != 3 or lm.shape[1] != fi.NUM_LANDMARKS or len(lm) not in (1, n):
        raise ShapeError(f"landmarks must have shape (478, 3), (1, 478, 3) or ({n}, 478, 3), got {np.shape(landmarks)}")
    if len(bx) != len(lm):
        bx = np.repeat(bx[:1], len(lm), 0) if len(bx) == 1 else bx[:1]
    return lm, bx


@lru_cache(maxsize=1)
def _installed_registry():
    from actalker.plugins import load_registry

    return load_registry()


def _region_masks(registry) -> dict:
    """Region name -> mask function, from the registry (default: the installed plugins)."""
    registry = registry if registry is not None else _installed_registry()
    return {name: registry.region(name).mask for name in REGIONS}


def _mask(masks: dict, name: str, lm, bx, h: int, w: int) -> np.ndarray:
    m = masks[name](None if lm is None else torch.as_tensor(lm), torch.as_tensor(bx), h, w)
    return np.asarray(m, np.float32)


def _face_size(bx: np.ndarray, h: int, w: int) -> float:
    return float(np.sqrt(max((bx[2] - bx[0]) * w * (bx[3] - bx[1]) * h, 1.0)))


def estimate_shifts(frames: np.ndarray, reference: np.ndarray, weight: np.ndarray, max_shift: float) -> np.ndarray:
    """(F, 2) translation (dx, dy) in pixels of each frame against ``reference`` inside
    ``weight`` (H, W): exhaustive weighted-SSD search on a downscaled copy (as two
    convolutions), sub-pixel by a parabola through the best score and its neighbours."""
    h = frames.shape[1]
    scale = min(1.0, ALIGN_SIZE / h)

    def small(x):  # (N, H, W, C) -> (N, C, h', w') float
        t = torch.as_tensor(np.asarray(x), dtype=torch.float32).permute(0, 3, 1, 2)
        return F.interpolate(t, scale_factor=scale, mode="area") if scale < 1 else t

    f, r = small(frames), small(reference[None])[0]
    wt = small(np.asarray(weight, np.float32)[None, :, :, None])[0, 0]
    ys, xs = torch.nonzero(wt > 0.05, as_tuple=True)
    n = len(frames)
    if len(ys) == 0:
        return np.zeros((n, 2), np.float32)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    wt, r = wt[y0:y1, x0:x1], r[:, y0:y1, x0:x1]
    R = max(1, int(np.ceil(max_shift * scale)))
    pad = F.pad(f, (R, R, R, R), mode="replicate")[:, :, max(0, y0):y1 + 2 * R, max(0, x0):x1 + 2 * R]
    # sum_p w (f(p+s) - r(p))^2 = conv(f^2, w) - 2 conv(f, w r) + const, summed over colours
    k1 = wt[None, None].expand(1, 3, -1, -1)
    k2 = (wt * r)[None]
    scores = F.conv2d(pad.pow(2), k1) - 2 * F.conv2d(pad, k2)  # (F, 1, 2R+1, 2R+1)
    s = scores[:, 0].numpy()
    out = np.zeros((n, 2), np.float32)
    step = max(1, int(np.ceil(ALIGN_STEP * max_shift / ALIGN_RANGE * scale)))
    py, px = R, R  # track: each frame's best shift within `step` of the previous frame's
    for i in range(n):
        win = np.full_like(s[i], np.inf)
        win[max(0, py - step):py + step + 1, max(0, px - step):px + step + 1] = 0
        iy, ix = np.unravel_index(np.argmin(s[i] + win), s[i].shape)
        py, px = iy, ix
        out[i] = (ix - R + _vertex(s[i, iy, ix - 1:ix + 2]), iy - R + _vertex(s[i, iy - 1:iy + 2, ix]))
    return out / scale


def _vertex(v: np.ndarray) -> float:
    """Sub-pixel offset of a parabola's minimum through three samples (0 at the edges)."""
    if len(v) != 3 or not np.isfinite(v).all():
        return 0.0
    den = v[0] - 2 * v[1] + v[2]
    return float(np.clip(0.5 * (v[0] - v[2]) / den, -0.5, 0.5)) if den > 0 else 0.0


def shift_masks(masks: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """(H, W) mask moved by each (dx, dy) in pixels -> (F, H, W) (bilinear, zeros outside)."""
    h, w = masks.shape
    n = len(shifts)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = -torch.as_tensor(shifts[:, 0], dtype=torch.float32) * 2 / w
    theta[:, 1, 2] = -torch.as_tensor(shifts[:, 1], dtype=torch.float32) * 2 / h
    grid = F.affine_grid(theta, (n, 1, h, w), align_corners=False)
    src = torch.as_tensor(masks, dtype=torch.float32)[None, None].expand(n, 1, h, w)
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0].numpy()


def _widen(m: np.ndarray, px: float) -> np.ndarray:
    """Max-filter along x only (the eyes' yaw residual is sideways)."""
    k = int(round(px))
    if k < 1:
        return m
    t = torch.as_tensor(m)[:, None]
    return F.max_pool2d(t, (1, 2 * k + 1), 1, (0, k))[:, 0].numpy()


@dataclass
class ReferenceColours:
    skin: np.ndarray   # (3,) RGB
    lips: float        # luminance


def reference_colours(image: np.ndarray, lm, bx, registry=None) -> ReferenceColours:
    """Skin, lip luminance and brow colour of the reference frame (see the module doc)."""
    h, w = image.shape[:2]
    img = np.asarray(image, np.float32)
    masks = _region_masks(registry)
    parts = {n: _mask(masks, n, lm, bx, h, w)[0] for n in ("face", "mouth", "eyes", "brows")}
    skin_w = parts["face"] * np.prod([1 - np.clip(3 * parts[n], 0, 1) for n in ("mouth", "eyes", "brows")], 0)
    sel = skin_w > 0.99
    skin = np.median(img[sel], 0) if sel.sum() >= 4 else np.median(img[parts["face"] > 0.5].reshape(-1, 3), 0)
    if lm is not None:
        lip_poly = torch.as_tensor(lm[:1, list(fi.LIPS_OUTER), :2])
        from actalker.plugins.builtin.raster import polygon_masks

        inside = polygon_masks(lip_poly, h, w, torch.zeros(1), torch.full((1,), 0.5))[0].numpy() > 0.99
    else:
        inside = parts["mouth"] > 0.99
    lum = img @ LUMA
    skin_l = float(skin @ LUMA)
    lips = float(np.percentile(lum[inside], 75)) if inside.sum() >= 2 else skin_l
    return ReferenceColours(skin.astype(np.float32), lips)


def measure_openness(frames: np.ndarray, landmarks, boxes, reference: Optional[np.ndarray] = None,
                     align: bool = True, registry=None) -> Openness:
    """Mouth and eye openness of each frame.

    frames uint8 (F, H, W, 3); landmarks (478, 3) / (1, 478, 3) of the reference face, or
    (F, 478, 3) per frame, normalised to the frames (None: box-only regions); boxes (4,),
    (1, 4) or (F, 4) normalised xyxy; reference: the image the landmarks describe, at the
    frames' size (default: the first frame). With static landmarks and ``align`` the
    regions follow the head's translation. The mouth, eyes and face regions come from
    ``registry`` (default: the installed plugins).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) < 1:
        raise ShapeError(f"frames must have shape (F, H, W, 3), got {frames.shape}")
    n, h, w = frames.shape[:3]
    lm, bx = _as_face(landmarks, boxes, n)
    ref = frames[0] if reference is None else np.asarray(reference)
    if ref.shape != frames.shape[1:]:
        raise ShapeError(f"reference must have the frames' shape {frames.shape[1:]}, got {ref.shape}")
    first = (None if lm is None else lm[:1], bx[:1])
    colours = reference_colours(ref, *first, registry=registry)
    size = _face_size(bx[0], h, w)
    masks = _region_masks(registry)
    if len(bx) == n and n > 1:  # per-frame face: no alignment needed
        mouth_m, eyes_m = _mask(masks, "mouth", lm, bx, h, w), _mask(masks, "eyes", lm, bx, h, w)
        shifts = np.zeros((n, 2), np.float32)
    else:
        mouth_m, eyes_m = _mask(masks, "mouth", *first, h, w), _mask(masks, "eyes", *first, h, w)
        shifts = np.zeros((n, 2), np.float32)
        if align and n > 1:
            face = _mask(masks, "face", *first, h, w)
            face = -F.max_pool2d(-torch.as_tensor(face)[:, None], 2 * int(ALIGN_ERODE * size) + 1, 1, int(ALIGN_ERODE * size))[0, 0].numpy()
            shifts = estimate_shifts(frames, ref, face, ALIGN_RANGE * size)
        mouth_m, eyes_m = shift_masks(mouth_m[0], shifts), shift_masks(eyes_m[0], shifts)
    eyes_m = _widen(eyes_m, EYE_WIDEN * size)

    img = frames.astype(np.float32)
    lum = img @ LUMA
    base = max(min(float(colours.skin @ LUMA), colours.lips), 1.0)
    lo, hi = MOUTH_DARK
    interior = np.clip(((base - lum) / base - lo) / (hi - lo), 0, 1)
    eye_px = np.clip(np.linalg.norm(img - colours.skin, axis=-1) / EYE_DIST, 0, 1)

    face_h, mouth_w, eye_w = _extents(lm, bx, h, w)
    mouth = (mouth_m * interior).sum((1, 2)) / (mouth_w * face_h)
    eyes = (eyes_m * eye_px).sum((1, 2)) / (eye_w * face_h)
    return Openness(mouth.astype(np.float32), eyes.astype(np.float32), shifts)


def _extents(lm, bx, h: int, w: int) -> tuple[float, float, float]:
    """Face height, mouth width and summed eye widths of the first frame, in pixels."""
    face_h = max(float(bx[0, 3] - bx[0, 1]) * h, 1.0)
    if lm is None:
        fw = float(bx[0, 2] - bx[0, 0]) * w
        return face_h, max(0.6 * fw, 1.0), max(0.8 * fw, 1.0)
    x = lm[0, :, 0] * w
    width = lambda idx: float(x[list(idx)].max() - x[list(idx)].min())  # noqa: E731
    return face_h, max(width(fi.LIPS_OUTER), 1.0), max(width(fi.LEFT_EYE) + width(fi.RIGHT_EYE), 1.0)
