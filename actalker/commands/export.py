"""`actalker export MODEL OUT [--format svd|unet]`: a trained model back to diffusers.

``--format unet`` writes the backbone as a ``UNetSpatioTemporalConditionModel`` folder;
``--format svd`` (default) the whole model as a ``StableVideoDiffusionPipeline`` folder for
backbone-only use (needs the clip identity). See ``actalker.core.export``.
"""
from __future__ import annotations

import argparse

DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="write a trained model's backbone as diffusers folders (UNet or SVD pipeline)",
        description="Export a model folder to diffusers: --format svd writes a StableVideoDiffusionPipeline "
        "folder (backbone, VAE, SVD's image encoder with the identity projection folded in, scheduler); "
        "--format unet the backbone alone. The control branches stay in the actalker model.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("model", help="actalker model folder (actalker train writes OUTPUT_DIR/model)")
    p.add_argument("out", help="folder to write (replaced atomically)")
    p.add_argument("--format", choices=("svd", "unet"), default="svd", help="what to write")
    p.add_argument("--variant", default=None, help="weights file variant, e.g. fp16 (diffusion_pytorch_model.fp16.safetensors)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default=None, help="cast the written weights (default: as trained)")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from actalker.core.export import export_svd, export_unet
    from actalker.core.pipeline import ACTalkerPipeline
    from actalker.utils.paths import check_writable_output

    check_writable_output(args.out, "export folder", is_dir=True)
    pipe = ACTalkerPipeline.from_pretrained(args.model, dtype=torch.float32)
    dtype = getattr(torch, DTYPES[args.dtype]) if args.dtype else None
    out = (export_svd if args.format == "svd" else export_unet)(pipe, args.out, variant=args.variant, dtype=dtype)
    print(f"wrote {out} ({'StableVideoDiffusionPipeline' if args.format == 'svd' else 'UNetSpatioTemporalConditionModel'})")
    return 0
