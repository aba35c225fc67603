"""PSNR, SSIM (Gaussian window), LMD and the SyncNet MFCCs against closed forms and
brute-force definitions."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from actalker.errors import InputError, ShapeError
from actalker.eval.landmark_distance import LIPS, OUTER_EYE_CORNERS, landmark_distance, video_landmark_distance
from actalker.eval.mfcc import mfcc
from actalker.eval.video_metrics import WINDOW, gaussian_window, psnr, ssim, ssim_frames

rng = np.random.default_rng(0)


def test_psnr_closed_form():
    a = np.full((2, 16, 16, 3), 100, np.uint8)
    b = a + 5
    assert psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 / 25))
    assert psnr(a, a) == math.inf
    with pytest.raises(ShapeError, match="same shape"):
        psnr(a, b[:1])


def test_ssim_of_constant_images_is_the_luminance_term():
    a, b = np.full((1, 16, 16, 3), 80.0), np.full((1, 16, 16, 3), 120.0)
    c1 = (0.01 * 255) ** 2
    assert ssim(a, b) == pytest.approx((2 * 80 * 120 + c1) / (80 ** 2 + 120 ** 2 + c1), rel=1e-9)


def brute_ssim(x, y, L=255.0):
    """Wang et al.'s definition with an explicit 2D window, one channel at a time."""
    g = gaussian_window().numpy()
    w = np.outer(g, g)
    h, wd = x.shape[:2]
    vals = []
    for c in range(x.shape[2]):
        m = []
        for i in range(h - WINDOW + 1):
            for j in range(wd - WINDOW + 1):
                px, py = x[i:i + WINDOW, j:j + WINDOW, c], y[i:i + WINDOW, j:j + WINDOW, c]
                mx, my = (w * px).sum(), (w * py).sum()
                vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
                cxy = (w * (px - mx) * (py - my)).sum()
                c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
                m.append((2 * mx * my + c1) * (2 * cxy + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
        vals.append(np.mean(m))
    return float(np.mean(vals))


def test_ssim_matches_the_definition_and_orders_by_noise():
    x = rng.integers(0, 256, (2, 14, 15, 3)).astype(np.uint8)
    y = np.clip(x + rng.normal(0, 20, x.shape), 0, 255).astype(np.uint8)
    per = ssim_frames(x, y)
    assert per == pytest.approx([brute_ssim(x[i].astype(float), y[i].astype(float)) for i in range(2)], rel=1e-9)
    assert ssim(x, x) == pytest.approx(1.0)
    z = np.clip(x + rng.normal(0, 60, x.shape), 0, 255).astype(np.uint8)
    assert 1.0 > ssim(x, y) > ssim(x, z)
    assert ssim(x, y) == pytest.approx(ssim(y, x))
    with pytest.raises(ShapeError, match="at least 11x11"):
        ssim(x[:, :8, :8], y[:, :8, :8])


def face(n=3):
    lm = rng.uniform(0.3, 0.7, (n, 478, 3)).astype(np.float32)
    lm[:, OUTER_EYE_CORNERS[0], :2] = [0.35, 0.4]
    lm[:, OUTER_EYE_CORNERS[1], :2] = [0.65, 0.4]  # inter-ocular distance 0.3 of the width
    return lm


def test_lmd_removes_translation_and_measures_lip_errors_in_pixels():
    ref = face()
    assert landmark_distance(ref, ref, 100, 200)["lmd_face"] == 0.0
    moved = ref.copy()
    moved[..., :2] += [0.1, -0.05]  # the whole face shifted: not a lip error
    assert landmark_distance(moved, ref, 100, 200)["lmd_mouth"] == pytest.approx(0.0, abs=1e-4)
    opened = ref.copy()
    lips = list(LIPS)
    opened[:, lips[:20], 1] += 0.02  # outer lip down by 2 px, inner lip up by 2 px (H = 100)
    opened[:, lips[20:], 1] -= 0.02
    out = landmark_distance(opened, ref, 100, 200)
    assert out["lmd_mouth"] == pytest.approx(2.0, rel=1e-4)  # mean removal leaves +-2 px
    assert out["lmd_mouth_norm"] == pytest.approx(2.0 / (0.3 * 200), rel=1e-4)
    # 40 of 478 landmarks 2 px off, the rest exact (the lips' shifts cancel in the face mean)
    assert out["lmd_face"] == pytest.approx(40 * 2.0 / 478, rel=1e-4)
    assert out["lmd_face_norm"] == pytest.approx(40 * 2.0 / 478 / (0.3 * 200), rel=1e-4)
    # errors in x count in pixels of the width: 0.01 of 200 px = 2 px on every lip landmark
    wide = ref.copy()
    wide[:, lips[:20], 0] += 0.01
    wide[:, lips[20:], 0] -= 0.01
    assert landmark_distance(wide, ref, 100, 200)["lmd_mouth"] == pytest.approx(2.0, rel=1e-4)
    valid = np.array([True, False, False])
    worse = opened.copy()
    worse[1:, lips[:20], 1] += 0.5  # large errors in the frames left out
    one = landmark_distance(worse, ref, 100, 200, valid)
    assert one["lmd_frames"] == 1 and one["lmd_mouth"] == pytest.approx(2.0, rel=1e-4)
    with pytest.raises(InputError, match="no frame"):
        landmark_distance(opened, ref, 100, 200, np.zeros(3, bool))


def test_video_lmd_uses_the_tracker_on_both_videos():
    ref_lm, gen_lm = face(4), face(4)
    tracks = {1: gen_lm, 2: ref_lm}

    class Tracker:
        def track(self, frames, fps):
            lm = tracks[int(frames[0, 0, 0, 0])][: len(frames)]
            return SimpleNamespace(landmarks=lm, found=np.ones(len(lm), bool))

    gen = np.ones((4, 20, 30, 3), np.uint8)
    ref = np.full((5, 20, 30, 3), 2, np.uint8)
    out = video_landmark_distance(gen, ref, 25.0, Tracker())
    assert out == landmark_distance(gen_lm, ref_lm, 20, 30)
    # by hand: generated = reference shifted right (a head move, removed by the mean) with
    # the 20 outer lip landmarks 0.1 of the height (2 px) lower in frames 0 and 2;
    # frame 3 has no face in the reference, frame 4 is past the generated video's end
    moved = ref_lm[:4].copy()
    moved[..., 0] += 0.2
    outer = list(LIPS)[:20]
    for i in (0, 2):
        moved[i, outer, 1] += 0.1
    tracks[1] = moved
    found_ref = np.array([True, True, True, False, True])

    class PartlyFound(Tracker):
        def track(self, frames, fps):
            t = super().track(frames, fps)
            if int(frames[0, 0, 0, 0]) == 2:
                t.found = found_ref[: len(frames)]
            return t

    out = video_landmark_distance(gen, ref, 25.0, PartlyFound())
    assert out["lmd_frames"] == 3
    # lips: their mean moves 1 px, so each of the 40 is 1 px off in frames 0 and 2, 0 in frame 1
    assert out["lmd_mouth"] == pytest.approx(2 / 3, rel=1e-5)
    s = 20 * 2.0 / 478  # the face's mean moves s px: outer lips 2 - s px off, the other 458 s px
    assert out["lmd_face"] == pytest.approx(2 / 3 * (20 * (2.0 - s) + 458 * s) / 478, rel=1e-5)
    with pytest.raises(ShapeError, match="same size"):
        video_landmark_distance(gen, ref[:, :10], 25.0, Tracker())


def test_mfcc_layout_and_energy():
    sr = 16000
    t = np.arange(sr) / sr
    x = 0.5 * np.sin(2 * np.pi * 440 * t)
    m = mfcc(x, sr)
    assert m.shape == (1 + math.ceil((sr - 400) / 160), 13)  # 100 frames a second
    pre = np.append(x[:1], x[1:] - 0.97 * x[:-1])
    energy = (np.abs(np.fft.rfft(pre[160:560], 512)) ** 2 / 512).sum()
    assert m[1, 0] == pytest.approx(math.log(energy))
    assert np.isfinite(m).all() and mfcc(np.zeros(8000), sr).shape == (49, 13)


@pytest.mark.needs_shared
def test_lmd_with_mediapipe_on_a_real_video(driving_video_path, face_model_path):
    from actalker.media.face import FaceTracker
    from actalker.media.video import read_video

    video, fps = read_video(driving_video_path, max_frames=12)
    tracker = FaceTracker(face_model_path)
    same = video_landmark_distance(video, video, fps, tracker)
    assert same["lmd_mouth"] == pytest.approx(0.0, abs=1e-6) and same["lmd_frames"] == 12
    frozen = video_landmark_distance(np.repeat(video[:1], 12, 0), video, fps, tracker)
    assert frozen["lmd_face"] > 0 and np.isfinite(frozen["lmd_mouth_norm"])
