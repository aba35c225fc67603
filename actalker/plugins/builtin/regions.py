"""Built-in regions: face, mouth, eyes, brows, upper_face (face without mouth), full.

From MediaPipe's 478 landmarks: the landmark contour (face_indices) is filled, grown by a
margin and feathered, both proportional to the face size so masks look alike at any
resolution. ``upper_face`` is the face minus the mouth's whole soft support, so it and
``mouth`` never overlap (mask-drop needs disjoint regions).

Box fallback (landmarks None, or NaN in a frame), as fractions of the face box
(x0, y0, x1, y1) with x across and y down:
  face       the box itself
  mouth      x 0.20-0.80, y 0.62-1.00  (lower third)
  eyes       x 0.10-0.90, y 0.28-0.50
  brows      x 0.10-0.90, y 0.15-0.32
"""
from __future__ import annotations

from typing import Optional

import torch

from actalker.errors import ShapeError
from actalker.plugins.builtin import face_indices as fi
from actalker.plugins.builtin.raster import polygon_masks
from actalker.plugins.hookspecs import hookimpl
from actalker.plugins.spec import RegionSpec

# (dilate, feather) as fractions of the face size sqrt(face width * face height).
MARGINS = {
    "face": (0.02, 0.04),
    "mouth": (0.06, 0.05),
    "eyes": (0.05, 0.04),
    "brows": (0.04, 0.04),
}
CONTOURS = {
    "face": (fi.FACE_OVAL,),
    "mouth": (fi.LIPS_OUTER,),
    "eyes": (fi.LEFT_EYE, fi.RIGHT_EYE),
    "brows": (fi.LEFT_BROW, fi.RIGHT_BROW),
}
BOX_FRACTIONS = {  # (x0, y0, x1, y1) inside the face box
    "face": (0.0, 0.0, 1.0, 1.0),
    "mouth": (0.20, 0.62, 0.80, 1.00),
    "eyes": (0.10, 0.28, 0.90, 0.50),
    "brows": (0.10, 0.15, 0.90, 0.32),
}


def _check(landmarks: Optional[torch.Tensor], boxes: torch.Tensor, height: int, width: int):
    boxes = torch.as_tensor(boxes, dtype=torch.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ShapeError(f"region boxes must have shape (frames, 4), got {tuple(boxes.shape)}")
    if landmarks is not None:
        landmarks = torch.as_tensor(landmarks, dtype=torch.float32)
        if landmarks.ndim != 3 or landmarks.shape[1] != fi.NUM_LANDMARKS or landmarks.shape[0] != boxes.shape[0]:
            raise ShapeError(
                f"region landmarks must have shape ({boxes.shape[0]}, {fi.NUM_LANDMARKS}, 2 or 3), got {tuple(landmarks.shape)}"
            )
    if int(height) < 1 or int(width) < 1:
        raise ShapeError(f"region mask size must be positive, got {height}x{width}")
    return landmarks, boxes


def _face_size(extent: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """extent (F, 4) normalised xyxy -> sqrt(w * h) in output pixels, (F,)."""
    w = (extent[:, 2] - extent[:, 0]).abs() * width
    h = (extent[:, 3] - extent[:, 1]).abs() * height
    return (w * h).clamp_min(1e-6).sqrt()


def _box_poly(boxes: torch.Tensor, frac: tuple[float, float, float, float]) -> torch.Tensor:
    x0, y0, x1, y1 = boxes.unbind(-1)
    fx0, fy0, fx1, fy1 = frac
    ax0, ax1 = x0 + fx0 * (x1 - x0), x0 + fx1 * (x1 - x0)
    ay0, ay1 = y0 + fy0 * (y1 - y0), y0 + fy1 * (y1 - y0)
    return torch.stack(
        [torch.stack([ax0, ay0], -1), torch.stack([ax1, ay0], -1), torch.stack([ax1, ay1], -1), torch.stack([ax0, ay1], -1)],
        dim=1,
    )


def _part(name: str, lm, boxes, height, width, grow: float = 0.0) -> torch.Tensor:
    """Soft mask of one part; ``grow`` adds to the margin (fraction of face size)."""
    dil_f, fea_f = MARGINS[name]
    valid = None if lm is None else torch.isfinite(lm[..., :2]).all(dim=(1, 2))
    out = torch.zeros(boxes.shape[0], height, width)
    if valid is None or not bool(valid.all()):
        size = _face_size(boxes, height, width)
        m = polygon_masks(_box_poly(boxes, BOX_FRACTIONS[name]), height, width, (dil_f + grow) * size, fea_f * size)
        out = m if valid is None else torch.where(valid[:, None, None], out, m)
    if valid is not None and bool(valid.any()):
        xy = torch.nan_to_num(lm[..., :2])
        oval = xy[:, list(fi.FACE_OVAL)]
        extent = torch.cat([oval.min(dim=1).values, oval.max(dim=1).values], dim=-1)
        size = _face_size(extent, height, width)
        m = torch.zeros_like(out)
        for contour in CONTOURS[name]:
            m = torch.maximum(m, polygon_masks(xy[:, list(contour)], height, width, (dil_f + grow) * size, fea_f * size))
        out = torch.where(valid[:, None, None], m, out)
    return out


def _region(name: str):
    def mask(landmarks, boxes, height, width):
        lm, bx = _check(landmarks, boxes, height, width)
        return _part(name, lm, bx, int(height), int(width))

    return mask


def upper_face_mask(landmarks, boxes, height, width):
    lm, bx = _check(landmarks, boxes, height, width)
    h, w = int(height), int(width)
    face = _part("face", lm, bx, h, w)
    # Mouth grown by its own feather: where `mouth` is > 0 this is 1, so the two are disjoint.
    wide_mouth = _part("mouth", lm, bx, h, w, grow=MARGINS["mouth"][1])
    return face * (1.0 - wide_mouth)


def full_mask(landmarks, boxes, height, width):
    _, bx = _check(landmarks, boxes, height, width)
    return torch.ones(bx.shape[0], int(height), int(width))


REGIONS = (
    RegionSpec("face", _region("face"), "the face oval"),
    RegionSpec("mouth", _region("mouth"), "lips and the area around them"),
    RegionSpec("eyes", _region("eyes"), "both eyes and lids"),
    RegionSpec("brows", _region("brows"), "both eyebrows"),
    RegionSpec("upper_face", upper_face_mask, "the face without the mouth region"),
    RegionSpec("full", full_mask, "the whole frame"),
)


@hookimpl
def register_regions(register):
    for spec in REGIONS:
        register(spec)
