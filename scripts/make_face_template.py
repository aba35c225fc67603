"""Regenerate actalker/assets/face_template_478.npy: MediaPipe's 478 landmarks measured
once on a real frontal portrait, made frontal (roll and yaw removed) and normalised.

Usage: python scripts/make_face_template.py [--image ../shared/media/ref_portrait.png]
           [--model ../shared/models/face_landmarker_v2_with_blendshapes.task]

Normalisation: pixel coordinates (z in the same pixel units, as MediaPipe scales z like x),
centred on the face-oval box centre and divided by the face-oval box height; y points down.
The synthetic renderer draws its faces from this template, so the landmarks of a synthetic
clip are the geometry that was drawn.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def measure(image_path: Path, model_path: Path) -> np.ndarray:
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision
    from PIL import Image

    rgb = np.asarray(Image.open(image_path).convert("RGB"))
    opts = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(model_path)), num_faces=1)
    with vision.FaceLandmarker.create_from_options(opts) as lm:
        res = lm.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
    if not res.face_landmarks:
        raise SystemExit(f"{image_path}: no face found")
    h, w = rgb.shape[:2]
    return np.array([[p.x * w, p.y * h, p.z * w] for p in res.face_landmarks[0]], dtype=np.float64)


def frontalise(pts: np.ndarray) -> np.ndarray:
    from actalker.data.synth import topology as T

    pts = pts - pts[list(T.FACE_OVAL)].mean(0)
    # Roll: make the line between the eye centres horizontal.
    le, re = pts[list(T.LEFT_EYE)].mean(0), pts[list(T.RIGHT_EYE)].mean(0)
    a = np.arctan2(le[1] - re[1], le[0] - re[0])
    c, s = np.cos(-a), np.sin(-a)
    pts[:, :2] = pts[:, :2] @ np.array([[c, s], [-s, c]])
    # Yaw: rotate about the vertical axis so the nose tip sits midway between the eye centres.
    le, re, tip = pts[list(T.LEFT_EYE)].mean(0), pts[list(T.RIGHT_EYE)].mean(0), pts[4]
    mid = (le + re) / 2
    yaw = np.arctan2(tip[0] - mid[0], -(tip[2] - mid[2]))
    c, s = np.cos(-yaw), np.sin(-yaw)
    x, z = pts[:, 0].copy(), pts[:, 2].copy()
    pts[:, 0], pts[:, 2] = c * x - s * z, s * x + c * z
    oval = pts[list(T.FACE_OVAL)]
    lo, hi = oval.min(0), oval.max(0)
    pts[:, :2] -= (lo[:2] + hi[:2]) / 2
    pts[:, 2] -= pts[:, 2].mean()
    return (pts / (hi[1] - lo[1])).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, default=ROOT.parent / "shared/media/ref_portrait.png")
    ap.add_argument("--model", type=Path, default=ROOT.parent / "shared/models/face_landmarker_v2_with_blendshapes.task")
    ap.add_argument("--out", type=Path, default=ROOT / "actalker/assets/face_template_478.npy")
    args = ap.parse_args()
    tpl = frontalise(measure(args.image, args.model))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, tpl)
    print(f"wrote {args.out} {tpl.shape} {tpl.dtype}")


if __name__ == "__main__":
    main()
