"""The clip seam: a clip -> each branch's condition features, a face -> region masks.

Stored clips (``actalker.data.clip.Clip``), training windows (``actalker.train.data.WindowClip``)
and the demo's synthetic inputs all implement ``ClipLike``; training, evaluation, the demo
and the pipeline get features and masks through the two functions here, so a modality
plugin's ``from_clip`` and a region plugin's ``mask`` are called in one place each.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional, Protocol, Sequence, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class ClipLike(Protocol):
    """What every clip shape offers (docs/CONTRACTS.md): per-frame face tracks aligned to
    ``num_frames`` at ``fps``; ``path`` is the stored clip's folder (None when there is none),
    ``start`` the seconds from the stored clip's start to this clip's first frame and
    ``source_fps`` the stored clip's frame rate (a training window's ``fps`` is the training
    rate). Field by field: docs/plugins.md, "The clip a from_clip gets". The signal arrays a
    clip carries are the plugins' business (``ModalitySpec.from_clip``)."""

    id: str
    identity: str
    fps: float
    source_fps: float
    num_frames: int
    landmarks: Any
    boxes: Any
    truth: dict
    path: Any
    start: float

    def frames(self, start: int = 0, stop: Optional[int] = None) -> np.ndarray:
        """uint8 (stop - start, H, W, 3)."""
        ...


def conditions_from_clip(branches: Iterable[Any], clip: ClipLike,
                         num_frames: Optional[int] = None) -> dict[str, torch.Tensor]:
    """Branch -> float32 features (F, *feature_shape) from each branch's plugin, cut to
    ``num_frames`` (default: the clip's). A plugin's failure, a wrong shape or a non-finite
    value is a one-line error naming the branch, its plugin and the clip."""
    from actalker.plugins.calls import call_plugin, check_features

    n = clip.num_frames if num_frames is None else int(num_frames)
    on = f"clip {getattr(clip, 'id', '?')}"
    return {b.name: check_features(b, call_plugin(b, "from_clip", b.spec.from_clip, clip, b.options, on=on), n,
                                   "from_clip", on)
            for b in branches}


def _reference_face(landmarks, boxes) -> tuple[Optional[torch.Tensor], torch.Tensor]:
    """The first face of ``boxes`` (N, 4) / (4,) and ``landmarks`` (N, P, 3) / (P, 3), batched as 1."""
    boxes = torch.tensor(np.array(boxes, dtype=np.float32)).reshape(-1, 4)[:1]
    if landmarks is not None:
        landmarks = torch.tensor(np.array(landmarks, dtype=np.float32))
        landmarks = landmarks.reshape(-1, *landmarks.shape[-2:])[:1]
    return landmarks, boxes


def region_masks(registry, regions: Sequence[str], landmarks, boxes, height: int,
                 width: int) -> dict[str, torch.Tensor]:
    """Region -> float32 mask (1, H, W) of the reference face (its first frame); {} without boxes.

    Masks are static per clip (as in the paper): training takes them from the reference
    frame exactly as generation does, so both see the same masks.
    """
    if boxes is None:
        return {}
    landmarks, boxes = _reference_face(landmarks, boxes)
    out: dict[str, torch.Tensor] = {}
    for name in dict.fromkeys(regions):
        m = registry.region(name).mask(landmarks, boxes, height, width)
        out[name] = torch.as_tensor(m, dtype=torch.float32).reshape(1, height, width)
    return out


__all__ = ["ClipLike", "conditions_from_clip", "region_masks"]
