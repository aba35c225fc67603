"""ClipDataset: random windows of F frames at a target size and fps from a data folder.

Picklable and handle-free (only paths and numbers in ``__init__``), so torch DataLoader
workers each open what they need. Window starts come from torch's global RNG, which the
DataLoader seeds differently in every worker; pass ``seed`` for fixed windows (validation).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from actalker.data.clip import SAMPLE_RATE, Clip
from actalker.data.manifest import load_manifest, split_clips
from actalker.errors import InputError


def window_indices(src_frames: int, src_fps: float, num_frames: int, fps: float, start: float) -> np.ndarray:
    """Source frame for each of ``num_frames`` output frames at ``fps`` from time ``start``
    (nearest in time: output frame k at start + k / fps takes the source frame shown then)."""
    t = start + np.arange(num_frames) / fps
    return np.clip(np.floor(t * src_fps + 0.5 + 1e-9).astype(np.int64), 0, src_frames - 1)


class ClipDataset(torch.utils.data.Dataset):
    """Items: ``frames`` (F, 3, H, W) float in [-1, 1], ``landmarks`` (F, 478, 3), ``boxes``
    (F, 4), ``motion`` (F, 58), ``audio`` (round(F / fps * 16000),) samples covering the window
    (zero-padded past the end; the key is absent for clips without audio), ``truth``
    {name: (F,)} ({} for real clips), ``clip_id``, ``identity``, ``clip_path``, ``source_fps``
    (the stored clip's frame rate; frames here are at ``fps``) and ``start`` (seconds).

    ``reference="random"`` adds ``reference`` (3, H, W), ``reference_landmarks`` (1, 478, 3)
    and ``reference_boxes`` (1, 4): one frame drawn uniformly from the WHOLE clip, not the
    window's first frame. Generation animates one portrait over a long video, so the frame
    to make is usually far from the reference in time; with the window's own first frame
    the model learns to copy slow features (eye openness, pose) from the reference instead
    of taking them from their signal.

    Clips shorter than the window, and clips without audio when ``require_audio``, are left
    out; an empty result is an InputError.
    """

    def __init__(self, root: str | Path, split: str = "train", num_frames: int = 16, size: int | None = 64,
                 fps: float = 25.0, require_audio: bool = False, seed: int | None = None, samples_per_clip: int = 1,
                 reference: str = "first"):
        if num_frames < 1 or fps <= 0 or (size is not None and size < 1):
            raise InputError(f"ClipDataset: need num_frames >= 1, fps > 0, size >= 1 (got {num_frames}, {fps}, {size})")
        if reference not in ("first", "random"):
            raise InputError(f"ClipDataset: reference must be 'first' or 'random', got {reference!r}")
        self.reference = reference
        self.root = Path(root)
        self.num_frames, self.size, self.fps = int(num_frames), size, float(fps)
        self.seed, self.samples_per_clip = seed, int(samples_per_clip)
        clips = split_clips(load_manifest(self.root), split)
        window = (self.num_frames - 1) / self.fps
        self.clips = [c for c in clips if (c["num_frames"] - 1) / c["fps"] >= window - 1e-9
                      and (c["has_audio"] or not require_audio)]
        if not self.clips:
            need = " with audio" if require_audio else ""
            raise InputError(f"{self.root / 'manifest.json'}: no clips{need} in split '{split}' long enough "
                             f"for {self.num_frames} frames at {self.fps:g} fps ({len(clips)} clips in the split)")

    def __len__(self) -> int:
        return len(self.clips) * self.samples_per_clip

    def _uniform(self, index: int, stream: int = 0) -> float:
        if self.seed is None:
            return float(torch.rand(()))
        key = [self.seed, index] if stream == 0 else [self.seed, index, stream]
        return float(np.random.default_rng(key).random())

    def _resize(self, raw: np.ndarray) -> torch.Tensor:
        """uint8 (F, H, W, 3) -> float (F, 3, size, size) in [-1, 1]."""
        frames = torch.from_numpy(raw).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        if self.size is not None and frames.shape[-2:] != (self.size, self.size):
            frames = F.interpolate(frames, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        return frames.clamp(-1, 1)

    def __getitem__(self, index: int) -> dict:
        entry = self.clips[index % len(self.clips)]
        clip = Clip.read(self.root / entry["path"])
        n, src_fps = clip.num_frames, clip.fps
        max_start = int(np.floor(((n - 1) / src_fps - (self.num_frames - 1) / self.fps) * src_fps + 1e-6))
        start = min(int(self._uniform(index) * (max_start + 1)), max_start) / src_fps
        idx = window_indices(n, src_fps, self.num_frames, self.fps, start)
        raw = clip.frames(int(idx.min()), int(idx.max()) + 1)[idx - idx.min()]
        item = {
            "frames": self._resize(raw),
            "landmarks": torch.from_numpy(np.array(clip.landmarks[idx], np.float32)),
            "boxes": torch.from_numpy(np.array(clip.boxes[idx], np.float32)),
            "motion": torch.from_numpy(np.array(clip.motion[idx], np.float32)),
            "truth": {k: torch.from_numpy(v[idx]) for k, v in clip.truth.items()},
            "clip_id": clip.id,
            "identity": clip.identity,
            "source_fps": float(src_fps),
            "clip_path": str(clip.path),
            "start": float(start),
            "frame_index": torch.from_numpy(np.asarray(idx, np.int64)),  # the stored frames shown (train.cache_latents)
        }
        if clip.audio is not None:
            length = int(round(self.num_frames / self.fps * SAMPLE_RATE))
            s = int(round(start * SAMPLE_RATE))
            seg = clip.audio[s:s + length]
            item["audio"] = torch.from_numpy(np.pad(seg, (0, length - len(seg))).astype(np.float32))
        if self.reference == "random":
            r = min(int(self._uniform(index, stream=1) * n), n - 1)
            item["reference"] = self._resize(clip.frames(r, r + 1))[0]
            item["reference_landmarks"] = torch.from_numpy(np.array(clip.landmarks[r:r + 1], np.float32))
            item["reference_boxes"] = torch.from_numpy(np.array(clip.boxes[r:r + 1], np.float32))
        return item
