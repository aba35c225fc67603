"""The openness estimator on freshly rendered synthetic clips with known truth."""
from __future__ import annotations

import numpy as np
import pytest

from actalker.data.synth.identity import random_identity
from actalker.data.synth.landmarks import face_box, identity_shape, pose_frame
from actalker.data.synth.renderer import FaceRenderer
from actalker.data.synth.signals import motion_track
from actalker.data.synth.world import make_clip
from actalker.errors import ShapeError
from actalker.eval.control import pearson
from actalker.eval.openness import measure_openness
from actalker.eval.validate import estimator_report


@pytest.fixture(scope="module")
def clips():
    return [make_clip(5, k, num_frames=40, size=64, speech_source="syllables") for k in range(4)]


def test_estimator_follows_truth_with_static_landmarks(clips):
    rep = estimator_report(clips)  # first-frame landmarks + alignment, as for generated videos
    assert rep["summary"]["mouth"]["pooled_r"] >= 0.9
    assert rep["summary"]["mouth"]["clip_r_min"] >= 0.9
    assert rep["summary"]["eyes"]["pooled_r"] >= 0.8


def test_estimator_at_96_px():
    c = make_clip(6, 0, num_frames=40, size=96, speech_source="syllables")
    o = measure_openness(c["frames"], c["landmarks"][:1], c["boxes"][:1])
    assert pearson(o.mouth, c["truth"]["mouth_open"]) >= 0.9


def _constant_mouth_clip(mouth: float, n: int = 40, size: int = 64):
    """Eyes, brows and head move; the mouth stays at ``mouth``."""
    ident = random_identity(np.random.default_rng(3))
    track = motion_track(n, 25.0, np.random.default_rng(4))
    shape = identity_shape(ident)
    lms = np.stack([pose_frame(shape, ident.face_size, mouth, track["eye_open"][i], track["brow_raise"][i],
                               track["yaw"][i], track["shift_x"][i], track["shift_y"][i]) for i in range(n)])
    r = FaceRenderer(ident, size)
    return np.stack([r.render(lm) for lm in lms]), lms


def test_not_fooled_by_head_and_eye_motion(clips):
    frames, lms = _constant_mouth_clip(0.4)
    o = measure_openness(frames, lms[:1], face_box(lms[:1]))
    talking = measure_openness(clips[0]["frames"], clips[0]["landmarks"][:1], clips[0]["boxes"][:1])
    assert o.mouth.std() < 0.2 * talking.mouth.std()  # a still mouth reads (nearly) still
    rng = np.random.default_rng(0)
    assert abs(pearson(o.mouth, rng.uniform(size=len(o.mouth)))) < 0.5


def test_frozen_video_follows_nothing(clips):
    c = clips[1]
    frozen = np.repeat(c["frames"][:1], 30, 0)
    o = measure_openness(frozen, c["landmarks"][:1], c["boxes"][:1])
    assert np.ptp(o.mouth) == 0 and np.ptp(o.eyes) == 0
    assert pearson(o.mouth, np.random.default_rng(1).uniform(size=30)) == 0.0


def test_per_frame_landmarks_and_box_only(clips):
    c = clips[2]
    o = measure_openness(c["frames"], c["landmarks"], c["boxes"])
    assert np.all(o.shifts == 0) and pearson(o.mouth, c["truth"]["mouth_open"]) >= 0.9
    box_only = measure_openness(c["frames"], None, c["boxes"][:1])
    assert box_only.mouth.shape == (40,) and np.isfinite(box_only.mouth).all()


def test_shape_errors(clips):
    c = clips[0]
    with pytest.raises(ShapeError, match="frames"):
        measure_openness(c["frames"][0], c["landmarks"][:1], c["boxes"][:1])
    with pytest.raises(ShapeError, match="landmarks"):
        measure_openness(c["frames"], c["landmarks"][:1, :10], c["boxes"][:1])
    with pytest.raises(ShapeError, match="boxes"):
        measure_openness(c["frames"], c["landmarks"][:1], np.zeros((3, 4)))
