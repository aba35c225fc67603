"""Control metrics of one generated clip, and their aggregate over clips.

Following: Pearson r between the measured openness and the signal that should drive it
(mouth vs the driving audio's envelope, eyes vs the motion track's eye openness, and each
vs the ground truth when the clip has one). Leakage: |r| of a part against the OTHER
signal (mouth vs the motion eye track, mouth vs the driver's own mouth carried in the motion
features (jawOpen), eyes vs the audio envelope). Independent smooth
50-frame tracks correlate by chance, so the aggregate also gives the chance level of each
leakage (the same |r| with the signal of another clip).

A measured track with (almost) no variation follows nothing: its r is 0, not undefined,
so a frozen face cannot drop out of the mean.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from actalker.errors import ShapeError

FLAT_STD = 1e-6      # a track with a smaller std (face heights) counts as constant
ENV_WINDOW_S = 0.04  # audio RMS window centred on each frame (as the synthetic world's mouth)
BOOTSTRAP = 2000

FOLLOW = ("mouth_audio", "mouth_truth", "eyes_motion", "eyes_truth")
LEAK = ("leak_mouth_motion", "leak_mouth_driver", "leak_eyes_audio")


def pearson(a, b) -> float:
    """Pearson r of two equal-length tracks; 0 when either is (nearly) constant."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ShapeError(f"tracks to correlate must have the same length, got {a.shape} and {b.shape}")
    if len(a) < 3:
        raise ShapeError(f"need at least 3 frames to correlate, got {len(a)}")
    a, b = a - a.mean(), b - b.mean()
    sa, sb = np.sqrt((a * a).mean()), np.sqrt((b * b).mean())
    if sa <= FLAT_STD or sb <= FLAT_STD:
        return 0.0
    return float(np.clip((a * b).mean() / (sa * sb), -1.0, 1.0))


def audio_envelope(audio: np.ndarray, fps: float, num_frames: int, sr: int = 16000) -> np.ndarray:
    """RMS of the audio in an ``ENV_WINDOW_S`` window centred on each video frame, (F,)."""
    audio = np.asarray(audio, np.float64).ravel()
    half = max(1, int(ENV_WINDOW_S * sr / 2))
    csum = np.concatenate([[0.0], np.cumsum(np.pad(audio, (half, half + 1)) ** 2)])
    centres = (np.arange(num_frames) / fps * sr).round().astype(int) + half
    lo = np.clip(centres - half, 0, len(csum) - 1)
    hi = np.clip(centres + half, 0, len(csum) - 1)
    return np.sqrt(np.maximum(csum[hi] - csum[lo], 0) / (2 * half)).astype(np.float32)


def _motion_columns(motion: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    from actalker.media.face import MOTION_FEATURE_NAMES

    motion = np.asarray(motion, np.float32)
    if motion.ndim != 2 or motion.shape[1] != len(MOTION_FEATURE_NAMES):
        raise ShapeError(f"motion must have shape (frames, {len(MOTION_FEATURE_NAMES)}), got {motion.shape}")
    return motion[:, [MOTION_FEATURE_NAMES.index(n) for n in names]]


def motion_eye_track(motion: np.ndarray) -> np.ndarray:
    """Eye openness of a motion track (F, 58): 1 - mean(eyeBlinkLeft, eyeBlinkRight)."""
    return 1.0 - _motion_columns(motion, ("eyeBlinkLeft", "eyeBlinkRight")).mean(1)


def motion_mouth_track(motion: np.ndarray) -> np.ndarray:
    """The driver's own mouth openness in a motion track (F, 58): jawOpen."""
    return _motion_columns(motion, ("jawOpen",))[:, 0]


def clip_metrics(mouth, eyes, audio_env=None, motion_eye=None, truth: Optional[dict] = None,
                 motion_mouth=None) -> dict:
    """Metrics of one clip from its measured tracks (F,) and driving signals (F,) or None.

    Keys present only when their inputs are: mouth_audio, eyes_motion, mouth_truth,
    eyes_truth, leak_mouth_motion, leak_mouth_driver, leak_eyes_audio; always mouth_std,
    eyes_std, frames.
    """
    mouth, eyes = np.asarray(mouth, np.float64), np.asarray(eyes, np.float64)
    n = len(mouth)
    cut = lambda x: None if x is None else np.asarray(x, np.float64)[:n]  # noqa: E731
    audio_env, motion_eye, motion_mouth = cut(audio_env), cut(motion_eye), cut(motion_mouth)
    truth = truth or {}
    out = {"frames": n, "mouth_std": float(mouth.std()), "eyes_std": float(eyes.std())}
    if audio_env is not None:
        out["mouth_audio"] = pearson(mouth, audio_env)
        out["leak_eyes_audio"] = abs(pearson(eyes, audio_env))
    if motion_eye is not None:
        out["eyes_motion"] = pearson(eyes, motion_eye)
        out["leak_mouth_motion"] = abs(pearson(mouth, motion_eye))
    if motion_mouth is not None:
        out["leak_mouth_driver"] = abs(pearson(mouth, motion_mouth))
    if truth.get("mouth_open") is not None:
        out["mouth_truth"] = pearson(mouth, cut(truth["mouth_open"]))
    if truth.get("eye_open") is not None:
        out["eyes_truth"] = pearson(eyes, cut(truth["eye_open"]))
    return out


def bootstrap_ci(values, level: float = 0.95, n: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (seeded: the same values give the same CI)."""
    v = np.asarray(values, np.float64)
    if len(v) < 2:
        return (float(v.mean()), float(v.mean())) if len(v) else (float("nan"), float("nan"))
    means = v[np.random.default_rng(seed).integers(0, len(v), (n, len(v)))].mean(1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def chance_leakage(tracks: list[dict]) -> dict:
    """Mean |r| of each clip's measured part against the other signal of the NEXT clip
    (cyclically): what the leakage numbers read when nothing leaks."""
    out = {}
    if len(tracks) < 2:
        return out
    pairs = {"leak_mouth_motion": ("mouth", "motion_eye"), "leak_mouth_driver": ("mouth", "motion_mouth"),
             "leak_eyes_audio": ("eyes", "audio_env")}
    for key, (part, signal) in pairs.items():
        vals = []
        for i, t in enumerate(tracks):
            other = tracks[(i + 1) % len(tracks)].get(signal)
            if other is None or t.get(signal) is None:
                continue
            m = min(len(t[part]), len(other))
            vals.append(abs(pearson(t[part][:m], other[:m])))
        if vals:
            out[key] = float(np.mean(vals))
    return out


def aggregate(rows: list[dict], tracks: Optional[list[dict]] = None, level: float = 0.95) -> dict:
    """name -> {mean, lo, hi, n} over clips (bootstrap CI of the mean); with ``tracks``
    (per clip: mouth, eyes, audio_env, motion_eye, motion_mouth) leakage metrics get a ``chance`` level."""
    chance = chance_leakage(tracks or [])
    out = {}
    for key in FOLLOW + LEAK + ("mouth_std", "eyes_std"):
        vals = [r[key] for r in rows if key in r and np.isfinite(r[key])]
        if not vals:
            continue
        lo, hi = bootstrap_ci(vals, level)
        out[key] = {"mean": float(np.mean(vals)), "lo": lo, "hi": hi, "n": len(vals)}
        if key in chance:
            out[key]["chance"] = chance[key]
    return out
