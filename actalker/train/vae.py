"""A short VAE pre-training stage for models trained from scratch (no pretrained SVD VAE).

``train_vae(cfg, out_dir, steps=..., minutes=...)`` builds ``AutoencoderKLTemporalDecoder``
(SVD's VAE class) from ``model.vae.config`` and trains it on windows of the config's clip
data (``data.root``, train split) with

    loss = weighted L1 + MSE on the reconstruction + ``kl_weight`` * KL(q(z|x) || N(0, 1)),

where the pixel weight is 1 + ``region_weight`` inside the mouth and eyes regions (small
parts that carry the control signal must survive the 4x-downsampled latent). The decoder
runs on whole windows (``num_frames``), so its temporal layers train too. At the end the
latent scaling factor is set to 1 / std of the posterior means on held-back windows (so the
denoiser sees unit-variance latents, as SVD's 0.18215 does for its VAE), and the VAE is
saved with ``save_pretrained`` to ``out_dir/vae`` (a folder ``model.vae.pretrained_path``
takes, subfolder ``vae``). ``out_dir/vae_log.jsonl`` has the loss curve.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from actalker.errors import ConfigError
from actalker.utils.atomic import atomic_dir

PART_REGIONS = ("mouth", "eyes")


def build_fresh_vae(model_cfg):
    from diffusers import AutoencoderKLTemporalDecoder

    if not model_cfg.vae.config:
        raise ConfigError("model.vae.config is empty: the VAE stage trains a fresh VAE from constructor kwargs")
    return AutoencoderKLTemporalDecoder(**model_cfg.vae.config)


def _part_weights(batch: dict, regions, weight: float) -> torch.Tensor:
    """(B, F, 1, H, W) pixel weights: 1 outside, 1 + weight inside the mouth and eye regions."""
    frames = batch["frames"]
    b, f, _, h, w = frames.shape
    out = torch.ones(b, f, 1, h, w)
    if weight <= 0 or not regions:
        return out
    for i in range(b):
        m = torch.zeros(f, h, w)
        for spec in regions:
            mm = torch.as_tensor(spec.mask(batch["landmarks"][i], batch["boxes"][i], h, w)).float().reshape(f, h, w)
            m = torch.maximum(m, mm)
        out[i, :, 0] += weight * m
    return out


def _collate(items):
    return {"frames": torch.stack([it["frames"] for it in items]),
            "landmarks": torch.stack([torch.as_tensor(it["landmarks"]) for it in items]),
            "boxes": torch.stack([torch.as_tensor(it["boxes"]) for it in items])}


def train_vae(cfg, out_dir, steps: int = 2000, minutes: Optional[float] = None, batch_size: int = 6,
              num_frames: int = 4, lr: float = 1e-3, kl_weight: float = 1e-5, region_weight: float = 4.0,
              seed: Optional[int] = None, progress: bool = True, log=print, init=None,
              decoder_only: bool = False) -> Path:
    """Train the VAE for ``steps`` steps or ``minutes`` of wall time, whichever ends first.

    ``init``: start from this saved VAE folder instead of a fresh one. ``decoder_only``: train
    only the decoder (the encoder, hence the latents a denoiser was trained on, and the
    scaling factor stay exactly as they are), e.g. on longer windows than the first stage so
    the temporal decoder matches the pipeline's decode chunk."""
    from torch.utils.data import DataLoader

    from actalker.data import ClipDataset
    from actalker.plugins import load_registry

    seed = int(cfg.seed if seed is None else seed)
    torch.manual_seed(seed)
    torch.set_flush_denormal(True)  # tiny activations must not fall onto the CPU's slow denormal path
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    d = cfg.data
    if not d.root:
        raise ConfigError("data.root is not set: the VAE stage trains on clip frames (actalker synth output)")
    vae = _starting_vae(cfg, init, decoder_only)
    registry = load_registry()
    regions = [registry.region(r) for r in PART_REGIONS if r in registry.regions]
    ds = ClipDataset(d.root, d.train_split, num_frames, d.size, d.fps)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, collate_fn=_collate, drop_last=True,
                        num_workers=d.num_workers, generator=torch.Generator().manual_seed(seed))
    step, t_start = _fit_vae(vae, loader, regions, region_weight, kl_weight, decoder_only, lr, steps, minutes, seed,
                             out / "vae_log.jsonl", progress)
    vae.eval()
    scale = vae.config.scaling_factor if decoder_only else latent_scale(vae, ds, seed)
    vae.register_to_config(scaling_factor=scale)
    with atomic_dir(out / "vae") as tmp:  # a stage stopped mid-save leaves no VAE a later stage would load
        vae.save_pretrained(tmp)
    short = f" (the {minutes:g}-minute limit ended it {steps - step} steps short of {steps})" if step < steps else ""
    log(f"VAE stage: {step} steps in {time.time() - t_start:.0f} s{short}, scaling_factor {scale:.4f}, saved to {out / 'vae'}")
    return out / "vae"


def _fit_vae(vae, loader, regions, region_weight: float, kl_weight: float, decoder_only: bool, lr: float, steps: int,
             minutes: Optional[float], seed: int, log_path: Path, progress: bool) -> tuple[int, float]:
    """The optimisation loop: AdamW with a 50-step warm-up, until ``steps`` or the minute limit.
    Returns (steps done, start time); the loss curve goes to ``log_path``."""
    from tqdm.auto import tqdm

    from actalker.train.loop import warmup_lambda

    params = [p for p in vae.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_lambda(50))
    deadline = None if minutes is None else time.time() + 60.0 * minutes
    gen = torch.Generator().manual_seed(seed + 1)
    t_start = time.time()
    step = 0
    bar = tqdm(total=steps, desc="vae", disable=not progress, dynamic_ncols=True)
    with log_path.open("w") as logf:
        while step < steps and (deadline is None or time.time() < deadline):
            for batch in loader:
                rec_loss, kl = _losses(vae, batch, _part_weights(batch, regions, region_weight), gen, decoder_only)
                loss = rec_loss + (0.0 if decoder_only else kl_weight) * kl
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
                step += 1
                bar.update(1)
                bar.set_postfix(rec=f"{rec_loss.item():.4f}", kl=f"{kl.item():.2f}")
                if step % 20 == 0 or step == 1:
                    logf.write(json.dumps({"step": step, "rec": rec_loss.item(), "kl": kl.item(),
                                           "time": round(time.time() - t_start, 1)}) + "\n")
                    logf.flush()
                if step >= steps or (deadline is not None and time.time() >= deadline):
                    break
    bar.close()
    return step, t_start


def _starting_vae(cfg, init, decoder_only: bool):
    """A saved VAE (``init``) or a fresh one, in training mode; ``decoder_only`` freezes the encoder."""
    if init is not None:
        from diffusers import AutoencoderKLTemporalDecoder

        vae = AutoencoderKLTemporalDecoder.from_pretrained(init).train()
    else:
        vae = build_fresh_vae(cfg.model).train()
    if decoder_only:
        vae.encoder.requires_grad_(False).eval()
        vae.quant_conv.requires_grad_(False)
    return vae


def _losses(vae, batch: dict, weights: torch.Tensor, gen: torch.Generator, decoder_only: bool):
    """Region-weighted L1 + L2 reconstruction of a batch of windows, and the posterior's KL."""
    x = batch["frames"]  # (B, F, 3, H, W)
    f = x.shape[1]
    wgt = weights.flatten(0, 1)
    flat = x.flatten(0, 1)
    with torch.set_grad_enabled(not decoder_only):  # a frozen encoder needs no graph
        post = vae.encode(flat).latent_dist
    z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen)
    err = vae.decode(z, num_frames=f).sample - flat
    rec_loss = (wgt * (err.abs() + err ** 2)).mean() / wgt.mean()
    kl = 0.5 * (post.mean ** 2 + post.var - 1.0 - post.logvar).mean()
    return rec_loss, kl


@torch.no_grad()
def latent_scale(vae, dataset, seed: int, windows: int = 16) -> float:
    """1 / std of posterior means over a few windows (SVD-style latent scaling factor)."""
    g = torch.Generator().manual_seed(seed + 2)
    idx = torch.randperm(len(dataset), generator=g)[:windows].tolist()
    lat = [vae.encode(dataset[i]["frames"]).latent_dist.mean for i in idx]
    std = float(torch.cat(lat).std())
    return 1.0 / std if std > 0 and math.isfinite(std) else 1.0
