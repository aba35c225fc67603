"""A training checkpoint as a model folder, to evaluate a step before training ends.

    python -m actalker.train.snapshot RUN_DIR OUT [--step N]

Training writes ``OUTPUT_DIR/model`` only when it finishes. To measure an intermediate step
(the steps-against-control trade-off in docs/results.md) this builds the run's pipeline from
the config the run saved, loads the checkpoint's weights, puts the EMA average over the
weights it tracks (as the finished run does) and writes the folder the pipeline loads,
training-data record included. Single-file checkpoints only (one process, DDP); DeepSpeed
and FSDP shard theirs (merge them with their own tools first).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

from actalker.errors import InputError


def pick_checkpoint(run_dir: Path, step: Optional[int]) -> Path:
    """RUN_DIR's checkpoint at ``step`` (the newest when None), checked whole."""
    from actalker.train.checkpoint import checkpoint_problem, list_checkpoints

    found = list_checkpoints(run_dir)
    if not found:
        raise InputError(f"{run_dir}: no checkpoints (expected {run_dir}/checkpoints/step-NNNNNNNN)")
    if step is None:
        path = found[-1]
    else:
        matches = [p for p in found if p.name == f"step-{step:08d}"]
        if not matches:
            have = ", ".join(str(int(p.name[5:])) for p in found)
            raise InputError(f"{run_dir}: no checkpoint at step {step} (have {have})")
        path = matches[0]
    why = checkpoint_problem(path)
    if why is not None:
        raise InputError(f"checkpoint {path} cannot be loaded: {why}")
    return path


def checkpoint_weights(path: Path) -> dict:
    """The denoiser's weights at that checkpoint: the live ones, EMA-averaged where tracked."""
    from safetensors.torch import load_file

    live = path / "model.safetensors"
    if not live.is_file():
        raise InputError(f"checkpoint {path}: no model.safetensors (sharded DeepSpeed/FSDP checkpoints are not read here)")
    state = load_file(str(live))
    ema = path / "ema.safetensors"
    if ema.is_file():
        prefix = "shadow."
        state.update({k[len(prefix):]: v for k, v in load_file(str(ema)).items() if k.startswith(prefix)})
    return state


def snapshot(run_dir: str | Path, out: str | Path, step: Optional[int] = None, registry=None) -> Path:
    """Write RUN_DIR's checkpoint (``step``, default the newest) as a model folder at ``out``."""
    from actalker.config import validate_branches
    from actalker.core.model_folder import read_config
    from actalker.plugins import load_registry
    from actalker.train.build import build_pipeline
    from actalker.train.data_record import training_data_record, write_training_data

    run_dir = Path(run_dir)
    config = run_dir / "config.yaml"
    if not config.is_file():
        raise InputError(f"{run_dir}: no config.yaml (expected a training output_dir)")
    path = pick_checkpoint(run_dir, step)
    registry = registry or load_registry()
    cfg = validate_branches(read_config(run_dir), registry)  # the run's resolved config, as saved
    if not cfg.model.vae.pretrained_path and not cfg.model.unet.pretrained_path:
        # A checkpoint holds the denoiser only; a VAE built from constructor kwargs is random.
        raise InputError(f"{config}: model.vae has no pretrained_path, so the frozen VAE this run trained with "
                         "cannot be rebuilt from a checkpoint (only the finished run's model folder has it)")
    pipe = build_pipeline(cfg, registry)
    state = checkpoint_weights(path)
    result = pipe.denoiser.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        first = (result.missing_keys or result.unexpected_keys)[0]
        raise InputError(f"checkpoint {path} does not fit the model of {config}: "
                         f"{'missing' if result.missing_keys else 'unexpected'} tensor {first}")
    pipe.denoiser.eval()
    target = pipe.save_pretrained(out)
    write_training_data(target, training_data_record(cfg.data))
    return target


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m actalker.train.snapshot", description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", help="a training output_dir (holds config.yaml and checkpoints/)")
    p.add_argument("out", help="model folder to write (replaced atomically)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: the newest)")
    args = p.parse_args(argv)
    from actalker.cli import run_reporting_errors

    return run_reporting_errors(lambda: print(f"wrote {snapshot(args.run_dir, args.out, args.step)}"))


if __name__ == "__main__":
    raise SystemExit(main())
