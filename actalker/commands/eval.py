"""`actalker eval`: control metrics that need no pretrained weights.

    actalker eval estimator --data DATA [--clips N] [--split all] [--out report.json]
        how well the pixel openness estimator reads rendered clips with ground truth
    actalker eval control --model DIR --data DATA [--clips 20] [--split test]
                          [--gates "audio=1,text=1;audio=1,text=0;audio=0,text=1"]
                          [--steps N] [--frames N] --out results.json
        generate each clip at each gate setting, measure mouth and eyes, and report
        following (r with the own signal) and leakage (|r| with the other signals) for
        every branch of the model (what each modality drives: ModalitySpec.drives), mean
        and 95% bootstrap CI over clips; a Markdown table, JSON and a plot (OUT.png). The
        table's last two rows score the clips' own frames, as rendered (the ruler's ceiling)
        and through the model's VAE (the ceiling of each following metric for any denoiser
        with that VAE); --no-reference skips them, --reference-only gives only them
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from actalker.errors import InputError

DEFAULT_GATES = "every branch open, then each branch alone (audio=1,motion=1;audio=1,motion=0;audio=0,motion=1 for the demo model)"


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="control metrics: does each signal steer its own region, and only it",
                              description=__doc__.split("\n\n", 1)[0], epilog=__doc__.split("\n\n", 1)[1],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="eval_command", metavar="WHAT", required=True)
    e = sub.add_parser("estimator", help="validate the openness estimator on rendered clips with ground truth")
    e.add_argument("--data", required=True, type=Path, help="data folder (actalker synth)")
    e.add_argument("--clips", type=int, default=None, help="at most this many clips (default: all)")
    e.add_argument("--split", default="all", help="train, val, test or all (default)")
    e.add_argument("--min-std", type=float, default=0.05, help="per-clip r only over clips whose truth std is at least this")
    e.add_argument("--vae", type=Path, default=None,
                   help="read the frames after this VAE (a model folder or its vae/ folder): the most a model could show")
    e.add_argument("--decode-chunk", type=int, default=None,
                   help="with --vae: frames kept per decode call (default: the model folder's sampling config)")
    e.add_argument("--decode-overlap", type=int, default=None,
                   help="with --vae: context frames on each side of a chunk (default: as --decode-chunk)")
    e.add_argument("--out", type=Path, default=None, help="write the report as JSON here")
    e.set_defaults(func=run_estimator)
    c = sub.add_parser("control", help="generate held-out clips per gate setting and score following and leakage")
    c.add_argument("--model", required=True, type=Path, help="model folder")
    c.add_argument("--data", required=True, type=Path, help="data folder with held-out clips (actalker synth)")
    c.add_argument("--clips", type=int, default=20, help="number of clips (default 20)")
    c.add_argument("--split", default="test", help="which split's clips (default test: unseen identities)")
    c.add_argument("--gates", default=None, help=f"gate settings, ';'-separated (default: {DEFAULT_GATES})")
    c.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    c.add_argument("--frames", type=int, default=None, help="frames per clip (default: the whole clip)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    c.add_argument("--out", required=True, type=Path, help="results JSON; the plot goes to the same name .png")
    c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override the model's sampling.* or guidance.* (repeatable), as actalker generate --set")
    ref = c.add_mutually_exclusive_group()
    ref.add_argument("--no-reference", action="store_true",
                     help="skip the reference rows (the clips' own frames as rendered and through the model's VAE, scored the same way)")
    ref.add_argument("--reference-only", action="store_true",
                     help="only the reference rows: the ceiling of each following metric for the ruler and for this VAE, no generation")
    c.set_defaults(func=run_control)
    from actalker.eval.video_cli import add_video_subcommand  # `eval video`: PSNR, SSIM, LMD, FID, ...

    add_video_subcommand(sub)


def _clips(data: Path, split: str, limit):
    from actalker.data.clip import Clip
    from actalker.data.manifest import load_manifest, split_clips

    if limit is not None and limit < 1:
        raise InputError(f"--clips must be >= 1, got {limit}")
    entries = split_clips(load_manifest(data), split)[:limit]
    if not entries:
        raise InputError(f"{data}: no clips in split '{split}'")
    return [Clip.read(data / e["path"]) for e in entries]


def _write_json(path: Path, obj) -> None:
    from actalker.utils.atomic import write_text_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(obj, indent=1) + "\n")


def run_estimator(args) -> int:
    from actalker.eval.validate import estimator_report, vae_roundtrip

    clips = _clips(args.data, args.split, args.clips)
    transform = None
    if args.vae is not None:
        chunk, overlap = _decode_settings(args.vae)
        chunk = chunk if args.decode_chunk is None else args.decode_chunk
        overlap = overlap if args.decode_overlap is None else args.decode_overlap
        transform = vae_roundtrip(_load_vae(args.vae), chunk, overlap)
    rep = estimator_report(clips, min_std=args.min_std, transform=transform)
    if args.vae is not None:
        rep["vae"] = str(args.vae)
    through = f", frames through the VAE {args.vae}" if args.vae is not None else ""
    print(f"openness estimator on {len(rep['clips'])} clips ({rep['landmarks']}{through})")
    print("| part | pooled within-clip r | per-clip r mean | per-clip r min | clips (truth std >= "
          f"{args.min_std:g}) |\n|---|---|---|---|---|")
    for part, s in rep["summary"].items():
        print(f"| {part} | {s['pooled_r']:.3f} | {s['clip_r_mean']:.3f} | {s['clip_r_min']:.3f} | {s['clips_used']} |")
    if args.out:
        _write_json(args.out, rep)
        print(f"wrote {args.out}")
    return 0


def _decode_settings(path: Path) -> tuple[int, int]:
    """decode_chunk and decode_overlap of a model folder's config, else the schema defaults."""
    from actalker.core.schema import SamplingConfig

    sampling = {}
    if (path / "config.yaml").is_file():
        from omegaconf import OmegaConf

        sampling = OmegaConf.to_container(OmegaConf.load(path / "config.yaml")).get("sampling") or {}
    s = SamplingConfig.model_validate({k: sampling[k] for k in ("decode_chunk", "decode_overlap") if k in sampling})
    return s.decode_chunk, s.decode_overlap


def _load_vae(path: Path):
    from diffusers import AutoencoderKLTemporalDecoder

    folder = path / "vae" if (path / "vae" / "config.json").is_file() else path
    if not (folder / "config.json").is_file():
        raise InputError(f"--vae {path}: no VAE there (expected a model folder with vae/config.json, or a VAE folder)")
    return AutoencoderKLTemporalDecoder.from_pretrained(folder).float().eval()


def run_control(args) -> int:
    from actalker.commands.generate import apply_overrides
    from actalker.core.generation_settings import resolve_settings
    from actalker.core.pipeline import ACTalkerPipeline
    from actalker.eval.plots import plot_tracks
    from actalker.eval.runner import (default_gate_text, evaluate_control, evaluate_references, markdown_table,
                                      parse_gate_settings, plot_panels, saved_tracks)
    from actalker.eval.validate import estimator_report

    if args.out.suffix.lower() != ".json":
        raise InputError(f"--out {args.out}: expected a .json file name")
    for name in ("steps", "frames"):
        v = getattr(args, name)
        if v is not None and v < 3:
            raise InputError(f"--{name} must be >= 3, got {v}")
    clips = _clips(args.data, args.split, args.clips)
    pipe = apply_overrides(ACTalkerPipeline.from_pretrained(args.model, device=args.device), args.set)
    pipe.progress = False
    settings = parse_gate_settings(args.gates or default_gate_text(pipe.branch_names), pipe.branch_names)
    result = {"settings": []} if args.reference_only else evaluate_control(pipe, clips, settings, args.frames,
                                                                          args.steps, args.seed)
    if not args.no_reference:  # the ruler alone, then with the model's VAE
        result.update(evaluate_references(pipe, clips, args.frames))
    table = markdown_table(result)
    print(table)
    est = None
    if all({"mouth_open", "eye_open"} <= set(c.truth) for c in clips):
        est = estimator_report(clips)["summary"]  # the ruler's own accuracy on these clips
    panels = [p for s in result["settings"] for p in plot_panels(s)]
    plot = plot_tracks(args.out.with_suffix(".png"), panels, clips[0].fps, title=f"clip {clips[0].id}") if panels else None
    for s in result["settings"]:
        s["tracks"] = [saved_tracks(t) for t in s.pop("tracks")]
    _write_json(args.out, {"model": str(args.model), "data": str(args.data), "split": args.split,
                           "clips": [c.id for c in clips], "steps": resolve_settings(pipe.config, args.steps).steps, "frames": args.frames, "seed": args.seed,
                           "set": list(args.set), "guidance": pipe.config.guidance.model_dump(mode="json"),
                           "estimator": est, "table": table, **result})
    print(f"wrote {args.out}" + (f" and {plot}" if plot else ""))
    return 0
