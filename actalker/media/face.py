"""Face analysis with MediaPipe Face Landmarker: landmarks, boxes, blendshapes, head pose.

One face per frame is followed (the largest at first, then the one nearest the previous
frame's face); ``num_faces`` still counts every face seen, so callers can reject clips
with several people. Frames without a face copy the nearest frame that has one (so no
NaNs) and are marked ``found=False``.

Head pose (``motion_features``): MediaPipe's facial transform maps the canonical face
model (centimetres) into camera space (OpenGL axes: x right, y up, z towards the viewer,
camera at the origin looking down -z). Its rotation part is decomposed as
``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` (angles in radians, right-handed), so yaw turns
about the vertical axis, pitch nods about the horizontal one and roll tilts in the image
plane (positive roll = the head tilted counter-clockwise as seen in the image; mirroring
the image negates yaw and roll; both checked in tests/media/test_face.py). Translation is divided by ``TRANSLATION_SCALE_CM`` to be of order one (a face
filling a portrait sits at tz of about -40 cm, i.e. -0.8).
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from actalker.errors import ActalkerError, InputError, ShapeError

ENV_VAR = "ACTALKER_FACE_MODEL"
MODEL_NAME = "face_landmarker_v2_with_blendshapes.task"
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
NUM_LANDMARKS = 478
TRANSLATION_SCALE_CM = 50.0

# MediaPipe's blendshape order (category index 0..51).
BLENDSHAPE_NAMES = [
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
]
POSE_NAMES = ["yaw", "pitch", "roll", "tx", "ty", "tz"]
MOTION_FEATURE_NAMES = BLENDSHAPE_NAMES + POSE_NAMES
NUM_MOTION_FEATURES = len(MOTION_FEATURE_NAMES)  # 58


@dataclass
class FaceTrack:
    """Per-frame face analysis of one video (F frames), all numpy, no NaNs."""

    landmarks: np.ndarray  # (F, 478, 3) float32, x, y in [0, 1] of the frame, z as MediaPipe gives
    boxes: np.ndarray  # (F, 4) float32 normalised (x0, y0, x1, y1), from the landmarks
    blendshapes: np.ndarray  # (F, 52) float32 scores in [0, 1]
    transforms: np.ndarray  # (F, 4, 4) float32 facial transform (canonical face -> camera)
    found: np.ndarray  # (F,) bool, False where the values were copied from a neighbour
    num_faces: np.ndarray  # (F,) int, faces detected in each frame

    def __len__(self) -> int:
        return len(self.found)


def resolve_model_path(model_path: Optional[str | os.PathLike] = None) -> Path:
    """The face model file: the argument, else ``$ACTALKER_FACE_MODEL``; InputError if absent."""
    how = (f"download MediaPipe's {MODEL_NAME} (sha256 {MODEL_SHA256}) from the MediaPipe "
           f"Face Landmarker model page and pass its path (--face-model or {ENV_VAR})")
    raw = model_path if model_path is not None else os.environ.get(ENV_VAR)
    if not raw:
        raise InputError(f"no face model given: {how}")
    p = Path(raw).expanduser()
    if not p.is_file():
        raise InputError(f"face model not found: {p}; {how}")
    return p


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for a moment: MediaPipe's C++ code (absl, glog,
    TFLite) writes its notices there directly, ignoring GLOG_minloglevel in recent versions,
    at landmarker creation and its first inference. ACTALKER_MEDIAPIPE_LOG=1 shows them."""
    if os.environ.get("ACTALKER_MEDIAPIPE_LOG"):
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _vision():
    # MediaPipe's C++ logs are noise for users; these must be set before the first import.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError as err:
        raise ActalkerError("face analysis needs mediapipe: pip install 'actalker[face]'") from err
    return mp, BaseOptions, vision


def _box(lm: np.ndarray) -> np.ndarray:
    xy = np.clip(lm[:, :2], 0.0, 1.0)
    return np.concatenate([xy.min(0), xy.max(0)]).astype(np.float32)


class FaceTracker:
    """MediaPipe Face Landmarker in VIDEO mode (temporal tracking), up to 2 faces per frame."""

    def __init__(self, model_path: Optional[str | os.PathLike] = None, max_faces: int = 2):
        self.model_path = resolve_model_path(model_path)
        self.max_faces = int(max_faces)

    def _create(self, video: bool):
        mp, BaseOptions, vision = _vision()
        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=self.max_faces,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        try:
            with native_stderr_silenced():
                return mp, vision.FaceLandmarker.create_from_options(opts)
        except Exception as err:  # MediaPipe raises RuntimeError/ValueError for a bad file
            raise InputError(f"cannot load face model {self.model_path}: expected MediaPipe's {MODEL_NAME}") from err

    def track(self, frames: np.ndarray, fps: float) -> FaceTrack:
        """Analyse uint8 frames (F, H, W, 3) of one video at ``fps``."""
        frames = _check_frames(frames)
        if not fps > 0:
            raise ShapeError(f"face tracking needs fps > 0, got {fps}")
        mp, landmarker = self._create(video=True)  # fresh per video: tracking state must not leak
        results, last_ts = [], -1
        with landmarker:
            for i, frame in enumerate(frames):
                ts = max(last_ts + 1, int(round(i * 1000.0 / fps)))  # must strictly increase
                last_ts = ts
                image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
                # the first inference logs its delegate choices; later frames are quiet
                with native_stderr_silenced() if i == 0 else contextlib.nullcontext():
                    results.append(landmarker.detect_for_video(image, ts))
        return _assemble(results)

    def detect_image(self, image: np.ndarray, name: str = "image") -> FaceTrack:
        """Analyse one still image (H, W[, 3|4]) uint8; InputError naming ``name`` if no face.
        With several faces the largest is returned (``num_faces`` counts them all)."""
        track = _assemble([self._detect(image)])
        if not track.found[0]:
            raise InputError(f"no face found in {name}: expected a clearly visible, roughly frontal face")
        return track

    def detect_faces(self, image: np.ndarray, name: str = "image") -> list[FaceTrack]:
        """Every face in one still image (up to ``max_faces``), one single-frame FaceTrack each,
        ordered left to right (by the centre of the face box): index 0 is the leftmost face."""
        result = self._detect(image)
        faces = [_assemble([_one_face(result, k)]) for k in range(len(result.face_landmarks))]
        if not faces:
            raise InputError(f"no face found in {name}: expected a clearly visible, roughly frontal face")
        return sorted(faces, key=lambda t: float(t.boxes[0, 0] + t.boxes[0, 2]))

    def _detect(self, image: np.ndarray):
        """MediaPipe's result for one still image (H, W[, 3|4]) uint8."""
        image = np.asarray(image)
        if image.ndim == 2:  # grayscale
            image = np.repeat(image[..., None], 3, -1)
        if image.ndim == 3 and image.shape[-1] == 4:
            image = image[..., :3]
        frames = _check_frames(image[None])
        mp, landmarker = self._create(video=False)
        with landmarker, native_stderr_silenced():
            return landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frames[0])))


def _one_face(result, k: int):
    """MediaPipe's result reduced to its face ``k`` (for ``_assemble``)."""
    from types import SimpleNamespace

    def pick(items):
        return [items[k]] if items else items

    return SimpleNamespace(face_landmarks=[result.face_landmarks[k]], face_blendshapes=pick(result.face_blendshapes),
                           facial_transformation_matrixes=pick(result.facial_transformation_matrixes))


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ShapeError(f"face tracking expects uint8 RGB frames (F, H, W, 3), got {frames.dtype} {frames.shape}")
    return frames


def _pick(faces: list[np.ndarray], prev_center: Optional[np.ndarray]) -> int:
    """Index of the face to follow: nearest the previous one, else the largest."""
    boxes = [_box(lm) for lm in faces]
    if prev_center is not None:
        return int(np.argmin([np.linalg.norm((b[:2] + b[2:]) / 2 - prev_center) for b in boxes]))
    return int(np.argmax([(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]))


def _assemble(results: list) -> FaceTrack:
    n = len(results)
    lms = np.zeros((n, NUM_LANDMARKS, 3), np.float32)
    bss = np.zeros((n, len(BLENDSHAPE_NAMES)), np.float32)
    tfs = np.tile(np.eye(4, dtype=np.float32), (n, 1, 1))
    found = np.zeros(n, bool)
    counts = np.zeros(n, np.int64)
    prev_center = None
    for i, r in enumerate(results):
        faces = [np.array([(p.x, p.y, p.z) for p in face], np.float32) for face in r.face_landmarks]
        counts[i] = len(faces)
        if not faces:
            continue
        k = _pick(faces, prev_center)
        lms[i], found[i] = faces[k], True
        b = _box(faces[k])
        prev_center = (b[:2] + b[2:]) / 2
        if r.face_blendshapes:
            for c in r.face_blendshapes[k]:
                bss[i, c.index] = c.score
        if r.facial_transformation_matrixes:
            tfs[i] = np.asarray(r.facial_transformation_matrixes[k], np.float32)
    boxes = np.array([_box(lm) for lm in lms], np.float32).reshape(n, 4)
    if found.any() and not found.all():  # copy the nearest frame with a face
        src = _nearest(found)
        lms, boxes, bss, tfs = lms[src], boxes[src], bss[src], tfs[src]
    elif not found.any():
        boxes[:] = (0.0, 0.0, 1.0, 1.0)  # no face anywhere: whole frame, neutral values
    return FaceTrack(lms, boxes, bss, tfs, found, counts)


def _nearest(found: np.ndarray) -> np.ndarray:
    """For each frame, the index of the nearest frame with found=True (earlier on ties)."""
    idx = np.flatnonzero(found)
    pos = np.arange(len(found))
    right = np.clip(np.searchsorted(idx, pos), 0, len(idx) - 1)
    left = np.clip(right - 1, 0, len(idx) - 1)
    use_left = np.abs(idx[left] - pos) <= np.abs(idx[right] - pos)
    return np.where(use_left, idx[left], idx[right])


def pose_from_transforms(transforms: np.ndarray) -> np.ndarray:
    """(F, 4, 4) facial transforms -> (F, 6): yaw, pitch, roll (rad), tx, ty, tz (scaled)."""
    t = np.asarray(transforms, np.float64)
    r = t[:, :3, :3] / np.linalg.norm(t[:, :3, :3], axis=1, keepdims=True).clip(1e-8)  # drop scale
    yaw = np.arctan2(-r[:, 2, 0], np.hypot(r[:, 2, 1], r[:, 2, 2]))
    pitch = np.arctan2(r[:, 2, 1], r[:, 2, 2])
    roll = np.arctan2(r[:, 1, 0], r[:, 0, 0])
    trans = t[:, :3, 3] / TRANSLATION_SCALE_CM
    return np.concatenate([np.stack([yaw, pitch, roll], 1), trans], 1).astype(np.float32)


def motion_features(track: FaceTrack) -> np.ndarray:
    """(F, 58) float32: the 52 blendshape scores, then yaw, pitch, roll, tx, ty, tz."""
    return np.concatenate([track.blendshapes.astype(np.float32), pose_from_transforms(track.transforms)], 1)
