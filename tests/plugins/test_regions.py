"""Built-in regions on real MediaPipe landmarks of the shared portrait (stored as a small .npy)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from actalker.errors import ShapeError
from actalker.plugins import load_registry
from actalker.plugins.builtin import face_indices as fi

LANDMARKS = np.load(Path(__file__).parent / "data" / "ref_landmarks.npy")  # (478, 3), 1024x1024 portrait


@pytest.fixture(scope="module")
def regions():
    return load_registry("regions").regions


def face(frames: int = 3):
    lm = torch.tensor(LANDMARKS)[None].repeat(frames, 1, 1)
    lm[:, :, 0] += torch.linspace(-0.05, 0.05, frames)[:, None]  # the head moves sideways
    xy = lm[..., :2]
    boxes = torch.cat([xy.amin(1), xy.amax(1)], dim=-1)
    return lm, boxes


def test_builtin_region_names(regions):
    assert set(regions) == {"face", "mouth", "eyes", "brows", "upper_face", "full"}


@pytest.mark.parametrize("size", [(8, 8), (16, 16), (24, 32), (64, 64)])
def test_masks_at_several_resolutions(regions, size):
    lm, boxes = face()
    for name, spec in regions.items():
        m = spec.mask(lm, boxes, *size)
        assert m.shape == (3, *size) and m.dtype == torch.float32
        assert float(m.min()) >= 0 and float(m.max()) <= 1
        assert (m.flatten(1).max(dim=1).values > 0.25).all(), f"{name} vanished at {size}"  # survives small grids


def test_mouth_inside_face_and_disjoint_from_upper_face(regions):
    lm, boxes = face()
    fm, mm, um = (regions[n].mask(lm, boxes, 64, 64) for n in ("face", "mouth", "upper_face"))
    assert float((mm * (1 - fm)).sum()) < 0.05 * float(mm.sum())
    assert float((um * mm).sum()) < 1e-3 * float(mm.sum())
    assert float(um.sum()) > 2 * float(mm.sum())  # the rest of the face is most of it


def test_parts_sit_where_the_landmarks_are(regions):
    lm, boxes = face(1)
    for name, idx in (("mouth", fi.LIPS_OUTER), ("eyes", fi.LEFT_EYE + fi.RIGHT_EYE), ("brows", fi.LEFT_BROW)):
        m = regions[name].mask(lm, boxes, 128, 128)[0]
        px = (lm[0, list(idx), :2] * 128).long().clamp(0, 127)
        assert (m[px[:, 1], px[:, 0]] > 0.99).all(), name  # every contour point is inside
        assert float(m.mean()) < 0.1, name  # and the region is small
    ys = torch.arange(128.0)[:, None]
    centre_y = lambda m: float((m * ys).sum() / m.sum())
    eyes, mouth = (regions[n].mask(lm, boxes, 128, 128)[0] for n in ("eyes", "mouth"))
    assert centre_y(eyes) < centre_y(mouth)


def test_closed_eyes_keep_an_eye_region(regions):
    lm, boxes = face(1)
    for eye in (fi.LEFT_EYE, fi.RIGHT_EYE):
        idx = list(eye)
        lm[0, idx, 1] = lm[0, idx, 1].mean()  # lids collapsed onto one line
    assert float(regions["eyes"].mask(lm, boxes, 64, 64).sum()) > 5.0


def test_box_fallback(regions):
    boxes = torch.tensor([[0.25, 0.2, 0.75, 0.8]])
    ys = torch.arange(60.0)[:, None]
    mouth = regions["mouth"].mask(None, boxes, 60, 60)[0]
    face_m = regions["face"].mask(None, boxes, 60, 60)[0]
    cy = float((mouth * ys).sum() / mouth.sum()) / 60
    assert 0.2 + 0.6 * 0.62 < cy < 0.8 + 0.02  # lower third of the box
    assert float(face_m[30, 30]) == 1.0 and float(face_m[2, 2]) == 0.0
    assert float((regions["upper_face"].mask(None, boxes, 60, 60)[0] * mouth).sum()) < 1e-3 * float(mouth.sum())


def test_frames_without_landmarks_use_the_box(regions):
    lm, boxes = face(2)
    lm[1] = float("nan")
    m = regions["mouth"].mask(lm, boxes, 32, 32)
    assert torch.allclose(m[1], regions["mouth"].mask(None, boxes[1:], 32, 32)[0])
    assert torch.allclose(m[0], regions["mouth"].mask(lm[:1], boxes[:1], 32, 32)[0])


def test_full_is_all_ones(regions):
    lm, boxes = face(2)
    assert torch.equal(regions["full"].mask(lm, boxes, 5, 7), torch.ones(2, 5, 7))


def test_bad_shapes(regions):
    lm, boxes = face(2)
    with pytest.raises(ShapeError, match="landmarks must have shape"):
        regions["face"].mask(lm[:, :400], boxes, 8, 8)
    with pytest.raises(ShapeError, match="boxes must have shape"):
        regions["face"].mask(None, boxes[:, :3], 8, 8)


def test_distance_work_does_not_grow_with_output_size(regions, monkeypatch):
    from actalker.plugins.builtin import raster

    calls = []
    real = raster.signed_distance
    monkeypatch.setattr(raster, "signed_distance", lambda poly, px, py: calls.append(px.shape) or real(poly, px, py))
    lm, boxes = face(25)
    small = regions["face"].mask(lm, boxes, 16, 16)
    big = regions["face"].mask(lm, boxes, 256, 256)
    assert calls == [(25, raster.ROI_SAMPLES**2)] * 2  # one batched call per mask, fixed sample grid
    down = torch.nn.functional.interpolate(big[:, None], size=(16, 16), mode="area")[:, 0]
    assert float((down - small).abs().mean()) < 0.05  # same region at both sizes


@pytest.mark.benchmark
def test_fast_enough_for_a_window(regions):
    lm, boxes = face(25)
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for spec in regions.values():
            spec.mask(lm, boxes, 64, 64)
        best = min(best, time.process_time() - start)
    assert best < 0.25  # ~20 ms for all six on one idle core
