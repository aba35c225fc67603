"""`actalker synth --out DATA --clips N`: write a synthetic world of talking faces."""
from __future__ import annotations

from pathlib import Path

from actalker.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser("synth", help="Generate synthetic talking-face clips with known ground truth.")
    p.add_argument("--out", required=True, type=Path, help="Data folder to write (clips/ and manifest.json).")
    p.add_argument("--clips", required=True, type=int, help="Number of clips.")
    p.add_argument("--seed", type=int, default=0, help="World seed (same seed, same clips).")
    p.add_argument("--frames", type=int, default=50, help="Frames per clip.")
    p.add_argument("--size", type=int, default=64, help="Frame side in pixels.")
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--clips-per-identity", type=int, default=1, help="Clips sharing one identity.")
    p.add_argument("--speech", choices=("auto", "espeak", "syllables"), default="auto",
                   help="Speech source: espeak-ng when installed (auto), or the synthetic syllable signal.")
    p.add_argument("--prompts", action="store_true",
                   help="Also write prompts.json per clip: text spans describing brows and eyes (the text plugin's input).")
    p.add_argument("--contact-sheet", type=Path, default=None, help="Also write a PNG of a few clips with region masks.")
    p.add_argument("--quiet", action="store_true", help="No progress bar.")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from actalker.data.manifest import build_manifest
    from actalker.data.synth.signals import espeak_available
    from actalker.data.synth.world import write_synthetic_clip

    if args.clips < 1 or args.frames < 2 or args.size < 16 or args.fps <= 0 or args.clips_per_identity < 1:
        raise InputError("synth: need --clips >= 1, --frames >= 2, --size >= 16, --fps > 0, --clips-per-identity >= 1")
    if args.speech == "espeak" and not espeak_available():
        raise InputError("synth --speech espeak: espeak-ng is not installed (apt-get install espeak-ng), or use --speech auto")
    from actalker.utils.paths import check_writable_output

    check_writable_output(args.out, "output folder", is_dir=True)
    if args.contact_sheet:
        check_writable_output(args.contact_sheet, "contact sheet")
    paths = []
    for i in tqdm(range(args.clips), desc="synth", unit="clip", disable=args.quiet):
        clip = write_synthetic_clip(args.out, args.seed, i, num_frames=args.frames, size=args.size, fps=args.fps,
                                    clips_per_identity=args.clips_per_identity, speech_source=args.speech,
                                    prompts=args.prompts)
        paths.append(clip.path)
    m = build_manifest(args.out)
    print(f"wrote {args.clips} clips to {args.out} ({', '.join(f'{s}: {len(v)} identities' for s, v in m['splits'].items())})")
    if args.contact_sheet:
        from actalker.data.synth.contact_sheet import contact_sheet

        contact_sheet(paths[:4], args.contact_sheet)
        print(f"contact sheet: {args.contact_sheet}")
    return 0
