"""A training step with and without ``train.cache_latents``, in one run, on the same batches.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_latent_cache.py [--config demo]
        [--data runs/demo/synth] [--batches 6] [--rounds 3] [--threads 1]

The demo recipe's step (forward and backward; the optimizer's update is the same either way)
on its real clips, with random weights: ``--batches`` batches are drawn once; each round times one pass over them with the
VAE encoding every frame and one pass with a warm cache (every frame seen before: the
steady state of a long run), alternating so both see the same machine load. Prints seconds
per step, the ratio, and checks that both passes give the same losses. A whole run gains
less than the warm ratio: the cache fills during the first epochs (the run's log ends with
the share of encodings it saved).
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch


def _setup(config: str, data: str, batches: int):
    from actalker.config import load_config
    from actalker.plugins import load_registry
    from actalker.train.build import build_parts
    from actalker.train.conditioning import ItemConditioning, training_regions
    from actalker.train.latent_cache import LatentCache
    from actalker.train.loop import make_loader

    if not (Path(data) / "manifest.json").is_file():
        raise SystemExit(f"--data {data}: no clip folder (make one: actalker synth --out {data} --clips 40 --frames 50)")
    registry = load_registry()
    cfg, _ = load_config(config, [f"data.root={data}", "train.check_data=false", "train.validate_every=0"],
                         registry=registry)
    torch.manual_seed(0)
    parts = build_parts(cfg, registry)
    pipe = parts.pipeline
    pipe.vae.requires_grad_(False).eval()
    transform = ItemConditioning(pipe.branches, pipe.registry, cfg.data.fps, pipe.face_region(),
                                 extra_regions=training_regions(cfg.train))
    loader = iter(make_loader(cfg, parts.dataset, transform))
    fixed = [next(loader) for _ in range(batches)]
    pipe.denoiser.train()
    return cfg, pipe, fixed, LatentCache()


def _pass(cfg, pipe, batches, cache) -> tuple[float, list[float]]:
    """Seconds per step over ``batches`` and their losses (each step's draws seeded by its index)."""
    from actalker.train.step import micro_batch_loss

    losses, t0 = [], time.perf_counter()
    for i, batch in enumerate(batches):
        loss, _ = micro_batch_loss(pipe.denoiser, pipe, batch, cfg, torch.Generator().manual_seed(i), "cpu",
                                   pipe.face_region(), cache)
        pipe.denoiser.zero_grad(set_to_none=True)
        loss.backward()
        losses.append(loss.item())
    return (time.perf_counter() - t0) / len(batches), losses


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="demo")
    p.add_argument("--data", default="runs/demo/synth")
    p.add_argument("--batches", type=int, default=6)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg, pipe, batches, cache = _setup(args.config, args.data, args.batches)
    _, warm_losses = _pass(cfg, pipe, batches, cache)  # fills the cache (and warms up both paths)
    plain, cached = [], []
    for _ in range(args.rounds):
        t, losses = _pass(cfg, pipe, batches, None)
        plain.append(t)
        t, cached_losses = _pass(cfg, pipe, batches, cache)
        cached.append(t)
        gap = max(abs(a - b) / max(abs(a), 1e-8) for a, b in zip(losses, cached_losses))
        assert gap < 1e-4, f"the cached step's loss differs from the encoded one's by {gap:.2e} (relative)"
    base, new = min(plain), min(cached)
    print(f"config {args.config}, batch {cfg.train.batch_size} x {cfg.data.num_frames} frames, {args.batches} batches "
          f"x {args.rounds} rounds; threads {args.threads}; load average {os.getloadavg()[0]:.2f}")
    print(f"  step, VAE encodes every frame    {base:6.3f} s")
    print(f"  step, warm latent cache          {new:6.3f} s   ({base / new:.2f}x, {1 - new / base:.0%} less)")


if __name__ == "__main__":
    main()
