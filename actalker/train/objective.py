"""SVD's training objective: EDM preconditioning of a v-prediction network.

With sigma_data = 1 these coefficients are exactly what diffusers' EulerDiscreteScheduler
(prediction_type="v_prediction", timestep_type="continuous", SVD's config) uses at sampling
time, so a model trained here is sampled by the stock scheduler:
    model input  = c_in * (x + sigma * n)      (scale_model_input)
    timestep     = c_noise = 0.25 * ln(sigma)
    denoised     = c_skip * noisy + c_out * model_output
The loss is the EDM weighted MSE on the denoised latents, which equals the MSE on v.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch


def rand_log_normal(shape, mean: float, std: float, generator: torch.Generator, device=None) -> torch.Tensor:
    """sigma = exp(mean + std * N(0, 1)) (EDM / SVD sigma sampling)."""
    return torch.exp(mean + std * torch.randn(shape, generator=generator)).to(device)


@dataclass(frozen=True)
class Precond:
    c_skip: torch.Tensor
    c_out: torch.Tensor
    c_in: torch.Tensor
    c_noise: torch.Tensor
    weight: torch.Tensor


def precondition(sigma: torch.Tensor) -> Precond:
    """Coefficients for sigma (B,), broadcast-ready as (B, 1, 1, 1, 1) except c_noise (B,)."""
    s = sigma.view(-1, 1, 1, 1, 1)
    return Precond(
        c_skip=1.0 / (s**2 + 1.0),
        c_out=-s / (s**2 + 1.0).sqrt(),
        c_in=1.0 / (s**2 + 1.0).sqrt(),
        c_noise=0.25 * sigma.log(),
        weight=(s**2 + 1.0) / s**2,
    )


def make_noise(latents: torch.Tensor, noise_offset: float, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise plus an offset shared by all frames and pixels of a channel.

    The offset lets the model change a video's mean brightness (Guttenberg's noise offset).
    """
    noise = torch.randn(latents.shape, generator=generator).to(latents)
    if noise_offset > 0:
        b, _, c = latents.shape[:3]
        noise = noise + noise_offset * torch.randn((b, 1, c, 1, 1), generator=generator).to(latents)
    return noise


def edm_loss(
    model: Callable[..., torch.Tensor],
    latents: torch.Tensor,
    ref_latents: torch.Tensor,
    sigma: torch.Tensor,
    noise: torch.Tensor,
    loss_weight: Optional[torch.Tensor] = None,
    **model_kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted denoising loss. latents/ref_latents (B, F, 4, h, w), sigma (B,);
    ``loss_weight`` an optional per-latent-pixel weight broadcastable to the latents.

    ``model(sample (B, F, 8, h, w), timestep (B,), **model_kwargs) -> (B, F, 4, h, w)``.
    Returns (mean loss, per-sample loss) so logs can show loss against sigma.
    """
    p = precondition(sigma.to(latents))
    noisy = latents + noise * sigma.to(latents).view(-1, 1, 1, 1, 1)
    sample = torch.cat([p.c_in * noisy, ref_latents], dim=2)
    out = model(sample, p.c_noise, **model_kwargs)
    if isinstance(out, (tuple, list)):  # diffusers models with return_dict=False
        out = out[0]
    elif hasattr(out, "sample"):
        out = out.sample
    denoised = p.c_skip * noisy + p.c_out * out.float()
    err = (denoised - latents) ** 2
    if loss_weight is not None:
        err = err * loss_weight.to(err)
    per_sample = (p.weight * err).flatten(1).mean(1)
    return per_sample.mean(), per_sample


def noise_aug_strengths(batch: int, mean: float, std: float, generator: torch.Generator, fixed: Optional[float] = None) -> torch.Tensor:
    """Per-sample noise added to the reference frame (SVD fine-tuning: log-normal(-3, 0.5))."""
    if fixed is not None:
        return torch.full((batch,), float(fixed))
    return rand_log_normal((batch,), mean, std, generator)
