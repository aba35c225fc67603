"""Driving signals of the synthetic world: speech audio, the audio -> mouth mapping, and an
independent motion track (eyes, brows, head pose).

The mouth is a FIXED function of the stored audio (see ``mouth_from_audio``), so a model can
learn "mouth follows audio" exactly; the eye/brow/pose tracks come from a separate random
stream, so they carry no information about the audio.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

SR = 16000
ENV_REF_RMS = 0.1   # stored audio is scaled so its 95th-percentile frame RMS is this
ENV_WINDOW_S = 0.04  # RMS window centred on each video frame

WORDS = ("the a cat dog sun rain blue red green house tree river stone light morning evening "
         "happy quickly slowly open close window table garden music water paper story window "
         "people little yellow mountain over under between always never today tomorrow simple "
         "number seven four twelve friend mother father summer winter bright quiet loud").split()


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling by FFT (numpy only; the clips are a few seconds long)."""
    if sr_in == sr_out or len(x) == 0:
        return x.astype(np.float32)
    n_out = int(round(len(x) * sr_out / sr_in))
    spec = np.fft.rfft(x)
    keep = n_out // 2 + 1
    spec = spec[:keep] if len(spec) >= keep else np.pad(spec, (0, keep - len(spec)))
    return (np.fft.irfft(spec, n_out) * (n_out / len(x))).astype(np.float32)


def _espeak(text: str, rng: np.random.Generator) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.wav"
        cmd = ["espeak-ng", "-w", str(out), "-s", str(int(rng.integers(130, 190))),
               "-p", str(int(rng.integers(20, 80))), "-v", str(rng.choice(["en", "en-us", "en+f3", "en+m3"])), text]
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        with wave.open(str(out)) as w:
            raw = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
            sr = w.getframerate()
    return resample(raw.astype(np.float32) / 32768.0, sr, SR)


def espeak_speech(duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Random sentences spoken by espeak-ng, joined with pauses, cut to ``duration_s``."""
    n = int(round(duration_s * SR))
    parts, total = [], 0
    while total < n:
        pause = np.zeros(int(rng.uniform(0.1, 0.5) * SR), np.float32)
        words = rng.choice(WORDS, size=int(rng.integers(3, 9)))
        speech = _espeak(" ".join(words), rng)
        parts += [pause, speech]
        total += len(pause) + len(speech)
    return np.concatenate(parts)[:n]


def syllable_speech(duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Speech-like fallback: words of 1-4 syllables (~4-6 Hz), each a harmonic tone with a
    gliding pitch and a raised-cosine envelope, separated by pauses; a faint noise floor."""
    n = int(round(duration_s * SR))
    out = np.zeros(n, np.float32)
    t = float(rng.uniform(0.0, 0.3))
    f0_base = rng.uniform(90, 240)
    while t < duration_s:
        for _ in range(int(rng.integers(1, 5))):
            dur = rng.uniform(0.1, 0.24)
            i0, i1 = int(t * SR), min(n, int((t + dur) * SR))
            if i1 <= i0:
                break
            tt = np.arange(i1 - i0) / SR
            f0 = f0_base * rng.uniform(0.85, 1.2) * (1 + 0.1 * tt / dur)
            phase = 2 * np.pi * np.cumsum(f0) / SR
            amps = rng.uniform(0.2, 1.0, size=6) / np.arange(1, 7)
            tone = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(amps))
            env = np.sin(np.pi * tt / dur) ** 2 * rng.uniform(0.5, 1.0)
            out[i0:i1] += (tone * env).astype(np.float32)
            t += dur + rng.uniform(0.0, 0.05)
        t += rng.uniform(0.08, 0.6)
    out += rng.normal(0, 0.002, n).astype(np.float32)
    return out


def frame_rms(audio: np.ndarray, fps: float, num_frames: int, sr: int = SR) -> np.ndarray:
    """RMS of the audio in a ``ENV_WINDOW_S`` window centred on each video frame's time."""
    half = int(ENV_WINDOW_S * sr / 2)
    padded = np.pad(audio.astype(np.float64), (half, half + 1))
    csum = np.concatenate([[0.0], np.cumsum(padded ** 2)])
    centres = (np.arange(num_frames) / fps * sr).round().astype(int) + half
    lo, hi = centres - half, centres + half
    lo, hi = np.clip(lo, 0, len(padded)), np.clip(hi, 0, len(padded))
    return np.sqrt((csum[hi] - csum[lo]) / (2 * half)).astype(np.float32)


def normalise_audio(audio: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
    """Scale so the 95th-percentile frame RMS is ``ENV_REF_RMS`` (then clip to [-1, 1])."""
    p95 = float(np.percentile(frame_rms(audio, fps, num_frames), 95))
    gain = ENV_REF_RMS / p95 if p95 > 1e-6 else 1.0
    return np.clip(audio * gain, -1.0, 1.0).astype(np.float32)


def mouth_from_audio(audio: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
    """THE fixed audio -> mouth mapping: clip(frame RMS / ENV_REF_RMS, 0, 1), then smoothed
    with the 3-tap kernel [1/4, 1/2, 1/4] over video frames (edges repeated)."""
    m = np.clip(frame_rms(audio, fps, num_frames) / ENV_REF_RMS, 0.0, 1.0)
    p = np.pad(m, 1, mode="edge")
    return (0.25 * p[:-2] + 0.5 * p[1:-1] + 0.25 * p[2:]).astype(np.float32)


def _smooth_noise(n: int, fps: float, period_s: float, rng: np.random.Generator) -> np.ndarray:
    """Random smooth curve in [-1, 1]: cosine-interpolated random knots ``period_s`` apart."""
    step = max(1.0, period_s * fps)
    knots = rng.uniform(-1, 1, size=int(n / step) + 3)
    x = np.arange(n) / step + rng.uniform(0, 1)
    i = np.floor(x).astype(int)
    f = (1 - np.cos(np.pi * (x - i))) / 2
    return (knots[i] * (1 - f) + knots[i + 1] * f).astype(np.float32)


def motion_track(num_frames: int, fps: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Independent per-frame ground truth for everything but the mouth.

    eye_open in [0, 1] (1 = fully open): a slow level in [0.35, 1] plus blinks (~0.35/s,
    ~0.2 s each); brow_raise in [0, 1]: slow raises; yaw (radians, |yaw| <= 0.3) and
    shift_x / shift_y (fraction of the frame, |shift| <= 0.04): slow head motion.
    """
    n = num_frames
    eye = 0.675 + 0.325 * _smooth_noise(n, fps, rng.uniform(0.6, 1.5), rng)
    t = 0.0
    while True:
        t += rng.exponential(1 / 0.35)
        if t * fps >= n:
            break
        dur = rng.uniform(0.15, 0.3)
        k = np.arange(n) / fps
        blink = np.clip(1 - np.abs(k - t) / (dur / 2), 0, 1)
        eye = eye * (1 - blink)
    brow = np.clip(0.5 + 0.6 * _smooth_noise(n, fps, rng.uniform(0.6, 1.5), rng), 0, 1)
    return {
        "eye_open": np.clip(eye, 0, 1).astype(np.float32),
        "brow_raise": brow.astype(np.float32),
        "yaw": (0.3 * _smooth_noise(n, fps, rng.uniform(1.0, 2.5), rng)).astype(np.float32),
        "shift_x": (0.04 * _smooth_noise(n, fps, rng.uniform(1.0, 2.5), rng)).astype(np.float32),
        "shift_y": (0.03 * _smooth_noise(n, fps, rng.uniform(1.0, 2.5), rng)).astype(np.float32),
    }


def driver_mouth(num_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Mouth openness of the imaginary driving-video person: the same fixed audio -> mouth
    mapping applied to their own (synthetic, never heard) speech, so it looks like talking
    but is independent of the clip's audio."""
    own = normalise_audio(syllable_speech(num_frames / fps, rng), fps, num_frames)
    return mouth_from_audio(own, fps, num_frames)


def speech(duration_s: float, rng: np.random.Generator, source: str = "auto") -> tuple[np.ndarray, str]:
    """Speech audio at 16 kHz and which source made it ("espeak" or "syllables")."""
    if source == "espeak" or (source == "auto" and espeak_available()):
        return espeak_speech(duration_s, rng), "espeak"
    return syllable_speech(duration_s, rng), "syllables"
