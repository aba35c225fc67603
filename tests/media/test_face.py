"""FaceTracker on real media, the pose convention, fill-in of missing faces, model errors."""
from __future__ import annotations

import numpy as np
import pytest

from actalker.errors import InputError
from actalker.media import read_video
from actalker.media.face import (
    MODEL_SHA256, MOTION_FEATURE_NAMES, FaceTracker, _nearest, motion_features, pose_from_transforms,
)


def _rot(yaw, pitch, roll):
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return rz @ ry @ rx


def test_pose_decomposition_recovers_angles():
    angles = np.array([[0.3, -0.2, 0.1], [-0.5, 0.4, -0.7], [0.0, 0.0, 0.0]])
    t = np.tile(np.eye(4), (3, 1, 1))
    for i, a in enumerate(angles):
        t[i, :3, :3] = 1.7 * _rot(*a)  # a scaled rotation: scale must not leak into the angles
        t[i, :3, 3] = (5.0, -10.0, -40.0)
    pose = pose_from_transforms(t)
    np.testing.assert_allclose(pose[:, :3], angles, atol=1e-5)
    np.testing.assert_allclose(pose[0, 3:], [0.1, -0.2, -0.8], atol=1e-6)
    assert len(MOTION_FEATURE_NAMES) == 58 and MOTION_FEATURE_NAMES[52:55] == ["yaw", "pitch", "roll"]


def test_nearest_found_frame():
    found = np.array([False, True, False, False, False, True, False])
    assert _nearest(found).tolist() == [1, 1, 1, 1, 5, 5, 5]


def test_model_path_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("ACTALKER_FACE_MODEL", raising=False)
    with pytest.raises(InputError, match="ACTALKER_FACE_MODEL"):
        FaceTracker()
    with pytest.raises(InputError) as err:
        FaceTracker(tmp_path / "missing.task")
    msg = str(err.value)
    assert "missing.task" in msg and MODEL_SHA256 in msg and "face_landmarker_v2_with_blendshapes" in msg
    assert "\n" not in msg
    monkeypatch.setenv("ACTALKER_FACE_MODEL", str(tmp_path / "env.task"))
    with pytest.raises(InputError, match="env.task"):
        FaceTracker()


@pytest.fixture(scope="module")
def portrait(portrait_path):
    from PIL import Image

    return np.asarray(Image.open(portrait_path).convert("RGB").resize((384, 384)))


@pytest.fixture
def tracker(face_model_path):
    pytest.importorskip("mediapipe")
    return FaceTracker(face_model_path)


def test_bad_model_file(tmp_path):
    pytest.importorskip("mediapipe")
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"not a model")
    with pytest.raises(InputError, match="bad.task"):
        FaceTracker(bad).detect_image(np.zeros((64, 64, 3), np.uint8))


@pytest.mark.needs_shared
def test_portrait(tracker, portrait):
    track = tracker.detect_image(portrait)
    assert track.found.tolist() == [True] and track.num_faces.tolist() == [1]
    assert track.landmarks.shape == (1, 478, 3) and track.landmarks.dtype == np.float32
    xy = track.landmarks[0, :, :2]
    assert xy.min() >= 0 and xy.max() <= 1
    x0, y0, x1, y1 = track.boxes[0]
    assert x0 < 0.5 < x1 and y0 < 0.5 < y1 and (x1 - x0) > 0.2  # a large centred face
    feats = motion_features(track)
    assert feats.shape == (1, 58) and np.isfinite(feats).all()
    assert 0 <= feats[0, :52].min() and feats[0, :52].max() <= 1
    assert -1.5 < feats[0, 57] < -0.2  # tz: the face is in front of the camera


@pytest.mark.needs_shared
def test_pose_follows_image_rotation_and_mirror(tracker, portrait):
    from PIL import Image

    roll = lambda im: motion_features(tracker.detect_image(im))[0, 54]  # noqa: E731
    base = roll(portrait)
    ccw = roll(np.asarray(Image.fromarray(portrait).rotate(20)))  # counter-clockwise on screen
    assert abs((ccw - base) - np.deg2rad(20)) < 0.08  # positive roll = counter-clockwise tilt
    assert abs(roll(portrait[:, ::-1]) + base) < 0.03  # a mirror flips the roll


@pytest.mark.needs_shared
def test_several_faces_and_blank(tracker, portrait):
    track = tracker.detect_image(np.concatenate([portrait, portrait], 1))
    assert track.num_faces.tolist() == [2]
    assert track.boxes[0, 2] - track.boxes[0, 0] < 0.5  # one face followed, not a union
    with pytest.raises(InputError, match="no face found in blank.png"):
        tracker.detect_image(np.full((128, 128, 3), 127, np.uint8), name="blank.png")


@pytest.mark.needs_shared
def test_track_driving_frames_with_gaps(tracker, driving_video_path):
    frames, fps = read_video(driving_video_path, max_frames=8)
    frames[3:5] = 0  # two frames without a face
    track = tracker.track(frames, fps)
    assert track.found.tolist() == [True] * 3 + [False] * 2 + [True] * 3
    assert track.landmarks.shape == (8, 478, 3) and track.transforms.shape == (8, 4, 4)
    assert track.blendshapes.shape == (8, 52) and track.boxes.shape == (8, 4)
    assert np.isfinite(track.landmarks).all() and np.isfinite(track.transforms).all()
    np.testing.assert_array_equal(track.landmarks[3], track.landmarks[2])  # nearest found frame
    np.testing.assert_array_equal(track.landmarks[4], track.landmarks[5])
    xy = track.landmarks[track.found][..., :2]
    assert xy.min() >= 0 and xy.max() <= 1
    assert np.isfinite(motion_features(track)).all()


@pytest.mark.needs_shared
def test_track_without_any_face(tracker):
    track = tracker.track(np.zeros((3, 64, 64, 3), np.uint8), 25)
    assert not track.found.any() and track.num_faces.tolist() == [0, 0, 0]
    assert track.boxes.tolist() == [[0.0, 0.0, 1.0, 1.0]] * 3
    assert np.isfinite(motion_features(track)).all()
