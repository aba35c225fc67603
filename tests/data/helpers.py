"""Small clip builders for the data tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from actalker.data.clip import write_clip


def numbered_clip(path: Path, n: int = 30, fps: float = 25.0, size: int = 16, audio: bool = True,
                  identity: str = "person", clip_id: str | None = None):
    """A clip whose frame k has every pixel = k (so a window reveals which frames it took),
    truth 'index' = k, and audio whose sample s = s / 16000 seconds (a time ramp)."""
    frames = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None, None], size * size * 3).reshape(n, size, size, 3)
    lms = np.random.default_rng(0).uniform(0.3, 0.7, (n, 478, 3)).astype(np.float32)
    boxes = np.tile(np.array([0.3, 0.3, 0.7, 0.7], np.float32), (n, 1))
    motion = np.zeros((n, 58), np.float32)
    motion[:, 0] = np.arange(n)
    wav = (np.arange(int(n / fps * 16000)) / 16000 / (n / fps)).astype(np.float32) if audio else None
    return write_clip(path, clip_id=clip_id or path.name, identity=identity, fps=fps, frames=frames,
                      landmarks=lms, boxes=boxes, motion=motion, audio=wav,
                      truth={"index": np.arange(n, dtype=np.float32)})
