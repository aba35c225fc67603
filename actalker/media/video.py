"""Video files: read to uint8 frames, resample the frame rate, write H.264 (+ AAC audio).

Decoding and encoding use the ffmpeg binary shipped with imageio-ffmpeg, always through an
argument list (never a shell string), so any path is safe.
"""
from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from actalker.errors import InputError, OutputError, ShapeError
from actalker.utils.atomic import atomic_path
from actalker.utils.paths import tagged

# ffmpeg's own words for a file that ends early or cannot be decoded.
_TRUNCATED_MARKS = ("partial file", "moov atom not found")
# ffmpeg's words for a fault of the output (the line worth showing among its messages).
_WRITE_FAULT_MARKS = {"No space left": errno.ENOSPC, "Permission denied": errno.EACCES,
                      "Read-only file system": errno.EROFS, "Disk quota": errno.EDQUOT}
_DECODE_ERROR_MARKS = ("Invalid data found", "Decoding error", "error while decoding")


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def check_file(path: str | os.PathLike, what: str) -> Path:
    """Return ``path`` as a Path, or raise InputError if it is not an existing file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{what} not found: {p}")
    if not p.is_file():
        raise InputError(f"{what} is not a file: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"{what} is empty (0 bytes): {p}")
    if not os.access(p, os.R_OK):
        raise InputError(f"{what} is not readable (permission denied): {p}")
    return p


def _is_still_image(path: Path) -> bool:
    """True for a single-frame image file (PNG, JPEG...); animated GIFs count as video."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return getattr(im, "n_frames", 1) == 1
    except Exception:  # not an image PIL knows: let ffmpeg decide
        return False


def _probe(path: Path) -> dict:
    """Container/stream metadata (fps, size after rotation, duration) from imageio-ffmpeg."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path))
    try:
        return next(gen)
    except (OSError, RuntimeError, StopIteration) as err:
        streams = [line for line in str(err).splitlines() if "Stream #" in line]
        if streams and not any("Video:" in line for line in streams):
            raise InputError(f"{path} has no video stream (audio only?), expected a video file") from None
        raise InputError(f"cannot read video {path}: not a video file ffmpeg can decode (corrupt or unsupported)") from None
    finally:
        gen.close()


def probe_video(path: str | os.PathLike) -> dict:
    """Check a video file without decoding it: ``{"fps", "width", "height", "duration"}``.

    Raises InputError for a missing, empty or undecodable file, a still image or audio only.
    """
    p = check_file(path, "video file")
    if _is_still_image(p):
        raise InputError(f"{p} is a still image, expected a video file (e.g. .mp4)")
    meta = _probe(p)
    fps = float(meta.get("fps") or 0.0)
    w, h = (int(v) for v in meta["size"])
    if fps <= 0 or w <= 0 or h <= 0:
        raise InputError(f"cannot read video {p}: no video stream with a frame rate and size")
    if meta.get("duration", 1) == 0 and str(meta.get("codec", "")).rstrip(",") in ("png", "mjpeg", "bmp", "tiff", "webp"):
        raise InputError(f"{p} is a still image, expected a video file (e.g. .mp4)")
    return {"fps": fps, "width": w, "height": h, "duration": float(meta.get("duration") or 0.0)}


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Decode a video file to ``(frames uint8 (F, H, W, 3), fps)``.

    ``max_frames`` stops decoding early. Raises InputError for a missing, empty, corrupt or
    truncated file, a still image, or a video with no frames.
    """
    info = probe_video(path)
    p = Path(path).expanduser()
    fps, w, h = info["fps"], info["width"], info["height"]

    cmd = [_ffmpeg(), "-nostdin", "-v", "error", "-i", str(p), "-map", "0:v:0"]
    if max_frames is not None:
        cmd += ["-frames:v", str(int(max_frames))]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    frame_bytes = w * h * 3
    frames: list[np.ndarray] = []
    # stderr to a temp file: a pipe could fill up and stall ffmpeg while we read stdout
    with tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file)
        try:
            while max_frames is None or len(frames) < max_frames:
                buf = proc.stdout.read(frame_bytes)
                if len(buf) < frame_bytes:
                    break
                frames.append(np.frombuffer(buf, np.uint8).reshape(h, w, 3))
        finally:
            proc.stdout.close()
            rc = proc.wait()
        err_file.seek(0)
        err = err_file.read().decode("utf-8", "replace")

    n = len(frames)
    expected = info["duration"] * fps
    short = max_frames is None or n < max_frames
    if any(m in err for m in _TRUNCATED_MARKS) or (
        short and any(m in err for m in _DECODE_ERROR_MARKS) and n < 0.95 * expected - 1
    ):
        raise InputError(f"video {p} is truncated or corrupt: decoded {n} of about {round(expected)} frames")
    if n == 0:
        why = err.strip().splitlines()[-1] if err.strip() else f"ffmpeg exit status {rc}"
        raise InputError(f"video {p} has no decodable frames ({why})")
    return np.stack(frames), fps


def resample_indices(num_frames: int, src_fps: float, dst_fps: float) -> np.ndarray:
    """Source frame index for each output frame at ``dst_fps`` (nearest in time).

    Output frame j is shown at j / dst_fps; it takes the source frame shown closest to that
    time. The output covers the same duration: floor(num_frames * dst / src) frames.
    """
    if src_fps <= 0 or dst_fps <= 0:
        raise ShapeError(f"frame rates must be positive, got src_fps={src_fps}, dst_fps={dst_fps}")
    n_out = max(1, int(np.floor(num_frames * dst_fps / src_fps + 1e-6))) if num_frames else 0
    idx = np.floor(np.arange(n_out) * src_fps / dst_fps + 0.5 + 1e-9).astype(np.int64)
    return np.clip(idx, 0, max(num_frames - 1, 0))


def resample_frames(frames: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Change the frame rate by nearest-time frame selection (no blending)."""
    if abs(src_fps - dst_fps) < 1e-6:
        return frames
    return frames[resample_indices(len(frames), src_fps, dst_fps)]


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | None = None,
    sr: int = 16000,
) -> Path:
    """Write uint8 frames (F, H, W, 3) as H.264 yuv420p MP4, atomically.

    ``audio`` (float mono at ``sr``) is muxed as AAC and cut to the video's duration.
    Odd widths/heights are padded by one edge row/column (yuv420p needs even sizes).
    If ffmpeg fails (e.g. a full disk at the trailer), an OutputError names the file and
    ffmpeg's reason, and the old file (or nothing) stays in place.
    """
    frames = np.asarray(frames)
    return write_video_stream(path, [frames], fps, audio, sr, num_frames=len(frames) if frames.ndim == 4 else None)


def write_video_stream(path: str | os.PathLike, chunks: Iterable[np.ndarray], fps: float,
                       audio: np.ndarray | None = None, sr: int = 16000, num_frames: int | None = None) -> Path:
    """``write_video`` for frames that arrive in chunks (uint8 (n, H, W, 3) each, all one size).

    Every chunk goes to the encoder as it comes, so the file is done right after the last
    one. ``num_frames`` (the total, when known) cuts the audio; without it ffmpeg ends the
    audio with the video (-shortest). Atomic like ``write_video``: on any failure, including
    an exception or KeyboardInterrupt raised while the chunks are produced, ffmpeg is
    stopped and nothing is left at ``path`` but what was there before.
    """
    from actalker.media.audio import write_wav

    it = iter(chunks)
    first = _check_chunk(next(it, np.zeros((0,), np.uint8)))
    if fps <= 0:
        raise ShapeError(f"write_video expects fps > 0, got {fps}")
    out = Path(path)
    with atomic_path(out) as tmp, tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        audio_path = None
        if audio is not None:
            audio = np.asarray(audio, np.float32).reshape(-1)
            audio = audio[: int(round(num_frames / fps * sr))] if num_frames else audio
            if len(audio):
                audio_path = str(Path(scratch) / "audio.wav")
                write_wav(audio_path, audio, sr)
        shortest = audio_path is not None and not num_frames
        cmd = _encode_command(tmp, first.shape[2], first.shape[1], fps, audio_path, shortest)
        _encode(cmd, _frames(first, it), out)
    return out


def _check_chunk(frames: np.ndarray, size: tuple[int, ...] | None = None) -> np.ndarray:
    """One chunk as uint8 (n, H, W, 3), padded to even sizes; ``size``: the first chunk's (H, W, 3)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ShapeError(f"write_video expects uint8 frames (F, H, W, 3) with F > 0, got {frames.dtype} {frames.shape}")
    h, w = frames.shape[1:3]
    if h % 2 or w % 2:
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    if size is not None and frames.shape[1:] != size:
        raise ShapeError(f"write_video_stream expects every chunk of size {size[:2]} like the first, got {frames.shape[1:3]}")
    return frames


def _frames(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """The frames of ``first`` then of each checked chunk of ``rest``, as they come."""
    chunk = first
    while chunk is not None:
        yield from chunk
        nxt = next(rest, None)
        chunk = None if nxt is None else _check_chunk(nxt, first.shape[1:])


def _encode_command(tmp: Path, width: int, height: int, fps: float, audio_path: str | None,
                    shortest: bool = False) -> list[str]:
    rate = str(Fraction(fps).limit_denominator(1001))
    cmd = [_ffmpeg(), "-nostdin", "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{width}x{height}", "-r", rate, "-i", "-"]
    if audio_path:
        cmd += ["-i", audio_path, "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac"]
        cmd += ["-shortest"] if shortest else []
    return cmd + ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-movflags", "+faststart", str(tmp)]


def _frame_bytes(frame: np.ndarray) -> bytes:
    return np.ascontiguousarray(frame).tobytes()


def _encode(cmd: list[str], frames: Iterable[np.ndarray], out: Path) -> None:
    """Pipe raw frames into ffmpeg; its exit status and output file decide success.

    The one place that runs the encoder. An exception while the frames are produced
    (a failing generator, KeyboardInterrupt) stops ffmpeg and propagates.
    """
    # stderr to a temp file: a pipe could fill up and stall ffmpeg while we write stdin
    with tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err_file)
        broken = False
        try:
            for frame in frames:
                proc.stdin.write(_frame_bytes(frame))
        except BrokenPipeError:  # ffmpeg quit early; its exit status and stderr say why
            broken = True
        except BaseException:
            proc.kill()
            raise
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                broken = True
            rc = proc.wait()
        err_file.seek(0)
        err = err_file.read().decode("utf-8", "replace").strip()
    tmp = Path(cmd[-1])
    if rc != 0 or broken or not tmp.is_file() or tmp.stat().st_size == 0:
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        causes = [line for line in lines if any(m in line for m in _WRITE_FAULT_MARKS)]
        why = (causes or lines or [f"ffmpeg exit status {rc}"])[-1]
        code = next((c for m, c in _WRITE_FAULT_MARKS.items() if m in why), None)
        raise tagged(OutputError(f"could not write video {out}: ffmpeg failed ({why})"), code)
