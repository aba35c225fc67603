"""The face crop the model sees, with each branch's region drawn on it (regions come from
the registry's region plugins, as the pipeline builds them)."""
from __future__ import annotations

import numpy as np

COLOURS = [(230, 60, 60), (60, 120, 230), (60, 180, 90), (220, 160, 30), (170, 70, 200), (40, 190, 190)]
SIZE = 256  # the demo model is 64 px: draw on an enlarged copy


def region_preview(pipe, image: np.ndarray, landmarks, boxes) -> np.ndarray:
    """uint8 (SIZE, SIZE*w/h, 3): the cropped portrait, each branch's region tinted and named."""
    import torch
    from PIL import Image, ImageDraw

    from actalker.core.framing import crop_boxes, crop_points, fit_image

    s = pipe.config.sampling
    h, w = int(s.height), int(s.width)
    ref, crop = fit_image(image, h, w)
    bx = crop_boxes(torch.tensor(np.array(boxes, np.float32)).reshape(-1, 4), crop)
    lm = None if landmarks is None else crop_points(torch.tensor(np.array(landmarks, np.float32)), crop)
    masks = pipe.region_masks(lm, bx, h, w)
    base = ((ref[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().byte().numpy().astype(np.float32)
    k = max(1, SIZE // h)
    base = base.repeat(k, 0).repeat(k, 1)
    out = base.copy()
    for i, b in enumerate(pipe.branches):
        m = masks[b.region][0].numpy().repeat(k, 0).repeat(k, 1)[..., None] * 0.45
        out = out * (1 - m) + np.array(COLOURS[i % len(COLOURS)], np.float32) * m
    canvas = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    top = canvas.height - 13 * len(pipe.branches) - 2  # legend at the bottom: the page's label covers the top
    for i, b in enumerate(pipe.branches):
        y = top + 13 * i
        draw.rectangle((3, y + 2, 11, y + 10), fill=COLOURS[i % len(COLOURS)])
        draw.text((15, y), f"{b.name}: {b.region}", fill=(255, 255, 255))
    return np.asarray(canvas)
