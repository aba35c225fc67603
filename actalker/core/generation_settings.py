"""Generation settings: the call's arguments over the model config's ``sampling`` and
``guidance`` sections, resolved once per call. The resolved record travels with the frames
(``ACTalkerPipelineOutput.settings``) so what a caller saves (``OUT.json``) is what ran."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np


@dataclass(frozen=True)
class GenerationSettings:
    steps: int
    height: int
    width: int
    fps: float
    noise_aug_strength: float
    motion_bucket_id: int
    window: int
    window_shift: int
    window_overlap: int
    decode_chunk: int
    decode_overlap: int
    reference_scale: float
    reference_scale_min: Optional[float]  # set: per-frame ramp reference_scale_min .. reference_scale
    guidance_scales: dict[str, float]
    guidance_order: list[str]
    guidance_batch: Optional[int]
    sigma_min: Optional[float] = None
    sigma_max: Optional[float] = None
    guidance_outside_scale: Optional[float] = None  # set: branch scales apply inside their regions only
    # known once the inputs are checked
    num_frames: Optional[int] = None
    gates: dict[str, Any] = field(default_factory=dict)  # branch -> float or per-frame list
    seed: Optional[int] = None

    def replace(self, **changes) -> "GenerationSettings":
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _given(value, default):
    return default if value is None else value


def _optional_float(value) -> Optional[float]:
    return None if value is None else float(value)


def resolve_settings(config, num_inference_steps=None, height=None, width=None, fps=None, reference_scale=None,
                     guidance_scales=None, guidance_order=None, noise_aug_strength=None, motion_bucket_id=None,
                     window=None, window_shift=None, window_overlap=0, decode_chunk=None, decode_overlap=None,
                     guidance_batch=None, reference_scale_min=None, guidance_outside_scale=None) -> GenerationSettings:
    """Arguments left None (or 0 where 0 is no valid value) take the config's value."""
    s, g = config.sampling, config.guidance
    return GenerationSettings(
        steps=int(num_inference_steps or s.steps), height=int(height or s.height), width=int(width or s.width),
        fps=float(fps or s.fps), noise_aug_strength=float(_given(noise_aug_strength, s.noise_aug_strength)),
        motion_bucket_id=int(_given(motion_bucket_id, s.motion_bucket_id)), window=int(window or s.window),
        window_shift=int(_given(window_shift, s.window_shift)), window_overlap=int(window_overlap),
        decode_chunk=int(decode_chunk or s.decode_chunk), decode_overlap=int(_given(decode_overlap, s.decode_overlap)),
        reference_scale=float(_given(reference_scale, g.reference_scale)),
        reference_scale_min=_optional_float(_given(reference_scale_min, g.reference_scale_min)),
        guidance_scales=dict(_given(guidance_scales, g.scales)), guidance_order=list(_given(guidance_order, g.order)),
        guidance_batch=guidance_batch, sigma_min=s.sigma_min, sigma_max=s.sigma_max,
        guidance_outside_scale=_optional_float(_given(guidance_outside_scale, g.outside_scale)),
    )


def gate_record(value) -> Any:
    """A gate as saved: a float, or a list of floats for a per-frame schedule."""
    arr = np.asarray(value.cpu() if hasattr(value, "cpu") else value, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else [float(v) for v in arr.ravel()]


@dataclass
class ACTalkerPipelineOutput:
    """frames: uint8 (F, H, W, 3) ("np"), float (F, 3, H, W) ("pt") or latents (1, F, 4, h, w)."""

    frames: Any
    settings: GenerationSettings


__all__ = ["ACTalkerPipelineOutput", "GenerationSettings", "gate_record", "resolve_settings"]
