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


SILENT_DBFS = -60.0  # RMS over the whole file below this (dB relative to full scale) counts as silent


def rms_dbfs(audio: np.ndarray) -> float:
    """Root-mean-square level of float audio in [-1, 1], in dB of full scale (-inf for zeros)."""
    audio = np.asarray(audio, np.float64)
    rms = float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def silence_notice(audio: np.ndarray, name: str, sr: int = 16000) -> str | None:
    """The notice for audio that is silent over its whole length, else None."""
    level = rms_dbfs(audio)
    if level >= SILENT_DBFS:
        return None
    shown = "-inf" if level == float("-inf") else f"{level:.0f}"
    return (f"{name} is silent (RMS {shown} dBFS over {len(audio) / sr:.2f} s, below {SILENT_DBFS:g} dBFS): "
            "the branch it drives has nothing to follow")
