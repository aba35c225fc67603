"""Audio files: decode any audio (or video-with-audio) file to float32 mono; write WAV."""
from __future__ import annotations

import os
import subprocess
import wave
from pathlib import Path

import numpy as np

from actalker.errors import InputError, ShapeError
from actalker.media.video import _ffmpeg, check_file
from actalker.utils.atomic import atomic_path

_NO_AUDIO_MARKS = ("does not contain any stream", "matches no streams", "Output file is empty")


def read_audio(path: str | os.PathLike, sr: int = 16000) -> np.ndarray:
    """Decode the first audio stream of ``path`` to float32 mono at ``sr`` Hz (ffmpeg resamples)."""
    p = check_file(path, "audio file")
    cmd = [_ffmpeg(), "-nostdin", "-v", "error", "-i", str(p), "-map", "0:a:0", "-vn",
           "-ac", "1", "-ar", str(int(sr)), "-f", "f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    err = proc.stderr.decode("utf-8", "replace")
    if any(m in err for m in _NO_AUDIO_MARKS):
        raise InputError(f"{p} has no audio stream, expected an audio file or a video with sound")
    samples = np.frombuffer(proc.stdout, np.float32)
    if proc.returncode != 0 or samples.size == 0:
        last = err.strip().splitlines()[-1] if err.strip() else "no samples decoded"
        raise InputError(f"cannot read audio from {p}: {last}")
    return samples.copy()  # frombuffer is read-only


def write_wav(path: str | os.PathLike, audio: np.ndarray, sr: int = 16000) -> Path:
    """Write float mono audio in [-1, 1] as 16-bit PCM WAV, atomically (values are clipped)."""
    audio = np.asarray(audio, np.float32)
    if audio.ndim != 1:
        raise ShapeError(f"write_wav expects mono audio (samples,), got shape {audio.shape}")
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2")
    out = Path(path)
    with atomic_path(out) as tmp:
        with wave.open(str(tmp), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(int(sr))
            wav.writeframes(pcm.tobytes())
    return out
