"""`actalker preprocess INPUT --out DATA`: real videos -> clip folders (see docs/data.md)."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("preprocess", help="Turn real talking videos into clips (face crop, landmarks, motion, 16 kHz audio).")
    p.add_argument("input", type=Path, help="A video file or a folder of videos (one sub-folder per person sets identities).")
    p.add_argument("--out", required=True, type=Path, help="Data folder to write (clips/, manifest.json, preprocess_report.json).")
    p.add_argument("--face-model", default=None, help="MediaPipe face_landmarker .task file (default: $ACTALKER_FACE_MODEL).")
    p.add_argument("--fps", type=float, default=25.0, help="Target frame rate.")
    p.add_argument("--size", type=int, default=256, help="Side of the square face crop in pixels.")
    p.add_argument("--min-frames", type=int, default=25, help="Skip videos shorter than this (at the target fps).")
    p.add_argument("--require-audio", action=argparse.BooleanOptionalAction, default=True,
                   help="Skip videos without an audio stream (default: on).")
    p.add_argument("--max-seconds", type=float, default=None, help="Use at most this many seconds of each video.")
    p.add_argument("--quiet", action="store_true", help="No progress bar.")
    p.set_defaults(func=run)


def run(args) -> int:
    from actalker.data.preprocess import REPORT, PreprocessOptions, nothing_written_error, preprocess
    from actalker.errors import InputError

    if args.fps <= 0 or args.size < 16 or args.min_frames < 1:
        raise InputError("preprocess: need --fps > 0, --size >= 16, --min-frames >= 1")
    opts = PreprocessOptions(fps=args.fps, size=args.size, min_frames=args.min_frames,
                             require_audio=args.require_audio, max_seconds=args.max_seconds)
    r = preprocess(args.input, args.out, args.face_model, opts, progress=not args.quiet)
    error = nothing_written_error(r, args.out / REPORT)
    if error is not None:  # exit 0 with 0 clips would read as success in a script
        raise error
    print(f"{len(r['written'])} written, {len(r['existing'])} already done, {len(r['skipped'])} skipped "
          f"(reasons in {args.out / REPORT})")
    return 0
