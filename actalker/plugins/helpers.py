"""Shared helpers for modality plugins (public API: ``from actalker.plugins.helpers import ...``).

- ``read_frame_csv``: a frame-indexed CSV (``frame,<columns>``) -> one row per frame, gaps
  filled by linear interpolation;
- ``clip_times`` / ``clip_source_frames``: which moment / which stored frame each frame of
  a ``from_clip`` argument shows (a training window runs at the training rate, which may
  differ from the stored clip's ``source_fps``);
- ``side_file`` / ``frames_for_clip``: a file stored beside the clip, and a per-stored-frame
  array cut to the frames of the window;
- ``PerFrameMLP``: the usual encoder, (B, F, *feat) -> (B, F, tokens, dim), frame by frame.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from actalker.errors import InputError


def read_frame_csv(path: str | Path, columns: Sequence[str], what: str = "file",
                   value_range: tuple[float, float] | None = None) -> np.ndarray:
    """CSV with a header ``frame,<columns...>`` -> float32 (last frame + 1, len(columns)).

    ``frame`` is a frame index (0, 1, ...) at the rate the caller knows (the output video's
    for ``load``, the stored clip's for a side file); missing frames are linearly
    interpolated. Any problem is an ``InputError`` naming ``what`` and the file.
    """
    path = Path(path)
    need = ",".join(("frame", *columns))
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        frames = np.array([int(r["frame"]) for r in rows])
        values = np.array([[float(r[c]) for c in columns] for r in rows], dtype=np.float32).reshape(len(rows), len(columns))
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise InputError(f"{what} {path}: expected a CSV with columns {need} ({type(err).__name__}: {err})") from err
    bad_range = value_range is not None and not np.all((values >= value_range[0]) & (values <= value_range[1]))
    if len(frames) == 0 or frames.min() < 0 or not np.isfinite(values).all() or bad_range:
        limits = f" and {'/'.join(columns)} in [{value_range[0]:g}, {value_range[1]:g}]" if value_range else ""
        raise InputError(f"{what} {path}: expected rows with frame >= 0{limits}")
    order = np.argsort(frames, kind="stable")
    grid = np.arange(frames.max() + 1)
    cols = [np.interp(grid, frames[order], values[order, j]) for j in range(len(columns))]
    return np.stack(cols, axis=1).astype(np.float32)


def source_fps(clip) -> float:
    """The stored clip's frame rate (``clip.source_fps``; a whole stored clip has only ``fps``)."""
    return float(getattr(clip, "source_fps", None) or clip.fps)


def clip_times(clip) -> np.ndarray:
    """Seconds from the stored clip's first frame to each frame of ``clip`` (F,)."""
    return float(getattr(clip, "start", 0.0) or 0.0) + np.arange(int(clip.num_frames)) / float(clip.fps)


def clip_source_frames(clip, stored_frames: int | None = None) -> np.ndarray:
    """Index into the stored clip's frames of each frame of ``clip`` (nearest in time, as the
    training data loader picks frames), clipped to ``stored_frames`` when given."""
    idx = np.floor(clip_times(clip) * source_fps(clip) + 0.5 + 1e-9).astype(np.int64)
    return idx if stored_frames is None else np.clip(idx, 0, stored_frames - 1)


def side_file(clip, name: str, what: str) -> Path:
    """``name`` in the stored clip's folder, or an InputError naming the clip and ``what``."""
    folder = getattr(clip, "path", None)
    cid = getattr(clip, "id", "?")
    if folder is None:
        raise InputError(f"clip {cid}: no stored clip folder to read {name} from (needed by {what})")
    path = Path(folder) / name
    if not path.is_file():
        raise InputError(f"clip {cid}: missing {path} (needed by {what})")
    return path


def frames_for_clip(per_stored_frame: np.ndarray, clip, what: str) -> np.ndarray:
    """Rows of an array indexed by STORED frame (a side file) for each frame of ``clip``.

    A side file shorter than the frames the window needs is an InputError naming the clip.
    """
    arr = np.asarray(per_stored_frame)
    idx = clip_source_frames(clip)
    if len(idx) and idx.max() >= len(arr):
        last = math.floor(idx.max())
        raise InputError(f"clip {getattr(clip, 'id', '?')}: {what} has {len(arr)} frames but frame {last} is needed")
    return arr[idx]


class PerFrameMLP(torch.nn.Module):
    """(B, F, *feature_shape) -> (B, F, tokens, dim): an MLP on each frame's flattened features."""

    def __init__(self, in_features: int, hidden: int, tokens: int, dim: int):
        super().__init__()
        self.in_features, self.tokens, self.dim = int(in_features), int(tokens), int(dim)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(self.in_features, hidden), torch.nn.SiLU(), torch.nn.Linear(hidden, self.tokens * self.dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x.flatten(2)).unflatten(-1, (self.tokens, self.dim))


__all__ = ["read_frame_csv", "source_fps", "clip_times", "clip_source_frames", "side_file", "frames_for_clip",
           "PerFrameMLP"]
