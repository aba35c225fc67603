"""`actalker train-vae --config C --out DIR [key=value ...]`: the VAE stage of a from-scratch model.

Trains SVD's VAE class (AutoencoderKLTemporalDecoder) built from ``model.vae.config`` on the
config's clip frames (``data.root``) and saves it to DIR/vae, the folder to give the
denoiser stage as ``model.vae.pretrained_path=DIR`` (see actalker/train/vae.py).
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train-vae", help="pre-train a small temporal VAE on clip frames (models without a pretrained VAE)",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", "-c", default=None, help="config name (configs/NAME.yaml) or path")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (dotted keys)")
    p.add_argument("--out", required=True, help="output folder; the VAE goes to OUT/vae")
    p.add_argument("--steps", type=int, default=2000, help="at most this many optimizer steps")
    p.add_argument("--minutes", type=float, default=None, help="stop after this much wall time")
    p.add_argument("--batch-size", type=int, default=6, help="windows per step")
    p.add_argument("--frames", type=int, default=4, help="frames per window (the temporal decoder sees them together)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--kl-weight", type=float, default=1e-5)
    p.add_argument("--region-weight", type=float, default=4.0, help="extra loss weight inside the mouth and eyes")
    p.add_argument("--init", default=None, help="start from this saved VAE folder (OUT/vae of an earlier stage)")
    p.add_argument("--decoder-only", action="store_true",
                   help="train only the decoder: latents and scaling factor stay as in --init")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from actalker.config import load_config
    from actalker.plugins import load_registry
    from actalker.train.vae import train_vae

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.decoder_only and not args.init:
        from actalker.errors import InputError

        raise InputError("--decoder-only needs --init (the VAE whose encoder to keep)")
    cfg, _ = load_config(args.config, args.overrides, registry=load_registry())
    train_vae(cfg, args.out, steps=args.steps, minutes=args.minutes, batch_size=args.batch_size,
              num_frames=args.frames, lr=args.lr, kl_weight=args.kl_weight, region_weight=args.region_weight,
              progress=not args.no_progress, init=args.init, decoder_only=args.decoder_only)
    return 0
