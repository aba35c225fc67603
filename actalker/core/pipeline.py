"""The generation pipeline: reference portrait + control signals -> talking-head frames.

``ACTalkerPipeline`` holds the denoiser (SVD UNet with PCM branches), SVD's temporal VAE,
the Euler scheduler (v-prediction, Karras sigmas, SVD's own settings) and, when the model
uses one outside the denoiser, an identity encoder. ``save_pretrained`` / ``from_pretrained``
read and write a model folder (``actalker.core.model_folder``); ``from_svd`` builds a fresh
model from the UNet and VAE of a local Stable Video Diffusion diffusers folder.

``__call__`` is a sequence of named steps, as diffusers pipelines are written:

1. ``check_inputs``: settings resolved over the model config; features and gates per branch
   checked and aligned (the rules are ``actalker.core.branches``'s);
2. ``prepare_reference``: the portrait cropped to the output size -> reference latent (SVD's
   noise augmentation), identity, region masks of the reference face, SVD's time ids;
3. ``encode_conditions``: each branch's real and null features -> tokens, once per call;
4. ``prepare_latents``: a fresh scheduler and the initial noise;
5. ``denoise``: per step, shifted overlapping windows (``core.windows``), each window one
   batched call of the chained N-branch guidance passes (``core.guidance``);
6. ``decode``: chunked VAE decoding.

Float32 on CPU, half precision on CUDA; all noise is drawn on a CPU generator so a seed
gives the same video on any device (up to the device's arithmetic). No signal is named
here: branches and their modalities come from the model and the registry.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import torch

from actalker.core.branches import (ControlBranch, check_gate_names, check_gate_values, face_region,
                                    gate_or_default, resolve_branches)
from actalker.core.schema import Config, validate_config
from actalker.core.controls import region_masks
from actalker.core.masks import pool_to_grid
from actalker.core.guidance import GuidancePlan, plan_guidance, window_reference_scale
from actalker.core.identity import build_identity_encoder
from actalker.core.model_folder import (CONFIG_FILE, MODEL_INDEX, absolute_assets_config, check_branch_plugins,
                                        default_dtype,
                                        load_components, read_config, read_index, save_model_folder)
from actalker.core import gate_schedule
from actalker.core.framing import crop_boxes, crop_points, fit_image
from actalker.core.sampling import added_time_ids, decode_latents, encode_reference, frames_to_uint8, make_scheduler
from actalker.core.generation_settings import ACTalkerPipelineOutput, GenerationSettings, gate_record, resolve_settings
from actalker.core.windows import predict_windowed
from actalker.errors import ConfigError, InputError, ShapeError

OUTPUT_TYPES = ("np", "pt", "latent")


@dataclass
class Reference:
    """What the reference portrait gives every denoiser call of one generation."""

    latent: torch.Tensor  # (1, C, h, w), unscaled, noise-augmented
    identity: Optional[torch.Tensor]  # (1, D) from an external encoder, or None (learned)
    masks: dict[str, torch.Tensor]  # region -> (1, H, W)
    face_mask: Optional[torch.Tensor]  # (1, 1, H, W) for the face guider
    time_ids: torch.Tensor  # (1, 3)
    guidance_regions: dict[str, torch.Tensor] = field(default_factory=dict)  # branch -> (1, 1, 1, h, w), when confined


@dataclass
class Tokens:
    """Condition tokens of the whole video (windows slice them) and the per-frame gates."""

    real: dict[str, torch.Tensor]  # branch -> (1, F, T, D)
    null: dict[str, torch.Tensor]
    gates: dict[str, torch.Tensor]  # branch -> (1, F)

    def window(self, idx: torch.Tensor) -> "Tokens":
        return Tokens({k: v[:, idx] for k, v in self.real.items()}, {k: v[:, idx] for k, v in self.null.items()},
                      {k: g[:, idx] for k, g in self.gates.items()})


def _config_from(obj) -> Config:
    if obj is None:
        return Config()
    return obj if isinstance(obj, Config) else validate_config(dict(obj))


def _default_registry(registry):
    if registry is not None:
        return registry
    from actalker.plugins import load_registry

    return load_registry()


def _generator(seed: Optional[int], generator: Optional[torch.Generator]) -> torch.Generator:
    if generator is not None:
        return generator
    g = torch.Generator("cpu")
    if seed is None:
        g.seed()
    else:
        g.manual_seed(int(seed))
    return g


class ACTalkerPipeline:
    """Talking-head generation from a reference portrait and any set of control signals.

    ``denoiser`` and ``config`` are fixed for the pipeline's life; ``replace`` gives a
    pipeline sharing the other components (training swaps in its live denoiser that way,
    the CLI its ``--set`` overrides)."""

    def __init__(self, denoiser, vae, scheduler=None, identity_encoder=None, config=None, registry=None):
        self._denoiser = denoiser
        self.vae = vae
        self.scheduler = scheduler if scheduler is not None else make_scheduler()
        self.identity_encoder = identity_encoder
        self._config = _config_from(config)
        self.registry = _default_registry(registry)
        self.branches: list[ControlBranch] = list(resolve_branches(denoiser.config.branches, self.registry).values())
        kind = (getattr(denoiser.config, "identity", None) or {}).get("kind", "learned")
        if kind != "learned" and identity_encoder is None:
            raise ConfigError(
                f"the model's identity kind is '{kind}' but no identity encoder was given "
                "(clip: the SVD folder's image_encoder/; arcface: pass identity_encoder=)"
            )
        self.progress = True

    @property
    def denoiser(self):
        return self._denoiser

    @property
    def config(self) -> Config:
        return self._config

    def replace(self, denoiser=None, config=None) -> "ACTalkerPipeline":
        """A pipeline with another denoiser and/or config, sharing everything else."""
        pipe = type(self)(self.denoiser if denoiser is None else denoiser, self.vae, self.scheduler,
                          self.identity_encoder, self.config if config is None else config, self.registry)
        pipe.progress = self.progress
        return pipe

    # ------------------------------------------------------------------ devices
    @property
    def device(self) -> torch.device:
        return next(self.denoiser.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.denoiser.parameters()).dtype

    def to(self, device=None, dtype=None) -> "ACTalkerPipeline":
        kwargs = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
        if kwargs:
            for module in (self.denoiser, self.vae, self.identity_encoder):
                if isinstance(module, torch.nn.Module):
                    module.to(**kwargs)
        return self

    @property
    def branch_names(self) -> list[str]:
        return [b.name for b in self.branches]

    def branch(self, name: str) -> ControlBranch:
        for b in self.branches:
            if b.name == name:
                return b
        raise InputError(f"the model has no branch '{name}' (branches: {', '.join(self.branch_names) or 'none'})")

    # ------------------------------------------------------------- save / load
    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write the model folder atomically (a reader never sees half a model)."""
        plugins = {b.name: {"modality": b.modality, "plugin": self.registry.owners.get(f"modality:{b.modality}")}
                   for b in self.branches}
        components = {"denoiser": self.denoiser, "vae": self.vae, "scheduler": self.scheduler,
                      "identity": self.identity_encoder}
        return save_model_folder(path, components, self.config, plugins, self.registry)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: Optional[str | torch.device] = None,
                        dtype: Optional[torch.dtype] = None, registry=None) -> "ACTalkerPipeline":
        """Load a model folder written by ``save_pretrained`` (or ``actalker train``)."""
        path = Path(path).expanduser()
        index = read_index(path)
        registry = _default_registry(registry)
        check_branch_plugins(path, index, registry)
        config = absolute_assets_config(read_config(path), registry, path)
        device = torch.device(device) if device is not None else None
        parts = load_components(path, index, registry, dtype or default_dtype(device))
        pipe = cls(parts["denoiser"], parts["vae"], parts["scheduler"], parts.get("identity"), config, registry)
        for module in (pipe.denoiser, pipe.vae, pipe.identity_encoder):
            if isinstance(module, torch.nn.Module):
                module.eval()
        return pipe.to(device)

    @classmethod
    def from_svd(cls, svd_dir: str | os.PathLike, config=None, registry=None, identity_encoder=None,
                 torch_dtype: Optional[torch.dtype] = None, variant: Optional[str] = None) -> "ACTalkerPipeline":
        """A fresh model from a local SVD diffusers folder (``unet/``, ``vae/``, optional
        ``scheduler/``, ``image_encoder/`` for ``identity.kind: clip``): the pretrained UNet
        gets zero-initialised PCM branches, so before training it samples exactly like SVD
        with this pipeline's conditioning. ``variant`` (e.g. "fp16") picks the weight files;
        ``torch_dtype`` the dtype they are loaded in (the backbone is never built random first)."""
        from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler

        from actalker.core.denoiser import ACTalkerDenoiser

        svd_dir = Path(svd_dir).expanduser()
        for sub in ("unet", "vae"):
            if not (svd_dir / sub / "config.json").is_file():
                raise InputError(f"{svd_dir} is not a Stable Video Diffusion diffusers folder: {sub}/config.json is missing")
        config, registry = _config_from(config), _default_registry(registry)
        m = config.model
        if m.unet.config:
            raise ConfigError("from_svd takes the UNet from the SVD folder; leave model.unet.config empty")
        variant = variant or m.unet.variant
        denoiser = ACTalkerDenoiser.from_svd(
            svd_dir, branches={k: v.model_dump() for k, v in m.branches.items()}, pcm=m.pcm.model_dump(),
            cond_dim=m.cond_dim, identity=m.identity.model_dump(), face_guider=m.face_guider, registry=registry,
            subfolder="unet", torch_dtype=torch_dtype, variant=variant,
        )
        if identity_encoder is None:
            identity_encoder = build_identity_encoder(m.identity.model_dump(), svd_dir, variant)
        kwargs = {k: v for k, v in (("variant", variant), ("torch_dtype", torch_dtype)) if v is not None}
        vae = AutoencoderKLTemporalDecoder.from_pretrained(svd_dir / "vae", **kwargs)
        if (svd_dir / "scheduler" / "scheduler_config.json").is_file():
            scheduler = EulerDiscreteScheduler.from_pretrained(svd_dir / "scheduler")
        else:
            scheduler = make_scheduler()
        pipe = cls(denoiser, vae, scheduler, identity_encoder, config, registry)
        if torch_dtype is not None:
            pipe.to(dtype=torch_dtype)
        return pipe

    # ---------------------------------------------------------------- generation
    @torch.no_grad()
    def __call__(
        self,
        image,
        conditions: Mapping[str, Any],
        gates: Optional[Mapping[str, Any]] = None,
        landmarks=None,
        boxes=None,
        num_frames: Optional[int] = None,
        num_inference_steps: Optional[int] = None,
        height: Optional[int] = None,
        width: Optional[int] = None,
        fps: Optional[float] = None,
        reference_scale: Optional[float] = None,
        reference_scale_min: Optional[float] = None,
        guidance_scales: Optional[Mapping[str, float]] = None,
        guidance_order: Optional[Sequence[str]] = None,
        guidance_outside_scale: Optional[float] = None,
        noise_aug_strength: Optional[float] = None,
        motion_bucket_id: Optional[int] = None,
        window: Optional[int] = None,
        window_shift: Optional[int] = None,
        window_overlap: int = 0,
        decode_chunk: Optional[int] = None,
        decode_overlap: Optional[int] = None,
        guidance_batch: Optional[int] = None,
        seed: Optional[int] = None,
        generator: Optional[torch.Generator] = None,
        latents: Optional[torch.Tensor] = None,
        output_type: str = "np",
        progress: Optional[bool] = None,
        return_dict: bool = False,
        callback_on_step_end: Optional[Callable] = None,
        callback_on_window: Optional[Callable] = None,
    ):
        """Generate a video.

        image:       the reference portrait, uint8 (H, W, 3) or float (3, H, W) in [-1, 1]
                     (scaled to cover height x width and centre cropped).
        conditions:  branch -> per-frame raw features (F, *feature_shape) (from the plugin's
                     ``load``); branches left out get null features and gate 0.
        gates:       branch -> float, per-frame schedule (F,) or keyframes ("0@0s,1@2s" or
                     {TIME: VALUE}, see ``core/gate_schedule.py``); default: the config's
                     gate, else the plugin's ``default_gate``.
        landmarks, boxes: the reference face, normalised to ``image`` ((478, 3) or
                     (1, 478, 3); (4,) or (1, 4) xyxy) for the branches' region masks.
        reference_scale_min: set -> the reference scale ramps per frame from this value to
                     ``reference_scale`` (SVD's min/max_guidance_scale); default: the config's.
        guidance_outside_scale: set -> each branch's guidance scale applies inside the region
                     it steers and this scale outside it; default: the config's
                     ``guidance.outside_scale`` (null: scales apply everywhere).
        output_type: "np" -> uint8 (F, H, W, 3); "pt" -> float (F, 3, H, W) in [-1, 1];
                     "latent" -> (1, F, 4, h, w).
        return_dict: False -> the frames; True -> ``ACTalkerPipelineOutput(frames, settings)``
                     with every setting as resolved (what ``OUT.json`` records).
        callback_on_step_end(pipe, step, timestep, {"latents": ...}) -> dict or None: after
                     each step; a returned "latents" replaces the latents.
        callback_on_window(pipe, step, window, frame_indices, prediction): after each
                     window's guided prediction (streaming consumers).
        Other settings default to the model config's ``sampling`` and ``guidance``.
        """
        settings = resolve_settings(
            self.config, num_inference_steps, height, width, fps, reference_scale, guidance_scales, guidance_order,
            noise_aug_strength, motion_bucket_id, window, window_shift, window_overlap, decode_chunk, decode_overlap,
            guidance_batch, reference_scale_min, guidance_outside_scale)
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be 'np', 'pt' or 'latent', got {output_type!r}")
        settings, feats, gate_t = self.check_inputs(settings, conditions, gates, num_frames)
        gen = _generator(seed, generator)
        settings = settings.replace(seed=seed if seed is not None or generator is not None else gen.initial_seed())
        ref = self.prepare_reference(image, landmarks, boxes, settings, gate_t, gen)
        tokens = self.encode_conditions(feats, gate_t)
        scheduler, latents = self.prepare_latents(settings, ref, gen, latents)
        latents = self.denoise(scheduler, latents, ref, tokens, settings, self.progress if progress is None else progress,
                               callback_on_step_end, callback_on_window)
        frames = self.decode(latents, settings, output_type)
        return ACTalkerPipelineOutput(frames, settings) if return_dict else frames

    def stream(self, image, conditions: Mapping[str, Any], **kwargs):
        """The video window by window as each is final: yields ``StreamChunk``s (frames in
        order, no seam at the joins); see ``actalker/core/streaming.py``."""
        from actalker.core.streaming import stream

        return stream(self, image, conditions, **kwargs)

    # ---- step 1 --------------------------------------------------------------------------
    def check_inputs(self, settings: GenerationSettings, conditions: Mapping[str, Any],
                     gates: Optional[Mapping[str, Any]], num_frames: Optional[int]):
        """-> (settings with num_frames and gates, features {branch: (1, F, *feat)}, gates {branch: (1, F)})."""
        gates = gate_schedule.from_mapping(gates)  # keyframe schedules (text or mapping) -> GateSchedule
        num_frames, feats, gate_t = self.prepare_conditions(conditions, gates, num_frames, settings.fps)
        given = gate_schedule.to_json(gates)  # a schedule is recorded as its keyframes, not per frame
        record = {b.name: given[b.name] if b.name in given else gate_record(gate_or_default(b, {}, b.name in conditions))
                  for b in self.branches}
        return settings.replace(num_frames=num_frames, gates=record), feats, gate_t

    def prepare_conditions(self, conditions: Mapping[str, Any], gates: Optional[Mapping[str, Any]],
                           num_frames: Optional[int], fps: Optional[float] = None,
                           ) -> tuple[int, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Check and align user conditions and gates -> (F, features (1, F, *feat), gates (1, F)).

        A branch without a signal gets its null features and gate 0; a gate for a branch
        the model lacks, or an open gate for a branch without a signal, is an InputError.
        """
        names = self.branch_names
        for name in conditions:
            if name not in names:
                raise InputError(f"the model has no branch '{name}' for the given signal (branches: {', '.join(names) or 'none'})")
        gates = dict(gates or {})
        check_gate_names(gates, names)
        feats = {name: self._features(name, value) for name, value in conditions.items()}
        num_frames = self._num_frames(feats, num_frames)
        feats = {name: t[:num_frames][None] for name, t in feats.items()}
        gates = gate_schedule.resolve(gate_schedule.from_mapping(gates), num_frames, fps or self.config.sampling.fps)
        gate_t = {}
        for b in self.branches:
            gate_t[b.name] = self._gate(b, gate_or_default(b, gates, b.name in feats), num_frames, b.name in feats)
            if b.name not in feats:
                feats[b.name] = b.null_features(torch.zeros(num_frames, *b.feature_shape))[None]
        return num_frames, feats, gate_t

    def _features(self, name: str, value) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(value) if not torch.is_tensor(value) else value).float()
        shape = self.branch(name).feature_shape
        if t.ndim != 1 + len(shape) or tuple(t.shape[1:]) != shape:
            raise ShapeError(f"features of branch '{name}' have shape {tuple(t.shape)}; expected (frames, {', '.join(map(str, shape))})")
        return t

    @staticmethod
    def _num_frames(feats: Mapping[str, torch.Tensor], num_frames: Optional[int]) -> int:
        """The requested length, else the shortest signal; every signal must be that long."""
        if num_frames is None:
            if not feats:
                raise InputError("num_frames is needed when no signal is given")
            num_frames = min(t.shape[0] for t in feats.values())
        num_frames = int(num_frames)
        if num_frames < 1:
            raise InputError(f"num_frames must be >= 1, got {num_frames}")
        for name, t in feats.items():
            if t.shape[0] < num_frames:
                raise InputError(f"the signal of branch '{name}' has {t.shape[0]} frames; {num_frames} are needed")
        return num_frames

    @staticmethod
    def _gate(branch: ControlBranch, raw, num_frames: int, has_signal: bool) -> torch.Tensor:
        """A number or a per-frame schedule -> (1, F) float32."""
        g = torch.as_tensor(raw, dtype=torch.float32)
        if g.ndim == 0:
            g = g.expand(num_frames)
        elif g.ndim != 1 or g.shape[0] < num_frames:
            raise ShapeError(f"gate of branch '{branch.name}' must be a number or a per-frame schedule of {num_frames} values, got shape {tuple(g.shape)}")
        g = g[:num_frames]
        check_gate_values(branch.name, g, has_signal)
        return g[None].clone()

    # ---- step 2 --------------------------------------------------------------------------
    def prepare_reference(self, image, landmarks, boxes, settings: GenerationSettings,
                          gates: Mapping[str, torch.Tensor], gen: torch.Generator) -> Reference:
        """Crop the portrait (and its face) to the output size; encode it; region masks."""
        device, dtype, h, w = self.device, self.dtype, settings.height, settings.width
        ref_image, crop = fit_image(image, h, w)
        if boxes is not None:
            boxes = crop_boxes(torch.tensor(np.array(boxes, dtype=np.float32)).reshape(-1, 4), crop)
        if landmarks is not None:
            landmarks = crop_points(torch.tensor(np.array(landmarks, dtype=np.float32)), crop)
        mask_mode = (getattr(self.denoiser.config, "pcm", None) or {}).get("mask_mode", "drop")
        if boxes is None and mask_mode != "none" and any(bool((g > 0).any()) for g in gates.values()):
            raise InputError("the reference face is needed for the branches' region masks: pass landmarks and/or boxes")
        masks = self.region_masks(landmarks, boxes, h, w)
        face_name = self.face_region()
        face_mask = masks.get(face_name) if face_name else None
        if face_mask is None and face_name and boxes is not None:
            face_mask = region_masks(self.registry, [face_name], landmarks, boxes, h, w)[face_name]
        identity = self.encode_identity(ref_image.to(device))
        latent = encode_reference(self.vae, ref_image.to(device), settings.noise_aug_strength, gen).to(device)
        confined = settings.guidance_outside_scale is not None and mask_mode != "none"
        return Reference(
            latent=latent, identity=identity, masks={k: v.to(device, dtype) for k, v in masks.items()},
            face_mask=face_mask[:, None].to(device, dtype) if face_mask is not None else None,
            time_ids=added_time_ids(settings.fps, settings.motion_bucket_id, settings.noise_aug_strength).to(device),
            guidance_regions=self.guidance_regions(masks, latent.shape[-2:]) if confined else {},
        )

    def guidance_regions(self, masks: Mapping[str, torch.Tensor], grid) -> dict[str, torch.Tensor]:
        """Each branch's own region (its ``region``, not its solo one: a branch alone still steers
        the whole face, but guidance amplifies it only here) on the latent grid as (1, 1, 1, h, w),
        area-pooled like the token masks. Once per generation: the masks are static per clip."""
        return {b.name: pool_to_grid(masks[b.region][None].to(self.device), *grid)[:, :, None]
                for b in self.branches if b.region in masks}

    def region_masks(self, landmarks, boxes, height: int, width: int) -> dict[str, torch.Tensor]:
        """Every region the branches use, (1, H, W) from the reference face (one frame)."""
        regions = [r for b in self.branches for r in (b.region, b.solo_region)]
        return region_masks(self.registry, regions, landmarks, boxes, height, width)

    def face_region(self) -> Optional[str]:
        """Region used for the face guider (the rule is ``core.branches.face_region``)."""
        return face_region(self.branches, self.registry)

    @torch.no_grad()
    def encode_identity(self, image: torch.Tensor) -> Optional[torch.Tensor]:
        """(1, 3, H, W) in [-1, 1] -> (1, D) embedding from the external identity encoder, or
        None: the denoiser's learned encoder then reads the reference latent itself."""
        enc = self.identity_encoder
        if enc is None:
            return None
        p = next(enc.parameters(), None) if isinstance(enc, torch.nn.Module) else None
        x = image.to(p.device if p is not None else image.device, p.dtype if p is not None else image.dtype)
        return enc.encode(x).float()

    # ---- step 3 --------------------------------------------------------------------------
    def encode_conditions(self, feats: Mapping[str, torch.Tensor], gates: Mapping[str, torch.Tensor]) -> Tokens:
        """Each branch's real and null features -> tokens, once; windows slice them."""
        device, dtype = self.device, self.dtype
        null = {b.name: b.null_features(feats[b.name]) for b in self.branches}
        real_tok = self.denoiser.encode_conditions({k: v.to(device, dtype) for k, v in feats.items()})
        null_tok = self.denoiser.encode_conditions({k: v.to(device, dtype) for k, v in null.items()})
        return Tokens(real_tok, null_tok, {k: v.to(device) for k, v in gates.items()})

    # ---- step 4 --------------------------------------------------------------------------
    def prepare_latents(self, settings: GenerationSettings, ref: Reference, gen: torch.Generator,
                        latents: Optional[torch.Tensor] = None):
        """A fresh scheduler per call (no state shared between calls; sigma overrides apply)
        and the initial noise, drawn on the CPU generator."""
        overrides = {k: v for k, v in (("sigma_min", settings.sigma_min), ("sigma_max", settings.sigma_max)) if v is not None}
        scheduler = type(self.scheduler).from_config(self.scheduler.config, **overrides)
        scheduler.set_timesteps(settings.steps, device=self.device)
        c, h, w = ref.latent.shape[1:]
        shape = (1, settings.num_frames, c, h, w)
        if latents is None:
            latents = torch.randn(shape, generator=gen, dtype=torch.float32)
        elif tuple(latents.shape) != shape:
            raise ShapeError(f"latents must have shape {shape}, got {tuple(latents.shape)}")
        return scheduler, latents.to(self.device, torch.float32) * scheduler.init_noise_sigma

    # ---- step 5 --------------------------------------------------------------------------
    def denoise(self, scheduler, latents: torch.Tensor, ref: Reference, tokens: Tokens, settings: GenerationSettings,
                show: bool = False, callback_on_step_end: Optional[Callable] = None,
                callback_on_window: Optional[Callable] = None) -> torch.Tensor:
        bar = None
        if show:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(scheduler.timesteps), desc="denoising", unit="step", leave=False)
        try:
            for i, t in enumerate(scheduler.timesteps):
                pred = self.predict_step(scheduler.scale_model_input(latents, t), t, i, ref, tokens, settings,
                                         callback_on_window)
                latents = scheduler.step(pred.float(), t, latents).prev_sample
                if callback_on_step_end is not None:
                    latents = (callback_on_step_end(self, i, t, {"latents": latents}) or {}).get("latents", latents)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return latents

    def predict_step(self, x: torch.Tensor, t: torch.Tensor, step: int, ref: Reference, tokens: Tokens,
                     settings: GenerationSettings, callback_on_window: Optional[Callable] = None) -> torch.Tensor:
        """The guided prediction of one step: each window on its own frames, overlaps averaged."""
        count = itertools.count()

        def predict(idx: torch.Tensor) -> torch.Tensor:
            pred = self.predict_window(x[:, idx.to(x.device)], t, idx, ref, tokens, settings)
            if callback_on_window is not None:
                callback_on_window(self, step, next(count), idx, pred)
            return pred

        return predict_windowed(predict, settings.num_frames, settings.window, settings.window_shift, step=step,
                                overlap=settings.window_overlap)

    def predict_window(self, x: torch.Tensor, t: torch.Tensor, idx: torch.Tensor, ref: Reference, tokens: Tokens,
                       settings: GenerationSettings) -> torch.Tensor:
        """Chained guidance on one window: its frames' tokens and gates; closed branches skipped."""
        win = tokens.window(idx.to(self.device))
        closed = [k for k, g in win.gates.items() if not bool((g > 0).any())]
        scale = window_reference_scale(settings.reference_scale, settings.reference_scale_min, settings.num_frames, idx)
        plan = plan_guidance(self.branch_names, scale, settings.guidance_scales, settings.guidance_order, closed=closed,
                             regions=ref.guidance_regions, outside_scale=settings.guidance_outside_scale)
        return plan.combine(self._run_passes(plan, x, t, ref, win, settings.guidance_batch))

    def _pass_inputs(self, plan: GuidancePlan, x: torch.Tensor, ref: Reference, win: Tokens) -> list[tuple]:
        """Per pass: noisy latents ++ (reference latent or zeros), identity (or zeros, or None
        for the learned encoder, which then sees the zeroed reference), and real tokens for
        the pass's branches, null tokens for the others."""
        latent = ref.latent[:, None].expand(-1, x.shape[1], -1, -1, -1)
        identity = ref.identity
        closed = set(self.branch_names) - set(plan.order)  # gate 0 here: real or null is the same
        inputs = []
        for p in plan.passes:
            on = set(p.branches) | closed
            inputs.append((
                torch.cat([x, latent if p.reference else torch.zeros_like(latent)], dim=2),
                None if identity is None else (identity if p.reference else torch.zeros_like(identity)),
                {k: (win.real[k] if k in on else win.null[k]) for k in win.real},
            ))
        return inputs

    def _run_passes(self, plan: GuidancePlan, x: torch.Tensor, t: torch.Tensor, ref: Reference, win: Tokens,
                    guidance_batch: Optional[int]) -> list[torch.Tensor]:
        """Evaluate the plan's passes, ``guidance_batch`` passes per denoiser call (None: all in one)."""
        inputs = self._pass_inputs(plan, x, ref, win)
        chunk = len(inputs) if not guidance_batch else max(1, int(guidance_batch))
        dtype = self.dtype
        outs: list[torch.Tensor] = []
        for start in range(0, len(inputs), chunk):
            group = inputs[start : start + chunk]
            n = len(group)
            sample = torch.cat([g[0] for g in group]).to(dtype)
            pred = self.denoiser(
                sample,
                t.to(sample.device).expand(sample.shape[0]),
                added_time_ids=ref.time_ids.expand(sample.shape[0], -1).to(dtype),
                identity=None if ref.identity is None else torch.cat([g[1] for g in group]).to(dtype),
                condition_tokens={k: torch.cat([g[2][k] for g in group]) for k in win.real},
                gates={k: g.expand(n, -1) for k, g in win.gates.items()},
                region_masks={k: m.expand(n, -1, -1) for k, m in ref.masks.items()},
                face_mask=None if ref.face_mask is None else ref.face_mask.expand(n, -1, -1, -1),
                return_dict=False,
            )[0]
            outs.extend(pred.float().chunk(n))
        return outs

    # ---- step 6 --------------------------------------------------------------------------
    def decode(self, latents: torch.Tensor, settings: GenerationSettings, output_type: str = "np"):
        if output_type == "latent":
            return latents
        frames = decode_latents(self.vae, latents, settings.decode_chunk, settings.decode_overlap)[0]
        return frames if output_type == "pt" else frames_to_uint8(frames)


__all__ = ["ACTalkerPipeline", "ACTalkerPipelineOutput", "CONFIG_FILE", "GenerationSettings", "MODEL_INDEX"]
