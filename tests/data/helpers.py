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


class ContentTracker:
    """A stand-in for MediaPipe's FaceTracker (picklable, so it runs in spawned workers):
    the 'face' is a box whose place follows the frame's brightness, so each video gets its
    own crop and landmarks. ``fail_frames``: raise RuntimeError for a video of that length;
    ``die_frames``: end the whole process (as a crash in native code would)."""

    def __init__(self, fail_frames: int | None = None, die_frames: int | None = None):
        self.fail_frames, self.die_frames = fail_frames, die_frames

    def track(self, frames, fps):
        from actalker.media.face import FaceTrack

        n = len(frames)
        if n == self.fail_frames:
            raise RuntimeError(f"tracker crashed on a {n}-frame video")
        if n == self.die_frames:  # like a segfault in native code: the worker process is gone
            import os

            os._exit(11)
        shift = frames.reshape(n, -1).mean(1).astype(np.float32) / 255.0 * 0.2  # (F,) in [0, 0.2]
        grid = np.random.default_rng(n).uniform(0.35, 0.55, (478, 3)).astype(np.float32)
        lms = grid[None] + shift[:, None, None]
        boxes = np.concatenate([lms[..., :2].min(1), lms[..., :2].max(1)], 1)
        blend = np.tile(shift[:, None], (1, 52))
        return FaceTrack(lms, boxes, blend, np.tile(np.eye(4, dtype=np.float32), (n, 1, 1)),
                         np.ones(n, bool), np.ones(n, np.int64))


def synthetic_videos(folder: Path, lengths=(30, 31, 32, 33), size: int = 64) -> list[Path]:
    """Small mp4 files with audio, one per length, under folder/<person>/ (two people)."""
    from actalker.media.video import write_video

    paths = []
    for k, n in enumerate(lengths):
        rng = np.random.default_rng(k)
        base = rng.integers(0, 200, (1, size, size, 3))
        frames = np.clip(base + np.arange(n)[:, None, None, None] * 2, 0, 255).astype(np.uint8)
        audio = (0.1 * np.sin(np.arange(int(n / 25 * 16000)) * (0.05 + 0.01 * k))).astype(np.float32)
        path = folder / f"person{k % 2}" / f"talk{k}.mp4"
        write_video(path, frames, 25.0, audio=audio)
        paths.append(path)
    return paths
