"""Head pose plugin: CSV in degrees/cm -> radians/scaled translation, clips, encoder."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from actalker.plugins.testing import check_per_frame_encoder
from actalker.errors import InputError
from actalker.media.face import TRANSLATION_SCALE_CM
from actalker.plugins import load_registry


@pytest.fixture(scope="module")
def spec():
    return load_registry("builtin,headpose").modality("headpose")


def test_declaration(spec):
    assert spec.default_region == spec.solo_region == "full"
    assert spec.feature_shape(spec.parse_options({})) == (6,)
    assert spec.feature_shape(spec.parse_options({"translation": False})) == (3,)


def test_csv_units_and_interpolation(spec, tmp_path):
    path = tmp_path / "pose.csv"
    path.write_text("frame,yaw,pitch,roll,tx,ty,tz\n0,0,0,0,0,0,-40\n2,90,-10,4,2,0,-40\n")
    x = spec.load(path, None, 25.0, spec.parse_options({}))
    assert x.shape == (3, 6)
    assert math.isclose(float(x[1, 0]), math.radians(45), rel_tol=1e-5)
    assert math.isclose(float(x[2, 1]), math.radians(-10), rel_tol=1e-5)
    assert math.isclose(float(x[0, 5]), -40 / TRANSLATION_SCALE_CM, rel_tol=1e-5)
    assert spec.load(path, 2, 25.0, spec.parse_options({"translation": False})).shape == (2, 3)
    with pytest.raises(InputError, match="has 3 frames but 5 are needed"):
        spec.load(path, 5, 25.0, spec.parse_options({}))


def test_bad_csv(spec, tmp_path):
    path = tmp_path / "pose.csv"
    path.write_text("frame,yaw\n0,1\n")
    with pytest.raises(InputError, match="expected a CSV with columns frame,yaw,pitch,roll,tx,ty,tz"):
        spec.load(path, None, 25.0, spec.parse_options({}))


def test_from_clip_takes_the_pose_part_of_motion(spec):
    motion = np.zeros((4, 58), np.float32)
    motion[:, 52:58] = np.arange(6)
    clip = SimpleNamespace(id="c", num_frames=4, fps=25.0, motion=motion)
    assert torch.equal(spec.from_clip(clip, spec.parse_options({}))[0], torch.arange(6.0))
    with pytest.raises(InputError, match="motion must be \\(frames, 58\\)"):
        spec.from_clip(SimpleNamespace(id="c", motion=np.zeros((4, 52))), spec.parse_options({}))


def test_encoder(spec):
    enc = spec.build_encoder(spec.parse_options({"tokens": 2}), 8)
    y = enc(torch.randn(1, 3, 6))
    assert y.shape == (1, 3, 2, 8)
    check_per_frame_encoder(enc, torch.randn(2, 4, 6), 0.5)

