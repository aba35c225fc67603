"""One micro-batch: frames -> latents -> SVD's EDM loss with randomised controls.

Every random draw comes from the run's CPU generator in a fixed order (sigma, noise,
reference augmentation, dropouts), so a step is reproducible on any device and a resumed
run continues the exact random stream.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from actalker.core.sampling import added_time_ids, encode_reference
from actalker.train.conditioning import randomize_controls
from actalker.train.latent_cache import LatentCache, vae_posterior
from actalker.train.objective import edm_loss, make_noise, noise_aug_strengths, rand_log_normal
from actalker.train.reference_blur import blur_reference_regions


@torch.no_grad()
def encode_video(vae, frames: torch.Tensor, generator: torch.Generator, chunk: int = 16,
                 cache: Optional[LatentCache] = None, keys: Optional[list] = None) -> torch.Tensor:
    """(B, F, 3, H, W) in [-1, 1] -> scaled latents (B, F, C, h, w), a posterior sample.
    With ``cache`` (and the frames' ``keys``) the posterior of a frame seen before is reused;
    the sample's noise is drawn the same way either way."""
    b, f = frames.shape[:2]
    flat = frames.flatten(0, 1)
    mean, std = cache.posterior(vae, flat, keys, chunk) if cache is not None else vae_posterior(vae, flat, chunk)
    out = []
    for i in range(0, flat.shape[0], chunk):  # = dist.sample() per chunk, on our generator
        noise = torch.randn(mean[i : i + chunk].shape, generator=generator).to(mean)
        out.append(mean[i : i + chunk] + std[i : i + chunk] * noise)
    lat = torch.cat(out) * vae.config.scaling_factor
    return lat.reshape(b, f, *lat.shape[1:])


def region_loss_weight(masks: dict, branches, weight: float, latent_hw: tuple,
                       parts: Optional[dict] = None) -> Optional[torch.Tensor]:
    """(B, 1, 1, h, w) = 1 + ``weight`` inside the union of the branches' regions + each of
    ``parts``' weights inside its region (masks area-averaged to the latent grid); None when
    off. The controlled parts (mouth, eyes) are a few percent of a face's latents, so without
    it the loss barely notices whether they follow their signal."""
    regions = [masks[b.region] for b in branches if b.region in masks]
    extra = []
    if weight > 0 and regions:
        extra.append(weight * torch.stack(regions).amax(0).float())  # (B, H, W)
    extra += [w * masks[name].float() for name, w in (parts or {}).items() if w > 0]
    if not extra:
        return None
    return (1.0 + F.adaptive_avg_pool2d(torch.stack(extra).sum(0)[:, None], latent_hw))[:, None]


def micro_batch_loss(model, pipe, batch: dict, cfg, generator: torch.Generator, device,
                     face_region: Optional[str], latent_cache: Optional[LatentCache] = None) -> tuple[torch.Tensor, dict]:
    """Loss of one micro-batch and a few scalars for the log.

    model: the (accelerate-prepared) denoiser; pipe: the ACTalkerPipeline holding the
    frozen VAE, the external identity encoder if any, and the branches. ``latent_cache``: the
    frozen VAE's posteriors of frames seen before (``train.cache_latents``).
    """
    t = cfg.train
    frames = batch["frames"].to(device, torch.float32)
    n, f = frames.shape[:2]

    keys = LatentCache.keys(batch) if latent_cache is not None else None
    latents = encode_video(pipe.vae, frames, generator, cache=latent_cache, keys=keys)
    sigma = rand_log_normal((n,), t.p_mean, t.p_std, generator)
    noise = make_noise(latents, t.noise_offset, generator)
    fixed = float(torch.tensor(t.noise_aug_mean).exp()) if t.noise_aug_std == 0 else None
    aug = noise_aug_strengths(n, t.noise_aug_mean, t.noise_aug_std, generator, fixed=fixed)
    controls = randomize_controls(batch, pipe.branches, t, generator)

    masks = {k: v.to(device) for k, v in controls.region_masks.items()}
    ref_image = batch["reference"].to(device, torch.float32) if "reference" in batch else frames[:, 0]
    ref_image = blur_reference_regions(ref_image, masks, controls.blur_reference)
    ref = encode_reference(pipe.vae, ref_image, aug.view(-1, 1, 1, 1).to(device), generator).to(device)
    keep = controls.keep_reference.to(device)
    ref = ref * keep.view(-1, 1, 1, 1).to(ref)  # dropped reference = zeros, as guidance's unconditional pass
    ref = ref[:, None].expand(-1, f, -1, -1, -1)
    identity = None
    if pipe.identity_encoder is not None:  # external (clip / arcface); "learned" runs inside the denoiser
        identity = pipe.encode_identity(ref_image) * keep.view(-1, 1).float()
    time_ids = added_time_ids(cfg.data.fps, cfg.sampling.motion_bucket_id, 0.0, n)
    time_ids[:, 2] = aug

    face_mask = masks[face_region][:, None] if face_region and face_region in masks else None
    loss, per_sample = edm_loss(
        model,
        latents,
        ref,
        sigma.to(device),
        noise.to(device),
        loss_weight=region_loss_weight(masks, pipe.branches, t.region_loss_weight, latents.shape[-2:], t.part_loss_weight),
        added_time_ids=time_ids.to(device),
        identity=identity,
        conditions={k: v.to(device) for k, v in controls.conditions.items()},
        gates={k: v.to(device) for k, v in controls.gates.items()},
        region_masks=masks,
        face_mask=face_mask,
        return_dict=False,
    )
    stats = {
        "sigma_mean": float(sigma.mean()),
        "gates_open": float(torch.stack(list(controls.gates.values())).mean()) if controls.gates else 0.0,
        "reference_kept": float(keep.float().mean()),
        **{f"reference_blurred_{r}": float(c.float().mean()) for r, c in controls.blur_reference.items()},
    }
    return loss, stats
