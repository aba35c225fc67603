"""`actalker train` with the random draws of a step seeded per sample, not per process.

A training process draws sigma, noise, the VAE posterior sample, the reference's noise
augmentation and the control dropouts from its own generator (``train_generator(seed,
rank)``), so a 2-process run with batch 1 per process and a 1-process run with batch 2 see
the same samples but different noise: their weights cannot be compared. Config cannot
remove that randomness (the diffusion noise is always drawn), so this harness wraps the
training step: each sample of a micro-batch is run on its own with a generator seeded by
(clip id, epoch-free step counter), and the losses are averaged. What stays under test is
everything else: data sharding across processes, DDP's gradient averaging, the optimizer
and scheduler, checkpoints and resume.

Run as a module, it is ``actalker train`` with the wrapper installed (for ``accelerate launch``):
    accelerate launch ... -m tests.train.per_sample_rng train --config C ...
"""
from __future__ import annotations

import sys
import zlib

import torch


def _take(value, i: int):
    if isinstance(value, torch.Tensor):
        return value[i:i + 1]
    if isinstance(value, dict):
        return {k: _take(v, i) for k, v in value.items()}
    if isinstance(value, list):
        return [value[i]]
    return value


def per_sample(original):
    """micro_batch_loss with one generator per sample, from its clip id and the step count
    (the count is restored on resume from the step the run starts at)."""
    calls = {"n": None}

    def micro_batch_loss(model, pipe, batch, cfg, generator, device, face_region, latent_cache=None):
        if calls["n"] is None:
            calls["n"] = _start_step(cfg)
        k = calls["n"]
        calls["n"] += 1
        n = batch["frames"].shape[0]
        losses, stats = [], {}
        for i in range(n):
            seed = zlib.crc32(f"{batch['clip_id'][i]}/{k}".encode())
            loss, stats = original(model, pipe, _take(batch, i), cfg, torch.Generator().manual_seed(seed), device,
                                   face_region, latent_cache)
            losses.append(loss)
        return torch.stack(losses).mean(), stats

    return micro_batch_loss


def _start_step(cfg) -> int:
    from actalker.train.checkpoint import latest_checkpoint

    # at the first step, the latest checkpoint is the one a run resumed from (a fresh run
    # refuses an output_dir with checkpoints); one micro-batch per step (grad_accum 1)
    if cfg.train.grad_accum != 1:
        raise ValueError("per_sample_rng counts steps as micro-batches: use train.grad_accum=1")
    ckpt = latest_checkpoint(cfg.train.output_dir)
    return 0 if ckpt is None else int(ckpt.name.split("-")[1])


def install(monkeypatch=None) -> None:
    import actalker.train.loop as loop

    wrapped = per_sample(loop.micro_batch_loss)
    if monkeypatch is not None:
        monkeypatch.setattr(loop, "micro_batch_loss", wrapped)
    else:
        loop.micro_batch_loss = wrapped


if __name__ == "__main__":
    from actalker.cli import main

    install()
    sys.exit(main(sys.argv[1:]))
