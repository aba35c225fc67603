"""Framing, one owner for both ends: the square around the face that training clips are cut
to (``face_square``, used by ``actalker preprocess`` and by ``actalker generate`` on a
portrait), and the reference portrait at the output size (``fit_image``: any image ->
(1, 3, H, W) in [-1, 1], scaled to cover and centre cropped, with the crop so the face's
landmarks and boxes follow it)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from actalker.errors import ShapeError


FACE_MARGIN = 1.8  # the square's side = FACE_MARGIN x the face box's side (the training clips' framing)


def face_square(boxes_px: np.ndarray, width: int, height: int, margin: float = FACE_MARGIN) -> tuple[float, float, float]:
    """One square (x0, y0, side) in pixels around face boxes (N, 4) xyxy in pixels (one box
    for a portrait, every frame's for a clip: no jitter): centred on the median box centre,
    side = ``margin`` x the median box side, shrunk and shifted to stay inside the frame."""
    boxes_px = np.asarray(boxes_px, np.float64).reshape(-1, 4)
    centres = (boxes_px[:, :2] + boxes_px[:, 2:]) / 2
    cx, cy = np.median(centres, axis=0)
    side = float(min(margin * np.median(np.max(boxes_px[:, 2:] - boxes_px[:, :2], axis=1)), width, height))
    x0 = float(np.clip(cx - side / 2, 0, width - side))
    y0 = float(np.clip(cy - side / 2, 0, height - side))
    return x0, y0, side


def points_in_square(landmarks: np.ndarray, boxes: np.ndarray, square: Sequence[float], width: int,
                     height: int) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks (..., 3) and boxes (..., 4), normalised to a width x height image, re-expressed
    in the square (x0, y0, side) of ``face_square`` (z scales like x, as MediaPipe's does)."""
    x0, y0, side = square
    lms = np.asarray(landmarks, np.float64).copy()
    lms[..., 0] = (lms[..., 0] * width - x0) / side
    lms[..., 1] = (lms[..., 1] * height - y0) / side
    lms[..., 2] = lms[..., 2] * width / side
    scale = np.array([width, height, width, height], np.float64)
    out_boxes = (np.asarray(boxes, np.float64) * scale - np.array([x0, y0, x0, y0])) / side
    return lms, out_boxes


def image_to_tensor(image) -> torch.Tensor:
    """uint8 (H, W, 3) array/tensor, a PIL image, or float (3, H, W) / (1, 3, H, W) in
    [-1, 1] -> float32 (1, 3, H, W) in [-1, 1]."""
    try:  # PIL without importing it at module level
        from PIL import Image

        if isinstance(image, Image.Image):
            image = np.asarray(image.convert("RGB"))
    except ImportError:  # pragma: no cover
        pass
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.array(image))  # a copy: inputs may be read-only (mmap)
    if not isinstance(image, torch.Tensor):
        raise ShapeError(f"image must be an array, tensor or PIL image, got {type(image).__name__}")
    if image.dtype == torch.uint8:
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ShapeError(f"uint8 image must be (H, W, 3), got {tuple(image.shape)}")
        return image.permute(2, 0, 1)[None].float() / 127.5 - 1.0
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[:2] != (1, 3):
        raise ShapeError(f"float image must be (3, H, W) or (1, 3, H, W) in [-1, 1], got {tuple(image.shape)}")
    return image.float()


def fit_image(image, height: int, width: int) -> tuple[torch.Tensor, tuple[float, float, float, float]]:
    """Scale ``image`` to cover (height, width), centre crop. Returns the (1, 3, H, W) tensor
    in [-1, 1] and the crop (x0, y0, x1, y1) in normalised coordinates of the input."""
    if height % 8 or width % 8:
        raise ShapeError(f"height and width must be multiples of 8, got {height}x{width}")
    x = image_to_tensor(image)
    h, w = x.shape[-2:]
    scale = max(height / h, width / w)
    new_h, new_w = max(height, round(h * scale)), max(width, round(w * scale))
    if (new_h, new_w) != (h, w):
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    x = x[..., top : top + height, left : left + width].clamp(-1, 1)
    crop = (left / new_w, top / new_h, (left + width) / new_w, (top + height) / new_h)
    return x, crop


def crop_points(points: torch.Tensor, crop: Sequence[float]) -> torch.Tensor:
    """Map normalised (..., >=2) points (x, y first) of the input image into the crop."""
    x0, y0, x1, y1 = crop
    out = points.clone().float()
    out[..., 0] = (out[..., 0] - x0) / (x1 - x0)
    out[..., 1] = (out[..., 1] - y0) / (y1 - y0)
    return out


def crop_boxes(boxes: torch.Tensor, crop: Sequence[float]) -> torch.Tensor:
    """Map normalised (..., 4) xyxy boxes of the input image into the crop (clamped to [0, 1])."""
    pts = crop_points(boxes.reshape(*boxes.shape[:-1], 2, 2), crop)
    return pts.reshape(boxes.shape).clamp(0, 1)


__all__ = ["FACE_MARGIN", "crop_boxes", "crop_points", "face_square", "fit_image", "image_to_tensor",
           "points_in_square"]
