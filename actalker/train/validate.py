"""Validation videos: a short sample from a held-out window, beside the real frames.

Written as ``output_dir/val/step-00000100.mp4`` (generated | real, side by side, with the
window's audio). Uses the pipeline's own sampler, so it shows what ``actalker generate``
would produce from these weights. It draws from its own seeded generator and restores
the global RNGs, so validating never changes the training run's random stream.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from actalker.train.data import SeededItems


@torch.no_grad()
def validation_video(pipe, val_dataset, transform, cfg, step: int, out: Path, index: int = 0) -> Path:
    from actalker.core.sampling import frames_to_uint8
    from actalker.media import write_video

    seed = int(cfg.seed)
    item = SeededItems(val_dataset, seed, transform)[(index % len(val_dataset), 0)]
    frames = item["frames"]  # (F, 3, H, W) in [-1, 1]
    f, _, h, w = frames.shape
    was_training = pipe.denoiser.training
    pipe.denoiser.eval()
    try:
        with torch.random.fork_rng(devices=[]):
            video = pipe(
                frames[0],
                conditions=item["features"],
                landmarks=item["landmarks"][:1] if item.get("landmarks") is not None else None,
                boxes=item["boxes"][:1],
                num_frames=f,
                height=h,
                width=w,
                fps=cfg.data.fps,
                window=min(f, cfg.sampling.window),
                seed=seed,
                progress=False,
            )
    finally:
        pipe.denoiser.train(was_training)
    strip = np.concatenate([video, frames_to_uint8(frames)], axis=2)  # generated | real
    audio = item.get("audio")
    if isinstance(audio, torch.Tensor):
        audio = audio.float().numpy()
    path = Path(out) / "val" / f"step-{step:08d}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, strip, cfg.data.fps, audio=audio)
    return path
