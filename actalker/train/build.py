"""Build what training needs from the config: the pipeline (denoiser from ``model``, the
temporal VAE, SVD's scheduler) and the clip datasets from ``data``."""
from __future__ import annotations

from pathlib import Path

from actalker.errors import ConfigError, InputError


def build_vae(model_cfg):
    """``model.vae``: a pretrained folder, else constructor kwargs; with neither, the VAE of
    the SVD folder the UNet comes from."""
    from diffusers import AutoencoderKLTemporalDecoder

    ref, unet = model_cfg.vae, model_cfg.unet
    if ref.pretrained_path:
        return AutoencoderKLTemporalDecoder.from_pretrained(ref.pretrained_path, subfolder=ref.subfolder,
                                                            variant=ref.variant)
    if ref.config:
        return AutoencoderKLTemporalDecoder(**ref.config)
    if unet.pretrained_path and (Path(unet.pretrained_path) / (ref.subfolder or "vae")).is_dir():
        return AutoencoderKLTemporalDecoder.from_pretrained(unet.pretrained_path, subfolder=ref.subfolder or "vae",
                                                            variant=ref.variant or unet.variant)
    raise ConfigError("model.vae: set pretrained_path (an SVD folder) or config (constructor kwargs)")


def build_pipeline(cfg, registry=None):
    from actalker.core.denoiser import ACTalkerDenoiser
    from actalker.core.identity import build_identity_encoder
    from actalker.core.pipeline import ACTalkerPipeline
    from actalker.core.sampling import make_scheduler

    if registry is None:
        from actalker.plugins import load_registry

        registry = load_registry()
    # SVD's frozen CLIP image encoder (from the SVD folder) or the user's ArcFace; None for learned.
    identity = build_identity_encoder(cfg.model.identity.model_dump(), cfg.model.unet.pretrained_path,
                                      cfg.model.unet.variant)
    if identity is not None:
        identity.requires_grad_(False).eval()
    denoiser = ACTalkerDenoiser.from_model_config(cfg.model, registry=registry)
    if cfg.model.init_from:
        from actalker.train.warm_start import warm_start

        n = warm_start(denoiser, cfg.model.init_from, cfg.model.init_include)
        print(f"init_from {cfg.model.init_from}: copied {n['copied']} tensors ({', '.join(cfg.model.init_include)}), "
              f"{n['fresh']} start fresh, {n['mismatched']} skipped for shape", flush=True)
    scheduler = make_scheduler(sigma_min=cfg.sampling.sigma_min, sigma_max=cfg.sampling.sigma_max)
    return ACTalkerPipeline(denoiser, build_vae(cfg.model), scheduler, identity, cfg, registry)


def build_dataset(cfg, split: str):
    from actalker.data import ClipDataset

    d = cfg.data
    if not d.root:
        raise ConfigError("data.root is not set: give a clip folder (actalker synth / preprocess output)")
    if not Path(d.root).is_dir():
        raise ConfigError(f"data.root {d.root} is not a folder")
    return ClipDataset(d.root, split, d.num_frames, d.size, d.fps, require_audio=d.require_audio, reference=d.reference)


def check_training_data(cfg, dataset, registry=None) -> None:
    """Every branch's features on every training clip, before step 1 (train.check_data)."""
    from actalker.core.branches import resolve_branches
    from actalker.data.check import check_clips, require_clean

    if registry is None:
        from actalker.plugins import load_registry

        registry = load_registry()
    branches = resolve_branches(cfg.model.branches, registry).values()
    problems = check_clips(branches, dataset.root, dataset.clips)
    require_clean(problems, len(dataset.clips), f"data.root {cfg.data.root} (split '{cfg.data.train_split}'; "
                  "train.check_data=false skips this check)")


def build_parts(cfg, registry=None):
    from actalker.train.loop import TrainParts

    train = build_dataset(cfg, cfg.data.train_split)  # data problems first: they are quick to report
    if cfg.train.check_data:
        check_training_data(cfg, train, registry)
    pipe = build_pipeline(cfg, registry)
    val = None
    if cfg.train.validate_every:
        try:
            val = build_dataset(cfg, cfg.data.val_split)
        except InputError as err:  # no usable val split: training goes on without videos
            print(f"warning: no validation videos: {err}", flush=True)
    return TrainParts(pipe, train, val)
