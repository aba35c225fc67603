"""A PNG grid of a few clips' frames with the region masks overlaid (mouth red, upper_face
blue), for a person to check that the masks cover the drawn mouth and eyes/brows."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from actalker.data.clip import Clip
from actalker.utils.atomic import atomic_path

OVERLAYS = (("mouth", (255, 40, 40)), ("upper_face", (40, 90, 255)))
ALPHA = 0.45
# Box fallback if the regions plugin is unavailable: (x0, y0, x1, y1) fractions of the face box.
_FALLBACK = {"mouth": (0.2, 0.62, 0.8, 1.0), "upper_face": (0.0, 0.0, 1.0, 0.6)}


def _mask_fns() -> dict:
    try:
        from actalker.plugins import load_registry

        reg = load_registry()
        return {name: reg.region(name).mask for name, _ in OVERLAYS}
    except Exception:  # plugins not installed / broken: a sheet is still useful with boxes
        return {name: _box_mask(frac) for name, frac in _FALLBACK.items()}


def _box_mask(frac):
    def mask(landmarks, boxes, height, width):
        b = torch.as_tensor(boxes, dtype=torch.float32)
        x0, y0, x1, y1 = b.unbind(-1)
        ax0, ax1 = x0 + frac[0] * (x1 - x0), x0 + frac[2] * (x1 - x0)
        ay0, ay1 = y0 + frac[1] * (y1 - y0), y0 + frac[3] * (y1 - y0)
        xs = (torch.arange(width) + 0.5) / width
        ys = (torch.arange(height) + 0.5) / height
        inx = (xs[None] >= ax0[:, None]) & (xs[None] <= ax1[:, None])
        iny = (ys[None] >= ay0[:, None]) & (ys[None] <= ay1[:, None])
        return (iny[:, :, None] & inx[:, None, :]).float()
    return mask


def overlay(frames: np.ndarray, landmarks: np.ndarray, boxes: np.ndarray, fns: dict | None = None) -> np.ndarray:
    """uint8 (F, H, W, 3) with mouth/upper_face masks blended in."""
    fns = fns or _mask_fns()
    out = frames.astype(np.float32)
    h, w = frames.shape[1:3]
    for name, colour in OVERLAYS:
        m = fns[name](torch.from_numpy(np.asarray(landmarks, np.float32)), torch.from_numpy(np.asarray(boxes, np.float32)), h, w)
        a = ALPHA * m.numpy()[..., None]
        out = out * (1 - a) + np.asarray(colour, np.float32) * a
    return out.clip(0, 255).astype(np.uint8)


def contact_sheet(clip_dirs: list[Path], out_png: str | Path, frames_per_clip: int = 6, scale: int = 2) -> Path:
    """Rows = clips, columns = evenly spaced frames: plain frame first, then overlaid ones."""
    fns = _mask_fns()
    rows = []
    for d in clip_dirs:
        clip = Clip.read(d)
        idx = np.linspace(0, clip.num_frames - 1, frames_per_clip).round().astype(int)
        frames = clip.frames()[idx]
        over = overlay(frames, clip.landmarks[idx], clip.boxes[idx], fns)
        rows.append(np.concatenate([frames[0]] + list(over), axis=1))
    grid = np.concatenate(rows, axis=0)
    img = Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    draw = ImageDraw.Draw(img)
    for r, d in enumerate(clip_dirs):
        draw.text((3, r * img.height // len(clip_dirs) + 2), Path(d).name, fill=(255, 255, 255))
    out_png = Path(out_png)
    with atomic_path(out_png) as tmp:
        img.save(tmp, format="PNG")
        tmp.chmod(0o644)  # mkstemp makes 0600; a picture is for everyone to read
    return out_png
