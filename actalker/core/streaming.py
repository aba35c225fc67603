"""Streaming generation: the video window by window, each window's frames handed out as
soon as they are final.

The non-streaming path denoises every frame at every step (windows inside steps). Here
windows are outside: window k runs all steps on its own frames, with its first frames
*pinned* to the already finished ones (at each step they are replaced by the finished
latents noised to that step's sigma with their own initial noise), so the new frames are
denoised in context and continue the old ones without a seam. The last ``overlap`` frames
of a window (at least ``decode_context`` frames) are held back until the next window is
done, so the VAE decodes every emitted frame with real neighbours on both sides, in the
same calls as a decode of the whole clip would (a frame decoded at a chunk's edge instead
showed as a jump at every join).

Built from the pipeline's named steps (check_inputs, prepare_reference, encode_conditions,
prepare_latents, predict_window); no signal is named here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch

from actalker.core.generation_settings import resolve_settings
from actalker.core.sampling import decode_latents, frames_to_uint8
from actalker.errors import InputError

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class StreamChunk:
    """Frames ``start .. start + len(frames)`` (uint8 (n, H, W, 3)), final, in order."""

    frames: np.ndarray
    start: int
    window: int        # which window finished them (0-based)
    windows: int
    seconds: float     # since the call started
    settings: Any      # GenerationSettings, as resolved


def window_starts(num_frames: int, window: int, overlap: int) -> list[int]:
    """Starts of windows of ``window`` frames, each sharing ``overlap`` with the one before;
    the last ends at the last frame."""
    if num_frames <= window:
        return [0]
    step = window - overlap
    starts = list(range(0, num_frames - window, step))
    return starts + [num_frames - window]


def _setup(pipe, image, conditions, gates, landmarks, boxes, num_frames, seed, settings_kw: dict):
    """The pipeline's steps 1-4, as ``__call__`` runs them (same noise for the same seed)."""
    settings = resolve_settings(pipe.config, **settings_kw)
    settings, feats, gate_t = pipe.check_inputs(settings, conditions, gates, num_frames)
    gen = torch.Generator("cpu")
    gen.manual_seed(int(seed)) if seed is not None else gen.seed()
    settings = settings.replace(seed=gen.initial_seed())
    ref = pipe.prepare_reference(image, landmarks, boxes, settings, gate_t, gen)
    tokens = pipe.encode_conditions(feats, gate_t)
    scheduler, latents = pipe.prepare_latents(settings, ref, gen)
    return settings, ref, tokens, scheduler, latents / scheduler.init_noise_sigma


def _denoise_window(pipe, template, noise: torch.Tensor, final: torch.Tensor, start: int, stop: int, pinned: int,
                    ref, tokens, settings) -> torch.Tensor:
    """All steps on frames start..stop; the first ``pinned`` follow the finished latents."""
    sched = type(template).from_config(template.config)  # the scheduler keeps a step index: one per window
    sched.set_timesteps(settings.steps, device=pipe.device)
    idx = torch.arange(start, stop)
    x = noise[:, start:stop].clone() * sched.init_noise_sigma
    for i, t in enumerate(sched.timesteps):
        if pinned:  # the finished frames at this step's noise level (x = x0 + sigma * eps)
            x[:, :pinned] = final[:, start:start + pinned] + noise[:, start:start + pinned] * sched.sigmas[i]
        pred = pipe.predict_window(sched.scale_model_input(x, t), t, idx, ref, tokens, settings)
        x = sched.step(pred.float(), t, x).prev_sample
    return x


def decode_context(settings) -> int:
    """Finished frames needed on each side of a frame for it to decode exactly as in the
    whole clip: one VAE call (``decode_chunk`` frames and ``decode_overlap`` on each side).
    A window shorter than this emits its frames a window later (latency, not quality)."""
    return max(1, settings.decode_chunk) + 2 * max(0, settings.decode_overlap)


def _decode(pipe, final: torch.Tensor, start: int, stop: int, done: int, settings) -> np.ndarray:
    """Frames start..stop of the finished latents (0..done), decoded as ``decode_latents``
    decodes the whole clip: with ``decode_context`` frames each side, the first on the
    clip's chunk grid, so every VAE call that makes a kept frame is the same call."""
    ctx, step = decode_context(settings), max(1, settings.decode_chunk)
    lo, hi = max(0, (start - ctx) // step * step), min(done, stop + ctx)
    frames = decode_latents(pipe.vae, final[:, lo:hi], settings.decode_chunk, settings.decode_overlap)[0]
    return frames_to_uint8(frames[start - lo:stop - lo])


def stream(pipe, image, conditions, gates=None, landmarks=None, boxes=None, num_frames: Optional[int] = None,
           seed: Optional[int] = None, overlap: Optional[int] = None, progress: Optional[Progress] = None,
           **settings_kw) -> Iterator[StreamChunk]:
    """Yields the video as ``StreamChunk``s in order. ``overlap``: frames a window shares with
    the one before (default a quarter window); other keywords as ``ACTalkerPipeline.__call__``'s
    settings (num_inference_steps, height, width, fps, window, guidance_scales, ...)."""
    report = progress or (lambda stage, done, total: None)
    t0 = time.time()
    with torch.no_grad():
        report("prepare", 0, 1)
        settings, ref, tokens, sched, noise = _setup(pipe, image, conditions, gates, landmarks, boxes, num_frames,
                                                     seed, settings_kw)
        report("prepare", 1, 1)
        n, w = settings.num_frames, min(settings.window, settings.num_frames)
        ov = max(1, w // 4) if overlap is None else int(overlap)
        if not 0 <= ov < w:
            raise InputError(f"stream overlap must be >= 0 and < the window ({w} frames), got {ov}")
        starts = window_starts(n, w, ov)
        final, done, emitted = torch.zeros_like(noise), 0, 0
        for k, start in enumerate(starts):
            x = _denoise_window(pipe, sched, noise, final, start, start + w, max(0, done - start), ref, tokens, settings)
            final[:, done:start + w] = x[:, done - start:]
            done = start + w
            report("windows", k + 1, len(starts))
            hold = max(ov, decode_context(settings))  # waits for its right neighbours (denoising, decoding)
            stop = done if k == len(starts) - 1 else done - hold
            if stop > emitted:
                frames = _decode(pipe, final, emitted, stop, done, settings)
                yield StreamChunk(frames, emitted, k, len(starts), time.time() - t0, settings)
                emitted = stop


__all__ = ["StreamChunk", "decode_context", "stream", "window_starts"]
