import numpy as np
import pytest
import torch

from actalker.data.synth import topology as T
from actalker.data.synth.identity import random_identity
from actalker.data.synth.landmarks import face_box, identity_shape, pose_frame
from actalker.data.synth.renderer import FaceRenderer


def _face(mouth=0.0, eye=1.0, brow=0.3, yaw=0.0, seed=0):
    ident = random_identity(np.random.default_rng(seed))
    return ident, pose_frame(identity_shape(ident), ident.face_size, mouth, eye, brow, yaw, 0.0, 0.0)


def test_topology_matches_mediapipe():
    conn = pytest.importorskip("mediapipe.tasks.python.vision").FaceLandmarksConnections
    for loop, ref in ((T.LIPS_OUTER + T.LIPS_INNER, conn.FACE_LANDMARKS_LIPS), (T.LEFT_EYE, conn.FACE_LANDMARKS_LEFT_EYE),
                      (T.RIGHT_EYE, conn.FACE_LANDMARKS_RIGHT_EYE), (T.FACE_OVAL, conn.FACE_LANDMARKS_FACE_OVAL),
                      (T.LEFT_BROW, conn.FACE_LANDMARKS_LEFT_EYEBROW)):
        assert set(loop) == {i for e in ref for i in (e.start, e.end)}


def test_mouth_and_eye_landmarks_move_and_stay_in_face_box():
    _, closed = _face(mouth=0.0)
    _, opened = _face(mouth=1.0)
    gap = lambda p: p[14, 1] - p[13, 1]  # noqa: E731  inner lower minus inner upper lip
    assert gap(closed) < 0.01 < 0.05 < gap(opened)
    moved = np.abs(opened - closed).max(axis=1) > 1e-6
    assert set(np.flatnonzero(moved)) <= set(T.LIPS_OUTER + T.LIPS_INNER)
    box = face_box(opened)
    lips = opened[list(T.LIPS_OUTER)]
    assert (lips[:, 0] > box[0]).all() and (lips[:, 0] < box[2]).all() and (lips[:, 1] < box[3]).all()
    _, shut = _face(eye=0.0)
    _, wide = _face(eye=1.0)
    assert abs(shut[159, 1] - shut[145, 1]) < 0.004 < 0.015 < wide[145, 1] - wide[159, 1]
    _, turned = _face(yaw=0.3)
    assert turned[4, 0] > _face(yaw=0.0)[1][4, 0]  # positive yaw: nose towards the image's right


def test_region_masks_cover_the_drawn_mouth():
    from actalker.plugins import load_registry

    reg = load_registry()
    ident, lm = _face(mouth=1.0, seed=3)
    img = FaceRenderer(ident, 96).render(lm).astype(int)
    cavity = (np.abs(img - np.array([70, 20, 25])).sum(-1) < 40)  # the dark mouth opening
    assert cavity.sum() > 15
    lmt, box = torch.from_numpy(lm[None]), torch.from_numpy(face_box(lm)[None])
    mouth = reg.region("mouth").mask(lmt, box, 96, 96)[0].numpy()
    upper = reg.region("upper_face").mask(lmt, box, 96, 96)[0].numpy()
    assert mouth[cavity].min() > 0.9 and upper[cavity].max() < 0.1
    eyes = np.zeros((96, 96), bool)
    for i in (159, 386):  # upper eyelid centres
        eyes[int(lm[i, 1] * 96), int(lm[i, 0] * 96)] = True
    assert upper[eyes].min() > 0.9 and mouth[eyes].max() < 0.1


@pytest.mark.needs_shared
def test_mediapipe_sees_the_synthetic_face_where_we_drew_it(face_model_path):
    from actalker.media.face import MOTION_FEATURE_NAMES, FaceTracker, motion_features

    ident = random_identity(np.random.default_rng(1))
    shape, r = identity_shape(ident), FaceRenderer(ident, 192, 2)
    lms = np.stack([pose_frame(shape, ident.face_size, 0, 1, 0.3, y, 0, 0) for y in (0.3, -0.3)])
    track = FaceTracker(str(face_model_path)).track(np.stack([r.render(lm) for lm in lms]), 25)
    assert track.found.all()
    assert np.abs(track.landmarks[..., :2] - lms[..., :2]).mean() < 0.012  # ours = MediaPipe's, ~1 % of the frame
    yaw = motion_features(track)[:, MOTION_FEATURE_NAMES.index("yaw")]
    assert yaw[0] > 0.1 and yaw[1] < -0.1  # our yaw sign is MediaPipe's
