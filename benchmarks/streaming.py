"""Streaming vs non-streaming generation on the embedded demo model, in one run.

    .venv/bin/python benchmarks/streaming.py [--frames 50] [--steps N] [--threads 1] [--out FILE.json]

Both paths get the same inputs and seed, at the model's default settings unless told, and
both end in an mp4 (the encoder is part of the path). For each path:

- first frame: seconds from the start of denoising (after the inputs, reference and
  noise are prepared) until the first frames reach the encoder; also from the call;
- sustained fps: frames after the first chunk / seconds from the first chunk to the last
  (streaming); the non-streaming path hands over every frame at once, so its figure is
  all frames / seconds from the start of denoising to the end;
- a profile: seconds in the denoiser's guided window predictions, the VAE decoder, the
  encoder, and the rest; the denoiser calls and frames per call.

Prints the load average, the process's nice value and torch's threads with the table.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch


def _timed(obj, name: str, acc: dict, key: str, marks: dict | None = None):
    """Wrap ``obj.name`` so its seconds add up in ``acc[key]`` (the first start in
    ``marks[key]`` when given); returns the undo."""
    original = getattr(obj, name)

    def wrapper(*a, **k):
        t = time.perf_counter()
        if marks is not None:
            marks.setdefault(key, t)
        acc[key + "_calls"] += 1
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


def run_stream(pipe, image, cond, kw, steps, out: Path, marks: dict) -> dict:
    from actalker.media.video import write_video_stream

    arrivals = []

    def on_progress(stage, done, total):
        if stage == "prepare" and done == total:
            marks["denoise"] = time.perf_counter()

    def chunks():
        for c in pipe.stream(image, cond, num_inference_steps=steps, seed=0, progress=on_progress, **kw):
            arrivals.append((time.perf_counter(), len(c.frames)))
            yield c.frames

    write_video_stream(out, chunks(), kw["fps"])
    end = time.perf_counter()
    first_t, last_t = arrivals[0][0], arrivals[-1][0]
    later = sum(n for _, n in arrivals[1:])
    return {"first_frame_at": first_t, "first_frame_from_call_s": first_t - marks["start"],
            "sustained_fps": later / (last_t - first_t) if last_t > first_t else float("nan"),
            "total_s": end - marks["start"], "encoder_s": end - last_t, "frames": sum(n for _, n in arrivals),
            "chunks": len(arrivals)}


def run_full(pipe, image, cond, kw, steps, out: Path, marks: dict) -> dict:
    from actalker.media.video import write_video

    frames = pipe(image, cond, num_inference_steps=steps, seed=0, progress=False, **kw)
    first_t = time.perf_counter()
    write_video(out, frames, kw["fps"])
    end = time.perf_counter()
    return {"first_frame_at": first_t, "first_frame_from_call_s": first_t - marks["start"],
            "sustained_fps": len(frames) / (end - marks["denoise_loop_s"]), "total_s": end - marks["start"],
            "encoder_s": end - first_t, "frames": len(frames), "chunks": 1}


def profiled(fn, pipe, *args) -> dict:
    """Run ``fn`` with the denoiser, decoder and encoder timed; -> its figures and the split."""
    import actalker.core.pipeline as pl
    import actalker.core.streaming as streaming

    acc, marks = defaultdict(float), {"start": time.perf_counter()}
    cpu0 = time.process_time()
    undo = [_timed(pipe, "predict_window", acc, "denoiser_s"), _timed(streaming, "decode_latents", acc, "decoder_s"),
            _timed(pl, "decode_latents", acc, "decoder_s"), _timed(pipe, "denoise", acc, "denoise_loop_s", marks)]
    try:
        out = fn(pipe, *args, marks)
    finally:
        for u in reversed(undo):
            u()
    if "denoise" not in marks:  # the non-streaming path: denoising starts with pipe.denoise
        marks["denoise"] = marks["denoise_loop_s"]
    out["cpu_s"] = round(time.process_time() - cpu0, 2)  # this process's CPU seconds: the wall time on an idle core
    out["first_frame_s"] = out.pop("first_frame_at") - marks["denoise"]
    for key in ("denoiser_s", "decoder_s"):
        out[key] = round(acc[key], 2)
    out["denoiser_calls"] = int(acc["denoiser_s_calls"])
    out["other_s"] = round(out["total_s"] - acc["denoiser_s"] - acc["decoder_s"] - out["encoder_s"], 2)
    return out


def _table(rows: dict) -> str:
    lines = ["| path | first frame after denoising starts (s) | from the call (s) | sustained fps | total (s) | "
             "denoiser (s, calls) | VAE decoder (s) | encoder (s) | other (s) | CPU (s) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['first_frame_s']:.1f} | {r['first_frame_from_call_s']:.1f} | {r['sustained_fps']:.2f} | "
                     f"{r['total_s']:.1f} | {r['denoiser_s']:.1f} ({r['denoiser_calls']}) | {r['decoder_s']:.1f} | "
                     f"{r['encoder_s']:.1f} | {r['other_s']:.1f} | {r['cpu_s']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--steps", type=int, default=None, help="default: the model's sampling.steps")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--out", default=None, help="also write the figures as json here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from actalker.demo.model import load_demo_pipeline

    pipe = load_demo_pipeline()
    pipe.progress = False
    steps = args.steps or int(pipe.config.sampling.steps)
    image, cond, kw = _inputs(pipe, args.frames)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        rows = {"streaming": profiled(run_stream, pipe, image, cond, kw, steps, Path(tmp) / "s.mp4"),
                "non-streaming": profiled(run_full, pipe, image, cond, kw, steps, Path(tmp) / "f.mp4")}
    s = pipe.config.sampling
    meta = {"frames": args.frames, "steps": steps, "window": int(s.window), "size": f"{s.height}x{s.width}",
            "threads": torch.get_num_threads(), "nice": os.nice(0), "load_average_before": load_before,
            "load_average_after": os.getloadavg(), "cpus": os.cpu_count(), "torch": torch.__version__}
    print(f"demo model, {args.frames} frames {meta['size']}, {steps} steps, window {meta['window']}, "
          f"{meta['threads']} torch thread(s), nice {meta['nice']}, {meta['cpus']} CPUs, load average "
          f"{load_before[0]:.1f} before / {meta['load_average_after'][0]:.1f} after")
    print(_table(rows))
    if args.out:
        from actalker.utils.atomic import write_text_atomic

        write_text_atomic(args.out, json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
