"""`actalker train --config C [key=value ...] [--resume]`: train a model (see docs/training.md).

Runs the same way in one process or under `accelerate launch` on many GPUs. The exit
status is 0 when training finished (the model is in <output_dir>/model), and 128 + the
signal number when SIGINT/SIGTERM stopped it after saving a checkpoint (continue with
--resume), so `actalker train ... && actalker generate ...` never uses a half-trained model.
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a model (one CPU process to many GPUs with accelerate)",
        description="Train a model from a config. Extra KEY=VALUE arguments override config keys, "
        "e.g. train.max_steps=100 data.root=DATA. Checkpoints go to <train.output_dir>/checkpoints, "
        "the finished model to <train.output_dir>/model.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--config", "-c", default=None, help="config name (configs/NAME.yaml) or path; default: base")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (dotted keys)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in train.output_dir")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to log.jsonl)")
    p.set_defaults(func=run)


def run(args) -> int:
    from actalker.config import load_config
    from actalker.plugins import load_registry
    from actalker.train.loop import train

    registry = load_registry()
    cfg, resolved = load_config(args.config, args.overrides, registry=registry)
    result = train(cfg, resume=args.resume, resolved=resolved, progress=not args.no_progress, registry=registry)
    if result.stopped_by is not None:
        return 128 + int(result.stopped_by)
    return 0
