"""`actalker demo`: the main job on the embedded default model (what `make demo` runs).

Generates, from a held-out synthetic identity, its speech and an independent motion track,
an mp4 with the speech (both gates open) and a side-by-side strip (both gates open | audio
only | motion only) as mp4 and PNG. See actalker/demo/run.py.
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="Generate a talking-head video with the embedded default model.",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", default="outputs/demo", help="output folder")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's sampling.steps)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")
    parser.add_argument("--frames", type=int, default=None, help="frames to generate (default 50 = 2 s at 25 fps)")
    parser.add_argument("--model", default=None, help="model folder (default: the embedded actalker/assets/demo_model)")
    parser.add_argument("--allow-untrained", action="store_true",
                        help="if no trained model exists, run with random weights instead of refusing (shows nothing)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from actalker.demo.run import DEMO_FRAMES, run_demo

    result = run_demo(out=args.out, steps=args.steps, seed=args.seed, model_dir=args.model,
                      allow_untrained=args.allow_untrained, num_frames=args.frames or DEMO_FRAMES)
    kind = "" if result["trained"] else "  (UNTRAINED WEIGHTS: not a result)"
    print(f"demo done in {result['seconds']:.1f} s{kind}")
    for key, label in (("video", "video (both gates, with audio)"), ("strip_video", "strip video"),
                       ("strip_png", "strip image"), ("control_plot", "control plot"),
                       ("effect_png", "region effect map"), ("info", "settings")):
        print(f"  {label:32s} {result['files'][key]}")
    return 0
