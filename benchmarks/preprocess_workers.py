"""Preprocessing speed-up from --workers: the same videos with 1 and with 2 (or --workers) worker
processes, the real MediaPipe tracker, wall-clock time and the ratio, plus the cost per
frame and per hour of 25 fps video. Also checks that both runs wrote identical clips.

    .venv/bin/python benchmarks/preprocess_workers.py                 # 8 videos of 100 frames
    .venv/bin/python benchmarks/preprocess_workers.py --videos 16 --frames 200 --workers 1 2 4

Inputs are cut from ../shared/media/driving_talk.mp4 (508x512, 25 fps) with audio from
../shared/media/speech_52s.mp3, written once to a temporary folder. The load average
before and after each run is printed: on a shared machine the ratio means little without it.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def make_inputs(folder: Path, videos: int, frames: int) -> int:
    """``videos`` clips of ``frames`` frames at different offsets, two per person; returns frames in all."""
    from actalker.media.audio import read_audio
    from actalker.media.video import read_video, write_video

    src, fps = read_video(SHARED / "media" / "driving_talk.mp4")
    speech = read_audio(SHARED / "media" / "speech_52s.mp3")
    for k in range(videos):
        start = (k * 17) % max(1, len(src) - frames)
        clip = src[start:start + frames]
        audio = speech[k * 8000:k * 8000 + int(len(clip) / fps * 16000)]
        write_video(folder / f"person{k // 2}" / f"v{k}.mp4", clip, fps, audio=audio)
    return sum(min(frames, len(src) - (k * 17) % max(1, len(src) - frames)) for k in range(videos))


def timed_run(inputs: Path, out: Path, workers: int) -> float:
    from actalker.data.preprocess import PreprocessOptions, preprocess

    t0 = time.perf_counter()
    r = preprocess(inputs, out, str(SHARED / "models" / "face_landmarker_v2_with_blendshapes.task"),
                   PreprocessOptions(size=256), progress=False, workers=workers)
    seconds = time.perf_counter() - t0
    if r["failed"] or r["skipped"]:
        raise SystemExit(f"benchmark inputs were not all processed: {r['skipped'] or r['failed']}")
    return seconds


def same_clips(a: Path, b: Path) -> bool:
    files = lambda d: {p.relative_to(d): p.read_bytes() for p in sorted((d / "clips").rglob("*")) if p.is_file()}
    return files(a) == files(b)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        total = make_inputs(tmp / "in", args.videos, args.frames)
        print(f"{args.videos} videos, {total} frames at 25 fps ({total / 25:.0f} s of video); cores {os.cpu_count()}")
        times = {}
        for w in args.workers:
            load0 = os.getloadavg()[0]
            times[w] = timed_run(tmp / "in", tmp / f"out{w}", w)
            per_frame = times[w] / total
            print(f"workers {w}: {times[w]:.1f} s, {per_frame * 1000:.1f} ms/frame, "
                  f"{per_frame * 25:.2f} h per hour of video; load avg {load0:.1f} -> {os.getloadavg()[0]:.1f}")
        first = args.workers[0]
        for w in args.workers[1:]:
            print(f"speed-up workers {w} vs {first}: {times[first] / times[w]:.2f}x; "
                  f"clips identical: {same_clips(tmp / f'out{first}', tmp / f'out{w}')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
