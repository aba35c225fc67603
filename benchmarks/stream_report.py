"""Streaming vs non-streaming generation on the embedded demo model, in one run.

    .venv/bin/python benchmarks/stream_report.py [--frames 50] [--steps N] [--threads 2] [--out FILE.json]

Streaming: time to the first frames (from the call and from the start of denoising),
sustained frames per second after them (frames after the first chunk / time from the first
to the last chunk) and the total. Non-streaming: every frame arrives at the end, so its
first frame comes at the total. A profile splits each path's time into the denoiser
(guided window predictions), the VAE decoder and the rest. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict

import numpy as np
import torch


def _timed(obj, name: str, acc: dict, key: str):
    """Wrap ``obj.name`` so its seconds add up in ``acc[key]``; returns the undo."""
    original = getattr(obj, name)

    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            acc[key] += time.perf_counter() - t

    setattr(obj, name, wrapper)
    return lambda: setattr(obj, name, original)


def _inputs(pipe, frames: int):
    from actalker.demo.run import conditions_for, make_inputs

    s = pipe.config.sampling
    inp = make_inputs(num_frames=frames, size=int(s.height), fps=float(s.fps))
    f = inp["face"]
    return (np.asarray(f["frames"][0]), conditions_for(pipe, inp),
            dict(landmarks=np.asarray(f["landmarks"][:1], np.float32), boxes=np.asarray(f["boxes"][:1], np.float32),
                 num_frames=frames, fps=float(s.fps)))


def run_stream(pipe, image, cond, kw, steps) -> dict:
    marks = {"start": time.perf_counter()}
    chunks = []

    def on_progress(stage, done, total):
        if stage == "prepare" and done == total:
            marks["denoise"] = time.perf_counter()

    for c in pipe.stream(image, cond, num_inference_steps=steps, seed=0, progress=on_progress, **kw):
        chunks.append((time.perf_counter(), len(c.frames)))
    first_t, end = chunks[0][0], chunks[-1][0]
    later = sum(n for _, n in chunks[1:])
    return {"first_frames_s": first_t - marks["start"], "first_after_denoise_start_s": first_t - marks["denoise"],
            "sustained_fps": later / (end - first_t) if end > first_t else float("nan"),
            "total_s": end - marks["start"], "frames": sum(n for _, n in chunks), "chunks": len(chunks)}


def run_full(pipe, image, cond, kw, steps) -> dict:
    t = time.perf_counter()
    frames = pipe(image, cond, num_inference_steps=steps, seed=0, progress=False, **kw)
    total = time.perf_counter() - t
    return {"first_frames_s": total, "first_after_denoise_start_s": float("nan"), "sustained_fps": len(frames) / total,
            "total_s": total, "frames": len(frames), "chunks": 1}


def profiled(fn, pipe, *args) -> dict:
    import actalker.core.sampling as sampling
    import actalker.core.streaming as streaming

    acc = defaultdict(float)
    undo = [_timed(pipe, "predict_window", acc, "denoiser_s"), _timed(sampling, "decode_latents", acc, "decoder_s"),
            _timed(streaming, "decode_latents", acc, "decoder_s")]
    import actalker.core.pipeline as pl
    undo.append(_timed(pl, "decode_latents", acc, "decoder_s"))
    try:
        out = fn(pipe, *args)
    finally:
        for u in undo:
            u()
    out.update({k: round(v, 2) for k, v in acc.items()})
    out["other_s"] = round(out["total_s"] - acc["denoiser_s"] - acc["decoder_s"], 2)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--steps", type=int, default=None, help="default: the model's sampling.steps")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from actalker.demo.model import load_demo_pipeline

    pipe = load_demo_pipeline()
    pipe.progress = False
    steps = args.steps or int(pipe.config.sampling.steps)
    image, cond, kw = _inputs(pipe, args.frames)
    rows = {"streaming": profiled(run_stream, pipe, image, cond, kw, steps),
            "non-streaming": profiled(run_full, pipe, image, cond, kw, steps)}
    meta = {"frames": args.frames, "steps": steps, "window": int(pipe.config.sampling.window),
            "threads": torch.get_num_threads(), "load_average": os.getloadavg(), "torch": torch.__version__}
    print(f"demo model, {args.frames} frames, {steps} steps, window {meta['window']}, {meta['threads']} threads, "
          f"load average {meta['load_average'][0]:.1f}")
    print("| path | first frames (s) | after denoising starts (s) | sustained fps | total (s) | denoiser (s) | decoder (s) | other (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['first_frames_s']:.1f} | {r['first_after_denoise_start_s']:.1f} | {r['sustained_fps']:.2f} | "
              f"{r['total_s']:.1f} | {r['denoiser_s']:.1f} | {r['decoder_s']:.1f} | {r['other_s']:.1f} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
