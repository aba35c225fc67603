"""One stored clip: a folder with frames, audio, landmarks, boxes, motion and ground truth.

Layout (see docs/data.md for the full specification):
    meta.json       id, identity, fps, num_frames, height, width, frames_file, audio_file, ...
    frames.npy      uint8 (F, H, W, 3)  -- lossless (synthetic clips), memory-mapped
    frames.mp4      H.264 (F frames)    -- lossy but compact (real clips)
    audio.wav       16 kHz mono 16-bit PCM, optional
    landmarks.npy   float32 (F, 478, 3) normalised image coordinates
    boxes.npy       float32 (F, 4)      normalised xyxy face box
    motion.npy      float32 (F, 58)     the `motion` modality's layout
    truth.npz       float32 (F,) per name, optional (synthetic ground truth)
"""
from __future__ import annotations

import json
import wave
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from actalker.errors import InputError
from actalker.utils.atomic import atomic_dir

FORMAT = "actalker-clip"
VERSION = 1


def read_format_json(path: Path, fmt: str, version: int, expected: str) -> dict:
    """A JSON file carrying ``format``/``version`` keys (clip meta, data manifest), or an
    InputError naming the file; ``expected`` says what a missing file should have been."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: missing; expected {expected}") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    if data.get("format") != fmt or data.get("version") != version:
        raise InputError(f"{path}: expected format '{fmt}' version {version}")
    return data
SAMPLE_RATE = 16000
NUM_LANDMARKS = 478
MOTION_DIM = 58
FRAME_FILES = ("frames.npy", "frames.mp4")


def write_wav(path: Path, audio: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    pcm = (np.clip(np.asarray(audio, np.float32), -1, 1) * 32767).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    try:
        with wave.open(str(path)) as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise InputError(f"{path}: expected mono 16-bit PCM WAV")
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            return data.astype(np.float32) / 32767.0, w.getframerate()
    except (wave.Error, EOFError) as err:
        raise InputError(f"{path}: unreadable WAV ({err})") from None


@dataclass
class Clip:
    """A clip folder opened for reading; arrays are loaded lazily (memory-mapped)."""

    path: Path
    meta: dict = field(repr=False)
    start: float = 0.0  # seconds: a whole stored clip starts at 0 (training windows do not)

    @classmethod
    def read(cls, path: str | Path) -> "Clip":
        path = Path(path)
        meta_path = path / "meta.json"
        meta = read_format_json(meta_path, FORMAT, VERSION, "a clip folder written by actalker")
        missing = [k for k in ("id", "identity", "fps", "num_frames", "height", "width", "frames_file") if k not in meta]
        if missing:
            raise InputError(f"{meta_path}: missing keys {missing}")
        if meta["frames_file"] not in FRAME_FILES:
            raise InputError(f"{meta_path}: frames_file must be one of {FRAME_FILES}")
        return cls(path, meta)

    id = property(lambda self: self.meta["id"])
    identity = property(lambda self: self.meta["identity"])
    fps = property(lambda self: float(self.meta["fps"]))
    source_fps = property(lambda self: float(self.meta["fps"]))  # a whole stored clip runs at its stored rate
    num_frames = property(lambda self: int(self.meta["num_frames"]))
    height = property(lambda self: int(self.meta["height"]))
    width = property(lambda self: int(self.meta["width"]))
    has_audio = property(lambda self: bool(self.meta.get("audio_file")))

    def _array(self, name: str, shape: tuple) -> np.ndarray:
        p = self.path / name
        try:
            arr = np.load(p, mmap_mode="r")
        except (OSError, ValueError) as err:
            raise InputError(f"{p}: missing or unreadable ({err})") from None
        if arr.shape != shape:
            raise InputError(f"{p}: expected shape {shape}, found {arr.shape}")
        return arr

    def frames(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """uint8 (stop - start, H, W, 3); only the frames asked for are read."""
        stop = self.num_frames if stop is None else min(stop, self.num_frames)
        if self.meta["frames_file"] == "frames.npy":
            arr = self._array("frames.npy", (self.num_frames, self.height, self.width, 3))
            return np.array(arr[start:stop])
        from actalker.media.video import read_video

        frames, _ = read_video(self.path / "frames.mp4", max_frames=stop)
        if len(frames) < stop:
            raise InputError(f"{self.path / 'frames.mp4'}: expected {stop} frames, decoded {len(frames)}")
        return frames[start:stop]

    @cached_property
    def audio(self) -> np.ndarray | None:
        if not self.has_audio:
            return None
        audio, sr = read_wav(self.path / self.meta["audio_file"])
        if sr != SAMPLE_RATE:
            raise InputError(f"{self.path / self.meta['audio_file']}: expected {SAMPLE_RATE} Hz, found {sr}")
        return audio

    @cached_property
    def landmarks(self) -> np.ndarray:
        return self._array("landmarks.npy", (self.num_frames, NUM_LANDMARKS, 3))

    @cached_property
    def boxes(self) -> np.ndarray:
        return self._array("boxes.npy", (self.num_frames, 4))

    @cached_property
    def motion(self) -> np.ndarray:
        return self._array("motion.npy", (self.num_frames, MOTION_DIM))

    @cached_property
    def truth(self) -> dict[str, np.ndarray]:
        p = self.path / "truth.npz"
        if not p.exists():
            return {}
        with np.load(p) as z:
            out = {k: z[k].astype(np.float32) for k in z.files}
        bad = [k for k, v in out.items() if v.shape != (self.num_frames,)]
        if bad:
            raise InputError(f"{p}: expected shape ({self.num_frames},) for {bad}")
        return out


def write_clip(path: str | Path, *, clip_id: str, identity: str, fps: float, frames: np.ndarray,
               landmarks: np.ndarray, boxes: np.ndarray, motion: np.ndarray,
               audio: np.ndarray | None = None, truth: dict[str, np.ndarray] | None = None,
               frames_format: str = "npy", extra: dict | None = None) -> Clip:
    """Write a clip folder atomically (a reader never sees a half-written clip)."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (F, H, W, 3), got {frames.dtype} {frames.shape}")
    n, h, w = frames.shape[:3]
    expect = {"landmarks": (landmarks, (n, NUM_LANDMARKS, 3)), "boxes": (boxes, (n, 4)), "motion": (motion, (n, MOTION_DIM))}
    for k, v in (truth or {}).items():
        expect[f"truth[{k}]"] = (v, (n,))
    for name, (arr, shape) in expect.items():
        if np.shape(arr) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {np.shape(arr)}")
    if frames_format not in ("npy", "mp4"):
        raise ValueError("frames_format must be 'npy' or 'mp4'")
    meta = {"format": FORMAT, "version": VERSION, "id": clip_id, "identity": identity, "fps": float(fps),
            "num_frames": n, "height": h, "width": w, "frames_file": f"frames.{frames_format}",
            "audio_file": "audio.wav" if audio is not None else None, "sample_rate": SAMPLE_RATE,
            "truth": sorted(truth or {}), **(extra or {})}
    path = Path(path)
    with atomic_dir(path) as tmp:
        if frames_format == "npy":
            np.save(tmp / "frames.npy", frames)
        else:
            from actalker.media.video import write_video

            write_video(tmp / "frames.mp4", frames, fps)
        if audio is not None:
            write_wav(tmp / "audio.wav", audio)
        np.save(tmp / "landmarks.npy", np.asarray(landmarks, np.float32))
        np.save(tmp / "boxes.npy", np.asarray(boxes, np.float32))
        np.save(tmp / "motion.npy", np.asarray(motion, np.float32))
        if truth:
            np.savez(tmp / "truth.npz", **{k: np.asarray(v, np.float32) for k, v in truth.items()})
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        tmp.chmod(0o755)  # mkdtemp makes 0700; data folders are shared between users/workers
    return Clip.read(path)
