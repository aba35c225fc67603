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


def vae_roundtrip(vae, decode_chunk: int = 8, decode_overlap: int = 2):
    """frames uint8 (F, H, W, 3) -> the same frames encoded (posterior mean) and decoded as
    the pipeline decodes: what a perfect denoiser could show at best through this VAE."""
    import torch

    from actalker.core.sampling import decode_latents, frames_to_uint8

    def run(frames: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        x = x.to(vae.device, vae.dtype)  # a pipeline's VAE may sit on a GPU in half precision
        with torch.no_grad():
            lat = torch.cat([vae.encode(x[i:i + 16]).latent_dist.mode() for i in range(0, len(x), 16)])
        lat = lat[None] * vae.config.scaling_factor
        return frames_to_uint8(decode_latents(vae, lat, decode_chunk, decode_overlap)[0])

    return run


def estimator_report(clips, min_std: float = 0.05, per_frame_landmarks: bool = False, transform=None) -> dict:
    """clips: Clip objects (or dicts with frames, landmarks, boxes, truth) with truth;
    ``transform`` (frames -> frames, e.g. ``vae_roundtrip``) is applied before measuring."""
    rows, pooled = [], {p: ([], []) for p in PARTS}
    for clip in clips:
        get = (lambda k: clip[k]) if isinstance(clip, dict) else (lambda k: getattr(clip, k))
        frames = clip["frames"] if isinstance(clip, dict) else clip.frames()
        if transform is not None:
            frames = transform(frames)
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
