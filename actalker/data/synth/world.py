"""The synthetic world: N clips of talking faces with known per-frame ground truth.

Clip k of a world made with seed S is a pure function of (S, k, frames, size, fps, speech
source): identity, audio and motion come from separate seeded streams, so the motion
track carries no information about the audio.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from actalker.data.clip import Clip, write_clip
from actalker.data.synth import signals
from actalker.data.synth.identity import random_identity
from actalker.data.synth.landmarks import face_box, identity_shape, pose_frame
from actalker.data.synth.renderer import FaceRenderer
from actalker.media.face import MOTION_FEATURE_NAMES

POSE_NAMES = ("mouth_open", "eye_open", "brow_raise", "yaw", "shift_x", "shift_y")  # what is drawn
TRUTH_NAMES = POSE_NAMES + ("driver_mouth",)
# driver_mouth: the mouth of the (imaginary) person in the driving video. Real motion
# features carry the driver's own mouth (jawOpen...), which has nothing to do with the
# speech; so here it comes from its own speech-like stream, independent of the audio, and
# a model whose motion branch leaks into the mouth region is caught by the metrics.
SHIFT_TO_TRANSLATION = 0.6  # frame fraction -> MediaPipe-like tx/ty (a face ~50 cm away, /50 cm)
_COL = {name: i for i, name in enumerate(MOTION_FEATURE_NAMES)}


def motion_from_truth(truth: dict[str, np.ndarray]) -> np.ndarray:
    """(F, 58) motion features in the real layout, filled from the ground truth.

    Blendshapes as MediaPipe names them: jawOpen = driver_mouth, mouthLowerDown* = 0.6 driver_mouth,
    mouthUpperUp* = 0.2 driver_mouth (the driver's mouth, independent of the audio), eyeBlink* = 1 - eye_open, browInnerUp = browOuterUp* =
    brow_raise, browDown* = max(0, 0.3 - brow_raise); all others 0. Pose: yaw, pitch 0,
    roll 0, tx = 0.6 shift_x, ty = -0.6 shift_y (camera y points up), tz = -1.
    """
    m, e, b = truth["driver_mouth"], truth["eye_open"], truth["brow_raise"]
    out = np.zeros((len(m), len(MOTION_FEATURE_NAMES)), np.float32)
    fill = {"jawOpen": m, "mouthLowerDownLeft": 0.6 * m, "mouthLowerDownRight": 0.6 * m,
            "mouthUpperUpLeft": 0.2 * m, "mouthUpperUpRight": 0.2 * m,
            "eyeBlinkLeft": 1 - e, "eyeBlinkRight": 1 - e,
            "browInnerUp": b, "browOuterUpLeft": b, "browOuterUpRight": b,
            "browDownLeft": np.maximum(0, 0.3 - b), "browDownRight": np.maximum(0, 0.3 - b),
            "yaw": truth["yaw"], "tx": SHIFT_TO_TRANSLATION * truth["shift_x"],
            "ty": -SHIFT_TO_TRANSLATION * truth["shift_y"], "tz": np.full_like(m, -1.0)}
    for name, v in fill.items():
        out[:, _COL[name]] = v
    return out


def make_clip(seed: int, index: int, num_frames: int = 50, size: int = 64, fps: float = 25.0,
              clips_per_identity: int = 1, speech_source: str = "auto") -> dict:
    """All arrays of one synthetic clip (nothing written)."""
    ident_index = index // clips_per_identity
    ident = random_identity(np.random.default_rng([seed, ident_index, 0]))
    audio_rng = np.random.default_rng([seed, index, 1])
    motion_rng = np.random.default_rng([seed, index, 2])
    driver_rng = np.random.default_rng([seed, index, 3])
    audio, source = signals.speech(num_frames / fps, audio_rng, speech_source)
    audio = signals.normalise_audio(audio, fps, num_frames)
    truth = {"mouth_open": signals.mouth_from_audio(audio, fps, num_frames), **signals.motion_track(num_frames, fps, motion_rng),
             "driver_mouth": signals.driver_mouth(num_frames, fps, driver_rng)}
    shape = identity_shape(ident)
    lms = np.stack([pose_frame(shape, ident.face_size, *(float(truth[k][i]) for k in POSE_NAMES)) for i in range(num_frames)])
    renderer = FaceRenderer(ident, size)
    frames = np.stack([renderer.render(lm) for lm in lms])
    return {
        "clip_id": f"synth{seed}-{index:05d}", "identity": f"synth{seed}-id{ident_index:05d}", "fps": fps,
        "frames": frames, "audio": audio, "landmarks": lms, "boxes": np.clip(face_box(lms), 0, 1),
        "motion": motion_from_truth(truth), "truth": {k: truth[k] for k in TRUTH_NAMES},
        "extra": {"source": {"kind": "synthetic", "seed": seed, "index": index, "speech": source,
                             "identity_params": ident.to_dict()}},
    }


def write_synthetic_clip(root: Path, seed: int, index: int, prompts: bool = False, **kw) -> Clip:
    """Make clip ``index`` and write it under ``root/clips/<clip id>`` (lossless .npy frames);
    ``prompts`` also writes the upper face's text prompts (``prompts.json``, see prompts.py)."""
    c = make_clip(seed, index, **kw)
    clip = write_clip(Path(root) / "clips" / c["clip_id"], frames_format="npy", **c)
    if prompts:
        from actalker.data.synth.prompts import prompts_from_truth, write_prompts

        write_prompts(clip.path, prompts_from_truth(c["truth"], c["fps"]))
    return clip
