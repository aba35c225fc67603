"""The generation pipeline: reference portrait + control signals -> talking-head frames.

``ACTalkerPipeline`` holds the denoiser (SVD UNet with PCM branches), SVD's temporal VAE,
the Euler scheduler (v-prediction, Karras sigmas, SVD's own settings) and, when the model
uses one outside the denoiser, an identity encoder. A model folder is

    actalker_model.json   format, version, component classes, branches and their plugins
    config.yaml           the resolved config the model was built with (sampling and
                          guidance defaults for generation come from here)
    denoiser/ vae/ scheduler/ [identity/]   each saved with its own save_pretrained

written atomically by ``save_pretrained``. ``from_svd`` builds a fresh model from the UNet
and VAE of a local Stable Video Diffusion diffusers folder.

Sampling (``__call__``): reference -> latent with SVD's noise augmentation; each branch's
features and gate per frame; region masks from the reference face's landmarks via the
registry's regions (the denoiser applies the solo rule); N-branch chained guidance batched
into one denoiser call per window and step; long videos in shifted overlapping windows;
chunked VAE decoding. Float32 on CPU, half precision on CUDA; all noise is drawn on a CPU
generator so a seed gives the same video on any device (up to the device's arithmetic).

No signal is named here: branches and their modalities come from the model and registry.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import torch

from actalker.core.config import Config
from actalker.core.guidance import GuidancePlan, plan_guidance
from actalker.core.sampling import (
    added_time_ids,
    crop_boxes,
    crop_points,
    decode_latents,
    encode_reference,
    fit_image,
    frames_to_uint8,
    make_scheduler,
)
from actalker.core.windows import predict_windowed
from actalker.errors import ConfigError, InputError, PluginError, ShapeError
from actalker.utils.atomic import atomic_dir

MODEL_INDEX = "actalker_model.json"
CONFIG_FILE = "config.yaml"
FORMAT = "actalker-model"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Branch:
    """What the pipeline needs to know about one control branch of a model."""

    name: str
    modality: str
    options: Any  # the plugin's validated options model
    region: str
    solo_region: str
    default_gate: float
    feature_shape: tuple[int, ...]
    null_features: Callable[[torch.Tensor], torch.Tensor]


def _config_from(obj) -> Config:
    if obj is None:
        return Config()
    if isinstance(obj, Config):
        return obj
    from actalker.config import validate_core  # one-line errors naming the closest valid key

    return validate_core(dict(obj))


def branches_of(denoiser, registry) -> list[Branch]:
    """The denoiser's branches (its saved, resolved ``config.branches``) with their plugins."""
    out = []
    for name, b in dict(denoiser.config.branches or {}).items():
        spec = registry.modality(b["modality"])
        opts = spec.parse_options(b.get("options"))
        out.append(
            Branch(
                name=name,
                modality=spec.name,
                options=opts,
                region=b.get("region") or spec.default_region,
                solo_region=b.get("solo_region") or spec.solo_region,
                default_gate=float(b["gate"] if b.get("gate") is not None else spec.default_gate),
                feature_shape=tuple(int(s) for s in spec.feature_shape(opts)),
                null_features=spec.null_features,
            )
        )
    return out


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
    """Talking-head generation from a reference portrait and any set of control signals."""

    def __init__(self, denoiser, vae, scheduler=None, identity_encoder=None, config=None, registry=None):
        self.denoiser = denoiser
        self.vae = vae
        self.scheduler = scheduler if scheduler is not None else make_scheduler()
        self.identity_encoder = identity_encoder
        self.config = _config_from(config)
        if registry is None:
            from actalker.plugins import load_registry

            registry = load_registry()
        self.registry = registry
        self.branches = branches_of(denoiser, registry)
        kind = (getattr(denoiser.config, "identity", None) or {}).get("kind", "learned")
        if kind != "learned" and identity_encoder is None:
            raise ConfigError(
                f"the model's identity kind is '{kind}' but no identity encoder was given "
                "(clip: the SVD folder's image_encoder/; arcface: pass identity_encoder=)"
            )
        self.progress = True

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

    def branch(self, name: str) -> Branch:
        for b in self.branches:
            if b.name == name:
                return b
        raise InputError(f"the model has no branch '{name}' (branches: {', '.join(self.branch_names) or 'none'})")

    # ------------------------------------------------------------- save / load
    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write the model folder atomically (a reader never sees half a model)."""
        from omegaconf import OmegaConf

        path = Path(path)
        with atomic_dir(path) as tmp:
            self.denoiser.save_pretrained(tmp / "denoiser")
            self.vae.save_pretrained(tmp / "vae")
            self.scheduler.save_pretrained(tmp / "scheduler")
            components = {
                "denoiser": _class_path(self.denoiser),
                "vae": _class_path(self.vae),
                "scheduler": _class_path(self.scheduler),
            }
            if self.identity_encoder is not None:
                self.identity_encoder.save_pretrained(tmp / "identity")
                components["identity"] = _class_path(self.identity_encoder)
            (tmp / CONFIG_FILE).write_text(OmegaConf.to_yaml(OmegaConf.create(self.config.model_dump(mode="json"))))
            index = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "components": components,
                "branches": {
                    b.name: {"modality": b.modality, "plugin": self.registry.owners.get(f"modality:{b.modality}")}
                    for b in self.branches
                },
            }
            (tmp / MODEL_INDEX).write_text(json.dumps(index, indent=2) + "\n")
        return path

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        device: Optional[str | torch.device] = None,
        dtype: Optional[torch.dtype] = None,
        registry=None,
    ) -> "ACTalkerPipeline":
        """Load a model folder written by ``save_pretrained`` (or ``actalker train``)."""
        from omegaconf import OmegaConf

        path = Path(path).expanduser()
        index_file = path / MODEL_INDEX
        if not path.is_dir():
            raise InputError(f"model folder not found: {path}")
        if not index_file.is_file():
            raise InputError(f"{path} is not an actalker model folder: {MODEL_INDEX} is missing")
        try:
            index = json.loads(index_file.read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read {index_file}: {err}") from None
        if index.get("format") != FORMAT or int(index.get("version", 0)) > FORMAT_VERSION:
            raise InputError(
                f"{index_file} has format {index.get('format')!r} version {index.get('version')!r}; "
                f"expected {FORMAT!r} version <= {FORMAT_VERSION}"
            )
        if registry is None:
            from actalker.plugins import load_registry

            registry = load_registry()
        for name, info in (index.get("branches") or {}).items():
            try:
                registry.modality(info["modality"])
            except PluginError as err:
                raise PluginError(f"model {path} needs branch '{name}': {err}") from None
        try:
            raw = OmegaConf.to_container(OmegaConf.load(path / CONFIG_FILE), resolve=True)
        except Exception as err:
            raise InputError(f"cannot read {path / CONFIG_FILE}: {str(err).splitlines()[0]}") from None
        config = _config_from(raw)

        device = torch.device(device) if device is not None else None
        if dtype is None:  # half precision on CUDA, float32 elsewhere, whatever the files hold
            dtype = torch.float16 if device is not None and device.type == "cuda" else torch.float32
        comps = index.get("components", {})
        loaded = {}
        for name in ("denoiser", "vae", "scheduler", "identity"):
            if name not in comps:
                continue
            klass = _import_class(comps[name])
            sub = path / name
            if not sub.is_dir():
                raise InputError(f"model folder {path} is incomplete: {name}/ is missing")
            kwargs = {}
            if name == "denoiser" and _accepts(klass.from_pretrained, "registry"):
                kwargs["registry"] = registry
            if dtype is not None and name in ("denoiser", "vae"):
                kwargs["torch_dtype"] = dtype  # diffusers' way (casting after loading warns)
            loaded[name] = klass.from_pretrained(sub, **kwargs)
        for name in ("denoiser", "vae", "scheduler"):
            if name not in loaded:
                raise InputError(f"{index_file} lists no '{name}' component")
        pipe = cls(loaded["denoiser"], loaded["vae"], loaded["scheduler"], loaded.get("identity"), config, registry)
        for module in (pipe.denoiser, pipe.vae, pipe.identity_encoder):
            if isinstance(module, torch.nn.Module):
                module.eval()
        if pipe.identity_encoder is not None and dtype is not None:
            pipe.identity_encoder.to(dtype=dtype)
        return pipe.to(device)

    @classmethod
    def from_svd(
        cls,
        svd_dir: str | os.PathLike,
        config=None,
        registry=None,
        identity_encoder=None,
        torch_dtype: Optional[torch.dtype] = None,
    ) -> "ACTalkerPipeline":
        """A fresh model from a local SVD diffusers folder (``unet/``, ``vae/``, optional
        ``scheduler/``): the pretrained UNet gets zero-initialised PCM branches, so before
        training it samples exactly like SVD with this pipeline's conditioning."""
        from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler

        from actalker.core.denoiser import ACTalkerDenoiser

        svd_dir = Path(svd_dir).expanduser()
        for sub in ("unet", "vae"):
            if not (svd_dir / sub / "config.json").is_file():
                raise InputError(f"{svd_dir} is not a Stable Video Diffusion diffusers folder: {sub}/config.json is missing")
        config = _config_from(config)
        if registry is None:
            from actalker.plugins import load_registry

            registry = load_registry()
        m = config.model
        if m.unet.config:
            raise ConfigError("from_svd takes the UNet from the SVD folder; leave model.unet.config empty")
        denoiser = ACTalkerDenoiser.from_svd(
            svd_dir,
            branches={k: v.model_dump() for k, v in m.branches.items()},
            pcm=m.pcm.model_dump(),
            cond_dim=m.cond_dim,
            identity=m.identity.model_dump(),
            face_guider=m.face_guider,
            registry=registry,
            subfolder="unet",
        )
        if identity_encoder is None and m.identity.kind == "clip":
            identity_encoder = ClipIdentityEncoder.from_pretrained(m.identity.weights_path or svd_dir / "image_encoder")
        vae = AutoencoderKLTemporalDecoder.from_pretrained(svd_dir / "vae")
        if (svd_dir / "scheduler" / "scheduler_config.json").is_file():
            scheduler = EulerDiscreteScheduler.from_pretrained(svd_dir / "scheduler")
        else:
            scheduler = make_scheduler()
        pipe = cls(denoiser, vae, scheduler, identity_encoder, config, registry)
        if torch_dtype is not None:
            pipe.to(dtype=torch_dtype)
        return pipe

    # ---------------------------------------------------------------- sampling
    def prepare_conditions(
        self,
        conditions: Mapping[str, Any],
        gates: Optional[Mapping[str, Any]],
        num_frames: Optional[int],
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
        for name in gates:
            if name not in names:
                raise InputError(f"gate for unknown branch '{name}' (the model's branches: {', '.join(names) or 'none'})")
        feats = {}
        for name, value in conditions.items():
            t = torch.as_tensor(np.asarray(value) if not torch.is_tensor(value) else value).float()
            shape = self.branch(name).feature_shape
            if t.ndim != 1 + len(shape) or tuple(t.shape[1:]) != shape:
                raise ShapeError(f"features of branch '{name}' have shape {tuple(t.shape)}; expected (frames, {', '.join(map(str, shape))})")
            feats[name] = t
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
            feats[name] = t[:num_frames][None]
        gate_t = {}
        for b in self.branches:
            raw = gates.get(b.name, b.default_gate if b.name in feats else 0.0)
            g = torch.as_tensor(raw, dtype=torch.float32)
            if g.ndim == 0:
                g = g.expand(num_frames)
            elif g.ndim != 1 or g.shape[0] < num_frames:
                raise ShapeError(f"gate of branch '{b.name}' must be a number or a per-frame schedule of {num_frames} values, got shape {tuple(g.shape)}")
            g = g[:num_frames]
            if not bool(torch.isfinite(g).all()) or bool((g < 0).any()):
                raise InputError(f"gate of branch '{b.name}' must be finite and >= 0")
            if b.name not in feats:
                if bool((g > 0).any()):
                    raise InputError(f"gate of branch '{b.name}' is open but no signal was given for it")
                feats[b.name] = b.null_features(torch.zeros(num_frames, *b.feature_shape))[None]
            gate_t[b.name] = g[None].clone()
        return num_frames, feats, gate_t

    def region_masks(
        self,
        landmarks: Optional[torch.Tensor],
        boxes: Optional[torch.Tensor],
        height: int,
        width: int,
    ) -> dict[str, torch.Tensor]:
        """Every region the branches use, (1, H, W) from the reference face (one frame)."""
        if boxes is None:
            return {}
        boxes = torch.tensor(np.array(boxes, dtype=np.float32)).reshape(-1, 4)[:1]
        if landmarks is not None:
            landmarks = torch.tensor(np.array(landmarks, dtype=np.float32))
            landmarks = landmarks.reshape(-1, *landmarks.shape[-2:])[:1]
        out = {}
        for b in self.branches:
            for region in (b.region, b.solo_region):
                if region not in out:
                    m = self.registry.region(region).mask(landmarks, boxes, height, width)
                    out[region] = torch.as_tensor(m, dtype=torch.float32).reshape(1, height, width)
        return out

    def face_region(self) -> Optional[str]:
        """Region used for the face guider: the denoiser's setting, else the solo region
        shared by the branches (the whole face), else the registry's 'face' region."""
        name = getattr(getattr(self.denoiser, "config", None), "face_region", None)
        if name:
            return name
        solos = {b.solo_region for b in self.branches}
        if len(solos) == 1:
            return solos.pop()
        return "face" if "face" in self.registry.regions else None

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
        guidance_scales: Optional[Mapping[str, float]] = None,
        guidance_order: Optional[Sequence[str]] = None,
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
    ):
        """Generate a video.

        image:       the reference portrait, uint8 (H, W, 3) or float (3, H, W) in [-1, 1]
                     (scaled to cover height x width and centre cropped).
        conditions:  branch -> per-frame raw features (F, *feature_shape) (from the plugin's
                     ``load``); branches left out get null features and gate 0.
        gates:       branch -> float or per-frame schedule (F,); default: the config's gate,
                     else the plugin's ``default_gate``.
        landmarks, boxes: the reference face, normalised to ``image`` ((478, 3) or
                     (1, 478, 3); (4,) or (1, 4) xyxy) for the branches' region masks.
        output_type: "np" -> uint8 (F, H, W, 3); "pt" -> float (F, 3, H, W) in [-1, 1];
                     "latent" -> (1, F, 4, h, w).
        Other settings default to the model config's ``sampling`` and ``guidance``.
        """
        s, gcfg = self.config.sampling, self.config.guidance
        steps = int(num_inference_steps or s.steps)
        height, width = int(height or s.height), int(width or s.width)
        fps = float(fps or s.fps)
        noise_aug = float(s.noise_aug_strength if noise_aug_strength is None else noise_aug_strength)
        bucket = int(s.motion_bucket_id if motion_bucket_id is None else motion_bucket_id)
        window = int(window or s.window)
        window_shift = int(s.window_shift if window_shift is None else window_shift)
        decode_chunk = int(decode_chunk or s.decode_chunk)
        decode_overlap = int(s.decode_overlap if decode_overlap is None else decode_overlap)
        ref_scale = float(gcfg.reference_scale if reference_scale is None else reference_scale)
        scales = dict(gcfg.scales if guidance_scales is None else guidance_scales)
        order = list(gcfg.order if guidance_order is None else guidance_order)
        if output_type not in ("np", "pt", "latent"):
            raise ValueError(f"output_type must be 'np', 'pt' or 'latent', got {output_type!r}")
        show = self.progress if progress is None else progress

        num_frames, feats, gate_t = self.prepare_conditions(conditions, gates, num_frames)
        gen = _generator(seed, generator)
        device, dtype = self.device, self.dtype

        ref_image, crop = fit_image(image, height, width)
        if boxes is not None:
            boxes = crop_boxes(torch.tensor(np.array(boxes, dtype=np.float32)).reshape(-1, 4), crop)
        if landmarks is not None:
            landmarks = crop_points(torch.tensor(np.array(landmarks, dtype=np.float32)), crop)
        mask_mode = (getattr(self.denoiser.config, "pcm", None) or {}).get("mask_mode", "drop")
        if boxes is None and mask_mode != "none" and any(bool((g > 0).any()) for g in gate_t.values()):
            raise InputError("the reference face is needed for the branches' region masks: pass landmarks and/or boxes")
        masks = self.region_masks(landmarks, boxes, height, width)
        face_name = self.face_region()
        face_mask = masks.get(face_name) if face_name else None
        if face_mask is None and face_name and boxes is not None:
            face_mask = self.registry.region(face_name).mask(landmarks, boxes[:1], height, width).reshape(1, height, width)
        masks = {k: v.to(device, dtype) for k, v in masks.items()}
        face_mask = face_mask[:, None].to(device, dtype) if face_mask is not None else None

        identity = self.encode_identity(ref_image.to(device))
        ref_latent = encode_reference(self.vae, ref_image.to(device), noise_aug, gen).to(device)  # (1, C, h, w)
        time_ids = added_time_ids(fps, bucket, noise_aug).to(device)

        # A fresh scheduler per call: no state shared between calls; sigma overrides apply.
        overrides = {k: v for k, v in (("sigma_min", s.sigma_min), ("sigma_max", s.sigma_max)) if v is not None}
        scheduler = type(self.scheduler).from_config(self.scheduler.config, **overrides)
        scheduler.set_timesteps(steps, device=device)
        lat_shape = (1, num_frames, ref_latent.shape[1], ref_latent.shape[2], ref_latent.shape[3])
        if latents is None:
            latents = torch.randn(lat_shape, generator=gen, dtype=torch.float32)
        elif tuple(latents.shape) != lat_shape:
            raise ShapeError(f"latents must have shape {lat_shape}, got {tuple(latents.shape)}")
        latents = latents.to(device, torch.float32) * scheduler.init_noise_sigma
        gate_t = {k: v.to(device) for k, v in gate_t.items()}
        # Encode each branch's real and null features once; windows slice the tokens.
        null = {b.name: b.null_features(feats[b.name]) for b in self.branches}
        real_tok = self.denoiser.encode_conditions({k: v.to(device, dtype) for k, v in feats.items()})
        null_tok = self.denoiser.encode_conditions({k: v.to(device, dtype) for k, v in null.items()})

        def guided(x: torch.Tensor, t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            idx_d = idx.to(device)
            win_gates = {k: g[:, idx_d] for k, g in gate_t.items()}
            closed = [k for k, g in win_gates.items() if not bool((g > 0).any())]
            plan = plan_guidance(self.branch_names, ref_scale, scales, order, closed=closed)
            win_real = {k: v[:, idx_d] for k, v in real_tok.items()}
            win_null = {k: v[:, idx_d] for k, v in null_tok.items()}
            preds = self._run_passes(
                plan, x, t, ref_latent, identity, win_real, win_null, win_gates, masks, face_mask, time_ids,
                guidance_batch,
            )
            return plan.combine(preds)

        iterator = scheduler.timesteps
        bar = None
        if show:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(iterator), desc="denoising", unit="step", leave=False)
        try:
            for i, t in enumerate(iterator):
                scaled = scheduler.scale_model_input(latents, t)
                pred = predict_windowed(
                    lambda idx: guided(scaled[:, idx.to(device)], t, idx),
                    num_frames, window, window_shift, step=i, overlap=window_overlap,
                )
                latents = scheduler.step(pred.float(), t, latents).prev_sample
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()

        if output_type == "latent":
            return latents
        frames = decode_latents(self.vae, latents, decode_chunk, decode_overlap)[0]
        if output_type == "pt":
            return frames
        return frames_to_uint8(frames)

    def _run_passes(
        self,
        plan: GuidancePlan,
        x: torch.Tensor,
        t: torch.Tensor,
        ref_latent: torch.Tensor,
        identity: Optional[torch.Tensor],
        real_tokens: dict[str, torch.Tensor],
        null_tokens: dict[str, torch.Tensor],
        gates: dict[str, torch.Tensor],
        masks: dict[str, torch.Tensor],
        face_mask: Optional[torch.Tensor],
        time_ids: torch.Tensor,
        guidance_batch: Optional[int],
    ) -> list[torch.Tensor]:
        """Evaluate the plan's passes, ``guidance_batch`` passes per denoiser call (None: all
        in one call). Pass j: noisy latents ++ (reference latent or zeros), identity (or
        zeros, or None for the learned encoder, which then sees the zeroed reference), and
        real tokens for the pass's branches, null tokens for the others."""
        f = x.shape[1]
        ref = ref_latent[:, None].expand(-1, f, -1, -1, -1)
        closed = set(self.branch_names) - set(plan.order)  # gate 0 here: real or null is the same
        inputs = []
        for p in plan.passes:
            on = set(p.branches) | closed
            inputs.append(
                (
                    torch.cat([x, ref if p.reference else torch.zeros_like(ref)], dim=2),
                    None if identity is None else (identity if p.reference else torch.zeros_like(identity)),
                    {k: (real_tokens[k] if k in on else null_tokens[k]) for k in real_tokens},
                )
            )
        chunk = len(inputs) if not guidance_batch else max(1, int(guidance_batch))
        dtype = self.dtype
        outs: list[torch.Tensor] = []
        for start in range(0, len(inputs), chunk):
            group = inputs[start : start + chunk]
            n = len(group)
            sample = torch.cat([g[0] for g in group]).to(dtype)
            ident = None if identity is None else torch.cat([g[1] for g in group]).to(dtype)
            tokens = {k: torch.cat([g[2][k] for g in group]) for k in real_tokens}
            pred = self.denoiser(
                sample,
                t.to(sample.device).expand(sample.shape[0]),
                added_time_ids=time_ids.expand(sample.shape[0], -1).to(dtype),
                identity=ident,
                condition_tokens=tokens,
                gates={k: g.expand(n, -1) for k, g in gates.items()},
                region_masks={k: m.expand(n, -1, -1) for k, m in masks.items()},
                face_mask=None if face_mask is None else face_mask.expand(n, -1, -1, -1),
                return_dict=False,
            )[0]
            outs.extend(pred.float().chunk(n))
        return outs


class ClipIdentityEncoder(torch.nn.Module):
    """SVD's own image encoder (CLIP ViT-H/14 with projection) as the identity encoder:
    images (B, 3, H, W) in [-1, 1] -> (B, projection_dim) ``image_embeds``."""

    MEAN = (0.48145466, 0.4578275, 0.40821073)
    STD = (0.26862954, 0.26130258, 0.27577711)

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.dim = int(model.config.projection_dim)
        self.size = int(model.config.image_size)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        x = F.interpolate(images.float(), size=(self.size, self.size), mode="bicubic", align_corners=False, antialias=True)
        x = ((x + 1) / 2).clamp(0, 1)
        mean = torch.tensor(self.MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.STD, device=x.device).view(1, 3, 1, 1)
        x = ((x - mean) / std).to(next(self.model.parameters()).dtype)
        return self.model(pixel_values=x).image_embeds

    def save_pretrained(self, path) -> None:
        self.model.save_pretrained(path)

    @classmethod
    def from_pretrained(cls, path) -> "ClipIdentityEncoder":
        from transformers import CLIPVisionModelWithProjection

        path = Path(path).expanduser()
        if not (path / "config.json").is_file():
            raise InputError(f"no CLIP image encoder in {path} (expected config.json and weights)")
        return cls(CLIPVisionModelWithProjection.from_pretrained(path))


def _class_path(obj) -> str:
    k = type(obj)
    return f"{k.__module__}:{k.__qualname__}"


_ALLOWED_MODULE_PREFIXES = ("actalker.", "diffusers", "transformers")


def _import_class(path: str):
    import importlib

    module, _, name = str(path).partition(":")
    if not module.startswith(_ALLOWED_MODULE_PREFIXES) or not name:
        raise InputError(f"model component class {path!r} is not an actalker, diffusers or transformers class")
    try:
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise InputError(f"cannot load model component class {path!r}: {err}") from None
    return obj


def _accepts(fn, arg: str) -> bool:
    import inspect

    try:
        return arg in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


__all__ = ["ACTalkerPipeline", "Branch", "ClipIdentityEncoder", "CONFIG_FILE", "MODEL_INDEX", "branches_of"]
