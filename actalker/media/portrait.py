"""A reference portrait framed as the training clips are: the face found, one face chosen
(``--face-index`` when there are several), and the image cut to the square around it that
``actalker preprocess`` cuts clips to (``actalker.core.framing.face_square``), with the
face's landmarks and box re-expressed in that square.

Faces are numbered from 0, left to right (by the centre of the face box). A portrait whose
face already fills it (a synthetic-world frame, a preprocessed clip frame) is left whole but
for a centre square: the square is shrunk to fit the image.

``domain_notice`` compares the portrait with what the model was trained on (a simple,
documented statistic, ``flat_fraction``; see docs/errors.md, notices).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from actalker.core.framing import FACE_MARGIN, face_square, points_in_square
from actalker.errors import InputError


@dataclass
class FramedPortrait:
    image: np.ndarray       # uint8 (S, S, 3), the square around the face
    landmarks: np.ndarray   # (1, 478, 3) float32, normalised to ``image``
    boxes: np.ndarray       # (1, 4) float32, normalised xyxy in ``image``
    square: tuple           # (x0, y0, side) in pixels of the input image
    face_index: int
    faces: int              # faces found in the input


def choose_face(faces: list, face_index: Optional[int], name: str) -> int:
    """The index of the face to use: the only one, or ``face_index`` (0-based, left to right)."""
    n = len(faces)
    if face_index is None:
        if n > 1:
            raise InputError(f"{n} faces found in {name}; choose one with --face-index N "
                             f"(0 to {n - 1}, numbered from the left)")
        return 0
    if not 0 <= face_index < n:
        raise InputError(f"--face-index {face_index}: {name} has {n} face{'s' if n > 1 else ''} "
                         f"(--face-index 0 to {n - 1}, numbered from the left)")
    return face_index


def cut_square(image: np.ndarray, square: tuple) -> np.ndarray:
    """The square (x0, y0, side) of ``image``, at its own resolution (bicubic, as preprocess)."""
    from PIL import Image

    x0, y0, side = square
    size = max(1, int(round(side)))
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC, box=(x0, y0, x0 + side, y0 + side)))


def frame_portrait(image: np.ndarray, tracker, name: str, face_index: Optional[int] = None,
                   margin: float = FACE_MARGIN) -> FramedPortrait:
    """Detect the faces in ``image`` (uint8 (H, W, 3)), pick one, cut the training framing."""
    faces = tracker.detect_faces(image, name=name)
    k = choose_face(faces, face_index, name)
    h, w = image.shape[:2]
    box_px = faces[k].boxes[:1] * np.array([w, h, w, h], np.float64)
    square = face_square(box_px, w, h, margin)
    lms, boxes = points_in_square(faces[k].landmarks[:1], faces[k].boxes[:1], square, w, h)
    return FramedPortrait(cut_square(image, square), lms.astype(np.float32), np.clip(boxes, 0, 1).astype(np.float32),
                          tuple(round(v, 2) for v in square), k, len(faces))




# ---- does the portrait look like the model's training data? -----------------------------
FLAT_SIZE = 64          # the statistic is taken at the synthetic world's training size
FLAT_THRESHOLD = 0.4    # synthetic-world frames 0.71-0.88, real photos 0.09-0.12 (measured, issue 12)


def flat_fraction(image: np.ndarray) -> float:
    """Share of horizontally adjacent pixel pairs (image resized to FLAT_SIZE) that differ by
    at most one level in every channel: flat-filled drawings (the synthetic world) are mostly
    flat, photos almost never are (noise, texture)."""
    from PIL import Image

    a = np.asarray(Image.fromarray(np.asarray(image, np.uint8)).resize((FLAT_SIZE, FLAT_SIZE), Image.BICUBIC), np.int16)
    return float((np.abs(a[:, 1:] - a[:, :-1]) <= 1).all(-1).mean())


def domain_notice(training_data: Optional[dict], image: np.ndarray, name: str) -> Optional[str]:
    """A notice when the portrait is not of the kind the model was trained on (the record
    `actalker train` writes in the model folder: synthetic or real); None without a record."""
    kind = (training_data or {}).get("kind")
    if kind not in ("synthetic", "real"):
        return None
    flat = flat_fraction(image)
    looks = "synthetic" if flat >= FLAT_THRESHOLD else "real"
    if looks == kind:
        return None
    seen = "a photo" if looks == "real" else "a flat-coloured drawing like the synthetic world"
    return (f"{name} does not look like the model's training data: the model was trained only on {kind} clips "
            f"({training_data.get('clips', '?')} clips in {training_data.get('root', '?')}) and this looks like {seen} "
            f"(flat-colour share {flat:.2f}, {'>=' if looks == 'synthetic' else '<'} {FLAT_THRESHOLD:g}); "
            "expect a poor likeness")


__all__ = ["FLAT_THRESHOLD", "FramedPortrait", "choose_face", "cut_square", "domain_notice", "flat_fraction",
           "frame_portrait"]
