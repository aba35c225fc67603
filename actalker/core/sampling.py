"""SVD's sampling conventions in one place, shared by the pipeline and training.

- ``svd_scheduler_config()``: Stable Video Diffusion's own Euler scheduler settings
  (v-prediction, Karras sigmas, continuous timesteps).
- ``encode_reference``: SVD's noise augmentation, then the VAE latent *mode*, unscaled
  (SVD conditions on unscaled reference latents).
- ``added_time_ids``: SVD micro-conditioning (fps - 1, motion bucket, noise augmentation).
- ``decode_latents``: chunked temporal VAE decoding -> frames in [-1, 1].
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from actalker.core.framing import crop_boxes, crop_points, fit_image, image_to_tensor  # noqa: F401  (old home)

# Stable Video Diffusion img2vid(-xt) scheduler/scheduler_config.json.
SVD_SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "v_prediction",
    "interpolation_type": "linear",
    "use_karras_sigmas": True,
    "sigma_min": 0.002,
    "sigma_max": 700.0,
    "timestep_spacing": "leading",
    "timestep_type": "continuous",
    "steps_offset": 1,
}


def svd_scheduler_config(**overrides) -> dict:
    cfg = dict(SVD_SCHEDULER_CONFIG)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg


def make_scheduler(**overrides):
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(**svd_scheduler_config(**overrides))


def encode_reference(
    vae, image: torch.Tensor, noise_aug_strength: float, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> unscaled latent mode (B, C, H/8, W/8), after SVD's noise
    augmentation ``image + strength * N(0, 1)`` (noise drawn on the CPU generator for
    reproducibility across devices)."""
    noise = torch.randn(image.shape, generator=generator, dtype=torch.float32).to(image.device)
    image = image.float() + noise_aug_strength * noise
    upcast = vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
    dtype = torch.float32 if upcast else vae.dtype
    if upcast:
        vae.to(torch.float32)
    try:
        latents = vae.encode(image.to(dtype)).latent_dist.mode()
    finally:
        if upcast:
            vae.to(torch.float16)
    return latents.float()


def added_time_ids(fps: float, motion_bucket_id: int, noise_aug_strength: float, batch: int = 1) -> torch.Tensor:
    """SVD micro-conditioning (B, 3): fps - 1 (SVD was trained on fps - 1), motion bucket,
    noise augmentation strength."""
    row = torch.tensor([[float(fps) - 1.0, float(motion_bucket_id), float(noise_aug_strength)]])
    return row.repeat(batch, 1)


@torch.no_grad()
def decode_latents(vae, latents: torch.Tensor, decode_chunk: int = 8, overlap: int = 0) -> torch.Tensor:
    """(B, F, C, h, w) scaled latents -> (B, F, 3, H, W) float32 in [-1, 1], ``decode_chunk``
    frames kept per VAE call. The temporal decoder mixes frames only inside a call and treats
    a call's edge frames differently (its time convolutions see padding there), which shows
    as a flicker with the chunk's period; ``overlap`` extra frames of context on each side
    are decoded and thrown away so that every kept frame has real neighbours.

    Every call has the same length (``decode_chunk + 2 * overlap``, at most F): the decoder
    was trained on one window length, and a short last call (one frame when F is odd and
    the chunk 2) decodes washed out. Without overlap, when F > ``decode_chunk``, each frame is decoded at two phases
    (chunk starts shifted by half a chunk, ends mirrored) and averaged, so its treatment no
    longer depends on its position in a call (with 2-frame chunks, on its parity)."""
    step, ctx = max(1, decode_chunk), max(0, overlap)
    videos = []
    for sample in latents / vae.config.scaling_factor:  # chunks never mix two samples
        if ctx == 0 and 1 < step < sample.shape[0]:  # a clip that fits one call has no chunk edges
            phases = [_decode_phase(vae, sample, step, shift) for shift in (0, step // 2)]
            videos.append(sum(phases) / len(phases))
        else:
            videos.append(_decode_with_context(vae, sample, step, ctx))
    frames = torch.stack(videos)
    return frames.clamp(-1, 1)


def _decode_call(vae, chunk: torch.Tensor) -> torch.Tensor:
    return vae.decode(chunk.to(vae.dtype), num_frames=chunk.shape[0]).sample.float()


def _decode_with_context(vae, sample: torch.Tensor, step: int, ctx: int) -> torch.Tensor:
    """Chunks of ``step`` kept frames, each decoded in a call of ``step + 2 ctx`` frames (at
    most all of them), shifted inwards at the ends rather than cut short."""
    n, out = sample.shape[0], []
    length = min(n, step + 2 * ctx)
    for i in range(0, n, step):
        lo = min(max(0, i - ctx), n - length)
        decoded = _decode_call(vae, sample[lo : lo + length])
        out.append(decoded[i - lo : i - lo + min(step, n - i)])
    return torch.cat(out)


def _mirror(index: torch.Tensor, n: int) -> torch.Tensor:
    """Reflect indices outside [0, n) back inside (-1 -> 1, n -> n - 2), as often as needed."""
    if n == 1:
        return torch.zeros_like(index)
    period = 2 * (n - 1)
    index = index.remainder(period)
    return torch.where(index < n, index, period - index)


def _decode_phase(vae, sample: torch.Tensor, step: int, shift: int) -> torch.Tensor:
    """Calls of exactly ``step`` frames whose starts are shifted back by ``shift``; frames
    outside the clip (before 0, after F - 1) are mirrored in and their outputs dropped."""
    n = sample.shape[0]
    out = torch.empty(0)
    for start in range(-shift, n, step):
        index = torch.arange(start, start + step)
        decoded = _decode_call(vae, sample[_mirror(index, n)])
        keep = (index >= 0) & (index < n)
        out = decoded[keep] if out.numel() == 0 else torch.cat([out, decoded[keep]])
    return out


def frames_to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(F, 3, H, W) in [-1, 1] -> uint8 (F, H, W, 3)."""
    x = ((frames.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


__all__ = [
    "SVD_SCHEDULER_CONFIG",
    "added_time_ids",
    "crop_boxes",
    "crop_points",
    "decode_latents",
    "encode_reference",
    "fit_image",
    "frames_to_uint8",
    "image_to_tensor",
    "make_scheduler",
    "svd_scheduler_config",
]
