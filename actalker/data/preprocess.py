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

from actalker.core.framing import FACE_MARGIN, face_square, points_in_square
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
    margin: float = FACE_MARGIN  # crop side = margin x the median face-box side (actalker.core.framing)
    max_seconds: float | None = None
    layout: str = "folder"     # how the data set names identities (actalker.data.layouts)


def find_videos(input_path: Path) -> list[Path]:
    if input_path.is_file():
        return [input_path]
    if not input_path.is_dir():
        raise InputError(f"{input_path}: not found; expected a video file or a folder of videos")
    found = sorted(p for p in input_path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTS)
    if not found:
        raise InputError(f"{input_path}: no video files ({', '.join(VIDEO_EXTS)}) in this folder")
    return found


def clip_id(video: Path, base: Path) -> str:
    """The file name plus a hash of its path relative to the input folder."""
    rel = video.relative_to(base) if video != base else Path(video.name)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", video.stem)[:40] or "clip"
    return f"{stem}-{hashlib.sha1(rel.as_posix().encode()).hexdigest()[:6]}"


def clip_name(video: Path, base: Path, layout: str = "folder") -> tuple[str, str]:
    """(clip id, identity): the identity by the data set's layout (actalker.data.layouts;
    default: the sub-folder holding the video, one folder per person, else its stem)."""
    from actalker.data.layouts import identity_of

    rel = video.relative_to(base) if video != base else Path(video.name)
    return clip_id(video, base), identity_of(rel, layout)


def stable_crop(boxes_px: np.ndarray, width: int, height: int, margin: float) -> tuple[float, float, float]:
    """One square crop for the whole clip (no jitter); the rule is actalker.core.framing's
    ``face_square``, which ``generate`` applies to a portrait too."""
    return face_square(boxes_px, width, height, margin)


def _crop_frames(frames: np.ndarray, x0: float, y0: float, side: float, size: int) -> np.ndarray:
    box = (x0, y0, x0 + side, y0 + side)
    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BICUBIC, box=box)) for f in frames])


def process_video(video: Path, base: Path, out: Path, tracker, opts: PreprocessOptions) -> tuple[str, str]:
    """Returns ("written" | "existing", clip id) or ("skipped", reason)."""
    from actalker.media.audio import read_audio
    from actalker.media.face import motion_features
    from actalker.media.video import read_video, resample_indices

    cid = clip_id(video, base)
    target = out / "clips" / cid
    if (target / "meta.json").is_file():
        return "existing", cid
    identity = clip_name(video, base, opts.layout)[1]
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
    lms, boxes = points_in_square(track.landmarks, track.boxes, (x0, y0, side), w, h)
    write_clip(target, clip_id=cid, identity=identity, fps=opts.fps, frames=crop, landmarks=lms,
               boxes=np.clip(boxes, 0, 1), motion=motion_features(track), audio=audio, frames_format="mp4",
               extra={"source": {"kind": "real", "file": str(video), "src_fps": src_fps,
                                 "crop_xy_side_px": [x0, y0, side], "face_found_fraction": found}})
    return "written", cid


def preprocess(input_path: str | Path, out: str | Path, face_model: str | None = None,
               opts: PreprocessOptions | None = None, progress: bool = True, workers: int = 1,
               shard: tuple[int, int] | None = None, tracker=None) -> dict:
    """Process a video file or a folder of videos into ``out``; returns the report.

    ``workers`` > 1 runs videos in that many processes (same clips as one worker);
    ``shard`` (i, n) processes only shard i of n (actalker.data.shard); ``tracker``
    replaces the MediaPipe tracker (tests)."""
    from actalker.data.shard import shard_label, shard_videos
    from actalker.media.face import FaceTracker
    from actalker.utils.paths import check_writable_output

    opts = opts or PreprocessOptions()
    input_path, out = Path(input_path).expanduser(), Path(out).expanduser()
    base = input_path if input_path.is_dir() else input_path.parent
    every = find_videos(input_path)
    videos = shard_videos(every, base, shard)
    check_writable_output(out, "output folder", is_dir=True)  # before minutes of decoding and tracking
    tracker = tracker or FaceTracker(face_model)  # a missing model file fails here, before any work
    report = {"input": str(input_path), "options": asdict(opts), "shard": shard_label(shard),
              "videos": len(videos), "input_videos": len(every)}
    results: dict[int, tuple[str, str, str]] = {}
    try:
        _run(videos, base, out, tracker, opts, workers, input_path.is_file(), progress, results)
    finally:
        report.update(_outcome(videos, results))
        if results:
            out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(out / report_name(shard), json.dumps(report, indent=1))
            build_manifest(out)
    return report


def report_name(shard: tuple[int, int] | None = None) -> str:
    """preprocess_report.json, or preprocess_report.shard-I-of-N.json for a shard (shards may
    share one output folder)."""
    return REPORT if shard is None else f"preprocess_report.shard-{shard[0]}-of-{shard[1]}.json"


def _run(videos, base, out, tracker, opts, workers, single, progress, results) -> None:
    """Fill ``results`` (index -> (status, what, detail)); one progress bar over videos."""
    from tqdm import tqdm

    from actalker.data.workers import run_videos

    todo = [k for k, v in enumerate(videos) if not (out / "clips" / clip_id(v, base) / "meta.json").is_file()]
    for k in sorted(set(range(len(videos))) - set(todo)):
        results[k] = ("existing", clip_id(videos[k], base), "")
    with tqdm(total=len(videos), initial=len(results), desc="preprocess", unit="video", disable=not progress) as bar:
        for j, status, what, detail in run_videos([videos[k] for k in todo], base, out, tracker, opts, workers, single):
            results[todo[j]] = (status, what, detail)
            if status in ("skipped", "failed") and not single:  # a single file's reason is the one error line
                tqdm.write(f"{status} {videos[todo[j]]}: {what}")
            bar.update(1)


def _outcome(videos: list[Path], results: dict) -> dict:
    """The report's lists, in video order whatever order the workers finished in."""
    out = {"written": [], "existing": [], "skipped": [], "failed": []}
    for k in sorted(results):
        status, what, detail = results[k]
        if status == "skipped":
            out["skipped"].append({"file": str(videos[k]), "reason": what})
        elif status == "failed":
            out["failed"].append({"file": str(videos[k]), "error": what, "traceback": detail})
        else:
            out[status].append(what)
    return out


def nothing_written_error(report: dict, report_path: Path) -> InputError | None:
    """The error for a run that wrote no clip and found none already done, else None (also
    for a shard that was given no video: more shards than videos is not a mistake)."""
    if report["written"] or report["existing"] or (report.get("shard") and not report.get("videos")):
        return None
    skipped, failed = report["skipped"], report.get("failed", [])
    if len(skipped) == 1 and not failed and Path(report["input"]).is_file():
        return InputError(f"preprocess wrote no clip from {skipped[0]['file']}: {skipped[0]['reason']}")
    if failed:
        return InputError(f"preprocess wrote no clip: of the videos in {report['input']}, {len(skipped)} were "
                          f"skipped and {len(failed)} failed (reasons in {report_path})")
    return InputError(f"preprocess wrote no clip: all {len(skipped)} videos in {report['input']} were skipped "
                      f"(reasons in {report_path})")
