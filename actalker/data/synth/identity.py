"""Random identities of the synthetic world: face shape and proportions, colours, hair."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SKIN_TONES = ((255, 224, 196), (241, 194, 160), (224, 172, 135), (198, 134, 96),
              (161, 102, 67), (120, 75, 48), (90, 56, 37))
IRIS_COLOURS = ((70, 45, 25), (40, 25, 15), (60, 110, 170), (80, 130, 80), (110, 110, 120))
HAIR_COLOURS = ((25, 20, 18), (70, 45, 25), (130, 90, 50), (200, 170, 110), (150, 60, 30), (160, 160, 160))


@dataclass(frozen=True)
class Identity:
    face_w: float      # width / height scale of the face oval relative to the template
    face_h: float
    face_size: float   # face-oval height as a fraction of the frame height
    eye_spacing: float
    eye_size: float
    brow_y: float      # brow offset in face heights (+ = down)
    brow_thick: float
    mouth_w: float
    mouth_y: float
    lip_thick: float
    skin: tuple
    iris: tuple
    lips: tuple
    hair: tuple
    hair_volume: float  # 0 = bald
    shirt: tuple
    background: tuple   # top colour
    background2: tuple  # bottom colour (vertical gradient)

    def to_dict(self) -> dict:
        return asdict(self)


def _jitter(rng: np.random.Generator, rgb, amount: float) -> tuple:
    return tuple(int(v) for v in np.clip(np.asarray(rgb) + rng.normal(0, amount, 3), 0, 255))


def random_identity(rng: np.random.Generator) -> Identity:
    skin = _jitter(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 8)
    lips = _jitter(rng, (0.65 * skin[0] + 70, 0.45 * skin[1] + 10, 0.45 * skin[2] + 20), 10)
    bg = tuple(int(v) for v in rng.uniform(40, 230, 3))
    return Identity(
        face_w=float(rng.uniform(0.85, 1.12)),
        face_h=float(rng.uniform(0.92, 1.08)),
        face_size=float(rng.uniform(0.6, 0.68)),
        eye_spacing=float(rng.uniform(0.9, 1.1)),
        eye_size=float(rng.uniform(1.15, 1.45)),
        brow_y=float(rng.uniform(-0.02, 0.02)),
        brow_thick=float(rng.uniform(0.9, 1.8)),
        mouth_w=float(rng.uniform(0.85, 1.2)),
        mouth_y=float(rng.uniform(-0.025, 0.01)),
        lip_thick=float(rng.uniform(0.8, 1.25)),
        skin=skin,
        iris=_jitter(rng, IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))], 10),
        lips=lips,
        hair=_jitter(rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], 10),
        hair_volume=float(0.0 if rng.random() < 0.1 else rng.uniform(0.5, 1.3)),
        shirt=tuple(int(v) for v in rng.uniform(20, 235, 3)),
        background=bg,
        background2=_jitter(rng, bg, 40),
    )
