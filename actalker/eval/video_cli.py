"""`actalker eval video`: field-standard metrics of a generated video.

    actalker eval video --generated G.mp4 [--reference GT.mp4] [--driving D.mp4] [--audio A]
        [--image PORTRAIT] [--face-model P] [--arcface P] [--syncnet P] [--inception P]
        [--i3d P] [--only NAME ...] --out results.json

PSNR and SSIM need --reference (self-reenactment); LMD a face model and --reference or
--driving; identity (ArcFace cosine), Sync-C/Sync-D (SyncNet), FID (Inception) and FVD (I3D)
need their network as a local TorchScript file (see actalker/eval/feature_metrics.py).
A metric whose input is missing is reported as "not computed" with the option to give.
``actalker/commands/eval.py`` adds this with ``add_video_subcommand(sub)``.
"""
from __future__ import annotations

import os
from pathlib import Path

from actalker.errors import InputError


def add_video_subcommand(eval_subparsers) -> None:
    v = eval_subparsers.add_parser("video", help="PSNR, SSIM, LMD, identity, Sync-C/D, FID, FVD of a generated video",
                                   description=__doc__.split("\n\n")[0])
    v.add_argument("--generated", required=True, type=Path, help="generated video")
    v.add_argument("--reference", type=Path, default=None, help="ground-truth video (self-reenactment)")
    v.add_argument("--driving", type=Path, default=None, help="driving video (LMD against it when no --reference)")
    v.add_argument("--audio", type=Path, default=None, help="driving audio (a sound file or a video with sound)")
    v.add_argument("--image", type=Path, default=None, help="reference portrait (identity); default: --reference frame 0")
    v.add_argument("--face-model", default=None, help="MediaPipe face_landmarker task file (default: $ACTALKER_FACE_MODEL)")
    for flag, what in (("arcface", "ArcFace"), ("syncnet", "SyncNet"), ("inception", "Inception (FID)"), ("i3d", "I3D (FVD)")):
        v.add_argument(f"--{flag}", default=None, metavar="PATH", help=f"{what} network, a TorchScript file")
    v.add_argument("--only", nargs="+", default=None, metavar="NAME", help="compute only these metrics")
    v.add_argument("--out", required=True, type=Path, help="results JSON")
    v.set_defaults(func=run_video)


def run_video(args) -> int:
    import numpy as np

    from actalker.eval.registry import load_metric_registry
    from actalker.eval.report import markdown_table, run_metrics, write_report
    from actalker.eval.video_inputs import VideoInputs
    from actalker.media.audio import read_audio
    from actalker.media.video import read_video, resample_frames

    if args.out.suffix.lower() != ".json":
        raise InputError(f"--out {args.out}: expected a .json file name")
    registry = load_metric_registry()
    for name in args.only or []:
        if name not in registry.metrics:
            raise InputError(f"--only {name}: unknown metric; known: {', '.join(registry.metrics)}")
    gen, fps = read_video(args.generated)

    def other(path):  # at the generated video's frame rate
        if path is None:
            return None
        frames, f = read_video(path)
        return resample_frames(frames, f, fps)

    image = None
    if args.image is not None:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(args.image) as im:
                image = np.asarray(im.convert("RGB"))
        except (OSError, UnidentifiedImageError) as err:
            raise InputError(f"--image {args.image}: not a readable image ({type(err).__name__})") from None
    face_model = args.face_model or os.environ.get("ACTALKER_FACE_MODEL")
    inputs = VideoInputs(gen, fps, reference=other(args.reference), driving=other(args.driving),
                         audio=None if args.audio is None else read_audio(args.audio), reference_image=image,
                         weights={k: getattr(args, k) for k in ("arcface", "syncnet", "inception", "i3d") if getattr(args, k)},
                         face_model=face_model)
    results = run_metrics(registry, inputs, args.only)
    print(markdown_table(results))
    meta = {"generated": str(args.generated), "reference": str(args.reference) if args.reference else None,
            "driving": str(args.driving) if args.driving else None, "audio": str(args.audio) if args.audio else None,
            "fps": fps, "frames": int(len(gen))}
    write_report(args.out, results, meta)
    print(f"wrote {args.out}")
    return 1 if any(r["status"] == "failed" for r in results.values()) else 0
