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


def stage_costs(video: Path, out: Path) -> dict[str, float]:
    """Seconds per source frame of each preprocessing step, on one video, in this process."""
    import numpy as np

    from actalker.data.clip import write_clip
    from actalker.data.preprocess import _crop_frames, stable_crop
    from actalker.media.audio import read_audio
    from actalker.media.face import FaceTracker, motion_features
    from actalker.media.video import read_video

    t = [time.perf_counter()]
    frames, fps = read_video(video)
    t.append(time.perf_counter())
    audio = read_audio(video, sr=16000)
    t.append(time.perf_counter())
    track = FaceTracker(SHARED / "models" / "face_landmarker_v2_with_blendshapes.task").track(frames, fps)
    t.append(time.perf_counter())
    h, w = frames.shape[1:3]
    x0, y0, side = stable_crop(track.boxes * np.array([w, h, w, h]), w, h, 1.8)
    crop = _crop_frames(frames, x0, y0, side, 256)
    t.append(time.perf_counter())
    write_clip(out / "clip", clip_id="c", identity="i", fps=fps, frames=crop, landmarks=track.landmarks,
               boxes=np.clip(track.boxes, 0, 1), motion=motion_features(track), audio=audio[: int(len(frames) / fps * 16000)],
               frames_format="mp4")
    t.append(time.perf_counter())
    names = ("decode video", "decode audio", "face tracking", "crop + resize", "write clip (mp4 encode)")
    return {n: (b - a) / len(frames) for n, a, b in zip(names, t, t[1:])}


def same_clips(a: Path, b: Path) -> bool:
    files = lambda d: {p.relative_to(d): p.read_bytes() for p in sorted((d / "clips").rglob("*")) if p.is_file()}
    return files(a) == files(b)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--stages", action="store_true", help="also time each step on one video, in one process")
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
        if args.stages:
            costs = stage_costs(next((tmp / "in").rglob("*.mp4")), tmp / "stages")
            for name, sec in costs.items():
                print(f"  {name:<26} {sec * 1000:6.1f} ms/frame = {sec * 25:.2f} h per hour of 25 fps video")
            print(f"  {'all steps':<26} {sum(costs.values()) * 1000:6.1f} ms/frame; load avg {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
