"""How well the openness estimator reads rendered clips with known ground truth.

Each clip is measured the way generated videos are: the face's landmarks from its FIRST
frame only (static), regions following the head by alignment. Reported per part:
- ``pooled_r``: Pearson r over all frames of all clips after removing each clip's mean
  from both tracks (within-clip r; clips whose truth barely moves weigh little);
- ``clip_r_mean`` / ``clip_r_min``: per-clip r, over clips whose truth std >= ``min_std``
  (a clip with an almost constant truth has an r set by pixel noise, not the estimator).
"""
from __future__ import annotations

import numpy as np

from actalker.errors import InputError
from actalker.eval.control import pearson
from actalker.eval.openness import measure_openness

PARTS = {"mouth": "mouth_open", "eyes": "eye_open"}


def estimator_report(clips, min_std: float = 0.05, per_frame_landmarks: bool = False) -> dict:
    """clips: Clip objects (or dicts with frames, landmarks, boxes, truth) with truth."""
    rows, pooled = [], {p: ([], []) for p in PARTS}
    for clip in clips:
        get = (lambda k: clip[k]) if isinstance(clip, dict) else (lambda k: getattr(clip, k))
        frames = clip["frames"] if isinstance(clip, dict) else clip.frames()
        truth = get("truth")
        name = clip.get("clip_id", "?") if isinstance(clip, dict) else clip.id
        missing = [t for t in PARTS.values() if t not in truth]
        if missing:
            raise InputError(f"clip {name} has no ground truth {missing}; the estimator is validated on synthetic clips")
        lm, bx = np.asarray(get("landmarks")), np.asarray(get("boxes"))
        if not per_frame_landmarks:
            lm, bx = lm[:1], bx[:1]
        o = measure_openness(frames, lm, bx)
        row = {"clip": name}
        for part, key in PARTS.items():
            m, t = getattr(o, part).astype(np.float64), np.asarray(truth[key], np.float64)
            row[f"{part}_r"] = pearson(m, t)
            row[f"{part}_truth_std"] = float(t.std())
            pooled[part][0].append(m - m.mean())
            pooled[part][1].append(t - t.mean())
        rows.append(row)
    if not rows:
        raise InputError("no clips to validate the estimator on")
    summary = {}
    for part in PARTS:
        kept = [r[f"{part}_r"] for r in rows if r[f"{part}_truth_std"] >= min_std]
        summary[part] = {
            "pooled_r": pearson(np.concatenate(pooled[part][0]), np.concatenate(pooled[part][1])),
            "clip_r_mean": float(np.mean(kept)) if kept else float("nan"),
            "clip_r_min": float(np.min(kept)) if kept else float("nan"),
            "clips_used": len(kept),
        }
    return {"clips": rows, "summary": summary, "min_std": min_std,
            "landmarks": "per-frame" if per_frame_landmarks else "first frame + alignment"}
