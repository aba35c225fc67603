"""The training loop: one script from one CPU process to many GPUs (accelerate).

``train(cfg, resume=...)`` builds the model and data from the config (or takes
``parts`` from a caller, e.g. tests), then runs optimizer steps of ``grad_accum``
micro-batches each until ``train.max_steps``. Checkpoints every ``checkpoint_every``
steps, at the end, and at the first step boundary after SIGINT/SIGTERM. The finished
model is written as a pipeline folder (``output_dir/model``) that ``actalker generate
--model`` loads, with the EMA weights when EMA is on.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch.utils.data import DataLoader

from actalker.errors import ConfigError
from actalker.train.checkpoint import StopFlag, latest_checkpoint, load_checkpoint, resume_checkpoint, save_checkpoint
from actalker.train.conditioning import ItemConditioning, training_regions
from actalker.train.data import ResumableBatchSampler, SeededItems, collate
from actalker.train.ema import EMA
from actalker.train.latent_cache import LatentCache
from actalker.train.logging import RunLogger
from actalker.train.step import micro_batch_loss
from actalker.train.trainable import select_trainable


@dataclass
class TrainParts:
    """What training needs besides the config: a pipeline (denoiser, VAE, scheduler,
    identity encoder, branches, registry), the training set and optional validation set."""

    pipeline: Any
    dataset: Any
    val_dataset: Any = None


@dataclass
class TrainResult:
    step: int
    stopped_by: Optional[int]  # signal number when interrupted, else None
    model_dir: Optional[Path]
    checkpoint: Optional[Path]


def run_seed(cfg) -> int:
    return int(cfg.train.seed if cfg.train.seed is not None else cfg.seed)


def make_accelerator(cfg):
    import os

    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    # Several processes on a machine without GPUs (`accelerate launch --multi_gpu` starts
    # them with torchrun; `--cpu` would need MPI): run them as CPU processes over gloo.
    cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    precision = cfg.train.mixed_precision
    if precision == "fp16" and not torch.cuda.is_available():
        # The recipe's fp16 (with loss scaling) is for GPUs; on a CPU it is slow and unstable.
        print("warning: train.mixed_precision=fp16 needs a GPU; training in float32", flush=True)
        precision = "no"
    return Accelerator(
        cpu=cpu,
        gradient_accumulation_steps=cfg.train.grad_accum,
        mixed_precision=precision,
        # The LR schedule is in optimizer steps; we step it only when the optimizer steps.
        step_scheduler_with_optimizer=False,
        # Closed gates and dropped conditions leave whole branches out of a process's graph;
        # DDP must be told, or processes wait on each other's gradients forever.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


def train_generator(seed: int, rank: int) -> torch.Generator:
    """The CPU generator of a process's training draws (sigma, noise, dropouts)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + rank)


def make_loader(cfg, dataset, transform, rank: int = 0, world: int = 1, start_batch: int = 0) -> DataLoader:
    """This process's endless stream of micro-batches, starting at ``start_batch``."""
    seed = run_seed(cfg)
    if len(dataset) < cfg.train.batch_size * world:
        raise ConfigError(f"the training set has {len(dataset)} windows, fewer than one global batch "
                          f"(train.batch_size {cfg.train.batch_size} x {world} processes)")
    sampler = ResumableBatchSampler(len(dataset), cfg.train.batch_size, seed, rank, world, start_batch=start_batch)
    return DataLoader(SeededItems(dataset, seed, transform), batch_sampler=sampler, collate_fn=collate,
                      num_workers=cfg.data.num_workers)


def warmup_lambda(warmup: int):
    return lambda s: min(1.0, (s + 1) / warmup) if warmup > 0 else 1.0


def train(cfg, resume: bool = False, parts: Optional[TrainParts] = None, resolved: Optional[dict] = None,
          accelerator=None, progress: bool = True, registry=None) -> TrainResult:
    """Train; ``parts`` default to ``build_parts(cfg, registry)`` (built after seeding, so
    the initial weights follow the config's seed)."""
    own = accelerator is None
    accelerator = accelerator or make_accelerator(cfg)
    try:
        return _train(cfg, accelerator, resume, parts, resolved, progress, registry)
    finally:
        if own and accelerator.num_processes == 1:
            _forget_accelerate_state()


def _forget_accelerate_state() -> None:
    """accelerate keeps process-wide singletons (device, precision); a later in-process run
    (a sweep, a test) with other settings needs them cleared."""
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()


@dataclass
class _Run:
    """The prepared training state of one run."""

    model: Any  # the denoiser as accelerate prepared it
    optimizer: Any
    scheduler: Any
    named: list
    ema: Optional[EMA]


def _train(cfg, accelerator, resume, parts, resolved, progress, registry) -> TrainResult:
    from accelerate.utils import set_seed

    t = cfg.train
    out = Path(t.output_dir)
    seed = run_seed(cfg)
    ckpt = _checkpoint_to_resume(out, resume, accelerator)
    parts = _open_run(cfg, accelerator, parts, resolved, registry, ckpt, out, seed)
    pipe = parts.pipeline
    run = _prepare(pipe, t, accelerator)

    rank, world = accelerator.process_index, accelerator.num_processes
    generator = train_generator(seed, rank)
    set_seed(seed + rank)  # global RNGs (dropout in a model, if any) differ per process
    step = int(load_checkpoint(accelerator, ckpt, generator, run.ema)["step"]) if ckpt is not None else 0
    face_region = pipe.face_region()
    transform = ItemConditioning(pipe.branches, pipe.registry, cfg.data.fps, face_region, extra_regions=training_regions(t))
    loader = make_loader(cfg, parts.dataset, transform, rank, world, start_batch=step * t.grad_accum)

    logger = RunLogger(out, accelerator.is_main_process, t.max_steps, step, tensorboard=t.tensorboard, progress=progress)
    if ckpt is not None:
        logger.write(f"resumed from {ckpt} at step {step}")
    result = TrainResult(step, None, None, None)
    latent_cache = LatentCache() if t.cache_latents else None
    batches = iter(loader)
    try:
        with StopFlag() as stop:
            while step < t.max_steps:
                t0 = time.time()
                mean_loss, stats, grad_norm = _optimizer_step(run, accelerator, pipe, batches, cfg, generator, face_region,
                                                              latent_cache)
                step += 1
                _log_step(accelerator, logger, run, t, step, mean_loss, stats, grad_norm, t0)
                stop_now = _any_process(accelerator, stop.requested is not None)
                if step % t.checkpoint_every == 0 or step == t.max_steps or stop_now:
                    result.checkpoint = save_checkpoint(accelerator, out, step, {"seed": seed}, generator, run.ema,
                                                        keep=t.keep_checkpoints)
                if t.validate_every and step % t.validate_every == 0 and parts.val_dataset is not None:
                    _validate(accelerator, pipe, run.model, parts.val_dataset, transform, cfg, step, out, logger)
                if stop_now:
                    result.stopped_by = stop.requested or 15
                    logger.write(f"stopped at step {step}; checkpoint saved; continue with --resume")
                    break
    finally:
        if latent_cache is not None:
            logger.write(latent_cache.summary())
        logger.close()
    result.step = step
    if result.stopped_by is None:
        result.model_dir = _save_model(accelerator, pipe, run.model, run.ema, out, cfg.data)
    accelerator.wait_for_everyone()
    return result


def _open_run(cfg, accelerator, parts, resolved, registry, ckpt, out: Path, seed: int) -> TrainParts:
    """Check the output folder, seed and build the parts, check a resumed run's config and
    record this run's: everything before the first step that can fail on bad input."""
    from accelerate.utils import set_seed

    from actalker.utils.paths import check_writable_output

    check_writable_output(out, "train.output_dir", is_dir=True)  # before building the model and data
    set_seed(seed)  # same initial weights in every process
    if parts is None:
        from actalker.train.build import build_parts

        parts = build_parts(cfg, registry)
    if ckpt is not None:
        _check_resume_config(cfg, out)
    if accelerator.is_main_process:
        _save_config(cfg, resolved, out, resumed=ckpt is not None)
    return parts


def _checkpoint_to_resume(out: Path, resume: bool, accelerator):
    """The newest complete checkpoint with --resume (an incomplete newest one is skipped with
    one line); without it, an output_dir with checkpoints is an error."""
    if resume:
        say = (lambda line: print(line, flush=True)) if accelerator.is_main_process else (lambda line: None)
        return resume_checkpoint(out, log=say)
    if latest_checkpoint(out) is not None:
        raise ConfigError(f"train.output_dir {out} already has checkpoints; pass --resume or choose another output_dir")
    return None


def _prepare(pipe, t, accelerator) -> _Run:
    """Freeze what does not train, pick the trainable weights, optimizer, EMA; accelerate prepares."""
    denoiser = pipe.denoiser
    device = accelerator.device
    pipe.vae.requires_grad_(False).eval().to(device)
    if pipe.identity_encoder is not None and isinstance(pipe.identity_encoder, torch.nn.Module):
        pipe.identity_encoder.requires_grad_(False).eval().to(device)
    named = select_trainable(denoiser, t.trainable)
    if t.gradient_checkpointing:
        if not getattr(denoiser, "_supports_gradient_checkpointing", False):
            raise ConfigError(f"train.gradient_checkpointing: {type(denoiser).__name__} does not support it")
        denoiser.enable_gradient_checkpointing()
    denoiser.train()
    ema = EMA(named, t.ema_decay) if t.ema_decay is not None else None

    optimizer = make_optimizer([p for _, p in named], t, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_lambda(t.warmup_steps))
    if ema is not None and str(accelerator.distributed_type).endswith("FSDP"):
        raise ConfigError("train.ema_decay: EMA is not supported with FSDP (parameters are sharded); use DeepSpeed ZeRO-2 or DDP")
    _configure_deepspeed(accelerator, t)
    model, optimizer, scheduler = accelerator.prepare(denoiser, optimizer, scheduler)
    if ema is not None:
        for s in ema.shadow.values():
            s.data = s.data.to(device)
    return _Run(model, optimizer, scheduler, named, ema)


def make_optimizer(params: list, t, device) -> torch.optim.AdamW:
    """AdamW with ``train.lr`` and ``train.weight_decay``; the fused kernel on CPU and CUDA
    (one call for all tensors: on the demo model's 994 tensors it is 6x faster per step than
    the per-tensor loop torch picks by default on a CPU, 0.012 s against 0.071 s).

    Parameters flagged ``_no_weight_decay`` (Mamba's A_log and D, as mamba_ssm marks them)
    train without weight decay, in a second group; without flagged parameters there is one."""
    fused = device.type in ("cpu", "cuda") and all(p.is_floating_point() for p in params)
    exempt = [p for p in params if getattr(p, "_no_weight_decay", False)]
    decayed = [p for p in params if not getattr(p, "_no_weight_decay", False)]
    groups = [{"params": decayed}] + ([{"params": exempt, "weight_decay": 0.0}] if exempt else [])
    return torch.optim.AdamW(groups, lr=t.lr, weight_decay=t.weight_decay, fused=fused or None)


def _optimizer_step(run: _Run, accelerator, pipe, batches, cfg, generator, face_region, latent_cache=None):
    """One optimizer step over ``grad_accum`` micro-batches -> (mean loss, stats, grad norm)."""
    t = cfg.train
    losses, stats, grad_norm = [], {}, None
    for _ in range(t.grad_accum):
        batch = next(batches)
        with accelerator.accumulate(run.model):
            loss, stats = micro_batch_loss(run.model, pipe, batch, cfg, generator, accelerator.device, face_region,
                                           latent_cache)
            accelerator.backward(loss)
            grad_norm = None
            if accelerator.sync_gradients and t.grad_clip > 0:
                grad_norm = accelerator.clip_grad_norm_(run.model.parameters(), t.grad_clip)
            run.optimizer.step()
            if accelerator.sync_gradients:
                run.scheduler.step()
            run.optimizer.zero_grad(set_to_none=True)
        losses.append(loss.detach())
    if run.ema is not None:
        run.ema.update((n, p) for n, p in run.named)
    return torch.stack(losses).mean(), stats, grad_norm


def _log_step(accelerator, logger, run: _Run, t, step: int, mean_loss, stats: dict, grad_norm, t0: float) -> None:
    if step % t.log_every == 0 or step == t.max_steps:
        gathered = accelerator.gather(mean_loss[None]).mean().item()  # collective: every process calls it
        if not math.isfinite(gathered):
            raise FloatingPointError(f"loss is {gathered} at step {step}")
        record = {"loss": gathered, "lr": run.scheduler.get_last_lr()[0], "step_time": time.time() - t0, **stats}
        if grad_norm is not None:
            record["grad_norm"] = float(grad_norm)
        logger.log(step, record)
    logger.progress(step, float(mean_loss))


def _configure_deepspeed(accelerator, t) -> None:
    """DeepSpeed needs the micro batch size, which it usually reads from a prepared
    DataLoader; ours is not prepared (we shard data ourselves), so set it, and fill
    "auto" accumulation/clipping from the actalker config."""
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if plugin is None:
        return
    ds = plugin.deepspeed_config
    ds["train_micro_batch_size_per_gpu"] = t.batch_size
    for key, value in (("gradient_accumulation_steps", t.grad_accum), ("gradient_clipping", t.grad_clip)):
        if ds.get(key, "auto") == "auto":
            ds[key] = value
    if ds["gradient_accumulation_steps"] != t.grad_accum:
        raise ConfigError(f"the DeepSpeed config accumulates {ds['gradient_accumulation_steps']} micro-batches but "
                          f"train.grad_accum is {t.grad_accum}; set it to auto")


def _any_process(accelerator, flag: bool) -> bool:
    """A signal may reach only some processes; all must stop at the same step."""
    if accelerator.num_processes == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(t, reduction="sum").item() > 0)


def _check_resume_config(cfg, out: Path) -> None:
    """A checkpoint only fits the model it came from: compare the model sections."""
    import yaml

    saved_path = out / "config.yaml"
    if not saved_path.is_file():
        return
    saved = (yaml.safe_load(saved_path.read_text()) or {}).get("model")
    now = cfg.model_dump(mode="json")["model"]
    if saved is not None and saved != now:
        key = _first_difference(saved, now, "model")
        raise ConfigError(f"--resume: {key} differs from the run in {out} (see its config.yaml); "
                          f"a checkpoint only resumes the same model")


def _first_difference(a, b, path: str) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{path}.{k}")
    return path


def _save_config(cfg, resolved, out: Path, resumed: bool) -> None:
    from actalker.config import save_resolved_config

    path = out / ("config.yaml" if not resumed else "config.resumed.yaml")
    save_resolved_config(resolved if resolved is not None else cfg, path)


def _validate(accelerator, pipe, model, val_dataset, transform, cfg, step, out, logger) -> None:
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        from actalker.train.validate import validation_video

        live = accelerator.unwrap_model(model)
        try:
            path = validation_video(pipe.replace(denoiser=live), val_dataset, transform, cfg, step, out)
            logger.write(f"validation video: {path}")
        finally:
            live.train()
    accelerator.wait_for_everyone()


def _save_model(accelerator, pipe, model, ema, out: Path, data_cfg) -> Optional[Path]:
    """The pipeline folder, from the main process, with EMA weights if EMA is on, and the
    record of the training data (for generate's notices)."""
    accelerator.wait_for_everyone()
    target = out / "model"
    sharded = str(accelerator.distributed_type).endswith("FSDP")
    state = accelerator.get_state_dict(model) if sharded else None  # collective: gathers full weights
    if accelerator.is_main_process:
        denoiser = accelerator.unwrap_model(model)
        if sharded:  # FSDP rewrote the module in place: load the gathered weights into a fresh one
            denoiser = type(denoiser).from_config(denoiser.config)
            denoiser.load_state_dict(state)
        if ema is not None:
            ema.copy_to(denoiser)  # training is over: the live weights are no longer needed
        denoiser.eval()
        pipe.replace(denoiser=denoiser).save_pretrained(target)
        from actalker.train.data_record import training_data_record, write_training_data

        write_training_data(target, training_data_record(data_cfg))
    return target
