"""The built-in motion modality: options, smoothing, clips, the driving video, encoder."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from actalker.errors import InputError
from actalker.media import write_video
from actalker.plugins.builtin.motion.features import smooth
from actalker.plugins.builtin.motion.modality import MOTION
from actalker.plugins.builtin.motion.options import MotionOptions


def test_options_and_declaration():
    with pytest.raises(ValidationError):
        MotionOptions(smoth=3)
    assert all(f.description for f in MotionOptions.model_fields.values())
    assert (MOTION.name, MOTION.cli_flag, MOTION.default_region, MOTION.solo_region) == (
        "motion", "video", "upper_face", "face")
    shapes = [MOTION.feature_shape(MotionOptions(features=f)) for f in ("all", "blendshapes", "pose")]
    assert shapes == [(58,), (52,), (6,)]


def test_registered_as_builtin():
    from actalker.plugins import load_registry

    assert load_registry("builtin").modality("motion").cli_flag == "video"


def test_smooth():
    x = np.zeros((9, 2), np.float32)
    x[4:] = 1.0
    y = smooth(x, 3)
    assert y.shape == x.shape and y[0, 0] == 0 and y[-1, 0] == 1  # constant parts kept
    np.testing.assert_allclose(y[3:6, 0], [1 / 3, 2 / 3, 1.0])  # the step is spread
    assert smooth(x, 1) is x


def test_from_clip_selects_columns():
    motion = np.random.default_rng(0).random((10, 58)).astype(np.float32)
    clip = SimpleNamespace(id="c1", fps=25, num_frames=10, motion=motion)
    torch.testing.assert_close(MOTION.from_clip(clip, MotionOptions(features="pose")), torch.from_numpy(motion[:, 52:]))
    assert MOTION.from_clip(clip, MotionOptions(smooth=5)).shape == (10, 58)
    with pytest.raises(InputError, match="clip c1"):
        MOTION.from_clip(SimpleNamespace(id="c1", motion=None), MotionOptions())


def test_encoder_shapes():
    enc = MOTION.build_encoder(MotionOptions(tokens=2, hidden=16), 12)
    assert enc(torch.randn(3, 7, 58)).shape == (3, 7, 2, 12)


def test_missing_face_model(tmp_path, monkeypatch):
    """A generated video reaches the face-model error (no ../shared needed)."""
    video = write_video(tmp_path / "gen.mp4", np.random.default_rng(0).integers(0, 255, (6, 32, 32, 3), np.uint8), 25)
    monkeypatch.delenv("ACTALKER_FACE_MODEL", raising=False)
    with pytest.raises(InputError, match="ACTALKER_FACE_MODEL"):
        MOTION.load(video, 4, 25, MotionOptions())
    with pytest.raises(InputError, match="face model not found: .*missing.task"):
        MOTION.load(video, 4, 25, MotionOptions(face_model=str(tmp_path / "missing.task")))


@pytest.fixture
def opts(face_model_path):
    pytest.importorskip("mediapipe")
    return MotionOptions(face_model=str(face_model_path))


@pytest.mark.needs_shared
def test_load_driving_video(opts, driving_video_path):
    feats = MOTION.load(driving_video_path, 6, 12.5, opts)
    assert feats.shape == (6, 58) and torch.isfinite(feats).all()
    assert feats[:, :52].min() >= 0 and feats[:, :52].max() <= 1
    assert (feats[:, 57] < 0).all()  # tz: in front of the camera


@pytest.fixture
def three_frames(tmp_path, driving_video_path):
    from actalker.media import read_video

    return write_video(tmp_path / "three.mp4", read_video(driving_video_path, max_frames=3)[0], 25)


@pytest.mark.needs_shared
def test_short_driving_video(opts, three_frames):
    with pytest.raises(InputError) as err:
        MOTION.load(three_frames, 5, 25, opts)
    msg = str(err.value)
    assert "three.mp4" in msg and "3 frames" in msg and "5 are needed" in msg and "on_short='pad'" in msg
    assert "\n" not in msg


@pytest.mark.needs_shared
def test_no_face_in_video(opts, tmp_path):
    video = write_video(tmp_path / "empty_room.mp4", np.full((4, 64, 64, 3), 90, np.uint8), 25)
    with pytest.raises(InputError, match="no face found in any frame of the driving video .*empty_room.mp4"):
        MOTION.load(video, 4, 25, opts)


@pytest.mark.needs_shared
def test_pad_and_loop(opts, three_frames):
    padded = MOTION.load(three_frames, 5, 25, opts, on_short="pad")
    torch.testing.assert_close(padded[3], padded[2])
    looped = MOTION.load(three_frames, 5, 25, opts, on_short="loop")
    torch.testing.assert_close(looped[3], looped[0])
