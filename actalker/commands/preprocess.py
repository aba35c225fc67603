"""`actalker preprocess INPUT --out DATA`: real videos -> clip folders (see docs/data.md).

`--workers N` runs N videos at a time (same clips as one worker); `--shard i/n` takes
shard i of n (for n machines or an array job); `actalker preprocess --merge SHARD_DIR ...
--out DATA` combines shard outputs into one data folder with identity-disjoint splits.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("preprocess", help="Turn real talking videos into clips (face crop, landmarks, motion, 16 kHz audio).")
    p.add_argument("input", type=Path, nargs="?", help="A video file or a folder of videos (one sub-folder per person sets identities).")
    p.add_argument("--out", required=True, type=Path, help="Data folder to write (clips/, manifest.json, preprocess_report.json).")
    p.add_argument("--face-model", default=None, help="MediaPipe face_landmarker .task file (default: $ACTALKER_FACE_MODEL).")
    p.add_argument("--fps", type=float, default=25.0, help="Target frame rate.")
    p.add_argument("--size", type=int, default=256, help="Side of the square face crop in pixels.")
    p.add_argument("--min-frames", type=int, default=25, help="Skip videos shorter than this (at the target fps).")
    p.add_argument("--require-audio", action=argparse.BooleanOptionalAction, default=True,
                   help="Skip videos without an audio stream (default: on).")
    p.add_argument("--max-seconds", type=float, default=None, help="Use at most this many seconds of each video.")
    p.add_argument("--layout", default="folder", choices=["folder", "hdtf", "celebvhq", "vfhq"],
                   help="How the data set names identities (docs/datasets.md); default: one sub-folder per person.")
    p.add_argument("--workers", type=int, default=None,
                   help="Videos processed at once, each in its own process (default: the cores this process may use).")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="Process only shard I of N (0-based; videos by sorted path, every N-th from I).")
    p.add_argument("--merge", nargs="+", type=Path, default=None, metavar="SHARD_DIR",
                   help="Merge these shard outputs into --out (no INPUT): clips, reports and one manifest.")
    p.add_argument("--quiet", action="store_true", help="No progress bar.")
    g = p.add_argument_group("shards as an array job (submitit; see docs/cluster.md)")
    g.add_argument("--launcher", default="local", help="local (default: here) or slurm / submitit-local with --shards")
    g.add_argument("--shards", type=int, default=None, help="Submit N tasks, task i running --shard i/N into --out.")
    g.add_argument("--partition", default=None, help="Slurm partition.")
    g.add_argument("--cpus-per-shard", type=int, default=8, help="CPUs of each task (its --workers).")
    g.add_argument("--time-min", type=int, default=24 * 60, help="Time limit of each task in minutes.")
    g.add_argument("--account", default=None, help="Slurm account.")
    g.add_argument("--slurm-arg", nargs="+", default=[], metavar="KEY=VALUE", help="More sbatch options.")
    g.add_argument("--dry-run", action="store_true", help="Print the array job's sbatch parameters; submit nothing.")
    g.add_argument("--wait", action="store_true", help="Wait for the tasks, then merge the shards in --out.")
    p.set_defaults(func=run)


def run(args) -> int:
    from actalker.errors import InputError

    if args.merge is not None:
        if args.input is not None:
            raise InputError("preprocess --merge takes shard folders, not an INPUT: drop one of them")
        return merge(args)
    if args.input is None:
        raise InputError("preprocess: give a video file or a folder of videos (or --merge SHARD_DIR ...)")
    if args.fps <= 0 or args.size < 16 or args.min_frames < 1:
        raise InputError("preprocess: need --fps > 0, --size >= 16, --min-frames >= 1")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"preprocess: --workers {args.workers}: need at least 1")
    if args.launcher != "local" or args.shards is not None or args.dry_run or args.wait:
        return launch(args)
    return process(args)


def process(args) -> int:
    from actalker.data.preprocess import PreprocessOptions, nothing_written_error, preprocess, report_name
    from actalker.data.shard import parse_shard
    from actalker.data.workers import default_workers

    shard = parse_shard(args.shard)
    opts = PreprocessOptions(fps=args.fps, size=args.size, min_frames=args.min_frames,
                             require_audio=args.require_audio, max_seconds=args.max_seconds, layout=args.layout)
    r = preprocess(args.input, args.out, args.face_model, opts, progress=not args.quiet,
                   workers=args.workers or default_workers(), shard=shard)
    report = args.out / report_name(shard)
    error = nothing_written_error(r, report)
    if error is not None:  # exit 0 with 0 clips would read as success in a script
        raise error
    failed = f", {len(r['failed'])} failed" if r["failed"] else ""
    where = f"shard {r['shard']}: " if r["shard"] else ""
    print(f"{where}{len(r['written'])} written, {len(r['existing'])} already done, {len(r['skipped'])} skipped"
          f"{failed} (reasons in {report})")
    return 1 if r["failed"] else 0


def merge(args) -> int:
    from actalker.data.merge import merge_shards
    from actalker.data.preprocess import REPORT

    m = merge_shards(args.merge, args.out)
    clips = sum(1 for _ in (args.out / "clips").glob("*/meta.json"))
    print(f"merged {len(m['merged_from'])} shard reports: {clips} clips in {args.out} ({m['brought']} brought in), "
          f"{len(m['skipped'])} skipped, {len(m['failed'])} failed (report in {args.out / REPORT})")
    if m["missing_shards"]:
        print(f"warning: no report from shard(s) {', '.join(m['missing_shards'])}: their videos are not in {args.out}")
    if m["conflicts"]:
        print(f"warning: {len(m['conflicts'])} clip(s) differ between shards, the first kept: {', '.join(m['conflicts'][:5])}")
    return 1 if m["missing_shards"] or m["conflicts"] else 0


def launch(args) -> int:
    from actalker.data.launch import ShardJob, shard_sbatch_script, submit_shards
    from actalker.data.preprocess import PreprocessOptions
    from actalker.errors import InputError
    from actalker.sweep.launch import LaunchOptions, require_submitit

    if args.launcher == "local" or not args.shards or args.shards < 1 or args.shard:
        raise InputError("preprocess: --shards N (N >= 1) goes with --launcher slurm or submitit-local, without --shard")
    opts = LaunchOptions(launcher=args.launcher, partition=args.partition, cpus_per_run=args.cpus_per_shard,
                         time_min=args.time_min, account=args.account, slurm_args=list(args.slurm_arg))
    opts.check()
    require_submitit()
    if args.dry_run:
        print(shard_sbatch_script(opts, args.shards, args.out) if args.launcher == "slurm" else
              f"{args.shards} local jobs, task i running: preprocess {args.input} --out {args.out} --shard i/{args.shards}")
        return 0
    pre = PreprocessOptions(fps=args.fps, size=args.size, min_frames=args.min_frames,
                            require_audio=args.require_audio, max_seconds=args.max_seconds, layout=args.layout)
    job = ShardJob(str(args.input.resolve()), str(args.out.resolve()), args.face_model, pre, args.shards, args.workers)
    jobs = submit_shards(job, opts)
    print(f"submitted {len(jobs)} shard tasks ({jobs[0].job_id} ...); when they end: "
          f"actalker preprocess --merge {args.out} --out {args.out}")
    if not args.wait:
        return 0
    for j in jobs:
        j.wait()
    args.merge, args.input = [args.out], None
    return merge(args)
