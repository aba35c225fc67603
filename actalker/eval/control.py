"""Control metrics of one generated clip, and their aggregate over clips.

Every modality declares what it drives (``ModalitySpec.drives``: a region measure of the
generated frames, the ground-truth track of synthetic clips, its own signal track);
``score_clip`` turns that into metrics for any set of branches. Following: Pearson r
between a measure and the signal that should drive it (built-in: mouth_audio, eyes_motion;
a plugin branch ``text`` driving the eyes: eyes_text), and against the ground truth
(mouth_truth, eyes_truth). Leakage: |r| of every other measure against that signal
(leak_eyes_audio, leak_mouth_motion, leak_mouth_driver -- the driver's own mouth carried
in the motion features -- and leak_mouth_text ...). Independent smooth
50-frame tracks correlate by chance, so the aggregate also gives the chance level of each
leakage (the same |r| with the signal of another clip). Independent is not uncorrelated in a
small sample, though: on synthetic clips the ground truth of a measure can itself correlate
with another branch's signal by coincidence, so each leakage also gets its ``truth`` level
(``floor_leak_*`` per clip): the same |r| of the measure's truth track, what a perfect model
would read on these very clips.

A measured track with (almost) no variation follows nothing: its r is 0, not undefined,
so a frozen face cannot drop out of the mean.
"""
from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Signal:
    """One control track of a clip: ``branch``'s signal ``name`` that should drive ``measure``
    (None: a probe that should drive nothing), with the clip's truth track name."""

    branch: str
    name: str
    measure: Optional[str]
    track: Optional[np.ndarray]
    truth: Optional[str] = None


def score_clip(measured: dict, signals: list[Signal], truth: Optional[dict] = None) -> dict:
    """Metrics of one clip, for any branches (the one rule every caller uses).

    ``measured``: measure name -> track (F,) of the generated frames. For each signal with a
    track: following ``<measure>_<name>`` = r(measure, track); leakage
    ``leak_<m>_<name>`` = |r(m, track)| for every measured ``m`` its branch does not drive.
    With the clip's truth track: ``<measure>_truth``, and for leakage ``floor_leak_<m>_<name>``
    = |r(truth of m, track)|. Always ``<m>_std`` and ``frames``.
    """
    measured = {k: np.asarray(v, np.float64) for k, v in measured.items()}
    n = len(next(iter(measured.values())))
    truth = truth or {}
    out = {"frames": n, **{f"{m}_std": float(v.std()) for m, v in measured.items()}}
    driven: dict[str, set] = {}
    truth_of: dict[str, np.ndarray] = {}  # measure -> its ground truth, where the clip has it
    for s in signals:
        if s.measure is not None:
            driven.setdefault(s.branch, set()).add(s.measure)
            if s.truth and truth.get(s.truth) is not None:
                truth_of[s.measure] = np.asarray(truth[s.truth], np.float64)[:n]
    for s in signals:
        if s.measure is not None and s.measure not in measured:
            raise ShapeError(f"branch '{s.branch}' drives measure '{s.measure}', which is not measured ({', '.join(measured)})")
        if s.measure in truth_of:
            out[f"{s.measure}_truth"] = pearson(measured[s.measure], truth_of[s.measure])
        if s.track is None:
            continue
        track = np.asarray(s.track, np.float64)[:n]
        if s.measure is not None:
            out[f"{s.measure}_{s.name}"] = pearson(measured[s.measure], track)
        for m in measured:
            if m not in driven.get(s.branch, ()):
                out[f"leak_{m}_{s.name}"] = abs(pearson(measured[m], track))
                if m in truth_of:
                    out[f"floor_leak_{m}_{s.name}"] = abs(pearson(truth_of[m], track))
    return out


def builtin_signals(audio_env=None, motion_eye=None, motion_mouth=None) -> list[Signal]:
    """The audio and motion signals as ``Signal``s (tests, stand-ins)."""
    return [Signal("audio", "audio", "mouth", audio_env, "mouth_open"),
            Signal("motion", "motion", "eyes", motion_eye, "eye_open"),
            Signal("motion", "driver", None, motion_mouth)]


def clip_metrics(mouth, eyes, audio_env=None, motion_eye=None, truth: Optional[dict] = None,
                 motion_mouth=None) -> dict:
    """``score_clip`` for the built-in pair: mouth_audio, eyes_motion, mouth_truth, eyes_truth,
    leak_mouth_motion, leak_mouth_driver, leak_eyes_audio (each only when its inputs are)."""
    return score_clip({"mouth": mouth, "eyes": eyes}, builtin_signals(audio_env, motion_eye, motion_mouth), truth)


def bootstrap_ci(values, level: float = 0.95, n: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (seeded: the same values give the same CI)."""
    v = np.asarray(values, np.float64)
    if len(v) < 2:
        return (float(v.mean()), float(v.mean())) if len(v) else (float("nan"), float("nan"))
    means = v[np.random.default_rng(seed).integers(0, len(v), (n, len(v)))].mean(1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def chance_leakage(tracks: list[dict]) -> dict:
    """Mean |r| of each clip's measured part against the same signal of the NEXT clip
    (cyclically): what the leakage numbers read when nothing leaks.

    ``tracks`` per clip: ``measured`` {measure: (F,)} and ``signals`` [Signal]."""
    vals: dict[str, list[float]] = {}
    if len(tracks) < 2:
        return {}
    for i, t in enumerate(tracks):
        nxt = tracks[(i + 1) % len(tracks)]
        other = {s.name: s.track for s in nxt["signals"]}
        row = score_clip(t["measured"], [Signal(s.branch, s.name, s.measure, other.get(s.name)) for s in t["signals"]])
        for key, v in row.items():
            if key.startswith("leak_"):
                vals.setdefault(key, []).append(v)
    return {k: float(np.mean(v)) for k, v in vals.items()}


def metric_keys(rows: list[dict]) -> list[str]:
    """Control metrics present in ``rows``: the built-in names first, then following, then leakage."""
    keys = {k for r in rows for k in r
            if k not in ("frames", "clip") and not k.endswith("_std") and not k.startswith("floor_")}
    rest = sorted(keys - set(FOLLOW + LEAK), key=lambda k: (k.startswith("leak_"), k))
    return [k for k in FOLLOW + LEAK if k in keys] + rest


def aggregate(rows: list[dict], tracks: Optional[list[dict]] = None, level: float = 0.95) -> dict:
    """name -> {mean, lo, hi, n} over clips (bootstrap CI of the mean); with ``tracks``
    (per clip: ``measured`` and ``signals``) leakage metrics get a ``chance`` level; where the
    rows carry ``floor_leak_*``, leakage metrics also get their ``truth`` level (its mean)."""
    chance = chance_leakage(tracks or [])
    out = {}
    stds = sorted({k for r in rows for k in r if k.endswith("_std")})
    for key in metric_keys(rows) + stds:
        vals = [r[key] for r in rows if key in r and np.isfinite(r[key])]
        if not vals:
            continue
        lo, hi = bootstrap_ci(vals, level)
        out[key] = {"mean": float(np.mean(vals)), "lo": lo, "hi": hi, "n": len(vals)}
        if key in chance:
            out[key]["chance"] = chance[key]
        floor = [r["floor_" + key] for r in rows if "floor_" + key in r]
        if floor:
            out[key]["truth"] = float(np.mean(floor))
    return out
