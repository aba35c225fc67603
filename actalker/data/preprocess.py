"""Real videos -> clip folders: decode, resample to the target fps, track the face, crop a
stable square around it, re-express landmarks in the crop, store frames as mp4 + 16 kHz audio.

Skips (written to ``preprocess_report.json`` with the reason): unreadable files (in a
folder run), too few frames, no audio when required, no face, several faces. Finished
clips are skipped on a re-run; each clip folder appears atomically, so an interrupted run
leaves no half-written clip.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from actalker.data.clip import SAMPLE_RATE, write_clip
from actalker.data.manifest import build_manifest
from actalker.errors import InputError
from actalker.utils.atomic import write_text_atomic

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts")
REPORT = "preprocess_report.json"
MIN_FACE_FRACTION = 0.5     # a face must be found in at least half the frames
MAX_MULTI_FACE_FRACTION = 0.2  # more than this share of frames with 2+ faces -> skipped


@dataclass
class PreprocessOptions:
    fps: float = 25.0
    size: int = 256
    min_frames: int = 25
    require_audio: bool = True
    margin: float = 1.8        # crop side = margin x the median face-box side
    max_seconds: float | None = None


def find_videos(input_path: Path) -> list[Path]:
    if input_path.is_file():
        return [input_path]
    if not input_path.is_dir():
        raise InputError(f"{input_path}: not found; expected a video file or a folder of videos")
    found = sorted(p for p in input_path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTS)
    if not found:
        raise InputError(f"{input_path}: no video files ({', '.join(VIDEO_EXTS)}) in this folder")
    return found


def clip_name(video: Path, base: Path) -> tuple[str, str]:
    """(clip id, identity): id from the file name plus a hash of its relative path; identity
    = the sub-folder holding it (one folder per person), else the file's stem."""
    rel = video.relative_to(base) if video != base else Path(video.name)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", video.stem)[:40] or "clip"
    cid = f"{stem}-{hashlib.sha1(rel.as_posix().encode()).hexdigest()[:6]}"
    identity = rel.parts[0] if len(rel.parts) > 1 else video.stem
    return cid, identity


def stable_crop(boxes_px: np.ndarray, width: int, height: int, margin: float) -> tuple[float, float, float]:
    """One square crop for the whole clip (no jitter): centred on the median face-box centre,
    side = margin x the median box side, shrunk and shifted to stay inside the frame."""
    centres = (boxes_px[:, :2] + boxes_px[:, 2:]) / 2
    cx, cy = np.median(centres, axis=0)
    side = float(min(margin * np.median(np.max(boxes_px[:, 2:] - boxes_px[:, :2], axis=1)), width, height))
    x0 = float(np.clip(cx - side / 2, 0, width - side))
    y0 = float(np.clip(cy - side / 2, 0, height - side))
    return x0, y0, side


def _crop_frames(frames: np.ndarray, x0: float, y0: float, side: float, size: int) -> np.ndarray:
    box = (x0, y0, x0 + side, y0 + side)
    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BICUBIC, box=box)) for f in frames])


def process_video(video: Path, base: Path, out: Path, tracker, opts: PreprocessOptions) -> tuple[str, str]:
    """Returns ("written" | "existing", clip id) or ("skipped", reason)."""
    from actalker.media.audio import read_audio
    from actalker.media.face import motion_features
    from actalker.media.video import read_video, resample_indices

    cid, identity = clip_name(video, base)
    target = out / "clips" / cid
    if (target / "meta.json").is_file():
        return "existing", cid
    max_frames = None
    if opts.max_seconds:
        from actalker.media.video import probe_video

        max_frames = int(np.ceil(opts.max_seconds * probe_video(video)["fps"])) + 1
    frames, src_fps = read_video(video, max_frames=max_frames)
    if len(frames) < 2:
        raise InputError(f"{video}: decoded a single frame; expected a video, not a still image")
    frames = frames[resample_indices(len(frames), src_fps, opts.fps)]
    n = len(frames)
    if n < opts.min_frames:
        return "skipped", f"too few frames: {n} at {opts.fps:g} fps, need at least {opts.min_frames}"
    try:
        audio = read_audio(video, sr=SAMPLE_RATE)
    except InputError as err:
        if "no audio stream" not in str(err):
            raise
        audio = None
    if audio is None and opts.require_audio:
        return "skipped", "no audio stream (use --no-require-audio to keep silent videos)"
    if audio is not None:
        length = int(round(n / opts.fps * SAMPLE_RATE))
        audio = np.pad(audio[:length], (0, max(0, length - len(audio))))
    track = tracker.track(frames, opts.fps)
    found = float(track.found.mean())
    if found < MIN_FACE_FRACTION:
        return "skipped", f"no face: found in {found:.0%} of frames, need {MIN_FACE_FRACTION:.0%}"
    multi = float((track.num_faces > 1).mean())
    if multi > MAX_MULTI_FACE_FRACTION:
        return "skipped", f"several faces: 2 or more in {multi:.0%} of frames"
    h, w = frames.shape[1:3]
    scale = np.array([w, h, w, h], np.float64)
    x0, y0, side = stable_crop(track.boxes[track.found] * scale, w, h, opts.margin)
    crop = _crop_frames(frames, x0, y0, side, opts.size)
    lms = track.landmarks.astype(np.float64).copy()
    lms[..., 0] = (lms[..., 0] * w - x0) / side
    lms[..., 1] = (lms[..., 1] * h - y0) / side
    lms[..., 2] = lms[..., 2] * w / side  # MediaPipe scales z like x (by the image width)
    boxes = (track.boxes * scale - np.array([x0, y0, x0, y0])) / side
    write_clip(target, clip_id=cid, identity=identity, fps=opts.fps, frames=crop, landmarks=lms,
               boxes=np.clip(boxes, 0, 1), motion=motion_features(track), audio=audio, frames_format="mp4",
               extra={"source": {"kind": "real", "file": str(video), "src_fps": src_fps,
                                 "crop_xy_side_px": [x0, y0, side], "face_found_fraction": found}})
    return "written", cid


def preprocess(input_path: str | Path, out: str | Path, face_model: str | None = None,
               opts: PreprocessOptions | None = None, progress: bool = True) -> dict:
    """Process a video file or a folder of videos into ``out``; returns the report."""
    from tqdm import tqdm

    from actalker.media.face import FaceTracker

    from actalker.utils.paths import check_writable_output

    opts = opts or PreprocessOptions()
    input_path, out = Path(input_path).expanduser(), Path(out).expanduser()
    videos = find_videos(input_path)
    check_writable_output(out, "output folder", is_dir=True)  # before minutes of decoding and tracking
    tracker = FaceTracker(face_model)  # a missing model file fails here, before any work
    base = input_path if input_path.is_dir() else input_path.parent
    report = {"input": str(input_path), "options": asdict(opts), "written": [], "existing": [], "skipped": []}
    try:
        for video in tqdm(videos, desc="preprocess", unit="video", disable=not progress):
            try:
                status, what = process_video(video, base, out, tracker, opts)
            except InputError as err:
                if input_path.is_file():
                    raise
                status, what = "skipped", str(err)
            if status == "skipped":
                report["skipped"].append({"file": str(video), "reason": what})
                tqdm.write(f"skipped {video}: {what}")
            else:
                report[status].append(what)
    finally:
        if report["written"] or report["existing"] or report["skipped"]:
            out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(out / REPORT, json.dumps(report, indent=1))
            build_manifest(out)
    return report


def nothing_written_error(report: dict, report_path: Path) -> InputError | None:
    """The error for a run that wrote no clip and found none already done, else None."""
    if report["written"] or report["existing"]:
        return None
    skipped = report["skipped"]
    if len(skipped) == 1 and Path(report["input"]).is_file():
        return InputError(f"preprocess wrote no clip from {skipped[0]['file']}: {skipped[0]['reason']}")
    return InputError(f"preprocess wrote no clip: all {len(skipped)} videos in {report['input']} were skipped "
                      f"(reasons in {report_path})")
