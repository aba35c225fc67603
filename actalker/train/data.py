"""Training batches whose content is a pure function of (seed, position in the run).

The sampler draws one permutation per epoch from ``seed + epoch`` and shards every global
batch across processes; it can start at any batch. Each item is loaded under RNG seeds
derived from its key, so random windows inside the dataset do not depend on workers,
prefetching or what ran before. Together this makes ``--resume`` exact: the data after a
restart is the data the uninterrupted run would have seen.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


def item_seed(seed: int, epoch: int, index: int) -> int:
    # Distinct, well-mixed 63-bit seeds per (run seed, epoch, clip index).
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(2, np.uint64)[0] >> 1)


class ResumableBatchSampler(Sampler):
    """Yields lists of (index, epoch) keys: this process's share of each global batch.

    ``start_batch`` skips that many batches (per process) without loading anything.
    """

    def __init__(self, num_items: int, batch_size: int, seed: int, rank: int = 0, world: int = 1, start_batch: int = 0):
        if num_items < batch_size * world:
            raise ValueError(f"{num_items} items cannot fill one global batch of {batch_size} x {world} processes")
        self.n, self.bs, self.seed, self.rank, self.world = num_items, batch_size, seed, rank, world
        self.per_epoch = num_items // (batch_size * world)  # incomplete global batches are dropped
        self.start_batch = start_batch

    def epoch_order(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        b = self.start_batch
        while True:  # endless: the loop stops at max_steps
            epoch, j = divmod(b, self.per_epoch)
            order = self.epoch_order(epoch)
            start = (j * self.world + self.rank) * self.bs
            yield [(i, epoch) for i in order[start : start + self.bs]]
            b += 1

    def __len__(self) -> int:  # DataLoader asks; the stream is endless
        return 2**62


class SeededItems(Dataset):
    """Wraps a map-style dataset: item (index, epoch) is loaded under its own seeds, then
    ``transform(item, generator)`` (e.g. per-branch features) is applied."""

    def __init__(self, dataset, seed: int, transform: Optional[Callable[[dict], dict]] = None):
        self.dataset, self.seed, self.transform = dataset, seed, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        index, epoch = key
        s = item_seed(self.seed, epoch, index)
        py, npy = random.getstate(), np.random.get_state()
        try:
            with torch.random.fork_rng(devices=[]):
                random.seed(s)
                np.random.seed(s % 2**32)
                torch.manual_seed(s)
                item = self.dataset[index]
                if self.transform is not None:
                    item = self.transform(item)
        finally:
            random.setstate(py)
            np.random.set_state(npy)
        return item


def collate(items: list[dict]) -> dict:
    """Stack tensors; keep lists where items differ (None audio, strings, ragged data)."""
    out: dict[str, Any] = {}
    keys = list(dict.fromkeys(k for it in items for k in it))  # a key may be absent (e.g. audio)
    for key in keys:
        vals = [it.get(key) for it in items]
        if all(isinstance(v, torch.Tensor) for v in vals) and len({tuple(v.shape) for v in vals}) == 1:
            out[key] = torch.stack(vals)
        elif all(isinstance(v, dict) for v in vals) and len({tuple(v) for v in vals}) == 1:
            out[key] = collate(vals) if vals[0] else {}
        else:
            out[key] = vals
    return out


@dataclass
class WindowClip:
    """A training window seen as a ``Clip`` (``actalker.core.controls.ClipLike``), so a plugin's
    ``from_clip`` computes features for exactly the frames of the window.

    ``fps`` is the TRAINING rate (``data.fps``) of the window's frames; ``source_fps`` the
    stored clip's rate; frame k shows the moment ``start + k / fps`` seconds into the stored
    clip (``actalker.plugins.helpers.clip_times`` / ``clip_source_frames``)."""

    id: str
    identity: str
    fps: float
    num_frames: int
    landmarks: Optional[torch.Tensor]
    boxes: torch.Tensor
    motion: Optional[torch.Tensor]
    audio: Optional[np.ndarray]
    truth: dict
    _frames: torch.Tensor  # (F, 3, H, W) in [-1, 1]
    path: Optional[Path] = None  # the stored clip's folder, for plugins whose data lives there
    start: float = 0.0  # seconds from the clip's start to the window's first frame
    source_fps: Optional[float] = None  # the stored clip's frame rate (None: same as fps)

    def __post_init__(self):
        if self.source_fps is None:
            self.source_fps = float(self.fps)

    def frames(self, start: int = 0, stop: Optional[int] = None) -> np.ndarray:
        x = ((self._frames[start:stop].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return x.permute(0, 2, 3, 1).numpy()

    @classmethod
    def from_item(cls, item: dict, fps: float) -> "WindowClip":
        audio = item.get("audio")
        if isinstance(audio, torch.Tensor):
            audio = audio.float().numpy()
        clip_id = str(item.get("clip_id", "window"))
        return cls(
            id=clip_id,
            identity=str(item.get("identity") or clip_id),
            fps=float(fps),
            num_frames=int(item["frames"].shape[0]),
            landmarks=item.get("landmarks"),
            boxes=item["boxes"],
            motion=item.get("motion"),
            audio=audio,
            truth=item.get("truth") or {},
            _frames=item["frames"],
            path=Path(item["clip_path"]) if item.get("clip_path") else None,
            start=float(item.get("start", 0.0)),
            source_fps=float(item["source_fps"]) if item.get("source_fps") else None,
        )
